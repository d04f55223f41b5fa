"""The step-through view of runs: conversation, REPL, variables, usage and the iteration
timeline, fed with engine events. The live session screen and the read-only replay screen
are both this view.

Stepping the timeline shows every pane as it was at that iteration: the conversation and
REPL hide later items, the variables and usage are rebuilt from the run's state. A live
iteration keeps updating while you look at an earlier one.

A view holds "runs": live `Run`s or `RecordedRun`s. Both offer `state`, `model`,
`recursive_model`, `max_iterations`, `done` and `elapsed`.

Bounded widgets, one mechanism for live and replay: only a window of `WINDOW` timeline
steps has widgets. Following a live run (or a replay playing), the window slides: each new
iteration drops the widgets of the oldest one. Stepping just past the window's edge moves
the window `SHIFT_ROOM` steps beyond the chosen one: the steps it gains are drawn, in step
order, and as many at the other end dropped; a jump further away redraws the panes for a
window around the chosen step. Both pass the events of the steps to draw through the same
`_show` (a recorded run has its events; for a live run the view keeps them, without the
streamed deltas, which the reply's own event repeats, and with each block's output kept up
to `KEEP_OUTPUT_CHARS` for redrawing). Widget count and the cost of showing one event so
stay flat however long the run is. Which steps a window holds is worked out in window.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from rlm_engine import events as ev
from rlm_engine import parsing

from ..figures import iteration_label, plural
from ..window import (WINDOW, Step, in_window, window_around, window_holds, window_of,
                      window_shifted, window_slid)
from ..window import SHIFT_ROOM as SHIFT_ROOM  # re-exported: it was defined here
from ..widgets.app_header import AppHeader
from ..widgets.conversation import (
    AssistantMessage, Conversation, FeedbackNote, FinalAnswerView, Notice, UserMessage)
from ..widgets.repl_view import ReplView, SubCallView
from ..widgets.timeline import Timeline
from ..widgets.usage import UsagePanel
from ..widgets.variables import VariablesTable
# coalesce and fork_notice were defined here and are still imported from here
from .event_display import coalesce, fork_notice, step_of
from .event_display import stopping as _stopping
from .modals import TextViewer

STREAM_PARSE_CHARS = 200_000  # replies up to this long show their code while streaming
SLICE_SECONDS = 0.04  # of event handling between two frames
KEEP_OUTPUT_CHARS = 200_000  # per block, of a live run's output kept for redrawing


class RunView(Screen):
    BINDINGS = [
        Binding("left_square_bracket", "step(-1)", "Back", id="step_back"),
        Binding("right_square_bracket", "step(1)", "Next", id="step_forward"),
        # keys that never type: they step from anywhere, whatever has focus
        Binding("alt+left", "step(-1)", "Earlier step (from anywhere)", show=False,
                priority=True, id="step_back_any"),
        Binding("alt+right", "step(1)", "Later step (from anywhere)", show=False,
                priority=True, id="step_forward_any"),
        Binding("ctrl+t", "focus_timeline", "Timeline", id="timeline"),
        Binding("ctrl+y", "copy", "Copy", id="copy"),
        # not in the footer: at 100 columns it would push Ctrl+O out; F1 and Ctrl+P list it
        Binding("ctrl+f", "fork", "Fork here", show=False, id="fork"),
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "help", "Help", show=False, id="help_alt"),
    ]

    status_text = ""
    # for the help screen: keys that no binding describes
    HELP_EXTRA = [("[ ]", "step through iterations (in the input box too, while it is empty)"),
                  ("alt+← alt+→", "step through iterations, whatever has focus"),
                  ("tab / shift+tab", "move focus between panes and items"),
                  ("← → / end", "in the timeline: step, back to live")]

    def __init__(self) -> None:
        super().__init__()
        self.selected: Optional[tuple[int, int]] = None
        self.backend_problem: Optional[str] = None
        self._dirty: set[AssistantMessage] = set()
        # the steps that have widgets: from `lo` to `hi` (None: to the newest, following)
        self.window_lo: Step = (0, 0)
        self.window_hi: Optional[Step] = None
        self._draw = asyncio.Lock()  # the event stream and a redraw take turns
        self._kept: dict[int, list[ev.Event]] = {}  # live runs' events, for redrawing
        self._kept_out: dict[tuple, int] = {}
        self._partial: dict[tuple, list[str]] = {}  # the streaming reply, for redrawing
        self._folded: Optional[Notice] = None
        self._redrawing = False

    # -- what a subclass provides ----------------------------------------------------------
    @property
    def runs(self) -> list:
        raise NotImplementedError

    def compose_input(self):
        """Widgets under the status line (the live screen's question box)."""
        return ()

    def live_repl(self) -> Any:
        """A ReplSession to fetch a variable's full value from, when the view is live."""
        return None

    def events_of(self, r: int) -> list[ev.Event]:
        """Run `r`'s events to redraw it from (a recorded run overrides this)."""
        kept = list(self._kept.get(r, ()))
        for (run_idx, it, kind), parts in self._partial.items():
            if run_idx == r and parts:
                cls = ev.TokenDelta if kind == "text" else ev.ThinkingDelta
                kept.append(cls(iteration=it, text="".join(parts),
                                run_id=kept[0].run_id if kept else ""))
        return kept

    def keep(self, r: int, e: ev.Event) -> None:
        """Remember a live event for redrawing: the streamed deltas only until the reply's
        own event repeats them, a block's output up to KEEP_OUTPUT_CHARS."""
        if isinstance(e, (ev.TokenDelta, ev.ThinkingDelta)):
            if not e.depth:
                kind = "text" if isinstance(e, ev.TokenDelta) else "thinking"
                self._partial.setdefault((r, e.iteration, kind), []).append(e.text)
            return
        if isinstance(e, ev.ReplyFinished) and not e.depth:
            self._partial.pop((r, e.iteration, "text"), None)
            self._partial.pop((r, e.iteration, "thinking"), None)
        if isinstance(e, ev.CodeOutput):
            key = (e.run_id, e.iteration, e.index)
            size = self._kept_out.get(key, 0)
            if size >= KEEP_OUTPUT_CHARS:
                return
            self._kept_out[key] = size + len(e.text)
        self._kept.setdefault(r, []).append(e)

    def forget_kept(self) -> None:
        self._kept.clear()
        self._kept_out.clear()
        self._partial.clear()

    # -- layout ----------------------------------------------------------------------------
    def compose(self):
        yield AppHeader(id="app-header")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                conv = Conversation(id="conversation")
                conv.border_title = "Conversation"
                yield conv
                yield Static("", id="status")
                yield from self.compose_input()
            with Vertical(id="right"):
                repl = ReplView(id="repl")
                repl.border_title = "REPL"
                yield repl
                variables = VariablesTable(id="variables")
                variables.border_title = "Variables"
                yield variables
                usage = UsagePanel(id="usage")
                usage.border_title = "Usage"
                yield usage
        yield Timeline(id="timeline")
        yield Footer()

    def header_fields(self) -> list[tuple[str, str, str]]:
        """The header's fields (label, value, style); screens say what runs and where."""
        return [("", self.app.sub_title, "")]

    def refresh_app_header(self) -> None:
        for header in self.query(AppHeader):
            header.show(self.header_fields())

    def on_mount(self) -> None:
        self.refresh_app_header()
        self.refresh_usage()
        self.set_interval(0.1, self.stream_code)

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def repl(self) -> ReplView:
        return self.query_one(ReplView)

    def set_status(self, text: str, style: str = "") -> None:
        self.status_text = text
        self._status_style = style
        if getattr(self, "_flash", None) is None:
            self.query_one("#status", Static).update(Text(text, style=style))

    def flash(self, message: str, severity: str = "information",
              timeout: Optional[float] = None) -> None:
        """A notification, said on the status line (it wraps; it covers no pane) for
        `timeout` seconds, then the status comes back. Toasts are hidden on this screen."""
        style = {"error": "bold red", "warning": "yellow"}.get(severity, "cyan")
        self._flash = message
        if self.is_mounted:
            self.query_one("#status", Static).update(Text("» " + message, style=style))
        timer = getattr(self, "_flash_timer", None)
        if timer is not None:
            timer.stop()
        seconds = timeout if timeout is not None else (8.0 if severity == "error" else 5.0)
        self._flash_timer = self.set_timer(seconds, self._end_flash)

    def _end_flash(self) -> None:
        self._flash = None
        if self.is_mounted:
            self.query_one("#status", Static).update(
                Text(self.status_text, style=getattr(self, "_status_style", "")))

    # -- events to panes -------------------------------------------------------------------
    async def show_event(self, run, r: int, e: ev.Event, keep: bool = True) -> None:
        """Show one event of run `r` (keeping it for redraws when `keep`)."""
        async with self._draw:  # kept and shown together: a redraw between would show it twice
            if keep:
                self.keep(r, e)
            await self._show(run, r, e)

    async def show_events(self, run, r: int, batch: list[ev.Event]) -> None:
        """Show the events that arrived together (a display behind a fast run gets many at
        once). Following the newest step, iterations that would leave the window before
        the batch ends are not drawn at all: only the timeline learns of them, and they are
        drawn when stepped to, like any step outside the window."""
        batch = coalesce(batch)
        cutoff: Optional[Step] = None
        if self.selected is None and self.window_hi is None:
            starts = [(r, e.iteration) for e in batch
                      if isinstance(e, ev.IterationStarted) and not e.depth]
            if len(starts) > WINDOW:
                cutoff = starts[-WINDOW]
        timeline = self.query_one(Timeline)
        pending = iter(batch)
        more = True
        while more and self.is_attached:
            # a slice of the batch at most SLICE_SECONDS long with layout and painting held
            # (one layout for the lot, not one per mounted widget); then a frame, and keys
            with self.app.batch_update():
                end = time.monotonic() + SLICE_SECONDS
                while time.monotonic() < end:
                    e = next(pending, None)
                    if e is None:
                        more = False
                        break
                    try:
                        # kept when shown, not before: a window move between two slices
                        # draws what is kept, and the rest of the batch would come twice
                        async with self._draw:
                            self.keep(r, e)
                            step = self._step_of(run, r, e)
                            if cutoff is not None and step is not None and step < cutoff:
                                self._timeline_only(timeline, r, e)
                            else:
                                await self._show(run, r, e)
                    except Exception as exc:  # noqa: BLE001 - a display bug must not stop the run
                        self.log.error(f"display of {e.kind} failed: {exc!r}")
                    except asyncio.CancelledError:
                        if _stopping():
                            raise  # this display itself is being stopped
                        # something awaited inside was cancelled (seen once in a full suite
                        # run: the display worker ended mid-run): skip the event, go on
                        self.log.error(f"display of {e.kind} was cancelled inside")
            if more:
                await self.next_frame()

    async def next_frame(self) -> None:
        """Wait until the screen has been refreshed (at most a tenth of a second)."""
        painted = asyncio.Event()
        self.call_after_refresh(painted.set)
        try:
            await asyncio.wait_for(painted.wait(), 0.1)
        except asyncio.TimeoutError:
            pass

    _step_of = staticmethod(step_of)  # the step an event belongs to (event_display.py)

    def in_window(self, step: Step) -> bool:
        return in_window(self.window_lo, self.window_hi, step)

    async def _show(self, run, r: int, e: ev.Event) -> None:
        if e.depth:  # a child run (rlm_query): a tree under the call that started it
            await self.repl.show_child_event(e)
            return
        conv, repl = self.conversation, self.repl
        timeline = self.query_one(Timeline)
        it = getattr(e, "iteration", None)
        if isinstance(e, (ev.RunFailed, ev.RunCancelled)):
            it = len(run.state.iterations)
        if isinstance(e, ev.IterationStarted) and self.window_hi is None:
            await self._slide((r, e.iteration))
        if it is not None and not self.in_window((r, it)):
            self._timeline_only(timeline, r, e)
            return
        if isinstance(e, ev.RunStarted):
            if e.forked_from:  # a fork's inherited steps are dimmed
                timeline.inherit(r, e.fork_at)
            if self.in_window((r, 0)):
                await conv.add(UserMessage(e.prompt), r, 0)
        elif isinstance(e, (ev.ForkRestored, ev.ForkDiverged)):
            await conv.add(fork_notice(e), r, e.iteration)
        elif isinstance(e, ev.IterationStarted):
            timeline.add((r, e.iteration))
            forced = bool(run.max_iterations) and e.iteration > run.max_iterations
            await conv.add(AssistantMessage(run.model, e.iteration, forced), r, e.iteration)
        elif isinstance(e, (ev.TokenDelta, ev.ThinkingDelta)):
            msg = conv.message(r, e.iteration)
            if msg is not None:
                (msg.add_text if isinstance(e, ev.TokenDelta) else msg.add_thinking)(e.text)
                self._dirty.add(msg)
        elif isinstance(e, ev.ReplyFinished):
            msg = conv.message(r, e.iteration)
            if msg is not None:
                self._dirty.discard(msg)
                await msg.finish(e.text, e.thinking, e.cut)
            await self.sync_pending_blocks(r, e.iteration, e.text, final=True)
        elif isinstance(e, ev.CodeBlockStarted):
            (await repl.block((r, e.iteration), e.index)).start(e.code)
        elif isinstance(e, ev.CodeOutput):
            block = repl.find((r, e.iteration), e.index)
            if block is not None:
                block.add_output(e.stream, e.text)
        elif isinstance(e, ev.CodeBlockFinished):
            block = repl.find((r, e.iteration), e.index)
            if block is not None:
                block.finish(e.duration, e.error, e.restarted)
            if e.error:
                timeline.mark((r, e.iteration), "failed")
            if self.selected is None:
                self.query_one(VariablesTable).show(e.variables)
        elif isinstance(e, ev.SubCallStarted):
            block = repl.find((r, e.iteration), e.index)
            if block is not None:
                await repl.add_subcall(block, SubCallView(e.call_id, e.model, e.prompt_preview,
                                                          e.prompt_chars, e.child_run_id))
        elif isinstance(e, ev.SubCallFinished):
            view = repl.subcall(e.call_id)
            if view is not None:
                view.finish(e.answer, e.error, e.usage.total, e.duration)
        elif isinstance(e, ev.FeedbackSent):
            await conv.add(FeedbackNote(e.text), r, e.iteration)
            timeline.mark((r, e.iteration), "ok")
        elif isinstance(e, ev.FinalAnswer):
            await conv.add(FinalAnswerView(e.answer, e.source), r, e.iteration)
            timeline.mark((r, e.iteration), "ok")
        elif isinstance(e, ev.RunFailed):
            await conv.add(Notice(f"run failed: {e.error}"), r, it)
            timeline.mark((r, it), "failed")
            if not self._redrawing:
                self.on_run_failed(e)
        elif isinstance(e, ev.RunCancelled):
            await conv.add(Notice("cancelled: what the run had so far stays above", "cancel"),
                           r, it)
            timeline.mark((r, it), "failed")
        elif isinstance(e, ev.RunFinished) and r == len(self.runs) - 1 and not self._redrawing:
            tokens = e.usage.total_tokens
            self.set_status(f"{e.status} · {plural(e.iterations, 'iteration')} · "
                            f"{e.total_time:.1f} s · "
                            f"{tokens:,} tokens", "green" if e.status == "completed" else "red")
        elif isinstance(e, ev.UsageUpdated) and self.selected is None and not self._redrawing:
            self.refresh_usage()

    async def _slide(self, step: Step) -> None:
        """A new step while following: it joins the window; when the window is full, the
        oldest step's widgets go (following live), or, when an earlier step is being looked
        at, the window stops growing and later steps wait for End or a step to them."""
        slid = window_slid(self.query_one(Timeline).steps, self.window_lo, step,
                           following=self.selected is None)
        if slid is None:
            return
        self.window_lo, self.window_hi = slid
        if self.window_hi is not None:  # looking back: keep what is drawn
            return
        await self.conversation.drop_outside(self.window_lo, None)
        await self.repl.drop_outside(self.window_lo, None)
        await self._show_folded()

    async def _show_folded(self) -> None:
        """The note at the top of the conversation saying which steps have no widgets."""
        steps = self.query_one(Timeline).steps
        before = [s for s in steps if s < self.window_lo]
        text = ""
        if before:
            first, last = before[0], before[-1]
            span = (f"iteration {last[1]}" if first == last else
                    f"iterations {first[1]}–{last[1]}" if first[0] == last[0] else
                    f"run {first[0] + 1} iteration {first[1]} to run {last[0] + 1} "
                    f"iteration {last[1]}")
            text = f"{span} folded: step back ([) or click the timeline to see them"
        if self._folded is not None and self._folded.is_attached:
            if text:
                self._folded.text = text
                self._folded.update(text)
            else:
                await self._folded.remove()
                self._folded = None
        elif text:
            self._folded = Notice(text, "cancel")
            self._folded.tag(-1, 0)
            conv = self.conversation
            await conv.mount(self._folded, before=0 if conv.children else None)

    # the window's rules are in window.py; these apply them to this view's timeline and window
    def window_around(self, step: Optional[Step]) -> tuple[Step, Optional[Step]]:
        """The window that holds `step` (None: the newest) with room on both sides."""
        return window_around(self.query_one(Timeline).steps, step)

    @staticmethod
    def _window(steps: list[Step], lo: int, hi: int) -> tuple[Step, Optional[Step]]:
        """The window of timeline steps lo..hi (indexes)."""
        return window_of(steps, lo, hi)

    def window_shifted(self, step: Optional[Step]) -> Optional[tuple[Step, Optional[Step]]]:
        """The window moved just far enough to hold `step` (None: the newest) and SHIFT_ROOM
        steps beyond it, or None when that window would not overlap the drawn one (a jump)."""
        return window_shifted(self.query_one(Timeline).steps, step,
                              self.window_lo, self.window_hi)

    def window_holds(self, step: Optional[Step]) -> bool:
        return window_holds(self.window_lo, self.window_hi, step)

    async def clear_panes(self) -> None:
        """Empty conversation and REPL panes, the window open from the start."""
        async with self._draw:
            await self._clear_panes((0, 0), None)

    async def _clear_panes(self, lo: Step, hi: Optional[Step]) -> None:
        self.window_lo, self.window_hi = lo, hi
        self._dirty.clear()
        self._folded = None
        await self.conversation.clear()
        await self.repl.clear()
        self.conversation.limit = self.repl.limit = None
        await self._show_folded()

    async def move_window(self, step: Optional[Step]) -> None:
        """Make the window hold `step` (None: the newest). A step just past an edge moves the
        window a few steps: their widgets are drawn and as many at the other end dropped (a
        window's worth at each edge cost 80-300 ms, benchmarks/tmux_keys.py); a jump further
        away draws the window around it anew. The window is worked out under the drawing
        lock: an event shown meanwhile may have slid it."""
        async with self._draw:
            shifted = self.window_shifted(step)
            with self.app.batch_update():
                if shifted is None:
                    await self._draw_window(*self.window_around(step))
                else:
                    await self._move_to(*shifted)

    async def _move_to(self, lo: Step, hi: Optional[Step]) -> None:
        """Move the drawn window to lo..hi, which overlaps it (the drawing lock held)."""
        old_lo, old_hi = self.window_lo, self.window_hi

        def fresh(s: Step) -> bool:
            return lo <= s and (hi is None or s <= hi) and not (
                old_lo <= s and (old_hi is None or s <= old_hi))

        self.window_lo, self.window_hi = lo, hi
        await self.conversation.drop_outside(lo, hi)
        await self.repl.drop_outside(lo, hi)
        self._redrawing = True
        try:
            for r, run in enumerate(self.runs):
                if hi is not None and (r, 0) > hi:
                    break
                # an event without a step of its own (a sub-call's, a child run's) belongs
                # to the step of the root event before it
                owner: Optional[Step] = None
                for e in self.events_of(r):
                    step_of = self._step_of(run, r, e)
                    if step_of is not None:
                        owner = step_of
                    if owner is not None and fresh(owner):
                        await self._show(run, r, e)
        finally:
            self._redrawing = False
        await self._show_folded()
        await self._flush_panes()
        await self._close_interrupted(fresh)

    async def redraw(self, around: Optional[Step]) -> None:
        """Draw the panes anew for the window around `around` (None: the newest steps)."""
        async with self._draw:
            with self.app.batch_update():
                await self._draw_window(*self.window_around(around))

    async def redraw_window(self, lo: Step, hi: Optional[Step]) -> None:
        """Draw the panes anew for the window lo..hi."""
        # layout and painting held until the window is drawn: one layout, not one per widget
        async with self._draw:
            with self.app.batch_update():
                await self._draw_window(lo, hi)

    async def _draw_window(self, lo: Step, hi: Optional[Step]) -> None:
        """Clear the panes and draw the window lo..hi (the drawing lock held)."""
        await self._clear_panes(lo, hi)
        self._redrawing = True
        try:
            for r, run in enumerate(self.runs):
                if self.window_hi is not None and (r, 0) > self.window_hi:
                    break
                for e in self.events_of(r):
                    await self._show(run, r, e)
        finally:
            self._redrawing = False
        await self._flush_panes()
        await self._close_interrupted()

    async def _flush_panes(self) -> None:
        await self.conversation.flush()
        for block in self.repl.blocks.values():
            block.flush()

    async def _close_interrupted(self, drawn_now=lambda step: True) -> None:
        """A recorded run that stops without its closing events: its open blocks end with
        the time they ran (not a timer ticking forever), and a note says so (once: only when
        its last step is among those just drawn)."""
        for r, run in enumerate(self.runs):
            st = run.state
            if st.status != "interrupted":
                continue
            for (step, index), view in self.repl.blocks.items():
                if step[0] == r and view.state != "done" and step[1] <= len(st.iterations):
                    rec = st.iterations[step[1] - 1].blocks[index] \
                        if index < len(st.iterations[step[1] - 1].blocks) else None
                    if rec is not None:
                        view.finish(rec.duration, rec.error or "interrupted", False)
            last = (r, len(st.iterations))
            if self.in_window(last) and drawn_now(last):
                await self.conversation.add(Notice(
                    "interrupted: the run's events stop here (its app was closed or killed)",
                    "cancel"), *last)
                self.query_one(Timeline).mark(last, "failed")

    def _timeline_only(self, timeline: Timeline, r: int, e: ev.Event) -> None:
        """An event of an iteration outside the window: only the timeline learns of it."""
        if isinstance(e, ev.IterationStarted):
            timeline.add((r, e.iteration))
        elif isinstance(e, ev.CodeBlockFinished) and e.error:
            timeline.mark((r, e.iteration), "failed")
        elif isinstance(e, (ev.FeedbackSent, ev.FinalAnswer)):
            timeline.mark((r, e.iteration), "ok")
        elif isinstance(e, (ev.RunFailed, ev.RunCancelled)):
            timeline.mark((r, len(self.runs[r].state.iterations)), "failed")
            if isinstance(e, ev.RunFailed) and not self._redrawing:
                self.on_run_failed(e)

    def on_run_failed(self, e: ev.RunFailed) -> None:
        pass

    async def stream_code(self) -> None:
        """Show code blocks in the REPL pane while the reply is still streaming."""
        if not self._dirty:
            return
        async with self._draw:
            dirty, self._dirty = self._dirty, set()
            for msg in dirty:  # (a huge reply's blocks appear when it is complete)
                if not msg.done and msg.is_attached and msg.chars <= STREAM_PARSE_CHARS:
                    await self.sync_pending_blocks(msg.run_idx, msg.iteration, msg.text)

    async def sync_pending_blocks(self, r: int, iteration: int, text: str,
                                  final: bool = False) -> None:
        blocks = parsing.code_blocks(text) if final else [
            b for b in parsing.find_blocks(text) if b.lang in parsing.CODE_LANGS]
        for i, b in enumerate(blocks):
            view = await self.repl.block((r, iteration), i)
            if view.state == "streaming":
                view.set_code(b.code)
        if final:  # drop views of blocks that turned out not to run (e.g. cut as invented)
            for (step, index), view in list(self.repl.blocks.items()):
                if step == (r, iteration) and index >= len(blocks):
                    await self.repl.drop(view)

    # -- stepping --------------------------------------------------------------------------
    async def on_timeline_selected(self, message: Timeline.Selected) -> None:
        """Stepping outside the drawn window draws the window around the new step first."""
        if not self.window_holds(message.step):
            await self.move_window(message.step)
        self.selected = message.step
        self.conversation.show_until(message.step)
        self.repl.show_until(message.step)
        self.query_one(VariablesTable).show(self.variables_at(message.step))
        self.refresh_usage()

    def variables_at(self, step: Optional[tuple[int, int]]) -> tuple:
        runs = self.runs
        if not runs:
            return ()
        r, it = step if step is not None else (len(runs) - 1, 10 ** 9)
        for run in reversed(runs[: r + 1]):
            for record in reversed(run.state.iterations[: it]):
                for block in reversed(record.blocks):
                    if block.done:
                        return block.variables
            it = 10 ** 9
        return ()

    def refresh_usage(self) -> None:
        runs = self.runs
        session_tokens = sum(run.state.total_tokens for run in runs)
        panel = self.query_one(UsagePanel)
        if not runs:
            panel.show({}, {}, "iteration 0", 0.0, session_tokens)
            return
        r, it = self.selected if self.selected is not None else (len(runs) - 1, None)
        run = runs[r]
        records = run.state.iterations if it is None else run.state.iterations[:it]
        by_model = run.state.usage_through(it)
        root = run.model
        roles = {root: "root"}
        roles[run.recursive_model] = ("root+recursive" if run.recursive_model == root
                                      else "recursive")
        # a finished run's time is its recorded total (a live Run's clock keeps going)
        elapsed = run.state.total_time if run.done and run.state.total_time else run.elapsed
        if it is not None and records:
            elapsed = records[-1].started_t + records[-1].duration
        panel.show(by_model, roles, iteration_label(len(records), run.max_iterations), elapsed,
                   session_tokens)

    def action_step(self, delta: int) -> None:
        self.query_one(Timeline).action_step(delta)

    def action_focus_timeline(self) -> None:
        self.query_one(Timeline).focus()

    # -- actions ---------------------------------------------------------------------------
    def action_fork(self) -> None:
        """Fork the run at the step being looked at (see forking.py)."""
        from .forking import fork_here

        self.run_worker(fork_here(self), group="fork", exclusive=True)

    def action_help(self) -> None:
        self.app.show_help(self)  # type: ignore[attr-defined]

    def action_copy(self) -> None:
        node = self.focused
        while node is not None:
            if hasattr(node, "copy_text") and callable(node.copy_text):
                what, text = node.copy_text()
                if text:
                    self.app.copy_text_out(what, text)  # type: ignore[attr-defined]
                    return
            node = node.parent
        run = self.runs[-1] if self.runs else None
        if run is not None and run.state.answer:
            self.app.copy_text_out("answer", run.state.answer)  # type: ignore[attr-defined]
        else:
            self.notify("nothing to copy here: focus a reply, a code block or a variable "
                        "(Tab moves focus)", severity="warning")

    def on_variables_table_chosen(self, message: VariablesTable.Chosen) -> None:
        self.run_worker(self.open_variable(message.var), group="variable")

    async def open_variable(self, var) -> None:
        """The full value from a live worker (in a worker of its own: a big value or a busy
        REPL must not hold up the screen), else the preview; errors are one line."""
        value, error = None, None
        repl = self.live_repl() if self.selected is None else None
        if repl is not None:
            self.notify(f"fetching {var.name}…", timeout=2)
            try:
                value, error = await repl.get_variable(var.name)
            except Exception as exc:  # noqa: BLE001 - a dead or stuck worker: say so
                error = f"the REPL did not answer ({type(exc).__name__})"
        if value is None:
            note = error or "the full value is kept only for the latest state of a live session"
            value = f"{var.preview}\n\n({note}; this is the preview)"
        self.app.push_screen(TextViewer(f"{var.name} ({var.type})", value))
