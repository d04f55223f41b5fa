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


def test_file_picker(snap_compare, ready_app, monkeypatch):
    import shutil
    import tempfile
    from pathlib import Path

    from rlm_tui.screens.file_picker import FilePicker

    root = Path(tempfile.gettempdir()) / "rlm-tui-snapshot-picker"  # a fixed path: it is shown
    shutil.rmtree(root, ignore_errors=True)
    (root / "chapters").mkdir(parents=True)
    (root / "notes.txt").write_text("n" * 1500)
    (root / "records.jsonl").write_text('{"a": 1}\n' * 300)
    (root / "table.csv").write_text("x,y\n1,2\n")
    monkeypatch.chdir(root)

    async def open_picker(pilot):
        await _ready(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(pilot.app.screen, FilePicker))
        tree = pilot.app.screen.query_one("#picker-tree")
        await until(pilot, lambda: len(tree.root.children) == 4)

    assert snap_compare(ready_app, terminal_size=(120, 36), run_before=open_picker)
