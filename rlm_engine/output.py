"""Keeping a block's output within bounds: what the model is shown, and what streams live.

`OutputCapture` keeps the head and the tail of everything a block printed (memory stays
bounded for a 100 MB print) and renders them with a note saying how much was cut between.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import IO, Optional

from .config import RunConfig


class OutputCapture:
    def __init__(self, limit: int = RunConfig.max_output_chars) -> None:
        self.limit = max(200, limit)
        self.head_limit = self.limit // 2
        self.tail_limit = self.limit - self.head_limit
        self.head: list[str] = []
        self.head_size = 0
        self.tail: deque[str] = deque()
        self.tail_size = 0
        self.total = 0

    def add(self, text: str) -> None:
        self.total += len(text)
        if self.head_size < self.head_limit:
            take = text[: self.head_limit - self.head_size]
            self.head.append(take)
            self.head_size += len(take)
            text = text[len(take):]
            if not text:
                return
        self.tail.append(text)
        self.tail_size += len(text)
        while self.tail and self.tail_size - len(self.tail[0]) >= self.tail_limit:
            self.tail_size -= len(self.tail.popleft())

    @property
    def cut(self) -> int:
        return max(0, self.total - self.limit)

    def text(self) -> str:
        head = "".join(self.head)
        tail = "".join(self.tail)
        if self.total <= self.limit:
            return head + tail
        tail = tail[-self.tail_limit:]
        return (f"{head}\n[... {self.cut:,} characters cut: the output was {self.total:,} "
                f"characters; print slices or summaries to see what matters ...]\n{tail}")


class OutputSpool:
    """Keeps a block's whole output for the user, on disk once it is big.

    Up to `memory_limit` characters it stays in memory (and in the trajectory's events);
    past that it is written to `path`, up to `disk_limit` characters, with a note at the end
    if even that was exceeded.
    """

    def __init__(self, path: Path, memory_limit: int = 256 * 1024,
                 disk_limit: int = 256 * 1024 * 1024) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self.disk_limit = disk_limit
        self.parts: list[str] = []
        self.size = 0
        self.written = 0
        self.dropped = 0
        self._file: Optional[IO[str]] = None

    def add(self, text: str) -> None:
        self.size += len(text)
        if self._file is None:
            self.parts.append(text)
            if self.size <= self.memory_limit:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8", errors="replace")
            text, self.parts = "".join(self.parts), []
        room = self.disk_limit - self.written
        if room > 0:
            self._file.write(text[:room])
            self.written += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))

    def close(self) -> Optional[str]:
        """The file's path when the output went to disk, else None."""
        if self._file is None:
            return None
        if self.dropped:
            self._file.write(f"\n[rlm-tui: {self.dropped:,} more characters not kept]\n")
        self._file.close()
        self._file = None
        return str(self.path)
