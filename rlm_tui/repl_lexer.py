"""Syntax colours for ```repl blocks: the model writes its code in fences tagged `repl`, which
Pygments does not know, so the conversation showed it uncoloured. This lexer is Python under
the name `repl`, registered through Pygments' own plugin entry point (``pygments.lexers`` in
pyproject.toml), so Textual's Markdown finds it like any other language."""

from __future__ import annotations

from pygments.lexers.python import PythonLexer


class ReplLexer(PythonLexer):
    name = "RLM REPL"
    aliases = ["repl"]
    filenames: list[str] = []
    mimetypes: list[str] = []
