"""Driving the real app in tests."""

from __future__ import annotations

import time

from rlm_tui.app import RLMApp
from rlm_tui.session import Session, Settings


def make_app(model="root", recursive=None, context=None, **settings) -> RLMApp:
    return RLMApp(Session.create(Settings(model=model, recursive_model=recursive, **settings)),
                  context)


async def until(pilot, condition, timeout: float = 60.0) -> None:
    """Let the app run until `condition()` holds (fails the test after `timeout`: a guard
    against a hang, not a time limit; it is long because the cores are shared)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.02)


async def ask(pilot, text: str) -> None:
    prompt = pilot.app.screen.query_one("#prompt")
    prompt.focus()
    prompt.value = text
    await pilot.press("enter")


async def settle(pilot) -> None:
    """Wait for the run's display worker (not all workers: a DirectoryTree's loader never
    ends)."""
    app = pilot.app
    await app.workers.wait_for_complete([w for w in app.workers if w.group == "run"])
    await pilot.pause()


async def run_to_end(pilot, text: str) -> None:
    await ask(pilot, text)
    await until(pilot, lambda: pilot.app.session.current is not None
                and pilot.app.session.current.done)
    await settle(pilot)


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]
