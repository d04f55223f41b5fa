"""A recorded run, read-only, in the step-through view: the timeline, each iteration's
conversation, code, output, variables and usage, stepping with the same keys as live."""

from __future__ import annotations

from textual.binding import Binding

from rlm_engine.replay import RecordedRun

from ..widgets.conversation import UserMessage
from .run_view import RunView


class ReplayScreen(RunView):
    BINDINGS = [Binding("escape,q", "close", "Close", id="close_replay")]

    def __init__(self, run: RecordedRun, title: str = "") -> None:
        super().__init__()
        self.run = run
        self.title_text = title or (run.path.name if run.path else "recorded run")

    @property
    def runs(self) -> list:
        return [self.run]

    async def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = f"replay · {self.title_text}"
        await self.conversation.add(UserMessage(self.run.prompt), 0, 0)
        for e in self.run.events:
            await self.show_event(self.run, 0, e)
        await self.conversation.flush()
        for block in self.repl.blocks.values():
            block.flush()
        self.refresh_usage()
        st = self.run.state
        self.set_status(f"replay (read-only) · {st.status} · {len(st.iterations)} iterations · "
                        f"{self.run.elapsed:.1f} s · [ ] step · Esc closes", "cyan")
        for warning in self.run.warnings:
            self.notify(warning, severity="warning", timeout=8)

    def action_close(self) -> None:
        self.app.pop_screen()
