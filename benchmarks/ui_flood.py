"""Does a flood freeze the app? Runs the real app headless against the loopback fake server:

  stdout 10 MB         a code block that prints 10 MB (in 50 bursts 50 ms apart, so that it
                       lasts long enough to press F1 during it)
  reply 5,000 lines    a 5,000-line streamed reply (Markdown)
  reply 50 MB 1 line   a 50 MB one-line reply (a backend that ignores max_tokens)

For the first two it reports the time until the run is shown finished, the worst stall of the
app's event loop (the longest gap between ticks of a 50 ms timer: what a keystroke could wait
at most), and F1 -> help on screen (press F1 while the flood runs, until the help screen is
current and painted; then Escape closes it), median of several presses. Keys are sent as the
terminal driver sends them, not with Pilot.press, which waits for the app to go idle. "On
screen" is the first frame of the help screen handed to the terminal driver; "settled" is when
the help screen is current and a refresh after it has run (Textual lays a new screen out two or
three times). tmux_keys.py measures the same in the real terminal. For the 50 MB reply
it presses Esc once the reply streams and reports the time until the run has ended and until
the screen says it was cancelled.

Usage: python benchmarks/ui_flood.py [--cases stdout reply huge] [--presses 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_llm_server import FakeLLMServer, Reply  # noqa: E402
from app_helpers import ask, make_app, settle  # noqa: E402
from rlm_tui.screens.modals import HelpScreen  # noqa: E402
from rlm_tui.widgets.conversation import AssistantMessage, Notice  # noqa: E402

LONG_REPLY = "\n".join(f"- line {i}: some *markdown* text with `code` in it" for i in range(5000))

CASES = {
    "stdout": ("stdout 10 MB",
               [Reply(text="```repl\nimport time\nfor i in range(100_000):\n"
                           "    print('x' * 99)\n    if i % 2000 == 0:\n"
                           "        time.sleep(0.05)\n```\n",
                      chunk_size=64), Reply(text="FINAL(done)")]),
    "reply": ("reply 5,000 lines", [Reply(text=LONG_REPLY + "\nFINAL(done)", chunk_size=40,
                                          delay=0.0005)]),
    "huge": ("reply 50 MB 1 line", [Reply(text="z" * 50_000_000, chunk_size=8192)]),
}


async def wait_for(condition, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("never happened")
        await asyncio.sleep(0.002)


async def painted(screen) -> None:
    done = asyncio.Event()
    screen.call_after_refresh(done.set)
    await done.wait()


def send_key(app, key: str) -> None:
    """A key as the terminal driver delivers it (Pilot.press would also wait up to 2 s for
    the app to go idle, which a flood never lets it do)."""
    from textual import events
    event = events.Key(key, None)
    event.set_sender(app)
    app._driver.send_message(event)


def watch_frames(app) -> list:
    """Record the time of each frame the app hands its terminal driver, with its screen (a
    wrapper on the instance, for measuring only)."""
    frames: list = []
    display = app._display

    def recorded(screen, renderable) -> None:
        display(screen, renderable)
        frames.append((time.perf_counter(), screen))

    app._display = recorded
    return frames


def time_flushes(app) -> list:
    """Time each flush of the running blocks' output into their logs (wrappers on the
    instances, for measuring only)."""
    times: list = []
    for block in app.screen.repl.blocks.values():
        flush = block.flush

        def timed(flush=flush, block=block) -> None:
            if not block._pending:
                return flush()
            start = time.perf_counter()
            flush()
            times.append(time.perf_counter() - start)

        block.flush = timed
    return times


async def f1_once(pilot, app, frames: list) -> tuple[float, float]:
    """(first frame of the help screen sent to the terminal, help current and settled) after
    F1, in seconds."""
    frames.clear()
    start = time.perf_counter()
    send_key(app, "f1")
    await wait_for(lambda: any(isinstance(s, HelpScreen) for _, s in frames))
    first = next(t for t, s in frames if isinstance(s, HelpScreen)) - start
    await wait_for(lambda: isinstance(app.screen, HelpScreen))
    await painted(app.screen)
    settled = time.perf_counter() - start
    send_key(app, "escape")
    await wait_for(lambda: not isinstance(app.screen, HelpScreen))
    return first, settled


async def measure(key: str, presses: int) -> None:
    name, script = CASES[key]
    server = FakeLLMServer({"bench": script}).start()
    os.environ["OLLAMA_HOST"] = server.url
    app = make_app(model="bench")
    gaps: list[float] = []
    f1: list[tuple[float, float]] = []
    async with app.run_test(size=(160, 48)) as pilot:
        frames = watch_frames(app)
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(0.05, tick)
        start = time.perf_counter()
        await ask(pilot, "go")
        run = app.session.current
        if key == "huge":
            await wait_for(lambda: any(getattr(m, "chars", len(m.text)) > 1_000_000
                                       for m in app.screen.query(AssistantMessage)))
            pressed = time.perf_counter()
            send_key(app, "escape")
            await wait_for(lambda: run.done)
            ended = time.perf_counter() - pressed
            await wait_for(lambda: any("cancelled" in n.text for n in app.screen.query(Notice)))
            shown = time.perf_counter() - pressed
            print(f"{name:20s} Esc -> run ended {ended * 1000:6.0f} ms; -> shown cancelled "
                  f"{shown * 1000:6.0f} ms; worst event-loop stall "
                  f"{max(gaps, default=0) * 1000:6.0f} ms")
            await settle(pilot)
        else:
            if key == "stdout":
                await wait_for(lambda: any(b.output for b in app.screen.repl.blocks.values()))
                flushes = time_flushes(app)
            else:
                await wait_for(lambda: any(getattr(m, "chars", len(m.text))
                                           for m in app.screen.query(AssistantMessage)))
            for _ in range(presses):
                if run.done:
                    break
                f1.append(await f1_once(pilot, app, frames))
            await wait_for(lambda: run.done)
            await settle(pilot)
            elapsed = time.perf_counter() - start
            med = (f"{statistics.median(f[0] for f in f1) * 1000:4.0f} ms on screen, "
                   f"{statistics.median(f[1] for f in f1) * 1000:4.0f} ms settled "
                   f"({len(f1)} presses)" if f1 else "n/a")
            print(f"{name:20s} {run.result.status:9s} shown finished after {elapsed:6.2f} s; "
                  f"worst event-loop stall {max(gaps, default=0) * 1000:6.0f} ms; "
                  f"F1 -> help median {med}")
            if key == "stdout" and flushes:
                print(f"{'':20s} the block's output log: median {statistics.median(flushes) * 1000:.1f}"
                      f" ms per flush (of {len(flushes)} with output), worst "
                      f"{max(flushes) * 1000:.1f} ms")
    server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--presses", type=int, default=5)
    args = ap.parse_args()
    os.environ["RLM_TUI_DATA_DIR"] = tempfile.mkdtemp(prefix="rlm-flood-")
    for key in args.cases:
        asyncio.run(measure(key, args.presses))


if __name__ == "__main__":
    main()
