"""The step-through view of runs: conversation, REPL, variables, usage and the iteration
timeline, fed with engine events. The live session screen and the read-only replay screen
are both this view.

Stepping the timeline shows every pane as it was at that iteration: the conversation and
REPL hide later items, the variables and usage are rebuilt from the run's state. A live
iteration keeps updating while you look at an earlier one.

A view holds "runs": live `Run`s or `RecordedRun`s. Both offer `state`, `model`,
`recursive_model`, `max_iterations`, `done` and `elapsed`.
"""

from __future__ import annotations

from typing import Any, Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from rlm_engine import events as ev
from rlm_engine import parsing
from rlm_engine.usage import ModelUsage

from ..widgets.conversation import (
    AssistantMessage, Conversation, FeedbackNote, FinalAnswerView, Notice)
from ..widgets.repl_view import ReplView, SubCallView
from ..widgets.timeline import Timeline
from ..widgets.usage import UsagePanel
from ..widgets.variables import VariablesTable
from .modals import HelpScreen, TextViewer


class RunView(Screen):
    BINDINGS = [
        Binding("left_square_bracket", "step(-1)", "Earlier step", id="step_back"),
        Binding("right_square_bracket", "step(1)", "Later step", id="step_forward"),
        Binding("ctrl+t", "focus_timeline", "Timeline", id="timeline"),
        Binding("ctrl+y", "copy", "Copy", id="copy"),
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "help", "Help", show=False, id="help_alt"),
    ]

    status_text = ""
    # iterations (lo, hi) that get widgets; None: all. A long recorded run shows a window
    # around the step being looked at, so it opens fast however long it is.
    window: Optional[tuple[int, int]] = None

    def __init__(self) -> None:
        super().__init__()
        self.selected: Optional[tuple[int, int]] = None
        self.backend_problem: Optional[str] = None
        self._dirty: set[AssistantMessage] = set()

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

    # -- layout ----------------------------------------------------------------------------
    def compose(self):
        yield Header()
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

    def on_mount(self) -> None:
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
        self.query_one("#status", Static).update(Text(text, style=style))

    # -- events to panes -------------------------------------------------------------------
    async def show_event(self, run, r: int, e: ev.Event) -> None:
        if e.depth:  # a child run (rlm_query): a tree under the call that started it
            await self.repl.show_child_event(e)
            return
        conv, repl = self.conversation, self.repl
        timeline = self.query_one(Timeline)
        it = getattr(e, "iteration", None)
        if self.window is not None and it is not None and \
                not self.window[0] <= it <= self.window[1]:
            self._timeline_only(timeline, r, e)
            return
        if isinstance(e, ev.IterationStarted):
            timeline.add((r, e.iteration))
            await conv.add(AssistantMessage(run.model, e.iteration), r, e.iteration)
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
            it = len(run.state.iterations)
            await conv.add(Notice(f"run failed: {e.error}"), r, it)
            timeline.mark((r, it), "failed")
            self.on_run_failed(e)
        elif isinstance(e, ev.RunCancelled):
            it = len(run.state.iterations)
            await conv.add(Notice("cancelled: what the run had so far stays above", "cancel"),
                           r, it)
            timeline.mark((r, it), "failed")
        elif isinstance(e, ev.RunFinished):
            tokens = e.usage["total_prompt_tokens"] + e.usage["total_completion_tokens"]
            self.set_status(f"{e.status} · {e.iterations} iterations · {e.total_time:.1f} s · "
                            f"{tokens:,} tokens", "green" if e.status == "completed" else "red")
        elif isinstance(e, ev.UsageUpdated) and self.selected is None:
            self.refresh_usage()

    def _timeline_only(self, timeline: Timeline, r: int, e: ev.Event) -> None:
        """An event of an iteration outside the window: only the timeline learns of it."""
        if isinstance(e, ev.IterationStarted):
            timeline.add((r, e.iteration))
        elif isinstance(e, ev.CodeBlockFinished) and e.error:
            timeline.mark((r, e.iteration), "failed")
        elif isinstance(e, (ev.FeedbackSent, ev.FinalAnswer)):
            timeline.mark((r, e.iteration), "ok")

    def on_run_failed(self, e: ev.RunFailed) -> None:
        pass

    async def stream_code(self) -> None:
        """Show code blocks in the REPL pane while the reply is still streaming."""
        dirty, self._dirty = self._dirty, set()
        for msg in dirty:
            if not msg.done:
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
    def on_timeline_selected(self, message: Timeline.Selected) -> None:
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
            panel.show({}, {}, "0", 0.0, session_tokens)
            return
        r, it = self.selected if self.selected is not None else (len(runs) - 1, None)
        run = runs[r]
        records = run.state.iterations if it is None else run.state.iterations[:it]
        by_model: dict[str, ModelUsage] = {}
        root = run.model
        for rec in records:
            by_model[root] = by_model.get(root, ModelUsage(root)).add(rec.usage, rec.duration)
            for block in rec.blocks:
                for call in block.sub_calls:
                    if call.done:
                        by_model[call.model] = by_model.get(
                            call.model, ModelUsage(call.model)).add(call.usage, call.duration)
        roles = {root: "root"}
        roles[run.recursive_model] = ("root+recursive" if run.recursive_model == root
                                      else "recursive")
        elapsed = run.elapsed
        if it is not None and records:
            elapsed = records[-1].started_t + records[-1].duration
        panel.show(by_model, roles, f"{len(records)} of {run.max_iterations}", elapsed,
                   session_tokens)

    def action_step(self, delta: int) -> None:
        self.query_one(Timeline).action_step(delta)

    def action_focus_timeline(self) -> None:
        self.query_one(Timeline).focus()

    # -- actions ---------------------------------------------------------------------------
    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.app.bindings_in_force()))  # type: ignore[attr-defined]

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
