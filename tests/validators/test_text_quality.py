"""Text-quality rules at the edges of their cheap paths."""

from __future__ import annotations

import random

from curate.validators.text_quality import find_repetition


def test_loop_period_up_to_400_characters_is_found_and_longer_is_not() -> None:
    """The next copy of a probed chunk is searched within 400 characters only."""
    for period, found in ((399, True), (400, True), (401, False)):
        rnd = random.Random(period)
        unit = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(period - 1)) + " "
        text = unit * 6
        h = find_repetition(text)
        assert (h is not None) == found, period
        if h is not None:
            assert h.end - h.start >= 4 * period


def _extend_one_by_one(text: str, probe: int, period: int) -> tuple[int, int]:
    """The run around ``probe`` as the loops before the sliced comparison found it."""
    n = len(text)
    start = probe
    while start > 0 and text[start - 1] == text[start - 1 + period]:
        start -= 1
    end = probe + period
    while end < n and text[end] == text[end - period]:
        end += 1
    return start, end


def test_run_extension_in_slices_equals_one_character_at_a_time() -> None:
    from curate.validators.text_quality import _extend_left, _extend_right

    rnd = random.Random(7)
    for _ in range(5000):
        unit = "".join(rnd.choice("ab -|") for _ in range(rnd.randint(1, 12)))
        noise = "".join(rnd.choice("xyz ") for _ in range(rnd.randint(0, 300)))
        text = noise[: rnd.randint(0, len(noise))] + unit * rnd.randint(1, 300) + noise
        period = len(unit)
        probe = rnd.randrange(0, max(1, len(text) - 2 * period))
        if text[probe : probe + period] != text[probe + period : probe + 2 * period]:
            continue
        want = _extend_one_by_one(text, probe, period)
        got = (
            _extend_left(text, probe, period),
            _extend_right(text, probe + period, period, len(text)),
        )
        assert got == want
    table = "| a | b |\n|" + "-" * 3000 + "|\n| 1 | 2 |" + " and more text" * 20
    h = find_repetition(table)
    assert h is not None and table[h.start : h.end].strip("|\n") == "-" * (h.end - h.start)
