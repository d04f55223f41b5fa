"""The conversation pane: questions, the model's replies streaming as Markdown, thinking
(dimmed, collapsible), what was sent back to the model, and the final answer.

Tokens are buffered and flushed every 80 ms, so a fast model cannot starve keystrokes. A reply
is drawn by Rich, not by Textual's Markdown widget: that widget keeps several widgets per
Markdown block (a paragraph and a code fence are four), and every frame's layout, every mount
and every redraw of the 12-step window walks them all. A reply is a run of `Segment`s (one
Static each), a new one every `SEGMENT_LINES` lines (never inside a code fence), so a flush
re-renders one short segment at most; past `MARKDOWN_LINES` lines a reply goes on as plain
text. The thinking fold is mounted only when thinking arrives. So a reply costs two widgets,
not nine (benchmarks/tmux_keys.py, stepping across the window's edge).
What is shown of a reply, a line, thinking or an answer is cut (clip.py) so that no size of
reply can stall the screen; the whole text is kept for copying.
Every item is tagged with (run, iteration) so the timeline can show the conversation as it
was at an earlier step.
"""

from __future__ import annotations

from typing import Optional

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Collapsible, Static

from .clip import REPLY_CHARS, StreamClip, clip

FLUSH_SECONDS = 0.08
SEGMENT_LINES = 80
MARKDOWN_LINES = 160


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
    DEFAULT_CSS = """
    UserMessage {
        border: round $primary;
        padding: 0 1;
        margin: 1 0 0 0;
    }
    UserMessage:focus {
        background: $boost;
    }
    """

    def __init__(self, prompt: str) -> None:
        super().__init__(Text(clip(prompt)), classes="user-message")
        self.prompt = prompt
        self.border_title = "You"

    def copy_text(self) -> tuple[str, str]:
        return "question", self.prompt


class Segment(Static):
    """A run of a reply's lines: Markdown drawn by Rich (`reply-body`; `reply-frozen` once
    complete), or plain text (`reply-plain`) for the lines of a long reply past
    MARKDOWN_LINES. `source` is the text it shows."""

    def __init__(self, markdown: bool) -> None:
        super().__init__("", classes="reply-body" if markdown else "reply-plain")
        self.markdown = markdown
        self.source = ""

    def show(self, text: str) -> None:
        if text != self.source:
            self.source = text
            self.update(RichMarkdown(text, code_theme="monokai") if self.markdown
                        else Text(text))


class AssistantMessage(Step, Vertical, can_focus=True):
    """One root reply: a thinking fold (once thinking arrives) and the reply's segments."""

    DEFAULT_CSS = """
    AssistantMessage {
        height: auto;
        border-left: thick $secondary;
        padding: 0 1;
        margin: 1 0 0 0;
        border-title-color: $text-muted;
    }
    AssistantMessage:focus {
        background: $boost;
    }
    AssistantMessage .thinking {
        margin: 0;
        padding: 0;
        border: none;
        background: transparent;
    }
    AssistantMessage .thinking-text {
        color: $text-muted;
    }
    """

    def __init__(self, model: str, iteration: int, forced: bool = False) -> None:
        super().__init__(classes="assistant-message")
        # forced: the turn after the last allowed iteration, asking for the answer
        self.border_title = f"{model} · " + (
            "final-answer turn" if forced else f"iteration {iteration}")
        self._parts: list[str] = []  # the reply's chunks: joined when asked for (`text`)
        self._joined: Optional[str] = ""
        self.chars = 0
        self._clip = StreamClip()
        self.thinking_parts: list[str] = []
        self._thinking_shown = ""
        self._thinking_clip = StreamClip()
        self._pending = ""
        self._pending_thinking = ""
        # the thinking fold and its text, made when thinking first arrives (held here, not
        # queried: a flush may come while the fold's mount is still under way)
        self._fold: Optional[Collapsible] = None
        self._thinking_view: Optional[Static] = None
        self._segment = ""  # the text of the segment being written into
        self._segments: list[Segment] = []
        self._lines = 0
        self.done = False

    def compose(self):
        first = Segment(markdown=True)
        self._segments.append(first)
        yield first

    @property
    def text(self) -> str:
        """The whole reply so far (or as finished), not only what is shown."""
        if self._joined is None:
            self._joined = "".join(self._parts)
            self._parts = [self._joined]
        return self._joined

    @text.setter
    def text(self, value: str) -> None:
        self._parts, self._joined, self.chars = [value], value, len(value)

    @property
    def thinking(self) -> str:
        return "".join(self.thinking_parts)

    def add_text(self, text: str) -> None:
        self._parts.append(text)
        self._joined = None
        self.chars += len(text)
        self._pending += self._clip.feed(text)
        if self._clip.full:
            self.border_subtitle = (f"long reply: the first {self._clip.shown:,} of "
                                    f"{self.chars:,} characters shown (Ctrl+Y copies it all)")

    def add_thinking(self, text: str) -> None:
        self.thinking_parts.append(text)
        shown = self._thinking_clip.feed(text)
        self._thinking_shown += shown
        self._pending_thinking = "1"  # a flag: the fold needs redrawing

    async def flush(self) -> None:
        if self._pending_thinking:
            self._pending_thinking = ""
            chars = sum(map(len, self.thinking_parts))
            shown = Text(self._thinking_shown, style="dim")
            if self._fold is None or self._thinking_view is None:
                # the first thinking: the fold goes above the reply
                self._thinking_view = Static(shown, classes="thinking-text")
                self._fold = Collapsible(self._thinking_view, title=f"thinking ({chars:,} chars)",
                                         collapsed=True, classes="thinking")
                await self.mount(self._fold, before=0)
            else:
                self._fold.title = f"thinking ({chars:,} chars)"
                self._thinking_view.update(shown)
        if self._pending:
            chunk, self._pending = self._pending, ""
            await self._write(chunk)

    async def _write(self, chunk: str) -> None:
        """Add `chunk` to the segments, starting a new segment each SEGMENT_LINES lines (a
        flush may carry a whole reply), but never inside a code fence. Each segment touched
        is drawn once, at the end (or when it is complete)."""
        while chunk:
            room = SEGMENT_LINES - self._segment.count("\n")
            in_fence = self._segment.count("```") % 2 == 1
            if room <= 0 and not in_fence:
                await self._new_segment()
                room = SEGMENT_LINES
            if room <= 0:  # inside a fence: run to the end of the line that closes it
                close = chunk.find("```")
                end = chunk.find("\n", close) if close >= 0 else -1
                cut = len(chunk) if end < 0 else end + 1
            else:
                pos = -1
                for _ in range(room):
                    pos = chunk.find("\n", pos + 1)
                    if pos < 0:
                        break
                cut = len(chunk) if pos < 0 else pos + 1
            piece, chunk = chunk[:cut], chunk[cut:]
            self._segment += piece
            self._lines += piece.count("\n")
        self._segments[-1].show(self._segment)

    async def _new_segment(self) -> None:
        """The last segment is complete: draw it whole and start the next one."""
        last = self._segments[-1]
        last.show(self._segment)
        if last.markdown:
            last.add_class("reply-frozen")
        self._segment = ""
        markdown = self._lines < MARKDOWN_LINES
        if not markdown:
            self.border_subtitle = f"long reply: plain text after line {self._lines:,}"
        segment = Segment(markdown)
        self._segments.append(segment)
        await self.mount(segment)

    async def finish(self, text: str, thinking: str, cut: bool) -> None:
        """The reply is complete; show exactly what the model said (cut where it invented).
        A reply that was not streamed here (a redraw) is written in one go."""
        await self.flush()
        changed = text != self.text
        self.text, self.done = text, True
        if thinking and thinking != self.thinking:
            self.thinking_parts = [thinking]
            self._thinking_shown = clip(thinking)
            self._pending_thinking = "x"
            await self.flush()
        if changed:
            if len(self._segments) > 1:
                await self.remove_children(self._segments[1:])
            del self._segments[1:]
            self._segment, self._lines, self.border_subtitle = "", 0, ""
            self._segments[0].show("")
            await self._write(clip(text, REPLY_CHARS // 4))  # (its cut says so in the text)
        if not text:
            self._segments[0].show("*(empty reply)*")
        if self._segments[-1].markdown:
            self._segments[-1].add_class("reply-frozen")
        if cut:
            self.border_subtitle = "cut: the model started inventing its code's output"

    def copy_text(self) -> tuple[str, str]:
        return "reply", self.text


class FeedbackNote(Step, Static, can_focus=True):
    """What the loop sent back to the model (code output, errors, a nudge): one line, and the
    whole of it (cut for display) when opened with Enter or a click. One widget, where a
    Collapsible is four: there is one of these per iteration in the window."""

    DEFAULT_CSS = """
    FeedbackNote {
        margin: 0;
        padding: 0 1;
        color: $text-muted;
    }
    FeedbackNote:focus {
        background: $boost;
    }
    """

    BINDINGS = [Binding("enter", "toggle", "Open/close", show=False)]

    def __init__(self, text: str) -> None:
        super().__init__("", classes="feedback")
        self.text = text
        first = text.strip().splitlines()[0] if text.strip() else ""
        self.title = f"sent back to the model: {first[:70]}"
        self.collapsed = True
        self._draw()

    def _draw(self) -> None:
        shown = Text(("▶ " if self.collapsed else "▼ ") + self.title)
        if not self.collapsed:
            shown.append("\n" + clip(self.text), style="dim")
        self.update(shown)

    def action_toggle(self) -> None:
        self.collapsed = not self.collapsed
        self._draw()

    def on_click(self) -> None:
        self.action_toggle()

    def copy_text(self) -> tuple[str, str]:
        return "feedback", self.text


class FinalAnswerView(Step, Static, can_focus=True):
    DEFAULT_CSS = """
    FinalAnswerView {
        border: double $success;
        padding: 0 1;
        margin: 1 0;
        color: $text;
        text-style: bold;
    }
    FinalAnswerView:focus {
        background: $boost;
    }
    """

    def __init__(self, answer: str, source: str) -> None:
        super().__init__(Text(clip(answer)), classes="final-answer")
        self.answer = answer
        self.border_title = "Answer"
        self.border_subtitle = f"via {source}"

    def copy_text(self) -> tuple[str, str]:
        return "answer", self.answer


class Notice(Step, Static):
    """A one-line status in the conversation: an error, a cancel, a limit."""

    DEFAULT_CSS = """
    Notice {
        padding: 0 1;
        margin: 1 0 0 0;
    }
    Notice.error {
        color: $error;
        text-style: bold;
    }
    Notice.cancel {
        color: $warning;
    }
    Notice.success {
        color: $success;
        text-style: bold;
    }
    """

    def __init__(self, text: str, kind: str = "error") -> None:
        super().__init__(Text(text), classes=f"notice {kind}")
        self.text = text

    def copy_text(self) -> tuple[str, str]:
        return "message", self.text


def first_after(items, at, key):
    """The first of `items` (in order) whose key is past `at`: where an item keyed `at` goes
    (None: at the end). Items whose key is None keep no order. The usual case, appending, is
    found without a scan. Serves the conversation (keyed by step) and the REPL pane (by step
    and block index) when a window grows backwards."""
    if not items:
        return None
    last = key(items[-1])
    if last is not None and last <= at:
        return None
    return next((c for c in items if (k := key(c)) is not None and k > at), None)


def step_key(item) -> Optional[tuple[int, int]]:
    """An item's step, for ordering (None: an untagged item or the folded-steps note)."""
    return item.step if isinstance(item, Step) and item.run_idx >= 0 else None


class Conversation(VerticalScroll):
    """The scrolling list. Follows the newest item only while the user is at the bottom."""

    limit: Optional[tuple[int, int]] = None  # the step being looked at; None: live

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        # lookups by step, not DOM queries: a long reply holds thousands of widgets
        self.messages: dict[tuple[int, int], AssistantMessage] = {}

    def on_mount(self) -> None:
        self.anchor()
        self.set_interval(FLUSH_SECONDS, self.flush)

    async def flush(self) -> None:
        for msg in list(self.messages.values()):
            if not msg.done and (msg._pending or msg._pending_thinking):
                await msg.flush()

    async def add(self, item: Step, run_idx: int, iteration: int) -> Step:
        """Mount `item` after the items of its step and earlier ones (at the end, unless the
        window is being extended backwards)."""
        item.tag(run_idx, iteration)
        item.display = self.limit is None or item.step <= self.limit
        if isinstance(item, AssistantMessage):
            self.messages[item.step] = item
        await self.mount(item, before=first_after(self.children, item.step, step_key))
        return item

    async def clear(self) -> None:
        self.messages.clear()
        await self.remove_children()

    async def drop_outside(self, lo: tuple[int, int], hi: Optional[tuple[int, int]]) -> None:
        """Remove the items of steps before `lo` or after `hi` (the window moved)."""
        old = [c for c in self.children if isinstance(c, Step) and c.run_idx >= 0
               and (c.step < lo or (hi is not None and c.step > hi))]
        for item in old:
            if isinstance(item, AssistantMessage):
                self.messages.pop(item.step, None)
        if old:
            await self.remove_children(old)

    def message(self, run_idx: int, iteration: int) -> Optional[AssistantMessage]:
        return self.messages.get((run_idx, iteration))

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
            return
        # looking back: not following the end (an anchor also pins short content to the
        # bottom of the pane, Textual scrolling it to a negative offset)
        self.anchor(False)
        if self.scroll_y < 0:
            self.scroll_target_y = self.scroll_y = 0
        if last is not None:
            self.scroll_to_widget(last, animate=False, top=True)
