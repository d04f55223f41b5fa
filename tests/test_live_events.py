"""No live event is lost: the llm_query scenario, run many times while another process burns
a core, shows every block's stdout and every sub-call's usage line on the live screen.

The issue it guards against was a race between the event stream and widget mounting (a
block view handed out before it was mounted, so output or a sub-call went to a widget
without children); timing decided it, hence the repetitions under load. No timed assertion:
the burner is only there to widen any race window.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fake_llm_server import Reply
from app_helpers import make_app, run_to_end, until
from rlm_tui.screens.run_view import WINDOW as WINDOW_STEPS
from rlm_tui.widgets.repl_view import BlockView, SubCallView

RUNS = 8
BURN = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def cpu_burner():
    """A process spinning on a core for the test's length (at most two minutes)."""
    proc = subprocess.Popen([sys.executable, "-c", BURN])
    yield proc
    proc.kill()
    proc.wait()


def script(fake, runs: int) -> None:
    root = []
    for _ in range(runs):
        root += [
            Reply(text="First I look.\n```repl\nwords = context.split()\nprint(len(words))\n```\n",
                  chunk_size=4),
            Reply(text="Now a sub-call.\n```repl\nsummary = llm_query('sum up: ' + context)\n"
                       "print(summary)\n```\n", chunk_size=4),
            Reply(text="FINAL(three words, summarised)"),
        ]
    fake.script("root", root)
    fake.script("sub", [Reply(text="a tiny summary", prompt_tokens=5, completion_tokens=3)]
                * runs)


def shown_output(block: BlockView) -> str:
    """The text the block's output log holds on screen (its rendered lines)."""
    from textual.widgets import RichLog
    log = block.query_one(RichLog)
    return "\n".join(strip.text for strip in log.lines) if log.display else ""


async def test_every_live_output_and_usage_line_reaches_the_screen(ollama, tmp_path, cpu_burner):
    script(ollama.fake, RUNS)
    ctx = tmp_path / "words.txt"
    ctx.write_text("alpha beta gamma")
    for n in range(RUNS):  # a fresh app each time: the race is at the start of a screen's life
        app = make_app(recursive="sub", context=ctx)
        async with app.run_test(size=(160, 48)) as pilot:
            await run_to_end(pilot, f"question {n}")
            assert app.session.current.result.status == "completed"
            blocks = {b.step: b for b in app.screen.query(BlockView)}
            first, second = blocks[(0, 1)], blocks[(0, 2)]
            assert first.state == second.state == "done"
            assert shown_output(first).strip() == "3", f"run {n}: block 1 output lost"
            assert shown_output(second).strip() == "a tiny summary", \
                f"run {n}: block 2 output lost"
            subs = list(second.query(SubCallView))
            assert len(subs) == 1, f"run {n}: the sub-call view is missing"
            assert "✓ 8 tok" in str(subs[0].title), f"run {n}: usage line lost: {subs[0].title}"


async def test_a_block_asked_for_twice_at_once_is_handed_out_mounted():
    """The root of the lost events: the streaming parser's timer and the event stream ask
    for the same block view at once; the second must not get it before it is mounted."""
    import asyncio

    from textual.app import App

    from rlm_tui.widgets.repl_view import ReplView

    class Host(App):
        def compose(self):
            yield ReplView()

    app = Host()
    async with app.run_test() as pilot:
        repl = app.query_one(ReplView)
        first = asyncio.ensure_future(repl.block((0, 1), 0))
        await asyncio.sleep(0)  # the first caller is now waiting for the mount
        view = await repl.block((0, 1), 0)
        assert view.is_mounted and view.query(".subcalls")  # its children exist
        view.start("x = llm_query('hi')")
        await repl.add_subcall(view, SubCallView("c1", "sub", "hi", 2))
        view.add_output("stdout", "hello\n")
        view.finish(0.5, None, False)
        repl.subcall("c1").finish("answer", None, 8, 0.1)
        assert await first is view
        await pilot.pause()
        assert shown_output(view) == "hello"
        assert "✓ 8 tok" in str(repl.subcall("c1").title)


async def test_a_long_live_run_holds_a_bounded_window_of_widgets(ollama):
    """30 iterations keep about as many widgets as 14; the folded ones come back when
    stepped to, and End returns to the newest."""
    from rlm_tui.screens.run_view import WINDOW
    from rlm_tui.widgets.conversation import AssistantMessage, Notice
    from rlm_tui.widgets.timeline import Timeline
    from rlm_tui.widgets.variables import VariablesTable

    def steps(n):
        return [Reply(text=f"Step {i}.\n```repl\nv{i} = {i}\nprint('step', {i})\n```\n")
                for i in range(1, n)] + [Reply(text="FINAL(end)")]

    counts = {}
    for n in (WINDOW + 2, 30):
        ollama.fake.script("root", steps(n))
        app = make_app(max_iterations=n + 1)
        async with app.run_test(size=(160, 48)) as pilot:
            await run_to_end(pilot, "long")
            screen = app.screen
            counts[n] = len(screen.query("*"))
            drawn = sorted(m.iteration for m in screen.query(AssistantMessage))
            assert drawn == list(range(n - WINDOW + 1, n + 1))
            assert len(screen.query_one(Timeline).steps) == n
            folded = [w for w in screen.query(Notice) if "folded" in w.text]
            assert folded and f"iterations 1–{n - WINDOW}" in folded[0].text
            if n == 30:
                screen.query_one(Timeline).select((0, 2))
                await until(pilot, lambda screen=screen: screen.selected == (0, 2))
                await pilot.pause()
                shown = [m.iteration for m in screen.query(AssistantMessage) if m.display]
                assert shown == [1, 2]
                assert [b.output for b in screen.query(BlockView) if b.step == (0, 2)] == \
                    ["step 2\n"]
                assert [v.name for v in screen.query_one(VariablesTable).vars] == [
                    "context", "v1", "v2"]
                await pilot.press("ctrl+t", "end")
                await until(pilot, lambda screen=screen: screen.selected is None)
                await pilot.pause()
                drawn = sorted(m.iteration for m in screen.query(AssistantMessage))
                assert drawn == list(range(n - WINDOW + 1, n + 1))
    assert counts[30] <= counts[WINDOW + 2] * 1.2


async def test_a_cancellation_inside_one_events_display_does_not_end_the_display(
        ollama, monkeypatch):
    """Something awaited while showing one event is cancelled (the display worker was once
    seen cancelled mid-run): that event is skipped, the rest of the run is still shown."""
    import asyncio

    from rlm_tui.screens.run_view import RunView
    from rlm_tui.widgets.conversation import FinalAnswerView

    ollama.fake.script("root", [Reply(text="```repl\nprint('first')\n```\n"),
                                Reply(text="```repl\nprint('second')\n```\n"),
                                Reply(text="FINAL(shown)")])
    show = RunView._show
    hit = []

    async def show_with_a_cancelled_await(self, run, r, e):
        if e.kind == "feedback_sent" and not hit:
            hit.append(e)
            done = asyncio.get_running_loop().create_future()
            done.cancel()
            await done  # raises CancelledError, as an awaited cancelled mount would
        await show(self, run, r, e)

    monkeypatch.setattr(RunView, "_show", show_with_a_cancelled_await)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        screen = app.screen
        assert hit
        await until(pilot, lambda: bool(screen.query(FinalAnswerView)))
        assert screen.query_one(FinalAnswerView).answer == "shown"
        assert [b.output for b in screen.query(BlockView)] == ["first\n", "second\n"]


def panes(screen) -> list:
    """What the conversation and REPL panes hold, in order: kind, step and content."""
    from rlm_tui.widgets.conversation import AssistantMessage, Step
    from rlm_tui.widgets.repl_view import SubCallView
    conv = []
    for item in screen.conversation.children:
        if not isinstance(item, Step):
            continue
        body = ([s.source for s in item._segments] if isinstance(item, AssistantMessage)
                else str(item.render()))
        conv.append((type(item).__name__, item.step, item.display, body))
    repl = [(b.step, b.index, b.display, b.code, b.output, b.state, b.error,
             [str(s.title) for s in b.query(SubCallView)]) for b in screen.repl.children]
    return [conv, repl]


async def test_stepping_past_the_window_edge_draws_what_a_full_redraw_draws(ollama):
    """Stepping one past the window's edge moves the window a few steps (drawing those and
    dropping as many at the other end); every step, back to the question and forward to the
    end, the panes hold exactly what drawing the same window from scratch gives, in order."""
    from rlm_tui.screens.run_view import SHIFT_ROOM, WINDOW
    from rlm_tui.widgets.conversation import UserMessage

    n = WINDOW + 8
    replies = []
    for i in range(1, n):
        code = f"v{i} = {i}\nprint('step', {i})"
        if i % 7 == 0:
            code += f"\nprint(llm_query('q{i}'))"
        if i % 9 == 0:
            code += "\n1 / 0"
        replies.append(Reply(text=f"Step {i}.\n```repl\n{code}\n```\n"))
    ollama.fake.script("root", replies + [Reply(text="FINAL(end)")])
    ollama.fake.script("sub", [f"sub answer {i}" for i in range(n)])
    app = make_app(recursive="sub", max_iterations=n + 1)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_to_end(pilot, "long")
        screen = app.screen
        redraws = []  # whole-window drawings
        real_draw = screen._draw_window

        async def counted(lo, hi):
            redraws.append((lo, hi))
            await real_draw(lo, hi)

        screen._draw_window = counted
        steps = list(screen.query_one("Timeline").steps)
        path = [s for s in reversed(steps[:-1])] + steps[1:]  # to the first step, then back
        moves = 0
        for step in path:
            window = (screen.window_lo, screen.window_hi)
            screen.query_one("Timeline").select(step)
            want = None if step == steps[-1] else step
            await until(pilot, lambda want=want: screen.selected == want)
            await pilot.pause()
            got = panes(screen)
            drawn = [s for _, s, _, _ in got[0]]
            assert drawn == sorted(drawn), step  # in step order
            assert step in drawn
            shown = [s for _, s, d, _ in got[0] if d]
            assert max(shown) == (want or steps[-1])
            assert not redraws, step  # every move is a shift, none a whole redraw
            if window == (screen.window_lo, screen.window_hi):
                continue  # the window did not move: nothing was drawn
            moves += 1
            await screen.redraw_window(screen.window_lo, screen.window_hi)
            redraws.clear()
            screen.conversation.show_until(screen.selected)  # as after any move
            screen.repl.show_until(screen.selected)
            await pilot.pause()
            again = panes(screen)
            for pane, (a, b) in enumerate(zip(got, again)):
                assert len(a) == len(b), (step, pane, [x[:2] for x in a], [x[:2] for x in b])
                for x, y in zip(a, b):
                    assert x == y, (step, pane)
        assert moves >= 2 * (n - WINDOW) // (SHIFT_ROOM + 1)  # a move every few steps
        # at the first step the question is drawn again
        screen.query_one("Timeline").select(steps[0])
        await until(pilot, lambda: screen.selected == steps[0])
        assert [m.prompt for m in screen.query(UserMessage)] == ["long"]
        await pilot.pause()
        # shown from the top: no longer pinned to the bottom by the live view's anchor (which
        # scrolled content shorter than the pane to a negative offset)
        assert screen.conversation.scroll_y == 0 and screen.repl.scroll_y == 0


async def test_back_to_live_between_two_slices_of_a_batch_shows_each_output_once(ollama):
    """Looking back past the window's edge while a block prints, then End while the display is
    between two slices of a batch (drawing slowed, as on a loaded machine): the window move
    draws what the view has kept, and the rest of the batch is shown after it, once."""
    import asyncio
    from rlm_engine import events as ev
    from app_helpers import ask, settle

    live = WINDOW_STEPS + 3
    replies = [Reply(text=f"Step {i}.\n```repl\nprint('step', {i})\n```\n")
               for i in range(1, live)]
    code = ("import time\ntime.sleep(1)\nfor k in range(30):\n    print('line', k, flush=True)\n"
            "    time.sleep(0.01)\ntime.sleep(0.5)")
    replies.append(Reply(text=f"Live.\n```repl\n{code}\n```\n"))
    ollama.fake.script("root", replies + [Reply(text="FINAL(end)")])
    app = make_app(max_iterations=live + 2)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(pilot, "go")
        screen = app.screen
        await until(pilot, lambda: (b := screen.repl.find((0, live), 0)) is not None
                    and b.state == "running")
        timeline = screen.query_one("Timeline")
        timeline.select((0, 2))  # the live step leaves the window
        await until(pilot, lambda: screen.selected == (0, 2))
        assert screen.window_hi is not None and screen.window_hi < (0, live)
        real_show, real_frame, real_batch = screen._show, screen.next_frame, screen.show_events
        shown, pressed, batch_outputs = [], [], [0]

        async def show_events(run, r, batch):
            shown.clear()
            batch_outputs[0] = sum(isinstance(e, ev.CodeOutput) for e in batch)
            await real_batch(run, r, batch)

        async def slow_show(run, r, e):
            if isinstance(e, ev.CodeOutput) and not screen._redrawing:
                shown.append(e)
                await asyncio.sleep(0.06)  # one output per 40 ms slice
            await real_show(run, r, e)

        async def frame():
            if not pressed and 0 < len(shown) < batch_outputs[0]:  # more of the batch to come
                pressed.append(len(shown))
                timeline.select(None)  # End
                await until(pilot, lambda: screen.selected is None)
            await real_frame()

        screen._show, screen.next_frame, screen.show_events = slow_show, frame, show_events
        await until(pilot, lambda: app.session.current.done)
        await settle(pilot)
        assert pressed
        block = screen.repl.find((0, live), 0)
        assert block.output == "".join(f"line {k}\n" for k in range(30))
