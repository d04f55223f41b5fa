"""The engine's side of the REPL: one worker process per session, and what to do when it
misbehaves.

Model code runs in its own process (a crash, `os._exit`, `sys.exit()`, a runaway loop or a
memory bomb cannot take the app down) with a clean environment (no API keys), a fresh
scratch directory, a capped address space (RLIMIT_AS, `memory_mb`, default 4096) and a
wall-time limit per block (`block_timeout`, default 120 s) after which it is interrupted, and
killed and restarted if it ignores that. The app's own process is made non-dumpable, so model
code cannot read its environment through /proc.

Where bubblewrap works (sandbox.py), the worker runs in its own namespaces: no network, the
host's files hidden or read-only, its own PID namespace (everything it starts dies with it).
Elsewhere it runs under supervisor.py, which ends what it starts; `sandbox_state` says which.

A path context is loaded by a fresh worker before its memory cap is applied, so the file's
mapping and its decoded text do not both count against the cap (a 2 GiB file loads under a
4 GiB cap); loading one restarts the worker, so variables do not survive a new context file.

This file holds a session's state and decides when to start, load, run, interrupt and
restart; the how is in small modules it calls: process.py (starting and ending the process),
wire.py (the messages on its socket), context_source.py (what a context is and its load
request), execution.py (what a running block's messages mean, and its result).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import tempfile
import time
from typing import Optional

from ..config import RunConfig
from ..errors import ReplError, WorkerDied
from . import context_source, execution, process
from . import sandbox as sb
from .context_source import ContextSource, load_timeout
from .execution import BlockResult, OutputSink, QueryHandler
from .wire import Channel, message_limit


class ReplSession:
    """A live worker. All methods are coroutines; one block runs at a time."""

    def __init__(self, *, memory_mb: int = RunConfig.memory_mb,
                 block_timeout: Optional[float] = RunConfig.block_timeout,
                 interrupt_grace: float = 0.5,
                 sandbox: Optional[sb.SandboxConfig] = None,
                 context_timeout: Optional[float] = None) -> None:
        self.memory_mb = memory_mb
        self.context_timeout = context_timeout  # None: load_timeout(source), by size
        self.block_timeout = block_timeout
        self.interrupt_grace = interrupt_grace
        self.sandbox = sandbox if sandbox is not None else sb.SandboxConfig.from_env()
        self._state: Optional[sb.SandboxState] = None
        self._worker_pid: Optional[int] = None  # the worker's host pid (SIGINT goes there)
        self._fresh = False  # started, and nothing loaded or run yet
        self._died_idle = ""  # how a worker found dead between requests died, for the model
        self._boot_log = b""  # what the worker wrote to stderr before it was ready
        self.context_info: dict = {}
        self._source = ContextSource()
        self._proc: Optional[asyncio.subprocess.Process] = None
        self._chan = Channel(on_send=self._asked)  # the worker's socket (wire.py)
        self._tasks: list[asyncio.Task] = []
        self._lock = asyncio.Lock()
        self._sink: Optional[OutputSink] = None
        self._last_vars: list[str] = []
        self._tmpdir: Optional[str] = None
        self._exec_id = 0
        # root runs that used this worker, in order: a fork of a later one (fork.py) re-runs
        # the earlier ones first, since their variables are part of its state
        self.run_ids: list[str] = []

    def _asked(self) -> None:
        self._fresh = False  # the worker applies its memory cap after its first request

    @property
    def _inbox(self) -> asyncio.Queue:
        """The messages read and not yet taken (a test checks it stays small)."""
        return self._chan.inbox

    @property
    def source(self) -> ContextSource:
        """Where the loaded context came from (a fork finds it again through this)."""
        return self._source

    @property
    def pid(self) -> Optional[int]:
        """The worker's pid on the host (under bwrap, not the pid it sees itself)."""
        return self._worker_pid

    @property
    def sandbox_state(self) -> sb.SandboxState:
        """What model code runs in (probing bwrap once, cached, when nothing has started)."""
        if self._state is None:
            try:
                return sb.state_for(self.sandbox)
            except sb.SandboxUnavailable as exc:
                return sb.SandboxState(False, str(exc))
        return self._state

    # -- process lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Start the worker, with the current context, unless one is alive. A worker found
        dead while idle is replaced the same way."""
        if self._proc is not None:
            if self._proc.returncode is None:
                return
            self._died_idle = f"({self._how(self._proc.returncode)}); {self._lost_names()}"
            await self.close()
        await self._spawn()
        await self._load_current()

    def _command(self, fd: int) -> list[str]:
        assert self._tmpdir is not None and self._state is not None
        src = self._source
        paths = [src.path] if src.path is not None else []
        return process.command(self.sandbox, self._state, self._tmpdir, fd, self.memory_mb, paths)

    async def _spawn(self) -> None:
        sb.make_non_dumpable()
        try:
            self._state = await asyncio.to_thread(sb.state_for, self.sandbox)
        except sb.SandboxUnavailable as exc:
            raise ReplError(str(exc)) from None
        self._tmpdir = tempfile.mkdtemp(prefix="rlm-repl-")
        parent, child = socket.socketpair()
        argv = self._command(child.fileno())
        try:
            self._proc = await process.start(argv, child, self._tmpdir, self._state.sandboxed)
        except asyncio.CancelledError:
            parent.close()
            raise
        except OSError as exc:
            parent.close()
            raise ReplError(f"cannot start the REPL worker: {exc}") from exc
        # a message can be as big as the worker's memory (a FINAL_VAR of a big value is one
        # long line), never bigger: a worker claiming more is treated as dead (wire.py)
        limit = message_limit(self.memory_mb)
        reader = await self._chan.open(parent, limit)
        self._tasks = [
            asyncio.create_task(self._chan.read_messages(reader, limit,
                                                         dropping=lambda: self._sink is None)),
            asyncio.create_task(self._drain_fd(self._proc.stdout, "stdout")),
            asyncio.create_task(self._drain_fd(self._proc.stderr, "stderr")),
        ]
        self._boot_log = b""
        try:
            header = await self._chan.next(timeout=30.0)
        except (WorkerDied, asyncio.TimeoutError):
            await self._exit_code()  # its stderr is read by now
            lines = self._boot_log.decode("utf-8", "replace").strip().splitlines()
            why = f": {lines[-1]}" if lines else " (no 'ready' within 30 s)"
            await self.close()
            raise ReplError(f"the REPL worker did not start{why}") from None
        if header.get("op") != "ready":
            await self.close()
            raise ReplError(f"the REPL worker sent {header.get('op')!r} instead of 'ready'")
        self._worker_pid = process.find_worker(self._proc.pid, int(header.get("pid", 0)))
        if self._worker_pid is None and not self._state.sandboxed:
            self._worker_pid = int(header.get("pid", 0)) or None  # its pid is a host pid
        self._fresh = True

    async def close(self) -> None:
        """End the worker and everything it started: under bwrap, killing bwrap ends its
        PID namespace; else the supervisor, asked with SIGTERM, kills all it adopted."""
        proc, self._proc = self._proc, None
        tasks, self._tasks = self._tasks, []
        worker, self._worker_pid, self._fresh = self._worker_pid, None, False
        self._chan.close()
        sandboxed = self._state is not None and self._state.sandboxed
        try:
            await process.end(proc, worker, sandboxed)
            # the dead worker's pipes reach EOF, so the readers end by themselves and the
            # subprocess transport closes (cancelling them first left it to the GC)
            if tasks:
                await asyncio.wait(tasks, timeout=1.0)
        finally:  # even when closing is itself cancelled, nothing is left to the GC
            for task in tasks:
                if not task.done():
                    task.cancel()
            process.close_transport(proc)
            if self._tmpdir:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None

    async def restart(self) -> None:
        """A fresh worker with the context reloaded (if that fails, it starts without one)."""
        await self.close()
        await self._spawn()
        await self._load_current()

    async def _load_current(self) -> None:
        src = self._source
        if src.path is not None or src.value is not None or src.pickled is not None:
            try:
                await asyncio.wait_for(self._load(src), self._load_timeout(src))
            except (ReplError, asyncio.TimeoutError):
                self._source, self.context_info = ContextSource(), {}
                await self.close()
                await self._spawn()

    async def _drain_fd(self, stream: Optional[asyncio.StreamReader], name: str) -> None:
        """Output written to the worker's real fds (os.write, subprocesses, C code)."""
        if stream is None:
            return
        while True:
            data = await stream.read(1 << 16)
            if not data:
                return
            if self._sink is not None:
                self._sink(name, data.decode("utf-8", "replace"))
            elif name == "stderr" and not self._fresh and len(self._boot_log) < 4096:
                self._boot_log += data  # bwrap's or Python's complaint before 'ready'

    async def _exit_code(self) -> Optional[int]:
        return await process.exit_code(self._proc)

    # -- context ---------------------------------------------------------------------------
    async def set_context(self, source: ContextSource) -> dict:
        """Load `context` into the worker once. Returns its description (type, size, preview).

        A file or directory is loaded by a fresh worker (restarted if it already ran code or
        holds a context) that sees it read-only, before its memory cap applies. The load has
        a time limit (`load_timeout`); a worker that dies or hangs loading is restarted with
        the previous context, and a one-line ReplError says what happened."""
        async with self._lock:
            if source.path is not None:
                context_source.check_size(source.path, self.memory_mb)
                old, self._source = self._source, source  # the new worker binds this path
                if self._proc is not None and not (self._fresh and self._state is not None
                                                   and not self._state.sandboxed):
                    await self.close()
            else:
                old = self._source
            try:
                if source.path is not None and self._proc is None:
                    await self._spawn()  # it binds source.path; loaded just below
                else:
                    await self.start()
                info = await asyncio.wait_for(self._load(source), self._load_timeout(source))
            except asyncio.TimeoutError:
                await self._recover(old)
                raise ReplError(f"loading the context took longer than "
                                f"{self._load_timeout(source):g} s and was stopped") from None
            except WorkerDied:
                code = await self._exit_code()
                await self._recover(old)
                raise ReplError(f"the REPL worker died loading the context ({self._how(code)}); "
                                f"too big for --memory-mb {self.memory_mb}?") from None
            except ReplError:
                await self._recover(old)
                raise
            except BaseException:  # cancelled: no waiting on a new worker now
                self._source = old
                await asyncio.shield(self.close())
                raise
            self._source = source  # only now: a failed load leaves the old source to reload
            return info

    def _load_timeout(self, source: ContextSource) -> float:
        return self.context_timeout if self.context_timeout is not None else load_timeout(source)

    async def _recover(self, old: ContextSource) -> None:
        """After a failed load: a fresh worker holding the previous context (or none)."""
        self._source = old
        await self.close()
        try:
            await self._spawn()
            await self._load_current()
        except ReplError:
            await self.close()

    async def _load(self, source: ContextSource) -> dict:
        self.context_info = await context_source.load(self._chan, source)
        return self.context_info

    # -- running code ----------------------------------------------------------------------
    async def execute(self, code: str, *, on_output: Optional[OutputSink] = None,
                      on_query: Optional[QueryHandler] = None,
                      timeout: Optional[float] = None) -> BlockResult:
        """Run one block. Output goes to `on_output` as it comes; `llm_query` calls go to
        `on_query`. A block over `timeout` seconds (default: the session's) is interrupted.
        If the task running this is cancelled, the block is stopped before it returns."""
        async with self._lock:
            await self.start()
            died, self._died_idle = self._died_idle, ""
            if died and on_output is not None:  # the model is told before its code runs
                on_output("stderr", f"note: the REPL process died while idle {died}; it was "
                                    f"restarted with `context` reloaded\n")
            self._sink = on_output
            queries: set[asyncio.Task] = set()
            try:
                return await self._run(code, on_query, queries,
                                       self.block_timeout if timeout is None else timeout)
            except BaseException:  # cancelled, or anything else: the block must not run on
                await asyncio.shield(self._stop_block(queries, self.interrupt_grace))
                raise
            finally:
                for task in queries:
                    task.cancel()
                self._sink = None

    async def _run(self, code: str, on_query: Optional[QueryHandler], queries: set,
                   timeout: Optional[float]) -> BlockResult:
        self._exec_id += 1
        start = time.monotonic()
        try:
            await self._chan.send({"op": "exec", "id": self._exec_id, "code": code})
            while True:
                left = None if timeout is None else max(0.0, start + timeout - time.monotonic())
                try:
                    header = await self._chan.next(left)
                except asyncio.TimeoutError:
                    return await self._timed_out(queries, timeout or 0.0)
                if self._handle(header, on_query, queries):
                    return self._finish(header)
        except WorkerDied:
            return await self._died()

    def _handle(self, header: dict, on_query: Optional[QueryHandler], queries: set) -> bool:
        """Deal with one message from a running block; True when the block is done."""
        return execution.on_message(header, self._exec_id, self._sink, on_query, queries,
                                    self._chan.send)

    def _finish(self, header: dict) -> BlockResult:
        """The block's result (checked, execution.py); its variables are the ones a
        restart would lose."""
        variables = execution.variables_of(header)
        self._last_vars = [v["name"] for v in variables]
        return execution.block_result(header, variables)

    async def _stop_block(self, queries: set, grace: float) -> Optional[BlockResult]:
        """Interrupt the running block; kill and restart the worker if it does not stop."""
        for task in queries:
            task.cancel()
        if self._proc is None or self._proc.returncode is not None:
            return None
        try:
            if self._worker_pid is not None:
                os.kill(self._worker_pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        try:
            while True:
                header = await self._chan.next(max(0.0, deadline - time.monotonic()))
                if self._handle(header, None, set()):
                    return self._finish(header)
        except (asyncio.TimeoutError, WorkerDied):
            pass
        lost = self._lost_names()
        await self.restart()
        return BlockResult(
            error=f"the code did not stop when interrupted, so the REPL was restarted; {lost}",
            restarted=True,
        )

    async def _timed_out(self, queries: set, timeout: float) -> BlockResult:
        result = await self._stop_block(queries, max(self.interrupt_grace, 2.0))
        return execution.timed_out(result, timeout)

    def _how(self, code: Optional[int]) -> str:
        return process.how_it_ended(code, self._state is not None and self._state.sandboxed)

    async def _died(self) -> BlockResult:
        code = await self._exit_code()
        lost = self._lost_names()
        how = self._how(code)
        hint = " (out of memory?)" if "signal" in how else ""
        await self.restart()
        return BlockResult(
            error=f"the REPL process died ({how}){hint} and was restarted with `context` "
                  f"reloaded; {lost}",
            restarted=True,
        )

    def _lost_names(self) -> str:
        names = [n for n in self._last_vars if n != "context"]
        self._last_vars = []
        return ("variables lost: " + ", ".join(names)) if names else "no variables were lost"

    # -- inspection ------------------------------------------------------------------------
    async def get_variable(self, name: str) -> tuple[Optional[str], Optional[str]]:
        """(value as text, None) or (None, error). A worker that dies or hangs answering is
        restarted (context reloaded) and the error says so."""
        async with self._lock:
            await self.start()
            try:
                await self._chan.send({"op": "get_var", "name": name})
                reply = await self._chan.reply("var", timeout=30.0, name=name)
            except (WorkerDied, asyncio.TimeoutError):
                return None, await self._restart_after_request("reading a variable")
            if reply.get("error"):
                return None, str(reply["error"])
            payload = reply.get("payload", b"")
            return bytes(payload).decode("utf-8", "replace"), None

    async def variables(self) -> list:
        """The variable summaries ([] from a worker that died or hung answering: it is
        restarted, context reloaded)."""
        async with self._lock:
            await self.start()
            try:
                await self._chan.send({"op": "vars"})
                found = (await self._chan.reply("vars", timeout=30.0)).get("variables", [])
            except (WorkerDied, asyncio.TimeoutError):
                await self._restart_after_request("listing variables")
                return []
            return [v for v in found if isinstance(v, dict) and isinstance(v.get("name"), str)] \
                if isinstance(found, list) else []

    async def _restart_after_request(self, doing: str) -> str:
        code = self._proc.returncode if self._proc is not None else None
        self._died_idle = f"({self._how(code)}); {self._lost_names()}"
        await self.restart()
        return (f"the REPL process died or hung {doing} and was restarted with `context` "
                f"reloaded")
