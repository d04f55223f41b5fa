"""Every screen handles its own errors: whatever a file, a worker or a key does, the app
stays up, the session stays, and the user gets one line saying what happened."""

from __future__ import annotations

import os
import signal

from fake_llm_server import Reply
from app_helpers import ask, make_app, notifications, run_to_end, until
from conftest import free_port
from rlm_tui.screens.replay import ReplayScreen
from rlm_tui.screens.session import SessionScreen
from rlm_tui.widgets.conversation import AssistantMessage


async def test_esc_during_a_replays_playback_closes_it_and_the_app_stays(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(160, 48)) as pilot:
        session_screen = app.screen
        for _ in range(3):
            session_screen._example = -1  # F2 plays the first (longer) example each time
            await pilot.press("f2")
            await until(pilot, lambda: isinstance(app.screen, ReplayScreen)
                        and app.screen.playing and bool(app.screen.query(AssistantMessage)))
            # mid-play: the example takes about 2 s at its 2x pace
            players = [w for w in app.workers if w.group == "play"]
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, SessionScreen))
            await until(pilot, lambda players=players: all(w.is_finished for w in players))
            await pilot.pause()
            assert app.is_running and app._exception is None


async def _kill_idle_worker(pilot, app) -> None:
    """Start the session's worker, then kill it while nothing runs."""
    repl = app.session.repl
    await repl.start()
    pid = repl.pid
    os.kill(pid, signal.SIGKILL)
    await until(pilot, lambda: repl._proc is None or repl._proc.returncode is not None)


async def test_context_and_clear_after_the_idle_worker_died(ollama, tmp_path):
    ollama.fake.script("root", ["FINAL(still here)"])
    doc = tmp_path / "doc.txt"
    doc.write_text("alpha\n")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await _kill_idle_worker(pilot, app)
        before = len(notifications(app))
        await ask(pilot, f"/context {doc}")
        await until(pilot, lambda: len(notifications(app)) > before)
        await until(pilot, lambda: not [w for w in app.workers if w.group == "context"
                                        and not w.is_finished])
        assert app.is_running and app._exception is None
        await _kill_idle_worker(pilot, app)
        await ask(pilot, "/clear")
        await until(pilot, lambda: any(n == "new session" for n in notifications(app)))
        assert app.is_running and app._exception is None
        await run_to_end(pilot, "q")
        assert app.session.current.result.answer == "still here"


async def test_a_data_directory_that_cannot_be_written_leaves_the_run_and_says_so(
        ollama, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    monkeypatch.setenv("RLM_TUI_DATA_DIR", str(blocker))
    ollama.fake.script("root", ["FINAL(answered anyway)"])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        assert app.session.current.result.answer == "answered anyway"
        assert any("trajectory could not be written" in n for n in notifications(app))
        assert app.is_running and app._exception is None


async def test_damaged_files_open_from_the_history_with_a_warning(tmp_path):
    from rlm_engine.trajectory import data_dir
    from rlm_tui.screens.history import HistoryScreen
    from test_hostile_files import EXAMPLE, damaged

    folder = data_dir() / "trajectories"
    folder.mkdir(parents=True)
    for name, field, value, kinds in [("a-huge-index", "index", 10 ** 9, {"code_output"}),
                                      ("b-text-iteration", "iteration", "abc",
                                       {"code_block_started", "feedback_sent"})]:
        damaged(tmp_path, field, value, kinds).rename(folder / f"{name}.jsonl")
    (folder / "c-gone.jsonl").write_bytes(EXAMPLE.read_bytes())
    app = make_app(model="nothing-needed")
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(HistoryScreen())
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                    and len(app.screen.shown) == 3)
        history = app.screen
        for entry in history.shown:
            if entry.path.name == "c-gone.jsonl":
                entry.path.unlink()  # removed between the listing and the opening
            before = len(notifications(app))
            history.open(entry)
            await until(pilot, lambda before=before: len(notifications(app)) > before)
            said = notifications(app)[before:]
            if entry.path.name == "c-gone.jsonl":
                assert any(n.startswith("cannot open c-gone.jsonl") for n in said)
                assert app.screen is history
                continue
            assert isinstance(app.screen, ReplayScreen)
            assert any("skipped" in n for n in said), said
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is history)
        assert app.is_running and app._exception is None


async def test_a_damaged_benchmark_from_the_history_is_one_line():
    import json

    from rlm_engine.bench import BenchResults, load_results
    from rlm_engine.bench.models import BenchModel
    from rlm_engine.bench.results import ModelRow, TrialResult
    from rlm_tui.screens.history import HistoryScreen

    results = BenchResults("niah", [100], 1, 7, 1)
    results.rows.append(ModelRow(BenchModel("m", "m", "ollama"), trials=[TrialResult(
        1, status="completed", correct=True, answer="1", expected="1", seconds=1.5,
        iterations=2)], status="done"))
    path = results.save()
    assert load_results(path).rows[0].mean_time == 1.5  # sound: read back whole
    data = json.loads(path.read_text())
    data["models"][0]["trials"][0]["seconds"] = "a while"  # its mean crashed the screen
    path.write_text(json.dumps(data))
    app = make_app(model="nothing-needed")
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(HistoryScreen())
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                    and bool(app.screen.shown))
        history = app.screen
        before = len(notifications(app))
        history.open(history.shown[0])
        await until(pilot, lambda: len(notifications(app)) > before)
        said = notifications(app)[-1]
        assert "is damaged: 'models[0].trials[0].seconds' is the text 'a while'" in said
        assert app.screen is history and app.is_running and app._exception is None


async def test_a_bad_config_value_is_shown_in_the_app_too(tmp_path, monkeypatch):
    """Warnings on stderr are hidden behind the full screen: the app repeats them."""
    from rlm_tui import limits
    from rlm_tui.cli_args import build_parser, resolve_model_args

    monkeypatch.setenv("RLM_TUI_CONFIG_DIR", str(tmp_path))
    (tmp_path / "config.toml").write_text("[run]\nmemory_mb = 12\nmax_depth = 2\n")
    problems: list[str] = []
    config = limits.load_config(problems.append)
    args = resolve_model_args(build_parser().parse_args([]), config)
    assert args.max_depth == 2 and args.memory_mb is None
    app = make_app(model="nothing-needed")
    app.startup_problems = problems
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: any("[run] memory_mb takes a whole number of megabytes"
                                       in n for n in notifications(app)))


async def test_damaged_runs_draw_and_play_in_the_replay_screen(tmp_path):
    """What the checks let through (a run with holes) is drawn and played to its end."""
    from rlm_engine.replay import RecordedRun
    from rlm_tui.screens.replay import SPEEDS
    from test_hostile_files import EXAMPLES, damaged

    source = EXAMPLES / "example-1-log-errors.jsonl"
    files = [damaged(tmp_path, field, value, kinds, source) for field, value, kinds in [
        ("index", 10 ** 9, {"code_block_started", "subcall_started"}),
        ("iteration", "abc", {"iteration_started", "feedback_sent"}),
        ("t", "soon", {"run_finished", "final_answer", "reply_finished"})]]
    app = make_app(model="nothing-needed")
    async with app.run_test(size=(160, 48)) as pilot:
        for path in files:
            screen = ReplayScreen(RecordedRun.load(path))
            screen.speed_index = SPEEDS.index(0)  # instant
            app.push_screen(screen)
            await until(pilot, lambda s=screen: "replay (read-only)" in s.status_text)
            await pilot.press("p")  # play it again, instantly
            await until(pilot, lambda s=screen: not s.playing
                        and "replay (read-only)" in s.status_text)
            await pilot.press("escape")
            await until(pilot, lambda s=screen: app.screen is not s)
        assert app.is_running and app._exception is None


async def test_the_apps_worker_has_the_run_limits(ollama):
    """The session's one worker is made with the limits (the runs use it, not their own)."""
    ollama.fake.script("root", [Reply(text="```repl\nimport time\ntime.sleep(30)\n```\n"),
                                Reply(text="FINAL(stopped in time)")])
    app = make_app(block_timeout=1.5, memory_mb=1024, max_depth=2)
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.session.repl.memory_mb == 1024 and app.session.settings.max_depth == 2
        await run_to_end(pilot, "q")
        result = app.session.current.result
        assert result.answer == "stopped in time"
        error = result.iteration_log[0].blocks[0].error
        assert error.startswith("TimeoutError: the block ran longer than 1.5 s")
        await ask(pilot, "/clear")
        await until(pilot, lambda: any(n == "new session" for n in notifications(app)))
        assert app.session.repl.block_timeout == 1.5
