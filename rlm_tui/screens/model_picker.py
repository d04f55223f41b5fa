"""Choosing a model from what the backend has: `/model` (or `/recursive-model`) with no
argument, or the palette's "Switch model…". The list comes from the backend of the model in
use (Ollama's /api/tags, an OpenAI-compatible /v1/models, Anthropic's Models API), fetched in
a worker so a slow backend never holds the screen; typing filters it; Enter on a row (or on
the filter, taking the first match) returns that model as a spec for the same backend. A
backend that cannot list says why in one line, and a spec can still be typed in full."""

from __future__ import annotations

from typing import Optional

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from rlm_engine import RLMError


class ModelPicker(ModalScreen[Optional[str]]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("down", "focus_list", "List", show=False)]

    def __init__(self, client, role: str = "root", current: str = "") -> None:
        super().__init__()
        self.client = client
        self.role = role
        self.current = current
        self.names: list[str] = []
        self.loaded = False

    def compose(self):
        with Vertical(id="model-box") as box:
            box.border_title = f"Switch the {self.role} model"
            box.border_subtitle = "type to filter · Enter switch · Esc cancel"
            yield Input(placeholder="filter, or a whole spec (openai:gpt-4o-mini)",
                        id="model-filter")
            yield OptionList(id="model-list")
            yield Static(Text(f"asking {self.client.provider} for its models…", style="dim"),
                         id="model-note")

    def on_mount(self) -> None:
        self.query_one("#model-filter", Input).focus()
        self.run_worker(self.fetch(), group="models")

    async def fetch(self) -> None:
        note = self.query_one("#model-note", Static)
        try:
            self.names = await self.client.list_models()
        except RLMError as exc:
            note.update(Text(f"{exc} · type a spec and Enter", style="bold red"))
            return
        self.loaded = True
        self.show(self.query_one("#model-filter", Input).value)
        note.update(Text(f"{len(self.names)} models on {self.client.provider} · "
                         f"now: {self.current}", style="dim"))

    def matches(self, text: str) -> list[str]:
        needle = text.strip().lower()
        return [n for n in self.names if needle in n.lower()]

    def show(self, text: str) -> None:
        options = self.query_one("#model-list", OptionList)
        options.clear_options()
        for name in self.matches(text):
            label = Text(name, style="bold" if self.spec(name) == self.current else "")
            options.add_option(Option(label, id=name))
        if options.option_count:
            options.highlighted = 0

    def spec(self, name: str) -> str:
        return self.client.spec_prefix + name

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.loaded:
            self.show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        found = self.matches(text) if self.loaded else []
        if text in self.names:
            self.dismiss(self.spec(text))
        elif found:
            self.dismiss(self.spec(found[0]))
        elif text:
            self.dismiss(text)  # a whole spec, maybe of another backend

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.spec(str(event.option.id)))

    def action_focus_list(self) -> None:
        self.query_one("#model-list", OptionList).focus()
