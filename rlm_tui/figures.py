"""How figures read on screen: counts with their plural, and the iteration label (the forced
final-answer turn that follows the last allowed iteration is called that, never "4 of 3")."""

from __future__ import annotations


def plural(n: int, word: str, words: str = "") -> str:
    """'1 iteration', '2 iterations'."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def iteration_label(n: int, max_iterations: int) -> str:
    """'iteration 3 of 15', or for the turn after the last allowed iteration
    'final-answer turn (after 3 iterations)'."""
    if max_iterations and n > max_iterations:
        return f"final-answer turn (after {plural(max_iterations, 'iteration')})"
    return f"iteration {n} of {max_iterations}"
