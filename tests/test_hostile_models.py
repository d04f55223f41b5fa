"""Models and inputs that misbehave, against the loopback fake server: a FINAL_VAR of a name
that never exists, a run whose context never loads."""

from __future__ import annotations

from fake_llm_server import Reply
from helpers import collect, last_user_message, make_rlm, of
from rlm_engine import events as ev
from rlm_engine.history import list_history
from rlm_engine.repl.session import ContextSource


async def test_final_var_of_a_missing_name_is_fed_back_then_fails_at_the_last_iteration(ollama):
    ollama.fake.script("root", [Reply(text="Done.\nFINAL_VAR(does_not_exist)")] * 3)
    result, events = await collect(make_rlm(ollama, max_iterations=2))
    # fed back at each ordinary iteration, naming the variable
    for request in ollama.fake.requests[1:2]:
        assert "FINAL_VAR(does_not_exist) failed" in last_user_message(request)
    assert len(ollama.fake.requests) == 3  # two iterations and the last chance
    assert result.status == "failed" and result.reason == "no_answer"
    assert "FINAL_VAR(does_not_exist)" in result.error
    assert "FINAL_VAR" not in result.answer and not of(events, ev.FinalAnswer)
    assert of(events, ev.RunFinished)[0].status == "failed"


async def test_final_var_of_a_name_made_later_still_answers(ollama):
    ollama.fake.script("root", [Reply(text="FINAL_VAR(x)"),
                                Reply(text="```repl\nx = 'forty-two'\n```\nFINAL_VAR(x)")])
    result, _ = await collect(make_rlm(ollama, max_iterations=3))
    assert result.status == "completed" and result.answer == "forty-two"


async def test_a_run_whose_context_never_loads_is_in_the_history(ollama):
    ollama.fake.script("root", ["FINAL(never asked)"])
    rlm = make_rlm(ollama)
    missing = ContextSource(path="/no/such/dir/data.txt", name="data.txt")
    result, events = await collect(rlm, "the question", missing)
    assert result.status == "failed" and "context" in result.error
    assert [e.kind for e in events][:1] == ["run_started"]
    assert events[0].context.name == "data.txt"
    (entry,) = list_history()
    assert entry.prompt == "the question" and entry.outcome.startswith("failed: ")
    assert not ollama.fake.requests


async def test_what_a_real_run_writes_passes_every_check(ollama):
    """No false alarms: a run with a child run, a failed block, a FINAL_VAR fed back and a
    no_answer ending is read back whole, with no warning and every event kept."""
    from rlm_engine.replay import RecordedRun
    from rlm_engine.trajectory import load_trajectory

    ollama.fake.script("root", [
        Reply(text="```repl\nfound = rlm_query('What number?', context={'doc': 'x 42 y'})\n"
                   "print(found)\n```\n", prompt_tokens=5, completion_tokens=3),
        Reply(text="```repl\n1/0\n```\n"),
        Reply(text="FINAL_VAR(nothing_here)"),
        Reply(text="FINAL_VAR(still_nothing)")])
    ollama.fake.script("sub", [Reply(text="```repl\nprint(context['doc'].split()[1])\n```\n"),
                               Reply(text="FINAL(42)")])
    result, events = await collect(make_rlm(ollama, sub="sub", max_depth=2, max_iterations=3))
    assert result.reason == "no_answer"
    loaded = load_trajectory(result.trajectory_path)
    assert loaded.warnings == [] and len(loaded.events) == len(events)
    run = RecordedRun.load(result.trajectory_path)
    assert run.warnings == [] and run.events == loaded.events
    assert run.state.result(result.trajectory_path).to_dict() == result.to_dict()
