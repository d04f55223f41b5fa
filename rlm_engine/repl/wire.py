"""The engine's end of the worker's socket: the message framing of worker.py's docstring (a
line of JSON, then ``header["nbytes"]`` raw bytes), read into an inbox by one task, and
sent, awaited and matched here.

Apart from session.py so that how a message travels is in one place and the session only
says what to send and when. Model code can write to this socket too, so nothing read here
may grow the app without bound (see `Channel.read_messages`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, Callable, Optional

from ..errors import WorkerDied


def message_limit(memory_mb: int) -> int:
    """The biggest payload a worker may send: as big as its memory (a FINAL_VAR of a big
    value is one long line), never bigger; 2 GiB when its memory is not capped."""
    return min(1 << 31, max(64, memory_mb if memory_mb > 0 else 2048) << 20)


class Channel:
    """One worker's messages. `open` binds it to a new worker's socket (a fresh inbox);
    `on_send` is called before each message goes out (the session's "nothing asked yet"
    flag)."""

    def __init__(self, on_send: Callable[[], None]) -> None:
        self.on_send = on_send
        self.writer: Optional[asyncio.StreamWriter] = None
        self.inbox: asyncio.Queue = asyncio.Queue()

    async def open(self, sock: socket.socket, limit: int) -> asyncio.StreamReader:
        reader, self.writer = await asyncio.open_connection(sock=sock, limit=limit)
        self.inbox = asyncio.Queue()
        return reader

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def read_messages(self, reader: asyncio.StreamReader, limit: int,
                            dropping: Callable[[], bool]) -> None:
        """Messages from the worker, into the inbox. Model code can write to this socket too,
        so nothing it sends may grow the app without bound: a payload over the message limit
        ends the reading (the worker is then treated as dead and restarted), and output that
        arrives while no block is running (`dropping()`: from a thread model code left
        behind) is dropped, as it would be anyway, instead of piling up until the next
        request."""
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                header = json.loads(line)
                if not isinstance(header, dict):
                    break
                n = int(header.get("nbytes", 0))
                if not 0 <= n <= limit:
                    break
                payload = await reader.readexactly(n) if n else b""
                if header.get("op") == "out" and dropping():
                    continue
                self.inbox.put_nowait((header, payload))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, TypeError):
            pass  # a broken or forged stream: the worker is treated as dead
        self.inbox.put_nowait(({"op": "_eof"}, b""))

    async def next(self, timeout: Optional[float] = None) -> dict:
        """The next message's header; a payload, if any, rides along as header["payload"]."""
        header, payload = await asyncio.wait_for(self.inbox.get(), timeout)
        if header.get("op") == "_eof":
            raise WorkerDied()
        if payload:
            header["payload"] = payload
        return header

    async def reply(self, *ops: str, timeout: Optional[float] = None, **match: Any) -> dict:
        """The next reply of one of `ops` (matching `match`); anything else is a leftover of
        an earlier request that was given up on, and is dropped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            header = await self.next(left)
            if header.get("op") in ops and all(header.get(k) == v for k, v in match.items()):
                return header

    async def send(self, header: dict, payload: bytes = b"") -> None:
        if self.writer is None:
            raise WorkerDied()
        self.on_send()
        if payload:
            header = {**header, "nbytes": len(payload)}
        try:
            self.writer.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
            if payload:
                self.writer.write(payload)
            await self.writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise WorkerDied() from exc

    async def send_text(self, header: dict, text: str) -> None:
        """`header` with `text` as its payload, without building a second full copy of the
        text when it is ASCII (it goes in slices)."""
        if not text.isascii():
            await self.send(header, text.encode("utf-8", "surrogatepass"))
            return
        await self.send({**header, "nbytes": len(text)})
        step = 1 << 24
        assert self.writer is not None
        for i in range(0, len(text), step):
            self.writer.write(text[i:i + step].encode("ascii"))
            await self.writer.drain()
