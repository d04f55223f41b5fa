"""Where model code runs: under bubblewrap when the system allows it, else in a supervised
plain process. This module decides which, builds the command line, and says so in one line.

Sandboxed (``bwrap`` found and namespaces allowed; probed once per process, cached): the
worker gets its own user, PID, network, IPC, UTS and mount namespaces. It sees, read-only:
``/usr`` and the ``/bin``/``/lib*`` links, the Python installation and virtualenv it runs
from, the worker's own directory, ``/etc/ld.so.cache`` and ``/etc/localtime``, the context
file or directory, and any extra paths the user binds. It sees nothing else of the host (no
``/home``, ``/root``, ``/etc/passwd``, ``/tmp``, ``/sys``): the root is an empty read-only
tmpfs. It writes only to its scratch directory (its working directory, ``$HOME`` and
``$TMPDIR``) and a 64 MiB ``/dev/shm``. It has no capabilities (even when the app runs as
root), a ``/proc`` of its own (the app is invisible there), a minimal read-only ``/dev``, no
network unless allowed (loopback only, its own), and dies with the app.

Unsandboxed (the fallback, or turned off): ``supervisor.py`` runs the worker as a
subreaper with no capabilities (see its docstring); the state says how to enable the sandbox.

Settings (``SandboxConfig``): ``mode`` auto (default: sandbox when possible) / on (refuse to
run unsandboxed) / off; ``network`` (share the host's network); ``binds`` (extra read-only
paths). The command line has ``--no-sandbox``, ``--sandbox-network`` and ``--sandbox-bind``;
the environment ``RLM_TUI_SANDBOX=auto|on|off``, ``RLM_TUI_SANDBOX_NETWORK=1`` and
``RLM_TUI_SANDBOX_BINDS=path:path`` (read by ``SandboxConfig.from_env``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

REPL_DIR = str(Path(__file__).resolve().parent)
ENABLE_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt install bubblewrap) "
               "to sandbox model code")
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_PASSED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
SHM_BYTES = 64 << 20


@dataclass(frozen=True)
class SandboxConfig:
    mode: str = "auto"  # auto | on | off
    network: bool = False
    binds: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "SandboxConfig":
        env = os.environ if environ is None else environ
        mode = env.get("RLM_TUI_SANDBOX", "auto").strip().lower() or "auto"
        if mode in ("0", "false", "no"):
            mode = "off"
        if mode not in ("auto", "on", "off"):
            mode = "auto"
        network = env.get("RLM_TUI_SANDBOX_NETWORK", "").strip().lower() in (
            "1", "true", "yes", "on")
        binds = tuple(str(Path(p).expanduser().resolve())
                      for p in env.get("RLM_TUI_SANDBOX_BINDS", "").split(os.pathsep) if p)
        return cls(mode=mode, network=network, binds=binds)

    def with_flags(self, *, no_sandbox: bool = False, network: bool = False,
                   binds: Sequence[str] = ()) -> "SandboxConfig":
        """The command line's flags on top of these settings."""
        return SandboxConfig(mode="off" if no_sandbox else self.mode,
                             network=self.network or network,
                             binds=self.binds + tuple(str(Path(b).expanduser().resolve())
                                                      for b in binds))


@dataclass(frozen=True)
class SandboxState:
    """What model code runs in, for the header, `ask --json` and the trajectory."""

    sandboxed: bool
    reason: str = ""  # why not, when not
    network: bool = False
    binds: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        if self.sandboxed:
            return "sandboxed" + (" +net" if self.network else "")
        return "unsandboxed"

    @property
    def detail(self) -> str:
        """One line: what the state is, and for an unsandboxed one, why and how to enable."""
        if self.sandboxed:
            net = "with the host's network" if self.network else "no network"
            return f"model code runs sandboxed (bubblewrap, {net}, files read-only)"
        return f"model code runs unsandboxed: {self.reason}"

    def to_dict(self) -> dict:
        return {"sandboxed": self.sandboxed, "label": self.label, "detail": self.detail,
                "network": self.network, "binds": list(self.binds)}


class SandboxUnavailable(Exception):
    pass


_probe_lock = threading.Lock()
_probe_result: Optional[tuple[bool, str]] = None


def probe() -> tuple[bool, str]:
    """(True, "") when bwrap can build our sandbox here, else (False, why + how to enable).
    Runs `python -c pass` in the real sandbox once per process (about 50 ms), then cached."""
    global _probe_result
    with _probe_lock:
        if _probe_result is None:
            _probe_result = _probe()
        return _probe_result


def _probe() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"no sandbox on {sys.platform} (bubblewrap is Linux only)"
    if shutil.which("bwrap") is None:
        return False, f"bwrap not found; {ENABLE_HINT}"
    scratch = tempfile.mkdtemp(prefix="rlm-probe-")
    try:
        argv = bwrap_argv(SandboxConfig(), scratch, ()) + [sys.executable, "-c", "pass"]
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=20, env=worker_env(scratch, True))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start ({exc}); {ENABLE_HINT}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why_line = why[-1] if why else f"exit code {done.returncode}"
        return False, (f"bwrap cannot create namespaces here ({why_line}); allow unprivileged "
                       f"user namespaces (sysctl kernel.unprivileged_userns_clone=1) to sandbox "
                       f"model code")
    return True, ""


def state_for(config: SandboxConfig) -> SandboxState:
    """What a worker started now with `config` would run in. Raises SandboxUnavailable for
    mode "on" where the sandbox cannot be built."""
    if config.mode == "off":
        return SandboxState(False, "turned off (--no-sandbox or RLM_TUI_SANDBOX=off)")
    ok, why = probe()
    if ok:
        return SandboxState(True, network=config.network, binds=config.binds)
    if config.mode == "on":
        raise SandboxUnavailable(f"the sandbox is required (RLM_TUI_SANDBOX=on) but {why}")
    return SandboxState(False, why)


def worker_env(scratch: str, sandboxed: bool) -> dict:
    """A clean environment: no API keys, no tokens, nothing the user did not mean to share."""
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.update(HOME=scratch, TMPDIR=scratch, PYTHONDONTWRITEBYTECODE="1",
               PYTHONIOENCODING="utf-8",
               PATH="/usr/local/bin:/usr/bin:/bin" if sandboxed
               else os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    return env


def _python_dirs() -> list[str]:
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            str(Path(sys.executable).parent), str(Path(os.path.realpath(sys.executable)).parent)}
    return sorted(d for d in dirs if d and not d.startswith("/usr/") and d != "/usr")


def bwrap_argv(config: SandboxConfig, scratch: str, paths: Sequence[str]) -> list[str]:
    """The bwrap command up to (and including) ``--``; `paths` are bound read-only."""
    # --cap-drop ALL: run by root, bwrap would leave the worker every capability in its
    # user namespace, enough to remount its read-only binds writable
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if config.network:
        args.append("--share-net")
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in _ETC_FILES:
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    for d in _python_dirs():
        args += ["--ro-bind-try", d, d]
    args += ["--ro-bind", REPL_DIR, REPL_DIR, "--proc", "/proc", "--dev", "/dev"]
    # /dev is a tmpfs: read-only but for a small /dev/shm (multiprocessing's semaphores),
    # so it cannot hold memory past the worker's cap (bwrap before 0.7 has no --size)
    if _has_size_option():
        args += ["--size", str(SHM_BYTES)]
    args += ["--tmpfs", "/dev/shm", "--remount-ro", "/dev", "--bind", scratch, scratch]
    for p in (*config.binds, *paths):
        args += ["--ro-bind-try", p, p]
    args += ["--chdir", scratch, "--remount-ro", "/", "--"]
    return args


_size_option: Optional[bool] = None


def _has_size_option() -> bool:
    global _size_option
    if _size_option is None:
        try:
            done = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10)
            _size_option = "--size" in done.stdout + done.stderr
        except (OSError, subprocess.TimeoutExpired):
            _size_option = False
    return _size_option


def make_non_dumpable() -> bool:
    """Mark this process non-dumpable (Linux), so processes of the same user, model code
    among them, cannot read its /proc/<pid>/environ (API keys) or memory. True if done."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        return False
