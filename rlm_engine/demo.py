"""The live first try, as the reference script's example_niah.py gave it: a 10,000-line
haystack of random words with one random 7-digit number hidden in it, loaded as `context`,
and the question "what is the number?", run on the user's own model. Afterwards the answer
is scored exactly (the benchmark's niah rule: that number and no other 7-digit one).

The haystack is written to ``<data dir>/demo/haystack-<seed>.txt`` so it loads like any
file (the worker reads it) and can be opened afterwards. Used by ``rlm-tui demo`` and the
app's F3 / welcome / palette action."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .bench.tasks import make_task
from .trajectory import data_dir

DEMO_LINES = 10_000


@dataclass(frozen=True)
class Demo:
    path: Path
    prompt: str
    expected: str
    seed: int
    lines: int

    def verdict(self, answer: Optional[str]) -> tuple[bool, str]:
        """(found, one line saying so)."""
        from .bench.tasks import Task

        task = Task("niah", 0, "", self.prompt, self.expected)
        if task.score(answer or ""):
            return True, (f"✓ found it: the hidden number was {self.expected}, on one line "
                          f"of {self.lines:,}")
        said = " ".join((answer or "(no answer)").split())[:80]
        return False, (f"✗ not found: the hidden number was {self.expected}; the model "
                       f"answered {said!r}. Try a larger model (/model), or run it again")


def make_demo(seed: Optional[int] = None, lines: int = DEMO_LINES,
              where: Optional[Path] = None) -> Demo:
    """Generate the haystack file (the number is random unless `seed` is given)."""
    seed = random.randrange(1_000_000) if seed is None else seed
    task = make_task("niah", lines, seed, 0)
    folder = where or data_dir() / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"haystack-{seed}.txt"
    path.write_text(task.context + "\n", encoding="utf-8")
    return Demo(path, task.prompt, task.expected, seed, lines)
