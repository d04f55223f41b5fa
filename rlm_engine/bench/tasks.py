"""Long-context benchmark tasks, generated from a seed and scored exactly.

- ``niah``: one needle, a random 7-digit number in a line of random text.
- ``multi-niah``: three needles, each a 7-digit number tied to a name; all three must be found.
- ``aggregate``: structured records (id, city, status, amount); the answer is the sum of the
  amounts of the records matching a city and a status. Every record counts, so reading a
  sample cannot succeed; code (or a careful chunked pass) can.
- ``pairs`` (in the spirit of OOLONG-Pairs): user records (user, city, score); the answer is
  the number of pairs of different users in the same city whose scores add up to exactly 100.
  The answer depends on pairs of records, so the work grows quadratically with the data
  (about n²/1,600 qualifying pairs for n records); it is exact and cannot be guessed from a
  sample. Scored like ``aggregate`` (one exact number).

The same (kind, lines, seed, trial) always gives the same task, so every model in a run gets
identical haystacks and a run can be reproduced.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

TASK_KINDS = ("niah", "multi-niah", "aggregate", "pairs")

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
        """Exact scoring: the answer must hold the expected value(s) and nothing that
        contradicts them. Thousands separators are allowed (4,821,907). For `aggregate` the
        answer's total is the number right after "sum", "total", "answer", "is", "=" or ":"
        (the last such), else its first number: "4521 (from 37 records)" and "the total over
        10,000 lines is 4521" are right, "maybe 3000 or 4521" is not."""
        text = _SEPARATED.sub(lambda m: m.group(0).replace(",", ""), answer or "")
        if self.kind in ("niah", "multi-niah"):
            found = set(re.findall(r"(?<!\d)\d{7}(?!\d)", text))
            return found == set(self.expected.split(","))
        stated = _STATED.findall(text)
        numbers = stated[-1:] or re.findall(r"-?\d+(?:\.\d+)?", text)[:1]
        try:
            return bool(numbers) and float(numbers[0]) == float(self.expected)
        except ValueError:
            return False


_SEPARATED = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])")
_STATED = re.compile(r"(?:sum|total|answer|\bis|=|:)\s*\**\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)


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
    if kind == "pairs":
        return _pairs(rng, lines, trial)
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


PAIR_TOTAL = 100


def _pairs(rng: random.Random, lines: int, trial: int) -> Task:
    """Scores 1..99, so a pair adds up to 100 only with complementary scores; the count is
    computed here by grouping (city, score), which is what a good program does too."""
    counts: dict = {}
    rows = []
    for i in range(lines):
        city, score = rng.choice(CITIES), rng.randint(1, PAIR_TOTAL - 1)
        rows.append(f"user=U{i + 1:06d} | city={city} | score={score}")
        counts[(city, score)] = counts.get((city, score), 0) + 1
    pairs = 0
    for (city, score), n in counts.items():
        other = PAIR_TOTAL - score
        if score < other:
            pairs += n * counts.get((city, other), 0)
        elif score == other:
            pairs += n * (n - 1) // 2
    return Task("pairs", trial, "\n".join(rows),
                f"Each line is a user record. How many pairs of different users live in the "
                f"same city and have scores that add up to exactly {PAIR_TOTAL}? "
                f"Answer with the number only.", str(pairs))
