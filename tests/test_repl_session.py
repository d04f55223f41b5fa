"""The REPL worker process, driven directly through ReplSession."""

from __future__ import annotations

import asyncio
import os

import pytest

from rlm_engine.repl.session import ContextSource, ReplSession


@pytest.fixture(params=["auto", "off"])
async def repl(request):
    """Each test runs sandboxed where bwrap works (auto) and unsandboxed (off), so the
    fallback stays tested on machines that have the sandbox."""
    from rlm_engine.repl.sandbox import SandboxConfig
    session = ReplSession(block_timeout=5.0, sandbox=SandboxConfig(mode=request.param))
    await session.start()
    yield session
    await session.close()


async def test_runs_in_another_process_with_no_keys_in_a_temp_dir(repl, monkeypatch):
    out = []
    res = await repl.execute(
        "import os\nprint(os.getpid())\nprint(sorted(k for k in os.environ if 'KEY' in k))\n"
        "print(os.getcwd())", on_output=lambda s, d: out.append(d))
    pid, keys, cwd = "".join(out).splitlines()
    assert res.error is None
    assert int(pid) != os.getpid()
    assert keys == "[]"
    assert os.path.basename(cwd).startswith("rlm-repl-")


async def test_output_streams_live_while_the_block_runs(repl):
    seen = []
    loop = asyncio.get_running_loop()

    def sink(stream, data):
        seen.append((loop.time(), data))

    res = await repl.execute("import time\nfor i in range(3):\n    print(i)\n    time.sleep(0.3)",
                             on_output=sink)
    assert res.error is None
    assert "".join(d for _, d in seen) == "0\n1\n2\n"
    # three separate deliveries, spread over the block's run (not one lump at the end)
    assert len(seen) == 3
    assert seen[-1][0] - seen[0][0] > 0.4


async def test_interrupted_block_keeps_variables(repl):
    res = await repl.execute("kept = 'yes'\nwhile True:\n    pass", timeout=0.5)
    assert res.error.startswith("TimeoutError") and not res.restarted
    value, err = await repl.get_variable("kept")
    assert value == "yes" and err is None


async def test_worker_ignoring_interrupt_is_killed_and_restarted_with_context(repl):
    await repl.set_context(ContextSource(value="the context"))
    await repl.execute("lost = 1")
    res = await repl.execute(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        timeout=0.5)
    assert res.restarted
    assert "restarted" in res.error and "lost" in res.error
    value, _ = await repl.get_variable("context")
    assert value == "the context"
    assert (await repl.get_variable("lost"))[0] is None


async def test_os_exit_and_sys_exit(repl):
    await repl.execute("a = 1")
    res = await repl.execute("import os\nos._exit(3)")
    assert res.restarted and "exit code 3" in res.error and "variables lost: a" in res.error
    res = await repl.execute("import sys\nsys.exit(2)")
    assert res.error.startswith("SystemExit(2)") and not res.restarted


async def test_memory_bomb_is_a_memory_error():
    session = ReplSession(memory_mb=1024)
    try:
        res = await session.execute("x = bytearray(10 * 1024**3)")
        assert res.error.startswith("MemoryError")
        assert not res.restarted
        # a hog that fits is kept; the next failure names it so the model can let it go
        res = await session.execute("hog = bytearray(700 * 1024**2)\ny = bytearray(600 * 1024**2)")
        assert res.error == ("MemoryError (the REPL's memory of the 1024 MB cap is used up; "
                             "biggest: hog 700 MB; `del` what you no longer need)")
        assert (await session.execute("del hog\ny = bytearray(600 * 1024**2)")).error is None
    finally:
        await session.close()


async def test_context_kinds_from_files(repl, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("alpha")
    (tmp_path / "rows.csv").write_text("name,n\nx,1\ny,2\n")
    (tmp_path / "recs.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    (tmp_path / "obj.json").write_text('{"k": [1, 2]}')
    (tmp_path / "mixed.txt").write_bytes(b"caf\xc3\xa9\r\nbad \xff byte\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    expected = {"mixed.txt": ("str", "café\r\nbad \ufffd byte\n"),  # CRLF kept, bad byte replaced
                "empty.txt": ("str", ""),
                "d": ("dict", "{'a.txt': 'alpha'}"),
                "rows.csv": ("list", "[{'name': 'x', 'n': '1'}, {'name': 'y', 'n': '2'}]"),
                "recs.jsonl": ("list", "[{'a': 1}, {'a': 2}]"),
                "obj.json": ("dict", "{'k': [1, 2]}")}
    for name, (type_name, text) in expected.items():
        info = await repl.set_context(ContextSource(path=str(tmp_path / name), name=name))
        assert info["type"] == type_name
        assert (await repl.get_variable("context"))[0] == text


async def test_variable_summary(repl):
    res = await repl.execute("nums = list(range(100))\nname = 'abc'\nimport json")
    by_name = {v["name"]: v for v in res.variables}
    assert by_name["nums"]["type"] == "list" and by_name["nums"]["size"] == 100
    assert by_name["name"]["preview"] == "'abc'"
    assert "json" not in by_name and "llm_query" not in by_name


async def test_a_block_given_up_on_does_not_answer_for_the_next_one(repl):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(repl.execute("x = 41\nimport time\ntime.sleep(30)"), 0.3)
    res = await repl.execute("x = 42\nprint(x)", on_output=lambda s, d: None)
    assert res.error is None
    assert [v["preview"] for v in res.variables if v["name"] == "x"] == ["42"]


async def test_odd_model_objects_do_not_kill_the_worker(repl):
    res = await repl.execute(
        "class L(list):\n    def __len__(self):\n        raise ValueError('no len')\n"
        "odd = L([1])\n"
        "class S:\n    def __str__(self):\n        raise SystemExit('nope')\n"
        "weird = S()")
    assert res.error is None and not res.restarted
    value, error = await repl.get_variable("weird")
    assert value is None and error.startswith("SystemExit")
    assert await repl.get_variable("odd") == ("[1]", None)
    res = await repl.execute("still = 'alive'")
    assert not res.restarted and (await repl.get_variable("still"))[0] == "alive"


async def test_big_values_and_surrogates_cross_the_channel(repl):
    out = []
    res = await repl.execute("big = 'y' * 20_000_000\nprint('bad \\udcff name')",
                             on_output=lambda s, d: out.append(d))
    assert res.error is None
    assert "".join(out) == "bad \\udcff name\n"
    value, _ = await repl.get_variable("big")
    assert len(value) == 20_000_000
    res = await repl.execute("FINAL_VAR(big)")
    assert len(res.final) == 20_000_000 and not res.restarted
    assert (await repl.get_variable("empty_missing"))[1] == "no variable named 'empty_missing'"
    await repl.execute("empty = ''")
    assert await repl.get_variable("empty") == ("", None)


async def test_llm_query_from_threads_does_not_deadlock(repl):
    async def answer(request):
        return [{"text": p.upper()} for p in request["prompts"]]

    res = await repl.execute(
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    got = list(pool.map(llm_query, ['a', 'b', 'c', 'd', 'e']))\n"
        "print(got)", on_query=answer, timeout=20, on_output=lambda s, d: None)
    assert res.error is None and not res.restarted
    assert (await repl.get_variable("got"))[0] == "['A', 'B', 'C', 'D', 'E']"


async def test_a_failed_context_load_keeps_restarts_working(repl, tmp_path):
    from rlm_engine import ReplError
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReplError):
        await repl.set_context(ContextSource(path=str(bad), name="bad.json"))
    res = await repl.execute("import os\nos._exit(1)")
    assert res.restarted
    assert (await repl.execute("ok = 1")).error is None


async def test_final_var_takes_a_quoted_name_or_a_value(repl):
    await repl.execute("result = 'by name'\nsnake_case_words = 'the value'")
    assert (await repl.execute("FINAL_VAR('result')")).final == "by name"
    assert (await repl.execute("FINAL_VAR(snake_case_words)")).final == "the value"
    res = await repl.execute("FINAL_VAR('missing')")
    assert res.final is None and "no variable named 'missing'" in res.error


async def test_imported_names_are_not_listed_as_variables(repl):
    res = await repl.execute("from collections import Counter\nfrom os.path import join\n"
                             "def mine():\n    return 1\nclass Thing:\n    pass\nc = Counter('aab')")
    assert [v["name"] for v in res.variables] == ["context", "mine", "Thing", "c"]


async def test_special_files_in_a_context_directory_are_skipped_with_a_note(repl, tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("alpha")
    os.mkfifo(d / "pipe")  # opening it would block the load forever
    (d / "dangling").symlink_to(tmp_path / "nowhere")
    info = await repl.set_context(ContextSource(path=str(d), name="docs"))
    assert info["items"] == 1 and (await repl.get_variable("context"))[0] == "{'a.txt': 'alpha'}"
    assert info["note"].startswith("skipped 2 special or unreadable file(s)")
    assert "pipe" in info["note"] and "dangling" in info["note"]
    from rlm_engine import ReplError
    with pytest.raises(ReplError, match="pipe is not a regular file"):
        await repl.set_context(ContextSource(path=str(d / "pipe"), name="pipe"))
    assert (await repl.get_variable("context"))[0] == "{'a.txt': 'alpha'}"  # the old one stays


class _Stalls:
    """Unpickling this in the worker never ends (like a load stuck on a dead mount)."""

    def __reduce__(self):
        import time
        return (time.sleep, (3600,))


async def test_a_context_load_that_hangs_is_stopped_and_the_old_context_stays():
    import pickle

    from rlm_engine import ReplError
    repl = ReplSession(context_timeout=1.0)
    try:
        await repl.set_context(ContextSource(value="old"))
        with pytest.raises(ReplError, match="took longer than 1 s"):
            await repl.set_context(ContextSource(pickled=pickle.dumps(_Stalls())))
        assert (await repl.get_variable("context"))[0] == "old"
    finally:
        await repl.close()


async def test_a_worker_that_died_idle_is_restarted_with_its_context(repl, tmp_path):
    import signal
    (tmp_path / "c.txt").write_text("file context")
    await repl.set_context(ContextSource(path=str(tmp_path / "c.txt"), name="c.txt"))
    await repl.execute("gone = 1")
    old = repl.pid
    os.kill(old, signal.SIGKILL)
    while repl._proc.returncode is None:  # noqa: SLF001 - wait for the death to be seen
        await asyncio.sleep(0.01)
    assert (await repl.get_variable("context"))[0] == "file context"
    assert repl.pid != old
    assert [v["name"] for v in await repl.variables()] == ["context"]
    os.kill(repl.pid, signal.SIGKILL)
    while repl._proc.returncode is None:  # noqa: SLF001
        await asyncio.sleep(0.01)
    out = []
    res = await repl.execute("print(len(context))", on_output=lambda s, d: out.append(d))
    assert res.error is None and out[-1] == "12\n"
    assert out[0] == ("note: the REPL process died while idle (killed by signal 9); no "
                      "variables were lost; it was restarted with `context` reloaded\n")
    assert "variables lost: gone" not in "".join(out)  # told once, at the first death


async def test_a_file_up_to_the_memory_cap_loads_without_counting_twice(tmp_path):
    from rlm_engine import ReplError
    big = tmp_path / "big.txt"
    line = b"0123456789abcdef" * 4 + b"\n"
    with open(big, "wb") as fh:
        fh.write(line * (160 * (1 << 20) // len(line)))  # 160 MB of text
    repl = ReplSession(memory_mb=320)  # mapping + text would be 320 MB and more
    try:
        info = await repl.set_context(ContextSource(path=str(big), name="big.txt"))
        assert info["chars"] == big.stat().st_size
        out = []
        res = await repl.execute("print(len(context))\nx = bytearray(1 << 30)",
                                 on_output=lambda s, d: s == "stdout" and out.append(d))
        assert "".join(out) == f"{big.stat().st_size}\n"
        assert res.error.startswith("MemoryError")  # the cap holds after the load
        huge = tmp_path / "huge.txt"
        with open(huge, "wb") as fh:
            fh.truncate(400 << 20)
        with pytest.raises(ReplError, match="over the REPL's memory cap of 320 MB"):
            await repl.set_context(ContextSource(path=str(huge), name="huge.txt"))
    finally:
        await repl.close()


async def test_a_worker_that_dies_answering_an_inspection_is_restarted(repl):
    await repl.set_context(ContextSource(value="ctx"))
    # a value whose text form kills the worker: reading it must not raise into the app
    await repl.execute("import os\nclass Bomb:\n    def __str__(self):\n        os._exit(9)\n"
                       "b = Bomb()")
    value, error = await repl.get_variable("b")
    assert value is None and error.startswith("the REPL process died or hung reading a variable")
    assert (await repl.get_variable("context")) == ("ctx", None)


async def test_close_works_where_there_are_no_pidfds(monkeypatch):
    """pidfd_open exists only on Linux 5.3+ builds: without it, close does not wait for the
    worker's exit (nothing to wait on) but still ends it."""
    repl = ReplSession()
    await repl.start()
    pid = repl.pid
    monkeypatch.delattr(os, "pidfd_open")
    await repl.close()
    assert repl.pid is None and pid
