"""A long run on disk: a 100-iteration run printing 10 KB per iteration (1 MB in all),
recorded from the loopback fake server. Prints the trajectory's size, the time to read it
back (load_trajectory + RecordedRun), and the time to show it in the replay screen.

Usage: python benchmarks/trajectory_size.py [--iterations 100]
"""

from __future__ import annotations

import argparse
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

from rlm_engine import RLM  # noqa: E402
from rlm_engine.replay import RecordedRun  # noqa: E402

STEP = Reply(text="Looking at the next chunk of the data now.\n```repl\n"
                  "for i in range(100):\n    print('row', i, 'x' * 93)\n```\n", chunk_size=12)


async def record(n: int) -> Path:
    server = FakeLLMServer({"long": [STEP] * n + [Reply(text="FINAL(done)")]}).start()
    os.environ["OLLAMA_HOST"] = server.url
    rlm = RLM(model="long", max_iterations=n + 1)
    result = await rlm.acompletion("a long run", "some context")
    await rlm.aclose()
    server.stop()
    assert result.ok and result.iterations == n + 1, result.error
    return Path(result.trajectory_path)


async def show(path: Path) -> float:
    from app_helpers import make_app, until
    from rlm_tui.screens.replay import ReplayScreen
    from rlm_tui.widgets.conversation import FinalAnswerView

    app = make_app(model="long")
    async with app.run_test(size=(160, 48)) as pilot:
        start = time.perf_counter()
        app.push_screen(ReplayScreen(RecordedRun.load(path)))
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen)
                    and bool(app.screen.query(FinalAnswerView)), timeout=120)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100)
    args = ap.parse_args()
    os.environ["RLM_TUI_DATA_DIR"] = tempfile.mkdtemp(prefix="rlm-size-")
    path = asyncio.run(record(args.iterations))
    size = path.stat().st_size
    start = time.perf_counter()
    run = RecordedRun.load(path)
    load = time.perf_counter() - start
    output = sum(b.output_chars for it in run.state.iterations for b in it.blocks)
    shown = asyncio.run(show(path))
    print(f"{args.iterations} iterations, {output:,} characters of output: trajectory "
          f"{size / 1024:,.0f} KB ({len(run.events):,} events); read back in "
          f"{load * 1000:.0f} ms; shown in the replay screen in {shown:.2f} s")


if __name__ == "__main__":
    main()
