"""Any table (CSV, TSV, Parquet, JSON/JSONL, a Hugging Face dataset) with a column map:
``--map user=question --map assistant=answer [--map system=persona]``. Chosen whenever
``--map`` is given. Numbers become text; a column holding a list of ``{role, content}``
messages (a chat-shaped prompt) gives those messages; unmapped columns go under ``metadata``.
``--map images=COL`` (or ``videos`` / ``audios``) attaches a column of paths or URLs (one,
or a list) as media of the user message: at its ``<image>`` placeholders if the text has
them, else at its start (docs/ingest.md, "Media").

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> opts = IngestOptions(maps={"user": "q", "assistant": "a"}, system="Be brief.")
    >>> out = Columns().convert({"q": "2+2?", "a": 4, "topic": "math"}, opts)
    >>> [m["content"] for m in out["messages"]], out["metadata"]
    (['Be brief.', '2+2?', '4'], {'topic': 'math'})
"""

from __future__ import annotations

from typing import Any

from curate.ingest.base import (
    BaseIngestor,
    IngestOptions,
    Reject,
    extras,
    finish,
    register,
    text_field,
    to_messages,
)
from curate.records import InputError

#: what ``--map`` can fill, in message order
TARGETS = ("system", "user", "assistant")
#: ``--map`` targets for media columns (paths or URLs)
MEDIA_TARGETS = ("images", "videos", "audios")


def check_maps(maps: dict[str, str] | Any) -> None:
    """Raise :class:`InputError` unless ``maps`` names ``user`` and ``assistant`` only
    among :data:`TARGETS`."""
    bad = sorted(set(maps) - set(TARGETS) - set(MEDIA_TARGETS))
    if bad:
        raise InputError(
            f"--map {bad[0]}=...: unknown target {bad[0]!r}; targets are "
            f"{', '.join(TARGETS + MEDIA_TARGETS)}"
        )
    missing = [t for t in ("user", "assistant") if t not in maps]
    if missing:
        raise InputError(
            f"the columns format needs --map {missing[0]}=COLUMN (have: "
            f"{', '.join(f'{k}={v}' for k, v in maps.items()) or 'no --map'})"
        )


@register("columns")
class Columns(BaseIngestor):
    description = "a table with --map user=COL --map assistant=COL [--map system=COL]"
    required = frozenset()  # never auto-detected: --map selects it

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        maps = dict(options.maps)
        check_maps(maps)
        messages = []
        for target in TARGETS:
            col = maps.get(target)
            if col is None:
                continue
            if col not in record:
                have = ", ".join(sorted(record)) or "none"
                raise Reject(
                    "missing_field", f'column "{col}" (--map {target}) is missing (have: {have})'
                )
            if target == "system":
                text = text_field(record, col, allow_empty=True)
                if text.strip():
                    messages.append({"role": "system", "content": text})
                continue
            if isinstance(record[col], list | dict):
                # a column holding messages (Nemotron's ``input``, a chat-shaped prompt)
                messages.extend(to_messages(record[col], col, target))
                continue
            messages.append({"role": target, "content": text_field(record, col)})
        body = {"messages": messages}
        media = {t: record.get(maps[t]) for t in MEDIA_TARGETS if t in maps}
        if media:
            from curate.ingest.media import attach, column_items

            for t, col in ((t, maps[t]) for t in media):
                if col not in record:
                    have = ", ".join(sorted(record)) or "none"
                    raise Reject(
                        "missing_field", f'column "{col}" (--map {t}) is missing (have: {have})'
                    )
            attach(body, column_items(media))
        return finish(body, extras(record, set(maps.values())), options)
