"""Exact and near-duplicate detection, and train/eval decontamination.

The Python twin of ``curate dedup`` is :func:`curate.dedup.run.dedup_paths`; which copy
of a cluster is kept is decided by :func:`curate.dedup.resolve.resolve_component` (one
pure function per connected component, for any engine); other stages group examples with
:func:`cluster_keys` (small sets, in memory) and :func:`prompt_key` (examples sharing a
prompt). ``curate split`` groups near-duplicates
of large files with :mod:`curate.dedup.group` (a fixed 128 bytes per example, no stored
shingles).

Example:
    >>> from curate.records import Example, Location
    >>> def ex(u, a, line):
    ...     return Example({"messages": [{"role": "user", "content": u},
    ...                                  {"role": "assistant", "content": a}]},
    ...                    Location("t.jsonl", line))
    >>> exs = [ex("What is the capital of France?", "Paris.", 1),
    ...        ex("what is the capital of  France?", "Paris.", 2),
    ...        ex("Name a prime number.", "7", 3)]
    >>> keys = cluster_keys(exs)
    >>> keys[1] == exs[0].id, keys[2] == exs[2].id
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

from curate.dedup.core import (
    CONTAMINATED,
    EXACT,
    KEPT,
    NEAR,
    DuplicateIndex,
    Features,
    Params,
    Plan,
    featurize,
)
from curate.dedup.lsh import lsh_params
from curate.dedup.minhash import MinHasher, jaccard, shingles
from curate.dedup.text import SCOPES, exact_key, normalize_text, prompt_key, scope_text
from curate.records import Example

BATCH = 2000


def cluster_keys(
    examples: Sequence[Example],
    *,
    threshold: float = 0.8,
    scope: str = "conversation",
    near: bool = True,
    seed: int = 0,
    containment: bool = True,
    keep: str = "longest",
) -> list[str]:
    """For each example, the id of the example ``curate dedup`` would keep for it (its
    cluster's representative); an example with no duplicate gets its own ``Example.id``.

    Args:
        examples: in input order (which breaks the keep rule's ties).
        threshold: Jaccard similarity (word 3-gram shingles) for near duplicates.
        scope: compare ``conversation``, ``user`` (prompt) or ``assistant`` turns.
        near: ``False`` groups exact (normalised) duplicates only.
        seed: fixes the MinHash functions (the result is deterministic for a seed).
        containment: a conversation contained in another gets the container's key.
        keep: ``longest`` or ``first`` (see :func:`curate.dedup.resolve.rank_key`).
    """
    params = Params(threshold=threshold, scope=scope, near=near, seed=seed,
                    containment=containment, keep=keep)  # fmt: skip
    idx = DuplicateIndex(params)
    for s in range(0, len(examples), BATCH):
        idx.add(featurize([e.data for e in examples[s : s + BATCH]], params))
    plan = idx.solve()
    return [examples[int(r)].id for r in plan.rep.tolist()]


__all__ = [
    "CONTAMINATED",
    "EXACT",
    "KEPT",
    "NEAR",
    "SCOPES",
    "DuplicateIndex",
    "Features",
    "MinHasher",
    "Params",
    "Plan",
    "cluster_keys",
    "exact_key",
    "featurize",
    "jaccard",
    "lsh_params",
    "normalize_text",
    "prompt_key",
    "scope_text",
    "shingles",
]


# ``curate.dedup(...)`` is the library function (curate.api) even once this module is imported
from curate.stage import callable_module  # noqa: E402

callable_module(__name__)
