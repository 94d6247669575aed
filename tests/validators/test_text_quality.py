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
