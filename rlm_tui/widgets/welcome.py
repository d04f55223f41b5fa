"""The first thing a new user reads: a card in the conversation pane that stays until the
first question. It says what rlm-tui does, whether the model was found on its backend (and
what to do if not), what context is loaded and how to load some, and the two ways to see a
run at once: F2 plays a recorded example, F3 runs the needle-in-a-haystack demo live on the
user's own model. Nothing here is a toast: it does not vanish and covers no pane."""

from __future__ import annotations

from typing import Optional

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class Welcome(Static):
    def __init__(self) -> None:
        super().__init__("", id="welcome")
        self.border_title = "Welcome to rlm-tui"
        self.model = ""
        self.backend = ""
        self.state: Optional[str] = None  # None: checking; "": found; else the problem
        self.context = "none"
        self.sandbox = ""  # set when model code runs unsandboxed without being asked to

    def update_state(self, *, model: str, backend: str, state: Optional[str],
                     context: str, sandbox: str = "") -> None:
        self.model, self.backend, self.state, self.context = model, backend, state, context
        self.sandbox = sandbox
        self.update(self.card())

    def card(self) -> Group:
        intro = Text("Ask about your data: the model answers by writing Python that explores "
                     "it, and you watch every step.", style="italic")
        return Group(intro, self.facts())

    def facts(self) -> Table:
        """Short rows: on a 100×30 terminal the whole card fits the pane."""
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(ratio=1)
        model = Text(self.model, style="bold")
        if self.state is None:
            status = Text.assemble(model, f" on {self.backend} · ", ("checking…", "yellow"))
        elif self.state == "":
            status = Text.assemble(model, f" on {self.backend} · ", ("✓ ready", "green"))
        else:
            status = Text.assemble(model, " · ", ("✗ " + self.state, "red"), " · ",
                                   ("/model", "bold cyan"), " lists and switches")
        t.add_row("Model", status)
        if self.context == "no context":
            ctx = Text.assemble("none yet · ", ("Ctrl+O", "bold cyan"), " or ",
                                ("/context FILE", "bold cyan"))
        else:
            ctx = Text(self.context)
        t.add_row("Context", ctx)
        if self.sandbox:
            t.add_row("Sandbox", Text(self.sandbox, style="yellow"))
        t.add_row("Try", Text.assemble(("F2", "bold cyan"), " an example run · ",
                                       ("F3", "bold cyan"), " live demo: find a number in "
                                       "10,000 lines with your model"))
        t.add_row("Keys", Text.assemble(("F1", "bold cyan"), " help · ",
                                        ("Ctrl+P", "bold cyan"), " commands · ",
                                        ("[ ]", "bold cyan"), " steps · ",
                                        ("Ctrl+L", "bold cyan"), " input"))
        return t
