"""Closing a screen that can also be the whole app.

`rlm-tui replay FILE`, `rlm-tui history` and `rlm-tui bench` open one screen on its own:
closing it there ends the app. Opened from the session screen, it goes back there.
"""

from __future__ import annotations

from textual.screen import Screen


def close_or_exit(screen: Screen, exit_app: bool) -> None:
    if exit_app:
        screen.app.exit()
    else:
        screen.app.pop_screen()
