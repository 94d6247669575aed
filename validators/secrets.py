"""Find leaked secrets in text: provider API keys and tokens, private keys, passwords in
URLs, and high-entropy values assigned to key-like names.

The provider patterns come from `detect-secrets <https://github.com/Yelp/detect-secrets>`_
(Yelp, maintained): the ``denylist`` regexes of its regex-based plugins (AWS, Azure,
GitHub, GitLab, Slack, Stripe, Twilio, SendGrid, Mailchimp, npm, PyPI, OpenAI, Discord,
Telegram, JWT, Square, IBM, Cloudant, SoftLayer, Artifactory) and its Shannon entropy
function. We call those regexes directly instead of its line scanner: the scanner builds
objects per line and runs every plugin on every line, which is too slow for 100,000
examples; the regexes only run on text that holds a long token (the prefilter below).
A few providers detect-secrets 1.5 does not know (Anthropic, current OpenAI project
keys, Google, Hugging Face, GitHub fine-grained tokens, Groq, xAI) are added in
:data:`EXTRA_PATTERNS`. Without detect-secrets installed, only those built-in patterns,
private keys, passwords in URLs and the keyword + entropy rule run
(:data:`DETECT_SECRETS_AVAILABLE` says which).

Not reported, on purpose: values that say they are examples (``AKIAIOSFODNN7EXAMPLE``,
``your_api_key``, ``xxxx``), environment look-ups, and bare hex strings such as git
commit hashes (the entropy rule needs a key-like name before the value).

Example:
    >>> [(h.code, h.rule) for h in find_secrets("export GITHUB_TOKEN=ghp_" + "a1B2" * 9)]
    [('secret_token', 'github_token')]
    >>> find_secrets("fixed in commit 3f786850e387550fdab836ed7e6dc881de23001b")
    []
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from curate.cache import Cache
from curate.validators.base import Hit, Rule, mask

#: rules detect-secrets' regexes are filed under (plugin class -> our rule name)
_DS_RULES = {
    "ArtifactoryDetector": "artifactory_token",
    "AWSKeyDetector": "aws_access_key",
    "AzureStorageKeyDetector": "azure_storage_key",
    "CloudantDetector": "cloudant_credentials",
    "DiscordBotTokenDetector": "discord_bot_token",
    "GitHubTokenDetector": "github_token",
    "GitLabTokenDetector": "gitlab_token",
    "IbmCloudIamDetector": "ibm_cloud_iam_key",
    "IbmCosHmacDetector": "ibm_cos_hmac_key",
    "JwtTokenDetector": "jwt",
    "MailchimpDetector": "mailchimp_key",
    "NpmDetector": "npm_token",
    "OpenAIDetector": "openai_key",
    "PypiTokenDetector": "pypi_token",
    "SendGridDetector": "sendgrid_key",
    "SlackDetector": "slack_token",
    "SoftlayerDetector": "softlayer_credentials",
    "SquareOAuthDetector": "square_oauth_secret",
    "StripeDetector": "stripe_key",
    "TelegramBotTokenDetector": "telegram_bot_token",
    "TwilioKeyDetector": "twilio_key",
}
#: detect-secrets patterns so loose (``AP`` + 9 letters, ``SK`` + 32) that the match must
#: also hold a digit and a letter to count
_LOOSE = frozenset({"artifactory_token", "twilio_key", "mailchimp_key"})

#: providers detect-secrets 1.5 does not cover (and the most common ones, so the
#: reduced rule set without it still catches them)
EXTRA_PATTERNS: tuple[tuple[str, str], ...] = (
    ("anthropic_key", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,}"),
    ("openai_key", r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{40,}"),
    ("openai_key", r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"),
    ("google_api_key", r"AIza[0-9A-Za-z_\-]{35}"),
    ("google_oauth_secret", r"GOCSPX-[A-Za-z0-9_\-]{28}"),
    ("huggingface_token", r"hf_[A-Za-z]{34}(?![A-Za-z0-9])"),
    ("github_token", r"github_pat_[A-Za-z0-9_]{82}"),
    ("github_token", r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}"),
    ("groq_key", r"gsk_[A-Za-z0-9]{52}"),
    ("xai_key", r"xai-[A-Za-z0-9]{80}"),
    ("aws_access_key", r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}"),
    ("slack_token", r"xox(?:a|b|p|o|s|r)-(?:\d+-)+[a-z0-9]+"),
    ("stripe_key", r"(?:r|s)k_live_[0-9a-zA-Z]{24,}"),
)

_PRIVATE_KEY_RE = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]{0,10000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?"
    r"|PuTTY-User-Key-File-[23]:[^\n]*"
)
# detect-secrets' BasicAuthDetector regex, with a span for the password only
_URL_PASSWORD_RE = re.compile(
    r"://[^:/?#\[\]@!$&'()*+,;=\s]+:([^:/?#\[\]@!$&'()*+,;=\s]+)@[A-Za-z0-9.\-]"
)
_KEYWORD_RE = re.compile(
    r"(?i)(?<![A-Za-z])(?:(?:api[_\-]?key|apikey|secret(?:[_\-]?key)?|access[_\-]?key|"
    r"auth[_\-]?token|access[_\-]?token|token|password|passwd|pwd|client[_\-]?secret|"
    r"private[_\-]?key)[\"']?\s*(?::=|=>|[:=])|bearer)\s*[\"']?([A-Za-z0-9+/_\-.=]{16,})"
)
_LONG_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-+/=.]{16,}")
#: the same test without a regex: map key characters to "a", look for 16 in a row
_TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=."
_TOKEN_TABLE = bytes(ord("a") if c in _TOKEN_CHARS else ord(" ") for c in range(256))
_LONG_RUN = b"a" * 16
#: the substrings that say "this is an example, not a real key"
_DUMMY_RE = re.compile(
    r"(?i)example|sample|dummy|placeholder|your|xxxx|\*\*\*|<|\$\{|\{\{|redacted|changeme|"
    r"test_?key|fake|foo|bar|abcdef|123456|0000"
)
_DUMMY_PASSWORDS = frozenset(
    {
        "password",
        "pass",
        "passwd",
        "pwd",
        "secret",
        "pw",
        "changeme",
        "xxx",
        "user",
        "username",
        "root",
        "admin",
        "guest",
        "test",
        "mypassword",
        "yourpassword",
        "your_password",
        "dbpassword",
        "db_password",
    }
)


#: detect-secrets' patterns, read from the library once per installed version
_CACHE = Cache("secrets", keep=4)


def _cache_key() -> str | None:
    """The cache key of the installed detect-secrets (``None`` without the library): its
    location and its plugin files (name, size, modification time), and this module."""
    try:
        spec = importlib.util.find_spec("detect_secrets")
    except (ImportError, ValueError):  # pragma: no cover - a broken installation
        return None
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).parent
    parts: list[Any] = [str(root), Path(__file__).read_bytes()]
    for folder in (root / "plugins", root / "core" / "plugins"):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            if e.name.endswith(".py"):
                st = e.stat()
                parts.append((e.name, st.st_size, st.st_mtime_ns))
    return _CACHE.key(*parts)


def _library_patterns() -> list[tuple[str, str, int]]:
    """``(rule, pattern, flags)`` of every regex of detect-secrets' regex plugins, read
    from the library itself (importing it costs ~0.08 s: it pulls in ``requests``)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    out = []
    for cls in get_mapping_from_secret_type_to_class().values():
        rule = _DS_RULES.get(cls.__name__)
        if rule is None:  # private keys, IPs, keywords, entropy: handled here
            continue
        out.extend((rule, rx.pattern, rx.flags) for rx in cls.denylist)
    return out


def detect_secrets_patterns() -> list[tuple[str, str, int]] | None:
    """detect-secrets' provider patterns as ``(rule, pattern, flags)``, or ``None`` when
    the library is not installed. Read from the library once per installed version, then
    from the cache (:mod:`curate.cache`: a ``curate validate`` then skips importing it).
    The patterns are the library's own either way (a test compares them)."""
    key = _cache_key()
    if key is None:
        return None
    cached = _CACHE.read(key)
    if cached is not None:
        with contextlib.suppress(ValueError, TypeError):
            return [(str(r), str(p), int(f)) for r, p, f in json.loads(cached)]
    try:
        found = _library_patterns()
    except ImportError:  # pragma: no cover - found but not importable
        return None
    _CACHE.write(key, json.dumps(found).encode())
    return found


#: the maintained detector library's patterns (optional: the [content] extra)
_DS_PATTERNS = detect_secrets_patterns()
DETECT_SECRETS_AVAILABLE = _DS_PATTERNS is not None


#: substrings one of which a text must hold before a rule's regexes run on it (the cheap
#: prefilter: ``in`` is a C-speed scan, most regexes are not); case-insensitive rules
#: are gated on the lower-cased text
GATES: dict[str, tuple[str, ...]] = {
    "anthropic_key": ("sk-ant-",),
    "openai_key": ("sk-",),
    "google_api_key": ("AIza",),
    "google_oauth_secret": ("GOCSPX-",),
    "huggingface_token": ("hf_",),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "groq_key": ("gsk_",),
    "xai_key": ("xai-",),
    "aws_access_key": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA"),
    "aws_secret_key": ("aws",),
    "slack_token": ("xox", "hooks.slack.com"),
    "stripe_key": ("k_live_",),
    "artifactory_token": ("AKC", "AP"),
    "azure_storage_key": ("AccountKey=",),
    "cloudant_credentials": (
        "cloudant",
        "cl_",
        "cl-",
        "clkey",
        "clpass",
        "clpw",
        "clapi",
        "cltoken",
        "clou_",
        "clou-",
        "cloukey",
        "cloupass",
        "cloupw",
        "clouapi",
        "cloutoken",
    ),
    "discord_bot_token": (".",),  # and a 50-character run, checked in find_secrets
    "gitlab_token": ("gl", "GR1348941"),
    "ibm_cloud_iam_key": ("ibm", "iam"),
    "ibm_cos_hmac_key": ("hmac", "cos_", "cos-", "cossecret", "cosaccess", "ibmcos"),
    "jwt": ("eyJ",),
    "mailchimp_key": ("-us",),
    "npm_token": ("_authToken",),
    "pypi_token": ("pypi-",),
    "sendgrid_key": ("SG.",),
    "softlayer_credentials": ("softlayer", "sl_", "sl-", "slkey", "slapi", "slpass", "slpw"),
    "square_oauth_secret": ("sq0csp-",),
    "telegram_bot_token": (":",),  # and 8 digits, checked in find_secrets
    "twilio_key": ("AC", "SK"),
}


def _compile_patterns() -> list[tuple[str, re.Pattern[str]]]:
    out = [(rule, re.compile(p)) for rule, p in EXTRA_PATTERNS]
    # flags as the library compiled them (re.compile adds UNICODE to a str pattern anyway)
    out.extend((rule, re.compile(p, flags)) for rule, p, flags in _DS_PATTERNS or ())
    seen: set[str] = set()
    unique = []
    for rule, rx in out:
        if rx.pattern not in seen:
            seen.add(rx.pattern)
            unique.append((rule, rx))
    return unique


PATTERNS: list[tuple[str, re.Pattern[str]]] = _compile_patterns()


#: (rule, regex, gate substrings, gate on lower-cased text?) per pattern
def _gate(rule: str, rx: re.Pattern[str]) -> tuple[str, ...]:
    if rule == "aws_access_key" and rx.pattern.startswith("aws"):
        return GATES["aws_secret_key"]
    return GATES.get(rule, ("",))


#: the shortest run of key characters (:data:`_TOKEN_CHARS`) a match of the rule's
#: patterns holds: the value each regex captures (``([0-9a-f]{64})``, ``[a-z0-9]{32}-us\d``,
#: ``glpat-`` + 20...). Rules not listed need the 16 every text here has.
MIN_RUN: dict[str, int] = {
    "aws_secret_key": 40,
    "cloudant_credentials": 24,
    "discord_bot_token": 50,
    "gitlab_token": 25,
    "ibm_cloud_iam_key": 44,
    "ibm_cos_hmac_key": 48,
    "mailchimp_key": 36,
    "softlayer_credentials": 64,
    "telegram_bot_token": 35,
    "twilio_key": 34,
}


def _min_run(rule: str, rx: re.Pattern[str]) -> int:
    if rule == "aws_access_key" and rx.pattern.startswith("aws"):
        return MIN_RUN["aws_secret_key"]
    return MIN_RUN.get(rule, 16)


_GATED: list[tuple[str, re.Pattern[str], tuple[str, ...], bool]] = [
    (rule, rx, _gate(rule, rx), bool(rx.flags & re.IGNORECASE)) for rule, rx in PATTERNS
]
#: the patterns grouped by gate, so each gate is checked once per text; each group
#: carries the smallest run its patterns need, each pattern its own
_GROUPS: list[tuple[tuple[str, ...], bool, int, list[tuple[str, re.Pattern[str], int]]]] = []
for _rule, _rx, _gates, _lower in _GATED:
    _need = _min_run(_rule, _rx)
    for _i, _g in enumerate(_GROUPS):
        if _g[0] == _gates and _g[1] == _lower:
            _g[3].append((_rule, _rx, _need))
            _GROUPS[_i] = (_g[0], _g[1], min(_g[2], _need), _g[3])
            break
    else:
        _GROUPS.append((_gates, _lower, _need, [(_rule, _rx, _need)]))


def _token_chars_only(pattern: str) -> bool:
    """True when every character a match of ``pattern`` consumes is a key character
    (:data:`_TOKEN_CHARS`) on ASCII text, and a match is at least 16 long: a match then
    lies inside one run of 16+ key characters (lookarounds consume nothing). Parsed with
    the ``re`` module's own parser; anything it cannot judge counts as False."""
    try:
        from re import _constants as c
        from re import _parser as sp
    except ImportError:  # Python 3.10
        try:
            import sre_constants as c  # type: ignore[no-redef]
            import sre_parse as sp  # type: ignore[no-redef]
        except ImportError:  # pragma: no cover - another Python's re internals
            return False
    chars = _TOKEN_CHARS.decode()

    def ok_set(items: list[tuple[object, object]]) -> bool:
        for op, av in items:
            if op is c.LITERAL:
                if chr(av) not in chars:  # type: ignore[call-overload]
                    return False
            elif op is c.RANGE:
                lo, hi = av  # type: ignore[misc]
                if any(chr(x) not in chars for x in range(lo, hi + 1)):
                    return False
            elif op is c.CATEGORY:
                if av not in (c.CATEGORY_DIGIT, c.CATEGORY_WORD):  # ASCII text: 0-9, \w
                    return False
            else:  # NEGATE and anything else
                return False
        return True

    def ok(items: object) -> bool:
        for op, av in items:  # type: ignore[attr-defined]
            if op is c.LITERAL:
                if chr(av) not in chars:
                    return False
            elif op is c.IN:
                if not ok_set(av):
                    return False
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
                if not ok(av[2]):
                    return False
            elif op is c.SUBPATTERN:
                if not ok(av[-1]):
                    return False
            elif op is c.BRANCH:
                if not all(ok(b) for b in av[1]):
                    return False
            elif op in (c.ASSERT, c.ASSERT_NOT, c.AT):
                continue  # consume nothing
            else:  # ANY, back-references, atomic groups...: not judged
                return False
        return True

    try:
        tree = sp.parse(pattern)
        return tree.getwidth()[0] >= 16 and ok(tree)
    except Exception:  # pragma: no cover - a pattern the parser cannot take apart
        return False


#: rules whose gate literals lie inside the match itself (``ghp_`` + 36 key characters,
#: ``AKIA`` + 16...): with :func:`_token_chars_only` patterns, the literal then lies in a
#: run of 16+ key characters, so on ASCII text their gates are looked for in those runs
#: only (a few dozen characters) instead of the whole text. Other rules' literals may sit
#: in the context around the value (``aws ... key = '...'``, the ``:`` of a Telegram
#: token) or their matches may be short (JWT, Slack, Artifactory): whole text for them.
_LITERAL_IN_MATCH = frozenset(
    {
        "anthropic_key",
        "openai_key",
        "google_api_key",
        "google_oauth_secret",
        "huggingface_token",
        "github_token",
        "groq_key",
        "xai_key",
        "aws_access_key",
        "stripe_key",
        "azure_storage_key",
        "discord_bot_token",
        "gitlab_token",
        "mailchimp_key",
        "pypi_token",
        "sendgrid_key",
        "twilio_key",
    }
)
#: per group: gates looked for in the long runs only (see above)?
_IN_RUN = [
    not lower
    and all(r in _LITERAL_IN_MATCH and _token_chars_only(rx.pattern) for r, rx, _ in group)
    for gates, lower, _, group in _GROUPS
]
#: per group: its gates as one regex where there are many (one scan instead of one per
#: literal; the parser factors a shared prefix such as ``cl`` out into a fast search)
_GATE_RES = [
    re.compile("|".join(map(re.escape, gates))) if len(gates) >= 4 else None
    for gates, _, _, _ in _GROUPS
]
#: patterns whose character classes match ASCII only, on any text: no \\d, \\w or \\s
#: (which match other scripts' digits and letters too) and no re.IGNORECASE (the Kelvin
#: sign matches k). On non-ASCII text the run-length gate (the runs count ASCII key
#: characters only) is safe for these alone.
_ASCII_CLASSES = frozenset(
    rx
    for _, rx in PATTERNS
    if not rx.flags & re.IGNORECASE and not re.search(r"\\[dwsDWS]", rx.pattern)
)
_ASCII_GROUP = [all(rx in _ASCII_CLASSES for _, rx, _ in group) for _, _, _, group in _GROUPS]
#: every literal looked for in the long runs, as one regex: most texts hold none of them,
#: and then no group of those is looked at
_IN_RUN_GATE_RE = re.compile(
    "|".join(
        sorted(
            {
                re.escape(g)
                for (gates, _, _, _), ok in zip(_GROUPS, _IN_RUN, strict=True)
                if ok
                for g in gates
            },
            key=lambda g: (-len(g), g),
        )
    )
)
#: per rule, a regex every match of the rule's patterns holds that opens with a literal
#: (the engine then jumps from one candidate character to the next), searched before the
#: patterns themselves, which open with an alternation or a class and so try every
#: position: Artifactory's ``(?:\s|=|:|"|^)AP...``, Telegram's ``\d{8,10}:...``, Discord's
#: ``[MNO]...``. Same findings, a fraction of the scans.
_PREGATES: dict[str, re.Pattern[str]] = {
    "artifactory_token": re.compile(r"A(?:KC[a-zA-Z0-9]{10}|P[\dABCDEF][a-zA-Z0-9]{8})"),
    "telegram_bot_token": re.compile(r":[0-9A-Za-z_-]{35}"),
    "discord_bot_token": re.compile(r"\.[a-zA-Z\d_-]{6}\."),
}
#: per case-insensitive rule, words one of which every match holds (looked for in the
#: lower-cased text, on ASCII text only, where that is what re.IGNORECASE matches)
_PREGATE_WORDS: dict[str, tuple[str, ...]] = {
    "ibm_cloud_iam_key": ("key", "pwd", "pass", "token"),
}
#: _TOKEN_TABLE where non-ASCII bytes (of letters, digits... any character) count too
_TOKEN_TABLE_ANY = bytes(_TOKEN_TABLE[c] if c < 128 else ord("a") for c in range(256))

#: detect-secrets' keyword rule, case-sensitive, for the lower-cased text (faster than
#: re.IGNORECASE, which turns off the regex engine's prefix scan)
# Same matches as the plain form ``_KEYWORD_RE.pattern`` without ``(?i)`` (a test checks):
# each alternative opens with its first letter and checks the character before it with
# a lookbehind placed after it, and carries its own separator, so the alternation opens
# with one of six letters and the engine skips every other position in C.
_KW_SEP = r"[\"']?\s*(?::=|=>|[:=])"
_KEYWORD_LOWER_RE = re.compile(
    r"(?:a(?<![A-Za-z]a)(?:pi[_\-]?key|pikey|ccess[_\-]?key|uth[_\-]?token|ccess[_\-]?token)"
    + _KW_SEP
    + r"|s(?<![A-Za-z]s)ecret(?:[_\-]?key)?"
    + _KW_SEP
    + r"|t(?<![A-Za-z]t)oken"
    + _KW_SEP
    + r"|p(?<![A-Za-z]p)(?:assword|asswd|wd|rivate[_\-]?key)"
    + _KW_SEP
    + r"|c(?<![A-Za-z]c)lient[_\-]?secret"
    + _KW_SEP
    + r"|b(?<![A-Za-z]b)earer)\s*[\"']?([A-Za-z0-9+/_\-.=]{16,})"
)
_KEYWORD_GATES = ("key", "token", "secret", "pass", "pwd", "bearer")
_DIGIT_TABLE = bytes(ord("0") if 48 <= c <= 57 else ord(" ") for c in range(256))


def shannon_entropy(data: str) -> float:
    """Bits per character of ``data`` (detect-secrets' formula, over the string's own
    characters).

    Example:
        >>> round(shannon_entropy("aaaa"), 2), round(shannon_entropy("abcd"), 2)
        (0.0, 2.0)
    """
    if not data:
        return 0.0
    n = len(data)
    return max(0.0, -sum(c / n * math.log2(c / n) for c in (data.count(ch) for ch in set(data))))


def _looks_dummy(value: str) -> bool:
    if _DUMMY_RE.search(value):
        return True
    return len(set(value)) <= 4


def _mixed(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _token_span(text: str, m: re.Match[str]) -> tuple[int, int]:
    """The span of the secret itself: the first group if the regex has one, else the
    match without the delimiters some detect-secrets regexes include."""
    if m.re.groups and m.group(1):
        # the widest group that holds the value (some denylists capture only a prefix)
        best = max(range(1, m.re.groups + 1), key=lambda g: len(m.group(g) or ""))
        if len(m.group(best) or "") >= 8:
            return m.span(best)
    s, e = m.span()
    while s < e and text[s] in " \t\r\n=:\"'":
        s += 1
    while e > s and text[e - 1] in " \t\r\n\"'":
        e -= 1
    return s, e


def _runs(runs: bytes) -> list[tuple[int, int]]:
    """The spans of the runs of 16 or more ``a`` in ``runs`` (a translated text)."""
    spans = []
    n = len(runs)
    i = runs.find(_LONG_RUN)
    while i >= 0:
        j = runs.find(b" ", i + 16)
        j = n if j < 0 else j
        spans.append((i, j))
        i = runs.find(_LONG_RUN, j)
    return spans


def find_secrets(text: str) -> list[Hit]:
    """All secrets in ``text``, as non-overlapping :class:`Hit` s in text order.

    Codes: ``secret_token`` (a provider's key or token), ``secret_private_key``,
    ``secret_password_in_url``, ``secret_high_entropy`` (a random-looking value after
    a key-like name such as ``api_key=`` or ``password:``).
    """
    hits: list[Hit] = []
    raw = text.encode("utf-8", "surrogatepass")
    runs = raw.translate(_TOKEN_TABLE)
    has_long = _LONG_RUN in runs
    if "PRIVATE KEY" in text or "PuTTY-User-Key" in text:
        for m in _PRIVATE_KEY_RE.finditer(text):
            hits.append(Hit("secret_private_key", m.start(), m.end(), "private_key", "PRIVATE_KEY"))
    if "://" in text and "@" in text:
        for m in _URL_PASSWORD_RE.finditer(text):
            pw = m.group(1)
            if pw.lower() in _DUMMY_PASSWORDS or _looks_dummy(pw) or pw.startswith(("$", "%")):
                continue
            hits.append(
                Hit("secret_password_in_url", m.start(1), m.end(1), "password_in_url", "PASSWORD")
            )
    if has_long:
        # The runs of 16+ key characters (found with bytes.find, a fast search; there are
        # few of them) and the longest: patterns needing a longer run cannot match.
        spans = _runs(runs)
        longest = max([j - i for i, j in spans])
        ascii_text = len(raw) == len(text)
        if ascii_text:
            spans_any, longest_any = spans, longest
        else:
            # \d, \w and case-insensitive classes also match some non-ASCII characters
            # (other scripts' digits, the Kelvin sign for k): for the patterns that have
            # them, runs where every non-ASCII byte counts as a key character (longer, so
            # still an upper bound; a UTF-8 character is 1 byte or more)
            spans_any = _runs(raw.translate(_TOKEN_TABLE_ANY))
            longest_any = max([j - i for i, j in spans_any])
        # the text of those runs, where literals that lie inside a match are looked for
        long_runs: str | None = None
        in_runs = False  # any such literal in them at all (one search for all groups)
        lower: str | None = None
        n_digits = -1
        for gi, (gates, on_lower, need, group) in enumerate(_GROUPS):
            if need > (longest if _ASCII_GROUP[gi] else longest_any):
                continue
            if _IN_RUN[gi]:
                if long_runs is None:
                    long_runs = (
                        " ".join([text[i:j] for i, j in spans])
                        if ascii_text
                        else b" ".join([raw[i:j] for i, j in spans_any]).decode(
                            "utf-8", "surrogatepass"
                        )
                    )
                    in_runs = _IN_RUN_GATE_RE.search(long_runs) is not None
                if not in_runs:
                    continue
                hay = long_runs
            elif on_lower:
                if lower is None:
                    lower = text.lower()
                hay = lower
            else:
                hay = text
            gate_re = _GATE_RES[gi]
            if gate_re is not None:
                if gate_re.search(hay) is None:
                    continue
            else:
                for g in gates:
                    if g in hay:
                        break
                else:
                    continue
            for rule, rx, need in group:
                if need > (longest if rx in _ASCII_CLASSES else longest_any):
                    continue
                if rule == "telegram_bot_token" and ascii_text:
                    if n_digits < 0:
                        n_digits = raw.translate(_DIGIT_TABLE).count(b"0")
                    if n_digits < 8:
                        continue
                pregate = _PREGATES.get(rule)
                if pregate is not None and pregate.search(text) is None:
                    continue
                words = _PREGATE_WORDS.get(rule) if ascii_text else None
                if words is not None:
                    if lower is None:
                        lower = text.lower()
                    if not any(w in lower for w in words):
                        continue
                for m in rx.finditer(text):
                    s, e = _token_span(text, m)
                    value = text[s:e]
                    if _looks_dummy(value) or (rule in _LOOSE and not _mixed(value)):
                        continue
                    hits.append(Hit("secret_token", s, e, rule, "SECRET"))
        if lower is None:
            lower = text.lower()
        if ascii_text:
            keyword_matches: Iterable[re.Match[str]] = _keyword_matches(lower, spans)
        elif any(g in lower for g in _KEYWORD_GATES):
            same_len = len(lower) == len(text)
            keyword_matches = (
                _KEYWORD_LOWER_RE.finditer(lower) if same_len else _KEYWORD_RE.finditer(text)
            )
        else:
            keyword_matches = ()
        for m in keyword_matches:
            value = text[m.start(1) : m.end(1)].rstrip(".=")
            s = m.start(1)
            e = s + len(value)
            if (
                len(value) >= 16
                and _mixed(value)
                and not _looks_dummy(value)
                and not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f\-]{36}", value)
                and not re.fullmatch(r"[a-z]+(?:[._][a-z]+)+", value)
                and shannon_entropy(value) >= 3.5
            ):
                hits.append(Hit("secret_high_entropy", s, e, "keyword_entropy", "SECRET"))
    return _non_overlapping(hits)


#: what may stand between a keyword and its value: quotes, spaces, ``:=``, ``=>``
_KW_BETWEEN = frozenset([*(c for c in map(chr, range(128)) if c.isspace()), *"\"':=>"])
_KW_LONGEST = 13  # "client_secret"


def _keyword_matches(lower: str, spans: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    """``_KEYWORD_LOWER_RE.finditer(lower)`` for ASCII text, searching only near the runs
    of 16+ key characters (``spans``): the value a match captures is 16+ key characters,
    so it lies in one of those runs, and what comes before it (a keyword of at most 13
    letters, then quotes, spaces and ``:``/``=``/``=>``) starts at most 13 characters
    before the run's start and the separators in front of it. Each window ends with its
    run (the value cannot cross a non-key character) and windows that touch are merged,
    so the matches and their order are finditer's own (a test compares them)."""
    windows: list[list[int]] = []
    for i, j in spans:
        k = i
        while k > 0 and lower[k - 1] in _KW_BETWEEN:
            k -= 1
        k = max(0, k - _KW_LONGEST)
        if windows and k <= windows[-1][1]:
            windows[-1][1] = j
        else:
            windows.append([k, j])
    for k, j in windows:
        yield from _KEYWORD_LOWER_RE.finditer(lower, k, j)


def _non_overlapping(hits: list[Hit]) -> list[Hit]:
    """Keep the first-found (most specific) hit where two overlap."""
    if len(hits) <= 1:
        return hits
    priority = {
        "secret_private_key": 0,
        "secret_token": 1,
        "secret_password_in_url": 2,
        "secret_high_entropy": 3,
    }
    kept: list[Hit] = []
    for h in sorted(hits, key=lambda h: (priority.get(h.code, 9), h.start, -(h.end - h.start))):
        if all(h.end <= k.start or h.start >= k.end for k in kept):
            kept.append(h)
    return sorted(kept, key=lambda h: h.start)


def _find(text: str) -> tuple[Hit, ...]:
    return tuple(find_secrets(text))


def _report(text: str, hits: tuple[Hit, ...], prompt: str | None) -> Iterator[Any]:
    for h in hits:
        kind = "password in URL" if h.rule == "password_in_url" else h.rule.replace("_", " ")
        yield h, f"{kind} {mask(text[h.start : h.end], h.code)}", None


#: what a match of each provider pattern holds (a literal, or the part of the pattern
#: that is plain ASCII), as a gate for the prefilter; KEYWORD: a key-like name, then
#: separators, then a long value (:data:`_KEYWORD_GATE`); URL: a password in a URL. Keyed
#: by the rule, the pattern's length and its first 24 characters
_PATTERN_GATES: dict[tuple[str, int, str], bytes] = {
    ("anthropic_key", 44, "sk-ant-(?:api|admin)\\d\\d"): b"sk-ant-",
    ("openai_key", 50, "sk-(?:proj|svcacct|admin"): b"sk-(?:proj|svcacct|admin|None)-",
    ("openai_key", 41, "sk-[A-Za-z0-9]{20}T3Blbk"): b"T3BlbkFJ",
    ("google_api_key", 22, "AIza[0-9A-Za-z_\\-]{35}"): b"AIza",
    ("google_oauth_secret", 25, "GOCSPX-[A-Za-z0-9_\\-]{28"): b"GOCSPX-",
    ("huggingface_token", 30, "hf_[A-Za-z]{34}(?![A-Za-"): b"hf_[A-Za-z]{34}",
    ("github_token", 27, "github_pat_[A-Za-z0-9_]{"): b"github_pat_",
    ("github_token", 40, "(?:ghp|gho|ghu|ghs|ghr)_"): b"gh[pousr]_[A-Za-z0-9_]{36}",
    ("groq_key", 19, "gsk_[A-Za-z0-9]{52}"): b"gsk_",
    ("xai_key", 19, "xai-[A-Za-z0-9]{80}"): b"xai-",
    (
        "aws_access_key",
        47,
        "(?:A3T[A-Z0-9]|ABIA|ACCA",
    ): b"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}",
    ("slack_token", 37, "xox(?:a|b|p|o|s|r)-(?:\\d"): b"xox[abposr]-",
    ("stripe_key", 30, "(?:r|s)k_live_[0-9a-zA-Z"): b"k_live_",
    ("artifactory_token", 43, '(?:\\s|=|:|"|^)AKC[a-zA-Z'): b"AKC[a-zA-Z0-9]{10}",
    ("artifactory_token", 51, '(?:\\s|=|:|"|^)AP[\\dABCDE'): b"AP[0-9A-F\\x80-\\xff]",
    ("aws_access_key", 84, "aws.{0,20}?(?:key|pwd|pw"): b"(?i)['\"][0-9a-z/+]{40}['\"]",
    ("azure_storage_key", 30, "AccountKey=[a-zA-Z0-9+\\/"): b"AccountKey=",
    ("cloudant_credentials", 183, "(?:(?<=\\W)|(?<=^))(?:\\[|"): b"KEYWORD",
    ("cloudant_credentials", 180, "(?:(?<=\\W)|(?<=^))(?:\\[|"): b"KEYWORD",
    ("cloudant_credentials", 63, "(?:https?\\:\\/\\/)[\\w\\-]+\\"): b"URL",
    ("cloudant_credentials", 60, "(?:https?\\:\\/\\/)[\\w\\-]+\\"): b"URL",
    (
        "discord_bot_token",
        59,
        "[MNO][a-zA-Z\\d_-]{23,25}",
    ): b"[MNO][A-Za-z0-9_\\-\\x80-\\xff]{23,}\\.[A-Za-z0-9_\\-\\x80-\\xff]{6,}\\.",
    ("github_token", 38, "(ghp|gho|ghu|ghs|ghr)_[A"): b"gh[pousr]_[A-Za-z0-9_]{36}",
    ("gitlab_token", 57, "(glpat|gldt|glft|glsoat|"): b"glpat-|gldt-|glft-|glsoat-|glrt-",
    ("gitlab_token", 36, "GR1348941[A-Za-z0-9_\\-]{"): b"GR1348941",
    ("gitlab_token", 51, "glcbt-([0-9a-fA-F]{2}_)?"): b"glcbt-",
    ("gitlab_token", 30, "glimt-[A-Za-z0-9_\\-]{25}"): b"glimt-",
    ("gitlab_token", 30, "glptt-[A-Za-z0-9_\\-]{40}"): b"glptt-",
    ("gitlab_token", 37, "glagent-[A-Za-z0-9_\\-]{5"): b"glagent-",
    ("gitlab_token", 30, "gloas-[A-Za-z0-9_\\-]{64}"): b"gloas-",
    ("ibm_cloud_iam_key", 287, "(?:(?<=\\W)|(?<=^))(?:\\[|"): b"KEYWORD",
    ("ibm_cos_hmac_key", 202, "(?:(?<=\\W)|(?<=^))(?:\\[|"): b"KEYWORD",
    ("jwt", 57, "eyJ[A-Za-z0-9-_=]+\\.[A-Z"): b"eyJ",
    ("mailchimp_key", 25, "[0-9a-z]{32}-us[0-9]{1,2"): b"[0-9a-z]{32}-us[0-9]",
    ("npm_token", 54, "\\/\\/.+\\/:_authToken=\\s*("): b"_authToken",
    ("openai_key", 55, "sk-[A-Za-z0-9-_]*[A-Za-z"): b"T3BlbkFJ",
    ("pypi_token", 38, "pypi-AgEIcHlwaS5vcmc[A-Z"): b"pypi-AgE",
    ("pypi_token", 45, "pypi-AgENdGVzdC5weXBpLm9"): b"pypi-AgE",
    ("sendgrid_key", 40, "SG\\.[a-zA-Z0-9_-]{22}\\.["): b"SG\\.",
    ("slack_token", 78, "https://hooks\\.slack\\.co"): b"(?i)hooks\\.slack\\.com",
    ("softlayer_credentials", 184, "(?:(?<=\\W)|(?<=^))(?:\\[|"): b"KEYWORD",
    ("softlayer_credentials", 66, "(?:http|https)://api.sof"): b"(?i)softlayer",
    ("square_oauth_secret", 27, "sq0csp-[0-9A-Za-z\\\\\\-_]{"): b"sq0csp-",
    ("stripe_key", 29, "(?:r|s)k_live_[0-9a-zA-Z"): b"k_live_",
    ("telegram_bot_token", 26, "\\d{8,10}:[0-9A-Za-z_-]{3"): b":[0-9A-Za-z_\\-]{35}",
    ("twilio_key", 14, "AC[a-z0-9]{32}"): b"AC[a-z0-9]{32}",
    ("twilio_key", 14, "SK[a-z0-9]{32}"): b"SK[a-z0-9]{32}",
}
_KEYWORD_GATE = (
    rb"(?i)(?:key|token|secret|password|passwd|pwd|pw|pass|bearer)"
    rb"[\"'\]:=>\s\x1c-\x1f\x80-\xff]*[A-Za-z0-9+/_\-.=]{16}"
)
_URL_GATE = rb"://[^\s@]+@"


def _gate() -> bytes:
    """The secrets rule's gate: what a match of one of its patterns needs. A pattern not
    in :data:`_PATTERN_GATES` (another detect-secrets version) is gated by what
    find_secrets itself needs for it: a run of 16 key characters."""
    gates = [_KEYWORD_GATE, _URL_GATE, rb"PRIVATE KEY|PuTTY-User-Key"]
    for rule, rx in PATTERNS:
        gate = _PATTERN_GATES.get(
            (rule, rx.pattern), rb"(?:^|[^A-Za-z0-9_+/=.\-])[A-Za-z0-9_+/=.\-]{16}"
        )
        gates.append(_KEYWORD_GATE if gate == b"KEYWORD" else _URL_GATE if gate == b"URL" else gate)
    scoped = [b"(?i:" + g[4:] + b")" if g.startswith(b"(?i)") else g for g in gates]
    return b"|".join(b"(?:" + g + b")" for g in dict.fromkeys(scoped))


SECRETS = Rule(
    codes={
        "secret_token": ("error", "an API key or token of a known provider"),
        "secret_private_key": ("error", "a private key block (RSA, EC, OpenSSH, PGP, PuTTY)"),
        "secret_password_in_url": ("error", "a password inside a URL (scheme://user:pw@host)"),
        "secret_high_entropy": ("warning", "a random-looking value after api_key=, password:..."),
    },
    find=_find,
    report=_report,
    hint="remove or mask it (curate redact), and revoke the credential if it is real",
    group="secrets",
    gate=_gate,
    skip_roles="secrets_allowed_roles",
)
