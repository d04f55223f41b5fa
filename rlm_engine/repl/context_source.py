"""Where the REPL's `context` comes from (`ContextSource`), and the engine's side of loading
it: the size checks and time limit a load gets, and the one request that sends it to the
worker (a path to read there, pickled bytes passed through, or a value).

Apart from session.py so that what a context is and how it travels are in one place; the
session keeps when a load needs a fresh worker and what to do when one fails.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import ReplError
from .wire import Channel


@dataclass(frozen=True)
class ContextSource:
    """Where `context` comes from: a file/directory path (loaded inside the worker), a value,
    or `pickled` bytes from another worker (passed through: the app never unpickles what
    model code produced)."""

    path: Optional[str] = None
    value: Any = None
    name: str = ""
    pickled: Optional[bytes] = None


def load_timeout(source: ContextSource) -> float:
    """Seconds a context load may take: 30 s, plus 1 s per 20 MB of file."""
    size = 0
    if source.path is not None:
        try:
            size = os.stat(source.path).st_size
        except OSError:
            pass
    elif source.pickled is not None:
        size = len(source.pickled)
    return round(30.0 + size / 20e6)


def check_size(path: str, memory_mb: int) -> None:
    """Refuse a file bigger than the worker's memory cap, before any worker tries it."""
    try:
        size = os.stat(path).st_size if not os.path.isdir(path) else 0
    except OSError:
        return  # the worker reports it
    if memory_mb > 0 and size > memory_mb * (1 << 20):
        raise ReplError(f"{os.path.basename(path)} is {size / (1 << 20):,.0f} MB, over the "
                        f"REPL's memory cap of {memory_mb} MB: raise it with "
                        f"--memory-mb")


async def load(chan: Channel, source: ContextSource) -> dict:
    """Have the worker behind `chan` load `source`; its description (type, size, preview).
    Raises ReplError when the worker could not load it."""
    if source.path is not None:
        header = {"op": "context", "kind": "path", "path": source.path, "name": source.name}
        await chan.send(header)
    elif source.pickled is not None:
        await chan.send({"op": "context", "kind": "pickle", "name": source.name},
                        source.pickled)
    elif isinstance(source.value, str):
        await chan.send_text({"op": "context", "kind": "text", "name": source.name},
                             source.value)
    elif source.value is None:
        await chan.send({"op": "context", "kind": "none", "name": source.name})
    else:
        payload = pickle.dumps(source.value, protocol=pickle.HIGHEST_PROTOCOL)
        await chan.send({"op": "context", "kind": "pickle", "name": source.name}, payload)
    reply = await chan.reply("context_ok", "context_error")
    if reply.get("op") != "context_ok":
        raise ReplError(f"could not load the context: {reply.get('error', reply)}")
    return reply["info"]
