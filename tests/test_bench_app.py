"""The benchmark screen (Pilot) and the headless `rlm-tui bench --no-tui`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app_helpers import until
from bench_models import right, wrong
from rlm_engine.bench import BenchRunner, select_models
from rlm_tui.app import RLMApp
from rlm_tui.screens.bench import BenchScreen
from rlm_tui.screens.replay import ReplayScreen
from rlm_tui.session import Session, Settings
from rlm_tui.widgets.conversation import FinalAnswerView

RLM_TUI = str(Path(sys.executable).with_name("rlm-tui"))


def cell(screen, model: str, column: str) -> str:
    return str(screen.query_one("#bench-table").get_cell(model, column))


async def test_table_fills_in_while_running_then_matches_the_saved_json(ollama):
    ollama.fake.script("right", right(delay=0.15))
    ollama.fake.script("wrong", wrong(delay=0.15))
    models = select_models(no_local=True, no_cloud_auto=True,
                           ollama=["right", "wrong", "http://127.0.0.1:9/gone"])
    runner = BenchRunner(models, lines=300, trials=2, seed=3, parallel=1)
    screen = BenchScreen(runner)
    app = RLMApp(Session.create(Settings(model="right")), first_screen=screen)
    async with app.run_test(size=(160, 40)) as pilot:
        # intermediate: the first row has finished trials while the second has none
        await until(pilot, lambda: cell(screen, "right", "trials") == "1/2")
        assert cell(screen, "wrong", "trials") == "0/2"
        assert "running" in cell(screen, "right", "status")
        assert cell(screen, "wrong", "status") == "waiting"
        await until(pilot, lambda: cell(screen, "right", "trials") == "2/2"
                    and cell(screen, "wrong", "trials") == "1/2")
        assert cell(screen, "right", "accuracy") == "100%"
        assert cell(screen, "wrong", "accuracy") == "0%"
        await until(pilot, lambda: not screen.running)
        assert cell(screen, "http://127.0.0.1:9/gone", "status").startswith(
            "failed: cannot reach Ollama")
        saved = json.loads(runner.results.path.read_text())
        for m in saved["models"]:
            shown = "—" if m["accuracy"] is None else f"{m['accuracy']:.0%}"
            assert cell(screen, m["spec"], "accuracy") == shown
            assert cell(screen, m["spec"], "trials") == f"{m['done']}/{m['total']}"
        # the best accuracy is highlighted
        table = screen.query_one("#bench-table")
        assert "bold" in str(table.get_cell("right", "accuracy").style)
        # a trial opens in the step-through view
        screen.query_one("#bench-trials").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        replay = app.screen
        await until(pilot, lambda: bool(replay.query(FinalAnswerView)))
        answer = replay.query_one(FinalAnswerView).answer
        assert answer == runner.results.rows[0].trials[0].expected
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)


async def test_escape_stops_a_run_and_keeps_what_finished(ollama):
    ollama.fake.script("wrong", wrong(delay=0.3))
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["wrong"]),
                         lines=200, trials=6, seed=1)
    screen = BenchScreen(runner)
    app = RLMApp(Session.create(Settings(model="wrong")), first_screen=screen)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: runner.results.rows[0].done >= 1)
        await pilot.press("escape")
        await until(pilot, lambda: not screen.running)
        row = runner.results.rows[0]
        assert 1 <= row.done < 6 and row.status == "stopped"
        saved = json.loads(runner.results.path.read_text())
        assert saved["stopped"] is True and saved["models"][0]["done"] == row.done


def test_headless_report(ollama, tmp_path):
    ollama.fake.script("right", right())
    ollama.fake.script("wrong", wrong())
    out = tmp_path / "res.json"
    p = subprocess.run(
        [RLM_TUI, "bench", "--no-tui", "--no-local", "--no-cloud-auto", "--ollama", "right",
         "wrong", "--trials", "2", "--lines", "300", "--seed", "9", "--out", str(out)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "OLLAMA_HOST": ollama.fake.url})
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stdout.splitlines() if "│" in line]
    assert any("right" in line and "100%" in line and "2/2" in line for line in lines)
    assert any("wrong" in line and "0%" in line for line in lines)
    assert "seed 9" in p.stdout
    assert "[4/4]" in p.stderr and "wrong trial 2: wrong" in p.stderr
    data = json.loads(out.read_text())
    assert [m["accuracy"] for m in data["models"]] == [1.0, 0.0] and data["seed"] == 9
