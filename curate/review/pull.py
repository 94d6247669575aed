"""Bring review decisions back from Argilla and apply them (``curate review pull``).

For every example of the input file that was pushed (matched by :attr:`Example.id`):

- ``accept`` keeps it unchanged;
- ``reject`` moves it to the rejects file, with the reviewer's note as the message;
- a corrected reply (``corrected_reply``, with ``needs_fix`` or ``accept``) replaces the content of
  the last assistant message; ``needs_fix`` without a correction is rejected (it is known bad);
- no submitted response (pending, draft, discarded) follows ``pending``: ``keep``, ``drop``
  (to rejects, reason ``review_pending``) or ``fail`` (nothing is written);
- reviewers who disagree follow ``conflicts``: ``majority`` (the most common label wins; a tie is a
  conflict) or ``strict`` (any disagreement is a conflict). Conflicts are then handled like pending.

Examples that were never pushed pass through unchanged. Nothing is lost:
``read = kept + rejected``, and lines that do not parse go to the rejects file with their raw text.
Every reviewed or pending record gets one audit line: id, decision, reviewers, timestamp, old and
new content hash, note, source.

Example:
    >>> v = [Vote("ana", "reject", None, "off-topic", None, "2026-01-02T00:00:00"),
    ...      Vote("bo", "accept", None, None, 4, "2026-01-01T00:00:00")]
    >>> resolve("r1", v, conflicts="majority").outcome
    'conflict'
    >>> resolve("r1", v[:1], conflicts="strict").outcome, resolve("r1", v[:1], "strict").note
    ('reject', 'ana: off-topic')
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from curate.ingest.reasoning import REASONING_KEY, find_inline_trace
from curate.io import check_readable, dumps, iter_raw_lines, parse_line
from curate.records import CurateError, Example, Finding, content_id
from curate.review import settings as S
from curate.stage import Counts, OutputPlan, reject_row, rejects_path

PENDING = ("keep", "drop", "fail")
CONFLICTS = ("majority", "strict")
PAGE = 1000


@dataclass(frozen=True)
class Vote:
    """One reviewer's submitted response."""

    user: str
    label: str | None
    correction: str | None
    note: str | None
    quality: int | None
    at: str


@dataclass
class Decision:
    """The resolved outcome for one record: ``accept``, ``reject``, ``correct``, ``needs_fix``,
    ``pending`` or ``conflict``."""

    id: str
    outcome: str
    votes: list[Vote] = field(default_factory=list)
    correction: str | None = None
    note: str | None = None

    @property
    def reviewers(self) -> list[str]:
        return sorted({v.user for v in self.votes})

    @property
    def timestamp(self) -> str | None:
        return max((v.at for v in self.votes), default=None)

    @property
    def quality(self) -> float | None:
        q = [v.quality for v in self.votes if isinstance(v.quality, int)]
        return sum(q) / len(q) if q else None


def resolve(record_id: str, votes: list[Vote], conflicts: str = "majority") -> Decision:
    """Resolve the submitted votes on one record (pure)."""
    if conflicts not in CONFLICTS:
        raise CurateError(f"--conflicts must be one of {', '.join(CONFLICTS)} (got {conflicts!r})")
    votes = [v for v in votes if v.label in S.LABELS]
    if not votes:
        return Decision(record_id, "pending")
    counts = Counter(v.label for v in votes).most_common()
    if len(counts) > 1 and (conflicts == "strict" or counts[0][1] == counts[1][1]):
        return Decision(record_id, "conflict", votes, note=_notes(votes))
    label = counts[0][0]
    winners = [v for v in votes if v.label == label]
    corrections = [v for v in winners if v.correction and v.correction.strip()]
    correction = None
    if corrections and label != "reject":
        by_text = Counter(v.correction for v in corrections).most_common()
        top = [text for text, n in by_text if n == by_text[0][1]]
        # ties: the most recent of the most common corrections
        correction = max(
            (v for v in corrections if v.correction in top), key=lambda v: v.at
        ).correction
    if correction is not None:
        outcome = "correct"
    elif label == "needs_fix":
        outcome = "needs_fix"
    else:
        outcome = str(label)
    return Decision(record_id, outcome, votes, correction=correction, note=_notes(winners))


def _notes(votes: list[Vote]) -> str | None:
    notes = [f"{v.user}: {v.note.strip()}" for v in votes if v.note and v.note.strip()]
    return "; ".join(notes) or None


# ------------------------------------------------------------------------- fetching votes
def _value(values: dict[str, Any], name: str) -> Any:
    item = values.get(name)
    return item.get("value") if isinstance(item, dict) else None


def fetch_decisions(
    client: Any,
    dataset: Any,
    *,
    conflicts: str = "majority",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Decision]:
    """All records of the dataset with their resolved decision, keyed by record id.

    Reads ``/api/v1/datasets/{id}/records?include=responses`` through the SDK's HTTP client (the
    SDK's record objects drop the responses' timestamps, which the audit needs).
    """
    http = client.api.http_client
    users = _usernames(client)
    out: dict[str, Decision] = {}
    offset = 0
    while True:
        resp = http.get(
            f"/api/v1/datasets/{dataset.id}/records",
            params={"include": "responses", "offset": offset, "limit": PAGE},
        )
        resp.raise_for_status()
        items = resp.json().get("items", [])
        for item in items:
            rid = str(item.get("external_id") or item["id"])
            votes = []
            for r in item.get("responses") or []:
                if r.get("status") != "submitted":
                    continue
                values = r.get("values") or {}
                uid = str(r.get("user_id"))
                quality = _value(values, S.QUALITY)
                votes.append(
                    Vote(
                        user=users.get(uid) or _username(client, uid, users),
                        label=_value(values, S.DECISION),
                        correction=_value(values, S.CORRECTION),
                        note=_value(values, S.NOTE),
                        quality=quality if isinstance(quality, int) else None,
                        at=_utc(r.get("updated_at") or r.get("inserted_at")),
                    )
                )
            out[rid] = resolve(rid, votes, conflicts)
        if progress is not None:
            progress(len(items))
        if len(items) < PAGE:
            return out
        offset += len(items)


def _utc(stamp: Any) -> str:
    """Argilla returns naive UTC times; make them explicit ISO 8601 with +00:00."""
    if not stamp:
        return ""
    try:
        t = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).isoformat()


def _usernames(client: Any) -> dict[str, str]:
    try:
        return {str(u.id): u.username for u in client.users}
    except Exception:  # annotators may not list users
        return {}


def _username(client: Any, uid: str, cache: dict[str, str]) -> str:
    try:
        resp = client.api.http_client.get(f"/api/v1/users/{uid}")
        resp.raise_for_status()
        cache[uid] = str(resp.json()["username"])
    except Exception:
        cache[uid] = uid
    return cache[uid]


# ----------------------------------------------------------------------------- agreement
def reviewer_counts(decisions: dict[str, Decision]) -> dict[str, dict[str, int]]:
    """Per reviewer: records answered and how many of each decision label.

    Example:
        >>> d = {"r1": Decision("r1", "accept", [Vote("ana", "accept", None, None, None, "")])}
        >>> reviewer_counts(d)
        {'ana': {'answered': 1, 'accept': 1, 'reject': 0, 'needs_fix': 0}}
    """
    out: dict[str, dict[str, int]] = {}
    for decision in decisions.values():
        for v in decision.votes:
            row = out.setdefault(v.user, {"answered": 0, **{label: 0 for label in S.LABELS}})
            row["answered"] += 1
            if v.label in row:
                row[v.label] += 1
    return dict(sorted(out.items()))


def fleiss_kappa(items: list[list[str]], labels: tuple[str, ...] = S.LABELS) -> float | None:
    """Fleiss' kappa of the labels given to each item (items with fewer than two labels are
    left out; items may have different numbers of raters). None when it is undefined (no item
    with two labels, or every label the same, so chance agreement is 1).

    Example:
        >>> fleiss_kappa([["accept", "accept"], ["reject", "reject"], ["accept", "reject"]])
        0.333...
    """
    rated = [it for it in items if len(it) >= 2]
    if not rated:
        return None
    totals: Counter[str] = Counter()
    p_items = []
    for it in rated:
        n = len(it)
        counts = Counter(it)
        totals.update(counts)
        p_items.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
    all_labels = sum(totals.values())
    p_bar = sum(p_items) / len(p_items)
    p_e = sum((totals[k] / all_labels) ** 2 for k in set(labels) | set(totals))
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two reviewers' labels on the records both answered (None if
    undefined: no record in common, or both always gave one and the same label).

    Example:
        >>> round(cohen_kappa([("accept", "accept"), ("reject", "reject"),
        ...                    ("accept", "reject"), ("accept", "accept")]), 3)
        0.5
    """
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    left, right = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(left[k] * right[k] for k in set(left) | set(right)) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement(decisions: dict[str, Decision]) -> dict[str, Any]:
    """How much reviewers agreed on the decision label, over records with two or more
    submitted answers: the share of unanimous records, Fleiss' kappa (any number of
    reviewers) and Cohen's kappa for each pair of reviewers with records in common."""
    items: list[list[str]] = []
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for decision in decisions.values():
        latest: dict[str, str] = {}
        for v in sorted(decision.votes, key=lambda v: v.at):
            if v.label in S.LABELS:
                latest[v.user] = str(v.label)
        if len(latest) < 2:
            continue
        items.append(list(latest.values()))
        users = sorted(latest)
        for i, a in enumerate(users):
            for b in users[i + 1 :]:
                pairs.setdefault((a, b), []).append((latest[a], latest[b]))
    unanimous = sum(1 for it in items if len(set(it)) == 1)
    fleiss = fleiss_kappa(items)
    return {
        "records": len(items),
        "unanimous": unanimous,
        "percent_agreement": round(100.0 * unanimous / len(items), 1) if items else None,
        "fleiss_kappa": None if fleiss is None else round(fleiss, 3),
        "cohen_kappa": {
            f"{a} ~ {b}": (None if (k := cohen_kappa(p)) is None else round(k, 3))
            for (a, b), p in sorted(pairs.items())
        },
    }


# ------------------------------------------------------------------------------ applying
@dataclass
class PullResult:
    """Counts of a pull. ``read = kept + rejected``."""

    read: int = 0
    kept: int = 0
    rejected: int = 0
    corrected: int = 0
    not_reviewed: int = 0
    #: records of the Argilla dataset whose id is not in the input file (wrong file?)
    not_in_input: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    audit_lines: int = 0
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    #: per reviewer: answered and each label (:func:`reviewer_counts`)
    reviewers: dict[str, dict[str, int]] = field(default_factory=dict)
    #: agreement on the decision label (:func:`agreement`)
    agreement: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "kept": self.kept,
            "rejected": self.rejected,
            "corrected": self.corrected,
            "not_reviewed": self.not_reviewed,
            "not_in_input": self.not_in_input,
            "outcomes": dict(sorted(self.outcomes.items())),
            "audit_lines": self.audit_lines,
            "reviewers": self.reviewers,
            "agreement": self.agreement,
            "seconds": round(self.seconds, 2),
            "outputs": self.outputs,
        }


def replace_last_assistant(data: dict[str, Any], text: str) -> dict[str, Any] | None:
    """A copy of ``data`` whose last assistant message has ``text`` as content (None if no
    assistant message). The review shows the final answer apart from its reasoning, so the
    correction replaces the answer and the message keeps its ``reasoning_content``; a
    correction that starts with its own ``<think>`` block replaces the trace as well.

    Example:
        >>> replace_last_assistant({"messages": [{"role": "assistant", "content": "a"},
        ...     {"role": "assistant", "content": "b"}]}, "c")["messages"][1]
        {'role': 'assistant', 'content': 'c'}
    """
    msgs = data.get("messages")
    if not isinstance(msgs, list):
        return None
    for i in range(len(msgs) - 1, -1, -1):
        m = msgs[i]
        if isinstance(m, dict) and m.get("role") == "assistant":
            new = copy.deepcopy(data)
            msg = new["messages"][i]
            msg["content"] = text
            # ambiguous tags stay in the text: curate validate reports think_tags_in_answer
            split = find_inline_trace(text) if "think" in text or "thought" in text else None
            if split is not None:
                msg["content"] = split[1]
                if split[0].strip():
                    msg[REASONING_KEY] = split[0]
                else:
                    msg.pop(REASONING_KEY, None)
            return new
    return None


def _trace_of_last_assistant(data: dict[str, Any]) -> Any:
    for m in reversed(data.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "assistant":
            return m.get(REASONING_KEY)
    return None


def _last_assistant_text(data: dict[str, Any]) -> Any:
    for m in reversed(data.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "assistant":
            return m.get("content")
    return None


def _items(path: str) -> Iterator[tuple[int, bytes, Example | Finding | None]]:
    for n, raw in iter_raw_lines(path):
        yield n, raw, parse_line(path, n, raw)


def apply_decisions(
    path: str | os.PathLike[str],
    decisions: dict[str, Decision],
    *,
    out: str | os.PathLike[str],
    rejects: str | os.PathLike[str],
    audit: str | os.PathLike[str] | None,
    pending: str = "keep",
    dataset: str = "",
    progress: Callable[[int], None] | None = None,
    plan: OutputPlan | None = None,
) -> PullResult:
    """Apply resolved decisions to a chat JSONL file (streaming). The kept examples, the
    rejects and the audit lines are committed together (see :func:`plan_outputs`), so a
    failure or an interrupt leaves every file as it was.

    Raises :class:`CurateError` (and writes nothing) when ``pending="fail"`` meets a pending or
    conflicting record, or when an output is the input or another output.
    """
    if pending not in PENDING:
        raise CurateError(f"--pending must be one of {', '.join(PENDING)} (got {pending!r})")
    file = str(check_readable(path))
    plan = plan or plan_outputs(file, out=out, rejects=rejects, audit=audit)
    started = time.monotonic()
    res = PullResult()
    counts = Counts()
    outcomes: Counter[str] = Counter()
    unresolved: list[str] = []
    matched: set[str] = set()
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with plan.writing():
        kept_f, rej_f = plan.open("out"), plan.open("rejects")
        audit_f = plan.open("audit") if "audit" in plan else None

        def keep(data: Any) -> None:
            kept_f.write(dumps(data) + "\n")
            res.kept += 1

        def reject(src: dict[str, Any], reason: str, message: str, record: Any) -> None:
            rej_f.write(dumps(reject_row(src, reason, message, record)) + "\n")
            res.rejected += 1

        for n, raw, item in _items(file):
            if item is None:
                continue  # a blank line is not a record
            res.read += 1
            counts.read += 1
            if progress is not None and res.read % 1000 == 0:
                progress(1000)
            src = {"file": file, "line": n}
            if isinstance(item, Finding):
                text = raw.decode("utf-8", errors="replace")
                reject(src, item.code, item.message, text)
                continue
            data = item.data
            decision = decisions.get(item.id)
            if decision is None or not isinstance(data, dict):
                res.not_reviewed += 1
                keep(data)
                continue
            matched.add(item.id)
            outcome = decision.outcome
            outcomes[outcome] += 1
            old_hash = content_id(data)
            new_data: Any = data
            action = "kept"
            if outcome in ("pending", "conflict"):
                if pending == "fail":
                    unresolved.append(f"{item.id} ({outcome}, line {n})")
                    continue
                if pending == "drop":
                    reject(src, f"review_{outcome}", _why(decision), data)
                    action = "rejected"
                else:
                    keep(data)
            elif outcome == "reject":
                reject(src, "review_rejected", _why(decision), data)
                action = "rejected"
            elif outcome == "needs_fix":
                reject(src, "review_needs_fix", _why(decision), data)
                action = "rejected"
            elif outcome == "correct":
                assert decision.correction is not None
                if _last_assistant_text(data) == decision.correction:
                    keep(_with_review(data, decision))
                    action = "kept (correction equals the reply)"
                else:
                    fixed = replace_last_assistant(data, decision.correction)
                    if fixed is None:
                        reject(
                            src,
                            "review_correction_not_applicable",
                            "a corrected reply was given but the example has no assistant "
                            "message to replace",
                            data,
                        )
                        action = "rejected"
                    else:
                        new_data = _with_review(fixed, decision)
                        keep(new_data)
                        res.corrected += 1
                        action = "corrected"
                        trace = _trace_of_last_assistant(fixed)
                        if trace is not None and trace == _trace_of_last_assistant(data):
                            # the reviewer corrected the answer the trace led to: say so
                            action = "corrected (the answer; its reasoning_content kept)"
            else:  # accept
                keep(_with_review(data, decision))
            res.audit_lines += 1
            if audit_f is None:
                continue
            audit_f.write(
                dumps(
                    {
                        "id": item.id,
                        "decision": outcome,
                        "action": action,
                        "reviewer": ", ".join(decision.reviewers) or None,
                        "reviewers": decision.reviewers,
                        "answers": [
                            {"reviewer": v.user, "decision": v.label, "at": v.at}
                            for v in decision.votes
                        ],
                        "timestamp": decision.timestamp,
                        "old_hash": old_hash,
                        "new_hash": content_id(new_data),
                        "note": decision.note,
                        "quality": decision.quality,
                        "votes": [v.label for v in decision.votes],
                        "source": src,
                        "dataset": dataset,
                        "pulled_at": now,
                    }
                )
                + "\n"
            )
        if unresolved:
            more = f" and {len(unresolved) - 5} more" if len(unresolved) > 5 else ""
            raise CurateError(
                f"{len(unresolved)} reviewed records have no decision yet: "
                f"{', '.join(unresolved[:5])}{more}. Nothing was written. Wait for the reviews, "
                "or pass --pending keep (or drop)."
            )
        counts.kept, counts.rejected = res.kept, res.rejected
        counts.check("review pull")
        plan.commit()
    if audit is None:
        res.audit_lines = 0
    res.outcomes = dict(outcomes)
    res.not_in_input = len(set(decisions) - matched)
    res.reviewers = reviewer_counts({k: v for k, v in decisions.items() if k in matched})
    res.agreement = agreement({k: v for k, v in decisions.items() if k in matched})
    res.seconds = time.monotonic() - started
    res.outputs = {
        "out": str(plan.path("out")),
        "rejects": str(plan.path("rejects")),
        "audit": str(plan.path("audit")) if "audit" in plan else "",
    }
    return res


def plan_outputs(
    path: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    rejects: str | os.PathLike[str] | None,
    audit: str | os.PathLike[str] | None,
) -> OutputPlan:
    """The outputs of a pull, checked before anything is fetched or written: none may be the
    input or another output (a :class:`CurateError` names both paths). The audit file is
    appended to."""
    plan = OutputPlan([path], "review pull")
    plan.add("out", out)
    plan.add("rejects", rejects or default_rejects_path(out))
    if audit is not None:
        plan.add("audit", audit, append=True)
    return plan


def _why(decision: Decision) -> str:
    who = ", ".join(decision.reviewers) or "nobody yet"
    base = {
        "reject": f"rejected in review by {who}",
        "needs_fix": f"marked needs_fix without a corrected reply by {who}",
        "pending": "not reviewed yet",
        "conflict": f"reviewers disagree ({', '.join(str(v.label) for v in decision.votes)})",
    }.get(decision.outcome, decision.outcome)
    return f"{base}. Notes: {decision.note}" if decision.note else base


def _with_review(data: dict[str, Any], decision: Decision) -> dict[str, Any]:
    out = dict(data)
    meta = dict(out.get("metadata") or {}) if isinstance(out.get("metadata"), dict) else {}
    meta["review"] = {
        "decision": decision.outcome,
        "reviewers": decision.reviewers,
        "at": decision.timestamp,
    }
    out["metadata"] = meta
    return out


def pull(
    path: str | os.PathLike[str],
    *,
    client: Any,
    dataset: str,
    workspace: str | None = None,
    out: str | os.PathLike[str],
    rejects: str | os.PathLike[str] | None = None,
    audit: str | os.PathLike[str] | None = None,
    pending: str = "keep",
    conflicts: str = "majority",
    progress: Callable[[int], None] | None = None,
) -> PullResult:
    """Fetch the decisions of an Argilla dataset and apply them to ``path`` (see module doc)."""
    if conflicts not in CONFLICTS:
        raise CurateError(f"--conflicts must be one of {', '.join(CONFLICTS)} (got {conflicts!r})")
    if pending not in PENDING:
        raise CurateError(f"--pending must be one of {', '.join(PENDING)} (got {pending!r})")
    file = str(check_readable(path))
    plan = plan_outputs(file, out=out, rejects=rejects, audit=audit)
    ds = find_dataset(client, dataset, workspace)
    started = time.monotonic()
    decisions = fetch_decisions(client, ds, conflicts=conflicts, progress=progress)
    res = apply_decisions(
        file,
        decisions,
        out=out,
        rejects=plan.path("rejects"),
        audit=audit,
        pending=pending,
        dataset=dataset,
        plan=plan,
    )
    res.seconds = time.monotonic() - started
    return res


def default_rejects_path(out: str | os.PathLike[str]) -> str:
    """``clean.jsonl`` -> ``clean.rejected.jsonl`` (the stage contract's name).

    Example:
        >>> default_rejects_path("out/clean.jsonl")
        'out/clean.rejected.jsonl'
    """
    return str(rejects_path(out))


def find_dataset(client: Any, name: str, workspace: str | None) -> Any:
    """The named dataset (in ``workspace`` or, if unique, any visible one); a clear error else."""
    import warnings

    resp = client.api.http_client.get("/api/v1/me/datasets")
    resp.raise_for_status()
    items = resp.json().get("items", [])
    spaces = {str(w.id): w.name for w in client.workspaces}
    matches = [
        d
        for d in items
        if d.get("name") == name
        and (workspace is None or spaces.get(str(d.get("workspace_id"))) == workspace)
    ]
    if not matches:
        have = sorted({str(d.get("name")) for d in items})
        where = f" in workspace {workspace!r}" if workspace else ""
        raise CurateError(
            f"Argilla dataset {name!r} not found{where} (have: {', '.join(have) or 'none'}). "
            "Push it first with `curate review push`."
        )
    if len(matches) > 1:
        found = ", ".join(sorted(spaces.get(str(d.get("workspace_id")), "?") for d in matches))
        raise CurateError(
            f"Argilla dataset {name!r} exists in several workspaces ({found}): pass --workspace"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = client.datasets(name=name, workspace=spaces[str(matches[0]["workspace_id"])])
    missing = S.missing_parts(ds.settings)
    if missing:
        raise CurateError(
            f"Argilla dataset {name!r} is not a curate review dataset "
            f"(missing: {', '.join(missing)})"
        )
    return ds
