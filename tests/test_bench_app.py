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


def cell(screen, row: str, column: str) -> str:
    return str(screen.query_one("#bench-table").get_cell(row, column))


async def test_table_fills_in_while_running_then_matches_the_saved_json(ollama):
    ollama.fake.script("right", right(delay=0.15))
    ollama.fake.script("wrong", wrong(delay=0.15))
    models = select_models(no_local=True, no_cloud_auto=True,
                           ollama=["right", "wrong", "http://127.0.0.1:9/gone"])
    runner = BenchRunner(models, lines=300, trials=2, seed=3, parallel=1)
    screen = BenchScreen(runner)
    app = RLMApp(Session.create(Settings(model="right")), first_screen=screen)
    async with app.run_test(size=(160, 40)) as pilot:
        # intermediate: trial 1 of every row runs before any trial 2
        await until(pilot, lambda: cell(screen, "right · rlm", "trials") == "1/2")
        assert cell(screen, "wrong · rlm", "trials") == "0/2"
        assert "running" in cell(screen, "right · rlm", "status")
        await until(pilot, lambda: cell(screen, "right · rlm", "trials") == "2/2"
                    and cell(screen, "wrong · rlm", "trials") == "2/2")
        assert cell(screen, "right · rlm", "accuracy") == "100%"
        assert cell(screen, "wrong · rlm", "accuracy") == "0%"
        await until(pilot, lambda: not screen.running)
        gone = "http://127.0.0.1:9/gone · rlm"
        assert cell(screen, gone, "status").startswith("failed: cannot reach Ollama")
        assert cell(screen, gone, "errors") == "1"  # the failure counts where it happened
        eta = str(screen.query_one("#bench-eta").render())
        assert "done · 6/6 trials · 2 right · 2 skipped" in eta
        saved = json.loads(runner.results.path.read_text())
        for m in saved["models"]:
            key = f"{m['spec']} · {m['mode']}"
            shown = "—" if m["accuracy"] is None else f"{m['accuracy']:.0%}"
            assert cell(screen, key, "accuracy") == shown
            assert cell(screen, key, "trials") == f"{m['done']}/{m['total']}"
        # the best accuracy is highlighted
        table = screen.query_one("#bench-table")
        assert "bold" in str(table.get_cell("right · rlm", "accuracy").style)
        # no "start" offered once it ran, and Esc now closes rather than stops
        shown = [b.binding.id for b in app.active_bindings.values() if b.enabled]
        assert "bench_start" not in shown and "bench_stop" not in shown
        assert "bench_close" in shown
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


async def test_chart_grows_a_line_per_model_and_mode_as_trials_finish(ollama):
    from rlm_tui.bench_view import series
    ollama.fake.script("right", right(delay=0.1))
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["right"]),
                         lines=[100, 3000], trials=1, seed=2, modes=("rlm", "direct"),
                         num_ctx=2000)
    screen = BenchScreen(runner)
    app = RLMApp(Session.create(Settings(model="right")), first_screen=screen)
    async with app.run_test(size=(160, 48)) as pilot:
        chart = screen.query_one("#bench-chart")
        await until(pilot, lambda: chart.drawn is not None and any(
            acc is not None for _key, accs in chart.drawn[:-1] for acc in accs))
        first = series(runner.results)
        assert any(len(xs) == 1 for _label, xs, _ys in first)
        await until(pilot, lambda: not screen.running)
        lines = series(runner.results)
        assert [label for label, _x, _y in lines] == ["right · rlm", "right · direct"]
        assert all(xs == [0, 1] for _label, xs, _y in lines)
        assert lines[0][2] == [100.0, 100.0]
        # what the chart drew is what the results say
        assert chart.drawn[0][1] == (1.0, 1.0)
        legend = str(screen.query_one("#bench-legend").render())
        assert "• rlm x direct right" in legend


async def test_palette_benchmark_starts_from_the_session_models_and_can_change_them(ollama):
    ollama.fake.script("right", right())
    ollama.fake.script("wrong", wrong())
    app = RLMApp(Session.create(Settings(model="right")))
    async with app.run_test(size=(160, 48)) as pilot:
        app.open_benchmark()
        await until(pilot, lambda: isinstance(app.screen, BenchScreen))
        screen = app.screen
        # the session's model, not the stale "model · context" title of the session screen
        await until(pilot, lambda: screen.title == "rlm-tui benchmark")
        assert [r.key for r in screen.results.rows] == ["right · rlm", "right · direct"]
        await pilot.press("a")
        await pilot.press(*"wrong", "enter")
        await until(pilot, lambda: len(screen.results.rows) == 4)
        assert cell(screen, "wrong · direct", "status") == "waiting"
        await pilot.press("l")
        box = screen.query_one("#bench-lengths")
        box.value = "200"
        await pilot.press("enter")
        await until(pilot, lambda: screen.results.lengths == [200])
        await pilot.press("m")  # rlm and direct -> rlm only
        await until(pilot, lambda: screen.results.modes == ("rlm",))
        table = screen.query_one("#bench-table")
        table.move_cursor(row=0)
        await pilot.press("delete")  # removes "right"
        await until(pilot, lambda: [r.key for r in screen.results.rows] == ["wrong · rlm"])
        await pilot.press("s")
        await until(pilot, lambda: screen.runner.started)
        assert not screen.query_one("#bench-setup").display
        await until(pilot, lambda: not screen.running)
        row = screen.results.rows[0]
        assert row.done == 3 and row.accuracy == 0.0 and row.trials[0].lines == 200
        assert "bench_start" not in [b.binding.id for b in app.active_bindings.values()
                                     if b.enabled]


async def test_every_model_failing_says_failed_not_done(ollama):
    from conftest import free_port
    gone = f"http://127.0.0.1:{free_port()}/gone"
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=[gone]),
                         lines=100, trials=3, seed=1, modes=("rlm", "direct"))
    screen = BenchScreen(runner)
    app = RLMApp(Session.create(Settings(model="x")), first_screen=screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: not screen.running and runner.started)
        eta = str(screen.query_one("#bench-eta").render())
        assert eta.startswith("failed · 6/6 trials · 0 right · 6 skipped"), eta
        for mode in ("rlm", "direct"):
            assert cell(screen, f"{gone} · {mode}", "errors") == "1"
            assert cell(screen, f"{gone} · {mode}", "status").startswith("failed: cannot reach")


async def test_a_narrow_screen_drops_columns_but_keeps_the_status(ollama):
    ollama.fake.script("right", right())
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["right"]),
                         lines=100, trials=1, seed=1, modes=("rlm", "direct"))
    screen = BenchScreen(runner)
    app = RLMApp(Session.create(Settings(model="right")), first_screen=screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: not screen.running and runner.started)
        narrow = list(screen.columns)
        assert "status" in narrow and "accuracy" in narrow and "provider" not in narrow
        assert cell(screen, "right · rlm", "status") == "done"
        await pilot.resize_terminal(200, 48)
        await until(pilot, lambda: "provider" in screen.columns)
        assert cell(screen, "right · rlm", "status") == "done"


async def test_escape_stops_a_run_and_keeps_what_finished(ollama):
    ollama.fake.script("wrong", wrong(delay=0.3))
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["wrong"]),
                         lines=200, trials=6, seed=1)
    screen = BenchScreen(runner)
    app = RLMApp(Session.create(Settings(model="wrong")), first_screen=screen)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: runner.results.rows[0].done >= 1)
        shown = [b.binding.id for b in app.active_bindings.values() if b.enabled]
        assert "bench_stop" in shown and "bench_close" not in shown
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
    assert any("right" in line and "rlm" in line and "100%" in line and "2/2" in line
               for line in lines)
    assert any("wrong" in line and "0%" in line for line in lines)
    assert "seed 9" in p.stdout and "8/8 trials · 4 right" in p.stdout
    assert "[8/8]" in p.stderr and "wrong direct 300 lines trial 2: wrong" in p.stderr
    data = json.loads(out.read_text())
    assert [(m["mode"], m["accuracy"]) for m in data["models"]][:2] == [("rlm", 1.0),
                                                                       ("direct", 1.0)]
    assert data["seed"] == 9


def test_headless_report_by_length_with_its_chart_and_cut(ollama, tmp_path):
    ollama.fake.script("right", right())
    out = tmp_path / "res.csv"
    p = subprocess.run(
        [RLM_TUI, "bench", "--no-tui", "--no-local", "--no-cloud-auto", "--ollama", "right",
         "--trials", "1", "--lines", "100,3000", "--num-ctx", "2000", "--seed", "3",
         "--max-timeout", "60", "--block-timeout", "30", "--out", str(out)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "OLLAMA_HOST": ollama.fake.url, "COLUMNS": "120"})
    assert p.returncode == 0, p.stderr
    assert "accuracy by context length" in p.stdout
    assert "accuracy (%) against context length" in p.stdout
    assert "• right · rlm   x right · direct" in p.stdout  # the chart's legend
    assert "right (direct): cut to the first" in p.stdout and "of 3,000 lines" in p.stdout
    assert "right: local, " in p.stdout and "s in all (rlm " in p.stdout
    rows = out.read_text().splitlines()
    assert len(rows) == 1 + 4 and {r.split(",")[4:6][0] for r in rows[1:]} == {"rlm", "direct"}


def test_bench_flags_are_checked_when_parsed(tmp_path):
    for flags, message in ((["--lines", "abc"], "'abc' is not a number of lines"),
                           (["--lines", "5"], "choose 10 to 10,000,000"),
                           (["--max-timeout", "0"], "takes a number of seconds above 0"),
                           (["--memory-mb", "-5"], "takes a whole number of megabytes"),
                           (["--mode", "sideways"], "invalid choice")):
        p = subprocess.run([RLM_TUI, "bench", "--no-tui", *flags], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 2 and message in p.stderr, (flags, p.stderr)
        assert "Traceback" not in p.stderr
