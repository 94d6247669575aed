"""One Hyperscan scan that says which content rules need to run on which strings.

Most strings of a fine-tuning set hold no secret, no personal data, no placeholder, no
control character, no mojibake, no disclaimer and no refusal. Each of those rules
declares a *gate* (:attr:`curate.validators.base.Rule.gate`): a bytes regex that the
UTF-8 of every string the rule can find something in matches. This module compiles the
gates into one `Hyperscan <https://www.hyperscan.io>`_ database (the ``hyperscan``
package, x86_64) and scans all of an example's strings at once; a rule then runs only on
the strings its gate matched, and the others get its "nothing found" without running it.

The gates are plain byte patterns (written by hand next to each rule), so they mean the
same to Hyperscan and to Python's ``re`` (the tests check each one against its rule with
``re``). Three things open every gate of a string: one of
:data:`~curate.validators.base.FOLDS_TO_ASCII` (characters that case-insensitive
matching pairs with ASCII letters, which the gates do not list), more than
:data:`MAX_MATCHES` matches (each costs a Python call: such a string is not worth telling
apart), and a database that cannot be built here. Without Hyperscan (another platform, or
``CURATE_PREFILTER=0``) :func:`get` returns ``None`` and every rule runs on every string:
the findings are the same either way, only slower.

The compiled database is kept in the cache (:mod:`curate.cache`, ``prefilter``):
building it takes ~0.3 s (listing the non-ASCII digits for the personal-data gate),
loading it ~1 ms.

Example:
    >>> from curate.validators.text_quality import BOILERPLATE
    >>> pf = get([BOILERPLATE])
    >>> pf is None or pf.scan(["As an AI language model, I can't.", "Hi"]) == [1, 0]
    True
"""

from __future__ import annotations

import marshal
import os
import sys
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curate.cache import Cache
from curate.validators.base import FOLDS_TO_ASCII, Rule

try:
    import hyperscan as _hs
except ImportError:  # only without the [content] extra, or off x86_64
    _hs = None

HYPERSCAN_AVAILABLE = _hs is not None

#: matches in one scan after which a string gets every gate open
MAX_MATCHES = 64

_CACHE = Cache("prefilter", keep=8)


def gate_pattern(rule: Rule) -> bytes | None:
    """A rule's gate as bytes (a gate may be given as a function that builds it)."""
    gate = rule.gate
    return gate() if callable(gate) else gate


def _gate_version(gate: Any) -> Any:
    """What a cached database depends on of one gate: its bytes, or for a gate built by
    a function, that function's module source and the Unicode version."""
    if isinstance(gate, bytes):
        return gate
    source = Path(sys.modules[gate.__module__].__file__ or "").read_bytes()
    return gate.__qualname__, source, unicodedata.unidata_version


class Prefilter:
    """The compiled gates of ``rules`` (bit ``1 << i`` for ``rules[i]``; a rule without a
    gate has its bit always set)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        assert _hs is not None
        self.all = (1 << len(rules)) - 1
        self.always = sum(1 << i for i, r in enumerate(rules) if r.gate is None)
        gates = [_gate_version(r.gate) for r in rules if r.gate is not None]
        key = _CACHE.key(gates, getattr(_hs, "__version__", ""), Path(__file__).read_bytes())
        blob = _CACHE.read(key)
        db = None
        if blob is not None:
            try:
                db = _hs.loadb(marshal.loads(blob), _hs.HS_MODE_BLOCK)
            except Exception:  # another platform's or version's database
                db = None
        if db is None:
            db = self._build(rules)
            _CACHE.write(key, marshal.dumps(_hs.dumpb(db)))
        self.db = db
        self.scratch = _hs.Scratch(db)
        self.hits: list[tuple[int, int]] = []

    def _build(self, rules: Sequence[Rule]) -> Any:
        assert _hs is not None
        exprs, ids = [], []
        for i, rule in enumerate(rules):
            pattern = gate_pattern(rule)
            if pattern is not None:
                exprs.append(pattern)
                ids.append(1 << i)
        exprs.append(b"|".join(c.encode() for c in FOLDS_TO_ASCII))
        ids.append(self.all)
        db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        # ids are the rules' bits; Hyperscan takes them as plain numbers
        db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=[0] * len(exprs))
        return db

    def _collect(self, bits: int, _start: int, end: int, _flags: int, _ctx: Any) -> bool:
        self.hits.append((bits, end))
        return len(self.hits) >= MAX_MATCHES  # stop: the caller opens every gate

    def scan(self, texts: Sequence[str]) -> list[int]:
        """The bits of the rules that may find something in each of ``texts``.

        The texts are scanned once, joined with a newline; a match is credited to the
        text that holds its last byte (a match across the newline can only open a gate
        for nothing, never close one)."""
        hits = self.hits
        hits.clear()
        raw = "\n".join(texts).encode("utf-8", "surrogatepass")
        try:
            self.db.scan(raw, match_event_handler=self._collect, scratch=self.scratch)
        except _hs.ScanTerminated:  # type: ignore[union-attr]
            if len(texts) == 1:
                return [self.all]
            return [self.scan([t])[0] for t in texts]
        masks = [self.always] * len(texts)
        if not hits:
            return masks
        if len(texts) == 1:
            for bits, _ in hits:
                masks[0] |= bits
            return masks
        starts = []  # byte offset where each text starts
        pos = 0
        for t in texts:
            starts.append(pos)
            pos += len(t.encode("utf-8", "surrogatepass")) + 1
        for bits, end in hits:
            masks[bisect_right(starts, end - 1) - 1] |= bits
        return masks


def enabled() -> bool:
    """False when ``CURATE_PREFILTER`` is ``0``/``off``/``false``/``no``."""
    return os.environ.get("CURATE_PREFILTER", "1").strip().lower() not in (
        "0",
        "off",
        "false",
        "no",
    )


_BUILT: dict[tuple[Rule, ...], Prefilter | None] = {}


def get(rules: Sequence[Rule]) -> Prefilter | None:
    """The prefilter of ``rules`` in this process (built at the first call); ``None``
    without Hyperscan, when turned off (:func:`enabled`), or when it cannot be built."""
    key = tuple(rules)
    if key not in _BUILT:
        pf = None
        if _hs is not None and enabled():
            try:
                pf = Prefilter(rules)
            except Exception:  # a platform where Hyperscan fails: every rule runs
                pf = None
        _BUILT[key] = pf
    return _BUILT[key]


__all__ = ["HYPERSCAN_AVAILABLE", "MAX_MATCHES", "Prefilter", "enabled", "gate_pattern", "get"]
