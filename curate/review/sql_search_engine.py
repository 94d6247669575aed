"""A search engine for ``argilla-server`` that answers from the server's own SQL tables.

Argilla's server wants Elasticsearch or OpenSearch beside it; neither can be installed without
Docker or a JVM on most laptops and CI runners. The engine interface is pluggable
(``SearchEngine.register`` plus ``ARGILLA_SEARCH_ENGINE``), and everything a search needs
(records, fields, metadata, responses, suggestions, vectors) is already in the server's database.
So this engine keeps no index at all: the write hooks are no-ops and every query reads the tables.

This module runs inside the *server's* virtual environment (``curate review serve`` installs it
there and imports it in the API and worker processes). In the toolkit's environment
``argilla_server`` is absent and the module only defines :data:`ENGINE_NAME`.

Scale: unfiltered listing, counting and progress are single SQL queries. Filters, text queries and
sorts are evaluated in Python over a column-trimmed load of the dataset, which takes well under a
second for tens of thousands of records; beyond that, use Argilla with Elasticsearch.

Example:
    >>> ENGINE_NAME
    'curate-sql'
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

ENGINE_NAME = "curate-sql"

try:  # only inside the server's environment
    from argilla_server.enums import (
        MetadataPropertyType,
        ResponseStatusFilter,
        SimilarityOrder,
        SortOrder,
    )
    from argilla_server.search_engine.base import (
        AndFilter,
        FloatMetadataMetrics,
        IntegerMetadataMetrics,
        MetadataFilterScope,
        RangeFilter,
        RecordFilterScope,
        ResponseFilterScope,
        SearchEngine,
        SearchResponseItem,
        SearchResponses,
        SuggestionFilterScope,
        TermsFilter,
        TermsMetrics,
    )

    HAVE_SERVER = True
except ImportError:  # the toolkit's environment: nothing to register
    HAVE_SERVER = False
    SearchEngine = object  # type: ignore[assignment,misc]

_MISSING = object()


def _text_terms(query: Any) -> tuple[list[str], str | None]:
    """Split a text query into lower-case terms and the field it targets (None: all fields)."""
    if query is None:
        return [], None
    if isinstance(query, str):
        return query.lower().split(), None
    return str(query.q).lower().split(), query.field


def _field_text(value: Any) -> str:
    """Flatten a record field (text, chat messages, custom JSON) into searchable text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_field_text(v.get("content") if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        return "\n".join(_field_text(v) for v in value.values())
    return str(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _terms_match(value: Any, wanted: list[str]) -> bool:
    if value is None or value is _MISSING:
        return False
    want = {str(w) for w in wanted}
    return any(str(v) in want for v in _as_list(value))


def _range_match(value: Any, ge: float | None, le: float | None) -> bool:
    if value is None or value is _MISSING:
        return False
    for v in _as_list(value):
        try:
            x = float(v) if not isinstance(v, datetime) else v.timestamp()
        except (TypeError, ValueError):
            continue
        if (ge is None or x >= ge) and (le is None or x <= le):
            return True
    return False


class _Row:
    """The searchable view of one record: columns, metadata, responses and suggestions."""

    __slots__ = ("attrs", "fields", "metadata", "responses", "suggestions")

    def __init__(self, attrs: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        self.attrs = attrs
        self.metadata = metadata or {}
        self.fields: dict[str, Any] = {}
        self.responses: list[dict[str, Any]] = []
        self.suggestions: dict[str, dict[str, Any]] = {}


class SQLSearchEngine(SearchEngine):  # type: ignore[misc,valid-type]
    """Argilla search engine over the server's SQL database (no external service)."""

    @classmethod
    async def new_instance(cls) -> SQLSearchEngine:
        return cls()

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        from sqlalchemy import text

        async with self._session() as db:
            await db.execute(text("SELECT 1"))
        return True

    async def info(self) -> dict:
        return {"engine": ENGINE_NAME, "version": "1", "backend": "sql"}

    # The data already lives in SQL: nothing to index, update or delete.
    async def create_index(self, dataset: Any) -> None:
        return None

    async def delete_index(self, dataset: Any) -> None:
        return None

    async def configure_metadata_property(self, dataset: Any, metadata_property: Any) -> None:
        return None

    async def configure_index_vectors(self, vector_settings: Any) -> None:
        return None

    async def index_records(self, dataset: Any, records: Iterable[Any]) -> None:
        return None

    async def partial_record_update(self, record: Any, **update: Any) -> None:
        return None

    async def delete_records(self, dataset: Any, records: Iterable[Any]) -> None:
        return None

    async def update_record_response(self, response: Any) -> None:
        return None

    async def delete_record_response(self, response: Any) -> None:
        return None

    async def update_record_suggestion(self, suggestion: Any) -> None:
        return None

    async def delete_record_suggestion(self, suggestion: Any) -> None:
        return None

    # ---------------------------------------------------------------- progress and metrics
    @staticmethod
    def _session() -> Any:
        from argilla_server.database import AsyncSessionLocal

        return AsyncSessionLocal()

    async def get_dataset_progress(self, dataset: Any) -> dict:
        from argilla_server.models import Record
        from sqlalchemy import func, select

        if dataset.is_draft:
            return {}
        async with self._session() as db:
            rows = await db.execute(
                select(Record.status, func.count())
                .where(Record.dataset_id == dataset.id)
                .group_by(Record.status)
            )
            counts = {str(status): n for status, n in rows.all()}
        return {"total": sum(counts.values()), **counts}

    async def get_dataset_user_progress(self, dataset: Any, user: Any) -> dict:
        from argilla_server.models import Record, Response
        from sqlalchemy import func, select

        if dataset.is_draft:
            return {}
        async with self._session() as db:
            rows = await db.execute(
                select(Response.status, func.count())
                .join(Record, Record.id == Response.record_id)
                .where(Record.dataset_id == dataset.id, Response.user_id == user.id)
                .group_by(Response.status)
            )
            counts = {str(status): n for status, n in rows.all()}
        return {"total": sum(counts.values()), **counts}

    async def compute_metrics_for(self, metadata_property: Any) -> Any:
        from argilla_server.models import Record
        from sqlalchemy import select

        name = metadata_property.name
        async with self._session() as db:
            values = (
                await db.scalars(
                    select(Record.metadata_).where(
                        Record.dataset_id == metadata_property.dataset_id
                    )
                )
            ).all()
        present = [m[name] for m in values if m and m.get(name) is not None]
        if metadata_property.type == MetadataPropertyType.terms:
            counts: Counter[str] = Counter(str(v) for value in present for v in _as_list(value))
            return TermsMetrics(
                total=sum(counts.values()),
                values=[TermsMetrics.TermCount(term=t, count=c) for t, c in counts.most_common()],
            )
        numbers = [v for v in present if isinstance(v, (int, float)) and not isinstance(v, bool)]
        cls = (
            IntegerMetadataMetrics
            if metadata_property.type == MetadataPropertyType.integer
            else FloatMetadataMetrics
        )
        return cls(min=min(numbers) if numbers else None, max=max(numbers) if numbers else None)

    # ---------------------------------------------------------------------------- search
    async def search(
        self,
        dataset: Any,
        query: Any = None,
        filter: Any = None,
        sort: Any = None,
        offset: int = 0,
        limit: int = 100,
        user_id: Any = None,
    ) -> Any:
        terms, field = _text_terms(query)
        if not terms and filter is None and not sort:
            return await self._plain_page(dataset, offset, limit)
        rows = await self._load(dataset, with_fields=bool(terms))
        scored = self._select(dataset, rows, terms, field, filter)
        ordered = self._order(scored, sort)
        page = ordered[offset : offset + limit]
        return SearchResponses(
            items=[SearchResponseItem(record_id=r.attrs["id"], score=s) for r, s in page],
            total=len(ordered),
        )

    async def similarity_search(
        self,
        dataset: Any,
        vector_settings: Any,
        value: list[float] | None = None,
        record: Any = None,
        query: Any = None,
        filter: Any = None,
        max_results: int = 100,
        order: Any = None,
        threshold: float | None = None,
    ) -> Any:
        from argilla_server.models import Vector
        from sqlalchemy import select

        if bool(value) == bool(record):
            raise ValueError(
                "Must provide either vector value or record to compute the similarity search"
            )
        excluded = None
        if not value:
            excluded = record.id
            value = record.vector_value_by_vector_settings(vector_settings)
        if not value:
            raise ValueError("Cannot find a vector value to apply with provided info")
        terms, field = _text_terms(query)
        rows = await self._load(dataset, with_fields=bool(terms))
        allowed = {r.attrs["id"] for r, _ in self._select(dataset, rows, terms, field, filter)}
        async with self._session() as db:
            vectors = (
                await db.execute(
                    select(Vector.record_id, Vector.value).where(
                        Vector.vector_settings_id == vector_settings.id
                    )
                )
            ).all()
        norm = math.sqrt(sum(x * x for x in value)) or 1.0
        results: list[tuple[UUID, float]] = []
        for record_id, vec in vectors:
            if record_id == excluded or record_id not in allowed or not vec:
                continue
            vnorm = math.sqrt(sum(x * x for x in vec)) or 1.0
            cosine = sum(a * b for a, b in zip(value, vec, strict=False)) / (norm * vnorm)
            score = (1.0 + cosine) / 2.0  # Elasticsearch's cosine score range [0, 1]
            if order == SimilarityOrder.least_similar:
                score = 1.0 - score
            results.append((record_id, score))
        results.sort(key=lambda item: item[1], reverse=True)
        if threshold is not None:
            results = [item for item in results if item[1] >= threshold]
        results = results[:max_results]
        return SearchResponses(
            items=[SearchResponseItem(record_id=rid, score=s) for rid, s in results],
            total=len(results),
        )

    async def _plain_page(self, dataset: Any, offset: int, limit: int) -> Any:
        from argilla_server.models import Record
        from sqlalchemy import func, select

        async with self._session() as db:
            total = await db.scalar(
                select(func.count()).select_from(Record).where(Record.dataset_id == dataset.id)
            )
            ids = (
                await db.scalars(
                    select(Record.id)
                    .where(Record.dataset_id == dataset.id)
                    .order_by(Record.inserted_at.asc(), Record.id.asc())
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        return SearchResponses(
            items=[SearchResponseItem(record_id=rid, score=1.0) for rid in ids], total=total or 0
        )

    async def _load(self, dataset: Any, *, with_fields: bool) -> list[_Row]:
        from argilla_server.models import Question, Record, Response, Suggestion
        from sqlalchemy import select

        columns = [
            Record.id,
            Record.external_id,
            Record.status,
            Record.inserted_at,
            Record.updated_at,
            Record.metadata_,
        ]
        if with_fields:
            columns.append(Record.fields)
        rows: dict[UUID, _Row] = {}
        async with self._session() as db:
            result = await db.execute(
                select(*columns)
                .where(Record.dataset_id == dataset.id)
                .order_by(Record.inserted_at.asc(), Record.id.asc())
            )
            for rec in result.all():
                row = _Row(
                    {
                        "id": rec.id,
                        "external_id": rec.external_id,
                        "status": str(rec.status),
                        "inserted_at": rec.inserted_at,
                        "updated_at": rec.updated_at,
                    },
                    rec.metadata_,
                )
                if with_fields:
                    row.fields = rec.fields or {}
                rows[rec.id] = row
            responses = await db.execute(
                select(Response.record_id, Response.user_id, Response.status, Response.values)
                .join(Record, Record.id == Response.record_id)
                .where(Record.dataset_id == dataset.id)
            )
            for record_id, user_id, status, values in responses.all():
                target = rows.get(record_id)
                if target is not None:
                    target.responses.append(
                        {"user_id": user_id, "status": str(status), "values": values or {}}
                    )
            suggestions = await db.execute(
                select(
                    Suggestion.record_id,
                    Question.name,
                    Suggestion.value,
                    Suggestion.score,
                    Suggestion.agent,
                    Suggestion.type,
                )
                .join(Question, Question.id == Suggestion.question_id)
                .where(Question.dataset_id == dataset.id)
            )
            for record_id, name, value, score, agent, stype in suggestions.all():
                target = rows.get(record_id)
                if target is not None:
                    target.suggestions[name] = {
                        "value": value,
                        "score": score,
                        "agent": agent,
                        "type": None if stype is None else str(stype),
                    }
        return list(rows.values())

    # ------------------------------------------------------------------ filter and sort
    def _select(
        self, dataset: Any, rows: list[_Row], terms: list[str], field: str | None, flt: Any
    ) -> list[tuple[_Row, float]]:
        out: list[tuple[_Row, float]] = []
        for row in rows:
            score = 1.0
            if terms:
                if field:
                    text = _field_text(row.fields.get(field)).lower()
                else:
                    text = "\n".join(_field_text(v) for v in row.fields.values()).lower()
                if not all(t in text for t in terms):
                    continue
                score = float(sum(text.count(t) for t in terms))
            if flt is not None and not self._matches(row, flt):
                continue
            out.append((row, score))
        return out

    def _matches(self, row: _Row, flt: Any) -> bool:
        if isinstance(flt, AndFilter):
            return all(self._matches(row, f) for f in flt.filters)
        scope = flt.scope
        if isinstance(scope, ResponseFilterScope):
            return self._response_matches(row, flt, scope)
        value = self._scope_value(row, scope)
        if isinstance(flt, TermsFilter):
            return _terms_match(value, flt.values)
        if isinstance(flt, RangeFilter):
            return _range_match(value, flt.ge, flt.le)
        raise ValueError(f"Cannot process request for filter {flt}")

    @staticmethod
    def _scope_value(row: _Row, scope: Any) -> Any:
        if isinstance(scope, MetadataFilterScope):
            return row.metadata.get(scope.metadata_property, _MISSING)
        if isinstance(scope, SuggestionFilterScope):
            suggestion = row.suggestions.get(scope.question)
            return _MISSING if suggestion is None else suggestion.get(scope.property, _MISSING)
        if isinstance(scope, RecordFilterScope):
            return row.attrs.get(scope.property, _MISSING)
        raise ValueError(f"Cannot process request for search scope {scope}")

    @staticmethod
    def _user_responses(row: _Row, scope: Any) -> list[dict[str, Any]]:
        if scope.user is None:
            return row.responses
        return [r for r in row.responses if r["user_id"] == scope.user.id]

    def _response_matches(self, row: _Row, flt: Any, scope: Any) -> bool:
        responses = self._user_responses(row, scope)
        if scope.question:
            for response in responses:
                value = (response["values"].get(scope.question) or {}).get("value")
                if isinstance(flt, TermsFilter) and _terms_match(value, flt.values):
                    return True
                if isinstance(flt, RangeFilter) and _range_match(value, flt.ge, flt.le):
                    return True
            return False
        if scope.property == "status" and isinstance(flt, TermsFilter):
            wanted = {str(v) for v in flt.values}
            if str(ResponseStatusFilter.pending) in wanted and not responses:
                return True
            return any(r["status"] in wanted for r in responses)
        raise ValueError(f"Cannot process filter scope {scope}")

    def _sort_value(self, row: _Row, scope: Any) -> Any:
        if isinstance(scope, ResponseFilterScope):
            values = []
            for response in self._user_responses(row, scope):
                if scope.question:
                    v = (response["values"].get(scope.question) or {}).get("value")
                else:
                    v = response.get(scope.property)
                if v is not None:
                    values.append(v)
            numbers = [v for v in values if isinstance(v, (int, float))]
            if numbers:
                return sum(numbers) / len(numbers)
            return values[0] if values else None
        value = self._scope_value(row, scope)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, list):
            return min(value) if value else None
        return value

    def _order(self, scored: list[tuple[_Row, float]], sort: Any) -> list[tuple[_Row, float]]:
        ordered = list(scored)
        if not sort:
            if any(score != 1.0 for _, score in ordered):
                ordered.sort(key=lambda item: -item[1])  # stable: ties keep insertion order
            return ordered
        for order in reversed(sort):
            desc = str(order.order) == str(SortOrder.desc)
            present = [(self._sort_value(r, order.scope), r, s) for r, s in ordered]
            have = [p for p in present if p[0] is not None]
            missing = [p for p in present if p[0] is None]
            try:
                have.sort(key=lambda p: p[0], reverse=desc)
            except TypeError:  # mixed types: compare as text
                have.sort(key=lambda p: str(p[0]), reverse=desc)
            ordered = [(r, s) for _, r, s in have] + [(r, s) for _, r, s in missing]
        return ordered


if HAVE_SERVER:
    SearchEngine.register(engine_name=ENGINE_NAME)(SQLSearchEngine)
