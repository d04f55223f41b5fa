"""Direct mode: the same model asked the same question with the whole haystack in one prompt,
the baseline an RLM has to beat (the paper's "GPT-5 vs RLM(GPT-5)").

The haystack is cut to the model's context window (``num_ctx`` tokens) before it is sent, and
the cut is stated in the trial's results, so a wrong answer from a cut haystack is never
mistaken for a model that read everything. Decisions:

- Tokens are estimated at ``CHARS_PER_TOKEN`` = 4 characters each (the filler and records here
  run at 3.5-4.5 with the common tokenizers), and ``RESERVED_TOKENS`` of the window are kept
  for the instructions and the answer.
- The cut keeps whole lines from the start of the haystack: what a user who pastes a file into
  a chat window gets. A needle past the cut cannot be found, and the result says so.
- The question comes after the haystack (and is announced before it), so a backend that
  truncates an over-long prompt from the front (Ollama does) still keeps the question.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tasks import Task

CHARS_PER_TOKEN = 4
RESERVED_TOKENS = 1024


@dataclass(frozen=True)
class DirectPrompt:
    text: str
    kept_lines: int
    total_lines: int

    @property
    def cut(self) -> bool:
        return self.kept_lines < self.total_lines

    def statement(self, num_ctx: int) -> str:
        """One line for the results: what the model was shown."""
        if not self.cut:
            return f"whole haystack ({self.total_lines:,} lines) fits num_ctx {num_ctx:,}"
        share = self.kept_lines / self.total_lines if self.total_lines else 0.0
        return (f"cut to the first {self.kept_lines:,} of {self.total_lines:,} lines "
                f"({share:.0%}) to fit num_ctx {num_ctx:,}")


def direct_prompt(task: Task, num_ctx: int) -> DirectPrompt:
    lines = task.context.split("\n")
    budget = max(0, (num_ctx - RESERVED_TOKENS) * CHARS_PER_TOKEN)
    used = kept = 0
    for line in lines:
        used += len(line) + 1
        if used > budget:
            break
        kept += 1
    text = ("Read the text between the markers, then answer the question after it.\n"
            "<<<TEXT\n" + "\n".join(lines[:kept]) + "\nTEXT>>>\n\n"
            f"Question: {task.prompt}")
    return DirectPrompt(text, kept, len(lines))
