"""The file picker: a directory tree with each file's size and a box that filters names or
takes a typed path. One Enter does it: on a file it loads that file, on a folder it loads the
whole folder (`{relative path: text}`); Space or → opens a folder in the tree, ← closes it,
Backspace (or Alt+↑) moves the tree up to the parent directory. In the box, a path (with a
``/`` or starting with ``~``) is followed on Enter: a file loads, a directory becomes the
tree's root; other text filters file names, and Enter loads the only match or moves to the
tree. The root is always shown as its whole path (``~`` for home), never a blank label.

It returns the chosen path; the caller checks and loads it (and keeps the old context on
error)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Static

from ..session import human_size


def shown_path(path: Path) -> str:
    """A path as the user would type it: ~ for the home directory."""
    try:
        return "~/" + str(path.relative_to(Path.home())) if path != Path.home() else "~"
    except ValueError:
        return str(path)


class SizedTree(DirectoryTree):
    """A directory tree that shows file sizes and hides what the filter does not match.
    Enter selects (a file or a folder) instead of opening folders: Space and → open them."""

    BINDINGS = [
        Binding("right", "open_node", "Open folder", show=False),
        Binding("left", "close_node", "Close folder", show=False),
    ]

    filter_text = ""
    auto_expand = False

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
        if node is self.root:
            label = Text("▼ " if node.is_expanded else "▶ ", style="bold")
            label.append(shown_path(Path(self.path)), style="bold")
            label.stylize(style)
            return label
        label = super().render_label(node, base_style, style)
        path = node.data.path if node.data is not None else None
        if path is not None and not node.allow_expand:
            try:
                size = human_size(path.stat().st_size)
            except OSError:
                size = "?"
            label = Text.assemble(label, Text(f"  {size}", style="dim"))
        return label

    def _populate_node(self, node, content) -> None:
        super()._populate_node(node, content)
        if node is self.root and self.cursor_line <= 0 and node.children:
            self.call_after_refresh(setattr, self, "cursor_line", 1)  # the first entry

    def action_open_node(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()

    def action_close_node(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded and node is not self.root:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)


class FilePicker(ModalScreen[Optional[Path]]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("alt+up", "parent", "Parent directory", show=False, priority=True)]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = Path(start).expanduser().resolve()

    def compose(self):
        with Vertical(id="picker-box") as box:
            box.border_title = "Load context"
            box.border_subtitle = ("Enter load file or folder · Space/→ open · "
                                   "Backspace parent · Esc cancel")
            yield Input(placeholder="filter names, or type a path (~/notes.txt, ../data)…",
                        id="picker-filter")
            yield SizedTree(self.start, id="picker-tree")
            yield Static("", id="picker-path")

    def on_mount(self) -> None:
        self.say(f"in {shown_path(self.start)}")

    @property
    def tree(self) -> SizedTree:
        return self.query_one(SizedTree)

    def say(self, text: str, style: str = "dim") -> None:
        self.query_one("#picker-path", Static).update(Text(text, style=style))

    def go_to(self, directory: Path) -> None:
        self.tree.path = directory
        self.say(f"in {shown_path(directory)}")

    def action_parent(self) -> None:
        here = Path(self.tree.path)
        if here.parent != here:
            self.go_to(here.parent)

    def on_key(self, event) -> None:
        """Backspace goes up a directory, from the tree or from an empty box."""
        if event.key != "backspace":
            return
        box = self.query_one("#picker-filter", Input)
        if self.focused is self.tree or (self.focused is box and not box.value):
            event.stop()
            event.prevent_default()
            self.action_parent()

    @staticmethod
    def looks_like_path(text: str) -> bool:
        return "/" in text or text.startswith("~") or text in (".", "..")

    def on_input_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if self.looks_like_path(text):
            return  # a path is followed on Enter, not used as a filter
        if self.tree.filter_text != text:
            self.tree.filter_text = text
            self.tree.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if self.looks_like_path(text):
            target = Path(text).expanduser()
            if not target.is_absolute():
                target = Path(self.tree.path) / target
            target = target.resolve()
            if target.is_file():
                self.dismiss(target)
            elif target.is_dir():
                event.input.value = ""
                self.go_to(target)
            else:
                self.say(f"no such file or directory: {shown_path(target)}", "bold red")
            return
        if text:
            matches = [p for p in Path(self.tree.path).iterdir()
                       if p.is_file() and not p.name.startswith(".")
                       and text.lower() in p.name.lower()]
            if len(matches) == 1:
                self.dismiss(matches[0])
                return
        self.tree.focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(event.path)

    def on_directory_tree_directory_selected(self,
                                             event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.dismiss(event.path)
