"""The session screen, driven with Pilot against the loopback fake server."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager

from fake_llm_server import Reply
from app_helpers import ask, make_app, notifications, run_to_end, settle, until
from conftest import free_port
from rlm_tui.screens.file_picker import FilePicker
from rlm_tui.screens.modals import HelpScreen, TextViewer
from rlm_tui.widgets.conversation import (
    AssistantMessage, FeedbackNote, FinalAnswerView, Notice, UserMessage)
from rlm_tui.widgets.repl_view import BlockView, SubCallView
from rlm_tui.widgets.timeline import Timeline
from rlm_tui.widgets.usage import UsagePanel
from rlm_tui.widgets.variables import VariablesTable

TWO_STEPS = [
    Reply(text="First I look.\n```repl\nwords = context.split()\nprint(len(words))\n```\n"),
    Reply(text="Now a sub-call.\n```repl\nsummary = llm_query('sum up: ' + context)\n"
               "print(summary)\n```\n"),
    Reply(text="FINAL(three words, summarised)"),
]


def script_two_steps(fake):
    fake.script("root", list(TWO_STEPS))
    fake.script("sub", [Reply(text="a tiny summary", prompt_tokens=5, completion_tokens=3)])


@asynccontextmanager
async def after_two_steps(ollama, tmp_path):
    """The app (and its pilot) once the two-step run over a small context file has finished:
    where the stepping tests start."""
    script_two_steps(ollama.fake)
    (tmp_path / "c.txt").write_text("alpha beta gamma")
    app = make_app(recursive="sub", context=tmp_path / "c.txt")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.session.context_info is not None)
        await run_to_end(pilot, "q")
        yield app, pilot


def usage_text(app) -> str:
    panel = app.screen.query_one(UsagePanel)
    from rich.console import Console
    console = Console(width=120, record=True)
    console.print(panel.table)
    return console.export_text()


async def test_a_query_runs_end_to_end_and_every_pane_shows_its_part(ollama, tmp_path):
    script_two_steps(ollama.fake)
    ctx = tmp_path / "words.txt"
    ctx.write_text("alpha beta gamma")
    app = make_app(recursive="sub", context=ctx)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.session.context_info is not None)
        assert "words.txt" in app.sub_title and "text" in app.sub_title
        await run_to_end(pilot, "What is in it?")
        screen = app.screen
        assert [m.prompt for m in screen.query(UserMessage)] == ["What is in it?"]
        replies = [m.text for m in screen.query(AssistantMessage)]
        assert replies[0].startswith("First I look.") and replies[2] == "FINAL(three words, summarised)"
        notes = list(screen.query(FeedbackNote))
        assert len(notes) == 2
        # a note is one line until opened (Enter or a click), then shows what was sent
        shown = lambda note: str(note.render())  # noqa: E731
        assert shown(notes[0]).startswith("▶ sent back to the model:") and "\n" not in shown(
            notes[0])
        notes[0].focus()
        await pilot.press("enter")
        assert shown(notes[0]).startswith("▼") and notes[0].text.strip() in shown(notes[0])
        await pilot.click(notes[0])
        assert shown(notes[0]).startswith("▶")
        assert screen.query_one(FinalAnswerView).answer == "three words, summarised"
        blocks = list(screen.query(BlockView))
        assert [b.step for b in blocks] == [(0, 1), (0, 2)]
        assert blocks[0].output == "3\n" and blocks[1].output == "a tiny summary\n"
        assert all(b.state == "done" and b.error is None for b in blocks)
        sub = screen.query_one(SubCallView)
        assert sub.answer == "a tiny summary" and "✓" in str(sub.title)
        names = [v.name for v in screen.query_one(VariablesTable).vars]
        assert names == ["context", "words", "summary"]
        text = usage_text(app)
        assert "root (root)" in text and "sub (recursive)" in text
        assert "iteration 3 of 15" in text
        assert screen.query_one(Timeline).steps == [(0, 1), (0, 2), (0, 3)]


async def test_stepping_back_shows_an_earlier_iterations_state(ollama, tmp_path):
    async with after_two_steps(ollama, tmp_path) as (app, pilot):
        assert app.screen.query_one(BlockView).error is None
        screen = app.screen
        await pilot.press("ctrl+t", "left", "left")
        await pilot.pause()
        assert screen.selected == (0, 1)
        assert [v.name for v in screen.query_one(VariablesTable).vars] == ["context", "words"]
        shown = [m for m in screen.query(AssistantMessage) if m.display]
        assert [m.iteration for m in shown] == [1]
        assert not screen.query_one(FinalAnswerView).display
        assert [b.step for b in screen.query(BlockView) if b.display] == [(0, 1)]
        text = usage_text(app)
        assert "sub (recursive)" not in text and "iteration 1 of 15" in text
        await pilot.press("right")
        await pilot.pause()
        assert screen.selected == (0, 2)
        assert "summary" in [v.name for v in screen.query_one(VariablesTable).vars]
        await pilot.press("end")
        await pilot.pause()
        assert screen.selected is None and screen.query_one(FinalAnswerView).display


async def test_live_iteration_keeps_running_while_looking_back(ollama, tmp_path, monkeypatch):
    # the second block runs until the test opens its gate (no sleep window to miss); the
    # gate's directory is shown to sandboxed model code, read-only
    gate = tmp_path / "gate"
    monkeypatch.setenv("RLM_TUI_SANDBOX_BINDS", str(tmp_path))
    ollama.fake.script("root", [
        Reply(text="```repl\nfirst = 1\n```\n"),
        Reply(text=f"```repl\nimport os, time\nwhile not os.path.exists({str(gate)!r}):\n"
                   "    time.sleep(0.01)\nsecond = 2\n```\n"),
        Reply(text="FINAL(done)"),
    ])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ask(pilot, "q")
        screen = app.screen
        await until(pilot, lambda: any(b.state == "running" and b.iteration == 2
                                       for b in screen.query(BlockView)))
        screen.query_one(Timeline).select((0, 1))
        gate.touch()
        await until(pilot, lambda: app.session.current.done)
        await settle(pilot)
        final = screen.query_one(FinalAnswerView)
        assert final.answer == "done" and not final.display  # arrived, hidden at step 1
        assert screen.selected == (0, 1)
        assert [v.name for v in screen.query_one(VariablesTable).vars] == ["context", "first"]


async def test_file_picker_loads_a_file_and_rejects_a_binary_one(ollama, tmp_path, monkeypatch):
    ollama.fake.script("root", ["FINAL(x)"])
    (tmp_path / "doc.txt").write_text("hello there\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, FilePicker))
        await pilot.press(*"doc")
        tree = app.screen.query_one("#picker-tree")
        await until(pilot, lambda: [c.data.path.name for c in tree.root.children] == ["doc.txt"])
        tree.focus()
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.session.context_info is not None)
        assert app.session.context_path.name == "doc.txt"
        assert "doc.txt (12 B, text)" in app.sub_title
        # a binary file: a one-line error, and the previous context stays
        await ask(pilot, "/context blob.bin")
        await until(pilot, lambda: any("looks binary" in n for n in notifications(app)))
        assert app.session.context_path.name == "doc.txt"
        value, _ = await app.session.repl.get_variable("context")
        assert value == "hello there\n"


async def test_cancel_stops_the_run_and_keeps_what_it_had(ollama):
    ollama.fake.script("root", [Reply(text="thinking out loud " * 100, chunk_size=6,
                                      delay=0.02)])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ask(pilot, "q")
        screen = app.screen
        # Esc once the reply is under way (not after its first 6-character chunk: pressed
        # that early, the run was cancelled with "thinki" and the check below failed by timing)
        await until(pilot, lambda: any(len(m.text) >= len("thinking out loud")
                                       for m in screen.query(AssistantMessage)))
        await pilot.press("escape")
        await until(pilot, lambda: app.session.current.done)
        await settle(pilot)
        assert app.session.current.result.status == "cancelled"
        reply = screen.query_one(AssistantMessage).text
        assert reply.startswith("thinking out loud") and len(reply) < len("thinking out loud " * 100)
        assert any("cancelled" in n.text for n in screen.query(Notice))
        assert screen.query_one("#prompt").value == ""  # still usable


async def test_backend_down_shows_the_hint_and_the_app_stays_up(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.screen.backend_problem is not None)
        status = app.screen.status_text
        assert "cannot reach Ollama" in status and "ollama serve" in status
        await run_to_end(pilot, "still there?")
        assert app.session.current.result.status == "failed"
        assert any("cannot reach Ollama" in n.text for n in app.screen.query(Notice))
        assert app.is_running


async def test_slash_commands(ollama):
    ollama.fake.script("root", ["FINAL(x)"])
    ollama.fake.script("other", ["FINAL(y)"])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ask(pilot, "/model other")
        await pilot.pause()
        assert app.session.settings.model == "other" and app.sub_title.startswith("other")
        await ask(pilot, "/think on")
        await pilot.pause()
        assert app.session.settings.think is True
        await ask(pilot, "/model openai:gpt-4o-mini")
        await pilot.pause()
        assert any("OPENAI_API_KEY is not set" in n for n in notifications(app))
        assert app.session.settings.model == "other"
        await ask(pilot, "/frobnicate")
        await pilot.pause()
        assert any(n.startswith("unknown command /frobnicate") for n in notifications(app))
        await ask(pilot, "/help")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await run_to_end(pilot, "q")
        assert app.session.current.result.answer == "y"
        await ask(pilot, "/clear")
        await until(pilot, lambda: not app.session.runs and not app.screen.query(UserMessage))


async def test_copy_and_variable_viewer(ollama, tmp_path, monkeypatch):
    ollama.fake.script("root", [Reply(text="```repl\nbig = 'x' * 500\n```\n"),
                                Reply(text="FINAL(the answer)")])
    # the only clipboard tool on PATH is one this test controls: it keeps what it is given
    tools, got = tmp_path / "bin", tmp_path / "clipboard-tool-got.txt"
    tools.mkdir()
    tool = tools / "wl-copy"
    tool.write_text(f"#!{sys.executable}\nimport pathlib, sys\n"
                    f"pathlib.Path({str(got)!r}).write_bytes(sys.stdin.buffer.read())\n")
    tool.chmod(0o755)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        monkeypatch.setenv("PATH", str(tools))
        app.screen.query_one(FinalAnswerView).focus()
        await pilot.press("ctrl+y")
        await until(pilot, lambda: any(n.startswith("copied answer") for n in notifications(app)))
        assert "copied answer (10 characters) to the wl-copy" in notifications(app)
        assert got.read_text() == "the answer"
        from rlm_engine.paths import data_dir
        assert (data_dir() / "clipboard.txt").read_text() == "the answer"
        table = app.screen.query_one(VariablesTable)
        table.focus()
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, TextViewer))
        assert app.screen.text == "x" * 500


async def test_keys_toml_rebinds_and_help_shows_the_keys_in_force(ollama, tmp_path, monkeypatch):
    ollama.fake.script("root", ["FINAL(x)"])
    (tmp_path / "keys.toml").write_text('[keys]\nload_context = "f5"\n')
    monkeypatch.setenv("RLM_TUI_CONFIG_DIR", str(tmp_path))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert ("f5", "Load context") in app.bindings_in_force()
        assert ("^o", "Load context") not in app.bindings_in_force()
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, FilePicker))


async def test_a_bad_keys_toml_is_one_warning(ollama, tmp_path, monkeypatch):
    ollama.fake.script("root", ["FINAL(x)"])
    (tmp_path / "keys.toml").write_text("[keys\nbroken")
    monkeypatch.setenv("RLM_TUI_CONFIG_DIR", str(tmp_path))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert any("keys.toml was not read" in n for n in notifications(app))
        assert ("^o", "Load context") in app.bindings_in_force()


async def test_a_flood_of_output_is_trimmed_in_the_widget(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nfor i in range(50_000):\n    print('row', i)\n```\n", chunk_size=64),
        Reply(text="FINAL(done)")])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        from textual.widgets import RichLog
        from rlm_tui.widgets.repl_view import MAX_LINES
        block = app.screen.query_one(BlockView)
        log = block.query_one(RichLog)
        # once the block ends: a note, then exactly its last MAX_LINES lines
        shown = [strip.text.rstrip() for strip in log.lines]
        first = shown.index(f"row {50_000 - MAX_LINES}")
        assert " ".join(shown[:first]).startswith(f"… {50_000 - MAX_LINES:,} lines above")
        assert shown[first:] == [f"row {i}" for i in range(50_000 - MAX_LINES, 50_000)]
        assert app.session.current.result.answer == "done"


def test_an_output_tail_keeps_the_last_lines_across_chunks():
    from rlm_tui.widgets.repl_view import OutputTail
    tail = OutputTail(keep=3)
    text = "".join(f"line {i}\n" for i in range(10)) + "open"
    for k in range(0, len(text), 4):  # lines split across chunks, and one not ended
        tail.add("stdout", text[k:k + 4])
    tail.add("stderr", " err\n")
    lines, before = tail.last(3)
    assert [line.plain for line in lines] == ["line 8", "line 9", "open err"] and before == 8
    assert lines[-1].spans and lines[-1].spans[0].style == "red"  # stderr stays red
    assert sum(n for _, _, n in tail.chunks) <= 3 + 1  # what it holds stays bounded


async def test_a_long_reply_streams_into_segments_then_plain_text(ollama):
    from rlm_tui.widgets.conversation import MARKDOWN_LINES, SEGMENT_LINES
    lines = [f"- item {i}" for i in range(MARKDOWN_LINES + 3 * SEGMENT_LINES)]
    ollama.fake.script("root", [Reply(text="\n".join(lines) + "\nFINAL(ok)", chunk_size=50)])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        msg = app.screen.query_one(AssistantMessage)
        # complete Markdown segments are frozen into one widget each, then plain text
        kinds = ["frozen" if s.has_class("reply-frozen") else "plain" if s.has_class(
            "reply-plain") else type(s).__name__ for s in msg._segments]
        assert kinds.count("frozen") >= MARKDOWN_LINES // SEGMENT_LINES
        assert "plain" in kinds and kinds.index("plain") > kinds.index("frozen")
        # one widget per segment: none per list item, no thinking fold without thinking
        assert list(msg.children) == msg._segments
        assert msg.text.endswith("FINAL(ok)")
        assert "plain text" in str(msg.border_subtitle)


async def test_a_long_output_line_wraps_in_the_repl_pane(ollama):
    from textual.widgets import RichLog
    words = " ".join(f"word{i}" for i in range(60))
    ollama.fake.script("root", [Reply(text=f"```repl\nprint({words!r})\n```\n"),
                                Reply(text="FINAL(ok)")])
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await run_to_end(pilot, "q")
        log = app.screen.query_one(BlockView).query_one(RichLog)
        lines = [strip.text.rstrip() for strip in log.lines]
        assert len(lines) > 1 and " ".join(lines).split() == words.split()  # wrapped, all kept
        assert max(len(line) for line in lines) <= log.scrollable_content_region.width


async def test_thinking_gets_its_fold_above_the_reply_only_when_it_arrives(ollama):
    from textual.widgets import Collapsible
    ollama.fake.script("root", [Reply(text="Let me look.\n```repl\nprint(1)\n```\n",
                                      thinking="I should print one."),
                                Reply(text="FINAL(ok)")])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "q")
        first, second = sorted(app.screen.query(AssistantMessage), key=lambda m: m.iteration)
        fold = first.children[0]
        assert isinstance(fold, Collapsible) and fold.title == "thinking (19 chars)"
        assert "I should print one." in str(fold.query_one(".thinking-text").render())
        assert first.children[1:] == first._segments and "Let me look." in first.text
        assert not second.query(Collapsible)  # no thinking: no fold


async def test_a_reply_that_ends_while_its_thinking_fold_mounts_is_finished():
    """The flush timer mounts the fold; the reply's end arrives while that mount is under way
    (a fast model): the fold's text must not be looked up before it exists."""
    import asyncio
    from textual.app import App
    from rlm_tui.widgets.conversation import Conversation

    class Host(App):
        def compose(self):
            yield Conversation(id="conversation")

    app = Host()
    async with app.run_test():
        conv = app.query_one(Conversation)
        msg = await conv.add(AssistantMessage("m", 1), 0, 1)
        msg.add_thinking("first thoughts ")
        timer_flush = asyncio.ensure_future(msg.flush())
        await asyncio.sleep(0)  # the timer's flush has begun mounting the fold
        msg.add_thinking("more")
        msg.add_text("Answer.")
        await msg.finish("Answer.", "first thoughts more", False)
        await timer_flush
        assert msg.done and msg.text == "Answer."
        assert "first thoughts more" in str(msg._thinking_view.render())


async def test_questions_are_kept_on_disk_and_recalled_with_up(ollama):
    ollama.fake.script("root", ["FINAL(1)", "FINAL(2)"])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "first question")
        await run_to_end(pilot, "second question")
    from rlm_tui.widgets.prompt import history_path
    assert history_path().read_text().splitlines()[-2:] == ["first question", "second question"]
    app = make_app()  # a new app reads the history back
    async with app.run_test(size=(160, 48)) as pilot:
        prompt = app.screen.query_one("#prompt")
        prompt.focus()
        await pilot.press("up")
        assert prompt.value == "second question"
        await pilot.press("up", "up", "down")
        assert prompt.value == "second question"
        await pilot.press("down")
        assert prompt.value == ""
