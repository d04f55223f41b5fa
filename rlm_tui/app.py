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
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Optional

import platformdirs
from textual.app import App, SystemCommand

from rlm_engine import RLMError, check_context_path
from rlm_engine.trajectory import data_dir, saved_benchmarks

from .session import Session, Settings

CLIPBOARD_TOOLS = (["wl-copy"], ["xclip", "-selection", "clipboard"],
                   ["xsel", "--clipboard", "--input"], ["pbcopy"])


def config_dir() -> Path:
    override = os.environ.get("RLM_TUI_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("rlm-tui"))


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
                 first_screen=None) -> None:
        super().__init__()
        self.session = session
        self.initial_context = context
        self.first_screen = first_screen  # e.g. the benchmark, over the session screen
        self.keymap_problem: Optional[str] = None

    def on_mount(self) -> None:
        from .screens.session import SessionScreen

        keymap, self.keymap_problem = load_keymap()
        if keymap:
            self.set_keymap(keymap)
        self.push_screen(SessionScreen(self.session, self.initial_context,
                                       probe=self.first_screen is None))
        if self.first_screen is not None:
            self.push_screen(self.first_screen)
        if self.keymap_problem:
            self.notify(self.keymap_problem, severity="warning", timeout=8)

    async def on_unmount(self) -> None:
        await self.session.close()

    def notify(self, message: str, *, title: str = "", severity="information",
               timeout: Optional[float] = None, markup: bool = False) -> None:
        """Notifications carry file names, errors and model output: never parse them as
        markup (a stray '[' would break the toast)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- copy ------------------------------------------------------------------------------
    def copy_text_out(self, what: str, text: str) -> None:
        self.copy_to_clipboard(text)
        via = "clipboard"
        for tool in CLIPBOARD_TOOLS:
            if shutil.which(tool[0]):
                try:
                    subprocess.run(tool, input=text.encode(), timeout=2, check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    via = tool[0]
                    break
                except (OSError, subprocess.SubprocessError):
                    continue
        try:
            saved = data_dir() / "clipboard.txt"
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(text, encoding="utf-8")
        except OSError:
            pass
        self.notify(f"copied {what} ({len(text):,} characters) to the {via}")

    # -- help and palette ------------------------------------------------------------------
    def bindings_in_force(self) -> list[tuple[str, str]]:
        """The app's and the screen's keys as bound now (keys.toml included); a focused
        widget's own editing keys are left out."""
        screen = self._session_screen() or self.screen
        seen = set()
        for node in (self, screen):
            bindings_map = node._bindings.copy()
            if self._keymap:  # as Textual's own binding chain does
                bindings_map.apply_keymap(self._keymap)
            for bindings in bindings_map.key_to_bindings.values():
                for b in bindings:
                    if b.description:
                        seen.add((self.get_key_display(b), b.description))
        extra = [("tab / shift+tab", "move focus between panes and items"),
                 ("← → / end", "in the timeline: step, back to live")]
        return sorted(seen, key=lambda kv: (kv[1].lower(), kv[0])) + extra

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
        yield SystemCommand("Keys and commands", "The help screen (F1)",
                            session_screen.action_help)
        yield SystemCommand("Open an example run", "A recorded run shipped with rlm-tui, "
                            "played back (F2)", session_screen.action_example)
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
        try:
            results = load_results(saved[-1])
        except (OSError, ValueError, KeyError) as exc:
            self.notify(f"cannot read {saved[-1].name}: {exc}", severity="error")
            return
        self.push_screen(BenchScreen(results=results))

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
        session = Session.create(Settings.from_args(args))
    except RLMError as exc:
        print(f"rlm-tui: {exc}", file=sys.stderr)
        return 2
    RLMApp(session, context).run()
    return 0
