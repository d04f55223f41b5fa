"""Recorded runs: replay (ours and the official rlms logs), play, history, export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fake_llm_server import Reply
from app_helpers import make_app, notifications, run_to_end, until
from rlm_engine.export import to_markdown
from rlm_engine.replay import RecordedRun
from rlm_tui.screens.history import HistoryScreen
from rlm_tui.screens.replay import ReplayScreen
from rlm_tui.widgets.conversation import AssistantMessage, FinalAnswerView
from rlm_tui.widgets.repl_view import BlockView, ChildRunView
from rlm_tui.widgets.timeline import Timeline
from rlm_tui.widgets.usage import UsagePanel
from rlm_tui.widgets.variables import VariablesTable

RLMS_LOG = Path(__file__).parent / "data" / "rlm_2026-01-31_11-05-04_1a2b3c4d.jsonl"
RLM_TUI = str(Path(sys.executable).with_name("rlm-tui"))

THREE_STEPS = [
    Reply(text="```repl\na = 1\nprint('one')\n```\n", prompt_tokens=10, completion_tokens=5),
    Reply(text="```repl\nb = a + 1\nprint('two', b)\n```\n```repl\nc = llm_query('x')\n```\n",
          prompt_tokens=20, completion_tokens=7),
    Reply(text="FINAL(done: 2)", prompt_tokens=30, completion_tokens=3),
]


async def snapshot(pilot, screen) -> list:
    """What each pane shows at every step of the timeline."""
    out = []
    for step in list(screen.query_one(Timeline).steps):
        screen.query_one(Timeline).select(step)
        await until(pilot, lambda step=step: screen.selected == (
            None if step == screen.query_one(Timeline).steps[-1] else step))
        await pilot.pause()
        usage = screen.query_one(UsagePanel).table
        cols = [[str(c) for c in col._cells] for col in usage.columns]
        out.append({
            "step": step,
            "vars": [(v.name, v.preview) for v in screen.query_one(VariablesTable).vars],
            "messages": [m.text for m in screen.query(AssistantMessage) if m.display],
            "blocks": [(b.step, b.index, b.output) for b in screen.query(BlockView) if b.display],
            "usage": cols[:4],
        })
    screen.query_one(Timeline).select(None)
    await pilot.pause()
    return out


async def open_replay(pilot, app, path) -> ReplayScreen:
    """Show a recorded run in the replay screen, once it is drawn to its answer."""
    app.push_screen(ReplayScreen(RecordedRun.load(path)))
    await until(pilot, lambda: isinstance(app.screen, ReplayScreen)
                and bool(app.screen.query(FinalAnswerView)))
    return app.screen


async def test_a_saved_run_replays_to_the_same_state_at_every_iteration(ollama):
    ollama.fake.script("root", list(THREE_STEPS))
    ollama.fake.script("sub", [Reply(text="sub says hi", prompt_tokens=3, completion_tokens=2)])
    app = make_app(recursive="sub")
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        live = await snapshot(pilot, app.screen)
        path = app.session.current.trajectory_path
        replayed = await snapshot(pilot, await open_replay(pilot, app, path))
    assert [s["step"] for s in live] == [(0, 1), (0, 2), (0, 3)]
    assert replayed == live
    assert live[0]["vars"] == [("context", "None"), ("a", "1")] and live[1]["usage"][0][-1] == "sub (recursive)"


async def test_an_rlms_log_opens_steps_and_shows_the_child_run_as_a_tree():
    app = make_app(model="nothing-needed")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_replay(pilot, app, RLMS_LOG)
        assert screen.query_one(Timeline).steps == [(0, 1), (0, 2), (0, 3)]
        assert screen.query_one(FinalAnswerView).answer == "Paris has the most orders: 412."
        screen.query_one(Timeline).select((0, 2))
        await pilot.pause()
        names = [v.name for v in screen.query_one(VariablesTable).vars]
        assert names == ["chunks", "first", "check"]
        child = screen.query_one(ChildRunView)
        lines = [str(w.render()) for w in child.query(".child-line")]
        assert any("↳ gpt-5-nano: Paris" in line for line in lines)
        assert lines[-1] == "answer: Paris, with 412 orders"
        assert "depth 1" in child.border_title


async def test_help_on_the_replay_screen_shows_the_replay_keys():
    from rlm_tui.screens.modals import HelpScreen
    app = make_app(model="nothing-needed")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        session_help = app.screen
        assert ("esc", "Cancel run") in session_help.bindings_in_force
        await pilot.press("escape")
        await open_replay(pilot, app, RLMS_LOG)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = app.screen.bindings_in_force
        assert ("p", "Play the run at its recorded pace / stop") in keys
        assert ("esc", "Cancel run") not in keys
        replay_help = app.screen
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("f1")  # the same keys again: the same (installed) help screen
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen is replay_help and app.screen is not session_help


def palette_help(app):
    """Run the palette's "Keys and commands" as the palette would over the current screen."""
    command = next(c for c in app.get_system_commands(app.screen)
                   if c.title == "Keys and commands")
    command.callback()


async def test_help_from_the_palette_shows_the_keys_of_the_screen_below_and_opens_once():
    from rlm_tui.screens.modals import HelpScreen
    app = make_app(model="nothing-needed")
    async with app.run_test(size=(160, 48)) as pilot:
        await open_replay(pilot, app, RLMS_LOG)
        palette_help(app)
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = app.screen.bindings_in_force
        assert ("p", "Play the run at its recorded pace / stop") in keys
        assert not any(k == "esc" and "cancel" in d for k, d in keys)  # Esc closes a replay
        # asked again over the open help (whose keys differ from the session's): the app
        # stays up (it used to uninstall the help on the stack and exit) and help is open once
        palette_help(app)
        await pilot.pause()
        assert app.is_running
        assert sum(isinstance(s, HelpScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))


async def test_an_earlier_step_is_shown_from_the_top_of_each_pane():
    """The live view's anchor pinned content shorter than a pane to its bottom (Textual
    scrolls it to a negative offset); looking back, it starts at the top."""
    example = Path(__file__).parent.parent / "rlm_tui" / "examples" / "example-1-log-errors.jsonl"
    app = make_app(model="nothing-needed")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_replay(pilot, app, example)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await until(pilot, lambda: screen.selected == (0, 1))
        await pilot.pause()
        for pane in (screen.conversation, screen.repl):
            assert pane.scroll_y == 0
            first = next(c for c in pane.children if c.display)
            assert first.region.y - pane.region.y <= 2  # the border and a margin above it


async def test_the_replay_status_line_keeps_its_hints_after_a_window_move(ollama):
    """Drawing steps again (a window move, a redraw) does not replace the status line with
    the run's own end status: the replay's hints stay."""
    n = 20
    replies = [Reply(text=f"Step {i}.\n```repl\nprint('step', {i})\n```\n") for i in range(1, n)]
    ollama.fake.script("root", replies + [Reply(text="FINAL(end)")])
    app = make_app(max_iterations=n + 1)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_to_end(pilot, "q")
        screen = await open_replay(pilot, app, app.session.current.trajectory_path)
        assert screen.status_text.startswith("replay (read-only)")
        timeline = screen.query_one(Timeline)
        for step in ((0, 3), None):  # back past the window's edge (a jump), then End
            timeline.select(step)
            await until(pilot, lambda step=step: screen.selected == step)
            await pilot.pause()
            assert screen.status_text.startswith("replay (read-only)"), step


async def test_a_truncated_trajectory_opens_with_a_warning(ollama, tmp_path):
    ollama.fake.script("root", list(THREE_STEPS))
    ollama.fake.script("sub", ["ok"])
    app = make_app(recursive="sub")
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        full = Path(app.session.current.trajectory_path).read_text()
        cut = tmp_path / "cut.jsonl"
        cut.write_text(full[: int(len(full) * 0.6)])
        app.push_screen(ReplayScreen(RecordedRun.load(cut)))
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await until(pilot, lambda: any("ends before the run finished" in n
                                       for n in notifications(app)))
        assert app.screen.query(AssistantMessage)


async def test_play_streams_the_run_again(ollama):
    ollama.fake.script("root", list(THREE_STEPS))
    ollama.fake.script("sub", ["ok"])
    app = make_app(recursive="sub")
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        path = app.session.current.trajectory_path
        screen = await open_replay(pilot, app, path)
        before = set(map(id, screen.query(AssistantMessage)))
        await pilot.press("p")
        await until(pilot, lambda: not screen.playing and bool(screen.query(FinalAnswerView)))
        assert not before & set(map(id, screen.query(AssistantMessage)))  # drawn anew
        assert screen.query_one(FinalAnswerView).answer == "done: 2"
        assert len(screen.query(AssistantMessage)) == 3


def test_export_markdown_holds_every_block_and_output():
    md = to_markdown(RecordedRun.load(RLMS_LOG))
    assert md.count("```python") == 2
    assert "print(type(context), len(context))" in md and "<class 'str'> 48210" in md
    assert "Paris, with 412 orders" in md and "## Answer\n\nParis has the most orders: 412." in md


def test_export_and_replay_commands(tmp_path):
    out = tmp_path / "r.md"
    p = subprocess.run([RLM_TUI, "export", str(RLMS_LOG), "--format", "md", "-o", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert out.read_text().startswith("# rlm-tui run: Which city has the most orders?")
    p = subprocess.run([RLM_TUI, "export", str(RLMS_LOG), "--format", "json"],
                       capture_output=True, text=True, timeout=60)
    import json
    data = json.loads(p.stdout)
    assert data["answer"] == "Paris has the most orders: 412." and data["iterations"] == 3
    p = subprocess.run([RLM_TUI, "replay", str(tmp_path / "missing.jsonl")],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "no such file" in p.stderr


async def test_history_lists_runs_and_benchmarks_and_opens_one(ollama):
    ollama.fake.script("root", ["FINAL(first answer)", Reply(text="")])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "the first question")
        await run_to_end(pilot, "a question that fails")
        from rlm_engine.bench import BenchResults
        BenchResults("niah", 100, 1, 7, 1).save()
        app.push_screen(HistoryScreen())
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                    and bool(app.screen.entries))
        screen = app.screen
        kinds = [e.kind for e in screen.shown]
        assert sorted(kinds) == ["bench", "run", "run"]
        outcomes = {e.prompt: e.outcome for e in screen.shown}
        assert outcomes["the first question"] == "first answer"
        assert outcomes["a question that fails"].startswith("failed: root returned an empty")
        await pilot.press(*"first")
        await until(pilot, lambda: len(screen.shown) == 1)
        screen.query_one("#history-table").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await until(pilot, lambda: bool(app.screen.query(FinalAnswerView)))
        assert app.screen.query_one(FinalAnswerView).answer == "first answer"


async def test_with_no_backend_the_app_offers_an_example_run(monkeypatch):
    from conftest import free_port
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(160, 48)) as pilot:
        # said where it stays: the status line and the welcome card (no toast over a pane)
        await until(pilot, lambda: "cannot reach Ollama" in app.screen.status_text)
        assert "F2 an example run" in app.screen.status_text
        from rlm_tui.widgets.welcome import Welcome
        card = app.screen.query_one(Welcome)
        assert "cannot reach Ollama" in card.state and "F2" in str(card.facts().columns[1]._cells)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        screen = app.screen
        await until(pilot, lambda: not screen.playing and bool(screen.query(FinalAnswerView)))
        assert screen.recorded.prompt.startswith("[example run]")
        assert "api" in screen.query_one(FinalAnswerView).answer
        assert [b.error for b in screen.query(BlockView)] == [None, None]


def test_examples_are_labelled_and_replay_cleanly():
    examples = sorted((Path(__file__).parent.parent / "rlm_tui" / "examples").glob("*.jsonl"))
    assert len(examples) == 2
    for path in examples:
        run = RecordedRun.load(path)
        assert run.warnings == [] and run.state.status == "completed"
        assert run.prompt.startswith("[example run]") and run.model == "example-root"


async def test_a_long_recorded_run_draws_a_window_and_steps_out_of_it(ollama):
    steps = [Reply(text=f"```repl\nv{i} = {i}\nprint('step', {i})\n```\n") for i in range(1, 30)]
    ollama.fake.script("root", steps + [Reply(text="FINAL(end)")])
    app = make_app(max_iterations=31)
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "long")
        path = app.session.current.trajectory_path
        screen = await open_replay(pilot, app, path)
        drawn = sorted({m.iteration for m in screen.query(AssistantMessage)})
        assert drawn == list(range(19, 31))  # the last twelve
        assert len(screen.query_one(Timeline).steps) == 30
        screen.query_one(Timeline).select((0, 2))
        await until(pilot, lambda: screen.selected == (0, 2))
        # the window around step 2 is drawn in slices: wait for it, not for one frame
        await until(pilot, lambda: [m.iteration for m in screen.query(AssistantMessage)
                                    if m.display] == [1, 2])
        assert [v.name for v in screen.query_one(VariablesTable).vars] == [
            "context", "v1", "v2"]
        assert [b.output for b in screen.query(BlockView) if b.step == (0, 2)] == ["step 2\n"]
