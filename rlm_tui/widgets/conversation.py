"""The conversation pane: questions, the model's replies streaming as Markdown, thinking
(dimmed, collapsible), what was sent back to the model, and the final answer.

Tokens are buffered and flushed to Textual's Markdown stream every 80 ms, so a fast model
cannot starve keystrokes and a long reply is not re-rendered from the top on every token.
Every item is tagged with (run, iteration) so the timeline can show the conversation as it
was at an earlier step.
"""

from __future__ import annotations

from typing import Optional

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Collapsible, Markdown, Static

FLUSH_SECONDS = 0.08


class Step:
    """Mixin: where in the session an item belongs (run index, iteration)."""

    run_idx: int = 0
    iteration: int = 0

    def tag(self, run_idx: int, iteration: int) -> "Step":
        self.run_idx, self.iteration = run_idx, iteration
        return self

    @property
    def step(self) -> tuple[int, int]:
        return self.run_idx, self.iteration

    def copy_text(self) -> tuple[str, str]:
        """(what it is, text) for the copy key."""
        return "item", ""


class UserMessage(Step, Static, can_focus=True):
    def __init__(self, prompt: str) -> None:
        super().__init__(Text(prompt), classes="user-message")
        self.prompt = prompt
        self.border_title = "You"

    def copy_text(self) -> tuple[str, str]:
        return "question", self.prompt


class AssistantMessage(Step, Vertical, can_focus=True):
    """One root reply: a thinking fold (shown once thinking arrives) and a Markdown body."""

    def __init__(self, model: str, iteration: int) -> None:
        super().__init__(classes="assistant-message")
        self.border_title = f"{model} · iteration {iteration}"
        self.text = ""
        self.thinking = ""
        self._pending = ""
        self._pending_thinking = ""
        self._stream = None
        self.done = False

    def compose(self):
        fold = Collapsible(Static("", classes="thinking-text"), title="thinking",
                           collapsed=True, classes="thinking")
        fold.display = False
        yield fold
        yield Markdown("", classes="reply-body")

    def add_text(self, text: str) -> None:
        self._pending += text
        self.text += text

    def add_thinking(self, text: str) -> None:
        self._pending_thinking += text
        self.thinking += text

    async def flush(self) -> None:
        if self._pending_thinking:
            fold = self.query_one(Collapsible)
            fold.display = True
            fold.title = f"thinking ({len(self.thinking):,} chars)"
            self.query_one(".thinking-text", Static).update(Text(self.thinking, style="dim"))
            self._pending_thinking = ""
        if self._pending:
            if self._stream is None:
                self._stream = Markdown.get_stream(self.query_one(Markdown))
            chunk, self._pending = self._pending, ""
            await self._stream.write(chunk)

    async def finish(self, text: str, thinking: str, cut: bool) -> None:
        """The reply is complete; show exactly what the model said (cut where it invented)."""
        await self.flush()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        changed = text != self.text
        self.text, self.done = text, True
        if thinking and thinking != self.thinking:
            self.thinking = thinking
            self._pending_thinking = "x"
            await self.flush()
        if changed or not text:
            await self.query_one(Markdown).update(text or "*(empty reply)*")
        if cut:
            self.border_subtitle = "cut: the model started inventing its code's output"

    def copy_text(self) -> tuple[str, str]:
        return "reply", self.text


class FeedbackNote(Step, Collapsible):
    """What the loop sent back to the model (code output, errors, a nudge)."""

    def __init__(self, text: str) -> None:
        first = text.strip().splitlines()[0] if text.strip() else ""
        super().__init__(Static(Text(text), classes="feedback-text"),
                         title=f"sent back to the model: {first[:70]}", collapsed=True,
                         classes="feedback")
        self.text = text

    def copy_text(self) -> tuple[str, str]:
        return "feedback", self.text


class FinalAnswerView(Step, Static, can_focus=True):
    def __init__(self, answer: str, source: str) -> None:
        super().__init__(Text(answer), classes="final-answer")
        self.answer = answer
        self.border_title = "Answer"
        self.border_subtitle = f"via {source}"

    def copy_text(self) -> tuple[str, str]:
        return "answer", self.answer


class Notice(Step, Static):
    """A one-line status in the conversation: an error, a cancel, a limit."""

    def __init__(self, text: str, kind: str = "error") -> None:
        super().__init__(Text(text), classes=f"notice {kind}")
        self.text = text

    def copy_text(self) -> tuple[str, str]:
        return "message", self.text


class Conversation(VerticalScroll):
    """The scrolling list. Follows the newest item only while the user is at the bottom."""

    limit: Optional[tuple[int, int]] = None  # the step being looked at; None: live

    def on_mount(self) -> None:
        self.anchor()
        self.set_interval(FLUSH_SECONDS, self.flush)

    async def flush(self) -> None:
        for msg in self.query(AssistantMessage):
            if not msg.done and (msg._pending or msg._pending_thinking):
                await msg.flush()

    async def add(self, item: Step, run_idx: int, iteration: int) -> Step:
        item.tag(run_idx, iteration)
        item.display = self.limit is None or item.step <= self.limit
        await self.mount(item)
        return item

    def message(self, run_idx: int, iteration: int) -> Optional[AssistantMessage]:
        for msg in self.query(AssistantMessage):
            if msg.step == (run_idx, iteration):
                return msg
        return None

    def show_until(self, step: Optional[tuple[int, int]]) -> None:
        """Show items up to `step` (all when None) and bring that step into view."""
        self.limit = step
        last = None
        for child in self.children:
            if isinstance(child, Step):
                child.display = step is None or child.step <= step
                if child.display and (step is None or child.step == step):
                    last = last or child
        if step is None:
            self.scroll_end(animate=False)
            self.anchor()
        elif last is not None:
            self.scroll_to_widget(last, animate=False, top=True)
