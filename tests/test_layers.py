"""The REPL worker's modules run inside the worker process, started from their own directory:
they may import only the standard library and each other. import-linter (make lint) names the
packages they must not import; this test catches any other one, e.g. a new dependency."""

import ast
import sys
from pathlib import Path

REPL = Path(__file__).resolve().parent.parent / "rlm_engine" / "repl"
WORKER_MODULES = ("worker.py", "context_loader.py", "output_stream.py")


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." if node.level else (node.module or "").split(".")[0])
    return names


def test_worker_modules_import_only_the_standard_library():
    siblings = {Path(m).stem for m in WORKER_MODULES}
    for module in WORKER_MODULES:
        names = imported_names(REPL / module) - siblings
        outside = sorted(n for n in names if n not in sys.stdlib_module_names)
        assert outside == [], f"{module} imports {outside}"


def test_the_check_sees_a_third_party_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nimport rich\nfrom . import x\n", encoding="utf-8")
    names = imported_names(bad)
    assert sorted(n for n in names if n not in sys.stdlib_module_names) == [".", "rich"]
