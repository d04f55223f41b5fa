"""The history: past runs and benchmarks in the data directory, one line each.

A run's line is read from the head of its trajectory (run_started) and its tail (run_failed,
run_finished), never the whole file, so a long history lists fast.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .trajectory import data_dir

TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # run | bench
    path: Path
    when: float
    models: str
    prompt: str
    context: str
    iterations: Optional[int]
    tokens: Optional[int]
    outcome: str  # the answer, or what went wrong

    def matches(self, text: str) -> bool:
        text = text.lower()
        return not text or any(text in str(v).lower() for v in (
            self.kind, self.models, self.prompt, self.context, self.outcome, self.path.name))


def _lines_at(path: Path, head: bool) -> list[dict]:
    with open(path, "rb") as fh:
        if head:
            data = fh.read(64 * 1024)
        else:
            fh.seek(max(0, os.path.getsize(path) - TAIL_BYTES))
            data = fh.read()
    out = []
    for raw in data.splitlines():
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return out


def _run_entry(path: Path) -> Optional[HistoryEntry]:
    head = _lines_at(path, head=True)
    start = next((d for d in head if d.get("type") == "run_started" and not d.get("depth")),
                 None)
    if start is None:
        return None
    tail = _lines_at(path, head=False)
    root = start.get("run_id")
    finished = next((d for d in reversed(tail) if d.get("type") == "run_finished"
                     and d.get("run_id") == root), None)
    failed = next((d for d in reversed(tail) if d.get("type") == "run_failed"
                   and d.get("run_id") == root), None)
    ctx = start.get("context") or {}
    models = start.get("model", "?")
    if start.get("recursive_model") not in (None, models):
        models += f" → {start['recursive_model']}"
    if finished is None:
        outcome, iterations, tokens = "(did not finish: the app stopped mid-run)", None, None
    else:
        usage = finished.get("usage") or {}
        tokens = usage.get("total_prompt_tokens", 0) + usage.get("total_completion_tokens", 0)
        iterations = finished.get("iterations")
        if finished.get("status") == "completed":
            outcome = finished.get("answer", "")
        elif finished.get("status") == "cancelled":
            outcome = "cancelled"
        else:
            outcome = f"failed: {(failed or {}).get('error', '')}"
    return HistoryEntry("run", path, float(start.get("started_at") or path.stat().st_mtime),
                        models, start.get("prompt", ""), ctx.get("name") or ctx.get("kind", ""),
                        iterations, tokens, " ".join(str(outcome).split()))


def _bench_entry(path: Path) -> Optional[HistoryEntry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    models = data.get("models", [])
    scores = ", ".join(f"{m['model']} {m['accuracy']:.0%}" if m.get("accuracy") is not None
                       else f"{m['model']} —" for m in models)
    tokens = sum(m.get("tokens_in", 0) + m.get("tokens_out", 0) for m in models)
    return HistoryEntry("bench", path, float(data.get("started_at") or 0.0),
                        ", ".join(m["model"] for m in models),
                        f"benchmark {data.get('task')} · {data.get('lines', 0):,} lines · "
                        f"{data.get('trials')} trials · seed {data.get('seed')}", "",
                        None, tokens, scores + (" (stopped)" if data.get("stopped") else ""))


def list_history(directory: Optional[Path] = None) -> list[HistoryEntry]:
    """Newest first."""
    root = Path(directory or data_dir())
    entries: list[HistoryEntry] = []
    for path in (root / "trajectories").glob("*.jsonl"):
        try:
            entry = _run_entry(path)
        except OSError:
            entry = None
        if entry is not None:
            entries.append(entry)
    for path in (root / "benchmarks").glob("bench_*.json"):
        entry = _bench_entry(path)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda e: e.when, reverse=True)
