"""Huge text is cut for display only: a giant one-line reply or output shows a bounded
part with a marker, while the message keeps all of it for copying; streamed deltas that
arrive together are shown as one update."""

from __future__ import annotations

from fake_llm_server import Reply
from app_helpers import make_app, run_to_end
from rlm_engine import events as ev
from rlm_tui.screens.run_view import coalesce
from rlm_tui.widgets.clip import LINE_CHARS, StreamClip, clip
from rlm_tui.widgets.conversation import AssistantMessage, FinalAnswerView
from rlm_tui.widgets.repl_view import BlockView


def test_clip_cuts_lines_and_totals_and_says_so():
    assert clip("short\ntext") == "short\ntext"
    out = clip("a" * 10 + "\nbb", max_chars=100, line_chars=4)
    assert out == "aaaa … [6 more characters on this line]\nbb"
    out = clip("x" * 50, max_chars=20, line_chars=100)
    assert out.startswith("x" * 20 + "\n") and "the first 20 of 50 characters" in out


def test_stream_clip_gives_the_same_cut_whatever_the_chunks():
    text = ("y" * 9000 + "\n" + "short line\n") * 3
    whole = StreamClip()
    once = whole.feed(text)
    pieces = StreamClip()
    chunked = "".join(pieces.feed(text[i:i + 7]) for i in range(0, len(text), 7))
    assert once == chunked
    assert once.count("more characters on this line") == 3
    assert max(len(line) for line in once.splitlines()) < LINE_CHARS + 60


def test_deltas_that_arrive_together_become_one():
    batch = [ev.TokenDelta(iteration=1, text="a"), ev.TokenDelta(iteration=1, text="b"),
             ev.ThinkingDelta(iteration=1, text="t"), ev.TokenDelta(iteration=1, text="c"),
             ev.TokenDelta(iteration=2, text="d"), ev.ReplyFinished(iteration=2, text="d")]
    out = coalesce(batch)
    assert [(type(e).__name__, getattr(e, "text", "")) for e in out] == [
        ("TokenDelta", "ab"), ("ThinkingDelta", "t"), ("TokenDelta", "c"),
        ("TokenDelta", "d"), ("ReplyFinished", "d")]


async def test_a_giant_one_line_reply_and_output_are_cut_on_screen_not_in_the_copy(ollama):
    line = "z" * 300_000
    ollama.fake.script("root", [
        Reply(text="```repl\nprint('w' * 100_000)\n```\n", chunk_size=4096),
        Reply(text=line + "\nFINAL(" + "q" * 50_000 + ")", chunk_size=4096),
    ])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        screen = app.screen
        msg = [m for m in screen.query(AssistantMessage) if m.iteration == 2][0]
        assert msg.text.startswith(line) and msg.copy_text()[1] == msg.text
        shown = "".join(getattr(seg, "source", "") or "" for seg in msg._segments)
        assert len(shown) < LINE_CHARS * 3 and "more characters on this line" in shown
        block = screen.query_one(BlockView)
        assert block.output == "w" * 100_000 + "\n"
        from textual.widgets import RichLog
        lines = [strip.text for strip in block.query_one(RichLog).lines]
        assert sum(map(len, lines)) < LINE_CHARS * 2
        answer = screen.query_one(FinalAnswerView)
        assert answer.answer == "q" * 50_000 and answer.copy_text()[1] == answer.answer
