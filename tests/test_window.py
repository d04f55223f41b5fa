"""The window rules (rlm_tui/window.py), without an app: which timeline steps have widgets
for a step looked at, a step just past an edge, a far jump and a new step while following.
A step is (run, iteration); a window (lo, hi), hi None meaning "to the newest"."""

from __future__ import annotations

from rlm_tui.window import (SHIFT_ROOM, WINDOW, in_window, window_around, window_holds,
                            window_of, window_shifted, window_slid)


def one_run(n: int) -> list[tuple[int, int]]:
    return [(0, i) for i in range(1, n + 1)]


def two_runs(first: int, second: int) -> list[tuple[int, int]]:
    return one_run(first) + [(1, i) for i in range(1, second + 1)]


def test_the_figures_the_tests_below_assume():
    assert (WINDOW, SHIFT_ROOM) == (12, 3)


def test_a_run_that_fits_one_window_is_all_of_it_from_the_question():
    for n in (0, 1, WINDOW - 1, WINDOW):
        steps = one_run(n)
        for step in [None, *steps[:1], *steps[-1:]]:
            assert window_around(steps, step) == ((0, 0), None), (n, step)
    # one step more and the window no longer starts at the question when looking at the end
    assert window_around(one_run(WINDOW + 1), None) == ((0, 2), None)


def test_window_around_centres_the_step_with_room_after_it():
    steps = one_run(30)
    # step 10 (index 9): WINDOW // 2 steps after it, the rest before
    assert window_around(steps, (0, 10)) == ((0, 5), (0, 16))
    assert window_around(steps, (0, 15)) == ((0, 10), (0, 21))


def test_window_around_at_the_edges():
    steps = one_run(30)
    # the first steps: the window starts at the question and holds WINDOW steps
    assert window_around(steps, (0, 1)) == ((0, 0), (0, 12))
    assert window_around(steps, (0, 3)) == ((0, 0), (0, 12))
    # the last steps, the newest (None) and a step the timeline lacks: open to the newest
    for step in [(0, 30), (0, 27), None, (0, 99), (3, 1)]:
        assert window_around(steps, step) == ((0, 19), None), step


def test_a_window_starting_at_a_runs_first_step_starts_at_its_question():
    steps = two_runs(5, 20)  # run 1's first step is index 5
    assert window_of(steps, 0, 11) == ((0, 0), (1, 7))
    assert window_of(steps, 5, 16) == ((1, 0), (1, 12))
    assert window_of(steps, 6, 17) == ((1, 2), (1, 13))  # not a first step: no question
    assert window_of(steps, 4, 15) == ((0, 5), (1, 11))
    assert window_of(steps, 13, len(steps) - 1) == ((1, 9), None)
    # the same through window_around: step (1, 6) puts run 1's first step at the bottom
    assert window_around(steps, (1, 6)) == ((1, 0), (1, 12))
    assert window_around(steps, (1, 7)) == ((1, 2), (1, 13))


def test_window_shifted_moves_shift_room_steps_past_a_step_just_outside():
    steps = one_run(30)
    lo, hi = (0, 10), (0, 21)  # indexes 9..20 drawn
    # one step before the window: it and SHIFT_ROOM steps before it join
    assert window_shifted(steps, (0, 9), lo, hi) == ((0, 9 - SHIFT_ROOM), (0, 9 - SHIFT_ROOM + 11))
    # one step after: it and SHIFT_ROOM steps after it join
    assert window_shifted(steps, (0, 22), lo, hi) == ((0, 22 + SHIFT_ROOM - 11), (0, 22 + SHIFT_ROOM))
    # the shift reaches the first step: from the question
    assert window_shifted(steps, (0, 3), (0, 4), (0, 15)) == ((0, 0), (0, 12))
    # it reaches the last step: open to the newest
    assert window_shifted(steps, (0, 28), lo, (0, 27)) == ((0, 19), None)
    assert window_shifted(steps, None, lo, hi) == ((0, 19), None)


def test_window_shifted_to_a_second_runs_first_step_starts_at_its_question():
    steps = two_runs(5, 20)
    lo, hi = (1, 5), (1, 16)  # indexes 9..20
    assert window_shifted(steps, (1, 4), lo, hi) == ((1, 0), (1, 12))
    assert window_shifted(steps, (1, 3), lo, hi) == ((0, 5), (1, 11))


def test_window_shifted_is_none_for_a_jump_an_unknown_step_or_a_short_run():
    steps = one_run(30)
    # a window that would not overlap the drawn one: a jump, drawn anew
    assert window_shifted(steps, (0, 1), (0, 19), None) is None
    assert window_shifted(steps, None, (0, 0), (0, 12)) is None
    assert window_shifted(steps, (0, 30), (0, 0), (0, 12)) is None
    # just overlapping is still a shift
    assert window_shifted(steps, (0, 1), (0, 12), (0, 23)) == ((0, 0), (0, 12))
    # a step the timeline does not have
    assert window_shifted(steps, (0, 31), (0, 10), (0, 21)) is None
    assert window_shifted(steps, (1, 1), (0, 10), (0, 21)) is None
    # the whole run fits one window: nothing to shift
    assert window_shifted(one_run(WINDOW), (0, 1), (0, 5), None) is None
    # no drawn step in the timeline
    assert window_shifted(steps, (0, 5), (2, 0), None) is None


def test_hi_none_means_to_the_newest():
    assert in_window((0, 5), None, (0, 5))
    assert in_window((0, 5), None, (7, 1000))
    assert not in_window((0, 5), None, (0, 4))
    assert in_window((0, 5), (0, 9), (0, 9))
    assert not in_window((0, 5), (0, 9), (0, 10))
    assert not in_window((0, 5), (0, 9), (1, 0))
    # the newest (None) is held only by a window open to the newest
    assert window_holds((0, 5), None, None)
    assert not window_holds((0, 0), (0, 30), None)
    assert window_holds((0, 0), (0, 30), (0, 30))
    assert not window_holds((0, 0), (0, 30), (0, 31))


def test_window_slid_drops_the_oldest_when_following_and_stops_when_looking_back():
    steps = one_run(WINDOW)
    # a new step that still fits
    assert window_slid(one_run(WINDOW - 1), (0, 0), (0, WINDOW), True) is None
    # a step already on the timeline counts once
    assert window_slid(steps, (0, 0), (0, WINDOW), True) is None
    # full: following, the oldest step goes and the window stays open to the newest
    assert window_slid(steps, (0, 0), (0, WINDOW + 1), True) == ((0, 2), None)
    # looking back: the window keeps its start and ends before the new step
    assert window_slid(steps, (0, 0), (0, WINDOW + 1), False) == ((0, 0), (0, WINDOW))
    # steps before lo do not count
    assert window_slid(one_run(20), (0, 10), (0, 21), True) is None
    assert window_slid(one_run(21), (0, 10), (0, 22), True) == ((0, 11), None)
