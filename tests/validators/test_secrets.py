"""The secret finder's prefilters never hide what its patterns find.

find_secrets gates each provider pattern: a run of 16 key characters somewhere, the
provider's literal (``ghp_``, ``AKIA``...) in the text, then cheaper forms of those
(a run as long as the value the pattern needs, the literal looked for in the long runs
only on ASCII text, one regex for many literals). These tests compare it with the plain
form: each pattern run wherever its literal occurs in the text.
"""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

import pytest

from curate.validators import secrets as S
from curate.validators.secrets import find_secrets

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
KEY = ALNUM + "_-"


def _r(rnd: random.Random, chars: str, n: int) -> str:
    return "".join(rnd.choice(chars) for _ in range(n))


def _tokens(rnd: random.Random) -> list[str]:
    """One value of every provider shape (random characters, so no dummy-looking ones)."""
    return [
        "sk-ant-api03-" + _r(rnd, KEY, 90),
        "sk-proj-" + _r(rnd, KEY, 48),
        "sk-" + _r(rnd, ALNUM, 20) + "T3BlbkFJ" + _r(rnd, ALNUM, 20),
        "AIza" + _r(rnd, KEY, 35),
        "GOCSPX-" + _r(rnd, KEY, 28),
        "hf_" + _r(rnd, string.ascii_letters, 34),
        "github_pat_" + _r(rnd, ALNUM + "_", 82),
        "ghp_" + _r(rnd, ALNUM, 36),
        "gsk_" + _r(rnd, ALNUM, 52),
        "xai-" + _r(rnd, ALNUM, 80),
        "AKIA" + _r(rnd, string.ascii_uppercase + string.digits, 16),
        "sk_live_" + _r(rnd, ALNUM, 24),
        "AccountKey=" + _r(rnd, ALNUM + "+/", 86) + "==",
        "M" + _r(rnd, ALNUM, 23) + "." + _r(rnd, ALNUM, 6) + "." + _r(rnd, ALNUM, 27),
        "glpat-" + _r(rnd, ALNUM, 20),
        "GR1348941" + _r(rnd, ALNUM, 20),
        "glptt-" + _r(rnd, ALNUM, 40),
        _r(rnd, LOWER_ALNUM, 32) + "-us12",
        "pypi-AgEIcHlwaS5vcmc" + _r(rnd, ALNUM, 70),
        "SG." + _r(rnd, ALNUM, 22) + "." + _r(rnd, ALNUM, 43),
        "AC" + _r(rnd, LOWER_ALNUM, 32),
        "SK" + _r(rnd, LOWER_ALNUM, 32),
        # literals in the context or short matches: looked for in the whole text
        "xoxb-" + _r(rnd, string.digits, 11) + "-" + _r(rnd, LOWER_ALNUM, 24),
        "eyJ" + _r(rnd, ALNUM, 20) + "." + _r(rnd, ALNUM, 30) + "." + _r(rnd, ALNUM, 20),
        " AKC" + _r(rnd, ALNUM, 12) + " ",
        "=AP" + "B" + _r(rnd, ALNUM, 9) + '"',
        _r(rnd, string.digits, 9) + ":" + _r(rnd, ALNUM + "_-", 35),
        "//registry.npmjs.org/:_authToken=npm_" + _r(rnd, ALNUM, 36),
        "sq0csp-" + _r(rnd, ALNUM, 43),
        "aws_secret_key = '" + _r(rnd, ALNUM + "/+", 40) + "'",
        "cloudant_password: " + _r(rnd, "0123456789abcdef", 64),
        "softlayer_api_key=" + _r(rnd, LOWER_ALNUM, 64),
        "ibm_cloud_iam_key = '" + _r(rnd, ALNUM + "_-", 44) + "'",
        "cos_hmac_secret_access_key: " + _r(rnd, "0123456789abcdef", 48),
        "https://hooks.slack.com/services/T" + _r(rnd, ALNUM, 8) + "/B" + _r(rnd, ALNUM, 8),
    ]


_PROSE = (
    "Here is how to configure the client. ",
    "The request failed with status 401. ",
    "Set the variable in your shell profile, then restart. ",
    "Das Ergebnis ist korrekt, prüfen Sie die Einstellungen. ",
    "配置文件在这里。",
    "See https://docs.example.org/en/latest/configuration/environment-variables.html ",
    "internationalization_configuration_settings ",
)
_BEFORE = ("", " ", "\n", "key=", '"', "(", "x", "é", "token: ", "Bearer ", "`", "٣")
_AFTER = ("", " ", "\n", '"', ")", ".", ",", "x", "é", "`", "'")


def _corpus(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = [rnd.choice(_PROSE) for _ in range(rnd.randint(0, 4))]
        for _ in range(rnd.randint(1, 2)):
            tok = rnd.choice(_tokens(rnd))
            if rnd.random() < 0.2:  # damaged: one character changed
                i = rnd.randrange(len(tok))
                tok = tok[:i] + rnd.choice("x-.é ٣") + tok[i + 1 :]
            parts.insert(rnd.randint(0, len(parts)), rnd.choice(_BEFORE) + tok + rnd.choice(_AFTER))
        texts.append("".join(parts))
    return texts


def _ungated(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_secrets with only its first gate (a run of 16 key characters somewhere) and
    each provider's literals (``ghp_``, ``AKIA``...) looked for in the whole text: no
    run-length gates, no literals looked for in the long runs only, no gate regexes."""
    groups = [(gates, low, 0, [(r, rx, 0) for r, rx, _ in g]) for gates, low, _, g in S._GROUPS]
    monkeypatch.setattr(S, "_GROUPS", groups)
    monkeypatch.setattr(S, "_IN_RUN", [False] * len(groups))
    monkeypatch.setattr(S, "_GATE_RES", [None] * len(groups))


def test_fast_gates_find_what_the_plain_gates_find(
    monkeypatch: pytest.MonkeyPatch, fixtures: Path
) -> None:
    pytest.importorskip("detect_secrets")  # the [content] extra
    texts = _corpus(4000, seed=11)
    for f in sorted((fixtures / "content").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            for m in json.loads(line).get("messages", []):
                if isinstance(m.get("content"), str):
                    texts.append(m["content"])
    fast = [find_secrets(t) for t in texts]
    with monkeypatch.context() as mp:
        _ungated(mp)
        slow = [find_secrets(t) for t in texts]
    for t, a, b in zip(texts, fast, slow, strict=True):
        assert a == b, t
    found = [h.rule for hits in fast for h in hits]
    # the corpus exercises the gates: most providers' values are found
    assert len(set(found)) >= 20, sorted(set(found))
    assert sum(1 for hits in fast if hits) > 2500


def test_in_run_gates_cover_only_literals_inside_the_match() -> None:
    """The rules whose gates are looked for in the long runs are exactly those whose
    every pattern consumes key characters only (the re parser's view), 16 or more."""
    pytest.importorskip("detect_secrets")  # the [content] extra
    in_run = {
        r
        for (_, _, _, group), ok in zip(S._GROUPS, S._IN_RUN, strict=True)
        if ok
        for r, _, _ in group
    }
    assert "jwt" not in in_run and "slack_token" not in in_run
    assert "telegram_bot_token" not in in_run and "artifactory_token" not in in_run
    assert {"github_token", "openai_key", "aws_access_key", "twilio_key"} <= in_run
    assert S._token_chars_only(r"ghp_[A-Za-z0-9_]{36}")
    assert not S._token_chars_only(r"sq0csp-[0-9A-Za-z\\\-_]{43}")  # a backslash
    assert not S._token_chars_only(r"eyJ[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+")  # can be short
    assert not S._token_chars_only(r"key: [a-z]{40}")  # a space
    assert not S._token_chars_only(r"x.{20}")  # any character


@pytest.mark.parametrize(
    "text",
    [
        "ghp_" + "a1B2" * 9,  # at the very start of the string, nothing around it
        "ghp_" + "a1B2" * 9 + "\nok",
        "AKIA4QZ7XJ2LKM9NB3RT",  # exactly the pattern's length
        "é AKIA4QZ7XJ2LKM9NB3RT é",  # non-ASCII text: whole-text gates
        "x" * 20 + " sk-proj-" + "Ab1_" * 12,
    ],
)
def test_secret_at_the_edges_of_a_string(text: str) -> None:
    assert [h.code for h in find_secrets(text)] == ["secret_token"]


def test_non_ascii_digits_do_not_hide_a_telegram_token() -> None:
    """re's \\d matches other scripts' digits, which the ASCII digit count does not see."""
    pytest.importorskip("detect_secrets")  # the [content] extra
    token = "٣" * 9 + ":" + "A1b2C3d4E5" * 3 + "xY9z0"
    assert [h.rule for h in find_secrets(f"bot = Bot('{token}')")] == ["telegram_bot_token"]


def test_keyword_search_near_the_long_runs_matches_finditer() -> None:
    """On ASCII text the keyword + entropy rule searches windows around the runs of 16+
    key characters only; the matches must be finditer's on the whole text."""
    rnd = random.Random(2)
    words = [
        "api_key", "apikey", "API-KEY", "secret", "secret_key", "access_key", "auth_token",
        "token", "password", "passwd", "pwd", "client_secret", "private_key", "bearer",
        "xtoken", "my_password", "a", " ", "  ", "\n", "\t", "\x1c", "=", ":", ":=", "=>",
        '"', "'", "abcdefghij0123456789", "Zx9+/=-_.Q7wE", "q" * 16, "the value is",
    ]  # fmt: skip
    for _ in range(20000):
        text = "".join(rnd.choice(words) for _ in range(rnd.randint(1, 14)))
        lower = text.lower()
        runs = text.encode().translate(S._TOKEN_TABLE)
        spans = [m.span() for m in re.finditer(rb"a{16,}", runs)]
        want = [(m.span(), m.groups()) for m in S._KEYWORD_LOWER_RE.finditer(lower)]
        got = [(m.span(), m.groups()) for m in S._keyword_matches(lower, spans)]
        assert got == want, text


def test_fast_keyword_regex_matches_the_plain_form() -> None:
    plain = re.compile(S._KEYWORD_RE.pattern.replace("(?i)", "", 1))
    rnd = random.Random(4)
    words = ["api_key", "apikey", "secret_key", "access-token", "token", "passwd", "pwd",
             "client_secret", "private-key", "bearer", "xbearer", "a", " ", "=", ":=", "=>",
             '"', "'", "\n", "abcdefghij0123456789", "+/=-_."]  # fmt: skip
    for _ in range(20000):
        t = "".join(rnd.choice(words) for _ in range(rnd.randint(1, 12)))
        want = [(m.span(), m.groups()) for m in plain.finditer(t)]
        assert [(m.span(), m.groups()) for m in S._KEYWORD_LOWER_RE.finditer(t)] == want, t


def test_detect_secrets_patterns_are_the_librarys_and_cached(tmp_path, monkeypatch) -> None:
    pytest.importorskip("detect_secrets")
    from curate.validators import secrets as secrets_mod

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    library = secrets_mod._library_patterns()
    assert len(library) > 20 and {r for r, _, _ in library} <= set(secrets_mod._DS_RULES.values())
    assert secrets_mod.detect_secrets_patterns() == library  # built from the library...
    (cached,) = (tmp_path / "curate" / "secrets").iterdir()
    assert secrets_mod.detect_secrets_patterns() == library  # ...then read from the file
    monkeypatch.setattr(secrets_mod, "_library_patterns", lambda: pytest.fail("not cached"))
    assert secrets_mod.detect_secrets_patterns() == library
    # a damaged file is rebuilt from the library
    cached.write_text('[["github_token", 1', encoding="utf-8")
    monkeypatch.setattr(secrets_mod, "_library_patterns", lambda: library)
    assert secrets_mod.detect_secrets_patterns() == library
    assert json.loads(cached.read_bytes()[32:]) == [list(t) for t in library]  # after its hash
    # the module compiled each of them at import (one per pattern text: the built-in Slack
    # pattern is the same text as the library's)
    assert {p for _, p, _ in library} <= {rx.pattern for _, rx in secrets_mod.PATTERNS}
