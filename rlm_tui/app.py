"""The Textual app: the session screen, the command palette, copy, and key bindings from
the user's config.

Keys: every binding has an id; ``<config dir>/keys.toml`` (platformdirs' user config dir for
"rlm-tui", or ``$RLM_TUI_CONFIG_DIR``) can rebind them::

    [keys]
    cancel = "escape"
    copy = "ctrl+y,f6"
    step_back = "left_square_bracket"

The help screen (F1) shows the keys in force.

Copy: ``App.copy_to_clipboard`` (OSC 52, which many terminals support); where a system
clipboard tool is installed (wl-copy, xclip, xsel, pbcopy) it is used too, and the text is
always written to ``<data dir>/clipboard.txt`` so nothing copied is lost on a terminal
without OSC 52.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Optional

from textual.app import App, SystemCommand

from rlm_engine import RLMError, check_context_path
from rlm_engine.paths import config_dir, data_dir, saved_benchmarks

from .background import load_then
from .screens.modals import HelpScreen
from .session import Session, settings_from_args

CLIPBOARD_TOOLS = (["wl-copy"], ["xclip", "-selection", "clipboard"],
                   ["xsel", "--clipboard", "--input"], ["pbcopy"])


# The help screen's words for keys whose footer label is short (by binding id).
HELP_TEXT = {
    "step_back": "Earlier step", "step_forward": "Later step",
    "load_context": "Load context", "focus_input": "Back to the input box",
    "timeline": "Focus the timeline", "example": "Play an example run",
    "demo": "Live demo: find a number in 10,000 lines on your model",
    "replay_play": "Play the run at its recorded pace / stop",
}


def copy_with_tools(text: str) -> Optional[str]:
    """Give the text to the first system clipboard tool that takes it; its name, or None.
    Blocking: call it from a thread."""
    for tool in CLIPBOARD_TOOLS:
        if shutil.which(tool[0]):
            try:
                subprocess.run(tool, input=text.encode(), timeout=2, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                return tool[0]
            except (OSError, subprocess.SubprocessError):
                continue
    return None


def load_keymap() -> tuple[dict[str, str], Optional[str]]:
    """{binding id: keys} from keys.toml, and a one-line problem if the file is bad."""
    path = config_dir() / "keys.toml"
    if not path.exists():
        return {}, None
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            return {}, f"{path}: reading TOML needs Python 3.11 or the tomli package"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"{path} was not read: {exc}"
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        return {}, f"{path}: [keys] should map binding ids to keys"
    return {str(k): str(v) for k, v in keys.items()}, None


class RLMApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "rlm-tui"

    def __init__(self, session: Session, context: Optional[Path] = None,
                 first_screen=None, demo: bool = False) -> None:
        super().__init__()
        self.session = session
        self.initial_context = context
        self.first_screen = first_screen  # e.g. the benchmark, over the session screen
        self.demo = demo  # `rlm-tui demo`: start the live demo once the model is found
        self.keymap_problem: Optional[str] = None
        self.startup_problems: list[str] = []
        self._help: Optional[HelpScreen] = None

    def on_mount(self) -> None:
        from .screens.session import SessionScreen

        keymap, self.keymap_problem = load_keymap()
        if keymap:
            self.set_keymap(keymap)
        self.push_screen(SessionScreen(self.session, self.initial_context,
                                       probe=self.first_screen is None, demo=self.demo))
        if self.first_screen is not None:
            self.push_screen(self.first_screen)
        if self.keymap_problem:
            self.notify(self.keymap_problem, severity="warning", timeout=8)
        for problem in self.startup_problems:  # e.g. a bad value in config.toml
            self.notify(problem, severity="warning", timeout=10)

    async def on_unmount(self) -> None:
        await self.session.close()

    def notify(self, message: str, *, title: str = "", severity="information",
               timeout: Optional[float] = None, markup: bool = False) -> None:
        """Notifications carry file names, errors and model output: never parse them as
        markup (a stray '[' would break the toast)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)
        from .screens.run_view import RunView

        try:
            screen = self.screen
        except Exception:  # noqa: BLE001 - no screen yet (starting up)
            return
        if isinstance(screen, RunView):  # said on the status line, not in a toast over a pane
            screen.flash(message, severity, timeout)

    def _refresh_notifications(self) -> None:
        """No toasts over the session and replay screens: notifications are said on their
        status line (see notify); other screens (modals, the benchmark) keep toasts."""
        from .screens.run_view import RunView

        try:
            if isinstance(self.screen, RunView):
                return
        except Exception:  # noqa: BLE001 - no screen yet
            pass
        super()._refresh_notifications()

    # -- copy ------------------------------------------------------------------------------
    def copy_text_out(self, what: str, text: str) -> None:
        """OSC 52 now; the system tool and clipboard.txt in a thread (a tool can take up to
        2 s), then the notice saying where the text went."""
        self.copy_to_clipboard(text)

        def work() -> None:
            via = copy_with_tools(text) or "clipboard"
            try:
                saved = data_dir() / "clipboard.txt"
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(text, encoding="utf-8")
            except OSError:
                pass
            self.call_from_thread(self.notify,
                                  f"copied {what} ({len(text):,} characters) to the {via}")

        self.run_worker(work, thread=True, group="clipboard", exit_on_error=False)

    # -- help and palette ------------------------------------------------------------------
    def show_help(self, screen=None) -> None:
        """The help screen for the keys of `screen` (the one F1 was pressed on), built once per
        set of keys and kept installed: F1 during a flood then costs one frame, not a compose
        and mount (benchmarks/tmux_keys.py)."""
        if any(isinstance(s, HelpScreen) for s in self.screen_stack):
            return  # already open (e.g. asked again from the palette over it)
        bindings = self.bindings_in_force(screen)
        if self._help is None or self._help.bindings_in_force != bindings:
            old, self._help = self._help, HelpScreen(bindings)
            if old is not None:  # not on the stack (see above): safe to let go
                self.uninstall_screen(old)
                old.remove()
            self.install_screen(self._help, "help")
        self.push_screen(self._help)

    def bindings_in_force(self, screen=None) -> list[tuple[str, str]]:
        """The app's and `screen`'s keys (default: the session screen's) as bound now
        (keys.toml included); a focused widget's own editing keys are left out."""
        screen = screen or self._session_screen() or self.screen
        seen = set()
        for node in (self, screen):
            bindings_map = node._bindings.copy()
            if self._keymap:  # as Textual's own binding chain does
                bindings_map.apply_keymap(self._keymap)
            for bindings in bindings_map.key_to_bindings.values():
                for b in bindings:
                    if b.description:
                        seen.add((self.get_key_display(b), HELP_TEXT.get(b.id or "",
                                                                         b.description)))
        extra = getattr(screen, "HELP_EXTRA", [])  # keys no binding describes
        return sorted(seen, key=lambda kv: (kv[1].lower(), kv[0])) + list(extra)

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        session_screen = self._session_screen()
        if session_screen is None:
            return
        yield SystemCommand("Load context…", "Pick a file or directory as `context`",
                            session_screen.action_load_context)
        yield SystemCommand("Save trajectory…", "Copy the last run's trajectory to this directory",
                            session_screen.action_save_trajectory)
        yield SystemCommand("New session (/clear)", "Fresh REPL and history; the context stays",
                            session_screen.clear_session)
        for value in ("on", "off", "auto"):
            yield SystemCommand(f"Thinking: {value}", f"/think {value}",
                                lambda v=value: session_screen.run_command("think", v))
        from .screens.run_view import RunView

        yield SystemCommand("Keys and commands", "The help screen (F1)",
                            lambda: self.show_help(screen if isinstance(screen, RunView)
                                                   else session_screen))
        yield SystemCommand("Open an example run", "A recorded run shipped with rlm-tui, "
                            "played back (F2)", session_screen.action_example)
        yield SystemCommand("Live demo: find a number in 10,000 lines",
                            "Generates a haystack, loads it, asks your model for the hidden "
                            "number and says whether it found it (F3)",
                            session_screen.action_demo)
        yield SystemCommand("Switch model…", "The backend's models, filtered as you type "
                            "(/model)", session_screen.action_pick_model)
        yield SystemCommand("Switch recursive model…", "The model llm_query() calls "
                            "(/recursive-model)",
                            lambda: session_screen.action_pick_model("recursive-model"))
        yield SystemCommand("History…", "Past runs and benchmarks (Enter opens one)",
                            self.open_history)
        if hasattr(screen, "action_fork"):
            yield SystemCommand("Fork here…", "Rebuild this run up to the step you look at, "
                                "then go on live, maybe with another model (Ctrl+F)",
                                screen.action_fork)
        yield SystemCommand("Open benchmark", "This session's model as an RLM vs called "
                            "directly, by context length (add models there; s starts)",
                            self.open_benchmark)
        yield SystemCommand("Reopen last benchmark", "The newest saved benchmark results",
                            self.reopen_benchmark)

    def open_history(self) -> None:
        from .screens.history import HistoryScreen

        self.push_screen(HistoryScreen())

    def open_benchmark(self) -> None:
        from .bench_cli import session_runner
        from .screens.bench import BenchScreen

        self.push_screen(BenchScreen(session_runner(self.session.settings), autostart=False))

    def reopen_benchmark(self) -> None:
        from rlm_engine.bench import load_results

        from .screens.bench import BenchScreen

        saved = saved_benchmarks()
        if not saved:
            self.notify("no saved benchmark yet", severity="warning")
            return
        load_then(self, lambda: load_results(saved[-1]),
                  lambda results: self.push_screen(BenchScreen(results=results)),
                  what=saved[-1].name)

    def _session_screen(self):
        from .screens.session import SessionScreen

        for s in reversed(self.screen_stack):
            if isinstance(s, SessionScreen):
                return s
        return None


def main(args: argparse.Namespace) -> int:
    context = None
    try:
        if args.context:
            context = check_context_path(args.context)
        session = Session.create(settings_from_args(args))
    except RLMError as exc:
        print(f"rlm-tui: {exc}", file=sys.stderr)
        return 2
    app = RLMApp(session, context, demo=getattr(args, "command", None) == "demo")
    app.startup_problems = list(getattr(args, "config_problems", ()))
    app.run()
    return 0
