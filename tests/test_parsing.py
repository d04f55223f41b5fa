from rlm_engine.parsing import (
    InventionWatch, code_blocks, cut_invented, find_final, invention_point, prose_of)


def test_repl_blocks_in_order_and_python_ignored_when_repl_present():
    text = "a\n```repl\nx = 1\n```\nb\n```python\ny = 2\n```\n```repl\nz = 3\n```\n"
    assert [b.code for b in code_blocks(text)] == ["x = 1\n", "z = 3\n"]


def test_unclosed_and_empty_blocks_do_not_run():
    assert code_blocks("```repl\n\n```\n```repl\nprint(1)\n") == []


def test_other_languages_never_run():
    assert code_blocks("```bash\nrm -rf /\n```\n") == []


def test_final_at_line_start_only_and_outside_code():
    assert find_final("I will call FINAL(x) later") is None
    assert find_final("```repl\nFINAL(1)\n```\n") is None
    f = find_final("text\n**FINAL(the answer)**")
    assert f and f.kind == "FINAL" and f.value == "the answer"


def test_final_nested_parentheses_and_unclosed():
    assert find_final("FINAL(f(x) = (a + b))").value == "f(x) = (a + b)"
    assert find_final("FINAL(never closed\nstill answer").value == "never closed\nstill answer"


def test_final_var_strips_quotes():
    f = find_final("FINAL_VAR('result')")
    assert (f.kind, f.value) == ("FINAL_VAR", "result")


def test_invention_point_only_after_code():
    assert invention_point("Output: I have no code yet") is None
    text = "```repl\nprint(1)\n```\nResult: 1\nFINAL(1)"
    assert text[invention_point(text):].startswith("Result: 1")
    cut, was_cut = cut_invented(text)
    assert was_cut and "FINAL" not in cut and cut.startswith("```repl")


def test_second_code_block_is_not_invention():
    text = "```repl\na = 1\n```\nthen\n```repl\nprint(a)\n```\n"
    assert invention_point(text) is None


def test_invention_watch_fires_on_the_fake_output_fence():
    w = InventionWatch()
    pieces = ["```re", "pl\nprint(1)\n``", "`\n", "```out", "put\n1\n```\n"]
    fired = [w.feed(p) for p in pieces]
    assert fired == [False, False, False, False, True]


def test_prose_of_drops_code():
    assert prose_of("Intro\n```repl\nx=1\n```\n\n\n\nOutro") == "Intro\n\nOutro"


def test_final_with_unbalanced_looking_parentheses_in_the_answer():
    assert find_final("FINAL(Steps: 1) open, 2) pour)").value == "Steps: 1) open, 2) pour"
    assert find_final('FINAL(she said "hi :)")').value == 'she said "hi :)"'
    assert find_final("FINAL(42)\n\nThat is all (really).").value == "42"
