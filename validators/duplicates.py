"""Duplicate checks for ``curate validate`` (corpus validators).

- :class:`ExactDuplicates`: ``exact_duplicate`` when an example's normalised conversation
  (NFKC, case, whitespace) equals an earlier one's; ``conflicting_answers`` when its system
  and user turns equal an earlier example's but the assistant replies differ. Streams:
  findings come as examples arrive.
- :class:`NearDuplicates`: ``near_duplicate`` for examples whose word 3-gram Jaccard with
  the kept example of their cluster reaches ``threshold`` (MinHash + LSH; the similarity
  is exact for examples of up to 256 shingles, the 128-permutation signature estimate for
  longer ones, whose shingles are not kept in memory); ``contained_duplicate`` for a
  conversation whose turns are a contiguous run of a longer conversation's turns;
  ``large_duplicate_cluster`` on the kept example of a cluster holding more than 1% of
  the examples (and at least 10). The rules are ``curate dedup``'s
  (:mod:`curate.dedup.resolve`): the same examples are reported as it removes. Needs the
  whole corpus: findings come from :meth:`NearDuplicates.finish`. Exact copies are left
  to :class:`ExactDuplicates`.

Every finding points at the other copy (``related``) and says "duplicate of FILE:LINE".

Example:
    >>> from curate.records import Example, Location
    >>> from curate.validators.base import ExampleRef
    >>> v = ExactDuplicates()
    >>> rec = {"messages": [{"role": "user", "content": "hi"},
    ...                     {"role": "assistant", "content": "hello"}]}
    >>> for line in (1, 2):
    ...     ex = Example(rec, Location("t.jsonl", line))
    ...     out = list(v.add(ExampleRef(ex.id, ex.source, line - 1), v.features(ex)))
    >>> out[0].code, str(out[0].related)
    ('exact_duplicate', 't.jsonl:1')
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.dedup.core import (
    CONTAINED,
    NEAR,
    DuplicateIndex,
    Features,
    Params,
    featurize,
    is_large_cluster,
)
from curate.dedup.text import exact_key, pick_turns, scope_turns, turn_digest
from curate.records import Example, Finding, Severity
from curate.validators.base import ExampleRef

_EMPTY_PROMPT = exact_key({"messages": []}, "user")
#: examples with at most this many shingles keep them, so their pairs are verified by
#: the exact Jaccard; longer ones are compared by the signature estimate
MAX_KEPT_SHINGLES = 256


@dataclass
class ExactDuplicates:
    """Exact (normalised) duplicates and same-prompt-different-answer conflicts."""

    name: str = "exact_duplicates"
    _first: dict[bytes, ExampleRef] = field(default_factory=dict, repr=False)
    _prompts: dict[bytes, tuple[ExampleRef, bytes]] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        # workers need no state; the main process keeps adding to it while tasks are
        # pickled in the pool's feeder thread
        return {"name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self._first = {}
        self._prompts = {}

    def features(self, ex: Example) -> tuple[bytes, bytes, bytes]:
        """(conversation key, prompt key, answer key): 48 bytes, pure."""
        turns = scope_turns(ex.data, "conversation")
        return (
            turn_digest(turns),
            turn_digest(pick_turns(turns, "user")),
            turn_digest(pick_turns(turns, "assistant")),
        )

    def add(self, ref: ExampleRef, feature: tuple[bytes, bytes, bytes]) -> Iterator[Finding]:
        conv, prompt, answer = feature
        first = self._first.get(conv)
        if first is not None:
            yield Finding(
                "exact_duplicate",
                Severity.WARNING,
                f"exact duplicate of {first.source} (id {first.id}) after normalising Unicode, "
                "case and whitespace",
                ref.source,
                hint="remove the copy: `curate dedup IN -o OUT` keeps one of them",
                related=first.source,
                data={"duplicate_of": first.id, "similarity": 1.0},
            )
            return
        self._first[conv] = ref
        if prompt == _EMPTY_PROMPT:
            return
        seen = self._prompts.get(prompt)
        if seen is None:
            self._prompts[prompt] = (ref, answer)
        elif seen[1] != answer:
            other = seen[0]
            yield Finding(
                "conflicting_answers",
                Severity.WARNING,
                f"same prompt as {other.source} (id {other.id}) but a different assistant reply",
                ref.source,
                hint="keep one answer or review both; conflicting targets for one prompt "
                "teach inconsistency",
                related=other.source,
                data={"duplicate_of": other.id},
            )

    def finish(self) -> Iterable[Finding]:
        return ()


@dataclass
class NearDuplicates:
    """Near duplicates by MinHash LSH (and conversation containment).

    Args:
        threshold: Jaccard similarity (word 3-grams) at or above which two examples are
            near duplicates, in (0, 1].
        scope: compare ``conversation``, ``user`` (prompt side) or ``assistant`` turns.
        containment: also report conversations contained in another.
        keep: which example of a cluster the others are reported against (``longest``
            or ``first``, as ``curate dedup --keep``).
    """

    threshold: float = 0.8
    scope: str = "conversation"
    containment: bool = True
    keep: str = "longest"
    name: str = "near_duplicates"
    _params: Params = field(init=False, repr=False)
    _rows: list[tuple[Any, ...]] = field(default_factory=list, init=False, repr=False)
    _refs: list[ExampleRef] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._params = Params(threshold=self.threshold, scope=self.scope,
                              containment=self.containment, keep=self.keep)  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:  # workers need the parameters only
        return {"threshold": self.threshold, "scope": self.scope, "name": self.name,
                "containment": self.containment, "keep": self.keep}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.threshold, self.scope, self.name = state["threshold"], state["scope"], state["name"]
        self.containment, self.keep = state["containment"], state["keep"]
        self._refs = []
        self._rows = []
        self.__post_init__()

    def features(self, ex: Example) -> tuple[Any, ...]:
        """Plain bytes (cheap to send between processes): the exact and containment keys,
        the MinHash signature and, for short examples (at most ``MAX_KEPT_SHINGLES``
        shingles), the shingles: at most ~1.6 KB per example."""
        f = featurize([ex.data], self._params)
        n_sh = int(f.sh_len[0])
        return (
            f.exact.tobytes(),
            f.conv.tobytes(),
            int(f.n_turns[0]),
            f.windows[0].tobytes() if 0 in f.windows else b"",
            f.sig.tobytes(),
            n_sh,
            f.sh_flat.tobytes() if n_sh <= MAX_KEPT_SHINGLES else None,
            int(f.answer_chars[0]),
        )

    def add(self, ref: ExampleRef, feature: tuple[Any, ...]) -> Iterable[Finding]:
        self._refs.append(ref)
        self._rows.append(feature)
        return ()

    def _features(self) -> Features:
        rows, self._rows = self._rows, []
        n = len(rows)
        exact = np.frombuffer(b"".join(r[0] for r in rows), dtype="S16")
        windows = {i: np.frombuffer(r[3], dtype="S8") for i, r in enumerate(rows) if r[3]}
        sig = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.uint32)
        stored = np.fromiter((r[6] is not None for r in rows), dtype=bool, count=n)
        return Features(
            exact,
            np.zeros(n, dtype="S16"),
            np.zeros(n, dtype="S16"),
            np.frombuffer(b"".join(r[1] for r in rows), dtype="S8"),
            np.fromiter((r[2] for r in rows), dtype=np.int32, count=n),
            np.fromiter((r[7] for r in rows), dtype=np.int64, count=n),
            windows,
            sig.reshape(n, self._params.num_perm),
            np.frombuffer(b"".join(r[6] for r in rows if r[6] is not None), dtype=np.uint32),
            np.fromiter((r[5] for r in rows), dtype=np.int64, count=n),
            stored,
        )

    def finish(self) -> Iterator[Finding]:
        feats = self._features()
        index = DuplicateIndex(self._params)
        index.add(feats)
        plan = index.solve()
        stored = feats.stored()
        refs = self._refs
        for i in np.flatnonzero((plan.status == NEAR) | (plan.status == CONTAINED)).tolist():
            j = int(plan.dup_of[i])
            other = refs[j]
            sim = float(plan.similarity[i])
            data = {"duplicate_of": other.id, "similarity": round(sim, 4),
                    "representative": refs[int(plan.rep[i])].id}  # fmt: skip
            if plan.status[i] == CONTAINED:
                code = "contained_duplicate"
                msg = (f"its turns are contained in {other.source} (id {other.id}), "
                       f"{round(sim * 100)}% of that conversation's turns")  # fmt: skip
                hint = ("the longer conversation holds this one: `curate dedup IN -o OUT` "
                        "removes this one and keeps the longer")  # fmt: skip
            else:
                how = "Jaccard" if stored[i] and stored[j] else "estimated Jaccard"
                what = f"{how} {sim:.2f} >= {self.threshold} on {self.scope} word 3-grams"
                code = "near_duplicate"
                msg = f"near duplicate of {other.source} (id {other.id}): {what}"
                hint = ("review the pair; `curate dedup IN -o OUT` keeps the one with the most "
                        "turns, then the longest answer (--keep first: the first)")  # fmt: skip
            yield Finding(code, Severity.WARNING, msg, refs[i].source, hint=hint,
                          related=other.source, data=data)  # fmt: skip
        total = len(refs)
        for rep, members in plan.clusters().items():
            size = len(members)
            if not is_large_cluster(size, total):
                continue
            yield Finding(
                "large_duplicate_cluster",
                Severity.WARNING,
                f"{size:,} of {total:,} examples ({size / total:.1%}) are duplicates of this "
                "one (exact, near or contained): curate dedup would remove all but this one",
                refs[rep].source,
                hint="look at the cluster before losing that much data (curate dedup "
                "--clusters FILE lists it): a boilerplate turn, a template or a too-low "
                "threshold makes such clusters",
                data={"size": size, "share": round(size / total, 4)},
            )
