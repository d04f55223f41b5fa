"""Checking a context file before it is handed to the REPL worker (which reads it itself).

Kinds: a directory, ``.json``, ``.jsonl``/``.ndjson``, ``.csv``, or any other file as UTF-8 text.
A file with NUL bytes in its first 8 KiB is taken to be binary and refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError
from .repl.session import ContextSource


class ContextError(ConfigError):
    """A context file that cannot be used; the message says why in one line."""


def check_context_path(path: "str | os.PathLike[str]") -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ContextError(f"no such file: {p}")
    if p.is_dir():
        if not os.access(p, os.R_OK | os.X_OK):
            raise ContextError(f"cannot read directory {p}: permission denied")
        return p
    if not p.is_file():
        raise ContextError(f"{p} is not a regular file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(8192)
    except PermissionError:
        raise ContextError(f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise ContextError(f"cannot read {p}: {exc.strerror or exc}") from None
    if b"\0" in head:
        raise ContextError(f"{p.name} looks binary (it has NUL bytes): load a text, JSON, "
                           f"JSONL or CSV file, or a directory")
    return p


def context_source(context: object) -> ContextSource:
    """What to load: a `Path` is a file or directory to read in the worker; anything else
    (a str, dict, list, ...) is the data itself."""
    if isinstance(context, ContextSource):
        return context
    if isinstance(context, Path):
        p = check_context_path(context)
        return ContextSource(path=str(p.resolve()), name=p.name)
    return ContextSource(value=context)
