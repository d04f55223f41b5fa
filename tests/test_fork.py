"""Forking a recorded run (rlm_engine/fork.py) against the loopback fake server: the REPL is
rebuilt without calling any model, the conversation is the parent's, the new part is live,
and a block whose output cannot be reproduced is reported, not silently passed over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import collect, make_rlm, of
from rlm_engine import events as ev
from rlm_engine.fork import EDIT_MODEL, ForkError, ForkOptions, start_fork
from rlm_engine.replay import RecordedRun
from rlm_engine.trajectory import load_trajectory

PARENT = [
    "Look first.\n```repl\nx = len(context)\nprint('chars', x)\n```\n",
    "Ask the sub model.\n```repl\ny = llm_query('what is ' + str(x))\nprint(y)\n```\n",
    "Both at once.\n```repl\nz = llm_query_batched(['a', 'b'])\nprint(z)\n```\n"
    "```repl\nw = [s.upper() for s in z]\nprint(w)\n```\n",
    "```repl\nresult = f'{x}-{y}-{w}'\nFINAL_VAR(result)\n```\n",
]


async def record_parent(ollama, replies=PARENT, context="hello world"):
    ollama.fake.script("root", list(replies))
    ollama.fake.script("sub", lambda msgs: "sub says " + msgs[-1]["content"])
    result, events = await collect(make_rlm(ollama, sub="sub"), "the question", context)
    assert result.status == "completed", result.error
    return RecordedRun.load(result.trajectory_path), events


def last_vars(events, iteration_max):
    """The variables after the last block of iterations 1..iteration_max of the root run."""
    root = events[0].run_id
    done = [e for e in of(events, ev.CodeBlockFinished)
            if e.run_id == root and e.iteration <= iteration_max]
    return done[-1].variables if done else ()


@pytest.mark.parametrize("at", [0, 1, 2, 3, 4])
async def test_fork_at_each_iteration_rebuilds_without_calling_models(ollama, at):
    parent, parent_events = await record_parent(ollama)
    parent_requests = [r for r in ollama.fake.requests if r.get("model") == "root"]
    assert len(parent_requests) == 4
    before = len(ollama.fake.requests)
    ollama.fake.script("root2", ["FINAL(forked)"])
    rlm = make_rlm(ollama, root="root2", sub="sub")
    run = start_fork(rlm, parent, ForkOptions(at=at), context="hello world")
    events = [e async for e in run]
    await rlm.aclose()
    result = run.result
    assert result.status == "completed", result.error
    assert result.answer == "forked"
    new = ollama.fake.requests[before:]
    # no sub-call and no root call for the replayed part: one live call to the new model
    assert [r["model"] for r in new] == ["root2"]
    # the live call sees the parent's conversation up to the fork point
    if at < 4:
        assert new[0]["body"]["messages"] == parent_requests[at]["body"]["messages"]
    # the rebuilt REPL holds what the parent's did at that point
    assert last_vars(events, at) == last_vars(parent_events, at)
    restored = of(events, ev.ForkRestored)
    assert len(restored) == 1 and restored[0].iteration == at and not restored[0].diverged
    started = events[0]
    assert isinstance(started, ev.RunStarted)
    assert started.forked_from == parent.state.run_id and started.fork_at == at
    assert started.fork_file == str(parent.path)
    # served sub-calls are in the fork's record with the recorded answers
    served = [s for it in result.iteration_log[:at] for b in it.blocks for s in b.sub_calls]
    want = [s for it in parent.state.iterations[:at] for b in it.blocks for s in b.sub_calls]
    assert [s.answer for s in served] == [s.answer for s in want]
    # and the file says it all in its first lines; it loads back as a run with its fork point
    traj = load_trajectory(result.trajectory_path)
    assert traj.events[0].forked_from == parent.state.run_id
    again = RecordedRun.load(result.trajectory_path)
    assert again.state.inherited == at
    from rlm_engine.export import to_json, to_markdown
    assert f"at iteration {at} " in to_markdown(again)
    assert json.loads(to_json(again))["fork_at"] == at
    assert [it.response for it in again.state.iterations[:at]] == \
        [it.response for it in parent.state.iterations[:at]]


async def test_a_block_printing_the_clock_is_a_divergence(ollama):
    replies = ["```repl\nimport time\nt = time.time_ns()\nprint(t)\n```\n", "FINAL(done)"]
    parent, _ = await record_parent(ollama, replies)
    before = len(ollama.fake.requests)
    ollama.fake.script("root2", ["FINAL(should not be asked)"])
    rlm = make_rlm(ollama, root="root2")
    run = start_fork(rlm, parent, ForkOptions(at=1), context="hello world")
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.status == "failed" and run.result.reason == "diverged"
    (d,) = of(events, ev.ForkDiverged)
    assert (d.iteration, d.index) == (1, 0)
    assert "output differs" in d.what and d.diff.startswith("--- recorded")
    assert "iteration 1, block 1" in run.result.error
    assert len(ollama.fake.requests) == before  # it stopped before asking any model


async def test_keep_going_reports_the_divergence_and_goes_on(ollama):
    replies = ["```repl\nimport random\nr = random.random()\nprint(r)\n```\n", "FINAL(done)"]
    parent, _ = await record_parent(ollama, replies)
    ollama.fake.script("root2", ["FINAL(went on)"])
    rlm = make_rlm(ollama, root="root2")
    run = start_fork(rlm, parent, ForkOptions(at=1, keep_going=True), context="hello world")
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.answer == "went on"
    assert len(of(events, ev.ForkDiverged)) == 1
    assert of(events, ev.ForkRestored)[0].diverged


async def test_a_changed_context_is_a_divergence(ollama):
    parent, _ = await record_parent(ollama)
    rlm = make_rlm(ollama, root="root2")
    run = start_fork(rlm, parent, ForkOptions(at=2), context="another text, longer")
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.reason == "diverged"
    assert of(events, ev.ForkDiverged)[0].index == -1


async def test_instruction_and_edited_block_go_first(ollama):
    parent, _ = await record_parent(ollama)
    before = len(ollama.fake.requests)
    ollama.fake.script("root2", ["FINAL(ok)"])
    rlm = make_rlm(ollama, root="root2", sub="sub")
    options = ForkOptions(at=2, instruction="Count the words instead.",
                          code="q = llm_query('live one')\nprint(q, x)")
    run = start_fork(rlm, parent, options, context="hello world")
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.answer == "ok"
    new = ollama.fake.requests[before:]
    assert [r["model"] for r in new] == ["sub", "root2"]  # the edited block's call is live
    msgs = new[1]["body"]["messages"]
    assert msgs[-2]["content"].startswith("```repl\nq = llm_query('live one')")
    assert "sub says live one 11" in msgs[-1]["content"]
    assert msgs[-1]["content"].endswith("A note from the user: Count the words instead.")
    assert [e.model for e in of(events, ev.ReplyFinished)][2] == EDIT_MODEL
    assert events[0].max_iterations == 3 + 15
    assert list(run.result.usage["by_model"]) == ["sub", "root2"]  # the edit is no model call


async def test_fork_point_out_of_range_is_one_line(ollama):
    parent, _ = await record_parent(ollama)
    with pytest.raises(ForkError, match="use 0 to 4"):
        start_fork(make_rlm(ollama), parent, ForkOptions(at=9), context="x")


async def test_fork_of_an_rlms_log_uses_its_context_and_reports_what_differs(ollama):
    from pathlib import Path

    fixture = Path(__file__).parent / "data" / "rlm_2026-01-31_11-05-04_1a2b3c4d.jsonl"
    parent = RecordedRun.load(fixture)
    ollama.fake.script("root2", ["FINAL(from here)"])
    rlm = make_rlm(ollama, root="root2")
    run = start_fork(rlm, parent, ForkOptions(at=1, keep_going=True))
    events = [e async for e in run]
    await rlm.aclose()
    # the log's context is shorter than the one its run had: said, then it goes on
    (d,) = of(events, ev.ForkDiverged)
    assert (d.iteration, d.index) == (1, 0) and "48210" in d.diff
    assert run.result.answer == "from here"
    assert [r["model"] for r in ollama.fake.requests] == ["root2"]


# -- export --format rlms ---------------------------------------------------------------------


def kid(messages):
    """A child run's root model (rlm_query) and the sub model (llm_query) in one script."""
    if messages[0]["role"] != "system":
        return "sub says " + messages[-1]["content"]
    if len(messages) == 2:
        return "```repl\nprint('kid sees', len(context))\n```\n"
    return "FINAL(kid answer)"


async def test_rlms_export_round_trips_through_our_importer(ollama, tmp_path):
    from rlm_engine.rlms_log import is_rlms_log
    from rlm_engine.rlms_writer import to_rlms

    ollama.fake.script("root", [
        "```repl\nprint('hi')\nimport sys\nprint('warn', file=sys.stderr)\n```\n",
        "```repl\na = llm_query('one')\nb = rlm_query('dig', context=[1, 2, 3])\nprint(a, b)\n```\n",
        "```repl\nundefined_name\n```\n",
        "```repl\nres = a + ' / ' + b\n```\nFINAL_VAR(res)",
    ])
    ollama.fake.script("kid", kid)
    result, _ = await collect(make_rlm(ollama, sub="kid", max_depth=2), "q?", "ctx text")
    assert result.status == "completed", result.error
    ours = RecordedRun.load(result.trajectory_path)
    path = tmp_path / "rlm_export.jsonl"
    path.write_text(to_rlms(ours))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["metadata", "run_context"] + ["iteration"] * 4
    assert is_rlms_log(path)
    back = RecordedRun.load(path)
    assert back.prompt == ours.prompt and back.model == ours.model
    assert back.state.answer == ours.state.answer == "sub says one / kid answer"
    assert len(back.state.iterations) == len(ours.state.iterations) == 4
    for a, b in zip(ours.state.iterations, back.state.iterations):
        assert a.response == b.response
        assert a.feedback == b.feedback or a.iteration == 4
        assert [x.code for x in a.blocks] == [x.code for x in b.blocks]
        assert [x.output for x in a.blocks] == [x.output for x in b.blocks]
        # (their format has no error field: our importer reads any stderr as one)
        assert [x.error for x in a.blocks if x.error] == \
            [y.error for x, y in zip(a.blocks, b.blocks) if x.error]
        assert [(s.model, s.answer) for x in a.blocks for s in x.sub_calls] == \
            [(s.model, s.answer) for x in b.blocks for s in x.sub_calls]
    # the child run is nested in its call, and comes back as a child run
    call = lines[3]["code_blocks"][0]["result"]["rlm_calls"][1]
    assert call["metadata"]["iterations"][0]["code_blocks"][0]["result"]["stdout"] == \
        "kid sees 3\n"
    kids = [e for e in back.events if isinstance(e, ev.RunStarted) and e.depth == 1]
    assert len(kids) == 1 and kids[0].prompt == "dig"
    # the log holds the context, so a fork of it rebuilds without a divergence
    ollama.fake.script("root2", ["FINAL(again)"])
    before = len(ollama.fake.requests)
    rlm = make_rlm(ollama, root="root2")
    run = start_fork(rlm, back, ForkOptions(at=3))
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.answer == "again", run.result.error
    assert not of(events, ev.ForkDiverged)
    assert [r["model"] for r in ollama.fake.requests[before:]] == ["root2"]


# -- the commands -------------------------------------------------------------------------------


def rlm_tui(*args, env=None, stdin=None):
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("rlm-tui"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, input=stdin)


async def test_fork_command_goes_on_with_another_model(ollama, tmp_path):
    ctx = tmp_path / "doc.txt"
    ctx.write_text("hello world")
    parent, _ = await record_parent(ollama, context=ctx)
    assert parent.state.started.context_path == str(ctx.resolve())
    ollama.fake.script("other", ["FINAL(other model)"])
    before = len(ollama.fake.requests)
    p = rlm_tui("fork", str(parent.path), "--at", "2", "-m", "other", "--json",
                "--question", "Be brief.", env={"OLLAMA_HOST": ollama.fake.url})
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["answer"] == "other model" and data["fork_at"] == 2
    assert "rebuilt 2 iteration(s) (2 block(s) re-run, 1 sub-call(s) from the recording)" \
        in p.stderr
    new = ollama.fake.requests[before:]
    assert [r["model"] for r in new] == ["other"]
    assert new[0]["body"]["messages"][-1]["content"].endswith("A note from the user: Be brief.")
    traj = load_trajectory(data["trajectory"])
    assert traj.events[0].fork_file == str(parent.path) and traj.events[0].model == "other"
    assert traj.events[0].recursive_model == "sub"  # the parent's sub model stays


async def test_fork_command_stops_at_a_divergence_with_exit_1(ollama):
    parent, _ = await record_parent(
        ollama, ["```repl\nimport uuid\nprint(uuid.uuid4())\n```\n", "FINAL(x)"], context=None)
    p = rlm_tui("fork", str(parent.path), "--at", "1", env={"OLLAMA_HOST": ollama.fake.url})
    assert p.returncode == 1
    assert "diverged at iteration 1, block 1: its output differs" in p.stderr
    assert "--- recorded" in p.stderr and "Traceback" not in p.stderr


def test_fork_command_bad_iteration_and_rlms_without_model_are_one_line():
    from pathlib import Path

    fixture = Path(__file__).parent / "data" / "rlm_2026-01-31_11-05-04_1a2b3c4d.jsonl"
    p = rlm_tui("fork", str(fixture), "--at", "1")
    assert p.returncode == 2 and "-m MODEL" in p.stderr and len(p.stderr.splitlines()) == 1
    p = rlm_tui("fork", str(fixture), "--at", "99", "-m", "x")
    assert p.returncode == 2 and "use 0 to" in p.stderr and len(p.stderr.splitlines()) == 1


def test_export_format_rlms_command(tmp_path):
    from pathlib import Path

    fixture = Path(__file__).parent / "data" / "rlm_2026-01-31_11-05-04_1a2b3c4d.jsonl"
    out = tmp_path / "again.jsonl"
    p = rlm_tui("export", str(fixture), "--format", "rlms", "-o", str(out))
    assert p.returncode == 0, p.stderr
    a, b = RecordedRun.load(fixture), RecordedRun.load(out)
    assert [it.response for it in a.state.iterations] == [it.response for it in b.state.iterations]
    assert a.state.answer == b.state.answer


async def test_fork_of_a_run_with_a_child_run_serves_the_childs_answer(ollama):
    replies = ["```repl\nk = rlm_query('dig', context=[1, 2, 3])\nprint(k)\n```\n",
               "FINAL(parent done)"]
    ollama.fake.script("root", list(replies))
    ollama.fake.script("kid", kid)
    result, _ = await collect(make_rlm(ollama, sub="kid", max_depth=2), "q", "ctx")
    parent = RecordedRun.load(result.trajectory_path)
    before = len(ollama.fake.requests)
    ollama.fake.script("root2", ["```repl\nprint(k)\n```\n", "FINAL(ok)"])
    rlm = make_rlm(ollama, root="root2", sub="kid", max_depth=2)
    run = start_fork(rlm, parent, ForkOptions(at=1), context="ctx")
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.answer == "ok", run.result.error
    assert [r["model"] for r in ollama.fake.requests[before:]] == ["root2", "root2"]
    assert not of(events, ev.ForkDiverged)
    out = [e.text for e in of(events, ev.CodeOutput) if e.iteration == 2]
    assert out == ["kid answer\n"]
    # the served call has no child run under it, and the fork's file holds no depth-1 events
    assert all(e.depth == 0 for e in events)


def test_history_nests_forks_and_survives_odd_fork_fields(tmp_path):
    """A fork whose parent is gone is listed at the top level; a run_started whose fork_at
    is not an integer is a damaged line, refused by the typed reader (schema.py) like any
    other, so that file is not listed (and nothing else is lost)."""
    import json as _json

    from rlm_engine.history import list_history

    root = tmp_path / "d"
    (root / "trajectories").mkdir(parents=True)

    def write(name, run_id, when, **extra):
        start = {"type": "run_started", "run_id": run_id, "depth": 0, "prompt": name,
                 "model": "m", "recursive_model": "m", "max_iterations": 3,
                 "started_at": when, **extra}
        (root / "trajectories" / f"{name}.jsonl").write_text(_json.dumps(start) + "\n")

    write("parent", "p1", 100.0)
    write("other", "o1", 300.0)
    write("fork", "f1", 200.0, forked_from="p1", fork_at=2)
    write("forkfork", "f2", 400.0, forked_from="f1", fork_at=1)
    write("orphan", "x1", 250.0, forked_from="gone", fork_at=3)
    write("damaged", "d1", 260.0, forked_from="p1", fork_at="three")
    entries = list_history(root)
    assert [(e.prompt, e.depth) for e in entries] == [
        ("other", 0), ("orphan", 0), ("parent", 0), ("fork", 1), ("forkfork", 2)]
    assert (entries[1].forked_from, entries[1].fork_at) == ("gone", 3)


async def test_a_forks_usage_counts_only_its_own_calls(ollama):
    parent, _ = await record_parent(ollama)
    ollama.fake.script("root2", ["FINAL(x)"])
    rlm = make_rlm(ollama, root="root2", sub="sub")
    run = start_fork(rlm, parent, ForkOptions(at=3), context="hello world")
    [e async for e in run]
    await rlm.aclose()
    by_model = run.result.usage["by_model"]
    assert list(by_model) == ["root2"] and by_model["root2"]["calls"] == 1


async def test_an_unfinished_iteration_cannot_be_a_fork_point(ollama, tmp_path):
    parent, _ = await record_parent(ollama)
    lines = parent.path.read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if '"code_block_finished"' in line
               and '"iteration":2' in line)
    short = tmp_path / "cut.jsonl"
    short.write_text("\n".join(lines[:cut]) + "\n")
    with pytest.raises(ForkError, match="iteration 2 did not finish"):
        start_fork(make_rlm(ollama), RecordedRun.load(short), ForkOptions(at=2), context="x")


async def test_a_later_question_of_a_session_is_rebuilt_after_the_earlier_ones(ollama):
    from rlm_engine import ReplSession

    ollama.fake.script("root", [
        "```repl\nfirst = llm_query('one')\nprint(first)\n```\n", "FINAL(a)",
        "```repl\nprint(first.upper())\n```\n", "FINAL(b)",
    ])
    ollama.fake.script("sub", ["from the first question"])
    rlm = make_rlm(ollama, sub="sub")
    repl = ReplSession()
    try:
        one = await rlm.start("q1", "ctx", repl=repl).wait()
        two = await rlm.start("q2", None, repl=repl).wait()
    finally:
        await repl.close()
    assert two.answer == "b"
    parent = RecordedRun.load(two.trajectory_path)
    assert parent.state.started.earlier_runs == (one.run_id,)
    before = len(ollama.fake.requests)
    ollama.fake.script("root", ["FINAL(c)"])
    run = start_fork(rlm, parent, ForkOptions(at=1), context="ctx")
    events = [e async for e in run]
    assert run.result.answer == "c", run.result.error
    assert not of(events, ev.ForkDiverged)
    assert of(events, ev.CodeOutput)[0].text == "FROM THE FIRST QUESTION\n"
    assert [r["model"] for r in ollama.fake.requests[before:]] == ["root"]  # no sub-call
    # a fork of the fork rebuilds the earlier question too
    again = RecordedRun.load(run.result.trajectory_path)
    assert again.state.started.earlier_runs == (one.run_id,)
    ollama.fake.script("root", ["FINAL(d)"])
    run2 = start_fork(rlm, again, ForkOptions(at=1), context="ctx")
    [e async for e in run2]
    assert run2.result.answer == "d", run2.result.error
    # without the earlier question's file, it says so in one line
    Path(one.trajectory_path).unlink()
    with pytest.raises(ForkError, match="earlier question"):
        start_fork(rlm, parent, ForkOptions(at=1), context="ctx")
    await rlm.aclose()


async def test_fork_over_each_protocol(backend):
    backend.fake.script("root", list(PARENT))
    backend.fake.script("sub", lambda msgs: "sub says " + msgs[-1]["content"])
    result, _ = await collect(make_rlm(backend, sub="sub"), "the question", "hello world")
    assert result.status == "completed", result.error
    parent = RecordedRun.load(result.trajectory_path)
    before = len(backend.fake.requests)
    backend.fake.script("root2", ["FINAL(forked)"])
    rlm = make_rlm(backend, root="root2", sub="sub")
    run = start_fork(rlm, parent, ForkOptions(at=3), context="hello world")
    events = [e async for e in run]
    await rlm.aclose()
    assert run.result.answer == "forked", run.result.error
    assert not of(events, ev.ForkDiverged)
    assert [r["model"] for r in backend.fake.requests[before:]] == ["root2"]
