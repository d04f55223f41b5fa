"""Keys a newcomer reaches for: `[` `]` step from an empty input box (and type once there is
text), Alt+←/→ step whatever has focus, Ctrl+L and Esc bring focus back to the input, and the
prompt history gives back exactly what was typed."""

from __future__ import annotations

from app_helpers import make_app
from test_app import after_two_steps
from rlm_tui.widgets.prompt import PromptInput, escape_line, unescape_line
from rlm_tui.widgets.timeline import Timeline


async def test_brackets_step_from_an_empty_input_and_type_otherwise(ollama, tmp_path):
    async with after_two_steps(ollama, tmp_path) as (app, pilot):
        prompt = app.screen.query_one(PromptInput)
        assert app.focused is prompt and prompt.value == ""
        await pilot.press("left_square_bracket")
        assert app.screen.selected == (0, 2) and prompt.value == ""
        await pilot.press("left_square_bracket", "right_square_bracket")
        assert app.screen.selected == (0, 2)
        await pilot.press("right_square_bracket")
        assert app.screen.selected is None  # the newest step is live
        await pilot.press("a", "left_square_bracket", "right_square_bracket")
        assert prompt.value == "a[]" and app.screen.selected is None


async def test_alt_arrows_step_from_anywhere_and_ctrl_l_returns_to_the_input(ollama, tmp_path):
    async with after_two_steps(ollama, tmp_path) as (app, pilot):
        prompt = app.screen.query_one(PromptInput)
        prompt.value = "half-typed"
        await pilot.press("alt+left")
        assert app.screen.selected == (0, 2) and prompt.value == "half-typed"
        await pilot.press("tab", "tab", "tab")
        assert app.focused is not prompt
        await pilot.press("alt+left")
        assert app.screen.selected == (0, 1)
        await pilot.press("ctrl+l")
        assert app.focused is prompt
        app.screen.query_one(Timeline).focus()
        await pilot.pause()
        await pilot.press("escape")  # back to live first
        assert app.screen.selected is None and app.focused is not prompt
        await pilot.press("escape")  # then back to the input
        assert app.focused is prompt


def test_history_lines_round_trip_any_text():
    for text in ["plain", "a literal \\n stays", "two\nlines", "back\\slash\\", "\\\\n", "cr\r"]:
        line = escape_line(text)
        assert "\n" not in line
        assert unescape_line(line) == text


async def test_history_file_gives_back_what_was_typed(ollama):
    typed = ["print('a\\nb')", "multi\nline"]
    app = make_app(model="root")
    async with app.run_test(size=(100, 30)) as pilot:
        prompt = app.screen.query_one(PromptInput)
        for text in typed:
            prompt.remember(text)
        await pilot.pause()
    assert PromptInput._load()[-2:] == typed
