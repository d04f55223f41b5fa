"""The question box, with a history kept on disk: every question sent is appended to
``<data dir>/history.txt`` at once (so nothing typed and sent is lost if the app dies), and
Up/Down walk back through it."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding
from textual.widgets import Input

from rlm_engine.trajectory import data_dir

KEEP = 1000


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
        return [line.replace("\\n", "\n") for line in lines[-KEEP:] if line.strip()]

    def remember(self, text: str) -> None:
        if not self.history or self.history[-1] != text:
            self.history.append(text)
            try:
                path = history_path()
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(text.replace("\n", "\\n") + "\n")
            except OSError:
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
