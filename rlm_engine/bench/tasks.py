"""Long-context benchmark tasks, generated from a seed and scored exactly.

- ``niah``: one needle, a random 7-digit number in a line of random text.
- ``multi-niah``: three needles, each a 7-digit number tied to a name; all three must be found.
- ``aggregate``: structured records (id, city, status, amount); the answer is the sum of the
  amounts of the records matching a city and a status. Every record counts, so reading a
  sample cannot succeed; code (or a careful chunked pass) can.

The same (kind, lines, seed, trial) always gives the same task, so every model in a run gets
identical haystacks and a run can be reproduced.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

TASK_KINDS = ("niah", "multi-niah", "aggregate")

WORDS = (
    "apple river stone cloud paper garden window silver morning yellow forest engine "
    "candle market bridge summer button winter island pocket rabbit signal thunder velvet "
    "harbor lantern meadow needle orange pencil quiet rocket saddle ticket violin whisper "
    "anchor basket copper desert feather glacier hammer jungle kettle ladder mirror noble"
).split()
NAMES = ("Alice", "Bruno", "Chen", "Dalia", "Emeka", "Freya", "Goran", "Hana", "Ivo", "Jun")
CITIES = ("Paris", "Lagos", "Osaka", "Lima", "Oslo", "Pune", "Quito", "Riga")
STATUSES = ("paid", "refunded", "pending")


@dataclass(frozen=True)
class Task:
    kind: str
    trial: int
    context: str
    prompt: str
    expected: str  # the exact answer; for multi-niah the numbers joined by ","

    def score(self, answer: str) -> bool:
        """Exact scoring: the answer must contain the expected value(s) and nothing that
        contradicts them."""
        answer = answer or ""
        if self.kind == "niah":
            found = set(re.findall(r"(?<!\d)\d{7}(?!\d)", answer))
            return found == {self.expected}
        if self.kind == "multi-niah":
            found = set(re.findall(r"(?<!\d)\d{7}(?!\d)", answer))
            return found == set(self.expected.split(","))
        numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", answer)
        if not numbers:
            return False
        last = numbers[-1].replace(",", "")
        try:
            return float(last) == float(self.expected)
        except ValueError:
            return False


def _filler(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))


def _seven(rng: random.Random, taken: set) -> str:
    while True:
        n = str(rng.randint(1_000_000, 9_999_999))
        if n not in taken:
            taken.add(n)
            return n


def make_task(kind: str, lines: int, seed: int, trial: int) -> Task:
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown task {kind!r}: choose one of {', '.join(TASK_KINDS)}")
    rng = random.Random(f"{kind}:{lines}:{seed}:{trial}")
    lines = max(10, lines)
    if kind == "aggregate":
        return _aggregate(rng, lines, trial)
    text = [_filler(rng) for _ in range(lines)]
    taken: set = set()
    if kind == "niah":
        number = _seven(rng, taken)
        text[rng.randrange(lines)] = f"The secret number is {number}."
        return Task(kind, trial, "\n".join(text),
                    "A secret 7-digit number is hidden somewhere in the text. What is it? "
                    "Answer with the number only.", number)
    names = rng.sample(NAMES, 3)
    numbers = []
    for name, where in zip(names, rng.sample(range(lines), 3)):
        number = _seven(rng, taken)
        numbers.append(number)
        text[where] = f"The secret number for {name} is {number}."
    return Task(kind, trial, "\n".join(text),
                f"Three secret 7-digit numbers are hidden in the text, one each for "
                f"{', '.join(names)}. Find all three and answer with the three numbers.",
                ",".join(numbers))


def _aggregate(rng: random.Random, lines: int, trial: int) -> Task:
    city, status = rng.choice(CITIES), rng.choice(STATUSES)
    total = 0
    rows = []
    for i in range(lines):
        c, s, amount = rng.choice(CITIES), rng.choice(STATUSES), rng.randint(1, 500)
        rows.append(f"id={i + 1} | city={c} | status={s} | amount={amount}")
        if c == city and s == status:
            total += amount
    return Task("aggregate", trial, "\n".join(rows),
                f"Each line is a record. What is the sum of `amount` over all records with "
                f"city={city} and status={status}? Answer with the number only.", str(total))
