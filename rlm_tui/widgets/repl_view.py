"""The REPL pane: each code block, highlighted, appearing while the reply streams; then its
stdout/stderr arriving live with a spinner and, at the end, its duration or error; the
`llm_query` sub-calls it made, folded under it.

Output is buffered and written every 100 ms, each line cut to clip.LINE_CHARS. A flush of
more than `LIVE_LINES` lines (a flood) shows only its newest `LIVE_LINES` while the block
runs: wrapping and rendering the 1,000 lines of each flush of a 10 MB print took 80 ms of
every 100 ms tick. When the block ends, the log is drawn once from `OutputTail`: its last
`MAX_LINES` lines, after a note of how many came before. The whole output is in the run's
trajectory.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Optional

from rich.syntax import Syntax
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Collapsible, RichLog, Static

from .clip import StreamClip
from .conversation import Step, first_after
from .spinner import spinner_now

MAX_LINES = 1000  # of a block's output in its log, once it ends
LIVE_LINES = 100  # of a flood's flush shown while the block runs


def styled_lines(pieces) -> list[Text]:
    """(stream, text) pieces as lines, stderr in red; a final newline ends the last line."""
    out = Text()
    for stream, text in pieces:
        out.append(text, style="red" if stream == "stderr" else "")
    lines = out.split("\n", allow_blank=True)
    return lines[:-1] if out.plain.endswith("\n") else lines


class OutputTail:
    """The last `keep` lines of a block's output, kept as the chunks it arrived in (adding
    one is cheap), and how many lines there were in all."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.chunks: deque[tuple[str, str, int]] = deque()  # (stream, text, its newlines)
        self.newlines = 0  # in `chunks`
        self.lines = 0  # newlines ever seen

    def add(self, stream: str, text: str) -> None:
        n = text.count("\n")
        self.chunks.append((stream, text, n))
        self.newlines += n
        self.lines += n
        while len(self.chunks) > 1 and self.newlines - self.chunks[0][2] > self.keep:
            self.newlines -= self.chunks.popleft()[2]

    def last(self, n: int) -> tuple[list[Text], int]:
        """The last `n` lines (a line still open counts) and how many lines came before."""
        picked, newlines = [], 0
        for chunk in reversed(self.chunks):
            picked.append(chunk)
            newlines += chunk[2]
            if newlines > n:
                break
        lines = styled_lines((stream, text) for stream, text, _ in reversed(picked))
        total = self.lines + (0 if not self.chunks or self.chunks[-1][1].endswith("\n") else 1)
        lines = lines[-n:]
        return lines, total - len(lines)


class ChildRunView(Vertical):
    """A child run (rlm_query) folded under the call that started it: one line per step,
    and its own child runs nested inside, so a recursive run reads as a tree."""

    DEFAULT_CSS = """
    ChildRunView {
        height: auto;
        border: round $secondary;
        padding: 0 1;
        margin: 0 0 0 2;
    }
    ChildRunView .child-line {
        height: auto;
    }
    """

    def __init__(self, run_id: str, model: str, depth: int) -> None:
        super().__init__(classes="child-run")
        self.run_id = run_id
        self.border_title = f"child run · {model} · depth {depth}"
        self.output: dict[tuple[int, int], str] = {}

    async def line(self, text: str, style: str = "") -> None:
        await self.mount(Static(Text(text, style=style), classes="child-line"))


class SubCallView(Collapsible):
    DEFAULT_CSS = """
    SubCallView {
        margin: 0;
        padding: 0;
        border: none;
        background: transparent;
    }
    SubCallView.failed {
        color: $error;
    }
    """

    def __init__(self, call_id: str, model: str, prompt: str, prompt_chars: int,
                 child_run_id: str = "") -> None:
        self.call_id = call_id
        self.child_run_id = child_run_id
        self.model = model
        self.prompt = prompt
        self.answer = ""
        body = Static(Text(f"prompt ({prompt_chars:,} chars): {prompt[:300]}", style="dim"),
                      classes="subcall-body")
        super().__init__(body, title=self._label_for("…"), collapsed=True, classes="subcall")
        self._result: Optional[tuple] = None

    def on_mount(self) -> None:
        if self._result is not None:  # finished before it was mounted
            self.finish(*self._result)

    def _label_for(self, tail: str) -> str:
        preview = " ".join(self.prompt.split())[:40]
        return f"llm_query → {self.model}: {preview!r} {tail}"

    def finish(self, answer: str, error: Optional[str], tokens: int, seconds: float) -> None:
        """Show the result; before the view is mounted it is kept and shown on mount."""
        self.answer = answer
        self._result = (answer, error, tokens, seconds)
        if not self.is_mounted:
            return
        if error:
            self.title = self._label_for(f"✗ {error[:60]}")
            self.add_class("failed")
        else:
            self.title = self._label_for(f"✓ {tokens} tok, {seconds:.1f} s")
        body = self.query_one(".subcall-body", Static)
        detail = Text(f"prompt: {self.prompt[:300]}\n", style="dim")
        detail.append(f"answer: {answer[:2000]}" if not error else f"error: {error}",
                      style="red" if error else "")
        body.update(detail)


class BlockView(Step, Vertical, can_focus=True):
    DEFAULT_CSS = """
    BlockView {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        border-left: thick $primary;
    }
    BlockView.failed {
        border-left: thick $error;
    }
    BlockView:focus {
        background: $boost;
    }
    BlockView .block-output {
        height: auto;
        max-height: 20;
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    BlockView .subcalls {
        height: auto;
    }
    """

    def __init__(self, index: int) -> None:
        super().__init__(classes="block")
        self.index = index
        self.code = ""
        self.output = ""
        self.error: Optional[str] = None
        self.state = "streaming"  # streaming | running | done
        self.started = 0.0
        self.duration = 0.0
        self._pending: list[tuple[str, str]] = []
        self._tail = OutputTail(MAX_LINES)
        self._gapped = False  # the log shows only a flood's newest lines
        self._clip = StreamClip(max_chars=1 << 62)  # cuts long lines only

    def compose(self):
        yield Static("", classes="block-header")
        yield Static("", classes="block-code")
        # min_width: RichLog renders at least 78 columns wide by default, which cut long
        # lines at the edge of a narrower pane instead of wrapping them; max_lines counts
        # lines as wrapped, so it leaves room for MAX_LINES of output and the note above
        log = RichLog(max_lines=2 * MAX_LINES, wrap=True, markup=False, highlight=False,
                      min_width=1, classes="block-output")
        log.display = False
        yield log
        yield Vertical(classes="subcalls")

    def on_mount(self) -> None:
        self.refresh_header()
        self._show_code()
        self.flush()

    def set_code(self, code: str) -> None:
        if code != self.code:
            self.code = code
            self._show_code()

    def _show_code(self) -> None:
        """Draw the code (a no-op until the view's children exist; on_mount draws it)."""
        for view in self.query(".block-code"):
            view.update(Syntax(self.code.rstrip("\n") or " ", "python", theme="monokai",
                               word_wrap=True, background_color="default"))

    def start(self, code: str) -> None:
        self.set_code(code)
        self.state, self.started = "running", time.monotonic()
        self.refresh_header()

    def add_output(self, stream: str, text: str) -> None:
        self.output += text if len(self.output) < 1_000_000 else ""
        shown = self._clip.feed(text)
        if shown:
            self._pending.append((stream, shown))
            self._tail.add(stream, shown)

    def flush(self) -> None:
        """Write pending output to the log; before the view is mounted (its log does not
        exist yet) the output stays pending, and on_mount writes it."""
        if not self._pending or not self.is_mounted:
            return
        pending, self._pending = self._pending, []
        log = self.query_one(RichLog)
        log.display = True
        if sum(text.count("\n") for _, text in pending) > LIVE_LINES:
            self._gapped = True  # a flood: its newest lines, until the block ends
            self._draw_tail(log, LIVE_LINES)
            return
        lines = styled_lines(pending)
        if lines:  # one write for the lot: each write is rendered on its own
            log.write(Text("\n").join(lines))

    def _draw_tail(self, log: RichLog, n: int) -> None:
        lines, before = self._tail.last(n)
        log.clear()
        if before:
            log.write(Text(f"… {before:,} lines above not shown here (the whole output is "
                           f"in the trajectory)", style="dim italic"))
        if lines:
            log.write(Text("\n").join(lines))

    def finish(self, duration: float, error: Optional[str], restarted: bool) -> None:
        self.flush()
        if self._gapped and self.is_mounted:  # drawn once: the last MAX_LINES lines
            self._gapped = False
            self._draw_tail(self.query_one(RichLog), MAX_LINES)
        self.state, self.duration, self.error = "done", duration, error
        if error:
            self.add_class("failed")
        self.refresh_header()

    def refresh_header(self) -> None:
        if not self.is_mounted:
            return
        head = Text(f"iteration {self.iteration} · block {self.index + 1}  ", style="bold")
        if self.state == "streaming":
            head.append("writing…", style="dim")
        elif self.state == "running":
            spin = spinner_now()
            head.append(f"{spin} running {time.monotonic() - self.started:.1f} s", style="yellow")
        elif self.error:
            head.append(f"✗ {self.duration:.2f} s  {self.error}", style="bold red")
        else:
            head.append(f"✓ {self.duration:.2f} s", style="green")
        self.query_one(".block-header", Static).update(head)

    def copy_text(self) -> tuple[str, str]:
        if self.output:
            return "code and output", f"{self.code}\n# output:\n{self.output}"
        return "code block", self.code


class ReplView(VerticalScroll):
    limit: Optional[tuple[int, int]] = None  # the step being looked at; None: live

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        # lookups by key, not DOM queries (cheap however much output is shown)
        self.blocks: dict[tuple[tuple[int, int], int], BlockView] = {}
        # views being mounted: whoever asks for one waits for the same mount, so no caller
        # gets a view whose children (output log, sub-call list) do not exist yet
        self._mounting: dict[tuple[tuple[int, int], int], Any] = {}
        self.subcalls: dict[str, SubCallView] = {}
        self.child_homes: dict[str, object] = {}  # child run id -> where its view goes
        self.child_runs: dict[str, ChildRunView] = {}

    def on_mount(self) -> None:
        self.anchor()
        self.set_interval(0.1, self.tick)

    def tick(self) -> None:
        for block in self.blocks.values():
            if block.state == "running":
                block.flush()
                block.refresh_header()
            elif block._pending:
                block.flush()

    def find(self, step: tuple[int, int], index: int) -> Optional[BlockView]:
        return self.blocks.get((step, index))

    async def block(self, step: tuple[int, int], index: int) -> BlockView:
        """The view of a block, mounted (made and mounted on first use). Two callers (the
        streaming parser's timer and the event stream) may ask at once: both wait for the
        one mount."""
        key = (step, index)
        found = self.blocks.get(key)
        if found is None:
            found = BlockView(index)
            found.tag(*step)
            found.display = self.limit is None or step <= self.limit
            self.blocks[key] = found
            later = first_after(self.children, key, lambda v: (v.step, v.index)
                                if isinstance(v, BlockView) else None)
            self._mounting[key] = self.mount(found, before=later)
        await self._mounted(found)
        return found

    async def _mounted(self, view: BlockView) -> None:
        """Wait until `view`'s mount (started by `block`) is complete."""
        key = (view.step, view.index)
        mounting = self._mounting.get(key)
        if mounting is not None:
            await mounting
            if view.is_mounted:
                self._mounting.pop(key, None)

    async def drop(self, block: BlockView) -> None:
        self.blocks.pop((block.step, block.index), None)
        self._mounting.pop((block.step, block.index), None)
        await block.remove()

    async def add_subcall(self, block: BlockView, view: SubCallView) -> None:
        self.subcalls[view.call_id] = view
        if view.child_run_id:
            self.child_homes[view.child_run_id] = view
        await self._mounted(block)  # its sub-call list exists once it is mounted
        await block.query_one(".subcalls").mount(view)

    async def show_child_event(self, e) -> None:
        """An event of a child run (depth > 0), as a line in its tree."""
        from rlm_engine import events as ev

        if isinstance(e, ev.RunStarted):
            home = self.child_homes.get(e.run_id)
            if home is None:
                return
            view = ChildRunView(e.run_id, e.model, e.depth)
            self.child_runs[e.run_id] = view
            if isinstance(home, Collapsible):
                await home.query_one(Collapsible.Contents).mount(view)
            else:
                await home.mount(view)  # type: ignore[attr-defined]
            return
        view = self.child_runs.get(e.run_id)
        if view is None:
            return
        if isinstance(e, ev.ReplyFinished):
            reply = " ".join(e.text.split())
            await view.line(f"iteration {e.iteration}: {reply[:160]}")
        elif isinstance(e, ev.CodeOutput):
            key = (e.iteration, e.index)
            view.output[key] = (view.output.get(key, "") + e.text)[:2000]
        elif isinstance(e, ev.CodeBlockFinished):
            out = " ".join(view.output.pop((e.iteration, e.index), "").split())
            status = f"✗ {e.error}" if e.error else f"✓ {e.duration:.2f} s"
            await view.line(f"  ▸ block {e.index + 1} {status}  {out[:120]}",
                            "red" if e.error else "dim")
        elif isinstance(e, ev.SubCallStarted) and e.child_run_id:
            self.child_homes[e.child_run_id] = view
        elif isinstance(e, ev.SubCallFinished):
            answer = " ".join((e.error or e.answer).split())
            await view.line(f"  ↳ {e.model}: {answer[:120]}", "red" if e.error else "dim")
        elif isinstance(e, ev.FinalAnswer):
            await view.line(f"answer: {e.answer[:300]}", "bold green")
        elif isinstance(e, ev.RunFailed):
            await view.line(f"failed: {e.error}", "bold red")

    def subcall(self, call_id: str) -> Optional[SubCallView]:
        return self.subcalls.get(call_id)

    async def clear(self) -> None:
        self.blocks.clear()
        self._mounting.clear()
        self.subcalls.clear()
        self.child_homes.clear()
        self.child_runs.clear()
        await self.remove_children()

    async def drop_outside(self, lo: tuple[int, int], hi: Optional[tuple[int, int]]) -> None:
        """Remove the blocks (and their sub-calls and child runs) of steps before `lo` or
        after `hi`."""
        old = [view for view in self.blocks.values()
               if view.step < lo or (hi is not None and view.step > hi)]
        for view in old:
            self.blocks.pop((view.step, view.index), None)
            self._mounting.pop((view.step, view.index), None)
            for sub in view.query(SubCallView):
                self.subcalls.pop(sub.call_id, None)
                self.child_homes.pop(sub.child_run_id, None)
            for child in view.query(ChildRunView):
                self.child_runs.pop(child.run_id, None)
        gone = set(map(id, old)) | {id(w) for view in old for w in view.query("*")}
        self.child_homes = {k: v for k, v in self.child_homes.items() if id(v) not in gone}
        if old:
            await self.remove_children(old)

    def show_until(self, step: Optional[tuple[int, int]]) -> None:
        self.limit = step
        first = None
        for block in self.blocks.values():
            block.display = step is None or block.step <= step
            if step is not None and block.step == step and first is None:
                first = block
        if step is None:
            self.scroll_end(animate=False)
            self.anchor()
            return
        # looking back: not following the end (an anchor also pins short content to the
        # bottom of the pane, Textual scrolling it to a negative offset)
        self.anchor(False)
        if self.scroll_y < 0:
            self.scroll_target_y = self.scroll_y = 0
        if first is not None:
            self.scroll_to_widget(first, animate=False, top=True)
