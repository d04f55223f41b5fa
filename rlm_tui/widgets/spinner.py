"""The one spinner: a braille frame for "still working", by tick or by the clock."""

from __future__ import annotations

import time

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def spinner(tick: int) -> str:
    return FRAMES[tick % len(FRAMES)]


def spinner_now(fps: float = 10.0) -> str:
    """The frame for this moment (for views redrawn at their own pace)."""
    return spinner(int(time.monotonic() * fps))
