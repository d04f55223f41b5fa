"""The engine never imports the UI toolkit."""

import subprocess
import sys


def test_engine_does_not_import_textual():
    code = ("import sys, rlm_engine, rlm_engine.loop, rlm_engine.rlm, rlm_engine.trajectory\n"
            "import rlm_engine.clients, rlm_engine.repl.session\n"
            "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ask_command_does_not_import_textual():
    code = ("import sys, rlm_tui.cli\n"
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_readmes_library_example_runs(ollama, tmp_path, monkeypatch):
    """The README's first library snippet, run as written (the model and file swapped for
    the fake server's): result.usage is a dict, read by key."""
    import re
    from pathlib import Path

    from fake_llm_server import Reply

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## The library\n\n```python\n(.*?)```", readme, re.S).group(1)
    ollama.fake.script("qwen3:4b", [Reply(text="```repl\nprint(len(context))\n```\n"),
                                    Reply(text="FINAL(events and dates)")])
    ollama.fake.script("qwen3:0.6b", [])
    (tmp_path / "my_document.txt").write_text("On 2024-01-02 it began.")
    monkeypatch.chdir(tmp_path)
    printed: list = []
    exec(compile(code, "README.md", "exec"), {"print": lambda *a: printed.append(a)})
    assert printed[0][0] == "events and dates" and printed[0][1] == 2
    assert printed[1][0] > 0 and printed[1][1] > 0
