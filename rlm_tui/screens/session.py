"""The live session screen: the step-through view (run_view.py) plus the question box,
commands, context loading, the backend check and cancel.

Runs are driven by a Textual worker that iterates the engine's events and hands each to the
panes.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Optional

from textual.binding import Binding
from textual.widgets import Input

from rlm_engine import RLMError
from rlm_engine import events as ev
from rlm_engine.loop import Run

from ..figures import iteration_label
from ..commands import THINK_VALUES, parse_command
from ..session import Session
from ..widgets.prompt import PromptInput
from ..widgets.timeline import Timeline
from ..widgets.variables import VariablesTable
from .file_picker import FilePicker
from .run_view import RunView


class SessionScreen(RunView):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel run", id="cancel"),
        Binding("ctrl+c", "cancel_or_copy", "Cancel run / copy selection", show=False,
                priority=True, id="cancel_or_copy"),
        Binding("ctrl+o", "load_context", "Load context", id="load_context"),
        Binding("ctrl+s", "save_trajectory", "Save trajectory", show=False, id="save"),
        Binding("f2", "example", "Example run", show=False, id="example"),
    ]

    def __init__(self, session: Session, initial_context: Optional[Path] = None,
                 probe: bool = True) -> None:
        super().__init__()
        self.session = session
        self.initial_context = initial_context
        self.probe_backend = probe  # off when another screen (the benchmark) was asked for

    @property
    def runs(self) -> list:
        return self.session.runs

    def compose_input(self):
        yield PromptInput(placeholder="Ask about your data, or /help (↑ ↓ history)", id="prompt")

    def live_repl(self):
        run = self.session.current
        if self.session.busy or (run is not None and run.fork is not None):
            return None  # a fork's variables live in its own (closed) worker
        return self.session.repl

    def on_mount(self) -> None:
        super().on_mount()
        self.refresh_header()
        self.set_interval(0.5, self.refresh_status)
        self.query_one("#prompt", Input).focus()
        if self.probe_backend:
            self.run_worker(self.probe(), group="probe")
        if self.initial_context is not None:
            self.run_worker(self.load_context(self.initial_context), group="context")

    def refresh_header(self) -> None:
        s = self.session.settings
        rec = self.session.rlm.recursive_model
        models = s.model if rec == self.session.rlm.model else f"{s.model} → {rec}"
        self.app.title = "rlm-tui"
        self.app.sub_title = f"{models} · {self.session.context_label()}"

    def refresh_status(self) -> None:
        run = self.session.current
        if run is not None and not run.done:
            st = run.state
            n = len(st.iterations)
            self.set_status(f"running · {iteration_label(n, run.max_iterations)} · "
                            f"{run.elapsed:.1f} s · Esc cancels", "yellow")
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
            self.backend_problem = problem + " · /model SPEC switches · F2: an example run"
            self.notify(f"{problem}. Meanwhile, press F2 to watch an example run.",
                        severity="error", timeout=12)
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
        self.forget_kept()
        self.query_one(Timeline).clear_all()
        await self.redraw(None)
        self.query_one(VariablesTable).show(())
        self.selected = None
        self.refresh_usage()
        if context is not None:
            await self.load_context(context)
        self.notify("new session")
        self.refresh_header()

    # -- running ---------------------------------------------------------------------------
    async def drive(self, run: Run, run_idx: int, prompt: str) -> None:
        """Show the run's events. A pump moves them into an inbox as they come, and the
        display takes all that waits there at once, so a display behind a fast run catches
        up in one batch (see RunView.show_events) instead of drawing every iteration."""
        self.backend_problem = None
        inbox: asyncio.Queue = asyncio.Queue()

        async def pump() -> None:
            try:
                async for e in run:
                    inbox.put_nowait(e)
            finally:
                inbox.put_nowait(None)

        pumping = asyncio.create_task(pump())
        try:
            ended = False
            while not ended:
                batch = [await inbox.get()]
                while not inbox.empty():
                    batch.append(inbox.get_nowait())
                if batch[-1] is None:
                    batch.pop()
                    ended = True
                await self.show_events(run, run_idx, batch)
        finally:
            if not pumping.done():
                pumping.cancel()
        if self.is_attached:  # the app may be closing while the run ends
            self.refresh_status()
            self.refresh_usage()

    def start_fork(self, parent, request) -> None:
        """Run a fork of `parent` (forking.py) as this session's next run."""
        from .forking import begin

        try:
            rlm, run = begin(self, parent, request)
        except RLMError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.session.runs.append(run)
        run_idx = len(self.session.runs) - 1
        if self.selected is not None:  # the fork is followed live
            self.query_one(Timeline).select(None)
        label = f"fork of “{' '.join(parent.prompt.split())[:80]}” at iteration {request.at}"
        self.notify(f"{label}: rebuilding…", timeout=4)

        async def go() -> None:
            try:
                await self.drive(run, run_idx, run.prompt if request.at == 0 and
                                 request.instruction else label)
            finally:
                await rlm.aclose()

        self.run_worker(go(), group="run")

    def action_example(self) -> None:
        """Open (and play) one of the example runs shipped with rlm-tui, in turn."""
        from rlm_engine.replay import RecordedRun

        from .replay import ReplayScreen

        examples = sorted((Path(__file__).parent.parent / "examples").glob("*.jsonl"))
        if not examples:
            self.notify("no example runs are installed", severity="warning")
            return
        self._example = (getattr(self, "_example", -1) + 1) % len(examples)
        path = examples[self._example]
        self.app.push_screen(ReplayScreen(RecordedRun.load(path), f"example: {path.stem}",
                                          autoplay=True))

    def on_run_failed(self, e: ev.RunFailed) -> None:
        self.notify(e.error, severity="error", timeout=8)
        if e.reason == "backend":
            self.backend_problem = e.error

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
        selection = self.get_selected_text()
        if selection:
            self.app.copy_text_out("selection", selection)  # type: ignore[attr-defined]
        else:
            self.notify("Ctrl+C cancels a run; Ctrl+Q quits", timeout=3)

    def action_load_context(self) -> None:
        def chosen(path: Optional[Path]) -> None:
            if path is not None:
                self.run_worker(self.load_context(path), group="context")

        start = self.session.context_path.parent if self.session.context_path else Path.cwd()
        self.app.push_screen(FilePicker(start), chosen)

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
