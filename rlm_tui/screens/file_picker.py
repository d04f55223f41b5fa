"""The file picker: a directory tree with each file's size and a filter box. Enter on a file
returns its path; the caller checks and loads it (and keeps the old context on error)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Static

from ..session import human_size


class SizedTree(DirectoryTree):
    """A directory tree that shows file sizes and hides what the filter does not match."""

    filter_text = ""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        needle = self.filter_text.lower()
        out = []
        for p in paths:
            if p.name.startswith("."):
                continue
            if needle and not p.is_dir() and needle not in p.name.lower():
                continue
            out.append(p)
        return out

    def render_label(self, node, base_style, style):
        label = super().render_label(node, base_style, style)
        path = node.data.path if node.data is not None else None
        if path is not None and not node.allow_expand:
            try:
                size = human_size(path.stat().st_size)
            except OSError:
                size = "?"
            label = Text.assemble(label, Text(f"  {size}", style="dim"))
        return label


class FilePicker(ModalScreen[Optional[Path]]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start

    def compose(self):
        with Vertical(id="picker-box") as box:
            box.border_title = "Load context"
            box.border_subtitle = "type to filter · Enter load · Esc cancel"
            yield Input(placeholder="filter file names…", id="picker-filter")
            yield SizedTree(self.start, id="picker-tree")
            yield Static(Text(str(self.start), style="dim"), id="picker-path")

    def on_input_changed(self, event: Input.Changed) -> None:
        tree = self.query_one(SizedTree)
        tree.filter_text = event.value
        tree.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(SizedTree).focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(event.path)
