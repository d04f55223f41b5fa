"""The RLM loop through each real client package and wire protocol (Ollama NDJSON, OpenAI SSE,
Anthropic SSE), against the loopback fake server."""

from __future__ import annotations

import asyncio

import pytest

from fake_llm_server import Reply
from helpers import collect, last_user_message, make_rlm, of
from conftest import free_port, point_env_at
from rlm_engine import events as ev

NEEDLE_CONTEXT = ("filler text line\n" * 3000) + "the magic number is 8675309\n" + (
    "more filler\n" * 3000) + "END-OF-CONTEXT-MARKER"


async def test_needle_found_with_final(backend):
    backend.fake.script("root", [
        Reply(text="I will search.\n```repl\nimport re\nm = re.search(r'magic number is (\\d+)', "
                   "context)\nprint(m.group(1))\n```\n"),
        Reply(text="The code printed it.\nFINAL(8675309)"),
    ])
    result, events = await collect(make_rlm(backend), "What is the magic number?", NEEDLE_CONTEXT)
    assert result.status == "completed", result.error
    assert result.answer == "8675309"
    assert result.iterations == 2
    assert of(events, ev.FinalAnswer)[0].source == "FINAL"
    requests = backend.fake.requests_for("root")
    # the context is described, never pasted
    first = requests[0]["body"]
    first_text = str(first.get("messages")) + str(first.get("system", ""))
    assert "END-OF-CONTEXT-MARKER" not in first_text
    assert "str" in first_text and f"{len(NEEDLE_CONTEXT):,}" in first_text
    # the code's real output went back to the model
    assert "8675309" in last_user_message(requests[1])
    assert result.iteration_log[0].blocks[0].output.strip() == "8675309"
    assert isinstance(events[-1], ev.RunFinished) and events[-1].status == "completed"


async def test_final_var_and_state_between_turns(backend):
    backend.fake.script("root", [
        Reply(text="```repl\nwords = context.split()\ncount = len(words)\n```\n"),
        Reply(text="```repl\nsummary = f'{count} words, first {words[0]}'\nprint(summary)\n```\n"),
        Reply(text="FINAL_VAR(summary)"),
    ])
    result, events = await collect(make_rlm(backend), "count", "alpha beta gamma")
    assert result.status == "completed", result.error
    assert result.answer == "3 words, first alpha"
    assert of(events, ev.FinalAnswer)[0].source == "FINAL_VAR"
    finished = of(events, ev.CodeBlockFinished)
    assert {v.name for v in finished[0].variables} >= {"words", "count", "context"}


async def test_error_traceback_fed_back_and_recovered(backend):
    backend.fake.script("root", [
        Reply(text="```repl\nprint(undefined_thing)\n```\n"),
        Reply(text="```repl\nvalue = len(context)\nprint(value)\n```\n"),
        Reply(text="FINAL(it has 5 characters)"),
    ])
    result, events = await collect(make_rlm(backend), "len?", "abcde")
    assert result.status == "completed", result.error
    first_block = of(events, ev.CodeBlockFinished)[0]
    assert first_block.error == "NameError: name 'undefined_thing' is not defined"
    fed_back = last_user_message(backend.fake.requests_for("root")[1])
    assert "NameError" in fed_back and "Traceback" in fed_back and "line 1" in fed_back
    assert "5" in last_user_message(backend.fake.requests_for("root")[2])
    assert result.answer == "it has 5 characters"


async def test_llm_query_goes_to_recursive_model_and_usage_is_per_model(backend):
    backend.fake.script("root", [
        Reply(text="```repl\nparts = [context[:5], context[5:]]\n"
                   "answers = [llm_query('Summarise: ' + p) for p in parts]\nprint(answers)\n```\n",
              prompt_tokens=100, completion_tokens=20),
        Reply(text="FINAL(done)", prompt_tokens=150, completion_tokens=5),
    ])
    backend.fake.script("sub", lambda msgs: Reply(
        text="SUMMARY<" + msgs[-1]["content"].removeprefix("Summarise: ") + ">",
        prompt_tokens=7, completion_tokens=3))
    result, events = await collect(make_rlm(backend, sub="sub"), "summarise", "helloworld")
    assert result.status == "completed", result.error
    sub_requests = backend.fake.requests_for("sub")
    assert [r["body"]["messages"][-1]["content"] for r in sub_requests] == [
        "Summarise: hello", "Summarise: world"]
    assert "['SUMMARY<hello>', 'SUMMARY<world>']" in result.iteration_log[0].blocks[0].output
    root_label, sub_label = backend.spec("root"), backend.spec("sub")
    by_model = result.usage["by_model"]
    assert by_model[root_label] == {"prompt_tokens": 250, "completion_tokens": 25, "calls": 2,
                                    "seconds": by_model[root_label]["seconds"]}
    assert by_model[sub_label]["prompt_tokens"] == 14
    assert by_model[sub_label]["completion_tokens"] == 6
    assert by_model[sub_label]["calls"] == 2
    assert result.usage["total_prompt_tokens"] == 264
    assert result.usage["total_completion_tokens"] == 31
    finished = of(events, ev.SubCallFinished)
    assert [f.answer for f in finished] == ["SUMMARY<hello>", "SUMMARY<world>"]
    assert all(f.model == sub_label for f in finished)


async def test_thinking_arrives_apart_from_the_answer(backend):
    backend.fake.script("root", [Reply(text="FINAL(yes)", thinking="Let me reason quietly.")])
    result, events = await collect(make_rlm(backend), "q")
    assert result.answer == "yes"
    thinking = "".join(e.text for e in of(events, ev.ThinkingDelta))
    assert thinking == "Let me reason quietly."
    assert "reason quietly" not in "".join(e.text for e in of(events, ev.TokenDelta))
    assert result.iteration_log[0].thinking == "Let me reason quietly."


async def test_cancel_mid_stream(backend):
    backend.fake.script("root", [Reply(text="word " * 200, chunk_size=5, delay=0.02)])
    rlm = make_rlm(backend)
    run = rlm.start("q")
    deltas = 0
    async def consume():
        nonlocal deltas
        async for e in run:
            if isinstance(e, ev.TokenDelta):
                deltas += 1
                if deltas == 3:
                    run.cancel()
    await asyncio.wait_for(consume(), 30)
    await rlm.aclose()
    result = run.result
    assert result.status == "cancelled"
    assert deltas < 50  # the stream stopped early: 200 chunks were scripted
    assert result.iteration_log[0].response.startswith("word word")


async def test_backend_down_is_a_clear_error(backend, monkeypatch):
    point_env_at(monkeypatch, backend.protocol, f"http://127.0.0.1:{free_port()}")
    result, events = await collect(make_rlm(backend), "q")
    assert result.status == "failed"
    assert result.reason == "backend"
    assert result.error.startswith("cannot reach")
    assert result.error_kind == "unreachable"
    assert "\n" not in result.error
    assert isinstance(events[-2], ev.RunFailed) and events[-2].error_kind == "unreachable"


async def test_backend_dying_mid_stream_keeps_partial_reply(backend):
    backend.fake.script("root", [Reply(text="I am about to say something long " * 5,
                                       chunk_size=4, die_after=40)])
    result, _ = await collect(make_rlm(backend), "q")
    assert result.status == "failed"
    assert result.reason == "backend"
    assert "mid-reply" in result.error
    assert result.error_kind == "dropped"
    assert result.iteration_log[0].response.startswith("I am about to say")
    assert len(result.iteration_log[0].response) >= 40


async def test_unknown_model_error_names_the_model(backend):
    result, _ = await collect(make_rlm(backend, root="no-such-model"), "q")
    assert result.status == "failed"
    assert "no-such-model" in result.error
    assert "not found" in result.error
    assert result.error_kind == "not_found"


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_wrong_api_key_is_a_clear_error(fake, monkeypatch, protocol):
    point_env_at(monkeypatch, protocol, fake.url)
    key_var = "OPENAI_API_KEY" if protocol == "openai" else "ANTHROPIC_API_KEY"
    monkeypatch.setenv(key_var, "sk-wrong-key-123456")
    fake.script("root", ["FINAL(x)"])
    from rlm_engine import RLM
    result, _ = await collect(RLM(model=f"{protocol}:root", max_retries=0), "q")
    assert result.status == "failed"
    assert key_var in result.error
    assert result.error_kind == "auth"
