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
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import time
from collections import Counter as CountDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.io import check_readable, read_jsonl
from curate.records import CurateError, Example, Finding, InputError
from curate.review import settings as S

BATCH_RECORDS = 500
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class PushResult:
    """What a push did. ``read = pushed + not_selected + sum(skipped.values())``."""

    dataset: str
    workspace: str
    url: str
    read: int = 0
    pushed: int = 0
    flagged: int = 0
    not_selected: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

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
            "seconds": round(self.seconds, 2),
            "records_per_second": round(rate, 1) if rate else None,
        }


# ------------------------------------------------------------------------ record building
def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        parts = []
        for p in content:
            if isinstance(p, dict) and isinstance(p.get("text"), str):
                parts.append(p["text"])
            else:
                parts.append(json.dumps(p, ensure_ascii=False))
        return "\n".join(parts)
    return json.dumps(content, ensure_ascii=False)


def _clip(text: str, limit: int = S.MAX_MESSAGE_CHARS) -> str:
    if len(text) <= limit:
        return text
    marker = f"\n\n[... {len(text) - limit + 200} more characters not shown; see the source file]"
    return text[: limit - 200] + marker


def chat_messages(messages: list[Any]) -> list[dict[str, str]]:
    """Messages as Argilla's chat field accepts them: a non-empty ``role`` (<= 20 chars) and a
    non-empty ``content`` (<= 20,000 chars). Tool calls and names are shown inline; over-long
    text is clipped for display only (pull always edits the original).

    Example:
        >>> chat_messages([{"role": "assistant", "content": None,
        ...                 "tool_calls": [{"id": "1", "function": {"name": "f"}}]}])
        [{'role': 'assistant', 'content': '[tool_calls] [{"id": "1", "function": {"name": "f"}}]'}]
    """
    out = []
    for m in messages:
        if not isinstance(m, dict):
            out.append({"role": "invalid", "content": _clip(json.dumps(m, ensure_ascii=False))})
            continue
        role = str(m.get("role") or "unknown")[: S.MAX_ROLE_CHARS]
        text = _text_of(m.get("content"))
        if m.get("name"):
            text = f"[name: {m['name']}] {text}"
        if m.get("tool_calls"):
            calls = json.dumps(m["tool_calls"], ensure_ascii=False)
            text = f"{text}\n\n[tool_calls] {calls}" if text.strip() else f"[tool_calls] {calls}"
        if m.get("tool_call_id"):
            text = f"[tool_call_id: {m['tool_call_id']}] {text}"
        if not text.strip():
            text = "(empty)"
        out.append({"role": role, "content": _clip(text)})
    return out


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


def build_record(ex: Example, findings: list[Finding], *, tokens: int) -> dict[str, Any]:
    """The Argilla record for one example, as plain data (pure; no Argilla import)."""
    data = ex.data if isinstance(ex.data, dict) else {}
    messages = ex.messages or []
    raw_source = data.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    codes = sorted({f.code for f in findings})
    worst = worst_severity(findings)
    return {
        "id": ex.id,
        "fields": {
            S.CONVERSATION: chat_messages(messages),
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
def ensure_dataset(client: Any, name: str, workspace: str | None) -> Any:
    """The named review dataset, created with :func:`settings.build_settings` if missing."""
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
        return dataset
    dataset = rg.Dataset(name=name, workspace=ws, settings=S.build_settings(), client=client)
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


def _to_rg(rec: dict[str, Any]) -> Any:
    import argilla as rg

    label, score = rec["suggestion"]
    return rg.Record(
        id=rec["id"],
        fields=rec["fields"],
        metadata=rec["metadata"],
        suggestions=[
            rg.Suggestion(question_name=S.DECISION, value=label, score=score, agent=S.AGENT)
        ],
    )


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
    batch_size: int = BATCH_RECORDS,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
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
        batch_size: records per request.
        progress: called with the number of records pushed, after each batch.
        on_total: called once with the number of records that will be pushed.
    """
    from curate.tokens import count_examples, encoding_for_model, shared_counter

    file = str(check_readable(path))
    if sample is not None and sample < 1:
        raise CurateError(f"--sample must be at least 1 (got {sample})")
    if batch_size < 1:
        raise CurateError(f"batch size must be at least 1 (got {batch_size})")
    if os.path.getsize(file) == 0:
        raise InputError(f"{file}: file is empty: no examples to push")
    started = time.monotonic()
    findings = collect_findings(file, duplicates=duplicates)
    chosen = choose_lines(file, findings, only_flagged=only_flagged, sample=sample, seed=seed)
    ds = ensure_dataset(client, dataset, workspace)
    result = PushResult(dataset=dataset, workspace=ds.workspace.name, url=str(client.api_url))
    skipped: CountDict[str] = CountDict()
    counter = shared_counter(encoding_for_model("gpt-4o-mini"))
    if on_total is not None:
        on_total(
            len(chosen) if chosen is not None else _count_pushable(file, findings, only_flagged)
        )

    batch: list[Example] = []

    def flush() -> None:
        if not batch:
            return
        counts = count_examples(
            [(ex.messages or [], ex.data.get("tools")) for ex in batch], counter
        )
        records = [
            _to_rg(build_record(ex, findings.get(ex.source.line or 0, []), tokens=c.total))
            for ex, c in zip(batch, counts, strict=True)
        ]
        ds.records.log(records, batch_size=len(records))
        result.pushed += len(records)
        if progress is not None:
            progress(len(records))
        batch.clear()

    seen_ids: set[str] = set()
    for item in read_jsonl(file):
        if isinstance(item, Finding):
            if item.code in ("invalid_json", "invalid_encoding"):
                result.read += 1
                skipped[item.code] += 1
            continue
        result.read += 1
        line = item.source.line or 0
        flagged = bool(findings.get(line))
        result.flagged += flagged
        if item.messages is None:
            skipped["no_messages"] += 1
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
            flush()
    flush()
    result.skipped = dict(skipped)
    result.seconds = time.monotonic() - started
    return result


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
