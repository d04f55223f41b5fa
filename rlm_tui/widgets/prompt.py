"""The question box, with a history kept on disk: every question sent is appended to
``<data dir>/history.txt`` at once (so nothing typed and sent is lost if the app dies), and
Up/Down walk back through it.

The file holds one question a line, escaped so that any text round-trips: a backslash is
written as ``\\\\`` and a newline as ``\\n`` (so a literal backslash-n typed comes back as
typed, not as a newline). Lines written by older versions (newlines as ``\\n``, backslashes
as they were) read back as before, except a literal ``\\n``, which was ambiguous there.

While the box is empty, ``[`` and ``]`` are not typed: they step through iterations (the
screen's step keys), as everywhere else on the screen. Once there is text they type.
"""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.binding import Binding
from textual.widgets import Input

from rlm_engine.trajectory import data_dir

KEEP = 1000
STEP_KEYS = {"[": -1, "]": 1}


def escape_line(text: str) -> str:
    """One history line for `text` (the inverse of `unescape_line`)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def unescape_line(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            nxt = line[i + 1]
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(nxt, ch + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def history_path() -> Path:
    return data_dir() / "history.txt"


class PromptInput(Input):
    BINDINGS = [
        Binding("up", "history(-1)", "Earlier question", show=False),
        Binding("down", "history(1)", "Later question", show=False),
    ]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.history: list[str] = self._load()
        self._pos = len(self.history)
        self._draft = ""

    @staticmethod
    def _load() -> list[str]:
        try:
            lines = history_path().read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        return [unescape_line(line) for line in lines[-KEEP:] if line.strip()]

    def remember(self, text: str) -> None:
        if not self.history or self.history[-1] != text:
            self.history.append(text)
            try:
                path = history_path()
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(escape_line(text) + "\n")
            except (OSError, UnicodeError):  # unwritable, or not encodable: kept in memory
                pass
        self._pos = len(self.history)
        self._draft = ""

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        if self._pos == len(self.history):
            self._draft = self.value
        self._pos = max(0, min(len(self.history), self._pos + delta))
        self.value = self._draft if self._pos == len(self.history) else self.history[self._pos]
        self.cursor_position = len(self.value)

    # -- [ and ] step while the box is empty ------------------------------------------------
    def check_consume_key(self, key: str, character: str | None) -> bool:
        if character in STEP_KEYS and not self.value:
            return False  # the screen's step binding takes it (and the footer shows it)
        return super().check_consume_key(key, character)

    def watch_value(self, old: str, new: str) -> None:
        if bool(old) != bool(new) and self.is_mounted:
            self.screen.refresh_bindings()

    async def _on_key(self, event: events.Key) -> None:
        if event.character in STEP_KEYS and not self.value:
            event.stop()
            event.prevent_default()
            step = getattr(self.screen, "action_step", None)
            if step is not None:
                step(STEP_KEYS[event.character])
            return
        await super()._on_key(event)
