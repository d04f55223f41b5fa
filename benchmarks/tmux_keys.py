"""How fast do keys answer in the real terminal? Runs `rlm-tui` under tmux against the loopback
fake server, sends keys with `tmux send-keys` and polls `tmux capture-pane` until the screen
shows their effect. This is what a user sees: the terminal's own contents, not the app's idea
of them (ui_flood.py measures the same floods headless, from inside the app).

  stdout   F1 -> help on screen while a block prints 10 MB          (target: median < 100 ms)
  reply    F1 -> help on screen while a 5,000-line reply streams     (target: median < 250 ms)
  huge     Esc -> "cancelled" on screen during a 50 MB one-line reply (target: < 1 s)
  step     `[` / `]` -> the usage pane names the new iteration, after a 30-iteration run,
           stepping across the 12-step window's edge too               (house rule: < 100 ms)

Each F1 is followed by Esc (help gone) before the next one. A poll of capture-pane costs a few
ms, so figures are a few ms above the truth. Needs tmux and the project's .venv.

Usage: python benchmarks/tmux_keys.py [--cases stdout reply huge step] [--presses 5]
       [--size 160x48]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fake_llm_server import FakeLLMServer, Reply  # noqa: E402
from ui_flood import CASES as FLOODS  # noqa: E402

SESSION = "rlm-keys-bench"
HELP_MARK = "Commands (type in the input box)"
STEP_RUN = 30


def pane() -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION],
                          capture_output=True, text=True, check=False).stdout


def keys(*names: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", SESSION, *names], check=True)


def wait_for(condition, timeout: float = 120.0, what: str = "") -> float:
    """Poll the pane until condition(text) holds; the time it took (seconds)."""
    start = time.perf_counter()
    while True:
        if condition(pane()):
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"the screen never showed {what or 'the expected state'}:\n"
                               + pane())
        time.sleep(0.002)


def start_app(server: FakeLLMServer, size: str, data: str, max_iterations: int) -> None:
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True, check=False)
    exe = ROOT / ".venv" / "bin" / "rlm-tui"
    env = {"OLLAMA_HOST": server.url, "RLM_TUI_DATA_DIR": data,
           "RLM_TUI_CONFIG_DIR": data + "/config", "TERM": "xterm-256color"}
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command += f" {shlex.quote(str(exe))} -m bench --max-iterations {max_iterations}"
    w, h = size.split("x")
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", w, "-y", h, command],
                   check=True)
    wait_for(lambda t: "ready" in t, 60, "ready")


def ask(question: str) -> None:
    keys("-l", question)
    keys("Enter")


def med(values: list[float]) -> str:
    ms = sorted(round(v * 1000) for v in values)
    return f"median {statistics.median(ms):5.0f} ms (of {len(ms)}: {ms})"


def flood(case: str, presses: int, size: str, data: str) -> None:
    name, script = FLOODS[case]
    server = FakeLLMServer({"bench": script}).start()
    try:
        start_app(server, size, data, 15)
        ask("go")
        if case == "huge":
            wait_for(lambda t: "zzzzzzzz" in t, 60, "the reply streaming")
            keys("Escape")
            took = wait_for(lambda t: "cancelled" in t, 60, "cancelled")
            print(f"{name:20s} Esc -> 'cancelled' on screen {took * 1000:6.0f} ms")
            return
        mark = "xxxxxxxx" if case == "stdout" else "line 1"
        wait_for(lambda t: mark in t, 60, "the flood")
        times = []
        for _ in range(presses):
            if "completed" in pane():
                break
            keys("F1")
            times.append(wait_for(lambda t: HELP_MARK in t, 30, "help"))
            keys("Escape")
            wait_for(lambda t: HELP_MARK not in t, 30, "help closed")
        print(f"{name:20s} F1 -> help on screen {med(times)}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True,
                       check=False)
        server.stop()


def step(presses: int, size: str, data: str) -> None:
    replies = [Reply(text=f"Step {i}.\n```repl\nv{i} = {i}\nprint('step', {i})\n```\n")
               for i in range(1, STEP_RUN)] + [Reply(text="FINAL(done)")]
    server = FakeLLMServer({"bench": replies}).start()
    try:
        start_app(server, size, data, STEP_RUN + 1)
        ask("go")
        wait_for(lambda t: "completed" in t, 120, "the run completed")
        keys("Escape")  # to the input box, which is empty: [ and ] step from it
        back, fore = [], []
        n = STEP_RUN
        for _ in range(presses * 2):  # back across the window's edge, then forward
            keys("[")
            n -= 1
            back.append(wait_for(lambda t, n=n: f"iteration {n} of" in t, 30, f"iteration {n}"))
        for _ in range(presses * 2):
            keys("]")
            n += 1
            fore.append(wait_for(lambda t, n=n: f"iteration {n} of" in t, 30, f"iteration {n}"))
        print(f"step back  ([)       {med(back)}")
        print(f"step ahead (])       {med(fore)}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True,
                       check=False)
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="+", default=["stdout", "reply", "huge", "step"],
                    choices=["stdout", "reply", "huge", "step"])
    ap.add_argument("--presses", type=int, default=5)
    ap.add_argument("--size", default="160x48")
    args = ap.parse_args()
    if shutil.which("tmux") is None or not (ROOT / ".venv" / "bin" / "rlm-tui").exists():
        sys.exit("tmux_keys.py needs tmux on PATH and the project's .venv (make .venv/.installed)")
    data = tempfile.mkdtemp(prefix="rlm-keys-")
    print(f"rlm-tui under tmux {args.size}, loopback Ollama fake server; "
          f"load average {os.getloadavg()[0]:.1f}")
    for case in args.cases:
        if case == "step":
            step(args.presses, args.size, data)
        else:
            flood(case, args.presses, args.size, data)


if __name__ == "__main__":
    main()
