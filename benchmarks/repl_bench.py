"""REPL sandbox figures, sandboxed (bubblewrap) and unsandboxed (the supervised fallback).

  probe        the one-time check that bwrap works here (cached for the process)
  start        a worker started until it is ready (median of 20), per mode
  round trip   `x = 1` executed in a warm worker (median, p90), and an `llm_query` answered
               at once by the engine (mean of 1000), per mode
  close        closing a worker whose model code left a setsid daemon holding its stdout
               (median of 5), per mode: the daemon is killed, quit does not wait on it
  1 GiB load   a 1 GiB text file loaded as `context` (the worker reads it and counts its
               lines), against a plain `open().read()` of the same file in a separate
               process, both with the file in the page cache, alternated 3 times (medians);
               and this (the app's) process's peak memory above its baseline
  batched      llm_query_batched of 16 prompts against a backend answering each in 0.5 s,
               concurrency limit 8

Usage: python benchmarks/repl_bench.py [--gib 1.0] [--skip-load]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from rlm_engine import RLM  # noqa: E402
from rlm_engine import events as ev  # noqa: E402
from rlm_engine.repl import sandbox as sb  # noqa: E402
from rlm_engine.repl.session import ContextSource, ReplSession  # noqa: E402

MODES = {"sandboxed": sb.SandboxConfig(mode="on"), "unsandboxed": sb.SandboxConfig(mode="off")}
DAEMON = """
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"])
    os._exit(0)
os.wait()
"""


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def modes() -> dict:
    t = time.perf_counter()
    ok, why = sb.probe()
    print(f"probe: {(time.perf_counter() - t) * 1000:.0f} ms, "
          f"{'bwrap works' if ok else 'no sandbox: ' + why}")
    return MODES if ok else {"unsandboxed": MODES["unsandboxed"]}


async def start_close(name: str, config: sb.SandboxConfig, n: int = 20) -> None:
    starts, closes = [], []
    for i in range(n):
        s = ReplSession(sandbox=config)
        t = time.perf_counter()
        await s.start()
        starts.append(time.perf_counter() - t)
        if i < 5:
            await s.execute(DAEMON)
            t = time.perf_counter()
            await s.close()
            closes.append(time.perf_counter() - t)
        else:
            await s.close()
    print(f"{name}: worker start median {statistics.median(starts) * 1000:.0f} ms; "
          f"close with a setsid daemon median {statistics.median(closes) * 1000:.0f} ms")


async def round_trip(name: str = "", config: "sb.SandboxConfig | None" = None,
                     n: int = 3000) -> None:
    s = ReplSession(sandbox=config)
    queries: list[str] = []
    await s.start()
    for _ in range(200):
        await s.execute("x = 1")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await s.execute("x = 1")
        times.append(time.perf_counter() - t)
    async def answer(request: dict) -> list:
        return [{"text": "ok"} for _ in request["prompts"]]

    res = await s.execute("import time\nt = time.perf_counter()\n"
                          "for _ in range(1000):\n    llm_query('q')\n"
                          "print((time.perf_counter() - t) / 1000)", on_query=answer,
                          on_output=lambda st, d: queries.append(d))
    await s.close()
    times.sort()
    print(f"{name}: llm_query round trip to an instant handler: "
          f"{float(''.join(queries)) * 1000:.3f} ms (mean of 1000){res.error or ''}")
    print(f"{name}: round trip `x = 1`: median {statistics.median(times) * 1000:.3f} ms, "
          f"p90 {times[int(n * 0.9)] * 1000:.3f} ms ({n} blocks)")


def make_file(path: Path, gib: float) -> None:
    line = ("the quick brown fox jumps over the lazy dog 0123456789 " * 2)[:99] + "\n"
    block = line * 10_000
    with open(path, "w") as fh:
        for _ in range(int(gib * (1 << 30)) // len(block)):
            fh.write(block)


async def load(gib: float, rounds: int = 3) -> None:
    """Alternate a plain read and our load, `rounds` times each (a fresh worker each time,
    as a user's first load), so machine noise falls on both; report the medians."""
    path = Path(tempfile.mkdtemp(prefix="rlm-bench-")) / "big.txt"
    make_file(path, gib)
    size = path.stat().st_size
    read = ("import time,sys; t=time.perf_counter(); d=open(sys.argv[1]).read(); "
            "print(time.perf_counter()-t)")
    subprocess.run([sys.executable, "-c", read, str(path)], capture_output=True)  # warm cache
    plains, ours, peaks = [], [], []
    for _ in range(rounds):
        plains.append(float(subprocess.run([sys.executable, "-c", read, str(path)],
                                            capture_output=True, text=True).stdout))
        s = ReplSession(memory_mb=max(4096, int(size / (1 << 20)) + 1024))
        base = peak_rss_mib()
        t = time.perf_counter()
        info = await s.set_context(ContextSource(path=str(path), name=path.name))
        ours.append(time.perf_counter() - t)
        peaks.append(peak_rss_mib() - base)
        await s.close()
    path.unlink()
    plain, mine = statistics.median(plains), statistics.median(ours)
    print(f"load {size / (1 << 30):.2f} GiB ({info['chars']:,} chars, {info['lines']:,} lines), "
          f"median of {rounds}: {mine:.2f} s as `context` vs {plain:.2f} s plain read = "
          f"{mine / plain:.2f}x; app process peak +{max(peaks):.0f} MiB")
    print(f"  samples: ours {', '.join(f'{x:.2f}' for x in ours)} s; "
          f"plain {', '.join(f'{x:.2f}' for x in plains)} s")


async def batched() -> None:
    from fake_llm_server import FakeLLMServer, Reply
    server = FakeLLMServer({
        "root": [Reply(text="```repl\nr = llm_query_batched([f'p{i}' for i in range(16)])\n```\n"),
                 Reply(text="FINAL(ok)")],
        "sub": lambda msgs: Reply(text="ok", first_delay=0.5),
    }).start()
    os.environ["OLLAMA_HOST"] = server.url
    rlm = RLM(model="root", recursive_model="sub", max_concurrent_subcalls=8,
              save_trajectory=False)
    run = rlm.start("q")
    durations = [e.duration async for e in run if isinstance(e, ev.CodeBlockFinished)]
    await rlm.aclose()
    server.stop()
    print(f"llm_query_batched 16 prompts x 0.5 s, limit 8: {durations[0]:.2f} s "
          f"(serial would be 8.0 s); most requests at once at the server: {server.max_in_flight}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--skip-load", action="store_true")
    args = ap.parse_args()
    for name, config in modes().items():
        asyncio.run(start_close(name, config))
        asyncio.run(round_trip(name, config))
    if not args.skip_load:
        asyncio.run(load(args.gib))
    asyncio.run(batched())


if __name__ == "__main__":
    main()
