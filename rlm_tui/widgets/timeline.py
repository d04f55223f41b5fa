"""The timeline: every iteration of every run in the session, as numbered cells. The
selected one is highlighted; `live` means following the newest. Left/Right (or [ and ])
step, a click selects, End goes back to live."""

from __future__ import annotations

from typing import Optional

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

Step = tuple[int, int]


class Timeline(Static, can_focus=True):
    BINDINGS = [
        Binding("left", "step(-1)", "Earlier", show=False),
        Binding("right", "step(1)", "Later", show=False),
        Binding("end", "live", "Live", show=False),
    ]

    class Selected(Message):
        def __init__(self, step: Optional[Step]) -> None:
            super().__init__()
            self.step = step

    def __init__(self, **kw) -> None:
        super().__init__("", **kw)
        self.steps: list[Step] = []
        self.status: dict[Step, str] = {}  # running | ok | failed
        self.selected: Optional[Step] = None

    def on_mount(self) -> None:
        self.render_cells()

    def add(self, step: Step) -> None:
        if step not in self.steps:
            self.steps.append(step)
            self.status[step] = "running"
            self.render_cells()

    def mark(self, step: Step, status: str) -> None:
        if step in self.status:
            self.status[step] = status
            self.render_cells()

    def clear_all(self) -> None:
        self.steps, self.status, self.selected = [], {}, None
        self.render_cells()

    def render_cells(self) -> None:
        """Textual markup (not Rich Text): only it carries the @click actions on cells."""
        parts = ["[bold reverse green]LIVE[/] " if self.selected is None else "[dim]live[/] "]
        run = None
        for step in self.steps:
            if step[0] != run:
                run = step[0]
                parts.append(f" [bold]run {run + 1}:[/] ")
            style = {"running": "yellow", "ok": "green", "failed": "red"}.get(
                self.status.get(step, ""), "")
            if step == self.selected:
                style += " reverse bold"
            parts.append(f"[{style} @click=select({step[0]},{step[1]})]\\[{step[1]}][/] ")
        if not self.steps:
            parts.append("[dim] no iterations yet[/]")
        self.update("".join(parts))

    def select(self, step: Optional[Step]) -> None:
        """Show the session as it was at `step`; the newest step (or None) means live."""
        if step is not None and self.steps and step == self.steps[-1]:
            step = None
        self.selected = step
        self.render_cells()
        self.post_message(self.Selected(step))

    def action_select(self, run_idx: int, iteration: int) -> None:
        self.select((run_idx, iteration))

    def action_step(self, delta: int) -> None:
        if not self.steps:
            return
        here = len(self.steps) - 1 if self.selected is None else self.steps.index(self.selected)
        self.select(self.steps[min(len(self.steps) - 1, max(0, here + delta))])

    def action_live(self) -> None:
        self.select(None)
