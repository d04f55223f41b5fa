"""The REPL worker: runs model code in its own process, with a persistent namespace.

Started by `rlm_engine.repl.session.ReplSession` as ``python -u worker.py FD [MEMORY_MB]``;
FD is one end of a socketpair. This file and its siblings context_loader.py and
output_stream.py import only the standard library (the worker starts in tens of milliseconds
and never loads the engine, its clients or any API key).

Wire protocol (both directions): a message is one line of JSON (the header), followed by
``header["nbytes"]`` raw bytes when that key is present (the payload: big data such as the
context travels raw, never inside JSON).

engine -> worker
  {"op": "context", "kind": "text"|"pickle"|"path"|"none", "name": str, "nbytes": n} + data
        -> {"op": "context_ok", "info": {...}} | {"op": "context_error", "error": str}
  {"op": "exec", "id": n, "code": str}
        -> any number of {"op": "out", "stream": "stdout"|"stderr", "data": str}
           and {"op": "llm_query", "qid": q, "prompts": [str], "model": str|null,
                "kind": "llm"|"rlm"} (+ for "rlm", the pickled child context as payload)
        -> {"op": "done", "id": n, "error": str|null, "traceback": str, "final": str|null,
            "final_source": str|null, "variables": [...], "duration": s}
  {"op": "llm_result", "qid": q, "results": [{"text": str} | {"error": str}]}
  {"op": "get_var", "name": str} -> {"op": "var", "name": str, "value": str} | {"op": "var", "error": str}
  {"op": "vars"} -> {"op": "vars", "variables": [...]}
The memory cap (RLIMIT_AS) applies from the second request on, or from the first if that is
not a path context: a file loaded first is decoded from its mapping before the cap, so the
mapping and the text do not both count (the engine checks the file fits under the cap).
SIGINT interrupts the running block (KeyboardInterrupt inside model code); between blocks
and while a protocol message is being written it is deferred or ignored, so the stream never
tears. EOF on the socket ends the worker; so does the death of its parent.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import pickle
import re
import reprlib
import signal
import socket
import sys
import threading
import time
import traceback
import types
from typing import Any, Optional, Union

from context_loader import context_info, load_path  # sibling files (sys.path[0])
from output_stream import OutStream, flusher

# ---------------------------------------------------------------------------------------
# framing


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.lock = threading.Lock()

    def send(self, header: dict, payload: bytes = b"") -> None:
        if payload:
            header["nbytes"] = len(payload)
        # ASCII JSON: a lone surrogate in model output travels as an escape, never as bytes
        # that are not UTF-8
        data = json.dumps(header).encode("ascii") + b"\n"
        with protected(), self.lock:
            self.sock.sendall(data)
            if payload:
                self.sock.sendall(payload)

    def recv(self) -> tuple[dict, Union[bytes, bytearray]]:
        """Read one message. A KeyboardInterrupt can land in sock.recv; bytes already read
        stay in self.inbuf, so the stream stays whole."""
        while True:
            nl = self.inbuf.find(b"\n")
            if nl >= 0:
                break
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                os._exit(0)
            self.inbuf += chunk
        header = json.loads(bytes(self.inbuf[:nl]))
        need = int(header.get("nbytes", 0))
        start = nl + 1
        if need and len(self.inbuf) - start < need:
            # Large payload: read straight into a buffer of the right size.
            payload = bytearray(need)
            have = len(self.inbuf) - start
            payload[:have] = self.inbuf[start:]
            del self.inbuf[:]
            view = memoryview(payload)
            while have < need:
                n = self.sock.recv_into(view[have:], min(need - have, 1 << 24))
                if not n:
                    os._exit(0)
                have += n
            return header, bytes(payload) if need < (1 << 20) else payload
        small = bytes(self.inbuf[start:start + need])
        del self.inbuf[:start + need]
        return header, small


# ---------------------------------------------------------------------------------------
# interrupt handling: KeyboardInterrupt only inside model code, never mid-message


class _State:
    in_user = False
    protect = 0
    pending = False


STATE = _State()
MAIN = threading.main_thread()


class protected:
    def __enter__(self) -> None:
        if threading.current_thread() is MAIN:
            STATE.protect += 1

    def __exit__(self, *exc: Any) -> None:
        if threading.current_thread() is not MAIN:
            return
        STATE.protect -= 1
        if STATE.protect == 0 and STATE.pending and STATE.in_user and exc[0] is None:
            STATE.pending = False
            raise KeyboardInterrupt


def _on_sigint(signum: int, frame: Any) -> None:
    if not STATE.in_user:
        return
    if STATE.protect:
        STATE.pending = True
        return
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------
# the namespace and its helpers


class LLMQueryError(Exception):
    """A sub-call failed; model code can catch this and go on."""

    results: list = []  # llm_query_batched: every answer (None where it failed)


class _FinalSignal(BaseException):
    def __init__(self, value: str, source: str) -> None:
        self.value = value
        self.source = source


INJECTED = {"context", "llm_query", "llm_query_batched", "FINAL", "FINAL_VAR", "SHOW_VARS",
            "LLMQueryError", "rlm_query"}
# No `answer` is pre-set: a helper's dict sitting under a name models use for their own values
# came back from FINAL_VAR(answer) after a failed block, and a ready one from an earlier
# question ended the next. The rlms convention still works when the model makes the dict:
# a block that binds or changes `answer = {"content": ..., "ready": True}` ends the run.


def _answer_state(value: Any) -> tuple:
    """What an rlms-style `answer` dict holds, to tell whether a block changed it."""
    if not isinstance(value, dict):
        return (id(value),)
    try:
        return (id(value), repr(value.get("content"))[:10_000], bool(value.get("ready")))
    except BaseException:  # noqa: BLE001 - model objects may raise anything
        return (id(value), None)


class Worker:
    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.memory_mb = 0
        self.ns: dict = {}
        self.qid = 0
        self.query_lock = threading.Lock()  # model code may call llm_query from threads
        self.block = 0
        self.stdout = OutStream(chan, "stdout")
        self.stderr = OutStream(chan, "stderr")
        self.repr = reprlib.Repr()
        self.repr.maxstring = 100
        self.repr.maxother = 100
        self.repr.maxlist = self.repr.maxtuple = self.repr.maxset = self.repr.maxdict = 8
        self.reset_namespace()

    def reset_namespace(self) -> None:
        ctx = self.ns.get("context")
        self.ns.clear()
        self.ns.update({
            "__name__": "__main__",
            "__builtins__": __builtins__,
            "context": ctx,
            "llm_query": self.llm_query,
            "llm_query_batched": self.llm_query_batched,
            "FINAL": self.final,
            "FINAL_VAR": self.final_var,
            "SHOW_VARS": self.show_vars,
            "LLMQueryError": LLMQueryError,
            "rlm_query": self.rlm_query,
        })

    # -- functions model code calls --------------------------------------------------------
    def _query(self, prompts: list, model: Optional[str], kind: str = "llm", payload: bytes = b"") -> list:
        """One request and its reply. Calls from several threads take turns (the channel has
        one reader); llm_query_batched is the way to run many at once."""
        self.stdout.flush()
        self.stderr.flush()
        with self.query_lock:
            self.qid += 1
            qid = self.qid
            self.chan.send({"op": "llm_query", "qid": qid, "prompts": [str(p) for p in prompts],
                            "model": model, "kind": kind}, payload)
            while True:
                header, _ = self.chan.recv()
                if header.get("op") == "llm_result" and header.get("qid") == qid:
                    return header["results"]
                # anything else (a stale result from an interrupted call) is dropped

    def _one(self, prompt: Any, model: Optional[str] = None, kind: str = "llm", payload: bytes = b"") -> str:
        (result,) = self._query([prompt], model, kind, payload)
        if "error" in result:
            raise LLMQueryError(result["error"])
        return result["text"]

    def llm_query(self, prompt: Any, model: Optional[str] = None) -> str:
        """Ask the sub-LLM one question; returns its answer as a string."""
        return self._one(prompt, model)

    def llm_query_batched(self, prompts: Any, model: Optional[str] = None) -> list:
        """Ask many questions at once (they run concurrently); returns answers in order."""
        prompts = list(prompts)
        if not prompts:
            return []
        results = self._query(prompts, model)
        failed = [i for i, r in enumerate(results) if "error" in r]
        if failed:
            err = LLMQueryError(f"{len(failed)} of {len(prompts)} sub-calls failed; first: "
                                f"{results[failed[0]]['error']}")
            err.results = [r.get("text") for r in results]
            raise err
        return [r["text"] for r in results]

    def rlm_query(self, prompt: Any, context: Any = None) -> str:
        """Hand a sub-task to a child RLM: its own REPL holding `context`, its own turns.
        At the maximum depth this is a plain llm_query (the context is then ignored)."""
        payload = b"" if context is None else pickle.dumps(context, pickle.HIGHEST_PROTOCOL)
        return self._one(prompt, None, "rlm", payload)

    def final(self, value: Any = "") -> None:
        raise _FinalSignal(str(value), "FINAL")

    def final_var(self, name: Any) -> None:
        """FINAL_VAR("x") names a variable; FINAL_VAR(x) hands over the value itself. Which
        one was written is read from the calling line's source."""
        frame = sys._getframe(1)
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
        quoted = re.search(r"FINAL_VAR\(\s*[rbuf]*['\"]", line) is not None
        if isinstance(name, str) and (quoted or not line):
            key = name.strip().strip("'\"")
            if key in self.ns:
                raise _FinalSignal(_as_text(self.ns[key]), "FINAL_VAR")
            raise NameError(f"FINAL_VAR: there is no variable named {key!r}")
        raise _FinalSignal(_as_text(name), "FINAL_VAR")

    def show_vars(self) -> None:
        for v in self.variables():
            size = f" len={v['size']}" if v["size"] is not None else ""
            print(f"{v['name']}: {v['type']}{size}  {v['preview']}")

    # -- introspection ---------------------------------------------------------------------
    def variables(self) -> list:
        out = []
        for name, value in list(self.ns.items()):
            if name.startswith("_") or name in INJECTED and name != "context":
                continue
            if isinstance(value, types.ModuleType):
                continue
            if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)) and \
                    getattr(value, "__module__", "__main__") != "__main__":
                continue  # imported (from collections import Counter), not made here
            out.append(self.describe(name, value))
            if len(out) >= 500:
                break
        return out

    def describe(self, name: str, value: Any) -> dict:
        size = None
        if isinstance(value, (str, bytes, bytearray, list, tuple, dict, set, frozenset)):
            try:  # a subclass's __len__ is model code too
                size = len(value)
            except BaseException:  # noqa: BLE001
                size = None
        try:
            nbytes = sys.getsizeof(value)
        except Exception:
            nbytes = 0
        if type(value).__module__ == "builtins" or isinstance(
                value, (types.FunctionType, type)):
            try:
                preview = self.repr.repr(value)
            except Exception:
                preview = f"<{type(value).__name__}>"
        else:
            preview = f"<{type(value).__name__} object>"
        return {"name": name, "type": type(value).__name__, "size": size, "nbytes": nbytes,
                "preview": preview[:200]}

    # -- running a block -------------------------------------------------------------------
    def execute(self, code: str) -> dict:
        self.block += 1
        filename = f"<repl-{self.block}>"
        lines = code.splitlines(True)
        linecache.cache[filename] = (len(code), None, lines, filename)
        error = tb = final = source = None
        self.stdout.last = self.stderr.last = 0.0
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.stdout, self.stderr
        answer_before = _answer_state(self.ns.get("answer"))
        start = time.perf_counter()
        STATE.pending = False
        STATE.in_user = True
        try:
            try:
                tree = ast.parse(code, filename, "exec")
                tail = None
                last = tree.body[-1] if tree.body else None
                if isinstance(last, ast.Expr):
                    tree.body.pop()
                    tail = ast.Expression(last.value)
                exec(compile(tree, filename, "exec"), self.ns)
                if tail is not None:
                    value = eval(compile(tail, filename, "eval"), self.ns)
                    if value is not None:
                        print(repr(value))
            finally:
                STATE.in_user = False
        except _FinalSignal as sig:
            final, source = sig.value, sig.source
        except KeyboardInterrupt:
            error = "KeyboardInterrupt: the block was interrupted (the variables it set so far are kept)"
        except SystemExit as exc:
            error = (f"SystemExit({exc.code!r}): exit() does not end the REPL; "
                     f"use FINAL(...) to give your answer")
        except BaseException as exc:  # noqa: BLE001 - model code may raise anything
            error = traceback.format_exception_only(type(exc), exc)[-1].strip()
            tb = _user_traceback(exc)
            if isinstance(exc, MemoryError):
                error += self.memory_hint()
        finally:
            STATE.in_user = False
            duration = time.perf_counter() - start
            sys.stdout, sys.stderr = old
        if tb:
            self.stderr.write(tb)
        self.stdout.flush()
        self.stderr.flush()
        ans = self.ns.get("answer")
        if final is None and error is None and isinstance(ans, dict) and ans.get("ready") \
                and _answer_state(ans) != answer_before:  # set by this block, not left over
            final, source = _as_text(ans.get("content", "")), "answer"
        return {"error": error, "traceback": tb or "", "final": final, "final_source": source,
                "variables": self.variables(), "duration": duration}

    def memory_hint(self) -> str:
        """After a MemoryError: the biggest variables, so the model can `del` them (a hog
        left in the namespace would otherwise make every later block fail too)."""
        try:
            sizes = sorted(((sys.getsizeof(v), k) for k, v in list(self.ns.items())
                            if not k.startswith("_") and k not in INJECTED), reverse=True)
        except Exception:  # noqa: BLE001 - a model object's __sizeof__ is model code
            return ""
        big = [f"{k} {n / (1 << 20):,.0f} MB" for n, k in sizes[:3] if n >= 1 << 20]
        cap = f" of the {self.memory_mb} MB cap" if self.memory_mb else ""
        if not big:
            return f" (the REPL's memory{cap} is used up)"
        return f" (the REPL's memory{cap} is used up; biggest: {', '.join(big)}; `del` " \
               f"what you no longer need)"

    # -- context ---------------------------------------------------------------------------
    def load_context(self, header: dict, payload: Union[bytes, bytearray]) -> dict:
        kind = header.get("kind")
        name = header.get("name", "")
        note = ""
        if kind == "text":
            value, ckind = bytes(payload).decode("utf-8", "replace"), "string"
            del payload
        elif kind == "pickle":
            value, ckind = pickle.loads(payload), "object"
        elif kind == "path":
            value, ckind, note = load_path(header["path"], self.memory_mb << 20)
        else:
            value, ckind = None, "none"
        self.ns["context"] = value
        return context_info(value, name, ckind, note)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _user_traceback(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith("<repl-")]
    out = ["Traceback (most recent call last):\n"]
    out += traceback.format_list(frames)
    out += traceback.format_exception_only(type(exc), exc)
    return "".join(out)


# ---------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    try:  # Linux: the kernel kills us when the parent dies
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    fd = int(sys.argv[1])
    memory_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    _die_with_parent()
    signal.signal(signal.SIGINT, _on_sigint)
    chan = Channel(socket.socket(fileno=fd))
    worker = Worker(chan)
    worker.memory_mb = memory_mb
    threading.Thread(target=flusher, args=((worker.stdout, worker.stderr),), daemon=True).start()
    chan.send({"op": "ready", "pid": os.getpid()})
    capped = memory_mb <= 0
    while True:
        header, payload = chan.recv()
        op = header.get("op")
        first_file = op == "context" and header.get("kind") == "path"
        if not capped and not first_file:
            capped = _cap_memory(memory_mb)
        try:
            serve(worker, chan, op, header, payload)
        except KeyboardInterrupt:
            # an interrupt that raced the end of a block: report the block as interrupted
            if op == "exec":
                chan.send(_done(header, "KeyboardInterrupt", worker))
        except BaseException as exc:  # noqa: BLE001 - model objects can raise anything
            error = f"{type(exc).__name__}: {exc}"
            reply = {"exec": _done(header, error, worker),
                     "get_var": {"op": "var", "name": header.get("name"), "error": error},
                     "vars": {"op": "vars", "variables": [], "error": error},
                     "context": {"op": "context_error", "error": error}}.get(str(op))
            if reply is not None:
                chan.send(reply)
        del payload
        if not capped:
            capped = _cap_memory(memory_mb)


def _cap_memory(memory_mb: int) -> bool:
    try:
        import resource
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except Exception:
        pass
    return True


def _done(header: dict, error: str, worker: "Worker") -> dict:
    try:
        variables = worker.variables()
    except BaseException:  # noqa: BLE001
        variables = []
    return {"op": "done", "id": header.get("id"), "error": error, "traceback": "",
            "final": None, "final_source": None, "variables": variables, "duration": 0.0}


def serve(worker: "Worker", chan: Channel, op: Any, header: dict,
          payload: Union[bytes, bytearray]) -> None:
    """Answer one request; every request gets exactly one reply."""
    if op == "exec":
        result = worker.execute(header["code"])
        chan.send({"op": "done", "id": header.get("id"), **result})
    elif op == "context":
        try:
            info = worker.load_context(header, payload)
            chan.send({"op": "context_ok", "info": info})
        except MemoryError:  # other errors get main()'s context_error reply
            worker.ns["context"] = None
            chan.send({"op": "context_error", "error": "out of memory loading the context"})
    elif op == "get_var":
        name = header.get("name", "")
        if name in worker.ns:
            # the value travels as a UTF-8 payload (it can be big)
            text = _as_text(worker.ns[name]).encode("utf-8", "backslashreplace")
            chan.send({"op": "var", "name": name}, text)
        else:
            chan.send({"op": "var", "name": name, "error": f"no variable named {name!r}"})
    elif op == "vars":
        chan.send({"op": "vars", "variables": worker.variables()})
    # llm_result outside a block: stale, ignore


if __name__ == "__main__":
    main()
