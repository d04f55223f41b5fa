"""A first run: the welcome card, the model check at start and on /model, picking a model
from the backend's list, and the live demo (F3), driven through the real app and clients."""

from __future__ import annotations

from fake_llm_server import Reply
from app_helpers import ask, make_app, until
from rlm_tui.screens.model_picker import ModelPicker
from rlm_tui.widgets.conversation import Notice
from rlm_tui.widgets.welcome import Welcome


def needle_finder(msgs):
    """A model that greps the haystack with code, then answers what it printed."""
    if not any(m["role"] == "assistant" for m in msgs):
        return Reply(text="```repl\nimport re\nprint(re.findall(r'\\b\\d{7}\\b', context))\n```\n")
    return Reply(text="FINAL(" + msgs[-1]["content"].split("'")[1] + ")")


async def test_welcome_stays_until_the_first_question_and_says_the_model_is_ready(ollama):
    ollama.fake.script("qwen3:4b", ["FINAL(hi)"])
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(100, 30)) as pilot:
        card = app.screen.query_one(Welcome)
        await until(pilot, lambda: card.state == "")
        assert card.model == "qwen3:4b" and card.backend == "Ollama"
        assert app.screen.status_text.startswith("ready")
        await ask(pilot, "hello")
        await until(pilot, lambda: not app.screen.query(Welcome))


async def test_an_unknown_model_is_said_at_start_with_the_pull_command(ollama):
    ollama.fake.script("llama3.1:8b", ["x"])
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(100, 30)) as pilot:
        card = app.screen.query_one(Welcome)
        await until(pilot, lambda: bool(card.state))
        assert "ollama pull qwen3:4b" in card.state
        assert "ollama pull qwen3:4b" in app.screen.status_text
        assert "not found" in app.screen.status_text


async def test_model_alone_lists_the_backends_models_and_switches(ollama):
    for name in ("qwen3:4b", "qwen3:0.6b", "llama3.1:8b"):
        ollama.fake.script(name, ["FINAL(x)"])
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.query_one(Welcome).state == "")
        await ask(pilot, "/model")
        await until(pilot, lambda: isinstance(app.screen, ModelPicker))
        picker = app.screen
        await until(pilot, lambda: picker.loaded)
        assert picker.names == ["llama3.1:8b", "qwen3:0.6b", "qwen3:4b"]
        await pilot.press("0", ".", "6")
        assert picker.matches("0.6") == ["qwen3:0.6b"]
        await pilot.press("enter")
        await until(pilot, lambda: app.session.rlm.model == "qwen3:0.6b")
        await until(pilot, lambda: app.screen.model_state == "")
        assert "qwen3:0.6b" in str(app.screen.header_fields())


async def test_switching_to_a_missing_model_says_so_at_once(ollama):
    ollama.fake.script("qwen3:4b", ["FINAL(x)"])
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.model_state == "")
        await ask(pilot, "/model ghost:1b")
        await until(pilot, lambda: bool(app.screen.model_state))
        assert "ollama pull ghost:1b" in app.screen.status_text
        assert not [r for r in ollama.fake.requests if r.get("protocol") == "ollama"
                    and r.get("model") == "ghost:1b"]  # no chat was tried


async def test_the_live_demo_loads_a_haystack_asks_and_gives_a_verdict(ollama):
    ollama.fake.script("qwen3:0.6b", needle_finder)
    app = make_app(model="qwen3:0.6b")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.model_state == "")
        await pilot.press("f3")
        await until(pilot, lambda: bool([n for n in app.screen.query(Notice)
                                         if "found it" in n.text]), timeout=30)
        demo = next(iter(app.screen.demos.values()))
        assert app.session.context_path == demo.path
        assert app.session.context_info.lines == 10_000
        assert demo.expected in app.session.current.state.answer
        assert not app.screen.query(Welcome)


async def test_rlm_tui_demo_starts_the_demo_once_the_model_is_found(ollama):
    from rlm_tui.app import RLMApp
    from rlm_tui.session import Session, Settings

    ollama.fake.script("qwen3:0.6b", needle_finder)
    app = RLMApp(Session.create(Settings(model="qwen3:0.6b")), demo=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: bool([n for n in app.screen.query(Notice)
                                         if "found it" in n.text]), timeout=60)
        assert len(app.session.runs) == 1


async def test_messages_go_to_the_status_line_not_over_a_pane(ollama):
    from textual.widgets._toast import Toast

    ollama.fake.script("qwen3:4b", ["FINAL(x)"])
    app = make_app(model="qwen3:4b")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.model_state == "")
        app.notify("something happened", severity="warning")
        await pilot.pause()
        assert not app.screen.query(Toast)
        assert "something happened" in str(app.screen.query_one("#status").render())
