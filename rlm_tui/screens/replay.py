"""A recorded run, read-only, in the step-through view: the timeline, each iteration's
conversation, code, output, variables and usage, stepping with the same keys as live.

`p` plays the run again at its recorded pace (the events' times), scaled by the speed that
`+` and `-` choose (1x to 16x, or instant); the text streams in as it first arrived. `p`
during play stops it and shows the whole run."""

from __future__ import annotations

import asyncio
from typing import Optional

from textual.binding import Binding

from rlm_engine import events as ev
from rlm_engine.replay import RecordedRun

from ..figures import plural
from ..widgets.timeline import Timeline
from ..widgets.variables import VariablesTable
from .closing import close_or_exit
from .run_view import RunView

SPEEDS = (1, 2, 4, 8, 16, 0)  # 0: instant


class ReplayScreen(RunView):
    HELP_EXTRA = [("[ ]", "step through iterations")] + RunView.HELP_EXTRA[1:]
    BINDINGS = [
        Binding("escape,q", "close", "Close", id="close_replay"),
        Binding("p", "play", "Play", id="replay_play"),
        Binding("plus,equals_sign", "speed(1)", "Faster", id="replay_faster", key_display="+"),
        Binding("minus", "speed(-1)", "Slower", id="replay_slower"),
    ]

    def __init__(self, run: RecordedRun, title: str = "", exit_on_close: bool = False,
                 autoplay: bool = False) -> None:
        super().__init__()
        self.autoplay = autoplay
        self.recorded = run
        self.title_text = title or (run.path.name if run.path else "recorded run")
        self.exit_on_close = exit_on_close
        self.speed_index = 1  # 2x
        self.playing = False
        self.closing = False  # set by Esc: a drawing still under way stops where it is

    @property
    def runs(self) -> list:
        return [self.recorded]

    def header_fields(self) -> list[tuple[str, str, str]]:
        run = self.recorded
        models = run.model if run.recursive_model in (run.model, "?") else \
            f"{run.model} → {run.recursive_model}"
        start = run.state.started
        ctx = start.context if start is not None else None
        context = "no context" if ctx is None or ctx.kind in ("", "none") else \
            f"{ctx.name or ctx.type} ({ctx.chars:,} chars, {ctx.lines:,} lines)"
        return [("", "replay (read-only)", "cyan"), ("model", models, "bold"),
                ("context", context, ""), ("run", self.title_text, "")]

    @property
    def speed(self) -> int:
        return SPEEDS[self.speed_index]

    async def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(setattr, self, "sub_title", f"replay · {self.title_text}")
        if self.autoplay:
            self.action_play()
        else:
            await self._guarded(self.render_run(paced=False))
        for warning in self.recorded.warnings:
            self.notify(warning, severity="warning", timeout=8)

    def events_of(self, r: int) -> list:
        return self.recorded.events

    def keep(self, r, e) -> None:
        """A recorded run has its events already."""

    async def render_run(self, paced: bool, around: Optional[tuple[int, int]] = None) -> None:
        """Show the run from the start: at once (the window of steps around `around`, None:
        the end), or at its recorded pace, the window following as in a live run."""
        self.selected = None
        self.query_one(VariablesTable).show(())
        if not paced:
            timeline = self.query_one(Timeline)  # every step (a stopped play left some out)
            for e in self.recorded.events:
                if isinstance(e, ev.IterationStarted) and not e.depth:
                    timeline.add((0, e.iteration))
            await self.redraw(around)
        else:
            self.query_one(Timeline).clear_all()
            await self.clear_panes()
            last = 0.0
            for e in self.recorded.events:
                if self.closing:
                    return
                if self.speed:
                    delay = min(2.0, max(0.0, e.t - last) / self.speed)
                    if delay > 0.002:
                        await asyncio.sleep(delay)
                last = e.t
                await self.show_event(self.recorded, 0, e)
            await self.conversation.flush()
            for block in self.repl.blocks.values():
                block.flush()
            await self._close_interrupted()
        self.refresh_usage()
        self.show_replay_status()

    def show_replay_status(self) -> None:
        st = self.recorded.state
        speed = f"{self.speed}x" if self.speed else "instant"
        self.refresh_app_header()
        self.set_status(f"replay (read-only) · {st.status} · "
                        f"{plural(len(st.iterations), 'iteration')} · "
                        f"{self.recorded.elapsed:.1f} s · p play ({speed}) · [ ] step · Esc closes",
                        "cyan")

    def action_play(self) -> None:
        if self.playing:
            self.workers.cancel_group(self, "play")
            self.playing = False
            self.run_worker(self._guarded(self.render_run(paced=False)), group="render",
                            exclusive=True)
            return
        self.playing = True
        self.run_worker(self._play(), group="play", exclusive=True)

    async def _play(self) -> None:
        try:
            await self._guarded(self.render_run(paced=True))
        finally:
            self.playing = False

    async def _guarded(self, drawing) -> None:
        """Drawing in a worker: closing the screen mid-way ends it quietly, and anything else
        that goes wrong is one line, never the end of the app."""
        try:
            await drawing
        except Exception as exc:  # noqa: BLE001 - the screen handles its own errors
            if not self.closing and self.is_attached:
                self.notify(f"the replay could not be drawn: {type(exc).__name__}: {exc}",
                            severity="error", timeout=8)

    async def on_timeline_selected(self, message: Timeline.Selected) -> None:
        if self.playing:  # the window follows the play; stepping waits for it to stop
            self.selected = message.step
            self.conversation.show_until(message.step)
            self.repl.show_until(message.step)
            return
        await self._guarded(super().on_timeline_selected(message))  # one line, if it fails

    def action_speed(self, delta: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + delta))
        self.show_replay_status()
        speed = f"{self.speed}x" if self.speed else "instant"
        self.notify(f"replay speed {speed}", timeout=2)

    def action_close(self) -> None:
        self.closing = True
        self.workers.cancel_group(self, "play")
        self.workers.cancel_group(self, "render")
        close_or_exit(self, self.exit_on_close)
