"""The RLM loop's own overhead per iteration, against a zero-latency loopback backend.

Each iteration: stream a root reply with one ```repl block (`x = 1`) from a fake Ollama server
(its own process, no delay), parse it, run the block in the REPL worker, build the feedback,
write the trajectory, emit the events. Prints the median and its parts:

  backend    IterationStarted -> ReplyFinished (HTTP round trip + streaming, client parsing)
  code       CodeBlockStarted -> CodeBlockFinished (worker round trip)
  loop       everything else (parsing, feedback, events, trajectory writes)

With --protocol openai the root model is reached through the official `openai` client (the
OpenAI-compatible path) instead of Ollama's; several --iterations values show whether the
overhead stays flat as the history grows.

Usage: python benchmarks/loop_overhead.py [--iterations 200] [--runs 3] [--profile]
       python benchmarks/loop_overhead.py --protocol openai --iterations 10 40 100
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rlm_engine import RLM  # noqa: E402
from rlm_engine import events as ev  # noqa: E402

CODE_REPLY = "Next step.\n```repl\nx = 1\n```\n"


def start_server(n: int) -> tuple[subprocess.Popen, str]:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = Path(tempfile.mkdtemp()) / "script.json"
    script.write_text(json.dumps({"bench": [CODE_REPLY] * n + ["FINAL(done)"]}))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_llm_server.py"), "--port", str(port),
         "--script", str(script), "--delay", "0", "--chunk-size", "64"],
        stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "fake LLM server on ..."
    return proc, f"http://127.0.0.1:{port}"


async def one_run(n: int, model: str = "bench") -> list[ev.Event]:
    rlm = RLM(model=model, max_iterations=n + 1)
    run = rlm.start("benchmark", "some context")
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.status == "completed", run.result.error
    assert run.result.iterations == n + 1
    return events


def split(events: list[ev.Event]) -> dict[str, list[float]]:
    starts = {e.iteration: e.t for e in events if isinstance(e, ev.IterationStarted)}
    replies = {e.iteration: e.t for e in events if isinstance(e, ev.ReplyFinished)}
    blocks_s = {e.iteration: e.t for e in events if isinstance(e, ev.CodeBlockStarted)}
    blocks_f = {e.iteration: e.t for e in events if isinstance(e, ev.CodeBlockFinished)}
    out: dict[str, list[float]] = {"total": [], "backend": [], "code": [], "loop": []}
    for i in sorted(starts):
        if i + 1 not in starts or i not in blocks_f:
            continue
        total = starts[i + 1] - starts[i]
        backend = replies[i] - starts[i]
        code = blocks_f[i] - blocks_s[i]
        out["total"].append(total)
        out["backend"].append(backend)
        out["code"].append(code)
        out["loop"].append(total - backend - code)
    return out


def measure(n: int, runs: int, protocol: str, profile: bool) -> dict[str, list[float]]:
    parts: dict[str, list[float]] = {"total": [], "backend": [], "code": [], "loop": []}
    model = "bench" if protocol == "ollama" else "openai:bench"
    for _ in range(runs):
        proc, url = start_server(n)
        os.environ["OLLAMA_HOST"] = url
        os.environ["OPENAI_BASE_URL"] = url + "/v1"
        os.environ["OPENAI_API_KEY"] = "sk-loopback"
        try:
            if profile:
                prof = cProfile.Profile()
                prof.enable()
            events = asyncio.run(one_run(n, model))
            if profile:
                prof.disable()
                s = io.StringIO()
                pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(25)
                print(s.getvalue())
        finally:
            proc.terminate()
            proc.wait()
        for k, v in split(events).items():
            parts[k].extend(v)
    return parts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, nargs="+", default=[200])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--protocol", choices=("ollama", "openai"), default="ollama")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    os.environ["RLM_TUI_DATA_DIR"] = tempfile.mkdtemp(prefix="rlm-bench-")
    print(f"loop overhead per iteration, zero-latency loopback {args.protocol} fake server, "
          f"code run in the worker")
    for n in args.iterations:
        parts = measure(n, args.runs, args.protocol, args.profile)
        print(f"{args.runs} runs x {n} iterations ({len(parts['total'])} measured)")
        for k in ("total", "backend", "code", "loop"):
            v = sorted(parts[k])
            # the last tenth of the iterations: what the overhead has grown to by the end
            tail = sorted(v for i, v in enumerate(parts[k]) if i % n >= n - max(1, n // 10))
            print(f"  {k:8s} median {statistics.median(v) * 1000:6.2f} ms   "
                  f"p90 {v[int(len(v) * 0.9)] * 1000:6.2f} ms   "
                  f"last tenth median {statistics.median(tail) * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
