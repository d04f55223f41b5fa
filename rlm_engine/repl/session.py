"""The engine's side of the REPL: one worker process per session, and what to do when it
misbehaves.

What this sandbox protects against: model code runs in its own process (a crash, `os._exit`,
`sys.exit()`, a runaway loop or a memory bomb cannot take the app down); the worker gets no API
keys (environment variables whose names look like secrets are removed); it starts in a fresh
temporary directory; its address space is capped (RLIMIT_AS, default 4 GiB); each block has a
wall-time limit after which it is interrupted, and killed and restarted if it ignores that.

What it does NOT protect against: it is not a security boundary. Model code runs as your user,
can read and write your files, open network connections and start processes. Run untrusted
models on data you would not mind them reading, and do not run as root.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from ..errors import ReplError

WORKER_PATH = str(Path(__file__).with_name("worker.py"))
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)

OutputSink = Callable[[str, str], None]  # (stream, text)
# (the llm_query request: prompts, model, kind, and "payload" bytes) -> one result per prompt
QueryHandler = Callable[[dict], Awaitable[list]]


@dataclass(frozen=True)
class ContextSource:
    """Where `context` comes from: a file/directory path (loaded inside the worker), a value,
    or `pickled` bytes from another worker (passed through: the app never unpickles what
    model code produced)."""

    path: Optional[str] = None
    value: Any = None
    name: str = ""
    pickled: Optional[bytes] = None


@dataclass
class BlockResult:
    error: Optional[str] = None
    traceback: str = ""
    final: Optional[str] = None
    final_source: Optional[str] = None
    variables: list = field(default_factory=list)
    duration: float = 0.0
    restarted: bool = False


class WorkerDied(Exception):
    pass


def clean_text(text: str) -> str:
    """Model output may hold lone surrogates (e.g. a file name that is not UTF-8); make it
    writable anywhere (files, terminals, HTTP) by escaping them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class ReplSession:
    """A live worker. All methods are coroutines; one block runs at a time."""

    def __init__(self, *, memory_mb: int = 4096, block_timeout: Optional[float] = 120.0,
                 interrupt_grace: float = 0.5) -> None:
        self.memory_mb = memory_mb
        self.block_timeout = block_timeout
        self.interrupt_grace = interrupt_grace
        self.context_info: dict = {}
        self._source = ContextSource()
        self._proc: Optional[asyncio.subprocess.Process] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._lock = asyncio.Lock()
        self._sink: Optional[OutputSink] = None
        self._last_vars: list[str] = []
        self._tmpdir: Optional[str] = None
        self._exec_id = 0
        # root runs that used this worker, in order: a fork of a later one (fork.py) re-runs
        # the earlier ones first, since their variables are part of its state
        self.run_ids: list[str] = []

    @property
    def source(self) -> ContextSource:
        """Where the loaded context came from (a fork finds it again through this)."""
        return self._source

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    # -- process lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        if self._proc is not None:
            return
        self._tmpdir = tempfile.mkdtemp(prefix="rlm-repl-")
        parent, child = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-u", WORKER_PATH, str(child.fileno()), str(self.memory_mb),
                pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                cwd=self._tmpdir, env=worker_env(), start_new_session=True,
            )
        except OSError as exc:
            parent.close()
            raise ReplError(f"cannot start the REPL worker: {exc}") from exc
        finally:
            child.close()
        # no practical line limit: a FINAL_VAR of a big value is one (long) line
        reader, self._writer = await asyncio.open_connection(sock=parent, limit=1 << 31)
        self._inbox = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._read_messages(reader)),
            asyncio.create_task(self._drain_fd(self._proc.stdout, "stdout")),
            asyncio.create_task(self._drain_fd(self._proc.stderr, "stderr")),
        ]
        header = await self._next(timeout=30.0)
        if header.get("op") != "ready":
            raise ReplError(f"the REPL worker sent {header.get('op')!r} instead of 'ready'")

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        tasks, self._tasks = self._tasks, []
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            if proc is not None and proc.returncode is None:
                try:
                    await asyncio.wait_for(proc.wait(), 5.0)
                except asyncio.TimeoutError:
                    pass
            # the dead worker's pipes reach EOF, so the readers end by themselves and the
            # subprocess transport closes (cancelling them first left it to the GC)
            if tasks:
                await asyncio.wait(tasks, timeout=2.0)
        finally:  # even when closing is itself cancelled, nothing is left to the GC
            for task in tasks:
                if not task.done():
                    task.cancel()
            transport = getattr(proc, "_transport", None)  # asyncio's, for a dead worker
            if transport is not None and not transport.is_closing():
                transport.close()
            if self._tmpdir:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None

    async def restart(self) -> None:
        """A fresh worker with the context reloaded (if that fails, it starts without one)."""
        await self.close()
        await self.start()
        src = self._source
        if src.path is not None or src.value is not None or src.pickled is not None:
            try:
                await self._load(src)
            except ReplError:
                self._source, self.context_info = ContextSource(), {}

    async def _read_messages(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                header = json.loads(line)
                n = int(header.get("nbytes", 0))
                payload = await reader.readexactly(n) if n else b""
                self._inbox.put_nowait((header, payload))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        self._inbox.put_nowait(({"op": "_eof"}, b""))

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

    async def _next(self, timeout: Optional[float] = None) -> dict:
        """The next message's header; a payload, if any, rides along as header["payload"]."""
        header, payload = await asyncio.wait_for(self._inbox.get(), timeout)
        if header.get("op") == "_eof":
            raise WorkerDied()
        if payload:
            header["payload"] = payload
        return header

    async def _reply(self, *ops: str, timeout: Optional[float] = None, **match) -> dict:
        """The next reply of one of `ops` (matching `match`); anything else is a leftover of
        an earlier request that was given up on, and is dropped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            header = await self._next(left)
            if header.get("op") in ops and all(header.get(k) == v for k, v in match.items()):
                return header

    async def _send(self, header: dict, payload: bytes = b"") -> None:
        if self._writer is None:
            raise WorkerDied()
        if payload:
            header = {**header, "nbytes": len(payload)}
        try:
            self._writer.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
            if payload:
                self._writer.write(payload)
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise WorkerDied() from exc

    async def _exit_code(self) -> Optional[int]:
        if self._proc is None:
            return None
        try:
            return await asyncio.wait_for(self._proc.wait(), 2.0)
        except asyncio.TimeoutError:
            return None

    # -- context ---------------------------------------------------------------------------
    async def set_context(self, source: ContextSource) -> dict:
        """Load `context` into the worker once. Returns its description (type, size, preview)."""
        async with self._lock:
            await self.start()
            info = await self._load(source)
            self._source = source  # only now: a failed load leaves the old source to reload
            return info

    async def _load(self, source: ContextSource) -> dict:
        if source.path is not None:
            header = {"op": "context", "kind": "path", "path": source.path, "name": source.name}
            await self._send(header)
        elif source.pickled is not None:
            await self._send({"op": "context", "kind": "pickle", "name": source.name},
                             source.pickled)
        elif isinstance(source.value, str):
            await self._send_text(source.value, source.name)
        elif source.value is None:
            await self._send({"op": "context", "kind": "none", "name": source.name})
        else:
            payload = pickle.dumps(source.value, protocol=pickle.HIGHEST_PROTOCOL)
            await self._send({"op": "context", "kind": "pickle", "name": source.name}, payload)
        reply = await self._reply("context_ok", "context_error")
        if reply.get("op") != "context_ok":
            raise ReplError(f"could not load the context: {reply.get('error', reply)}")
        self.context_info = reply["info"]
        return self.context_info

    async def _send_text(self, text: str, name: str) -> None:
        """Send a string without building a second full copy when it is ASCII."""
        if not text.isascii():
            await self._send({"op": "context", "kind": "text", "name": name},
                             text.encode("utf-8", "surrogatepass"))
            return
        await self._send({"op": "context", "kind": "text", "name": name, "nbytes": len(text)})
        step = 1 << 24
        assert self._writer is not None
        for i in range(0, len(text), step):
            self._writer.write(text[i:i + step].encode("ascii"))
            await self._writer.drain()

    # -- running code ----------------------------------------------------------------------
    async def execute(self, code: str, *, on_output: Optional[OutputSink] = None,
                      on_query: Optional[QueryHandler] = None,
                      timeout: Optional[float] = None) -> BlockResult:
        """Run one block. Output goes to `on_output` as it comes; `llm_query` calls go to
        `on_query`. A block over `timeout` seconds (default: the session's) is interrupted.
        If the task running this is cancelled, the block is stopped before it returns."""
        async with self._lock:
            await self.start()
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
            await self._send({"op": "exec", "id": self._exec_id, "code": code})
            while True:
                left = None if timeout is None else max(0.0, start + timeout - time.monotonic())
                try:
                    header = await self._next(left)
                except asyncio.TimeoutError:
                    return await self._timed_out(queries, timeout or 0.0)
                if self._handle(header, on_query, queries):
                    return self._finish(header)
        except WorkerDied:
            return await self._died()

    def _handle(self, header: dict, on_query: Optional[QueryHandler], queries: set) -> bool:
        """Deal with one message from a running block; True when the block is done."""
        op = header.get("op")
        if op == "out":
            if self._sink is not None:
                self._sink(header.get("stream", "stdout"), clean_text(header.get("data", "")))
        elif op == "llm_query":
            task = asyncio.create_task(self._answer(header, on_query))
            queries.add(task)
            task.add_done_callback(queries.discard)
        return op == "done" and header.get("id") == self._exec_id

    def _finish(self, header: dict) -> BlockResult:
        variables = header.get("variables") or []
        self._last_vars = [v["name"] for v in variables]
        final = header.get("final")
        return BlockResult(
            error=header.get("error"), traceback=clean_text(header.get("traceback") or ""),
            final=None if final is None else clean_text(final),
            final_source=header.get("final_source"),
            variables=variables, duration=header.get("duration", 0.0),
        )

    async def _answer(self, header: dict, on_query: Optional[QueryHandler]) -> None:
        prompts = header.get("prompts", [])
        if on_query is None:
            results = [{"error": "llm_query is not available here"} for _ in prompts]
        else:
            try:
                results = await on_query(header)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported to the model code
                results = [{"error": f"{type(exc).__name__}: {exc}"} for _ in prompts]
        try:
            await self._send({"op": "llm_result", "qid": header.get("qid"), "results": results})
        except WorkerDied:
            pass

    async def _stop_block(self, queries: set, grace: float) -> Optional[BlockResult]:
        """Interrupt the running block; kill and restart the worker if it does not stop."""
        for task in queries:
            task.cancel()
        if self._proc is None or self._proc.returncode is not None:
            return None
        try:
            os.kill(self._proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        try:
            while True:
                header = await self._next(max(0.0, deadline - time.monotonic()))
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
        note = f"TimeoutError: the block ran longer than {timeout:g} s and was stopped"
        if result is None:
            return BlockResult(error=note)
        if result.restarted:
            result.error = f"{note}; {result.error}"
        else:
            result.error = f"{note} (the variables it set so far are kept)"
        return result

    async def _died(self) -> BlockResult:
        code = await self._exit_code()
        lost = self._lost_names()
        how = f"exit code {code}" if code is not None and code >= 0 else (
            f"killed by signal {-code}" if code is not None else "no exit code")
        hint = " (out of memory?)" if code is not None and code < 0 else ""
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
        """(value as text, None) or (None, error)."""
        async with self._lock:
            await self.start()
            await self._send({"op": "get_var", "name": name})
            reply = await self._reply("var", timeout=30.0, name=name)
            if reply.get("error"):
                return None, reply["error"]
            return reply.get("payload", b"").decode("utf-8", "replace"), None

    async def variables(self) -> list:
        async with self._lock:
            await self.start()
            await self._send({"op": "vars"})
            return (await self._reply("vars", timeout=30.0)).get("variables", [])
