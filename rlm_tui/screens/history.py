"""History: past runs and benchmarks from the data directory, newest first, filtered as you
type; Enter opens a run in the step-through view (read-only) or a benchmark's results."""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from rlm_engine.history import HistoryEntry, list_history

from ..background import load_then
from .closing import close_or_exit

COLUMNS = ("when", "kind", "model(s)", "result", "iters", "tokens", "question", "context")


class HistoryScreen(Screen):
    BINDINGS = [Binding("escape", "close", "Close", id="history_close")]

    def __init__(self, exit_on_close: bool = False) -> None:
        super().__init__()
        self.exit_on_close = exit_on_close
        self.entries: list[HistoryEntry] = []
        self.shown: list[HistoryEntry] = []

    def compose(self):
        yield Header()
        yield Input(placeholder="filter: model, question, answer, file…", id="history-filter")
        table = DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "History (Enter opens)"
        yield table
        yield Static("", id="history-count")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(setattr, self, "sub_title", "history")
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.query_one("#history-count", Static).update(Text("reading the history…",
                                                             style="dim"))
        self.query_one(Input).focus()
        load_then(self, list_history, self.show_entries, what="the history", fail="cannot read")

    def show_entries(self, entries: list[HistoryEntry]) -> None:
        """The scan's result (it reads every file's first and last lines: a thread's work)."""
        self.entries = entries
        self.fill(self.query_one(Input).value)

    def fill(self, text: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.shown = [e for e in self.entries if e.matches(text)]
        for i, e in enumerate(self.shown):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.when)) if e.when else "?"
            failed = e.outcome.startswith(("failed", "cancelled", "(did not"))
            kind = e.kind if not e.forked_from else \
                ("  " * max(0, e.depth - 1) + f"↳ fork@{e.fork_at}" if e.depth else
                 f"fork@{e.fork_at}")
            table.add_row(
                when, kind, e.models[:24], Text(e.outcome[:48], style="red" if failed else ""),
                "" if e.iterations is None else str(e.iterations),
                "" if e.tokens is None else f"{e.tokens:,}",
                " ".join(e.prompt[:240].split())[:60], e.context[:20], key=str(i))
        if not self.entries:
            line = "no runs yet: every question you ask, and every benchmark, shows up here"
        else:
            line = (f"{len(self.shown)} of {len(self.entries)} · type to filter · "
                    f"Enter opens · Esc closes")
        self.query_one("#history-count", Static).update(Text(line, style="dim"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.shown):
            self.open(self.shown[event.cursor_row])

    def open(self, entry: HistoryEntry) -> None:
        if entry.kind == "bench":
            from rlm_engine.bench import load_results

            from .bench import BenchScreen

            load_then(self, lambda: load_results(entry.path),
                      lambda results: self.app.push_screen(BenchScreen(results=results)),
                      what=entry.path.name)
        else:
            from rlm_engine.replay import RecordedRun

            from .replay import ReplayScreen

            load_then(self, lambda: RecordedRun.load(entry.path),
                      lambda run: self.app.push_screen(ReplayScreen(run)), what=entry.path.name)

    def action_close(self) -> None:
        close_or_exit(self, self.exit_on_close)
