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
    DEFAULT_CSS = """
    Timeline {
        height: 1;
        background: $boost;
        padding: 0 1;
    }
    Timeline:focus {
        background: $accent 30%;
    }
    """

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
        self.inherited: dict[int, int] = {}  # run -> last iteration a fork took over (dimmed)

    def on_mount(self) -> None:
        self.render_cells()

    def add(self, step: Step) -> None:
        if step not in self.steps:
            self.steps.append(step)
            self.status[step] = "running"
            self._redraw_soon()

    def inherit(self, run: int, upto: int) -> None:
        self.inherited[run] = upto if isinstance(upto, int) else 0  # a file may hold anything
        self._redraw_soon()

    def mark(self, step: Step, status: str) -> None:
        if step in self.status:
            self.status[step] = status
            self._redraw_soon()

    _redraw_pending = False

    def _redraw_soon(self) -> None:
        """Many changes in one go (a replay adds a hundred steps) make one redraw."""
        if not self._redraw_pending:
            self._redraw_pending = True
            self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        self.render_cells()

    def clear_all(self) -> None:
        self.steps, self.status, self.selected = [], {}, None
        self.inherited = {}
        self.render_cells()

    def visible_steps(self) -> list[Optional[Step]]:
        """The steps that fit on the line: all, or the ends and those around the current
        one (None marks a gap)."""
        room = max(8, (self.size.width or 160) // 6 - 4)
        if len(self.steps) <= room:
            return list(self.steps)
        here = self.steps.index(self.selected) if self.selected in self.steps else \
            len(self.steps) - 1
        half = (room - 4) // 2
        lo = max(2, min(here - half, len(self.steps) - 2 - (room - 4)))
        hi = min(len(self.steps) - 2, lo + room - 4)
        out: list[Optional[Step]] = list(self.steps[:2])
        if lo > 2:
            out.append(None)
        out += self.steps[lo:hi]
        if hi < len(self.steps) - 2:
            out.append(None)
        return out + self.steps[-2:]

    def render_cells(self) -> None:
        """Textual markup (not Rich Text): only it carries the @click actions on cells."""
        parts = ["[bold reverse green]LIVE[/] " if self.selected is None else "[dim]live[/] "]
        run = None
        for step in self.visible_steps():
            if step is None:
                parts.append("… ")
                continue
            if step[0] != run:
                run = step[0]
                parts.append(f" [bold]run {run + 1}:[/] ")
            style = {"running": "yellow", "ok": "green", "failed": "red"}.get(
                self.status.get(step, ""), "")
            if step[1] <= self.inherited.get(step[0], 0):
                style += " dim"
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
