"""Keeping a block's output within bounds: what the model is shown, and what streams live.

`OutputCapture` keeps the head and the tail of everything a block printed (memory stays
bounded for a 100 MB print) and renders them with a note saying how much was cut between.
"""

from __future__ import annotations

from collections import deque


class OutputCapture:
    def __init__(self, limit: int = 20_000) -> None:
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
