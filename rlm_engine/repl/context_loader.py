"""Loading `context` inside the REPL worker (files are read there, so the app never holds a
second copy), and describing it for the root model's prompt.

Imported by worker.py as a sibling module (the worker runs as a script, so its directory is
on sys.path); standard library only, like the worker.
"""

from __future__ import annotations

import csv
import json
import mmap
import os
import reprlib
import stat
from typing import Any


def load_path(path: str, limit: int = 0) -> tuple[Any, str, str]:
    """Text as str; .json as its value; .jsonl as a list of records; .csv as a list of dicts
    (one per row, keyed by the header); a directory as {relative path: text}.

    In a directory only regular files are read: FIFOs, devices, sockets and links that lead
    nowhere (or out of the sandbox) are skipped, never opened, so nothing can block the load;
    the third item of the result is a one-line note naming them ("" if none). Past `limit`
    bytes of files (the memory cap), the load stops with a MemoryError that says so."""
    if os.path.isdir(path):
        out, skipped, total = {}, [], 0
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                if f.startswith("."):
                    continue
                full = os.path.join(root, f)
                rel = os.path.relpath(full, path)
                try:
                    st = os.stat(full)
                except OSError:
                    skipped.append(rel)
                    continue
                if not stat.S_ISREG(st.st_mode):
                    skipped.append(rel)
                    continue
                total += st.st_size
                if limit and total > limit:
                    raise MemoryError(f"the directory holds over {limit >> 20} MB of files, "
                                      f"more than the memory cap: raise --memory-mb")
                # O_NONBLOCK: a file swapped for a FIFO after the check still cannot block
                try:
                    fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK)
                except OSError:
                    skipped.append(rel)
                    continue
                with open(fd, "rb") as fh:
                    if not stat.S_ISREG(os.fstat(fd).st_mode):
                        skipped.append(rel)
                        continue
                    data = fh.read()
                if b"\0" in data[:8192]:
                    continue
                out[rel] = data.decode("utf-8", "replace")
        note = ""
        if skipped:
            note = (f"skipped {len(skipped)} special or unreadable file(s): "
                    f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
        return out, "directory", note
    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
        raise ValueError(f"{os.path.basename(path)} is not a regular file")
    lower = path.lower()
    if lower.endswith(".json"):
        with open(path, "rb") as fh:
            return json.load(fh), "json", ""
    if lower.endswith((".jsonl", ".ndjson")):
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [json.loads(line) for line in fh if line.strip()], "jsonl", ""
    if lower.endswith(".csv"):
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            return list(csv.DictReader(fh)), "csv", ""
    return read_text(path), "text", ""


def read_text(path: str) -> str:
    """A file's text: UTF-8 with undecodable bytes replaced, newlines left as they are.

    Decoded straight from a read-only memory map of the file, so there is no second 1 GiB
    buffer to fill first: a big file loads about twice as fast as with ``read()``. Files that
    cannot be mapped (empty ones, pipes, some special files) are read. A file truncated by
    another program while it is being decoded kills the worker (SIGBUS); the session then
    restarts it, as after any crash."""
    with open(path, "rb") as fh:
        try:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return str(mm, "utf-8", "replace")
        except (ValueError, OSError):
            return fh.read().decode("utf-8", "replace")


def context_info(value: Any, name: str, kind: str, note: str = "") -> dict:
    info = {"type": type(value).__name__, "chars": 0, "lines": 0, "items": None,
            "preview": "", "name": name, "kind": kind, "note": note}
    if isinstance(value, str):
        info["chars"] = len(value)
        info["lines"] = value.count("\n") + (1 if value and not value.endswith("\n") else 0)
        info["preview"] = value[:300]
    elif value is not None:
        try:
            info["items"] = len(value)
        except TypeError:
            pass
        if isinstance(value, dict):
            info["chars"] = sum(len(v) for v in value.values() if isinstance(v, str))
        r = reprlib.Repr()
        r.maxstring, r.maxother = 120, 120
        info["preview"] = r.repr(value)[:300]
    return info


# ---------------------------------------------------------------------------------------
