"""TRL's language-modelling type: rows with only ``text``.

Such a row has no user or assistant turn, so it cannot become a chat example: every row is
rejected with the reason ``not_chat`` (the original row is kept in the rejects file). It is
a format of its own so detection names it instead of failing, and it is a fallback: a row
with ``text`` *and* ``messages`` is chat.

Example:
    >>> from curate.ingest.base import IngestOptions, Reject
    >>> try:
    ...     LanguageModelling().convert({"text": "Once upon a time"}, IngestOptions())
    ... except Reject as r:
    ...     print(r.reason)
    not_chat
"""

from __future__ import annotations

from typing import Any

from curate.ingest.base import BaseIngestor, IngestOptions, Reject, register


@register("text")
class LanguageModelling(BaseIngestor):
    description = "TRL language modelling (text only): rejected as not_chat, kept in rejects"
    required = frozenset({"text"})
    fallback = True

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        raise Reject(
            "not_chat",
            'a plain "text" row has no user/assistant turns; curate ingests chat data. '
            "If the text holds columns, pass --map user=COL --map assistant=COL",
        )
