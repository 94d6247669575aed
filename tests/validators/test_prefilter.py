"""The gates and the one runner: each rule's gate matches wherever the rule finds
something; Hyperscan says what Python's ``re`` says of the gates; and the runner finds the
same with the gates and without, example by example and per batch, cold and from its memo."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.records import Example, Location
from curate.validators import content as content_mod
from curate.validators import prefilter as pf_mod
from curate.validators.base import FOLDS_TO_ASCII

GATED = [r for r in content_mod.ALL_RULES if r.gate is not None]


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
    "sid = AC" + "a1b2c3d4" * 4,
    "bot839201746:" + "A1b2C3d4E5" * 3 + "xY9z0",
    "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    "glpat-" + "Ab1_Cd2-Ef3Gh4Ij5Kl6",
    "AccountKey=" + "a1B2" * 22,
    "cl_api_key = " + "ab" * 12,
    "\u0130",
    "\u212a",
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
    assert "".join(found) == FOLDS_TO_ASCII


def _texts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = rnd.choices(PIECES, k=rnd.randint(1, 8))
        out.append(
            "".join(p if rnd.random() < 0.7 else rnd.choice([p.upper(), p.lower()]) for p in parts)
        )
    return out


@pytest.fixture(scope="module")
def texts() -> list[str]:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "content"
    out = _texts(6000, 1)
    for f in sorted(fixtures.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            out += [t[3] for t in content_mod.iter_texts(json.loads(line))]
    return out


def _found(rule: object, text: str) -> bool:
    r = rule.find(text)  # type: ignore[attr-defined]
    return r is not rule.empty and r != rule.empty  # type: ignore[attr-defined]


@pytest.mark.parametrize("rule", GATED, ids=[r.name for r in GATED])
def test_each_gate_matches_wherever_its_rule_finds_something(rule, texts) -> None:
    gate = re.compile(pf_mod.gate_pattern(rule))
    found = 0
    for text in texts:
        if any(c in text for c in FOLDS_TO_ASCII):
            continue  # (every gate opens for these)
        if _found(rule, text):
            found += 1
            assert gate.search(text.encode("utf-8", "surrogatepass")), (rule.name, text[:200])
    assert found >= 20, rule.name


def test_hyperscan_says_what_re_says_of_the_gates(texts) -> None:
    pytest.importorskip("hyperscan")
    pf = pf_mod.Prefilter(GATED)
    gates = [re.compile(pf_mod.gate_pattern(r)) for r in GATED]
    for i in range(0, len(texts), 3):
        batch = texts[i : i + 3]
        masks = pf.scan(batch)
        for text, mask in zip(batch, masks, strict=True):
            raw = text.encode("utf-8", "surrogatepass")
            want = sum(1 << k for k, g in enumerate(gates) if g.search(raw))
            if mask == pf.all:
                continue  # folded letters or too many matches: every gate open
            # each text gets at least its own matches (a match across the joint only adds)
            assert mask & want == want, text[:200]
            if len(batch) == 1:
                assert mask == want


EXTRA = [
    "What is the capital of France and why is it famous?",
    "La capital de Francia es París y es famosa por su historia y sus museos.",
    "x" * 90,
    "word " * 50,
]


def _record(rnd: random.Random) -> dict:
    msgs = []
    for i in range(rnd.randint(1, 5)):
        role = rnd.choice(["system", "user", "assistant", "user", "assistant"])
        parts = rnd.choices(PIECES + EXTRA, k=rnd.randint(1, 6))
        msgs.append({"role": role, "content": "".join(parts)})
        if i == 1 and rnd.random() < 0.2:
            msgs[-1]["tool_calls"] = [{"function": {"arguments": rnd.choice(PIECES)}}]
    return {"messages": msgs}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10**6), st.sampled_from([None, {"pii_allowed_roles": ["user"]}]))
def test_the_runner_finds_the_same_with_and_without_gates_memo_and_batches(seed, config) -> None:
    rnd = random.Random(seed)
    records = [_record(rnd) for _ in range(12)]
    records += records[:4]  # strings that come back: served from the memo
    exs = [Example(r, Location("p.jsonl", i + 1)) for i, r in enumerate(records)]

    def rows(fs: list) -> list:
        return [(f.code, f.severity, f.message, f.location, f.data) for f in fs]

    gated = content_mod.ContentCheck(config)
    plain = content_mod.ContentCheck(config)
    plain._pf = None  # every rule on every string
    want = [rows(list(plain.check(ex))) for ex in exs]
    assert [rows(list(gated.check(ex))) for ex in exs] == want
    assert [rows(fs) for fs in gated.check_many(exs)] == want  # warm memo, batched
    gated.clear()
    assert [rows(fs) for fs in gated.check_many(exs)] == want  # cold, batched
