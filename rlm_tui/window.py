"""Which timeline steps have widgets: the window rules of the step-through view
(screens/run_view.py) in one place, as plain functions over the timeline's steps, so they
can be tested without an app. No Textual here (an import contract in pyproject.toml says so).

A step is `(run_index, iteration)`; the timeline lists them in order, iterations from 1.
A window is `(lo, hi)`: the steps from `lo` to `hi`, `hi` None meaning "to the newest" (the
view follows new steps). A window that starts at a run's first step starts at that run's
question, `(r, 0)`, so the question is drawn with it.
"""

from __future__ import annotations

from typing import Optional

WINDOW = 12  # timeline steps that have widgets at once
SHIFT_ROOM = 3  # steps drawn beyond the one stepped to, when stepping past the window's edge

Step = tuple[int, int]
Window = tuple[Step, Optional[Step]]


def in_window(lo: Step, hi: Optional[Step], step: Step) -> bool:
    """Whether the window lo..hi holds `step`."""
    return lo <= step and (hi is None or step <= hi)


def window_holds(lo: Step, hi: Optional[Step], step: Optional[Step]) -> bool:
    """Whether the window lo..hi holds `step` (None: the newest, held only by a window
    open to the newest)."""
    if step is None:
        return hi is None
    return in_window(lo, hi, step)


def window_of(steps: list[Step], lo: int, hi: int) -> Window:
    """The window of timeline steps lo..hi (indexes): from the question of lo's run when
    lo is that run's first step, to the newest (None) when hi is the last."""
    first = lo == 0 or steps[lo - 1][0] != steps[lo][0]
    return ((steps[lo][0], 0) if first else steps[lo],
            None if hi == len(steps) - 1 else steps[hi])


def window_around(steps: list[Step], step: Optional[Step]) -> Window:
    """The window that holds `step` (None, or a step not in `steps`: the newest) with room
    on both sides: the whole timeline when it has at most WINDOW steps."""
    if len(steps) <= WINDOW:
        return (0, 0), None
    here = len(steps) - 1 if step is None or step not in steps else steps.index(step)
    hi = min(len(steps) - 1, max(here + WINDOW // 2, WINDOW - 1))
    return window_of(steps, hi - WINDOW + 1, hi)


def window_shifted(steps: list[Step], step: Optional[Step], lo: Step,
                   hi: Optional[Step]) -> Optional[Window]:
    """The window lo..hi moved just far enough to hold `step` (None: the newest) and
    SHIFT_ROOM steps beyond it, or None when that window would not overlap lo..hi (a jump),
    when `step` is not in `steps`, or when the timeline fits one window."""
    if len(steps) <= WINDOW or (step is not None and step not in steps):
        return None
    here = len(steps) - 1 if step is None else steps.index(step)
    drawn = [i for i, s in enumerate(steps) if in_window(lo, hi, s)]
    if not drawn:
        return None
    if here < drawn[0]:
        new_lo = max(0, here - SHIFT_ROOM)
        new_hi = min(len(steps) - 1, new_lo + WINDOW - 1)
    else:
        new_hi = min(len(steps) - 1, here + SHIFT_ROOM)
        new_lo = max(0, new_hi - WINDOW + 1)
    if new_hi < drawn[0] or new_lo > drawn[-1]:
        return None
    return window_of(steps, new_lo, new_hi)


def window_slid(steps: list[Step], lo: Step, step: Step, following: bool) -> Optional[Window]:
    """The window open to the newest (from `lo`) once `step` starts, or None when it still
    fits WINDOW steps. Full, it drops its oldest step when `following` the newest; else (an
    earlier step is being looked at) it stops growing: it ends at the step before `step`."""
    drawn = [s for s in steps if s >= lo]
    if step not in steps:
        drawn.append(step)
    if len(drawn) <= WINDOW:
        return None
    if not following:
        return lo, drawn[-2]
    return drawn[-WINDOW], None
