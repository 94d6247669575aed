"""Send examples and their findings to an Argilla dataset for review (``curate review push``).

Push is idempotent: the Argilla record id is :attr:`curate.records.Example.id`, so pushing the
same file again updates the records (fields, metadata, suggestions) and never duplicates them;
reviewers' responses stay. The file is streamed: validation, an optional sampling pass, then
records in batches.

Example:
    >>> from curate.records import Example, Location
    >>> ex = Example({"id": "e1", "messages": [{"role": "user", "content": "hi"},
    ...     {"role": "assistant", "content": ""}]}, Location("t.jsonl", 1))
    >>> rec = build_record(ex, [], tokens=9)
    >>> rec["id"], rec["fields"]["conversation"][1], rec["metadata"]["turns"]
    ('e1', {'role': 'assistant', 'content': '(empty)'}, 2)
    >>> rec["suggestion"]
    ('accept', 0.6)

How reasoning, tool calls and images are shown: :mod:`curate.review.display`.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
import re
import threading
import time
from collections import Counter as CountDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.io import check_readable, dumps, read_jsonl
from curate.records import CurateError, Example, Finding, InputError
from curate.review import display
from curate.review import settings as S
from curate.stage import OutputPlan, reject_row

BATCH_RECORDS = 500
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class PushResult:
    """What a push did. ``read = pushed + not_selected + sum(skipped.values())``; every skipped
    line except a repeated id is also a row of the ``rejects`` file."""

    dataset: str
    workspace: str
    url: str
    read: int = 0
    pushed: int = 0
    flagged: int = 0
    not_selected: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    rejects: str | None = None
    reviewers_per_record: int = 1
    seconds: float = 0.0
    #: of ``seconds``: validating and choosing (before the first upload)
    validate_seconds: float = 0.0
    #: the dataset's fields the records fill (the optional ones only when the data needs them)
    fields: list[str] = field(default_factory=list)
    #: what could not be shown as the data needed (an existing dataset without a field)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        rate = self.pushed / self.seconds if self.seconds else None
        return {
            "dataset": self.dataset,
            "workspace": self.workspace,
            "url": self.url,
            "read": self.read,
            "pushed": self.pushed,
            "flagged": self.flagged,
            "not_selected": self.not_selected,
            "skipped": dict(self.skipped),
            "rejected": self.rejected,
            "rejects": self.rejects,
            "reviewers_per_record": self.reviewers_per_record,
            "seconds": round(self.seconds, 2),
            "validate_seconds": round(self.validate_seconds, 2),
            "records_per_second": round(rate, 1) if rate else None,
            "fields": list(self.fields),
            "notes": list(self.notes),
        }


# ------------------------------------------------------------------------ record building
def _clip(text: str, limit: int = S.MAX_MESSAGE_CHARS) -> str:
    return display.clip(text, limit)


def chat_messages(messages: list[Any]) -> list[dict[str, str]]:
    """Messages as Argilla's chat field accepts them: a non-empty ``role`` (<= 20 chars) and a
    non-empty ``content`` (<= 20,000 chars), with no optional field (reasoning shown as a
    marked block, images named): :func:`curate.review.display.render` with an empty layout.
    Over-long text is clipped for display only (pull always edits the original).

    Example:
        >>> chat_messages([{"role": "assistant", "content": None,
        ...                 "tool_calls": [{"id": "1", "function": {"name": "f"}}]}])
        [{'role': 'assistant', 'content': '[tool call f (id 1)]'}]
    """
    return display.render(messages, None, S.Layout(), "")[S.CONVERSATION]


def findings_markdown(findings: list[Finding]) -> str:
    """One markdown bullet per finding: severity, code, message index, message and fix."""
    if not findings:
        return "No findings."
    lines = []
    for f in sorted(findings, key=lambda f: _SEVERITY_ORDER.get(f.severity.value, 3)):
        idx = f.location.message_index
        where = f" (message {idx})" if idx is not None else ""
        text = f"- **{f.severity.value}** `{f.code}`{where}: {f.message}"
        if f.related is not None:
            text += f" (other copy: {f.related})"
        if f.hint:
            text += f" Fix: {f.hint}"
        lines.append(text)
    return _clip("\n".join(lines))


def worst_severity(findings: list[Finding]) -> str | None:
    """The most severe finding's severity name, or None."""
    if not findings:
        return None
    return min((f.severity.value for f in findings), key=lambda s: _SEVERITY_ORDER.get(s, 3))


def build_record(
    ex: Example,
    findings: list[Finding],
    *,
    tokens: int,
    layout: S.Layout | None = None,
    base_file: str | os.PathLike[str] | None = None,
    max_image_bytes: int = display.MAX_IMAGE_BYTES,
) -> dict[str, Any]:
    """The Argilla record for one example, as plain data (pure; no Argilla import).
    ``layout`` names the dataset's optional fields (images, reasoning, tools) to fill;
    ``base_file`` is the file local image paths are relative to (default: the example's)."""
    data = ex.data if isinstance(ex.data, dict) else {}
    messages = ex.messages or []
    raw_source = data.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    codes = sorted({f.code for f in findings})
    worst = worst_severity(findings)
    return {
        "id": ex.id,
        "fields": {
            **display.render(
                messages,
                data.get("tools"),
                layout or S.Layout(),
                base_file if base_file is not None else ex.source.file,
                max_image_bytes=max_image_bytes,
            ),
            S.FINDINGS: findings_markdown(findings),
        },
        "metadata": {
            "source_format": str(source.get("format") or ex.source.format or "chat_jsonl"),
            "file": str(source.get("file") or ex.source.file),
            "tokens": int(tokens),
            "turns": len(messages),
            "finding_codes": codes or ["none"],
            "severity": worst or "none",
        },
        "suggestion": S.suggest_decision(codes, worst),
    }


# ----------------------------------------------------------------------------- selection
def collect_findings(path: str, *, duplicates: bool = True) -> dict[int, list[Finding]]:
    """Validate ``path`` (format, content, exact and near duplicates) and group the
    findings by source line."""
    from curate.validate import standard_validators, validate_path

    # the same checks as curate validate (content included), with near duplicates on
    validators, corpus = standard_validators(duplicates="near" if duplicates else "none")
    report = validate_path(
        [path], validators=validators, corpus_validators=corpus, max_findings=10_000_000
    )
    by_line: dict[int, list[Finding]] = {}
    for f in report.findings:
        if f.location.file == path and f.location.line is not None:
            by_line.setdefault(f.location.line, []).append(f)
    return by_line


def sample_key(example_id: str, seed: int) -> bytes:
    """Deterministic sampling order: the same seed picks the same examples in any file order."""
    return hashlib.blake2b(f"{seed}:{example_id}".encode(), digest_size=8).digest()


def _examples(path: str) -> Iterator[Example]:
    for item in read_jsonl(path):
        if isinstance(item, Example):
            yield item


def choose_lines(
    path: str,
    findings: dict[int, list[Finding]],
    *,
    only_flagged: bool,
    sample: int | None,
    seed: int,
) -> set[int] | None:
    """Source lines to push (None: all reviewable). Sampling keeps a heap of ``sample`` keys."""
    if sample is None:
        return None
    heap: list[tuple[bytes, int]] = []  # max-heap by negated key
    for ex in _examples(path):
        if ex.messages is None or (only_flagged and not findings.get(ex.source.line or 0)):
            continue
        key = bytes(255 - b for b in sample_key(ex.id, seed))
        item = (key, ex.source.line or 0)
        if len(heap) < sample:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    return {line for _, line in heap}


# ---------------------------------------------------------------------------------- push
def ensure_dataset(
    client: Any,
    name: str,
    workspace: str | None,
    *,
    reviewers_per_record: int | None = None,
    layout: S.Layout | None = None,
) -> Any:
    """The named review dataset, created with :func:`settings.build_settings` if missing
    (with the optional fields of ``layout``; an existing dataset keeps its fields: Argilla
    adds none to a published dataset).

    ``reviewers_per_record`` sets Argilla's task distribution (``min_submitted``): a record is
    complete once that many reviewers submitted an answer, and each reviewer's queue offers it
    until then. On an existing dataset a different value is applied (Argilla refuses the change
    once the dataset has answers; that refusal is reported).
    """
    import warnings

    import argilla as rg

    ws = _workspace(client, workspace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "dataset not found" is expected on a first push
        dataset = client.datasets(name=name, workspace=ws)
    if dataset is not None:
        missing = S.missing_parts(dataset.settings)
        if missing:
            raise CurateError(
                f"Argilla dataset {name!r} in workspace {ws.name!r} exists but is not a curate "
                f"review dataset (missing: {', '.join(missing)}). Use another --dataset name."
            )
        have = dataset.settings.distribution.min_submitted
        if reviewers_per_record is not None and have != reviewers_per_record:
            try:
                dataset.settings.distribution = rg.TaskDistribution(
                    min_submitted=reviewers_per_record
                )
                dataset.update()
            except Exception as exc:  # the SDK raises several types for one refusal
                raise CurateError(
                    f"Argilla dataset {name!r} has {have} reviewer(s) per record and the server "
                    f"refused to change it to {reviewers_per_record}: {exc}. Push to a new "
                    "--dataset name instead."
                ) from exc
        return dataset
    dataset = rg.Dataset(
        name=name,
        workspace=ws,
        settings=S.build_settings(reviewers_per_record=reviewers_per_record or 1, layout=layout),
        client=client,
    )
    return dataset.create()


def _workspace(client: Any, name: str | None) -> Any:
    import argilla as rg

    if name:
        ws = client.workspaces(name)
        if ws is None:
            if client.me.role not in ("owner", "admin"):
                raise CurateError(f"Argilla workspace {name!r} does not exist (ask an owner)")
            ws = rg.Workspace(name=name, client=client).create()
            _join(ws, client)
        return ws
    mine = list(client.workspaces)
    if mine:
        return next((w for w in mine if w.name == client.me.username), mine[0])
    ws = client.workspaces("curate") or rg.Workspace(name="curate", client=client).create()
    _join(ws, client)
    return ws


def _join(ws: Any, client: Any) -> None:
    import contextlib

    with contextlib.suppress(Exception):  # already a member (owners see every workspace)
        ws.add_user(client.me.username)


def api_record(rec: dict[str, Any], decision_question_id: str) -> dict[str, Any]:
    """The JSON body of one record in Argilla's bulk upsert (``PUT .../records/bulk``).

    Example:
        >>> api_record({"id": "e1", "fields": {}, "metadata": {}, "suggestion": ("accept", 0.6)},
        ...            "q1")["suggestions"]
        [{'question_id': 'q1', 'value': 'accept', 'score': 0.6, 'agent': 'curate-validate'}]
    """
    label, score = rec["suggestion"]
    return {
        "external_id": rec["id"],
        "fields": rec["fields"],
        "metadata": rec["metadata"],
        "suggestions": [
            {"question_id": decision_question_id, "value": label, "score": score, "agent": S.AGENT}
        ],
    }


#: a server error (5xx) is tried again this many times before the batch is split to find a
#: record that causes it (so a transient one, such as a locked database, rejects nothing)
RETRIES_5XX = 2
RETRY_DELAY_S = 1.0


class ConnectionLost(CurateError):
    """The server went away mid-push (the CLI exits 2 and says to run the same command again)."""


#: a 422 answer of the bulk upsert that names the refused record
_REFUSED_AT = re.compile(r"Record at position (\d+) is not valid because (.*)", re.S)


def _detail(resp: Any) -> Any:
    try:
        return resp.json().get("detail", resp.text)
    except (ValueError, AttributeError):
        return resp.text


def _validation_errors(detail: Any) -> list[dict[str, Any]]:
    """FastAPI's list of errors, bare or wrapped in Argilla's ``{code, params: {errors}}``."""
    if isinstance(detail, dict):
        detail = (detail.get("params") or {}).get("errors")
    return [e for e in detail if isinstance(e, dict)] if isinstance(detail, list) else []


def _server_reason(resp: Any) -> str:
    detail = _detail(resp)
    errors = _validation_errors(detail)
    if errors:
        return "; ".join(str(e.get("msg")) for e in errors)[:2000]
    if isinstance(detail, dict):
        params = detail.get("params") or {}
        detail = params.get("detail") or params.get("message") or detail.get("message") or detail
    return str(detail).strip()[:2000]


def _refused_positions(resp: Any) -> dict[int, str]:
    """Positions in the batch the server named as invalid, with its reason (may be empty).

    Example:
        >>> class R:
        ...     text = ""
        ...     def json(self):
        ...         return {"detail": {"code": "argilla.api.errors::ValidationError", "params":
        ...             {"errors": [{"loc": ["body", "items", 3, "fields"], "msg": "too long"}]}}}
        >>> _refused_positions(R())
        {3: 'fields: too long'}
    """
    detail = _detail(resp)
    out: dict[int, str] = {}
    for err in _validation_errors(detail):
        loc = err.get("loc")
        if isinstance(loc, list) and len(loc) > 2 and loc[1] == "items":
            with contextlib.suppress(TypeError, ValueError):
                where = ".".join(str(p) for p in loc[3:])
                msg = str(err.get("msg"))
                out.setdefault(int(loc[2]), f"{where}: {msg}" if where else msg)
    if not out:
        m = _REFUSED_AT.search(_server_reason(resp))
        if m:
            out[int(m.group(1))] = m.group(2).strip()
    return out


class Uploader:
    """Sends batches to ``PUT /api/v1/datasets/{id}/records/bulk``; a record the server refuses
    is handed to ``on_refused(index, reason)`` and the rest of its batch is sent again.

    A batch the server refuses without naming a record is split in halves until the refused
    records are found. Authentication and missing-dataset answers, and a lost connection, stop
    the push (:class:`ConnectionLost` for the latter).
    """

    def __init__(self, client: Any, dataset_id: Any, url: str) -> None:
        self.http = client.api.http_client
        self.path = f"/api/v1/datasets/{dataset_id}/records/bulk"
        self.url = url

    def send(self, items: list[dict[str, Any]], on_refused: Callable[[int, str], None]) -> int:
        """Upload ``items``; returns how many the server stored."""
        return self._send(list(range(len(items))), items, on_refused)

    def _send(
        self, idx: list[int], items: list[dict[str, Any]], on_refused: Callable[[int, str], None]
    ) -> int:
        import httpx

        while idx:
            for attempt in range(1 + RETRIES_5XX):
                try:
                    # identity: the server would gzip its echo of every record, ignored here
                    resp = self.http.put(
                        self.path,
                        json={"items": [items[i] for i in idx]},
                        headers={"Accept-Encoding": "identity"},
                    )
                except httpx.TransportError as exc:
                    raise ConnectionLost(f"{type(exc).__name__}: {exc}") from exc
                if resp.status_code < 500 or attempt == RETRIES_5XX:
                    break
                time.sleep(RETRY_DELAY_S * (attempt + 1))  # a busy database, a restart: transient
            if resp.status_code < 300:
                return len(idx)
            if resp.status_code in (401, 403, 404):
                raise CurateError(
                    f"Argilla at {self.url} answered {resp.status_code} to an upload: "
                    f"{_server_reason(resp)}. Check the API key and the dataset."
                )
            named = {p: r for p, r in _refused_positions(resp).items() if p < len(idx)}
            if named:
                for pos, reason in named.items():
                    on_refused(idx[pos], reason)
                idx = [i for pos, i in enumerate(idx) if pos not in named]
                continue
            if len(idx) == 1:
                on_refused(idx[0], f"HTTP {resp.status_code}: {_server_reason(resp)}")
                return 0
            half = len(idx) // 2
            return self._send(idx[:half], items, on_refused) + self._send(
                idx[half:], items, on_refused
            )
        return 0


def push(
    path: str | os.PathLike[str],
    *,
    dataset: str,
    workspace: str | None = None,
    client: Any,
    only_flagged: bool = False,
    sample: int | None = None,
    seed: int = 0,
    duplicates: bool = True,
    reviewers_per_record: int | None = None,
    rejects: str | os.PathLike[str] | None = None,
    batch_size: int = BATCH_RECORDS,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    max_image_bytes: int = display.MAX_IMAGE_BYTES,
) -> PushResult:
    """Push the examples of a chat JSONL file (with their findings) to an Argilla dataset.

    Args:
        path: canonical chat JSONL (``id``, ``messages``, ``source``, ``metadata``).
        dataset: Argilla dataset name (created with curate's review settings if missing).
        workspace: Argilla workspace (default: the user's own or first one).
        client: an :class:`argilla.Argilla` client (see :func:`curate.review.client.connect`).
        only_flagged: push only examples with at least one finding.
        sample: push a deterministic sample of this many examples (after ``only_flagged``).
        seed: the sample's seed.
        duplicates: also run the duplicate validators (their findings suggest ``reject``).
        reviewers_per_record: answers needed per record (Argilla task distribution,
            ``min_submitted``); default: 1 for a new dataset, unchanged for an existing one.
        rejects: where lines that cannot be pushed go, one reject row each (lines that do not
            parse or have no messages, records the server refuses, with its reason); default
            :func:`default_rejects_path`. Written only when there are rejects.
        batch_size: records per request (Argilla accepts at most 500).
        progress: called with the number of records pushed, after each batch.
        on_total: called once with the number of records that will be pushed.
        max_image_bytes: a local image larger than this is named in the conversation, not
            shown (images go to the image fields as ``data:`` URIs).

    The dataset gets the optional fields the file needs (:func:`display.file_layout`): image
    fields when examples have images, ``reasoning`` when assistant turns have thinking
    traces, ``tools`` when examples declare tools. An existing dataset made without one of
    them shows it as text instead, and ``notes`` says so.

    Raises:
        ConnectionLost: the server went away; the message says how many records were pushed
            (running the same push again resumes: records already there are updated in place).
    """
    from curate.tokens import count_examples, encoding_for_model, shared_counter

    file = str(check_readable(path))
    if sample is not None and sample < 1:
        raise CurateError(f"--sample must be at least 1 (got {sample})")
    if not 1 <= batch_size <= BATCH_RECORDS:
        raise CurateError(f"batch size must be 1 to {BATCH_RECORDS} (got {batch_size})")
    if reviewers_per_record is not None and reviewers_per_record < 1:
        raise CurateError(f"--reviewers-per-record must be at least 1 (got {reviewers_per_record})")
    if os.path.getsize(file) == 0:
        raise InputError(f"{file}: file is empty: no examples to push")
    plan = OutputPlan([file], "review push")  # checked before anything is sent
    plan.add("rejects", rejects or default_rejects_path(file))
    started = time.monotonic()
    findings = collect_findings(file, duplicates=duplicates)
    chosen = choose_lines(file, findings, only_flagged=only_flagged, sample=sample, seed=seed)
    needs = display.file_layout(file)
    validated = time.monotonic() - started
    ds = ensure_dataset(
        client, dataset, workspace, reviewers_per_record=reviewers_per_record, layout=needs
    )
    result = PushResult(dataset=dataset, workspace=ds.workspace.name, url=str(client.api_url))
    result.reviewers_per_record = ds.settings.distribution.min_submitted
    result.validate_seconds = validated
    layout = needs & S.layout_of(ds.settings)
    result.fields = [f.name for f in ds.settings.fields]
    result.notes = _layout_notes(dataset, needs, layout)
    question_id = str(ds.settings.questions[S.DECISION].id)
    uploader = Uploader(client, ds.id, result.url)
    skipped: CountDict[str] = CountDict()
    reasons: CountDict[str] = CountDict()
    write_lock = threading.Lock()  # rejects come from this thread and the upload thread
    counter = shared_counter(encoding_for_model("gpt-4o-mini"))
    if on_total is not None:
        on_total(
            len(chosen) if chosen is not None else _count_pushable(file, findings, only_flagged)
        )

    def reject(source: dict[str, Any], reason: str, message: str, record: Any) -> None:
        line = dumps(reject_row(source, reason, message, record)) + "\n"
        with write_lock:  # opened on the first reject: no rejects, no file
            plan.open("rejects").write(line)
            result.rejected += 1
            reasons[reason] += 1

    def build(batch: list[Example]) -> tuple[list[Example], list[dict[str, Any]]]:
        counts = count_examples(
            [(ex.messages or [], ex.data.get("tools")) for ex in batch], counter
        )
        items = [
            api_record(
                build_record(
                    ex,
                    findings.get(ex.source.line or 0, []),
                    tokens=c.total,
                    layout=layout,
                    base_file=file,
                    max_image_bytes=max_image_bytes,
                ),
                question_id,
            )
            for ex, c in zip(batch, counts, strict=True)
        ]
        return batch, items

    def upload(built: tuple[list[Example], list[dict[str, Any]]]) -> None:
        batch, items = built

        def refused(i: int, reason: str) -> None:
            ex = batch[i]
            reject(
                {"file": file, "line": ex.source.line},
                "review_refused",
                f"the Argilla server refused the record: {reason}",
                ex.data,
            )

        stored = 0
        for lo, hi in request_slices(items):  # images make records large: bounded requests
            stored += uploader.send(items[lo:hi], lambda i, r, lo=lo: refused(lo + i, r))
        result.pushed += stored
        if progress is not None:
            progress(len(items))

    # one batch is uploaded while the next is read, validated and built (the server and this
    # process each keep a core busy)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="curate-push")
    pending: Future[None] | None = None

    def submit(batch: list[Example]) -> None:
        nonlocal pending
        built = build(batch)
        if pending is not None:
            pending.result()
        pending = pool.submit(upload, built)

    seen_ids: set[str] = set()

    def feed() -> None:
        batch: list[Example] = []
        for item in read_jsonl(file):
            if isinstance(item, Finding):
                if item.code in ("invalid_json", "invalid_encoding"):
                    result.read += 1
                    skipped[item.code] += 1
                    where = {"file": file, "line": item.location.line}
                    reject(where, item.code, item.message, None)
                continue
            result.read += 1
            line = item.source.line or 0
            flagged = bool(findings.get(line))
            result.flagged += flagged
            if item.messages is None:
                skipped["no_messages"] += 1
                where = {"file": file, "line": line}
                reject(where, "no_messages", "no messages list: nothing to review", item.data)
                continue
            if (chosen is not None and line not in chosen) or (only_flagged and not flagged):
                result.not_selected += 1
                continue
            if item.id in seen_ids:  # the same record twice in one request is an error in Argilla
                skipped["same_id_earlier_in_file"] += 1
                continue
            seen_ids.add(item.id)
            batch.append(item)
            if len(batch) >= batch_size:
                submit(batch)
                batch = []
        if batch:
            submit(batch)
        if pending is not None:
            pending.result()

    try:
        with plan.writing():  # the rejects are committed only when the push completes
            try:
                feed()
            finally:  # no upload (nor its rejects) may outlive the plan's temporary files
                pool.shutdown(wait=True, cancel_futures=True)
            written = plan.commit()
    except ConnectionLost as exc:
        raise ConnectionLost(
            f"lost the connection to Argilla at {result.url} after pushing {result.pushed} of "
            f"the records of {file} ({exc}). Nothing else was written. Run the same command "
            "again when the server is back (`curate review status`): push resumes, records "
            "already there are updated, never duplicated."
        ) from exc
    if reasons["review_refused"]:
        skipped["review_refused"] = reasons["review_refused"]
    result.rejects = str(written["rejects"]) if "rejects" in written else None
    result.skipped = dict(skipped)
    result.seconds = time.monotonic() - started
    return result


#: image data (characters of image field values) per upload request at most
MAX_REQUEST_IMAGE_CHARS = 32_000_000


def request_slices(
    items: list[dict[str, Any]], limit: int = MAX_REQUEST_IMAGE_CHARS
) -> list[tuple[int, int]]:
    """``(start, end)`` slices of ``items`` whose image field values add up to at most
    ``limit`` characters each (one slice for records without images).

    Example:
        >>> img = {"fields": {"image_1": "x" * 60}}
        >>> request_slices([img, img, {"fields": {}}, img], limit=100)
        [(0, 1), (1, 3), (3, 4)]
    """
    out: list[tuple[int, int]] = []
    start, size = 0, 0
    for i, item in enumerate(items):
        n = sum(
            len(v)
            for k, v in item["fields"].items()
            if k.startswith(S.IMAGE_PREFIX) and isinstance(v, str)
        )
        if size + n > limit and i > start:
            out.append((start, i))
            start, size = i, 0
        size += n
    out.append((start, len(items)))
    return out


def _layout_notes(name: str, needs: S.Layout, has: S.Layout) -> list[str]:
    """What the data needs that the dataset ``name`` (made earlier) has no field for."""
    notes = []
    if needs.images > has.images:
        notes.append(
            f"examples have up to {needs.images} image(s) but dataset {name!r} has "
            f"{has.images} image field(s): the others are named in the conversation, not "
            "shown. Push to a new --dataset to see them."
        )
    if needs.reasoning and not has.reasoning:
        notes.append(
            f"dataset {name!r} has no reasoning field: reasoning traces are shown in the "
            "conversation as [reasoning] blocks before the answer. Push to a new --dataset "
            "to see them apart."
        )
    if needs.tools and not has.tools:
        notes.append(
            f"dataset {name!r} has no tools field: the declared tools are not shown (tool "
            "calls are, in the conversation). Push to a new --dataset to see them."
        )
    return notes


def default_rejects_path(path: str | os.PathLike[str]) -> str:
    """Where push writes its rejects: ``data/train.jsonl`` -> ``data/train.push.rejected.jsonl``.

    Example:
        >>> default_rejects_path("data/train.v2.jsonl.gz")
        'data/train.v2.push.rejected.jsonl'
    """
    p = Path(path)
    name = p.name
    for suffix in (".gz", ".bz2", ".xz", ".zst", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return str(p.with_name(f"{name or 'input'}.push.rejected.jsonl"))


def _count_pushable(file: str, findings: dict[int, list[Finding]], only_flagged: bool) -> int:
    n = 0
    for ex in _examples(file):
        if ex.messages is not None and (not only_flagged or findings.get(ex.source.line or 0)):
            n += 1
    return n


def default_dataset_name(path: str | os.PathLike[str]) -> str:
    """A dataset name from a file name: ``data/train.jsonl`` -> ``train``.

    Example:
        >>> default_dataset_name("data/train.chat.jsonl.gz")
        'train-chat'
    """
    name = Path(path).name
    for suffix in (".gz", ".bz2", ".xz", ".zst", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name.replace(".", "-") or "curate-review"
