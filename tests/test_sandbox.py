"""The REPL sandbox through the whole loop: floods, sub-calls that fail or fan out, and a
worker that must not outlive its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_llm_server import Reply
from conftest import free_port
from helpers import collect, last_user_message, make_rlm, of
from rlm_engine import RLM
from rlm_engine import events as ev


async def test_a_100_mb_print_is_cut_for_the_model_and_kept_on_disk(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nimport sys\nfor _ in range(100):\n"
                   "    sys.stdout.write('x' * 999_999 + '\\n')\n```\n"),
        Reply(text="FINAL(done)")])
    result, events = await collect(make_rlm(ollama))
    assert result.answer == "done"
    done = of(events, ev.CodeBlockFinished)[0]
    assert done.output_chars == 100_000_000
    fed = last_user_message(ollama.fake.requests[1])
    assert "characters cut" in fed and len(fed) < 25_000
    assert Path(done.output_file).stat().st_size == 100_000_000
    assert Path(result.trajectory_path).stat().st_size < 5_000_000


async def test_sub_call_to_a_backend_that_is_down(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\ntry:\n    llm_query('hello')\nexcept LLMQueryError as e:\n"
                   "    print('failed:', e)\n```\n"),
        Reply(text="FINAL(ok)")])
    rlm = RLM(model="root", recursive_model=f"http://127.0.0.1:{free_port()}/sub")
    result, _ = await collect(rlm)
    out = result.iteration_log[0].blocks[0].output
    assert out.startswith("failed: cannot reach Ollama at http://127.0.0.1:")
    assert result.answer == "ok"


async def test_batched_sub_calls_run_concurrently_up_to_the_limit(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nanswers = llm_query_batched([f'q{i}' for i in range(8)])\n"
                   "print(answers)\n```\n"),
        Reply(text="FINAL(ok)")])
    ollama.fake.script("sub", lambda msgs: Reply(text="A-" + msgs[-1]["content"],
                                                 first_delay=0.3))
    result, _ = await collect(make_rlm(ollama, sub="sub", max_concurrent_subcalls=4))
    assert result.iteration_log[0].blocks[0].output.strip() == str(
        [f"A-q{i}" for i in range(8)])
    assert ollama.fake.max_in_flight == 4


def test_worker_dies_with_a_killed_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "import asyncio, sys\n"
        "from rlm_engine.repl.session import ReplSession\n"
        "async def main():\n"
        "    s = ReplSession()\n"
        "    await s.start()\n"
        "    print(s.pid, flush=True)\n"
        "    await s.execute('while True: pass')\n"
        "asyncio.run(main())\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(worker, 0)  # alive while its parent is
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived its killed parent")


async def test_rlm_query_starts_a_child_run_with_its_own_repl(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nfound = rlm_query('What number is in here?', context={'doc': 'x 42 y'})\n"
                   "print(found)\n```\n"),
        Reply(text="FINAL_VAR(found)")])
    ollama.fake.script("sub", [
        Reply(text="```repl\nprint(type(context).__name__, context['doc'].split()[1])\n```\n",
              prompt_tokens=10, completion_tokens=5),
        Reply(text="FINAL(42)", prompt_tokens=20, completion_tokens=2)])
    result, events = await collect(make_rlm(ollama, sub="sub", max_depth=2))
    assert result.answer == "42"
    child_start = [e for e in events if isinstance(e, ev.RunStarted) and e.depth == 1]
    assert len(child_start) == 1 and child_start[0].parent_run_id == events[0].run_id
    assert child_start[0].model == "sub" and child_start[0].context.type == "dict"
    child_blocks = [e for e in events if isinstance(e, ev.CodeBlockFinished) and e.depth == 1]
    child_out = "".join(e.text for e in events if isinstance(e, ev.CodeOutput) and e.depth == 1)
    assert child_out == "dict 42\n" and len(child_blocks) == 1
    call = of(events, ev.SubCallStarted)[0]
    assert call.call_kind == "rlm" and call.child_run_id == child_start[0].run_id
    # the root's result: its own iterations only, the child's tokens counted in
    assert result.iterations == 2
    assert result.usage["by_model"]["rlm:sub"]["prompt_tokens"] == 30
    # the trajectory holds both runs and replays the root
    from rlm_engine import RunState, load_trajectory
    state = RunState()
    for e in load_trajectory(result.trajectory_path).events:
        state.apply(e)
    assert state.result().answer == "42" and len(state.iterations) == 2


async def test_rlm_query_at_the_maximum_depth_is_an_llm_query(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nprint(rlm_query('plain please', context=[1, 2]))\n```\n"),
        Reply(text="FINAL(ok)")])
    ollama.fake.script("sub", ["plain answer"])
    result, events = await collect(make_rlm(ollama, sub="sub"))
    assert result.iteration_log[0].blocks[0].output == "plain answer\n"
    assert not [e for e in events if e.depth]
    assert ollama.fake.requests_for("sub")[0]["body"]["messages"] == [
        {"role": "user", "content": "plain please"}]
