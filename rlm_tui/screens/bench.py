"""The benchmark screen: a row per model filling in as each trial finishes (the best value in
each ranked column highlighted), an overall progress bar with elapsed time and ETA, and the
selected model's trials below; Enter on a trial opens its run in the step-through view.
Esc or q stops a running benchmark (what finished is kept and saved), or closes the screen."""

from __future__ import annotations

from typing import Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from rlm_engine.bench import BenchResults, BenchRunner, ModelRow
from rlm_engine.replay import RecordedRun

from ..bench_view import COLUMNS, best_rows, cell_style, cells
from .replay import ReplayScreen

TRIAL_COLUMNS = ("trial", "status", "correct", "answer", "expected", "s", "iters", "tokens",
                 "error")


class BenchScreen(Screen):
    BINDINGS = [
        Binding("escape,q", "stop_or_close", "Stop / close", id="bench_stop"),
        Binding("s", "start", "Start", id="bench_start"),
    ]

    def __init__(self, runner: Optional[BenchRunner] = None,
                 results: Optional[BenchResults] = None, autostart: bool = True,
                 exit_on_close: bool = False) -> None:
        super().__init__()
        self.exit_on_close = exit_on_close
        self.runner = runner
        self.results: BenchResults = runner.results if runner else results  # type: ignore
        self.autostart = autostart and runner is not None
        self.running = False
        self.tick_count = 0
        self.shown_row = -1

    def compose(self):
        yield Header()
        r = self.results
        yield Static(Text(f"task {r.task} · {r.lines:,} lines · {r.trials} trials per model · "
                          f"seed {r.seed} · parallel {r.parallel}", style="bold"),
                     id="bench-info")
        table = DataTable(id="bench-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "Models"
        yield table
        with Vertical(id="bench-progress-row"):
            yield ProgressBar(total=max(1, r.total), show_eta=False, id="bench-progress")
            yield Static("", id="bench-eta")
        trials = DataTable(id="bench-trials", cursor_type="row")
        trials.border_title = "Trials (Enter opens one)"
        yield trials
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#bench-table", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        for row in self.results.rows:
            table.add_row(*cells(row), key=row.model.spec)
        trials = self.query_one("#bench-trials", DataTable)
        for name in TRIAL_COLUMNS:
            trials.add_column(name, key=name)
        if self.runner is not None:
            self.runner.on_update = lambda _results: self.refresh_table()
        self.refresh_table()
        self.set_interval(0.25, self.tick)
        if self.autostart:
            self.action_start()
        elif self.runner is not None:
            self.query_one("#bench-eta", Static).update(
                Text("press s to start · Esc closes", style="yellow"))

    # -- running ---------------------------------------------------------------------------
    def action_start(self) -> None:
        if self.runner is None or self.running or self.results.stopped or \
                any(t.status != "waiting" for r in self.results.rows for t in r.trials):
            return  # a benchmark runs once; its results stay as they are
        self.running = True
        self.run_worker(self._run(), group="bench")

    async def _run(self) -> None:
        assert self.runner is not None
        results = await self.runner.run()
        self.running = False
        self.refresh_table()
        self.notify(f"results saved to {results.path}" if results.path else "benchmark done")

    def on_unmount(self) -> None:
        """Closing the screen (or the app) mid-run stops it; the runner saves what finished."""
        if self.running and self.runner is not None:
            self.runner.stop()

    def action_stop_or_close(self) -> None:
        if self.running and self.runner is not None:
            self.runner.stop()
            self.notify("stopping: finished trials are kept")
            return
        if self.exit_on_close:
            self.app.exit()
        else:
            self.app.pop_screen()

    # -- drawing ---------------------------------------------------------------------------
    def tick(self) -> None:
        self.tick_count += 1
        if self.running:
            self.refresh_table()

    def refresh_table(self) -> None:
        if not self.is_attached:
            return
        table = self.query_one("#bench-table", DataTable)
        best = best_rows(self.results.rows)
        for i, row in enumerate(self.results.rows):
            for col, value in enumerate(cells(row, self.tick_count)):
                style = cell_style(col, row, i in best.get(col, ()))
                table.update_cell(row.model.spec, COLUMNS[col], Text(value, style=style),
                                  update_width=True)
        r = self.results
        bar = self.query_one("#bench-progress", ProgressBar)
        bar.update(total=max(1, r.total), progress=r.completed)
        elapsed = self.runner.elapsed if self.runner else r.elapsed
        eta = self.runner.eta() if self.runner else None
        state = "stopped" if r.stopped and not self.running else (
            "running" if self.running else ("done" if r.completed else "waiting"))
        line = f"{state} · {r.completed}/{r.total} trials · elapsed {elapsed:.1f} s"
        if eta is not None and self.running:
            line += f" · ETA {eta:.0f} s"
        if r.path is not None and not self.running:
            line += f" · saved {r.path}"
        self.query_one("#bench-eta", Static).update(Text(line))
        self.show_trials(max(0, self.shown_row))

    def show_trials(self, index: int) -> None:
        """The trials of row `index`; rebuilt only when the model changes, so the cursor
        stays where the user put it while cells update."""
        if not 0 <= index < len(self.results.rows):
            return
        row: ModelRow = self.results.rows[index]
        trials = self.query_one("#bench-trials", DataTable)
        rebuild = index != self.shown_row or trials.row_count != len(row.trials)
        self.shown_row = index
        if rebuild:
            trials.border_title = f"Trials of {row.model.label} (Enter opens one)"
            trials.clear()
        for t in row.trials:
            correct = "—" if t.correct is None else ("✓" if t.correct else "✗")
            values = (str(t.trial), t.status,
                      Text(correct, style="green" if t.correct else "red"),
                      (t.answer or "")[:40], t.expected[:40], f"{t.seconds:.1f}",
                      str(t.iterations), f"{t.prompt_tokens + t.completion_tokens:,}",
                      (t.error or "")[:60])
            if rebuild:
                trials.add_row(*values, key=str(t.trial))
            else:
                for column, value in zip(TRIAL_COLUMNS, values):
                    trials.update_cell(str(t.trial), column, value, update_width=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "bench-table":
            self.show_trials(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "bench-table":
            self.show_trials(event.cursor_row)
            self.query_one("#bench-trials", DataTable).focus()
            return
        row = self.results.rows[self.shown_row]
        if not 0 <= event.cursor_row < len(row.trials):
            return
        trial = row.trials[event.cursor_row]
        if not trial.trajectory:
            self.notify("this trial has no run to show yet", severity="warning")
            return
        try:
            recorded = RecordedRun.load(trial.trajectory)
        except (OSError, ValueError) as exc:
            self.notify(f"cannot open the trial's run: {getattr(exc, 'strerror', None) or exc}",
                        severity="error")
            return
        self.app.push_screen(ReplayScreen(recorded, f"{row.model.label} · trial {trial.trial}"))
