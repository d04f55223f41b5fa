"""File and process I/O off the event loop: a thread worker does the blocking part, the
result comes back to the app's thread, and a failure is a one-line notice.

Reading a long trajectory, scanning the history or waiting on a clipboard tool would
otherwise freeze every key and repaint while it runs.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from textual.dom import DOMNode

T = TypeVar("T")

def load_then(node: DOMNode, load: Callable[[], T], then: Callable[[T], object], *,
              what: str, fail: str = "cannot open") -> None:
    """Run `load()` in a thread, then `then(value)` on the app's thread; when `load` fails,
    whatever it raises, notify "cannot open WHAT: reason" instead (a damaged file is one
    line, never the app's end)."""
    app = node.app

    def work() -> None:
        try:
            value = load()
        except Exception as exc:  # noqa: BLE001 - reported as one line
            reason = exc.strerror or exc if isinstance(exc, OSError) else exc
            app.call_from_thread(app.notify, f"{fail} {what}: {reason}", severity="error")
            return
        app.call_from_thread(then, value)

    node.run_worker(work, thread=True, group="load", exit_on_error=False)
