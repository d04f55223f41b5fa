"""The variables pane: the REPL's variables after a block (name, type, size, preview).
Enter (or a click) on a row asks to open its full value."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import DataTable

from rlm_engine.events import VarInfo

from ..session import human_size


class VariablesTable(DataTable):
    class Chosen(Message):
        def __init__(self, var: VarInfo) -> None:
            super().__init__()
            self.var = var

    def __init__(self, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.vars: tuple[VarInfo, ...] = ()

    def on_mount(self) -> None:
        self.add_columns("name", "type", "size", "preview")

    def show(self, variables: tuple[VarInfo, ...]) -> None:
        if variables == self.vars:
            return
        self.vars = tuple(variables)
        self.clear()
        for v in self.vars:
            size = f"{v.size:,}" if v.size is not None else human_size(v.nbytes)
            self.add_row(v.name, v.type, size, v.preview[:60], key=v.name)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.vars):
            self.post_message(self.Chosen(self.vars[event.cursor_row]))

    def current(self):
        if 0 <= self.cursor_row < len(self.vars):
            return self.vars[self.cursor_row]
        return None

    def copy_text(self) -> tuple[str, str]:
        var = self.current()
        return ("variable", f"{var.name} = {var.preview}") if var else ("variable", "")
