"""The benchmark screen: a row per (model, mode) filling in as each trial finishes (the best
value in each ranked column highlighted), a chart of accuracy against context length with one
line per model and mode (the paper's first figure, growing as trials finish), honest totals
(right / failed / skipped) with elapsed time and ETA, and the selected row's trials; Enter on
an RLM trial opens its run in the step-through view.

Before it starts (opened from the palette), the models can be changed: `a` adds one (a model
spec), Delete removes the selected one, `l` edits the lengths, `m` cycles the modes, `s`
starts. A narrow terminal drops the table's least important columns (the status stays).
Esc or q stops a running benchmark (what finished is kept and saved), or closes the screen."""

from __future__ import annotations

from typing import Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static
from textual_plotext import PlotextPlot

from rlm_engine.bench import BenchResults, BenchRunner, ModelRow
from rlm_engine.bench.models import model_for
from rlm_engine.errors import RLMError
from rlm_engine.replay import RecordedRun

from ..bench_view import (best_rows, cell_style, cells, cut_summary, draw_chart, fit_columns,
                          screen_legend)
from .closing import close_or_exit
from .replay import ReplayScreen

TRIAL_COLUMNS = ("lines", "trial", "status", "correct", "answer", "expected", "s", "tokens",
                 "cost", "note")
MODE_CYCLE = (("rlm", "direct"), ("rlm",), ("direct",))


class AccuracyChart(PlotextPlot):
    """Accuracy against context length, redrawn from the results when they change."""

    def __init__(self, results: BenchResults, **kwargs) -> None:
        super().__init__(**kwargs)
        self.results = results
        self.drawn: Optional[tuple] = None

    def update_from(self, results: BenchResults) -> bool:
        """Redraw if an accuracy changed; True if it did."""
        self.results = results
        key = tuple((row.key, tuple(row.accuracy_at(n) for n in results.lengths))
                    for row in results.rows) + (tuple(results.lengths),)
        if key == self.drawn:
            return False
        self.drawn = key
        draw_chart(self.plt, results)
        self.refresh()
        return True


class BenchScreen(Screen):
    BINDINGS = [
        # one key, two meanings: only the one that applies is shown (check_action)
        Binding("escape,q", "stop", "Stop", id="bench_stop"),
        Binding("escape,q", "close", "Close", id="bench_close"),
        Binding("s", "start", "Start", id="bench_start"),
        Binding("a", "add_model", "Add model", id="bench_add"),
        Binding("delete,d", "remove_model", "Remove model", id="bench_remove"),
        Binding("l", "edit_lengths", "Lengths", id="bench_lengths"),
        Binding("m", "cycle_modes", "Modes", id="bench_modes"),
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
        self.columns: list[str] = []
        self.status_width = 40
        self.shown_values: dict[int, tuple] = {}  # the trials table's rows as last drawn
        self.drawn_cells: dict[tuple, tuple] = {}  # (row key, column) -> (text, style)

    # -- layout ----------------------------------------------------------------------------
    def compose(self):
        yield Header()
        yield Static(Text(self.results.describe(), style="bold"), id="bench-info")
        with Horizontal(id="bench-setup"):
            yield Input(placeholder="add a model: qwen3:4b, openai:gpt-4o-mini … (Enter)",
                        id="bench-add")
            yield Input(placeholder="lengths, e.g. 1000,10000,100000 (Enter)", id="bench-lengths")
        table = DataTable(id="bench-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "Models × modes"
        yield table
        with Vertical(id="bench-progress-row"):
            yield ProgressBar(total=max(1, self.results.total), show_eta=False,
                              id="bench-progress")
            yield Static("", id="bench-eta")
        with Horizontal(id="bench-lower"):
            trials = DataTable(id="bench-trials", cursor_type="row")
            trials.border_title = "Trials (Enter opens one)"
            yield trials
            with Vertical(id="bench-chart-box") as box:
                box.border_title = "Accuracy (%) against context length (lines)"
                yield AccuracyChart(self.results, id="bench-chart")
                yield Static("", id="bench-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "rlm-tui benchmark"
        self.sub_title = f"{self.results.task} · {' vs '.join(self.results.modes)}"
        trials = self.query_one("#bench-trials", DataTable)
        for name in TRIAL_COLUMNS:
            trials.add_column(name, key=name)
        if self.runner is not None:
            self.runner.on_update = lambda _results: self.refresh_table()
        self.query_one("#bench-setup").display = self.editable
        self.rebuild_table()
        self.set_interval(0.25, self.tick)
        if self.autostart:
            self.action_start()
        self.query_one("#bench-table", DataTable).focus()

    @property
    def editable(self) -> bool:
        """Models, lengths and modes can change until the run starts."""
        return self.runner is not None and not self.runner.started and not self.running

    def check_action(self, action: str, parameters: tuple) -> Optional[bool]:
        if action == "start":
            return self.editable and bool(self.results.rows)
        if action in ("add_model", "remove_model", "edit_lengths", "cycle_modes"):
            return self.editable
        if action == "stop":
            return self.running
        if action == "close":
            return not self.running
        return True

    def on_resize(self) -> None:
        # the table takes its new width in the layout that follows this event
        self.call_after_refresh(self.rebuild_table)

    def rebuild_table(self) -> None:
        self.refresh_table(force=True)

    def _fit_columns(self, shown: list[dict[str, str]], force: bool = False) -> None:
        """The table's columns for its width (the least important dropped first, as values
        grow), rebuilt only when that set changes or rows were added or removed."""
        table = self.query_one("#bench-table", DataTable)
        width = (table.size.width or self.app.size.width) - 4
        columns = fit_columns(self.results.rows, width, self.tick_count, shown)
        keys = [row.key for row in self.results.rows]
        same_rows = keys == [str(k.value) for k in table.rows]
        if not force and columns == self.columns and same_rows:
            return
        others = sum(max([len(c)] + [len(values[c]) for values in shown]) + 2
                     for c in columns if c != "status")
        self.status_width = max(12, width - others - 2)
        if columns != self.columns or not same_rows:
            self.columns = columns
            self.drawn_cells = {}
            table.clear(columns=True)
            for name in columns:
                table.add_column(name, key=name)
            for row, values in zip(self.results.rows, shown):
                table.add_row(*(values[c] for c in columns), key=row.key)

    # -- before the start: models, lengths, modes ------------------------------------------
    def _changed_setup(self) -> None:
        self.query_one("#bench-info", Static).update(
            Text(self.results.describe(), style="bold"))
        self.sub_title = f"{self.results.task} · {' vs '.join(self.results.modes)}"
        self.shown_row = -1
        self.rebuild_table()
        self.refresh_bindings()

    def action_add_model(self) -> None:
        self.query_one("#bench-add", Input).focus()

    def action_edit_lengths(self) -> None:
        box = self.query_one("#bench-lengths", Input)
        box.value = ",".join(str(n) for n in self.results.lengths)
        box.cursor_position = len(box.value)
        box.focus()

    def action_cycle_modes(self) -> None:
        if not self.editable:
            return
        assert self.runner is not None
        now = tuple(self.results.modes)
        following = MODE_CYCLE[(MODE_CYCLE.index(now) + 1) % 3] if now in MODE_CYCLE \
            else MODE_CYCLE[0]
        self.runner.configure(modes=following)
        self._changed_setup()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not self.editable:
            return
        assert self.runner is not None
        value = event.value.strip()
        if event.input.id == "bench-add":
            try:
                added = [self.runner.add_model(model_for(spec))
                         for spec in value.replace(",", " ").split()]
            except RLMError as exc:
                self.notify(str(exc), severity="error")
                return
            if not any(added):
                self.notify("that model is already in the table", severity="warning")
        elif event.input.id == "bench-lengths":
            from ..bench_cli import lengths_arg

            try:
                self.runner.configure(lengths=lengths_arg(value))
            except Exception as exc:  # noqa: BLE001 - argparse's error type, shown as is
                self.notify(f"lengths: {exc}", severity="error")
                return
        event.input.value = ""
        self._changed_setup()
        self.query_one("#bench-table", DataTable).focus()

    def action_remove_model(self) -> None:
        if not self.editable or not self.results.rows:
            return
        assert self.runner is not None
        table = self.query_one("#bench-table", DataTable)
        row = self.results.rows[min(table.cursor_row, len(self.results.rows) - 1)]
        self.runner.remove_model(row.model.spec)
        self._changed_setup()

    # -- running ---------------------------------------------------------------------------
    def action_start(self) -> None:
        if not self.editable or not self.results.rows:
            return  # a benchmark runs once; its results stay as they are
        self.running = True
        self.query_one("#bench-setup").display = False
        self.query_one("#bench-table", DataTable).focus()
        self.refresh_bindings()
        self.run_worker(self._run(), group="bench")

    async def _run(self) -> None:
        assert self.runner is not None
        await self.runner.run()
        self.running = False
        self.refresh_table()  # the status line names the saved file; no toast over the panes
        self.refresh_bindings()

    def on_unmount(self) -> None:
        """Closing the screen (or the app) mid-run stops it; the runner saves what finished."""
        if self.running and self.runner is not None:
            self.runner.stop()

    def action_stop(self) -> None:
        if self.running and self.runner is not None:
            self.runner.stop()
            self.notify("stopping: finished trials are kept")

    def action_close(self) -> None:
        if isinstance(self.focused, Input):  # Esc in a setup box: back to the table
            self.query_one("#bench-table", DataTable).focus()
            return
        close_or_exit(self, self.exit_on_close)

    # -- drawing ---------------------------------------------------------------------------
    def tick(self) -> None:
        self.tick_count += 1
        if self.running:
            self.refresh_table()

    def state(self) -> str:
        r = self.results
        if self.running:
            return "running"
        if r.stopped:
            return "stopped"
        if r.rows and all(row.status == "failed" for row in r.rows):
            return "failed"
        if r.completed:
            return "done"
        return "ready: s starts · a adds a model · Del removes · l lengths · m modes" \
            if self.editable else "waiting"

    def refresh_table(self, force: bool = False) -> None:
        if not self.is_attached:
            return
        shown = [cells(row, self.tick_count) for row in self.results.rows]
        self._fit_columns(shown, force)
        table = self.query_one("#bench-table", DataTable)
        best = best_rows(self.results.rows)
        for i, (row, values) in enumerate(zip(self.results.rows, shown)):
            for col in self.columns:
                style = cell_style(col, row, i in best.get(col, ()))
                text = values[col]
                if col == "status" and len(text) > self.status_width:
                    text = text[:self.status_width - 1] + "…"
                if self.drawn_cells.get((row.key, col)) == (text, style):
                    continue  # unchanged: no redraw
                self.drawn_cells[(row.key, col)] = (text, style)
                try:
                    table.update_cell(row.key, col, Text(text, style=style), update_width=True)
                except Exception:  # noqa: BLE001 - the row went away while being redrawn
                    continue
        r = self.results
        bar = self.query_one("#bench-progress", ProgressBar)
        bar.update(total=max(1, r.total), progress=r.completed)
        elapsed = self.runner.elapsed if self.runner and self.runner.started else r.elapsed
        eta = self.runner.eta() if self.runner else None
        state = self.state()
        line = state if state.startswith("ready") else \
            f"{state} · {r.totals()} · elapsed {elapsed:.1f} s"
        if eta is not None and self.running:
            line += f" · ETA {eta:.0f} s"
        cut = cut_summary(r)
        if cut:
            line += f" · {cut}"
        if r.path is not None and not self.running:
            line += f" · saved {r.path.name}"
        style = "red" if state == "failed" else ("yellow" if state.startswith("ready") else "")
        self.query_one("#bench-eta", Static).update(Text(line, style=style))
        if self.query_one("#bench-chart", AccuracyChart).update_from(r):
            self.query_one("#bench-legend", Static).update(screen_legend(r))
        self.show_trials(max(0, self.shown_row))

    def show_trials(self, index: int) -> None:
        """The trials of row `index`; rebuilt only when the row changes, so the cursor
        stays where the user put it while cells update."""
        trials = self.query_one("#bench-trials", DataTable)
        if not 0 <= index < len(self.results.rows):
            trials.clear()
            return
        row: ModelRow = self.results.rows[index]
        rebuild = index != self.shown_row or trials.row_count != len(row.trials)
        self.shown_row = index
        if rebuild:
            trials.border_title = f"Trials of {row.model.label} · {row.mode} (Enter opens one)"
            trials.clear()
            self.shown_values = {}
        for n, t in enumerate(row.trials):
            correct = "—" if t.correct is None else ("✓" if t.correct else "✗")
            note = t.error or (t.cut if t.cut.startswith("cut") else "")
            values = (f"{t.lines:,}", str(t.trial), t.status,
                      Text(correct, style="green" if t.correct else "red"),
                      (t.answer or "")[:30], t.expected[:30], f"{t.seconds:.1f}",
                      f"{t.prompt_tokens + t.completion_tokens:,}",
                      "—" if t.cost is None else f"${t.cost:.4f}", note[:70])
            if self.shown_values.get(n) == values:
                continue  # unchanged since the last tick: nothing to redraw
            self.shown_values[n] = values
            if rebuild:
                trials.add_row(*values, key=str(n))
            else:
                for column, value in zip(TRIAL_COLUMNS, values):
                    trials.update_cell(str(n), column, value, update_width=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "bench-table":
            self.show_trials(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "bench-table":
            self.show_trials(event.cursor_row)
            self.query_one("#bench-trials", DataTable).focus()
            return
        if not 0 <= self.shown_row < len(self.results.rows):
            return
        row = self.results.rows[self.shown_row]
        if not 0 <= event.cursor_row < len(row.trials):
            return
        trial = row.trials[event.cursor_row]
        if not trial.trajectory:
            self.notify("a direct trial is one call: its answer is in the table"
                        if trial.mode == "direct" else "this trial has no run to show yet",
                        severity="warning")
            return
        try:
            recorded = RecordedRun.load(trial.trajectory)
        except (OSError, ValueError) as exc:
            self.notify(f"cannot open the trial's run: {getattr(exc, 'strerror', None) or exc}",
                        severity="error")
            return
        self.app.push_screen(ReplayScreen(
            recorded, f"{row.model.label} · {trial.lines:,} lines · trial {trial.trial}"))
