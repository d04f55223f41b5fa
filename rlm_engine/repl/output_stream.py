"""The REPL worker's stdout and stderr: what model code prints goes to the engine in chunks
while the code runs (on a newline after 20 ms, at 64 KB, and every 50 ms from a flusher
thread), so a loop that prints every second shows each line as it comes.

A sibling module of worker.py; standard library only.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any, Iterable


class OutStream(io.TextIOBase):
    FLUSH_BYTES = 1 << 16
    FLUSH_SECONDS = 0.02

    def __init__(self, chan: Any, name: str) -> None:  # chan: worker.Channel
        self.chan = chan
        self._name = name
        self.parts: list[str] = []
        self.size = 0
        self.last = 0.0
        self.block_lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"<{self._name}>"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if not s:
            return 0
        with self.block_lock:
            self.parts.append(s)
            self.size += len(s)
            due = self.size >= self.FLUSH_BYTES or (
                "\n" in s and time.monotonic() - self.last >= self.FLUSH_SECONDS)
        if due:
            self.flush()
        return len(s)

    def flush(self) -> None:
        with self.block_lock:
            if not self.parts:
                return
            data = "".join(self.parts)
            self.parts, self.size = [], 0
            self.last = time.monotonic()
        for i in range(0, len(data), self.FLUSH_BYTES):
            self.chan.send({"op": "out", "stream": self._name, "data": data[i:i + self.FLUSH_BYTES]})


def flusher(streams: Iterable[OutStream]) -> None:
    while True:
        time.sleep(0.05)
        for s in streams:
            try:
                s.flush()
            except Exception:
                pass
