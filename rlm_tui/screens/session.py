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
from textual.worker import Worker, WorkerState

from rlm_engine import RLMError
from rlm_engine import events as ev
from rlm_engine.loop import Run

from ..background import load_then
from ..figures import iteration_label
from ..commands import THINK_VALUES, parse_command
from ..session import Session
from ..widgets.conversation import Notice
from ..widgets.prompt import PromptInput
from ..widgets.timeline import Timeline
from ..widgets.variables import VariablesTable
from ..widgets.welcome import Welcome
from .file_picker import FilePicker
from .model_picker import ModelPicker
from .run_view import RunView


class SessionScreen(RunView):
    HELP_EXTRA = RunView.HELP_EXTRA[:2] + [
        ("esc", "cancel the run; else back to live; else back to the input")
    ] + RunView.HELP_EXTRA[2:]
    BINDINGS = [
        Binding("escape", "cancel", "Cancel run", id="cancel"),
        Binding("ctrl+c", "cancel_or_copy", "Cancel run / copy selection", show=False,
                priority=True, id="cancel_or_copy"),
        Binding("ctrl+l", "focus_input", "Input", priority=True, id="focus_input"),
        Binding("ctrl+o", "load_context", "Context", id="load_context"),
        Binding("ctrl+s", "save_trajectory", "Save trajectory", show=False, id="save"),
        Binding("f2", "example", "Example run", show=False, id="example"),
        Binding("f3", "demo", "Live demo", show=False, id="demo"),
    ]

    def __init__(self, session: Session, initial_context: Optional[Path] = None,
                 probe: bool = True, demo: bool = False) -> None:
        super().__init__()
        self.session = session
        self.initial_context = initial_context
        self.probe_backend = probe  # off when another screen (the benchmark) was asked for
        self.start_demo = demo  # `rlm-tui demo`: run it once the model is found
        self.demos: dict = {}  # run index -> the Demo it runs
        self._said: set[tuple[int, str]] = set()  # (run, trajectory error) already shown
        self.sandbox_label = ""  # "sandboxed" / "unsandboxed", once known (check_sandbox)
        self.sandbox_warning = ""  # why not sandboxed and how to enable it, if not asked for

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

    # None: the model check is under way; "": the model was found; else the problem
    model_state: Optional[str] = None

    def on_mount(self) -> None:
        super().on_mount()
        if not self.session.runs:
            self.conversation.mount(Welcome())
        self.refresh_header()
        self.run_worker(self.check_sandbox(), group="sandbox")
        self.set_interval(0.5, self.refresh_status)
        self.query_one("#prompt", Input).focus()
        if self.probe_backend:
            self.run_worker(self.probe(), group="probe", exit_on_error=False)
        else:
            self.model_state = ""
        if self.initial_context is not None:
            self.run_worker(self.load_context(self.initial_context), group="context",
                            exit_on_error=False)
        self.refresh_welcome()

    def backend_name(self) -> str:
        client = self.session.rlm.root_client
        return {"ollama": "Ollama", "openai": "OpenAI", "anthropic": "Anthropic"}.get(
            client.provider, client.provider.capitalize())

    def refresh_welcome(self) -> None:
        for card in self.query(Welcome):
            card.update_state(model=self.session.rlm.model, backend=self.backend_name(),
                              state=self.model_state,
                              context=self.session.context_label(),
                              sandbox=self.sandbox_warning)

    def refresh_header(self) -> None:
        s = self.session.settings
        rec = self.session.rlm.recursive_model
        models = s.model if rec == self.session.rlm.model else f"{s.model} → {rec}"
        self.app.title = "rlm-tui"
        self.app.sub_title = f"{models} · {self.session.context_label()}"
        self.refresh_app_header()
        self.refresh_welcome()

    def header_fields(self) -> list[tuple[str, str, str]]:
        run = self.session.current
        if run is not None and not run.done:
            what = ("running", "yellow")
        elif self.model_state is None:
            what = ("checking model", "yellow")
        elif self.model_state or self.backend_problem:
            what = ("backend problem", "red")
        else:
            what = ("ready", "green")
        rec = self.session.rlm.recursive_model
        model = self.session.rlm.model + ("" if rec == self.session.rlm.model else f" → {rec}")
        fields = [("", what[0], what[1]), ("model", model, "bold"),
                  ("context", self.session.context_label(), "")]
        if self.sandbox_label:  # where model code runs (rlm_engine/repl/sandbox.py)
            fields.append(("", self.sandbox_label,
                           "green" if self.sandbox_label.startswith("sandboxed") else "yellow"))
        return fields

    async def check_sandbox(self) -> None:
        """Show whether model code is sandboxed; a fallback the user did not ask for gets a
        one-line warning saying how to enable the sandbox (bwrap is probed once, off-loop)."""
        repl = self.session.repl
        state = await asyncio.to_thread(lambda: repl.sandbox_state)
        self.sandbox_label = state.label
        if not state.sandboxed and repl.sandbox.mode != "off":
            self.sandbox_warning = state.detail
            self.notify(state.detail, severity="warning", timeout=10)
        self.refresh_header()  # the header field, and the welcome card's warning

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
        elif self.model_state is None:
            self.set_status(f"checking {self.session.rlm.model} on {self.backend_name()}…",
                            "yellow")
        elif run is None:
            self.set_status("ready · ask a question, Ctrl+O loads context, F1 help", "dim")
        self.refresh_app_header()

    # -- backend check and context -------------------------------------------------------
    async def probe(self) -> None:
        """Check the root model (and a distinct recursive one) exists on its backend, at
        start and after each switch, and say so at once: on the status line, in the
        welcome card and in the header."""
        rlm = self.session.rlm
        self.model_state = None
        self.refresh_status()
        problem = await rlm.root_client.probe()
        if not problem and rlm.recursive_client is not rlm.root_client:
            problem = await rlm.recursive_client.probe()
        if rlm is not self.session.rlm:
            return  # the model was switched meanwhile; its own check reports
        self.model_state = problem or ""
        if problem:
            self.backend_problem = problem + " · /model lists and switches · F2 an example run"
            self._end_flash()  # the problem shows at once, not after an older message
        else:
            self.backend_problem = None
        self.refresh_status()
        self.refresh_welcome()
        if self.start_demo:
            self.start_demo = False
            self.action_demo()

    async def load_context(self, path: Path) -> None:
        self.set_status(f"loading {path} …", "yellow")
        try:
            info = await self.session.load_context(path)
        except RLMError as exc:
            self.notify(str(exc), severity="error", timeout=8)
        except Exception as exc:  # noqa: BLE001 - the screen handles its own errors
            self.notify(f"could not load {path.name}: {type(exc).__name__}: {exc} "
                        f"(/clear starts a fresh REPL)", severity="error", timeout=8)
        else:
            self.notify(f"context: {self.session.context_label()}")
            if info.note:
                self.notify(info.note, severity="warning", timeout=8)
        self.refresh_header()
        self.refresh_status()
        self.refresh_welcome()

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
        for card in self.query(Welcome):
            card.remove()  # the first question: the welcome has done its work
        try:
            run = self.session.ask(prompt)
        except Exception as exc:  # noqa: BLE001 - the screen handles its own errors
            self.notify(f"the run could not start: {type(exc).__name__}: {exc}",
                        severity="error", timeout=8)
            return
        self._say_trajectory_error(run)
        run_idx = len(self.session.runs) - 1
        self.run_worker(self.drive(run, run_idx, prompt), group="run", exit_on_error=False)

    def _say_trajectory_error(self, run: Run) -> None:
        """Once per run: its file could not be written (the run itself goes on)."""
        error = run.trajectory_error
        if error and (id(run), error) not in self._said:
            self._said.add((id(run), error))
            self.notify(error, severity="warning", timeout=10)

    async def run_command(self, name: str, arg: str) -> None:
        if name == "quit":
            self.app.exit()
        elif name == "help":
            self.action_help()
        elif name == "context":
            if arg:
                path = Path(arg).expanduser()  # noqa: ASYNC240 - reads no file
                self.run_worker(self.load_context(path), group="context",
                                exit_on_error=False)
            else:
                self.action_load_context()
        elif name == "clear":
            await self.clear_session()
        elif self.session.busy:
            self.notify("settings change after the run: wait, or Esc to cancel it",
                        severity="warning")
        elif name in ("model", "recursive-model") and not arg:
            self.action_pick_model(name)
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
                self.run_worker(self.probe(), group="probe", exit_on_error=False)

    def action_pick_model(self, which: str = "model") -> None:
        """The backend's models, filtered as you type; the one chosen is switched to."""
        rlm = self.session.rlm
        client = rlm.root_client if which == "model" else rlm.recursive_client
        current = rlm.model if which == "model" else rlm.recursive_model

        def chosen(spec: Optional[str]) -> None:
            if spec:
                self.run_worker(self.run_command(which, spec), group="command")

        self.app.push_screen(ModelPicker(client, "root" if which == "model" else "recursive",
                                         current), chosen)

    async def clear_session(self) -> None:
        old = self.session
        context = old.context_path
        try:
            await old.close()
        except Exception as exc:  # noqa: BLE001 - a dead worker must not keep /clear from working
            self.log.warning(f"closing the old session: {exc!r}")
        try:
            self.session = Session.create(old.settings)
        except RLMError as exc:
            self.notify(f"no new session: {exc}", severity="error", timeout=8)
            return
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
            await self.show_verdict(run, run_idx)
            self.refresh_status()
            self.refresh_usage()
            self._say_trajectory_error(run)  # e.g. the disk filled up mid-run

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """This screen's workers (probe, context, run) never end the app: an error they did
        not handle themselves is one line here, and the session goes on."""
        worker = event.worker
        if event.state == WorkerState.ERROR and worker.node is self:
            error = worker.error
            self.notify(f"{worker.group} failed: {type(error).__name__}: {error}",
                        severity="error", timeout=8)
            self.refresh_status()

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
        label = f"fork of “{' '.join(parent.prompt.split())[:80]}” at iteration {request.options.at}"
        self.notify(f"{label}: rebuilding…", timeout=4)

        async def go() -> None:
            try:
                await self.drive(run, run_idx, run.prompt if request.options.at == 0 and
                                 request.options.instruction else label)
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
        load_then(self, lambda: RecordedRun.load(path),
                  lambda run: self.app.push_screen(
                      ReplayScreen(run, f"example: {path.stem}", autoplay=True)),
                  what=path.name)

    def action_demo(self) -> None:
        """The live demo: a fresh haystack as context, the question, and a verdict."""
        if self.session.busy:
            self.notify("a run is going: wait for it, or Esc to cancel it", severity="warning")
            return
        if self.model_state:
            self.notify(f"the demo needs a model that answers: {self.model_state}",
                        severity="error")
            return
        self.run_worker(self._demo(), group="context")

    async def _demo(self) -> None:
        from rlm_engine.demo import make_demo

        self.set_status("writing a 10,000-line haystack …", "yellow")
        try:
            demo = make_demo()
        except OSError as exc:
            self.notify(f"could not write the haystack: {exc.strerror or exc}", severity="error")
            return
        await self.load_context(demo.path)
        if self.session.context_path != demo.path:
            return  # the load failed and said why
        self.ask(demo.prompt)
        self.demos[len(self.session.runs) - 1] = demo

    async def show_verdict(self, run: Run, run_idx: int) -> None:
        demo = self.demos.get(run_idx)
        if demo is None:
            return
        found, line = demo.verdict(run.state.answer)
        last = len(run.state.iterations)
        await self.conversation.add(Notice(line, "success" if found else "error"), run_idx,
                                    last)
        self.notify(line, severity="information" if found else "warning", timeout=10)

    def on_run_failed(self, e: ev.RunFailed) -> None:
        self.notify(e.error, severity="error", timeout=8)
        if e.reason == "backend":
            self.backend_problem = e.error

    def action_cancel(self) -> None:
        """Esc: cancel the run; else back to live; else back to the input box."""
        run = self.session.current
        if run is not None and not run.done:
            run.cancel()
            self.set_status("cancelling…", "yellow")
        elif self.selected is not None:
            self.query_one(Timeline).select(None)
        else:
            self.action_focus_input()

    def action_focus_input(self) -> None:
        self.query_one("#prompt", Input).focus()

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
                self.run_worker(self.load_context(path), group="context", exit_on_error=False)

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
