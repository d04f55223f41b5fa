"""```repl fences are coloured as Python: the lexer is found through Pygments' plugin entry
point, as Textual's Markdown looks languages up."""

from textual.highlight import highlight


def test_repl_fences_are_highlighted_as_python():
    code = "hits = [l for l in context.splitlines() if 'x' in l]\nprint(len(hits))"
    as_repl = highlight(code, language="repl")
    assert as_repl.spans == highlight(code, language="python").spans
    assert len(as_repl.spans) > 3  # not one plain span
