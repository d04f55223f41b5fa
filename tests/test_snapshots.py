"""SVG snapshots of the main screens (regenerate with `pytest --snapshot-update` and look at
them: tests/__snapshots__/). A finished run shows durations and tokens/s that differ from run
to run, so that state is checked by the Pilot tests instead."""

from __future__ import annotations

import pytest

from app_helpers import make_app, until
from rlm_tui.screens.modals import HelpScreen


@pytest.fixture
def ready_app(ollama, monkeypatch):
    monkeypatch.setenv("RLM_TUI_CONFIG_DIR", "/nonexistent-config")
    ollama.fake.script("qwen3:4b", ["FINAL(x)"])
    return make_app(model="qwen3:4b")


async def _ready(pilot):
    await until(pilot, lambda: pilot.app.screen.status_text.startswith("ready"))


@pytest.mark.parametrize("size", [(160, 48), (100, 30)])
def test_session_screen(snap_compare, ready_app, size):
    assert snap_compare(ready_app, terminal_size=size, run_before=_ready)


def test_help_screen(snap_compare, ready_app):
    async def open_help(pilot):
        await _ready(pilot)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    assert snap_compare(ready_app, terminal_size=(160, 48), run_before=open_help)
