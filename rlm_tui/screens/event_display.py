"""Helpers of the step-through view (run_view.py) for showing engine events that need no
screen of their own: batching streamed deltas that arrived together, the timeline step an
event belongs to, the fork note's wording, and telling a cancelled display from a
cancellation inside it. Kept apart so the screen holds state and drawing, not these rules.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Optional

from rlm_engine import events as ev

from ..widgets.conversation import Notice
from ..window import Step


def stopping() -> bool:
    """Whether the running task itself is being cancelled (Python 3.11+ can tell; before
    that every cancellation counts as one)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return task is None or cancelling is None or cancelling() > 0


def coalesce(batch: list[ev.Event]) -> list[ev.Event]:
    """Streamed deltas that arrived together become one (one update per frame, not one
    per chunk: a reply streamed in 64-byte chunks is hundreds of thousands of them)."""
    out: list[ev.Event] = []
    parts: list[str] = []
    for e in batch:
        last = out[-1] if out else None
        if isinstance(e, (ev.TokenDelta, ev.ThinkingDelta)) and type(last) is type(e) \
                and last.run_id == e.run_id and last.iteration == e.iteration:  # type: ignore[union-attr]
            if not parts:
                parts.append(last.text)  # type: ignore[union-attr]
            parts.append(e.text)
            continue
        if parts:
            out[-1] = dataclasses.replace(out[-1], text="".join(parts))  # type: ignore[arg-type]
            parts = []
        out.append(e)
    if parts:
        out[-1] = dataclasses.replace(out[-1], text="".join(parts))  # type: ignore[arg-type]
    return out


def fork_notice(e: "ev.ForkRestored | ev.ForkDiverged") -> Notice:
    """The note in the conversation where a fork's rebuilt steps end, or where its rebuild
    diverged from the recording."""
    if isinstance(e, ev.ForkDiverged):
        from rlm_engine.fork import where

        return Notice(f"the rebuild diverged {where(e.iteration, e.index)}: {e.what}"
                      + (f"\n{e.diff}" if e.diff else ""), "cancel")
    return Notice(f"── forked here: iterations 1–{e.iteration} were rebuilt from the recording "
                  f"({e.blocks} block(s) re-run, {e.served_calls} sub-call(s) served); what "
                  f"follows is new ──" if e.iteration else
                  "── forked: started again from the question; what follows is new ──", "fork")


def step_of(run, r: int, e: ev.Event) -> Optional[Step]:
    """The timeline step an event of the root run `r` belongs to (None: no one step)."""
    if e.depth:
        return None
    if isinstance(e, ev.RunStarted):
        return (r, 0)
    if isinstance(e, (ev.RunFailed, ev.RunCancelled)):
        return (r, len(run.state.iterations))
    it = getattr(e, "iteration", None)
    return None if it is None else (r, it)
