"""Speed-ups for the local ``argilla-server`` 2.8.0 that change no answer it gives.

Measured with py-spy on the server while ``curate review push`` uploads batches of 500 records
(2 cores, SQLite): about a quarter of the server's time went to building a new pydantic
``TypeAdapter`` for every metadata property of every record (``MetadataProperty.parsed_settings``
and ``Question.parsed_settings`` build one on each call), and about a sixth to building a webhook
event per record (six queries each) that is then dropped because no webhook is configured.

This module runs inside the *server's* virtual environment, imported by the same ``.pth`` hook as
:mod:`curate.review.sql_search_engine` (API and worker processes), and only when
``argilla_server`` is the version it was written for. It:

- keeps one ``TypeAdapter`` per settings type (the same validation, built once);
- skips the per-record webhook events of a bulk upload when no enabled webhook subscribes to
  ``record.created`` / ``record.updated`` (one query per request instead of ~7 per record; with a
  subscribed webhook the original code runs unchanged);
- sets SQLite to write-ahead logging with ``synchronous=NORMAL`` (readers no longer wait for the
  writer; a commit survives a crash of the server, as before, but not necessarily a power cut).

Example:
    >>> SUPPORTED_SERVER
    '2.8.0'
"""

from __future__ import annotations

import os
from typing import Any

SUPPORTED_SERVER = "2.8.0"

try:  # only inside the server's environment
    from argilla_server._version import __version__ as _server_version

    HAVE_SERVER = _server_version == SUPPORTED_SERVER
except ImportError:
    HAVE_SERVER = False

APPLIED: list[str] = []


def _cache_parsed_settings() -> None:
    from argilla_server.models import database as models
    from pydantic import TypeAdapter

    for cls, settings_type in (
        (models.MetadataProperty, models.MetadataPropertySettings),
        (models.Question, models.QuestionSettings),
    ):
        adapter: Any = TypeAdapter(settings_type)

        def parsed_settings(self: Any, _adapter: Any = adapter) -> Any:
            return _adapter.validate_python(self.settings)

        cls.parsed_settings = property(parsed_settings)  # type: ignore[method-assign,assignment]
    APPLIED.append("parsed_settings")


def _skip_unheard_record_events() -> None:
    from argilla_server.bulk import records_bulk
    from argilla_server.contexts import webhooks
    from argilla_server.webhooks.v1.enums import RecordEvent

    wanted = {str(RecordEvent.created.value), str(RecordEvent.updated.value)}

    async def _anyone_listens(db: Any) -> bool:
        for hook in await webhooks.list_enabled_webhooks(db):
            if wanted & {str(getattr(e, "value", e)) for e in hook.events or []}:
                return True
        return False

    upsert_notify = records_bulk.UpsertRecordsBulk._notify_upsert_record_events

    async def notify_upsert(self: Any, records: list[Any]) -> None:
        if await _anyone_listens(self._db):
            await upsert_notify(self, records)

    records_bulk.UpsertRecordsBulk._notify_upsert_record_events = notify_upsert  # type: ignore[method-assign]
    APPLIED.append("record_events")


def _sqlite_wal() -> None:
    from argilla_server.settings import settings
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not settings.database_is_sqlite:
        return

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    APPLIED.append("sqlite_wal")


def apply() -> list[str]:
    """Apply every speed-up once (a no-op outside the supported server, or with
    ``CURATE_ARGILLA_TUNING=0``, which ``bench/review.py`` uses for its baseline); returns their
    names."""
    if HAVE_SERVER and not APPLIED and os.environ.get("CURATE_ARGILLA_TUNING", "1") != "0":
        _cache_parsed_settings()
        _skip_unheard_record_events()
        _sqlite_wal()
    return list(APPLIED)


apply()
