"""The figures the screens show are right: elapsed stops at the run's end, the forced
final-answer turn is labelled as such, a cancelled block keeps the time it ran, a run whose
events stop early replays as interrupted, and counts have their plural."""

from __future__ import annotations

import json
from pathlib import Path

from fake_llm_server import Reply
from app_helpers import ask, make_app, run_to_end, settle, until
from rlm_engine.replay import RecordedRun
from rlm_tui.figures import iteration_label, plural
from rlm_tui.screens.replay import ReplayScreen
from rlm_tui.widgets.conversation import AssistantMessage, Notice
from rlm_tui.widgets.repl_view import BlockView


def test_plurals_and_iteration_labels():
    assert plural(1, "iteration") == "1 iteration"
    assert plural(2, "iteration") == "2 iterations"
    assert plural(0, "iteration") == "0 iterations"
    assert iteration_label(3, 15) == "iteration 3 of 15"
    assert iteration_label(4, 3) == "final-answer turn (after 3 iterations)"


async def test_elapsed_stops_and_a_one_iteration_run_says_so(ollama):
    ollama.fake.script("root", [Reply(text="FINAL(quick)")])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        run = app.session.current
        assert run.elapsed == run.state.total_time > 0
        await pilot.pause(0.05)
        assert run.elapsed == run.state.total_time  # stopped, not counting on
        assert "completed · 1 iteration ·" in app.screen.status_text


async def test_the_forced_final_turn_is_labelled_not_n_plus_one_of_n(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nx = 1\n```\n"),
                                Reply(text="FINAL(forced out)")])
    app = make_app(max_iterations=1)
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        titles = [str(m.border_title) for m in app.screen.query(AssistantMessage)]
        assert titles[0].endswith("iteration 1") and titles[1].endswith("final-answer turn")
        from test_app import usage_text
        text = usage_text(app)
        assert "final-answer turn (after 1 iteration)" in text and "2 of 1" not in text


async def test_a_cancelled_block_keeps_the_time_it_ran(ollama):
    # the block says it started on stdout (sandboxed model code cannot write the test's files)
    ollama.fake.script("root", [Reply(text="```repl\nimport time\nprint('started')\n"
                                           "while True:\n    time.sleep(0.01)\n```\n")])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ask(pilot, "q")
        screen = app.screen
        await until(pilot, lambda: any(b.state == "running" and "started" in b.output
                                       for b in screen.query(BlockView)))
        await pilot.press("escape")
        await until(pilot, lambda: app.session.current.done)
        await settle(pilot)
        record = app.session.current.state.iterations[0].blocks[0]
        assert record.error == "cancelled" and record.duration > 0
        block = screen.query_one(BlockView)
        assert block.state == "done" and block.duration == record.duration


async def test_a_run_cut_off_mid_block_replays_as_interrupted(ollama, tmp_path):
    ollama.fake.script("root", [Reply(text="```repl\nprint('hi')\n```\n"),
                                Reply(text="FINAL(done)")])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        lines = Path(app.session.current.trajectory_path).read_text().splitlines()
        upto = next(i for i, line in enumerate(lines)
                    if json.loads(line)["type"] == "code_output")
        cut = tmp_path / "killed.jsonl"
        cut.write_text("\n".join(lines[: upto + 1]) + "\n")
        run = RecordedRun.load(cut)
        assert run.state.status == "interrupted"
        block = run.state.iterations[0].blocks[0]
        assert block.done and block.error == "interrupted"
        assert block.duration == run.state.last_t - block.started_t
        app.push_screen(ReplayScreen(run))
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen)
                    and bool(app.screen.query(BlockView)))
        screen = app.screen
        await until(pilot, lambda: "interrupted" in screen.status_text)
        view = screen.query_one(BlockView)
        assert view.state == "done" and view.error == "interrupted"
        assert any("interrupted" in n.text for n in screen.query(Notice))
