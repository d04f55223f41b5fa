"""Modal screens: help (the keys in force and the commands), and a scrollable text viewer for
a variable's full value."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..commands import COMMANDS


class HelpScreen(ModalScreen[None]):
    """Keys and commands. Its background is opaque on purpose: a see-through modal makes
    Textual draw the whole session screen beneath it in every frame, and repaint the help
    whenever a running flood changes that screen: F1 during a 10 MB print took about 1.6x
    as long with it. The app keeps one instance installed (`RLMApp.show_help`)."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background;
    }
    HelpScreen #help-box {
        width: 80;
        max-width: 95%;
        height: 80%;
        border: round $accent;
        padding: 1 2;
        background: $panel;
    }
    """

    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.bindings_in_force = bindings

    def compose(self):
        keys = Table(box=None, show_header=False, pad_edge=False)
        keys.add_column(style="bold cyan", no_wrap=True)
        keys.add_column()
        for key, description in self.bindings_in_force:
            keys.add_row(key, description)
        cmds = Table(box=None, show_header=False, pad_edge=False)
        cmds.add_column(style="bold cyan", no_wrap=True)
        cmds.add_column()
        for name, text in COMMANDS.items():
            cmds.add_row(name, text.partition(": ")[2])
        with VerticalScroll(id="help-box"):
            yield Static(Text("Keys", style="bold underline"))
            yield Static(keys)
            yield Static(Text("\nCommands (type in the input box)", style="bold underline"))
            yield Static(cmds)
            yield Static(Text("\nKeys can be changed in keys.toml in the config directory "
                              "(see the README). Esc closes this.", style="dim"))

    def on_screen_resume(self) -> None:
        self.query_one("#help-box").scroll_home(animate=False)


class TextViewer(ModalScreen[None]):
    DEFAULT_CSS = """
    TextViewer {
        align: center middle;
    }
    TextViewer #viewer-box {
        width: 90%;
        height: 85%;
        border: round $accent;
        background: $panel;
        padding: 0 1;
    }
    """

    BINDINGS = [Binding("escape,q", "dismiss", "Close"),
                Binding("y", "copy", "Copy")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self):
        with Vertical(id="viewer-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "y copy · Esc close"
            with VerticalScroll():
                yield Static(Text(self.text[:2_000_000]), id="viewer-text")

    def action_copy(self) -> None:
        self.app.copy_text_out(self.title_text, self.text)  # type: ignore[attr-defined]
