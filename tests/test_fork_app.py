"""The fork action in the app: from the timeline of the live session and from a replay, the
dialog, the fork running live with its inherited steps dimmed, and forks under their parent
in the history."""

from __future__ import annotations

from contextlib import asynccontextmanager

from app_helpers import make_app, notifications, run_to_end, settle, until
from fake_llm_server import Reply
from rlm_engine.history import list_history
from rlm_engine.replay import RecordedRun
from rlm_tui.screens.fork_dialog import ForkDialog
from rlm_tui.screens.history import HistoryScreen
from rlm_tui.screens.replay import ReplayScreen
from rlm_tui.screens.session import SessionScreen
from rlm_tui.widgets.conversation import Notice
from rlm_tui.widgets.timeline import Timeline

STEPS = [
    Reply(text="```repl\na = 1\nprint('one')\n```\n"),
    Reply(text="```repl\nb = a + 1\nc = llm_query('x')\nprint('two', b, c)\n```\n"),
    Reply(text="FINAL(done: 2)"),
]


@asynccontextmanager
async def after_the_parent_run(ollama, size=(160, 48)):
    """The app (and its pilot) once the three-step parent run has finished."""
    ollama.fake.script("root", list(STEPS))
    ollama.fake.script("sub", ["sub answer"])
    app = make_app("root", "sub")
    async with app.run_test(size=size) as pilot:
        await run_to_end(pilot, "count")
        yield app, pilot


async def fork_from(pilot, model: str, note: str = "") -> None:
    await pilot.press("ctrl+f")
    await until(pilot, lambda: isinstance(pilot.app.screen, ForkDialog))
    dialog = pilot.app.screen
    dialog.query_one("#fork-model").value = model
    dialog.query_one("#fork-note").value = note
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(pilot.app.screen, SessionScreen)
                and len(pilot.app.session.runs) == 2 and pilot.app.session.current.done)
    await settle(pilot)


async def test_fork_here_from_the_timeline_goes_on_live_with_another_model(ollama):
    async with after_the_parent_run(ollama) as (app, pilot):
        screen = app.screen
        screen.query_one(Timeline).select((0, 2))
        await until(pilot, lambda: screen.selected == (0, 2))
        before = len(ollama.fake.requests)
        ollama.fake.script("root2", ["FINAL(forked answer)"])
        await fork_from(pilot, "root2", "Say it in words.")
        fork = app.session.current
        assert fork.result.answer == "forked answer", fork.result.error
        new = ollama.fake.requests[before:]
        assert [r["model"] for r in new] == ["root2"]
        assert new[0]["body"]["messages"][-1]["content"].endswith("Say it in words.")
        timeline = screen.query_one(Timeline)
        assert timeline.inherited == {1: 2}
        assert (1, 1) in timeline.steps and (1, 3) in timeline.steps
        cells = str(timeline.content)
        assert "dim @click=select(1,2)" in cells and "dim @click=select(1,3)" not in cells
        assert "dim @click=select(0,2)" not in cells
        assert any("forked here: iterations 1–2" in n.text for n in screen.query(Notice))
        # replayed from its file, the fork shows the same dimmed steps and the fork notice
        app.push_screen(ReplayScreen(RecordedRun.load(fork.trajectory_path)))
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen)
                    and any(t.inherited == {0: 2} for t in app.screen.query(Timeline)))
        await until(pilot, lambda: any("forked here" in n.text
                                       for n in app.screen.query(Notice)))
        app.pop_screen()
        # the history lists the fork under its parent
        entries = list_history()
        assert [e.depth for e in entries] == [0, 1]
        assert entries[1].forked_from == entries[0].run_id and entries[1].fork_at == 2
        app.push_screen(HistoryScreen())
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause()
        table = app.screen.query_one("#history-table")
        assert str(table.get_row_at(1)[1]) == "↳ fork@2"


async def test_fork_here_from_a_replay_opens_the_fork_in_the_session(ollama):
    async with after_the_parent_run(ollama) as (app, pilot):
        path = app.session.current.trajectory_path
        app.push_screen(ReplayScreen(RecordedRun.load(path)))
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.pause()
        app.screen.query_one(Timeline).select((0, 1))
        await until(pilot, lambda: app.screen.selected == (0, 1))
        ollama.fake.script("root", ["FINAL(from the replay)"])
        await fork_from(pilot, "root")
        assert app.session.current.result.answer == "from the replay"
        assert app.screen.query_one(Timeline).inherited == {1: 1}


async def test_fork_with_no_run_says_so(ollama):
    app = make_app("root")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("ctrl+f")
        await until(pilot, lambda: any("no run to fork" in n for n in notifications(app)))
        assert not isinstance(app.screen, ForkDialog)


async def test_the_palette_offers_fork_here_and_it_opens_the_dialog(ollama):
    async with after_the_parent_run(ollama, size=(100, 30)) as (app, pilot):
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Fork here…" in commands
        commands["Fork here…"].callback()
        await until(pilot, lambda: isinstance(app.screen, ForkDialog))
        dialog = app.screen
        assert dialog.at == 3 and dialog.query_one("#fork-model").value == "root"
        await pilot.press("ctrl+l")  # iteration 3 ran no code: said, nothing filled
        await pilot.pause()
        assert dialog.query_one("#fork-code").text == ""
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionScreen))
        assert len(app.session.runs) == 1


async def test_fork_while_a_run_is_going_says_to_wait_or_cancel(ollama):
    ollama.fake.script("root", [Reply(text="FINAL(late)", first_delay=30)])
    app = make_app("root")
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.screen.query_one("#prompt")
        prompt.value = "slow"
        await pilot.press("enter")
        await until(pilot, lambda: app.session.busy)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: any("a run is going" in n for n in notifications(app)))
        assert not isinstance(app.screen, ForkDialog)
        app.session.current.cancel()
        await until(pilot, lambda: not app.session.busy)
