"""The compiled prefilter is a superset gate: wherever a rule's Python regex matches, its
byte pattern matches the UTF-8 text too; so the content check finds exactly the same with
the prefilter, with the pure-Python gates, and with every gate off."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.records import Example, Location
from curate.validators import content as content_mod
from curate.validators import prefilter as pf_mod
from curate.validators.content import content_validators

hs = pytest.importorskip("hyperscan")


@pytest.fixture(scope="module")
def pf() -> pf_mod.Prefilter:
    got = pf_mod.get()
    assert got is not None and got.always == 0  # every rule's patterns compiled
    return got


@pytest.fixture(scope="module")
def compiled() -> list[tuple[str, re.Pattern[str], object]]:
    """Each rule regex with its byte pattern compiled alone (to test them one by one)."""
    out = []
    for group, rx in pf_mod._rule_regexes():
        # the pattern whole, and split in its ASCII and non-ASCII parts (what the database
        # holds): each must be a superset of the regex
        out.append((group, rx, pf_mod._compile([pf_mod.byte_pattern(rx.pattern, rx.flags)])))
        out.append(
            (group + "/split", rx, pf_mod._compile(pf_mod.byte_patterns(rx.pattern, rx.flags)))
        )
    return out


def _hs_matches(db: object, text: str) -> bool:
    found: list[int] = []
    db.scan(  # type: ignore[attr-defined]
        text.encode("utf-8", "surrogatepass"),
        match_event_handler=lambda *a: found.append(1),
    )
    return bool(found)


#: pieces that make the rules' regexes match (and almost match), in several scripts
PIECES = [
    "As an AI language model, ",
    "I'm just an AI",
    "AS A LARGE LANGUAGE MODEL",
    "my knowledge cutoff",
    "I don't have personal opinions",
    "I'm sorry, but I can't help with that.",
    "Sorry, we cannot assist",
    "{{name}}",
    "{user_name}",
    "<PLACEHOLDER>",
    "[Your Name]",
    "[insert date]",
    "[Company Name]",
    "jane.doe@gmail.com",
    "+44 20 7946 0958",
    "(415) 867-5309",
    "4539 5787 6362 1486",
    "52.14.201.7",
    "GB82 WEST 1234 5698 7654 32",
    "ghp_" + "a1B2" * 9,
    "AKIA" + "Z7Q2" * 4,
    "api_key = 'Zx81kQ0pLm3NvB7t'",
    "password: S3cr3tValue99xyz",
    "Bearer abcDEF123456ghiJKL",
    "https://bob:hunter2pw@db.internal.net",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    "sk-proj-" + "Ab1_" * 12,
    "xoxb-1234-5678-abcdEF",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "cafÃ©",
    "â€™",
    "Ã\xa0",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\x85",
    "\ufffd",
    "Р°Р±",
    "١٢٣٤٥٦٧٨٩٠١٢٣٤",
    "4539 ５787 6362 1486",
    "GB82 WEST 1234 5698 7654 ３２",
    "+44\u200920 7946 0958",
    "api_key =\xa0'Zx81kQ0pLm3NvB7t'",
    "０１２３",
    "\u3000",
    "\xa0",
    "é",
    "ß",
    "中文内容",
    "Ωμέγα",
    "\n",
    "\r\n",
    "\t",
    " ",
    "hello",
    "the",
    "and",
    ":",
    ",",
    "(",
    "`",
    "```python\nx = {a}\n```",
    "KEY",
    "Token",
    "SECRET_KEY=",
]


def _random_texts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = rnd.choices(PIECES, k=rnd.randint(1, 8))
        text = "".join(
            p if rnd.random() < 0.7 else rnd.choice([p.upper(), p.lower()]) for p in parts
        )
        out.append(text)
    return out


def test_folds_to_ascii_lists_every_character_that_matches_an_ascii_letter() -> None:
    found = []
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if re.fullmatch(r"(?i)[a-z0-9_]", c) or any(x.isascii() for x in c.lower()):
            found.append(c)
    assert "".join(found) == pf_mod.FOLDS_TO_ASCII


def test_listed_categories_are_pythons_digit_and_space() -> None:
    digits = {chr(c) for c in pf_mod._unicode_members("isdecimal")}
    spaces = {chr(c) for c in pf_mod._unicode_members("isspace")}
    rd, rs = re.compile(r"\d"), re.compile(r"\s")
    for cp in range(0x80, 0x110000):
        c = chr(cp)
        assert bool(rd.fullmatch(c)) == (c in digits), hex(cp)
        assert bool(rs.fullmatch(c)) == (c in spaces), hex(cp)


def test_utf8_class_matches_exactly_its_code_points() -> None:
    rnd = random.Random(5)
    for _ in range(20):
        pts = sorted({rnd.randrange(0x80, 0x110000) for _ in range(30)} | set(range(0x7F0, 0x812)))
        rx = re.compile(pf_mod._utf8_class(pts) + b"\\Z")
        inside = set(pts)
        for cp in [*pts, *(rnd.randrange(0x80, 0x110000) for _ in range(3000))]:
            raw = chr(cp).encode("utf-8", "surrogatepass")
            assert bool(rx.match(raw)) == (cp in inside), hex(cp)


def _assert_superset(compiled: list, texts: list[str]) -> int:
    checked = 0
    for text in texts:
        if any(c in text for c in pf_mod.FOLDS_TO_ASCII):
            continue
        for group, rx, db in compiled:
            if rx.search(text) is not None:
                checked += 1
                assert _hs_matches(db, text), (group, rx.pattern[:60], text[:200])
    return checked


def test_byte_patterns_match_wherever_the_python_regex_does(
    compiled, content_fixture_texts: list[str]
) -> None:
    texts = _random_texts(3000, seed=1) + content_fixture_texts
    assert _assert_superset(compiled, texts) > 3000  # many real matches were checked


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=8))
def test_byte_patterns_are_supersets_on_generated_unicode(compiled, parts: list[str]) -> None:
    text = "".join(parts)
    _assert_superset(compiled, [text, text.lower(), text.upper()])


def test_fold_characters_open_every_gate(pf) -> None:
    # "K" (Kelvin sign) matches k case-insensitively: such a text is not filtered at all
    assert pf.scan_one("my \u212aey") == pf.all
    assert pf.scan_one("my key") == 0


def test_scan_tells_which_text_matched(pf) -> None:
    texts = ["Hello there.", "Mail jane.doe@gmail.com", "As an AI language model, no.", "ok"]
    assert pf.scan(texts) == [0, pf.bit("pii"), pf.bit("boilerplate"), 0]
    assert pf.scan(["nothing here", "nor here"]) == [0, 0]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=5).map("".join),
        min_size=2,
        max_size=5,
    )
)
def test_one_scan_of_joined_texts_opens_every_gate_each_text_needs(pf, texts: list[str]) -> None:
    # one scan, matches attributed by their end offset: each text gets at least the bits
    # of its own scan (a match across the separator may add some, never remove)
    for joined, alone in zip(pf.scan(texts), [pf.scan_one(t) for t in texts], strict=True):
        assert joined & alone == alone


def test_many_matches_stop_the_scan_and_open_every_gate(pf) -> None:
    many = "mail a.b@gmail.com now. " * (pf_mod._MAX_MATCHES + 5)
    assert pf.scan_one(many) == pf.all
    assert pf.scan(["Hello there.", many, "As an AI language model, no."]) == [
        0,
        pf.all,
        pf.bit("boilerplate"),
    ]


def test_digit_patterns_split_into_ascii_and_non_ascii_digits() -> None:
    ascii_part, digits = pf_mod.byte_patterns(r"\d(?:[ \-]?\d){12,18}")
    assert b"\\xd9" not in ascii_part and b"\\xd9[\\xa0-\\xa9]" in digits  # Arabic-Indic
    assert pf_mod.byte_patterns(r"(?i)key\s*=\w+") == [pf_mod.byte_pattern(r"(?i)key\s*=\w+")]


def test_leading_classes_before_a_literal_are_dropped() -> None:
    # "[A-Za-z0-9][\w.%+-]{0,63}@..." is found by its "@": a suffix of every match
    assert pf_mod.byte_pattern(r"[a-z][a-z0-9]{0,63}@x").startswith(b"\\x40")
    assert pf_mod.byte_pattern(r"(?:ab|cd)@").startswith(b"(?:ab|cd)")  # a branch: kept
    assert pf_mod.byte_pattern(r"[a-z]{3}") == b"(?:[\\x61-\\x7a]){3}"  # no literal: kept


def test_the_class_right_before_the_literal_is_kept_once() -> None:
    # every match of \d{8,10}: has a digit right before its colon: kept, so a colon in
    # prose starts no check; a class that may repeat zero times leaves nothing behind
    assert pf_mod.byte_pattern(r"[0-9]{8,10}:x") == b"[\\x30-\\x39]\\x3ax"
    assert pf_mod.byte_pattern(r"[a-z][a-z0-9]{0,63}@x") == b"\\x40x"
    assert pf_mod.byte_pattern(r"[a-z](?<!q)@x") == b"[\\x61-\\x7a]\\x40x"  # past a lookbehind
    # still a superset with Unicode digits (str-pattern \d): the Telegram token shape
    token = "\u0663" * 9 + ":" + "A1b2_" * 7
    assert re.fullmatch(r"\d{8,10}:[0-9A-Za-z_-]{35}", token)
    db = pf_mod._compile(pf_mod.byte_patterns(r"\d{8,10}:[0-9A-Za-z_-]{35}"))
    assert _hs_matches(db, token) and not _hs_matches(db, "note: " + "A1b2_" * 7)


def test_unsupported_pattern_makes_its_group_unfiltered() -> None:
    backref = re.compile(r"(ab)\1")
    with pytest.raises(pf_mod.Unsupported):
        pf_mod.byte_pattern(backref.pattern)
    p = pf_mod.Prefilter([("pii", backref), ("secrets", re.compile("AKIA"))], cache=False)
    assert p.always == p.bit("pii")
    assert p.scan_one("plain text") == p.bit("pii")
    assert p.scan_one("AKIA") == p.bit("pii") | p.bit("secrets")


def test_cached_database_is_used_and_a_damaged_one_rebuilt(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    regexes = [("secrets", re.compile("AKIA[0-9A-Z]{16}"))]
    first = pf_mod.Prefilter(regexes)
    (cached,) = (tmp_path / "curate" / "prefilter").glob("*.hsdb")
    again = pf_mod.Prefilter(regexes)
    assert again.scan_one("AKIA" + "Z" * 16) == first.bit("secrets")
    cached.write_bytes(b"\0" * 64)  # damaged: rebuilt, same answers
    assert pf_mod.Prefilter(regexes).scan_one("x AKIA" + "Q" * 16) == first.bit("secrets")


def test_env_var_turns_the_prefilter_off(monkeypatch) -> None:
    monkeypatch.setenv("CURATE_PREFILTER", "0")
    monkeypatch.setattr(pf_mod, "_STATE", {})
    assert pf_mod.get() is None
    monkeypatch.setenv("CURATE_PREFILTER", "1")
    monkeypatch.setattr(pf_mod, "_STATE", {})
    assert pf_mod.get() is not None


# -- the content check: same findings with the prefilter, the Python gates, or none -------


def _findings(check, exs: list[Example]) -> list[tuple]:
    content_mod.clear_caches()
    out = []
    for ex in exs:
        for f in check.check(ex):
            out.append((ex.source.line, f.code, str(f.severity), f.message, str(f.location), f.hint,
                        json.dumps(f.data, sort_keys=True)))  # fmt: skip
    return out


def _examples(fixtures: Path) -> list[Example]:
    exs = []
    for f in sorted((fixtures / "content").glob("*.jsonl")):
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines()):
            exs.append(Example(json.loads(line), Location(f.name, i + 1)))
    rnd = random.Random(9)
    texts = _random_texts(1500, seed=2)
    for i in range(0, len(texts) - 3, 3):
        prompt, reply, reply2 = texts[i : i + 3]
        msgs = [
            {"role": "system", "content": rnd.choice(PIECES)},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": "Who are you?" if rnd.random() < 0.2 else prompt},
            {"role": "assistant", "content": reply2},
        ]
        exs.append(Example({"messages": msgs}, Location("generated.jsonl", i)))
    return exs


@pytest.mark.parametrize(
    "config",
    [None, {"pii_allowed_roles": ["user"], "placeholder_allowed_roles": ["system"]}],
)
def test_same_findings_with_prefilter_python_gates_and_no_gates(fixtures, config, monkeypatch):
    exs = _examples(fixtures)
    (check,) = content_validators(config)
    with_pf = _findings(check, exs)
    python_gates = _findings(dataclasses.replace(check, prefilter=False), exs)
    # every gate open: each rule's own code decides alone
    monkeypatch.setattr(content_mod, "_python_masks", lambda texts: [127] * len(texts))
    no_gates = _findings(dataclasses.replace(check, prefilter=False), exs)
    assert len(with_pf) > 300
    assert with_pf == python_gates == no_gates


def test_group_bits_agree_with_content_module() -> None:
    bits = [content_mod._SEC, content_mod._PII_BIT, content_mod._PH, content_mod._CTL,
            content_mod._MOJ, content_mod._BOIL, content_mod._REF]  # fmt: skip
    assert bits == [1 << pf_mod.GROUPS.index(g) for g in pf_mod.GROUPS]
