"""The session screen: conversation, REPL, variables, usage and the iteration timeline.

Runs are driven by a Textual worker that iterates the engine's events and hands each to the
panes. Stepping the timeline shows every pane as it was at that iteration: the conversation
and REPL hide later items, the variables and usage are rebuilt from the run's state. The
live iteration keeps updating while you look at an earlier one.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from rlm_engine import RLMError
from rlm_engine import events as ev
from rlm_engine import parsing
from rlm_engine.loop import Run
from rlm_engine.usage import ModelUsage

from ..commands import THINK_VALUES, parse_command
from ..session import Session
from ..widgets.conversation import (
    AssistantMessage, Conversation, FeedbackNote, FinalAnswerView, Notice, UserMessage)
from ..widgets.prompt import PromptInput
from ..widgets.repl_view import ReplView, SubCallView
from ..widgets.timeline import Timeline
from ..widgets.usage import UsagePanel
from ..widgets.variables import VariablesTable
from .file_picker import FilePicker
from .modals import HelpScreen, TextViewer


class SessionScreen(Screen):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel run", id="cancel"),
        Binding("ctrl+c", "cancel_or_copy", "Cancel run / copy selection", show=False,
                priority=True, id="cancel_or_copy"),
        Binding("left_square_bracket", "step(-1)", "Earlier step", id="step_back"),
        Binding("right_square_bracket", "step(1)", "Later step", id="step_forward"),
        Binding("ctrl+t", "focus_timeline", "Timeline", id="timeline"),
        Binding("ctrl+o", "load_context", "Load context", id="load_context"),
        Binding("ctrl+y", "copy", "Copy", id="copy"),
        Binding("ctrl+s", "save_trajectory", "Save trajectory", show=False, id="save"),
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "help", "Help", show=False, id="help_alt"),
    ]

    def __init__(self, session: Session, initial_context: Optional[Path] = None) -> None:
        super().__init__()
        self.session = session
        self.initial_context = initial_context
        self.selected: Optional[tuple[int, int]] = None
        self.backend_problem: Optional[str] = None
        self._dirty: set[AssistantMessage] = set()

    # -- layout ----------------------------------------------------------------------------
    def compose(self):
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="left"):
                conv = Conversation(id="conversation")
                conv.border_title = "Conversation"
                yield conv
                yield Static("", id="status")
                yield PromptInput(placeholder="Ask about your data, or /help (↑ ↓ history)",
                                  id="prompt")
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

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def repl(self) -> ReplView:
        return self.query_one(ReplView)

    def on_mount(self) -> None:
        self.refresh_header()
        self.refresh_usage()
        self.set_interval(0.5, self.refresh_status)
        self.set_interval(0.1, self.stream_code)
        self.query_one("#prompt", Input).focus()
        self.run_worker(self.probe(), group="probe")
        if self.initial_context is not None:
            self.run_worker(self.load_context(self.initial_context), group="context")

    def refresh_header(self) -> None:
        s = self.session.settings
        rec = self.session.rlm.recursive_model
        models = s.model if rec == self.session.rlm.model else f"{s.model} → {rec}"
        self.app.title = "rlm-tui"
        self.app.sub_title = f"{models} · {self.session.context_label()}"

    status_text = ""

    def set_status(self, text: str, style: str = "") -> None:
        self.status_text = text
        self.query_one("#status", Static).update(Text(text, style=style))

    def refresh_status(self) -> None:
        run = self.session.current
        if run is not None and not run.done:
            st = run.state
            n = len(st.iterations)
            elapsed = time.monotonic() - run._t0
            self.set_status(f"running · iteration {n} of {run.rlm.max_iterations} · "
                            f"{elapsed:.1f} s · Esc cancels", "yellow")
            if self.selected is None:
                self.refresh_usage()
        elif self.backend_problem:
            self.set_status(self.backend_problem, "bold red")
        elif run is None:
            self.set_status("ready · ask a question, /context FILE to load data, F1 for help",
                            "dim")

    # -- backend check and context -------------------------------------------------------
    async def probe(self) -> None:
        problem = await self.session.rlm.root_client.probe()
        if problem:
            self.backend_problem = problem + " (/model SPEC switches)"
            self.notify(problem, severity="error", timeout=8)
        else:
            self.backend_problem = None
        self.refresh_status()

    async def load_context(self, path: Path) -> None:
        self.set_status(f"loading {path} …", "yellow")
        try:
            await self.session.load_context(path)
        except RLMError as exc:
            self.notify(str(exc), severity="error", timeout=8)
        else:
            self.notify(f"context: {self.session.context_label()}")
        self.refresh_header()
        self.refresh_status()

    # -- input -----------------------------------------------------------------------------
    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "prompt":
            return
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        self.query_one(PromptInput).remember(text)
        command = parse_command(text)
        if command is None:
            self.ask(text)
        elif command.error:
            self.notify(command.error, severity="warning")
        else:
            await self.run_command(command.name, command.arg)

    def ask(self, prompt: str) -> None:
        if self.session.busy:
            self.notify("a run is going: wait for it, or press Esc to cancel it",
                        severity="warning")
            return
        run = self.session.ask(prompt)
        run_idx = len(self.session.runs) - 1
        self.run_worker(self.drive(run, run_idx, prompt), group="run")

    async def run_command(self, name: str, arg: str) -> None:
        if name == "quit":
            self.app.exit()
        elif name == "help":
            self.action_help()
        elif name == "context":
            if arg:
                self.run_worker(self.load_context(Path(arg).expanduser()), group="context")
            else:
                self.action_load_context()
        elif name == "clear":
            await self.clear_session()
        elif self.session.busy:
            self.notify("settings change after the run: wait, or Esc to cancel it",
                        severity="warning")
        else:
            changes = {"model": {"model": arg}, "recursive-model": {"recursive_model": arg},
                       "think": {"think": THINK_VALUES.get(arg.lower())}}[name]
            try:
                self.session.change(**changes)
            except RLMError as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"{name}: {arg}")
            self.refresh_header()
            if name == "model":
                self.backend_problem = None
                self.run_worker(self.probe(), group="probe")

    async def clear_session(self) -> None:
        old = self.session
        context = old.context_path
        await old.close()
        self.session = Session.create(old.settings)
        self.app.session = self.session  # type: ignore[attr-defined]
        await self.conversation.clear()
        await self.repl.clear()
        self.query_one(Timeline).clear_all()
        self.query_one(VariablesTable).show(())
        self.selected = None
        self.refresh_usage()
        if context is not None:
            await self.load_context(context)
        self.notify("new session")
        self.refresh_header()

    # -- running ---------------------------------------------------------------------------
    async def drive(self, run: Run, run_idx: int, prompt: str) -> None:
        await self.conversation.add(UserMessage(prompt), run_idx, 0)
        self.backend_problem = None
        async for e in run:
            try:
                await self.show_event(run, run_idx, e)
            except Exception as exc:  # noqa: BLE001 - a display bug must not stop the run
                self.log.error(f"display of {e.kind} failed: {exc!r}")
        if self.is_attached:  # the app may be closing while the run ends
            self.refresh_status()
            self.refresh_usage()

    async def show_event(self, run: Run, r: int, e: ev.Event) -> None:
        if e.depth:  # a child run of rlm_query: shown as its sub-call line for now
            return
        conv, repl = self.conversation, self.repl
        if isinstance(e, ev.IterationStarted):
            self.query_one(Timeline).add((r, e.iteration))
            await conv.add(AssistantMessage(run.rlm.model, e.iteration), r, e.iteration)
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
                self.query_one(Timeline).mark((r, e.iteration), "failed")
            if self.selected is None:
                self.query_one(VariablesTable).show(e.variables)
        elif isinstance(e, ev.SubCallStarted):
            block = repl.find((r, e.iteration), e.index)
            if block is not None:
                await repl.add_subcall(block, SubCallView(e.call_id, e.model, e.prompt_preview,
                                                          e.prompt_chars))
        elif isinstance(e, ev.SubCallFinished):
            view = repl.subcall(e.call_id)
            if view is not None:
                view.finish(e.answer, e.error, e.usage.total, e.duration)
        elif isinstance(e, ev.FeedbackSent):
            await conv.add(FeedbackNote(e.text), r, e.iteration)
            self.query_one(Timeline).mark((r, e.iteration), "ok")
        elif isinstance(e, ev.FinalAnswer):
            await conv.add(FinalAnswerView(e.answer, e.source), r, e.iteration)
            self.query_one(Timeline).mark((r, e.iteration), "ok")
        elif isinstance(e, ev.RunFailed):
            it = len(run.state.iterations)
            await conv.add(Notice(f"run failed: {e.error}"), r, it)
            self.query_one(Timeline).mark((r, it), "failed")
            self.notify(e.error, severity="error", timeout=8)
            if e.reason == "backend":
                self.backend_problem = e.error
        elif isinstance(e, ev.RunCancelled):
            it = len(run.state.iterations)
            await conv.add(Notice("cancelled: what the run had so far stays above", "cancel"),
                           r, it)
            self.query_one(Timeline).mark((r, it), "failed")
        elif isinstance(e, ev.RunFinished):
            self.set_status(f"{e.status} · {e.iterations} iterations · {e.total_time:.1f} s · "
                            f"{sum(m['prompt_tokens'] + m['completion_tokens'] for m in e.usage['by_model'].values()):,} tokens",
                            "green" if e.status == "completed" else "red")
        elif isinstance(e, ev.UsageUpdated) and self.selected is None:
            self.refresh_usage()

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
        runs = self.session.runs
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
        runs = self.session.runs
        session_tokens = sum(run.state.total_tokens for run in runs)
        panel = self.query_one(UsagePanel)
        if not runs:
            panel.show({}, {}, "0", 0.0, session_tokens)
            return
        r, it = self.selected if self.selected is not None else (len(runs) - 1, None)
        run = runs[r]
        st = run.state
        by_model: dict[str, ModelUsage] = {}
        records = st.iterations if it is None else st.iterations[:it]
        root = run.rlm.model
        for rec in records:
            by_model[root] = by_model.get(root, ModelUsage(root)).add(rec.usage, rec.duration)
            for block in rec.blocks:
                for call in block.sub_calls:
                    if call.done:
                        by_model[call.model] = by_model.get(call.model, ModelUsage(call.model)).add(
                            call.usage, call.duration)
        roles = {root: "root"}
        rec_model = run.rlm.recursive_model
        roles[rec_model] = "root+recursive" if rec_model == root else "recursive"
        shown = len(records)
        elapsed = st.last_t if it is not None or run.done else time.monotonic() - run._t0
        if it is not None and records:
            elapsed = records[-1].started_t + records[-1].duration
        panel.show(by_model, roles, f"{shown} of {run.rlm.max_iterations}", elapsed,
                   session_tokens)

    def action_step(self, delta: int) -> None:
        self.query_one(Timeline).action_step(delta)

    def action_focus_timeline(self) -> None:
        self.query_one(Timeline).focus()

    # -- actions ---------------------------------------------------------------------------
    def action_cancel(self) -> None:
        run = self.session.current
        if run is not None and not run.done:
            run.cancel()
            self.set_status("cancelling…", "yellow")
        elif self.selected is not None:
            self.query_one(Timeline).select(None)

    def action_cancel_or_copy(self) -> None:
        if self.session.busy:
            self.action_cancel()
            return
        selection = self.get_selected_text() if hasattr(self, "get_selected_text") else None
        if selection:
            self.app.copy_text_out("selection", selection)  # type: ignore[attr-defined]
        else:
            self.notify("Ctrl+C cancels a run; Ctrl+Q quits", timeout=3)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.app.bindings_in_force()))  # type: ignore[attr-defined]

    def action_load_context(self) -> None:
        def chosen(path: Optional[Path]) -> None:
            if path is not None:
                self.run_worker(self.load_context(path), group="context")

        start = self.session.context_path.parent if self.session.context_path else Path.cwd()
        self.app.push_screen(FilePicker(start), chosen)

    def action_copy(self) -> None:
        node = self.focused
        while node is not None:
            if hasattr(node, "copy_text") and callable(node.copy_text):
                what, text = node.copy_text()
                if text:
                    self.app.copy_text_out(what, text)  # type: ignore[attr-defined]
                    return
            node = node.parent
        run = self.session.current
        if run is not None and run.state.answer:
            self.app.copy_text_out("answer", run.state.answer)  # type: ignore[attr-defined]
        else:
            self.notify("nothing to copy here: focus a reply, a code block or a variable "
                        "(Tab moves focus)", severity="warning")

    def action_save_trajectory(self) -> None:
        run = self.session.current
        if run is None or run.trajectory_path is None:
            self.notify("no run to save yet", severity="warning")
            return
        src = Path(run.trajectory_path)
        dest = Path.cwd() / src.name
        try:
            shutil.copyfile(src, dest)
        except OSError as exc:
            self.notify(f"could not save: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"saved {dest}")

    async def on_variables_table_chosen(self, message: VariablesTable.Chosen) -> None:
        var = message.var
        value, error = None, None
        if self.selected is None and not self.session.busy:
            value, error = await self.session.repl.get_variable(var.name)
        if value is None:
            note = error or "the full value is kept only for the latest state"
            value = f"{var.preview}\n\n({note}; this is the preview)"
        self.app.push_screen(TextViewer(f"{var.name} ({var.type})", value))
