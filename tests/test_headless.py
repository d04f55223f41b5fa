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
