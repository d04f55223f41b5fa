"""What checking every line costs, and what a hostile file can still make us spend.

1. Read-back of a long run (the 100-iteration, 1 MB trajectory of trajectory_size.py): the
   time of `load_trajectory` (every line checked by rlm_engine/schema.py) against decoding
   the same lines unchecked (`event_from_dict`), best of 15.
2. `rlm-tui export` of the shipped example with every block index set to 10**9 (the 9 KB file
   that used to grow export to ~24 GB): wall time and peak RSS of the command, next to the
   same for the undamaged example.

Usage: python benchmarks/hostile_files.py [--iterations 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from trajectory_size import record  # noqa: E402

from rlm_engine.events import event_from_dict  # noqa: E402
from rlm_engine.trajectory import load_trajectory  # noqa: E402

EXAMPLE = ROOT / "rlm_tui" / "examples" / "example-2-fix-an-error.jsonl"
RLM_TUI = str(Path(sys.executable).with_name("rlm-tui"))


def best(fn, times: int = 15) -> float:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return min(out)


def unchecked(path: Path) -> None:
    for line in path.read_text().splitlines():
        data = json.loads(line)
        if data.get("type") != "trajectory":
            event_from_dict(data)


def export_cost(path: Path) -> tuple[float, int]:
    """(seconds, peak RSS in MB) of `rlm-tui export path`, in a process of its own."""
    code = ("import resource, sys\nfrom rlm_tui.cli import main\n"
            "main(['export', sys.argv[1], '-o', '/dev/null'])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                       capture_output=True, text=True)
    return time.perf_counter() - start, int(p.stdout.split()[-1]) // 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        import os
        os.environ["RLM_TUI_DATA_DIR"] = tmp
        path = asyncio.run(record(args.iterations))
        lines = len(path.read_text().splitlines())
        checked_s = best(lambda: load_trajectory(path))
        raw_s = best(lambda: unchecked(path))
        print(f"read-back of {lines:,} lines ({path.stat().st_size / 1e6:.1f} MB): "
              f"checked {checked_s * 1000:.0f} ms, unchecked {raw_s * 1000:.0f} ms "
              f"(+{(checked_s / raw_s - 1) * 100:.0f}%)")
        damaged = Path(tmp) / "huge-index.jsonl"
        rows = [json.loads(x) for x in EXAMPLE.read_text().splitlines()]
        for row in rows:
            if "index" in row:
                row["index"] = 10 ** 9
        damaged.write_text("".join(json.dumps(r) + "\n" for r in rows))
        ok_s, ok_mb = export_cost(EXAMPLE)
        bad_s, bad_mb = export_cost(damaged)
        print(f"export of the example: {ok_s:.2f} s, {ok_mb} MB peak RSS; with every index "
              f"10**9 ({damaged.stat().st_size / 1024:.0f} KB): {bad_s:.2f} s, {bad_mb} MB")


if __name__ == "__main__":
    main()
