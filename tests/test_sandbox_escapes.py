"""Model code trying to get out: each escape the issue found is tried again and must be
refused. "sandboxed" runs need bubblewrap (CI installs it; with CI=true a missing bwrap fails
these tests instead of skipping them); "unsandboxed" runs test the supervised fallback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from rlm_engine import ReplError, WorkerDied
from rlm_engine.repl.sandbox import SandboxConfig, probe
from rlm_engine.repl.session import ContextSource, ReplSession

MODES = ["sandboxed", "unsandboxed"]


def require_bwrap() -> None:
    ok, why = probe()
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must test the sandbox, but: {why}")
    pytest.skip(f"no sandbox on this machine: {why}")


def config(mode: str, **kw) -> SandboxConfig:
    if mode == "sandboxed":
        require_bwrap()
        return SandboxConfig(mode="on", **kw)
    return SandboxConfig(mode="off", **kw)


async def run(repl: ReplSession, code: str) -> tuple[str, object]:
    out: list[str] = []
    res = await repl.execute(code, on_output=lambda s, d: out.append(d))
    return "".join(out), res


@pytest.fixture
async def session_factory():
    made: list[ReplSession] = []

    def make(mode: str, **kw) -> ReplSession:
        s = ReplSession(block_timeout=30.0, sandbox=config(mode, **kw.pop("sandbox", {})), **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        await s.close()


# -- files -------------------------------------------------------------------------------


async def test_host_files_are_hidden_and_nothing_outside_scratch_is_writable(
        session_factory, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("shared notes")
    private = tmp_path / "private.txt"
    private.write_text("do not read")
    ctx = tmp_path / "ctx.txt"
    ctx.write_text("the context")
    repl = session_factory("sandboxed", sandbox={"binds": (str(shared),)})
    await repl.set_context(ContextSource(path=str(ctx), name="ctx.txt"))
    probe_code = f"""
import os
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return type(e).__name__
print("context", context)
print("passwd", attempt(lambda: open("/etc/passwd").read()))
print("home", os.path.exists("/home"))
print("etc", set(os.listdir("/etc")) <= {{"ld.so.cache", "localtime"}})
print("private", attempt(lambda: open({str(private)!r}).read()))
print("shared", open({str(shared / "notes.txt")!r}).read())
print("usr", len(os.listdir("/usr")) > 0)
print("w_shared", attempt(lambda: open({str(shared / "new.txt")!r}, "w").write("x")))
print("w_ctx", attempt(lambda: open({str(ctx)!r}, "a").write("x")))
print("w_usr", attempt(lambda: open("/usr/evil", "w").write("x")))
print("w_tmp", attempt(lambda: open("/tmp/evil", "w").write("x")))
print("w_root", attempt(lambda: open("/evil", "w").write("x")))
print("w_dev", attempt(lambda: open("/dev/evil", "w").write("x")))
print("w_shm_big", attempt(lambda: open("/dev/shm/big", "wb").write(bytes(100 << 20))))
print("w_cwd", attempt(lambda: open("scratch.txt", "w").write("x")))
import ctypes, subprocess
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
print("caps", caps)
remount = subprocess.run(["mount", "-o", "remount,bind,rw", "/usr"], capture_output=True)
print("w_usr_remounted", remount.returncode == 0 and attempt(lambda: open("/usr/evil", "w")))
"""
    out, res = await run(repl, probe_code)
    assert res.error is None, res.error
    seen = dict(line.split(" ", 1) for line in out.splitlines())
    assert seen["context"] == "the context"
    assert seen["passwd"] == "FileNotFoundError"
    assert seen["home"] == "False" and seen["etc"] == "True"
    assert seen["private"] == "FileNotFoundError"
    assert seen["shared"] == "shared notes" and seen["usr"] == "True"
    for key in ("w_shared", "w_ctx", "w_usr", "w_tmp", "w_root", "w_dev", "w_shm_big"):
        assert seen[key] in ("OSError", "PermissionError"), (key, seen[key])
    assert seen["w_cwd"] == "ok"
    assert int(seen["caps"], 16) == 0  # even when the app runs as root
    assert seen["w_usr_remounted"] == "False"
    assert not (shared / "new.txt").exists() and ctx.read_text() == "the context"


# -- network -----------------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [False, True])
async def test_network_is_cut_unless_allowed(session_factory, allowed):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    try:
        repl = session_factory("sandboxed", sandbox={"network": allowed})
        out, res = await run(repl, f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    print("connected")
except OSError as e:
    print("refused", type(e).__name__)
""")
    finally:
        listener.close()
    assert res.error is None
    assert out.startswith("connected" if allowed else "refused"), out


# -- the app's environment and the app itself --------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_model_code_cannot_read_the_apps_environment(session_factory, monkeypatch, mode):
    secret = "sk-" + uuid.uuid4().hex
    monkeypatch.setenv("RLM_TEST_PROVIDER_API_KEY", secret)
    monkeypatch.setenv("HARMLESS_LOOKING_NAME", secret)  # a key under any name
    repl = session_factory(mode)
    out, res = await run(repl, f"""
import os
found = []
for pid in {{os.getppid(), {os.getpid()}}}:
    try:
        found.append(open(f"/proc/{{pid}}/environ", "rb").read().decode("latin-1"))
    except OSError as e:
        print("refused", pid, type(e).__name__)
found.append(repr(dict(os.environ)))
print("\\n".join(found))
""")
    assert res.error is None
    assert secret not in out
    assert f"refused {os.getpid()}" in out


@pytest.mark.parametrize("mode", MODES)
async def test_killing_its_parent_does_not_kill_the_app(session_factory, mode):
    repl = session_factory(mode)
    await repl.set_context(ContextSource(value="kept"))
    app_pid = os.getpid()
    hit: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda *a: hit.append(1))  # the default would end pytest
    try:
        targets = "os.getppid(), " + (str(app_pid) if mode == "sandboxed" else "")
        out, res = await run(repl, f"""
import os, signal
for pid in ({targets}):
    try:
        os.kill(pid, signal.SIGTERM)
        print("sent", pid == {app_pid})
    except OSError as e:
        print("refused", type(e).__name__)
""")
        out2, res2 = await run(repl, "print(context)")
        if res2.restarted:  # the supervisor's end reached the worker only after its block
            out2, res2 = await run(repl, "print(context)")
    finally:
        signal.signal(signal.SIGTERM, old)
    # its parent is bwrap's init (which ignores it) or the supervisor (which ends the worker)
    assert hit == [], "model code's SIGTERM reached the app"
    if mode == "sandboxed":  # the app is not even visible
        assert "refused ProcessLookupError" in out
    # either way the worker goes on, or comes back, with its context
    assert out2 == "kept\n" and res2.error is None


# -- processes model code starts ---------------------------------------------------------

SPAWN = """
import os, subprocess, sys
args = [sys.executable, "-c", "import time; time.sleep(600)", {token!r}]
subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
if os.fork() == 0:  # fork, setsid, fork again: a classic daemon, holding our stdout
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, args)
    os._exit(0)
os.wait()
print("spawned")
"""


def with_token(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if token.encode() in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            pass
    return found


def wait_for(cond, what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.02)


async def spawn_children(repl: ReplSession) -> str:
    token = "rlm-test-" + uuid.uuid4().hex
    out, res = await run(repl, SPAWN.format(token=token))
    assert res.error is None and out == "spawned\n", (out, res.error)
    wait_for(lambda: len(with_token(token)) == 2, "the children did not start")
    return token


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["close", "restart", "clear"])
async def test_processes_model_code_starts_end_with_the_worker(session_factory, mode, how):
    repl = session_factory(mode)
    token = await spawn_children(repl)
    if how == "close":
        await repl.close()
    elif how == "restart":
        await repl.restart()
    else:  # the app's /clear: the session closes, a new one starts
        from rlm_tui.session import Session, Settings
        session = Session.create(Settings(model="x", sandbox=repl.sandbox))
        session.repl = repl
        await session.close()
    try:
        wait_for(lambda: not with_token(token), "a child of model code outlived the worker")
    finally:
        for pid in with_token(token):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode", MODES)
def test_processes_model_code_starts_end_when_the_app_crashes(tmp_path, mode):
    cfg = config(mode)
    token = "rlm-test-" + uuid.uuid4().hex
    script = tmp_path / "app.py"
    script.write_text(
        "import asyncio, sys\n"
        "from rlm_engine.repl.sandbox import SandboxConfig\n"
        "from rlm_engine.repl.session import ReplSession\n"
        "async def main():\n"
        f"    s = ReplSession(sandbox=SandboxConfig(mode={cfg.mode!r}))\n"
        f"    r = await s.execute({SPAWN.format(token=token)!r})\n"
        "    print(r.error, flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n")
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline().strip() == "None"
        wait_for(lambda: len(with_token(token)) == 2, "the children did not start")
        app.send_signal(signal.SIGKILL)
        app.wait()
        wait_for(lambda: not with_token(token), "a child of model code outlived the app")
    finally:
        app.kill()
        for pid in with_token(token):
            os.kill(pid, signal.SIGKILL)


# -- the state, where users see it -------------------------------------------------------


def test_ask_json_says_whether_model_code_was_sandboxed(ollama, monkeypatch, capsys):
    from rlm_tui.cli import main

    ollama.fake.script("root", ["FINAL(ok)", "FINAL(ok)"])
    assert main(["ask", "q", "--model", ollama.spec("root"), "--json", "--no-sandbox"]) == 0
    off = json.loads(capsys.readouterr().out)["sandbox"]
    assert off["sandboxed"] is False and "turned off" in off["detail"]
    assert "--no-sandbox" in off["detail"]
    ok, why = probe()
    assert main(["ask", "q", "--model", ollama.spec("root"), "--json"]) == 0
    state = json.loads(capsys.readouterr().out)["sandbox"]
    assert state["sandboxed"] is ok
    if not ok:
        assert "bubblewrap" in state["detail"] or "namespaces" in state["detail"]


def test_sandbox_settings_from_the_environment_and_flags(tmp_path):
    env = {"RLM_TUI_SANDBOX": "off", "RLM_TUI_SANDBOX_NETWORK": "1",
           "RLM_TUI_SANDBOX_BINDS": f"/a{os.pathsep}/b"}
    cfg = SandboxConfig.from_env(env)
    assert cfg == SandboxConfig(mode="off", network=True, binds=("/a", "/b"))
    assert SandboxConfig.from_env({}) == SandboxConfig()
    rel = SandboxConfig.from_env({"RLM_TUI_SANDBOX_BINDS": "some/dir"})
    assert rel.binds == (str(Path("some/dir").resolve()),)  # bwrap wants absolute paths
    assert SandboxConfig.from_env({"RLM_TUI_SANDBOX": "bogus"}).mode == "auto"
    flagged = SandboxConfig().with_flags(no_sandbox=True, binds=[str(tmp_path)])
    assert flagged.mode == "off" and flagged.binds == (str(tmp_path.resolve()),)


def test_required_sandbox_that_cannot_be_built_is_a_one_line_error(tmp_path):
    script = tmp_path / "required.py"
    script.write_text(
        "import asyncio\n"
        "from rlm_engine import ReplError\n"
        "from rlm_engine.repl.session import ReplSession\n"
        "async def main():\n"
        "    try:\n"
        "        await ReplSession().start()\n"
        "    except ReplError as e:\n"
        "        print(e)\n"
        "asyncio.run(main())\n")
    env = {**os.environ, "PATH": str(tmp_path), "RLM_TUI_SANDBOX": "on"}  # no bwrap here
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.stdout.strip() == ("the sandbox is required (RLM_TUI_SANDBOX=on) but bwrap not "
                                   "found; install bubblewrap (Debian/Ubuntu: sudo apt install "
                                   "bubblewrap) to sandbox model code")


def test_worker_died_is_one_of_our_errors():
    assert issubclass(WorkerDied, ReplError)
    assert "restarted" in str(WorkerDied())


def test_the_app_process_is_not_dumpable():
    """Non-dumpable is what keeps a same-user process out of the app's environ; as root the
    worker's dropped capabilities do it too (the kernel wants the reader's capabilities to
    cover the target's), so the plain-process check runs only as a normal user."""
    from rlm_engine.repl.sandbox import make_non_dumpable

    if not sys.platform.startswith("linux"):
        pytest.skip("prctl is Linux only")
    assert make_non_dumpable()
    import ctypes
    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE
    if os.geteuid() == 0:
        return
    reader = subprocess.run(
        [sys.executable, "-c", f"open('/proc/{os.getpid()}/environ', 'rb').read()"],
        capture_output=True, text=True, timeout=60)
    assert reader.returncode != 0 and "PermissionError" in reader.stderr


def test_without_bwrap_model_code_runs_unsandboxed_and_the_state_says_how_to_enable(tmp_path):
    script = tmp_path / "nobwrap.py"
    script.write_text(
        "import asyncio\n"
        "from rlm_engine.repl.session import ReplSession\n"
        "async def main():\n"
        "    s = ReplSession()\n"
        "    r = await s.execute('print(6 * 7)', on_output=lambda a, b: print(b, end=''))\n"
        "    print(s.sandbox_state.detail)\n"
        "    await s.close()\n"
        "asyncio.run(main())\n")
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on this PATH
    env.pop("RLM_TUI_SANDBOX", None)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    out, detail = done.stdout.splitlines()
    assert out == "42"
    assert detail == ("model code runs unsandboxed: bwrap not found; install bubblewrap "
                      "(Debian/Ubuntu: sudo apt install bubblewrap) to sandbox model code")


async def test_the_app_header_shows_the_sandbox_state(ollama, monkeypatch):
    from app_helpers import make_app, until
    from rlm_tui.widgets.app_header import AppHeader

    monkeypatch.delenv("RLM_TUI_SANDBOX", raising=False)
    ok, _ = probe()
    ollama.fake.script("root", ["FINAL(x)"])  # a model the backend check finds
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        label = "sandboxed" if ok else "unsandboxed"
        header = app.screen.query_one(AppHeader)
        await until(pilot, lambda: ("", label, "green" if ok else "yellow") in header.fields)
        # the backend check ends before the app does (it updates the status line)
        await until(pilot, lambda: all(w.is_finished for w in app.workers
                                       if w.group in ("probe", "sandbox")))


@pytest.mark.parametrize("mode", ["auto", "off"])
async def test_a_model_hunting_for_api_keys_sends_none_back(fake, monkeypatch, mode):
    """Through the whole loop: model code reads every environment it can reach, and what it
    prints goes back to the backend; the key the app uses must not be in it."""
    from conftest import TEST_KEY, point_env_at
    from fake_llm_server import Reply
    from helpers import collect, last_user_message, make_rlm

    point_env_at(monkeypatch, "openai", fake.url)
    fake.script("root", [
        Reply(text="```repl\nimport os\nfound = [repr(dict(os.environ))]\n"
                   "for pid in os.listdir('/proc'):\n"
                   "    try:\n"
                   "        found.append(open(f'/proc/{pid}/environ', 'rb').read()"
                   ".decode('latin-1'))\n"
                   "    except (OSError, ValueError):\n"
                   "        pass\n"
                   "print(len(found), 'environments')\nprint(found)\n```\n"),
        Reply(text="FINAL(done)")])
    rlm = make_rlm(type("B", (), {"spec": lambda self, m: f"openai:{m}"})(),
                   sandbox=SandboxConfig(mode=mode))
    result, _ = await collect(rlm)
    assert result.answer == "done"
    fed = last_user_message(fake.requests[1])
    assert "environments" in fed and TEST_KEY not in fed


@pytest.mark.parametrize("forged", [
    "s.sendall(b'[1]\\n')",  # not a message
    "s.sendall(b'{\"op\": \"out\", \"nbytes\": 1099511627776}\\n')",  # a 1 TiB payload
    "s.sendall(b'{\"op\": \"out\", \"nbytes\": \"lots\"}\\n')",
])
async def test_forged_messages_from_model_code_restart_the_worker(session_factory, forged):
    repl = session_factory("sandboxed")
    await repl.set_context(ContextSource(value="kept"))
    out, res = await run(repl, "import socket, sys, time\n"
                               "s = socket.socket(fileno=int(sys.argv[1]))\n"
                               f"{forged}\ntime.sleep(30)")
    assert res.restarted
    out, res = await run(repl, "print(context)")
    assert out == "kept\n" and res.error is None


async def test_a_forged_result_of_the_wrong_shape_is_made_safe(session_factory):
    repl = session_factory("sandboxed")
    forged = json.dumps({"op": "done", "id": 1, "error": 5, "final": ["x"], "variables": "no",
                         "duration": "soon", "traceback": None})
    out, res = await run(repl, "import socket, sys, time\n"
                               "s = socket.socket(fileno=int(sys.argv[1]))\n"
                               f"s.sendall({forged!r}.encode() + b'\\n')")
    assert (res.error, res.final, res.variables, res.duration) == ("5", "['x']", [], 0.0)
    out, res = await run(repl, "print('still here')")
    assert out == "still here\n"


async def test_output_left_running_between_blocks_does_not_pile_up(session_factory):
    repl = session_factory("sandboxed")
    await run(repl, "import threading, sys\n"
                    "def spam():\n"
                    "    while True:\n"
                    "        sys.stdout.write('x' * 65536)\n"
                    "threading.Thread(target=spam, daemon=True).start()")
    for _ in range(20):
        await repl.variables()  # requests between blocks while the thread floods
    assert repl._inbox.qsize() < 100  # what would have grown without bound


@pytest.mark.parametrize("argv, expected", [
    (["--no-sandbox"], SandboxConfig(mode="off")),
    (["ask", "q", "--sandbox-network", "--sandbox-bind", "/usr", "--sandbox-bind", "/opt"],
     SandboxConfig(network=True, binds=("/usr", "/opt"))),
    (["--sandbox-bind", "/usr", "ask", "q"], SandboxConfig(binds=("/usr",))),
    ([], SandboxConfig()),
])
def test_sandbox_flags_reach_the_settings(argv, expected, monkeypatch):
    from rlm_engine import RLM
    from rlm_tui.cli_args import build_parser, resolve_model_args
    from rlm_tui.session import Session, settings_from_args

    for name in ("RLM_TUI_SANDBOX", "RLM_TUI_SANDBOX_NETWORK", "RLM_TUI_SANDBOX_BINDS"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_from_args(resolve_model_args(build_parser().parse_args(argv)))
    assert settings.sandbox == (None if not argv else expected)  # None: the environment's
    assert Session.create(settings).repl.sandbox == expected
    assert RLM.from_config(settings).sandbox == expected



def test_benchmark_trials_take_the_sandbox_flags(monkeypatch):
    from rlm_tui.bench_cli import limit_options
    from rlm_tui.cli_args import build_parser

    monkeypatch.delenv("RLM_TUI_SANDBOX", raising=False)
    args = build_parser().parse_args(["bench", "--no-sandbox", "--sandbox-bind", "/usr"])
    assert limit_options(args)["sandbox"] == SandboxConfig(mode="off", binds=("/usr",))
    assert limit_options(build_parser().parse_args(["bench"]))["sandbox"] == SandboxConfig()
