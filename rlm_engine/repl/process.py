"""Starting and ending a REPL worker process: its command line (under bubblewrap, under the
supervisor, or bare), a start that survives its caller being cancelled, the worker's pid on
the host, and an end that takes everything it started along.

Plain functions over an asyncio subprocess, apart from session.py so that the operating
system's side is in one place: the session holds the process and decides when; this module
knows how.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Optional

from . import sandbox as sb
from .supervisor import children

WORKER_PATH = str(Path(__file__).with_name("worker.py"))
SUPERVISOR_PATH = str(Path(__file__).with_name("supervisor.py"))


def command(config: sb.SandboxConfig, state: sb.SandboxState, scratch: str, fd: int,
            memory_mb: int, paths: list[str]) -> list[str]:
    """The worker's command line: under bwrap (which binds `paths` read-only), else under
    the supervisor on Linux, else the bare worker."""
    worker = [sys.executable, "-u", WORKER_PATH, str(fd), str(memory_mb)]
    if state.sandboxed:
        return sb.bwrap_argv(config, scratch, paths) + worker
    if not sys.platform.startswith("linux"):  # no prctl, no /proc: the bare worker
        return worker
    return [sys.executable, "-I", "-S", SUPERVISOR_PATH, str(os.getpid()), "--", *worker]


async def start(argv: list[str], child: socket.socket, scratch: str,
                sandboxed: bool) -> asyncio.subprocess.Process:
    """Start `argv` in `scratch`, in a session of its own, passing it `child` (closed here
    once the process exists); raises OSError when it cannot start."""
    # Shielded: asyncio's own clean-up of a process creation cancelled midway can wait
    # forever (seen with 3.11 when a run is stopped as its worker starts); instead the
    # creation finishes, and a cancelled caller's process is killed as soon as it exists.
    spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(
        *argv,
        pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=scratch, env=sb.worker_env(scratch, sandboxed),
        start_new_session=True,
    ))
    spawn.add_done_callback(lambda _: child.close())
    try:
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        spawn.add_done_callback(_discard_process)
        raise


def _discard_process(spawn: "asyncio.Future") -> None:
    """A worker process whose starter was cancelled: kill it and all it started."""
    if spawn.cancelled() or spawn.exception() is not None:
        return
    proc = spawn.result()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()


def find_worker(top: int, ns_pid: int) -> Optional[int]:
    """The host pid of the worker that calls itself `ns_pid`: it sits below the bwrap or
    supervisor process `top` (two or three levels down)."""
    todo = [(top, 0)]
    while todo:
        pid, depth = todo.pop()
        try:
            with open(f"/proc/{pid}/status") as fh:
                line = next((ln for ln in fh if ln.startswith("NSpid:")), "")
            if line and int(line.split()[-1]) == ns_pid and pid != top:
                return pid
        except (OSError, ValueError):
            pass
        if depth < 3:
            todo += [(k, depth + 1) for k in children(pid)]
    return None


async def end(proc: Optional[asyncio.subprocess.Process], worker: Optional[int],
              sandboxed: bool) -> None:
    """End `proc` and everything it started: under bwrap, killing bwrap ends its PID
    namespace; else the supervisor, asked with SIGTERM, kills all it adopted. Then wait
    (bounded) until the `worker` pid is gone too."""
    if proc is not None and proc.returncode is None and not sandboxed:
        try:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 2.0)
        except (ProcessLookupError, asyncio.TimeoutError):
            pass
    if proc is not None and proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except asyncio.TimeoutError:
            pass
    # under bwrap the worker dies a moment after bwrap (its PID namespace is torn
    # down when bwrap's child notices): closed means gone, so wait for it (bounded)
    if worker is not None:
        await _exited(worker, 2.0)


async def _exited(pid: int, timeout: float) -> None:
    """Wait until process `pid` has exited (its pidfd turns readable), at most `timeout`.
    Without pidfds (not Linux, or a kernel before 5.3) there is nothing to wait on: return."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return
    try:
        fd = pidfd_open(pid)
    except OSError:  # gone already, or no pidfd support in this kernel
        return
    exited = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        loop.add_reader(fd, exited.set)
        try:
            await asyncio.wait_for(exited.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)


def close_transport(proc: Optional[asyncio.subprocess.Process]) -> None:
    """Close asyncio's transport of a dead worker now, not when the GC finds it."""
    transport = getattr(proc, "_transport", None)
    if transport is not None and not transport.is_closing():
        transport.close()


async def exit_code(proc: Optional[asyncio.subprocess.Process]) -> Optional[int]:
    """`proc`'s exit code, waiting at most 2 s for it; None if it has none by then."""
    if proc is None:
        return None
    try:
        return await asyncio.wait_for(proc.wait(), 2.0)
    except asyncio.TimeoutError:
        return None


def how_it_ended(code: Optional[int], sandboxed: bool) -> str:
    """An exit code in words ("exit code 1", "killed by signal 9")."""
    if code is not None and code > 128 and sandboxed:
        code = 128 - code  # bwrap exits 128 + N for a worker killed by signal N
    return f"exit code {code}" if code is not None and code >= 0 else (
        f"killed by signal {-code}" if code is not None else "no exit code")
