"""The personal-data finder's cheap gates say yes wherever its regexes can match."""

from __future__ import annotations

import random

from curate.validators import pii


def test_digit_shape_gate_on_ascii_text_equals_the_regex() -> None:
    rnd = random.Random(8)
    alphabet = "0123456789 -.()/" + "ab,:+_\n\t" + "7" * 4
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(30000)]
    texts += ["1234567", "1 2 3 4", "(415) 867-5309", "1.2.3.4", "12/05/2024", "v1.2.3", "0/////0"]
    for t in texts:
        shape = t.encode().translate(pii._DIGIT_TABLE)
        want = pii._DIGITS_RE.search(t) is not None
        assert (pii._DIGITS_SHAPE_RE.search(shape) is not None) == want, t
        assert shape.count(b"0") == sum(c.isdigit() for c in t)


def test_non_ascii_digits_still_go_through_the_regex() -> None:
    """re's \\d matches other scripts' digits, which the byte shape does not see, so
    non-ASCII text keeps the str regex as its gate."""
    text = "رقم ١٢٣٤٥٦٧٨ and 1234"
    assert pii._DIGITS_RE.search(text) is not None
    assert [h.code for h in pii.find_pii("Call +44 20 7946 0958 — merci")] == ["pii_phone"]
