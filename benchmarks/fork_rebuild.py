"""How long a fork takes to rebuild: a run of N iterations (each block computes a little, makes
one `llm_query` and prints 10 KB) recorded from the loopback fake server, then forked at its
last iteration. Prints the time from the fork's start to `fork_restored` (worker start, every
block re-run, every sub-call served from the recording, outputs compared), next to the time
the original run took, and checks that no model was called for the rebuilt part.

Usage: python benchmarks/fork_rebuild.py [--iterations 50]
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

from rlm_engine import RLM, events as ev  # noqa: E402
from rlm_engine.fork import ForkOptions, start_fork  # noqa: E402
from rlm_engine.replay import RecordedRun  # noqa: E402

STEP = Reply(text="Next chunk.\n```repl\nacc = globals().get('acc', 0) + sum(range(10000))\n"
                  "note = llm_query('chunk ' + str(acc))\n"
                  "for i in range(100):\n    print('row', i, 'x' * 93)\n```\n", chunk_size=12)


async def main_async(n: int) -> None:
    server = FakeLLMServer({"root": [STEP] * n + [Reply(text="FINAL(done)")],
                            "sub": lambda msgs: "ok " + msgs[-1]["content"][:20],
                            "root2": ["FINAL(forked)"]}).start()
    os.environ["OLLAMA_HOST"] = server.url
    rlm = RLM(model="root", recursive_model="sub", max_iterations=n + 1)
    t0 = time.perf_counter()
    result = await rlm.acompletion("a long run", "some context")
    original = time.perf_counter() - t0
    await rlm.aclose()
    assert result.ok, result.error
    parent = RecordedRun.load(result.trajectory_path)
    calls = len(server.requests)
    rlm2 = RLM(model="root2", recursive_model="sub")
    t0 = time.perf_counter()
    run = start_fork(rlm2, parent, ForkOptions(at=n), context="some context")
    rebuilt = None
    async for e in run:
        if isinstance(e, ev.ForkRestored):
            rebuilt = time.perf_counter() - t0
    total = time.perf_counter() - t0
    await rlm2.aclose()
    server.stop()
    assert run.result.answer == "forked", run.result.error
    assert [r["model"] for r in server.requests[calls:]] == ["root2"]
    print(f"original run: {n + 1} iterations, {n} sub-calls, {original:.2f} s")
    print(f"fork at {n}: rebuilt in {rebuilt:.2f} s ({rebuilt / n * 1000:.0f} ms an iteration), "
          f"whole fork {total:.2f} s; models called for the rebuilt part: none")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=50)
    args = ap.parse_args()
    os.environ["RLM_TUI_DATA_DIR"] = tempfile.mkdtemp(prefix="rlm-fork-")
    asyncio.run(main_async(args.iterations))


if __name__ == "__main__":
    main()
