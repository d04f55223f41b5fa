"""The loop's rules, over Ollama's protocol: how FINAL is read, invented output, nudges,
limits, cancel during code, output cutting."""

from __future__ import annotations

import asyncio

from fake_llm_server import Reply
from helpers import collect, kinds, last_user_message, make_rlm, of, running
from rlm_engine import events as ev
from rlm_engine import prompts


async def test_final_spans_lines_and_keeps_parentheses(ollama):
    ollama.fake.script("root", [Reply(text="Done.\nFINAL(Two parts (a) and (b):\n- first\n- second)\n")])
    result, _ = await collect(make_rlm(ollama))
    assert result.answer == "Two parts (a) and (b):\n- first\n- second"


async def test_final_inside_code_block_is_a_function_that_ends_the_run(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nx = 6 * 7\nFINAL(x)\nprint('not reached')\n```\n")])
    result, events = await collect(make_rlm(ollama))
    assert result.answer == "42"
    assert of(events, ev.FinalAnswer)[0].source == "FINAL"
    assert result.iteration_log[0].blocks[0].output == ""
    assert len(ollama.fake.requests) == 1


async def test_official_answer_dict_convention(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nanswer = {'content': '', 'ready': False}\n"
                                          "answer['content'] = 'via dict'\n"
                                          "answer['ready'] = True\n```\n")])
    result, events = await collect(make_rlm(ollama))
    assert result.answer == "via dict"
    assert of(events, ev.FinalAnswer)[0].source == "answer"


async def test_no_preset_answer_collides_with_the_models_names(ollama):
    """FINAL_VAR(answer) after a failed block is a missing name, not a helper's dict."""
    ollama.fake.script("root", [
        Reply(text="```repl\nanswer = 1 / 0\n```\n"),
        Reply(text="FINAL_VAR(answer)"),
        Reply(text="FINAL(gave up)"),
    ])
    result, _ = await collect(make_rlm(ollama))
    assert result.answer == "gave up"
    assert "no variable named 'answer'" in last_user_message(ollama.fake.requests[2])


async def test_a_ready_answer_left_by_an_earlier_question_does_not_end_the_next(ollama):
    from rlm_engine import ReplSession

    repl = ReplSession()
    try:
        ollama.fake.script("root", [
            Reply(text="```repl\nanswer = {'content': 'old', 'ready': True}\n```\n"),
            Reply(text="```repl\nprint(len(context))\n```\n"),
            Reply(text="FINAL(new)"),
        ])
        rlm = make_rlm(ollama)
        first = rlm.start("first", None, repl=repl)
        [e async for e in first]
        assert first.result.answer == "old"
        second = rlm.start("second", "fresh context", repl=repl)
        [e async for e in second]
        await rlm.aclose()
        assert second.result.answer == "new" and second.result.iterations == 2
    finally:
        await repl.close()


async def test_final_var_of_missing_name_is_fed_back_and_loop_goes_on(ollama):
    ollama.fake.script("root", [
        Reply(text="FINAL_VAR(result)"),
        Reply(text="```repl\nresult = 'found'\n```\nFINAL_VAR(result)"),
    ])
    result, _ = await collect(make_rlm(ollama))
    assert result.status == "completed"
    assert result.answer == "found"
    feedback = last_user_message(ollama.fake.requests[1])
    assert "FINAL_VAR(result) failed" in feedback and "no variable named 'result'" in feedback


async def test_final_written_in_code_text_does_not_count(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\ns = 'FINAL(not this)'\nprint(len(s))\n```\n"),
        Reply(text="FINAL(this)"),
    ])
    result, _ = await collect(make_rlm(ollama))
    assert result.answer == "this"
    assert result.iterations == 2


async def test_final_after_failing_code_is_ignored(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nx = 1/0\n```\nFINAL(guess)"),
        Reply(text="FINAL(checked)"),
    ])
    result, _ = await collect(make_rlm(ollama))
    assert result.answer == "checked"
    assert "Your FINAL was ignored" in last_user_message(ollama.fake.requests[1])


async def test_invented_output_is_cut_at_the_block_end(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nprint(2 + 2)\n```\nOutput:\n5\n\nSo FINAL(5)\n"),
        Reply(text="FINAL(4)"),
    ])
    result, events = await collect(make_rlm(ollama))
    reply = of(events, ev.ReplyFinished)[0]
    assert reply.cut is True
    assert "Output:" not in reply.text and "FINAL(5)" not in reply.text
    assert result.answer == "4"
    # the assistant turn sent back is the cut one
    sent = ollama.fake.requests[1]["body"]["messages"]
    assert [m for m in sent if m["role"] == "assistant"][0]["content"] == reply.text
    assert "4" in last_user_message(ollama.fake.requests[1])


async def test_invented_fenced_output_block_is_cut(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nprint('real')\n```\n```output\nimagined\n```\nFINAL(imagined)"),
        Reply(text="FINAL(real)"),
    ])
    result, events = await collect(make_rlm(ollama))
    assert of(events, ev.ReplyFinished)[0].cut
    assert result.answer == "real"


async def test_python_blocks_run_when_there_is_no_repl_block(ollama):
    ollama.fake.script("root", [Reply(text="```python\nprint('py ran')\n```\n"),
                                Reply(text="FINAL(ok)")])
    result, _ = await collect(make_rlm(ollama))
    assert result.iteration_log[0].blocks[0].output == "py ran\n"


async def test_plain_reply_is_nudged_once_then_taken_as_the_answer(ollama):
    ollama.fake.script("root", [Reply(text="I think it is blue."),
                                Reply(text="It is blue, I am sure.")])
    result, events = await collect(make_rlm(ollama))
    assert last_user_message(ollama.fake.requests[1]) == prompts.NUDGE
    assert result.status == "completed"
    assert result.answer == "It is blue, I am sure."
    assert of(events, ev.FinalAnswer)[0].source == "plain"


async def test_max_iterations_asks_once_for_the_final_answer(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nprint(1)\n```\n")] * 3 +
                       [Reply(text="FINAL(best guess)")])
    result, events = await collect(make_rlm(ollama, max_iterations=3))
    assert result.answer == "best guess"
    assert of(events, ev.FinalAnswer)[0].source == "forced"
    assert last_user_message(ollama.fake.requests[3]) == prompts.LAST_CHANCE
    assert len(ollama.fake.requests) == 4


async def test_max_tokens_stops_with_partial_answer(ollama):
    ollama.fake.script("root", [
        Reply(text="Partial idea.\n```repl\nprint(1)\n```\n", prompt_tokens=900, completion_tokens=200),
        Reply(text="FINAL(never)"),
    ])
    result, events = await collect(make_rlm(ollama, max_tokens=1000))
    assert result.status == "failed"
    assert result.reason == "max_tokens"
    assert "1,000" in result.error
    assert result.answer == "Partial idea."
    assert len(ollama.fake.requests) == 1


async def test_max_timeout_stops_running_code(ollama):
    ollama.fake.script("root", [Reply(text="Sleeping.\n```repl\nimport time\ntime.sleep(60)\n```\n")])
    result, _ = await asyncio.wait_for(collect(make_rlm(ollama, max_timeout=1.0)), 30)
    assert result.status == "failed"
    assert result.reason == "max_timeout"
    assert result.answer == "Sleeping."


async def test_empty_reply_is_a_clear_error(ollama):
    ollama.fake.script("root", [Reply(text="")])
    result, _ = await collect(make_rlm(ollama))
    assert result.status == "failed"
    assert result.reason == "empty_reply"
    assert result.error == "root returned an empty reply"


async def test_cancel_while_code_loops_forever_kills_nothing_but_the_block(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nwhile True:\n    pass\n```\n")])
    rlm = make_rlm(ollama)
    run = rlm.start("q")
    pids = []

    async def consume():
        async for e in run:
            if isinstance(e, ev.CodeBlockStarted):
                pids.append(run._repl.pid)
                asyncio.get_running_loop().call_later(0.2, run.cancel)
    await asyncio.wait_for(consume(), 30)
    await rlm.aclose()
    assert run.result.status == "cancelled"
    assert run.result.iteration_log[0].blocks[0].code.startswith("while True")
    # the run's worker is gone (no orphan) once its REPL is closed
    assert pids[0] and not running(pids[0])


async def test_long_output_is_cut_for_the_model_with_a_note(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nfor i in range(20000):\n    print('line', i)\n```\n"),
        Reply(text="FINAL(done)"),
    ])
    result, events = await collect(make_rlm(ollama, max_output_chars=2000))
    fed = last_user_message(ollama.fake.requests[1])
    assert "characters cut" in fed
    assert "line 0\n" in fed and "line 19999" in fed
    assert len(fed) < 3000
    total = of(events, ev.CodeBlockFinished)[0].output_chars
    assert total == sum(len(f"line {i}\n") for i in range(20000))
    # the user still gets every byte as live events
    assert sum(len(e.text) for e in of(events, ev.CodeOutput)) == total


async def test_sub_call_error_is_an_exception_model_code_can_catch(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\ntry:\n    llm_query('hi')\nexcept LLMQueryError as e:\n"
                   "    print('caught:', e)\n```\n"),
        Reply(text="FINAL(ok)"),
    ])
    result, events = await collect(make_rlm(ollama, sub="missing-sub"))
    out = result.iteration_log[0].blocks[0].output
    assert out.startswith("caught: model 'missing-sub' not found")
    assert of(events, ev.SubCallFinished)[0].error


async def test_event_order_of_a_simple_run(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nprint('a')\n```\n"), Reply(text="FINAL(b)")])
    _, events = await collect(make_rlm(ollama))
    assert kinds(events) == [
        "run_started", "iteration_started", "reply_finished", "code_block_started",
        "code_block_finished", "feedback_sent", "iteration_started", "reply_finished",
        "final_answer", "run_finished"]
    assert all(e.run_id == events[0].run_id for e in events)
    assert [e.t for e in events] == sorted(e.t for e in events)


async def test_output_that_is_not_utf8_is_escaped_everywhere(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nprint('name: \\udcff!')\n```\n"),
                                Reply(text="FINAL(ok)")])
    result, events = await collect(make_rlm(ollama))
    assert result.status == "completed", result.error
    assert result.iteration_log[0].blocks[0].output == "name: \\udcff!\n"
    assert "\\\\udcff" in open(result.trajectory_path, encoding="utf-8").read()


async def test_cancel_closes_the_running_block_and_its_sub_calls(ollama):
    ollama.fake.script("root", [Reply(text="```repl\nx = llm_query('slow')\n```\n")])
    ollama.fake.script("sub", lambda msgs: Reply(text="late", first_delay=5))
    rlm = make_rlm(ollama, sub="sub")
    run = rlm.start("q")

    async def consume():
        seen = []
        async for e in run:
            seen.append(e)
            if isinstance(e, ev.SubCallStarted):
                run.cancel()
        return seen
    events = await asyncio.wait_for(consume(), 30)
    await rlm.aclose()
    block = of(events, ev.CodeBlockFinished)
    assert len(block) == 1 and block[0].error == "cancelled"
    sub = of(events, ev.SubCallFinished)
    assert len(sub) == 1 and sub[0].error == "cancelled"
    assert [e.kind for e in events[-2:]] == ["run_cancelled", "run_finished"]
    assert run.result.iteration_log[0].blocks[0].done


async def test_child_runs_share_the_token_budget(ollama):
    ollama.fake.script("root", [
        Reply(text="```repl\nfor i in range(4):\n    try:\n        rlm_query(f'task {i}', context=i)\n"
                   "    except LLMQueryError as e:\n        print('stopped:', e)\n```\n",
              prompt_tokens=100, completion_tokens=10)])
    ollama.fake.script("sub", lambda msgs: Reply(text="FINAL(done)", prompt_tokens=300,
                                                 completion_tokens=10))
    result, events = await collect(make_rlm(ollama, sub="sub", max_depth=2, max_tokens=700))
    children = [e for e in events if isinstance(e, ev.RunStarted) and e.depth == 1]
    assert len(children) == 2  # 110 + 310 + 310 = 730 >= 700: no third child
    out = result.iteration_log[0].blocks[0].output.splitlines()
    assert out[0] == "stopped: the child run failed: token budget of 700 reached (730 tokens used)"
    assert out[1:] == ["stopped: token budget of 700 reached (730 tokens used): no more sub-calls"] * 2
    assert result.reason == "max_tokens"
