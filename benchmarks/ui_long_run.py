"""Does the live screen keep pace with a long run? Runs the real app headless against the
loopback fake server for runs of N iterations (each a reply with one ```repl block that
prints a line) and reports, for each N:

  engine     the run's own total time (RunFinished.total_time)
  shown      from pressing Enter until the screen shows the run finished
  ratio      shown / engine (target: <= 1.5 at 200 iterations)
  widgets    widgets on the screen after the run (target: at 200 within 2x of at 20)

Usage: python benchmarks/ui_long_run.py [--iterations 20 200] [--runs 3]
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
from app_helpers import ask, make_app, settle, until  # noqa: E402


async def measure(n: int) -> tuple[float, float, int]:
    steps = [Reply(text=f"Step {i}.\n```repl\nv{i} = {i}\nprint('step', {i})\n```\n",
                   chunk_size=64) for i in range(1, n)]
    server = FakeLLMServer({"bench": steps + [Reply(text="FINAL(done)")]}).start()
    os.environ["OLLAMA_HOST"] = server.url
    app = make_app(model="bench", max_iterations=n + 1)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            start = time.perf_counter()
            await ask(pilot, "go")
            await until(pilot, lambda: app.session.current is not None and app.session.current.done, timeout=600)
            await settle(pilot)
            shown = time.perf_counter() - start
            run = app.session.current
            assert run.result.status == "completed", run.result.error
            engine = run.state.total_time
            widgets = len(app.screen.query("*"))
    finally:
        server.stop()
    return engine, shown, widgets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, nargs="+", default=[20, 200])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.environ["RLM_TUI_DATA_DIR"] = tempfile.mkdtemp(prefix="rlm-long-")
    print("live screen vs engine, loopback Ollama fake server, headless app 160x48")
    for n in args.iterations:
        rows = [asyncio.run(measure(n)) for _ in range(args.runs)]
        engine = statistics.median(r[0] for r in rows)
        shown = statistics.median(r[1] for r in rows)
        ratio = statistics.median(r[1] / r[0] for r in rows)
        widgets = statistics.median(r[2] for r in rows)
        print(f"  {n:4d} iterations: engine {engine:6.2f} s  shown finished {shown:6.2f} s  "
              f"ratio {ratio:4.2f}  widgets {widgets:5.0f}   (median of {args.runs})")


if __name__ == "__main__":
    main()
