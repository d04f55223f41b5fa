"""Does a flood freeze the app? Runs the real app headless against the loopback fake server:

  stdout   a code block that prints 10 MB
  reply    a 5,000-line streamed reply (Markdown)

and reports, for each, the time until the run is shown as finished and the worst stall of the
app's event loop (the longest gap between ticks of a 50 ms timer: what a keystroke could
wait at most).

Usage: python benchmarks/ui_flood.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_llm_server import FakeLLMServer, Reply  # noqa: E402
from app_helpers import make_app, run_to_end  # noqa: E402

LONG_REPLY = "\n".join(f"- line {i}: some *markdown* text with `code` in it" for i in range(5000))

CASES = {
    "stdout 10 MB": [Reply(text="```repl\nfor i in range(100_000):\n    print('x' * 99)\n```\n",
                           chunk_size=64),
                     Reply(text="FINAL(done)")],
    "reply 5,000 lines": [Reply(text=LONG_REPLY + "\nFINAL(done)", chunk_size=40)],
}


async def measure(name: str, script: list) -> None:
    server = FakeLLMServer({"bench": script}).start()
    os.environ["OLLAMA_HOST"] = server.url
    app = make_app(model="bench")
    gaps: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(0.05, tick)
        start = time.perf_counter()
        await run_to_end(pilot, "go")
        elapsed = time.perf_counter() - start
        status = app.session.current.result.status
    server.stop()
    worst = max(gaps) if gaps else 0.0
    print(f"{name:20s} {status:9s} shown finished after {elapsed:6.2f} s; "
          f"worst event-loop stall {worst * 1000:6.0f} ms (timer period 50 ms)")


def main() -> None:
    os.environ["RLM_TUI_DATA_DIR"] = tempfile.mkdtemp(prefix="rlm-flood-")
    for name, script in CASES.items():
        asyncio.run(measure(name, script))


if __name__ == "__main__":
    main()
