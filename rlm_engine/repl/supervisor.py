"""The unsandboxed worker's keeper: ``python supervisor.py APP_PID -- python worker.py ...``.

Without bubblewrap there is no PID namespace to end everything model code started, so this
small process sits between the app and the worker and does it:

- it is a child subreaper (PR_SET_CHILD_SUBREAPER): processes model code starts, even ones
  that call setsid() or fork twice, are reparented to it, never to init;
- when the worker exits, or the app asks (SIGTERM), or the app dies (PR_SET_PDEATHSIG),
  it kills every descendant (SIGKILL, repeated until none is left) and exits, mirroring
  the worker's exit status;
- it drops every capability (bounding set included) before starting the worker, so a worker
  run as root cannot use CAP_SYS_PTRACE to read the non-dumpable app's /proc/<pid>/environ;
- model code that kills its parent (``os.kill(os.getppid(), SIGTERM)``) kills this process,
  not the app: the worker is then ended and restarted.

What it cannot do: model code running as your user can still find the app's pid and signal
it, or SIGKILL this supervisor first and leave orphans behind. The bubblewrap sandbox closes
both. Standard library only; started with ``-I -S`` so it costs little.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CAP_VERSION_3 = 0x20080522


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def drop_capabilities(libc: ctypes.CDLL) -> None:
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails harmlessly past the last cap
    header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2, all empty
    libc.capset(header, data)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def children(pid: int) -> list[int]:
    """From /proc/PID/task/*/children, or every process's parent where the kernel lacks it."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(k) for k in fh.read().split()]
        return out
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        return out
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return out


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def reap() -> list[tuple[int, int]]:
    done: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append((pid, status))


def sweep() -> None:
    """Kill every descendant; orphans of the killed come to us (subreaper), so repeat."""
    me = os.getpid()
    for _ in range(1000):
        kids = descendants(me)
        if not kids:
            reap()
            return
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        reap()
        try:  # wait for one to go, so the loop does not spin
            os.waitpid(-1, 0)
        except ChildProcessError:
            pass


def main() -> None:
    app = int(sys.argv[1])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    libc = _libc()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != app:  # the app died before PDEATHSIG was set
        return
    drop_capabilities(libc)
    watched = {signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    worker = os.fork()
    if worker == 0:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        os.execv(cmd[0], cmd)
    status = None
    while status is None:
        info = signal.sigtimedwait(watched, 1.0)
        if info is None:
            if os.getppid() != app:
                break
            continue
        if info.si_signo != signal.SIGCHLD:
            break
        for pid, st in reap():
            if pid == worker:
                status = st
    sweep()
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be handled
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)  # die the way the worker did, so the app can say how
    sys.exit(os.waitstatus_to_exitcode(status) if status is not None else 0)


if __name__ == "__main__":
    main()
