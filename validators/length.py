"""Length against the model's per-example training limit.

An example longer than the limit is an error (``too_long``): OpenAI truncates or rejects
it and a trainer cuts it off, so ``curate`` reports it and never truncates silently. The
token count comes from the pipeline (the cookbook's formula, see :mod:`curate.tokens`).

Example:
    >>> from curate.records import Location
    >>> too_long(5000, Location("t.jsonl", 3), max_tokens=4096).message
    '5000 tokens > max_tokens=4096 (904 over)'
"""

from __future__ import annotations

from curate.records import Finding, Location, Severity


def too_long(total_tokens: int, loc: Location, *, max_tokens: int) -> Finding:
    """The ``too_long`` finding for an example of ``total_tokens`` over ``max_tokens``."""
    return Finding(
        "too_long",
        Severity.ERROR,
        f"{total_tokens} tokens > max_tokens={max_tokens} ({total_tokens - max_tokens} over)",
        loc,
        hint="shorten or split the conversation, drop the example, or raise --max-tokens "
        "if your model allows longer examples",
        data={"tokens": total_tokens, "max_tokens": max_tokens},
    )
