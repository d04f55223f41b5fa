"""The "fork here" dialog: the optional changes for a fork (rlm_engine/fork.py) — root model,
sub model, a note for the model's next turn, a code block to run first — and whether to go
on past a divergence. Enter in a one-line field or Ctrl+S forks; Esc cancels.

The code field starts empty (nothing runs first); Ctrl+L puts the fork point's last block in
it, to edit rather than retype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea

from rlm_engine.fork import ForkOptions


@dataclass(frozen=True)
class ForkRequest:
    """What the dialog asks for: the engine's fork options, and the models to go on with."""

    options: ForkOptions
    model: str
    sub_model: str


class ForkDialog(ModalScreen[Optional[ForkRequest]]):
    DEFAULT_CSS = """
    ForkDialog { align: center middle; }
    #fork-box { width: 90; max-width: 98%; height: auto; max-height: 98%;
                border: round $accent; background: $panel; padding: 0 1; }
    .fork-row { height: 3; }
    .fork-label { width: 12; padding: 1 1 0 0; }
    .fork-row Input { width: 1fr; }
    #fork-code { height: 6; }
    #fork-keep { border: none; height: 1; padding: 0; margin: 1 0 0 0; }
    #fork-buttons { height: 1; align-horizontal: right; margin: 1 0 0 0; }
    #fork-buttons Button { border: none; height: 1; min-width: 10; margin: 0 0 0 2; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("ctrl+s", "fork", "Fork"),
                Binding("ctrl+l", "load_block", "Last block into the code field")]

    def __init__(self, at: int, total: int, model: str, sub_model: str,
                 last_code: str = "", title: str = "") -> None:
        super().__init__()
        self.at, self.total = at, total
        self.model, self.sub_model = model, sub_model
        self.last_code = last_code
        self.title_text = title

    def compose(self):
        with Vertical(id="fork-box") as box:
            box.border_title = f"Fork at iteration {self.at} of {self.total}"
            box.border_subtitle = "Enter / Ctrl+S fork · Esc cancel"
            yield Static(Text(
                f"Iterations 1–{self.at} are rebuilt from the recording (their code re-run, "
                f"their sub-calls answered from it: no model is called); then the run goes "
                f"on live." if self.at else
                "Nothing is taken over but the question and the context; the run starts "
                "again live.", style="dim"), id="fork-about")
            with Horizontal(classes="fork-row"):
                yield Label("root model", classes="fork-label")
                yield Input(self.model, id="fork-model")
            with Horizontal(classes="fork-row"):
                yield Label("sub model", classes="fork-label")
                yield Input(self.sub_model, id="fork-sub")
            with Horizontal(classes="fork-row"):
                yield Label("next note" if self.at else "question", classes="fork-label")
                yield Input(placeholder="optional: added to what the model is told next"
                            if self.at else "optional: a new question", id="fork-note")
            yield Label("code to run first (optional; Ctrl+L: the last block of this "
                        "iteration)", id="fork-code-label")
            yield TextArea("", language=None, id="fork-code")
            yield Checkbox("go on past a divergence (a block whose output differs)",
                           id="fork-keep")
            with Horizontal(id="fork-buttons"):
                yield Button("Fork", variant="primary", id="fork-go")
                yield Button("Cancel", id="fork-cancel")

    def on_mount(self) -> None:
        self.query_one("#fork-model", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_fork()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "fork-go":
            self.action_fork()
        else:
            self.dismiss(None)

    def action_load_block(self) -> None:
        if not self.last_code:
            self.notify("this iteration ran no code", severity="warning")
            return
        area = self.query_one("#fork-code", TextArea)
        area.text = self.last_code
        area.move_cursor(area.document.end)  # ready to add a line, or edit upwards
        area.focus()

    def action_fork(self) -> None:
        model = self.query_one("#fork-model", Input).value.strip()
        if not model:
            self.notify("the root model cannot be empty", severity="warning")
            return
        options = ForkOptions(at=self.at,
                              instruction=self.query_one("#fork-note", Input).value.strip(),
                              code=self.query_one("#fork-code", TextArea).text,
                              keep_going=self.query_one("#fork-keep", Checkbox).value)
        self.dismiss(ForkRequest(options, model=model,
                                 sub_model=self.query_one("#fork-sub", Input).value.strip()))
