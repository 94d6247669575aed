"""One compiled multi-pattern scan that says which content rules can find anything in a text.

Most strings of a fine-tuning set hold no secret, no personal data, no placeholder, no
control character, no mojibake, no disclaimer and no refusal; the content rules still ran
their own gates and regexes on every one (about 40 CPython ``re`` scans per example). This
module compiles every rule's regexes into one `Hyperscan <https://www.hyperscan.io>`_
database (the ``hyperscan`` package) and scans all of an example's strings once; a rule's
Python code then runs only on the strings where one of its regexes' *prefilter* matched.

A prefilter must never miss: it is a superset gate. Each Python regex is converted by
:func:`byte_pattern` from its parse tree (Python's own ``re`` parser) into a byte-level
pattern that matches the UTF-8 encoding of every string the original matches, and more:

- lookarounds, anchors and word boundaries consume nothing and are dropped (a pattern
  without a condition matches wherever the one with it does);
- one character of the original becomes the set of its UTF-8 byte sequences: its ASCII
  members exactly as Python's engine decides them (the class is compiled by ``re`` and
  tested on all 128 ASCII characters, so ``\\w``, ``\\s``, negation and case-insensitive
  matching are Python's own), and its non-ASCII members either listed exactly (a class of
  up to 512 literal characters, matched case-sensitively) or as any multi-byte sequence;
- repeats keep their counts (a bound over 1,000 becomes unbounded), groups, alternations
  and atomic groups their structure; a back-reference makes the rule unfiltered.

Case-insensitive matching in Python also pairs four non-ASCII characters with ASCII
letters (``İ ı ſ K``: U+0130, U+0131, U+017F, U+212A; :data:`FOLDS_TO_ASCII`), and
``str.lower`` (the text some rules match on) maps them to ASCII too. A text holding one is
reported as "every rule may match" (a pattern of its own in the database), so those
pairings never need to be modelled. A pattern that Hyperscan cannot compile makes its
rule unfiltered (always run), and without the library (or with ``CURATE_PREFILTER=0`` in
the environment) :func:`get` returns ``None`` and the content check uses its pure-Python
gates: the findings are the same either way (tests compare all three on generated and
real text).

Example:
    >>> byte_pattern("(?i)key=")
    b'[\\\\x4b\\\\x6b][\\\\x45\\\\x65][\\\\x59\\\\x79]\\\\x3d'
    >>> pf = get()
    >>> texts = ["As an AI language model, I can't.", "Hi"]
    >>> pf is None or pf.scan(texts) == [pf.bit("boilerplate"), 0]
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import re
from bisect import bisect_right
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

try:  # Python 3.11+; 3.10 has the same modules under their old names
    from re import _compiler as _sre_compile
    from re import _constants as _c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_compile as _sre_compile  # type: ignore[no-redef]
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

try:
    import hyperscan as _hs

    HYPERSCAN_AVAILABLE = True
except ImportError:  # pragma: no cover - only without the optional library
    _hs = None
    HYPERSCAN_AVAILABLE = False

#: non-ASCII characters that Python's case-insensitive matching pairs with an ASCII letter,
#: or that ``str.lower`` turns into one (İ -> i + U+0307, K -> k); worked out over every
#: code point (a test checks the list is complete)
FOLDS_TO_ASCII = "\u0130\u0131\u017f\u212a"

#: a bound larger than this becomes unbounded (a superset; keeps the database small)
_MAX_BOUND = 1000
#: a class with up to this many non-ASCII literal characters lists them exactly
_MAX_LISTED = 512
#: any one non-ASCII character in UTF-8 (a lone surrogate, written with surrogatepass, too)
_ANY_MULTIBYTE = rb"[\xc2-\xf4][\x80-\xbf]{1,3}"


class Unsupported(ValueError):
    """A regex construct :func:`byte_pattern` cannot turn into a superset pattern."""


def _byte_class(bs: Sequence[int]) -> bytes:
    """A byte-regex class for these bytes (ranges where they are consecutive)."""
    out = []
    bs = sorted(set(bs))
    i = 0
    while i < len(bs):
        j = i
        while j + 1 < len(bs) and bs[j + 1] == bs[j] + 1:
            j += 1
        out.append(b"\\x%02x" % bs[i] if i == j else b"\\x%02x-\\x%02x" % (bs[i], bs[j]))
        i = j + 1
    if len(bs) == 1:
        return out[0]
    return b"[" + b"".join(out) + b"]"


def _literal_bytes(data: bytes) -> bytes:
    return b"".join(bytes([b]) if chr(b).isalnum() and b < 128 else b"\\x%02x" % b for b in data)


def _ascii_members(item: tuple[Any, Any], flags: int) -> list[int]:
    """The ASCII characters one character item (LITERAL, NOT_LITERAL, ANY, IN) matches
    under ``flags``, decided by Python's own engine: the item alone is compiled and tried
    on each of the 128 ASCII characters."""
    state = _sre_parse.State()
    state.flags = flags
    rx = _sre_compile.compile(_sre_parse.SubPattern(state, [item]), flags)
    return [b for b in range(128) if rx.fullmatch(chr(b))]


def _non_ascii(item: tuple[Any, Any], flags: int) -> bytes | None:
    """A byte regex for the non-ASCII characters the item may match: ``None`` for none,
    their UTF-8 sequences when they are few literal characters matched case-sensitively,
    else any multi-byte sequence."""
    op, av = item
    ignore = bool(flags & re.IGNORECASE)
    categories: list[int] = []
    if op is _c.LITERAL:
        if av < 128:
            return None
        chars = [av]
    elif op is _c.IN:
        chars = []
        for sub_op, sub_av in av:
            if sub_op is _c.LITERAL:
                if sub_av >= 128:
                    chars.append(sub_av)
            elif sub_op is _c.RANGE:
                lo, hi = sub_av
                if hi >= 128:
                    chars.extend(range(max(lo, 128), hi + 1))
                    if len(chars) > _MAX_LISTED:
                        return _ANY_MULTIBYTE
            elif sub_op is _c.CATEGORY and sub_av in _LISTED_CATEGORIES:
                if not flags & re.ASCII:  # \d and \s: few non-ASCII characters, no case
                    categories.extend(_unicode_members(_LISTED_CATEGORIES[sub_av]))
            else:  # NEGATE, \w and the negated categories: too many to list
                return _ANY_MULTIBYTE
        if not chars and not categories:
            return None
    else:  # NOT_LITERAL, ANY
        return _ANY_MULTIBYTE
    if (ignore and chars) or len(chars) > _MAX_LISTED:
        return _ANY_MULTIBYTE
    return _utf8_class(sorted({*chars, *categories}))


def _utf8_class(points: Sequence[int]) -> bytes:
    """A byte regex for the UTF-8 (surrogatepass) encodings of these non-ASCII code points:
    runs of consecutive code points become byte ranges (``\\xd9[\\xa0-\\xa9]`` for the
    Arabic-Indic digits), so ``\\d`` stays a short pattern."""
    runs: list[list[int]] = []
    for c in points:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    seqs: list[bytes] = []
    for lo, hi in runs:
        for a, b in ((0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)):
            if lo <= b and hi >= a:
                seqs.extend(_utf8_split(max(lo, a), min(hi, b)))
    return b"(?:" + b"|".join(seqs) + b")"


def _utf8_split(lo: int, hi: int) -> list[bytes]:
    """Byte-range sequences for code points ``lo..hi`` of one UTF-8 length (the usual
    split: until every byte position is an independent range)."""
    n = len(chr(lo).encode("utf-8", "surrogatepass"))
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if lo & ~m != hi & ~m:
            if lo & m:
                return _utf8_split(lo, lo | m) + _utf8_split((lo | m) + 1, hi)
            if hi & m != m:
                return _utf8_split(lo, (hi & ~m) - 1) + _utf8_split(hi & ~m, hi)
    a = chr(lo).encode("utf-8", "surrogatepass")
    b = chr(hi).encode("utf-8", "surrogatepass")
    return [b"".join(_byte_class(range(x, y + 1)) for x, y in zip(a, b, strict=True))]


#: categories whose non-ASCII members are listed exactly: Python's ``\d`` is
#: ``str.isdecimal`` and ``\s`` is ``str.isspace`` (a test checks both on every code point)
_LISTED_CATEGORIES = {_c.CATEGORY_DIGIT: "isdecimal", _c.CATEGORY_SPACE: "isspace"}


@cache
def _unicode_members(method: str) -> tuple[int, ...]:
    """The non-ASCII code points for which ``str.<method>()`` is true."""
    test = getattr(str, method)
    return tuple(c for c in range(128, 0x110000) if test(chr(c)))


class _NoSplit(Exception):
    """A pattern :func:`byte_patterns` does not split (see there)."""


def _char(item: tuple[Any, Any], flags: int, split: set[bytes] | None = None) -> bytes:
    members = _ascii_members(item, flags)
    multi = _non_ascii(item, flags)
    if split is not None and multi is not None:
        if multi == _ANY_MULTIBYTE or not members:
            raise _NoSplit
        split.add(multi)  # matched by the pattern of the non-ASCII characters instead
        multi = None
    parts = []
    if members:
        if len(members) == 1 and chr(members[0]).isalnum():
            parts.append(bytes(members))
        else:
            parts.append(_byte_class(members))
    if multi is not None:
        parts.append(multi)
    if not parts:  # matches nothing ASCII and nothing else: an impossible class
        raise Unsupported("a class that matches no character")
    return parts[0] if len(parts) == 1 else b"(?:" + b"|".join(parts) + b")"


def _seq(items: Any, flags: int, split: set[bytes] | None = None) -> bytes:
    out = []
    for op, av in items:
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
            out.append(_char((op, av), flags, split))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            body = _seq(sub, flags, split)
            if not body:
                continue
            lo = min(lo, _MAX_BOUND)
            if hi is _c.MAXREPEAT or hi > _MAX_BOUND:
                bound = b"*" if lo == 0 else b"+" if lo == 1 else b"{%d,}" % lo
            elif lo == hi:
                bound = b"" if lo == 1 else b"{%d}" % lo
            else:
                bound = b"?" if (lo, hi) == (0, 1) else b"{%d,%d}" % (lo, hi)
            out.append(b"(?:" + body + b")" + bound)
        elif op is _c.SUBPATTERN:
            _group, add, remove, sub = av
            out.append(b"(?:" + _seq(sub, (flags | add) & ~remove, split) + b")")
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            out.append(b"(?:" + _seq(av, flags, split) + b")")
        elif op is _c.BRANCH:
            out.append(b"(?:" + b"|".join(_seq(b, flags, split) for b in av[1]) + b")")
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # consumes nothing: dropping it only matches more
        else:  # back-references, conditionals
            raise Unsupported(f"regex construct {op}")
    return b"".join(out)


def byte_pattern(pattern: str, flags: int = 0) -> bytes:
    """A Hyperscan byte pattern that matches (somewhere in) the UTF-8 bytes of every text
    in which ``re.compile(pattern, flags)`` finds a match, given the text holds none of
    :data:`FOLDS_TO_ASCII`; see the module docstring.

    Raises:
        Unsupported: for a construct it cannot widen (back-references...).
    """
    tree = _sre_parse.parse(pattern, flags)
    return _seq(_drop_class_prefix(list(tree)), tree.state.flags)


def byte_patterns(pattern: str, flags: int = 0) -> list[bytes]:
    """:func:`byte_pattern`, split in two where that scans faster: the pattern with its
    classes cut down to their ASCII members, and one that matches any of the non-ASCII
    characters those classes held. A match of the original either uses ASCII characters
    only (then the first matches) or holds one of those characters (then the second
    does), so together they are a superset again. Long repeats of ``\\d`` (card numbers,
    IBANs) listed ~60 multi-byte digit sequences at every step, which is slow to scan;
    non-ASCII digits are rare, so the second pattern seldom fires. Not split: a pattern
    with a class of no ASCII member or of too many non-ASCII ones (``\\w``, negations,
    case-insensitive letters), which :func:`byte_pattern` widens to any multi-byte
    character.

    Raises:
        Unsupported: as :func:`byte_pattern`.
    """
    tree = _sre_parse.parse(pattern, flags)
    split: set[bytes] = set()
    try:
        ascii_part = _seq(_drop_class_prefix(list(tree)), tree.state.flags, split)
    except _NoSplit:
        return [byte_pattern(pattern, flags)]
    if not split:
        return [ascii_part]
    return [ascii_part, b"(?:" + b"|".join(sorted(split)) + b")"]


_CHAR_OPS = (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN)


def _drop_class_prefix(items: list[Any]) -> list[Any]:
    r"""The top-level items from the first literal character on, when everything before it
    is character classes (or repeats of them) and assertions: ``[A-Za-z0-9][\w.%+-]{0,63}@
    domain`` becomes ``@domain``. Any match of a pattern holds a match of each of its
    suffixes, so this is a superset; and a pattern that opens with a long class repeat is
    Hyperscan's slowest kind (the e-mail pattern alone was ~40% of the scan), while one
    that opens with a literal is found by its literal first."""
    for k, (op, av) in enumerate(items):
        if op is _c.LITERAL:
            return _last_class(items[:k]) + items[k:] if k else items
        if op in _CHAR_OPS or op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and all(o in _CHAR_OPS for o, _ in av[2]):
            continue
        return items
    return items


def _last_class(dropped: list[Any]) -> list[Any]:
    r"""What :func:`_drop_class_prefix` keeps of the items it drops: the character class
    right before the literal, once (``\d{8,10}:`` keeps ``\d:``), when every match has
    one there (a class, or a repeat of classes with a minimum of 1 or more). Any match
    still holds a match of the shorter pattern, and a literal as common as ``:`` or ``.``
    then starts far fewer checks: the Telegram token pattern, ``\d{8,10}:`` and 35 key
    characters, was ~10% of the scan from its colon alone."""
    for op, av in reversed(dropped):
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero-width: the class before it is still right before the literal
        if op in _CHAR_OPS:
            return [(op, av)]
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
            return list(av[2])
        return []
    return []


#: rule groups, one bit each in a scan result
GROUPS = (
    "secrets",
    "pii",
    "placeholders",
    "control",
    "mojibake",
    "boilerplate",
    "refusal",
)


def _rule_regexes() -> list[tuple[str, re.Pattern[str]]]:
    """Every regex a finding of each group needs a match of (see the rule functions)."""
    from curate.validators import pii, secrets
    from curate.validators import text_quality as tq

    out: list[tuple[str, re.Pattern[str]]] = [("secrets", rx) for _, rx in secrets.PATTERNS]
    out += [
        ("secrets", secrets._PRIVATE_KEY_RE),
        ("secrets", secrets._URL_PASSWORD_RE),
        ("secrets", secrets._KEYWORD_RE),
        ("secrets", secrets._KEYWORD_LOWER_RE),
        ("pii", pii._EMAIL_RE),
        ("pii", pii._PHONE_RE),
        ("pii", pii._CARD_RE),
        ("pii", pii._IPV4_RE),
        ("pii", pii._IBAN_RE),
        ("placeholders", tq._PLACEHOLDER_SCAN_RE),
        ("control", tq._CONTROL_RE),
        ("mojibake", tq._MOJIBAKE_GATE_RE),
        ("boilerplate", tq._BOILERPLATE_RE),
        ("boilerplate", tq._BOILERPLATE_LOWER_RE),
        ("refusal", tq._REFUSAL_RE),
    ]
    return out


class Prefilter:
    """A compiled database of every rule's prefilter patterns.

    Args:
        regexes: ``(group, regex)`` pairs; a group's bit is set for a text where one of
            its regexes' prefilter matches.
        cache: load the compiled database from, and save it to, the cache folder
            (:func:`cache_dir`): compiling takes ~0.3 s, loading ~1 ms.
    """

    def __init__(self, regexes: Sequence[tuple[str, re.Pattern[str]]], cache: bool = True) -> None:
        assert _hs is not None
        self.bits = {g: 1 << i for i, g in enumerate(GROUPS)}
        self.all = (1 << len(GROUPS)) - 1
        key = hashlib.sha256(
            repr(
                (
                    [(g, rx.pattern, rx.flags) for g, rx in regexes],
                    _hs.__version__ if hasattr(_hs, "__version__") else "",
                    Path(__file__).read_bytes(),
                )
            ).encode("utf-8", "surrogatepass")
        ).hexdigest()[:32]
        loaded = _load(key) if cache else None
        if loaded is not None:
            self.owners, self.always, self.db = loaded
        else:
            self.owners, self.always, self.db = self._build(regexes)
            if cache:
                _save(key, self.owners, self.always, self.db)
        self.scratch = _hs.Scratch(self.db)
        self._found = 0
        owners_ = self.owners
        hits: list[tuple[int, int]] = []
        self._hits = hits
        n_hits = [0]

        def on_match(i: int, _s: int, _e: int, _f: int, _ctx: Any) -> bool:
            self._found |= owners_[i]
            n_hits[0] += 1
            return n_hits[0] >= _MAX_MATCHES  # enough: the caller opens every gate

        def collect(i: int, _s: int, to: int, _f: int, _ctx: Any) -> bool:
            hits.append((i, to))
            return len(hits) >= _MAX_MATCHES

        self._n_hits = n_hits
        self._on_match = on_match
        self._collect = collect

    def _build(self, regexes: Sequence[tuple[str, re.Pattern[str]]]) -> tuple[list[int], int, Any]:
        """Convert and compile: ``(group bits per expression id, unfiltered groups, db)``."""
        assert _hs is not None
        exprs: list[bytes] = []
        owners: list[int] = []
        always = 0  # groups one of whose patterns could not be filtered
        seen: set[tuple[bytes, int]] = set()  # one non-ASCII digit pattern serves them all
        for group, rx in regexes:
            try:
                for expr in byte_patterns(rx.pattern, rx.flags):
                    if (expr, self.bits[group]) not in seen:
                        seen.add((expr, self.bits[group]))
                        exprs.append(expr)
                        owners.append(self.bits[group])
            except (Unsupported, re.error, RecursionError, TypeError):
                always |= self.bits[group]
        # the characters that case-insensitive matching pairs with ASCII letters
        exprs.append(b"(?:" + b"|".join(_literal_bytes(c.encode()) for c in FOLDS_TO_ASCII) + b")")
        owners.append(self.all)
        try:
            return owners, always, _compile(exprs)
        except Exception:  # one pattern Hyperscan cannot take: find it, filter without it
            ok = [i for i in range(len(exprs)) if _compiles(exprs[i])]
            for i in set(range(len(exprs))) - set(ok):
                always |= owners[i]
            return [owners[i] for i in ok], always, _compile([exprs[i] for i in ok])

    def bit(self, group: str) -> int:
        """The bit of a group (see :data:`GROUPS`) in :meth:`scan`'s results."""
        return self.bits[group]

    def scan_one(self, text: str) -> int:
        """The groups (bits) that may find something in ``text``."""
        self._found = self.always
        self._n_hits[0] = 0
        try:
            self.db.scan(
                text.encode("utf-8", "surrogatepass"),
                match_event_handler=self._on_match,
                scratch=self.scratch,
            )
        except _hs.ScanTerminated:  # type: ignore[union-attr]
            return self.all  # too many matches to be worth telling apart: every gate open
        return self._found

    def scan(self, texts: Sequence[str]) -> list[int]:
        """The groups (bits) that may find something in each of ``texts``.

        The texts are scanned once, joined with a newline: every match of a pattern inside
        one text is a match in the joined bytes, and Hyperscan reports each end offset at
        which a match ends (no single-match flag), so the text holding a match's last byte
        gets the pattern's group bit. A match that runs across a separator can only add
        bits (a gate opened for nothing, never one closed). After :data:`_MAX_MATCHES`
        matches the scan stops and the texts are scanned one by one
        (:meth:`scan_one`, which itself opens every gate past that many)."""
        n = len(texts)
        if n == 1:
            return [self.scan_one(texts[0])]
        hits = self._hits
        hits.clear()
        joined = "\n".join(texts)
        raw = joined.encode("utf-8", "surrogatepass")
        try:
            self.db.scan(raw, match_event_handler=self._collect, scratch=self.scratch)
        except _hs.ScanTerminated:  # type: ignore[union-attr]
            return [self.scan_one(t) for t in texts]
        if not hits:
            return [self.always] * n
        # byte offset where each text starts in the joined bytes
        starts = [0] * n
        pos = 0
        ascii_only = len(raw) == len(joined)
        for k, t in enumerate(texts):
            starts[k] = pos
            pos += (len(t) if ascii_only else len(t.encode("utf-8", "surrogatepass"))) + 1
        masks = [self.always] * n
        owners = self.owners
        for i, to in hits:
            k = bisect_right(starts, to - 1) - 1
            masks[k] |= owners[i]
        return masks


#: matches of one scan after which it stops (each costs a Python call): a text with more
#: gets every gate open (see :meth:`Prefilter.scan_one`)
_MAX_MATCHES = 64


def _flags(expr: bytes) -> int:
    """Compile flags for one expression: none (the widened pattern exactly, so a match is
    reported only where it really matches) when Hyperscan takes it so, else
    ``HS_FLAG_PREFILTER`` (Hyperscan may widen it further: a superset of a superset)."""
    assert _hs is not None
    try:
        db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        db.compile(expressions=[expr], ids=[0], elements=1, flags=[0])
        return 0
    except Exception:
        return int(_hs.HS_FLAG_PREFILTER)


def _compile(exprs: list[bytes]) -> Any:
    assert _hs is not None
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(
        expressions=exprs,
        ids=list(range(len(exprs))),
        elements=len(exprs),
        flags=[_flags(e) for e in exprs],
    )
    return db


def _compiles(expr: bytes) -> bool:
    try:
        _compile([expr])
        return True
    except Exception:
        return False


def cache_dir() -> Path:
    """Where compiled databases are kept: ``$XDG_CACHE_HOME/curate/prefilter`` (default
    ``~/.cache/curate/prefilter``)."""
    from curate.io import user_cache_dir

    return user_cache_dir("prefilter")


def _load(key: str) -> tuple[list[int], int, Any] | None:
    """A cached database, or ``None`` when missing, damaged (the file starts with the
    sha256 of the rest) or built for another platform or Hyperscan version."""
    assert _hs is not None
    try:
        path = cache_dir() / f"{key}.hsdb"
        blob = path.read_bytes()
        digest, payload = blob[:32], blob[32:]
        if hashlib.sha256(payload).digest() != digest:
            return None
        owners, always, raw = marshal.loads(payload)
        loaded = list(owners), int(always), _hs.loadb(raw, _hs.HS_MODE_BLOCK)
        with contextlib.suppress(OSError):  # (a read-only cache: still used)
            os.utime(path)  # used: kept when a new database prunes the folder
        return loaded
    except Exception:
        return None


def _save(key: str, owners: list[int], always: int, db: Any) -> None:
    """Write the database atomically; a read-only cache folder just skips it."""
    assert _hs is not None
    try:
        from curate.io import atomic_write, prune_cache

        payload = marshal.dumps((owners, always, _hs.dumpb(db)))
        target = cache_dir() / f"{key}.hsdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target, "wb") as f:
            f.write(hashlib.sha256(payload).digest() + payload)
        prune_cache(target.parent, target, keep=8)  # other configurations and versions
    except Exception:  # pragma: no cover - read-only home, full disk
        return


_STATE: dict[str, Prefilter | None] = {}


def enabled() -> bool:
    """False when ``CURATE_PREFILTER`` is ``0``/``off``/``false`` (pure-Python gates)."""
    return os.environ.get("CURATE_PREFILTER", "1").strip().lower() not in (
        "0",
        "off",
        "false",
        "no",
    )


def get() -> Prefilter | None:
    """The process's prefilter, built at the first call; ``None`` without ``hyperscan``,
    when turned off (:func:`enabled`), or if the database cannot be built here (then the
    content check uses its pure-Python gates, with the same findings)."""
    if "pf" not in _STATE:
        pf = None
        if HYPERSCAN_AVAILABLE and enabled():
            try:
                pf = Prefilter(_rule_regexes())
            except Exception:  # pragma: no cover - a platform where Hyperscan fails
                pf = None
        _STATE["pf"] = pf
    return _STATE["pf"]


__all__ = [
    "FOLDS_TO_ASCII",
    "GROUPS",
    "HYPERSCAN_AVAILABLE",
    "Prefilter",
    "byte_pattern",
    "byte_patterns",
    "get",
]
