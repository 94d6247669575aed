"""The data as the trainer sees it: findings and a summary per run.

:func:`analyse` is pure (one rendered conversation in, findings out);
:func:`scan` streams files through a :class:`~curate.trainer.backends.ChatTokenizer` in
batches; :func:`trainer_view` is the hook ``curate validate --tokenizer`` calls.

Example:
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.jsonl")
    >>> row = {"messages": [{"role": "user", "content": "hi"},
    ...                     {"role": "assistant", "content": "hello"}]}
    >>> _ = open(p, "w").write(json.dumps(row) + "\\n")
    >>> findings, summary = trainer_view([p], tokenizer="mistral:v3", max_length=5)
    >>> [f.code for f in findings], summary["tokens"]["max"], summary["n_truncated"]
    (['truncated_by_trainer'], 7, 1)
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter as CountDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from curate.ingest.reasoning import TRACE_KEYS, find_inline_trace
from curate.io import check_readable, parse_line
from curate.parallel import fork_pool, line_batches, run_ordered
from curate.records import CurateError, Finding, Location, Severity
from curate.trainer.backends import (
    ChatTokenizer,
    Rendered,
    TemplateFailure,
    load_tokenizer,
    text_of,
)
from curate.trainer.lengths import (
    LengthStats,
    distribution,
    packing_efficiency,
    suggest_max_length,
)
from curate.validators.format import is_preference

BATCH = 512
#: an assistant message's reasoning trace (docs/ingest.md); ``thinking`` as some templates
#: (gpt-oss) name it, ``reasoning`` as some APIs return it
PARALLEL_MIN_BYTES = 4 << 20


@functools.lru_cache(maxsize=8)
def _control_re(tokens: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in tokens))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _role(messages: list[dict[str, Any]], i: int | None) -> str:
    if i is None or not 0 <= i < len(messages):
        return "a"
    return str(messages[i].get("role"))


def _template_hint(message: str) -> str:
    low = message.lower()
    if "system" in low:
        fix = "fold the system prompt into the first user message"
    elif "alternate" in low or "consecutive" in low:
        fix = "merge consecutive turns of the same role"
    elif "no attribute 'content'" in low:
        fix = (
            'give every message a string content ("" beside tool_calls): apply_chat_template '
            "drops a null content, and this template reads it"
        )
    elif "nonetype" in low or "none" in low:
        fix = "give every message a string content (the template cannot render a null one)"
    elif "last role" in low:
        fix = "end the conversation with the assistant turn to learn"
    else:
        fix = "reshape the conversation to what the template accepts"
    return f"the trainer fails on this example: {fix}, or drop it"


def _trace(m: dict[str, Any]) -> str | None:
    """An assistant message's reasoning trace (``reasoning_content``, or ``thinking``),
    when it has a non-blank one."""
    for key in TRACE_KEYS:
        t = m.get(key)
        if isinstance(t, str) and t.strip():
            return t
    return None


def _indices(ix: Sequence[int]) -> str:
    return ("message " if len(ix) == 1 else "messages ") + ", ".join(str(i) for i in ix)


def _dropped_reasoning(
    dropped: list[tuple[int, str]],
    kept: list[int],
    last_user: int | None,
    where: Location,
    engine: str,
    count: Callable[[Sequence[str]], list[int]] | None,
) -> Finding:
    """``template_dropped_reasoning``: the traces the template leaves out, for one example."""
    ix = [i for i, _ in dropped]
    tokens = list(count([t for _, t in dropped])) if count is not None else None
    size = (
        f"{sum(tokens)} tokens"
        if tokens is not None
        else f"{sum(len(t) for _, t in dropped)} chars"
    )
    turns = f"{len(dropped)} assistant turn{'s' if len(dropped) > 1 else ''}"
    msg = (
        f"{engine} leaves out the reasoning of {turns} ({_indices(ix)}; {size}): the trainer "
        "never sees it"
    )
    if kept:
        msg += f"; it keeps the reasoning of {_indices(kept)}"
    if last_user is not None and ix[-1] < last_user:
        msg += (
            " (every dropped turn comes before the last user message: templates such as "
            "Qwen3's render thinking only after it)"
        )
        hint = (
            "this is how the model renders history; to learn every trace, split the "
            "conversation into one example per assistant turn (the turns before it plus that "
            "turn), so each trace is the last"
        )
    else:
        hint = (
            "use the model's reasoning chat template (one that reads reasoning_content), or "
            "drop the traces if the model is not meant to think"
        )
    data: dict[str, Any] = {"messages": ix}
    if tokens is not None:
        data["tokens"] = tokens
        data["total_tokens"] = sum(tokens)
    return Finding(
        "template_dropped_reasoning",
        Severity.WARNING,
        msg,
        where.with_message(ix[0]),
        hint=hint,
        data=data,
    )


def analyse(
    r: Rendered | TemplateFailure,
    messages: list[dict[str, Any]],
    where: Location,
    *,
    kind: str,
    max_length: int | None,
    control_tokens: Sequence[str] = (),
    count: Callable[[Sequence[str]], list[int]] | None = None,
) -> list[Finding]:
    """Findings for one conversation as the trainer renders it. Pure. ``count`` gives the
    tokens of texts (the tokenizer's :meth:`count_texts`), for the size of dropped traces;
    without it they are measured in characters.

    Example:
        >>> r = Rendered(12, [(6, 12, 1)], "user: hi assistant: hello", "prefix")
        >>> msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        >>> [f.code for f in analyse(r, msgs, Location("t.jsonl", 1), kind="hf", max_length=4)]
        ['template_dropped_content', 'truncated_by_trainer', 'no_trainable_tokens']
    """
    out: list[Finding] = []
    engine = "mistral-common" if kind == "mistral" else "the chat template"
    if isinstance(r, TemplateFailure):
        at = f" at message {r.message_index} ({_role(messages, r.message_index)})"
        out.append(
            Finding(
                "template_error",
                Severity.ERROR,
                f"{engine} rejects this conversation"
                f"{at if r.message_index is not None else ''}: {r.message}",
                where.with_message(r.message_index),
                hint=_template_hint(r.message),
            )
        )
        return out
    # what the template kept of each message
    squashed: str | None = None
    cursor = 0  # templates mostly keep the order: search on from the last text found

    def shown(text: str) -> bool:
        nonlocal cursor, squashed
        if kind == "tiktoken":
            return True  # every value is counted as it is
        # a text found verbatim is kept (its squashed form is then inside the squashed
        # render too); only the others pay for comparing with whitespace squashed
        pos = r.text.find(text, cursor)
        if pos >= 0:
            cursor = pos + len(text)
            return True
        if text in r.text[: cursor + len(text)]:  # placed earlier (moved up)
            return True
        if squashed is None:
            squashed = _squash(r.text)
        return _squash(text) in squashed

    traces_kept: list[int] = []
    traces_dropped: list[tuple[int, str]] = []
    for i, m in enumerate(messages):
        text = text_of(m.get("content"))
        trace = _trace(m) if m.get("role") == "assistant" else None
        if trace is not None:
            if shown(trace):
                traces_kept.append(i)
            else:
                traces_dropped.append((i, trace))
        elif text and m.get("role") == "assistant" and "think" in text and not shown(text):
            # an inline trace (<think>...</think>): the template may keep the answer only
            split = find_inline_trace(text)  # ambiguous tags: one text
            if split is not None:
                trace, answer = split
                if trace.strip():
                    if shown(trace):
                        traces_kept.append(i)
                    else:
                        traces_dropped.append((i, trace))
                text = answer
        if text and text.strip() and not shown(text):
            out.append(
                Finding(
                    "template_dropped_content",
                    Severity.WARNING,
                    f"the {m.get('role')} message's text ({len(text)} chars) is missing from the "
                    f"prompt {engine} renders: the model never sees it",
                    where.with_message(i),
                    hint="use a template that renders this role, or move the text into a turn it "
                    "keeps (e.g. prepend the system prompt to the first user message)",
                )
            )
        if (
            not text
            or not control_tokens
            or _control_re(tuple(control_tokens)).search(text) is None
        ):
            continue  # one scan of the text for all control tokens
        for tok in control_tokens:
            if tok in text:
                plain = kind == "mistral"
                out.append(
                    Finding(
                        "special_token_in_text",
                        Severity.INFO if plain else Severity.WARNING,
                        f"the {m.get('role')} message contains {tok!r}, "
                        + (
                            "a control token's text: mistral-common encodes it as plain text, "
                            "but a Hugging Face tokenizer of the same model reads it as the "
                            "control token"
                            if plain
                            else "which the tokenizer reads as a control token, not as text"
                        ),
                        where.with_message(i),
                        hint="remove or escape it, or the model learns a false turn boundary",
                        data={"token": tok},
                    )
                )
                break
    if traces_dropped:
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        last_user = users[-1] if users else None
        out.append(_dropped_reasoning(traces_dropped, traces_kept, last_user, where, engine, count))
    trainable = r.trainable
    kept = trainable
    if max_length is not None and r.n_tokens > max_length:
        kept = sum(max(0, min(e, max_length) - s) for s, e, _ in r.spans)
        lost = trainable - kept
        cut_in = next((mi for s, e, mi in r.spans if e > max_length), None)
        out.append(
            Finding(
                "truncated_by_trainer",
                Severity.WARNING if lost else Severity.INFO,
                f"{r.n_tokens} tokens > max_length={max_length}: the trainer cuts the last "
                f"{r.n_tokens - max_length} tokens, {lost} of {trainable} trainable "
                "(assistant) tokens among them",
                where.with_message(cut_in),
                hint=f"raise --max-length to {r.n_tokens}, or shorten or split this conversation",
                data={"tokens": r.n_tokens, "trainable_lost": lost},
            )
        )
    assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    if assistants and kept == 0:
        if trainable:
            first = min(s for s, _, _ in r.spans)
            msg = (
                f"nothing left to learn: the first trainable token is at position {first}, "
                f"past max_length={max_length}, so truncation removes every assistant token"
            )
            hint = f"raise --max-length above {first}, shorten the prompt, or drop the example"
        elif all(i in r.untrained for i in assistants):
            msg = "nothing to learn: every assistant message has weight 0"
            hint = "set weight 1 on the assistant turn to learn from, or drop the example"
        else:
            msg = f"nothing to learn: {engine} renders no trainable assistant tokens"
            hint = "check that the template renders assistant turns (and its generation markers)"
        out.append(
            Finding(
                "no_trainable_tokens",
                Severity.ERROR,
                msg,
                where.with_message(assistants[0]),
                hint=hint,
                data={"tokens": r.n_tokens},
            )
        )
    return out


@dataclass
class Scan:
    """What a scan collected (besides findings)."""

    tokenizer: str
    kind: str
    max_length: int | None
    stats: LengthStats = field(default_factory=LengthStats)
    n_template_errors: int = 0
    n_truncated: int = 0
    n_no_trainable: int = 0
    n_skipped: int = 0
    #: preference (DPO) records, left out of the chat-template measurements
    n_preference: int = 0
    #: lines that are not an example at all (invalid JSON or encoding, empty file)
    n_unreadable: int = 0
    #: the first unreadable or skipped line, as ``file:line: problem``
    first_problem: str | None = None
    trainable_kept: int = 0
    #: tokens of the reasoning traces the template leaves out (template_dropped_reasoning)
    reasoning_tokens_dropped: int = 0
    mask_sources: CountDict[str] = field(default_factory=CountDict)
    codes: CountDict[str] = field(default_factory=CountDict)

    def summary(self, shares: Sequence[float] | None = None) -> dict[str, Any]:
        tokens, trainable, *_ = self.stats.arrays()
        out: dict[str, Any] = {
            "tokenizer": self.tokenizer,
            "kind": self.kind,
            "max_length": self.max_length,
            "n_examples": len(self.stats) + self.n_template_errors,
            "n_rendered": len(self.stats),
            "n_template_errors": self.n_template_errors,
            "n_skipped": self.n_skipped,
            "n_unreadable": self.n_unreadable,
            "n_preference": self.n_preference,
            "first_problem": self.first_problem,
            "n_truncated": self.n_truncated,
            "n_no_trainable": self.n_no_trainable,
            "tokens": distribution(tokens),
            "trainable_tokens": distribution(trainable),
            "trainable_after_truncation": self.trainable_kept,
            "reasoning_tokens_dropped": self.reasoning_tokens_dropped,
            "mask_source": dict(self.mask_sources),
            "findings": dict(self.codes),
        }
        if self.max_length is not None:
            out["truncation"] = self.stats.cost(self.max_length)
            out["truncation"]["packing"] = packing_efficiency(tokens, self.max_length)
        if shares is not None:
            out["suggestions"] = suggest_max_length(self.stats, shares=shares)
        return out


@dataclass(slots=True)
class Checked:
    """What :func:`check_batch` returns per conversation (no rendered text: small to
    send back from a worker process)."""

    where: Location
    findings: list[Finding]
    failed: bool
    n_tokens: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)
    mask_source: str = ""


#: One conversation to check: where it came from, its messages, its tools.
Item = tuple[Location, list[dict[str, Any]], Any]


def check_batch(tok: ChatTokenizer, items: Sequence[Item], max_length: int | None) -> list[Checked]:
    """Render and check a batch of conversations. Pure given the tokenizer: runs inline
    or in a worker process (see :func:`scan`)."""
    rendered = tok.render_batch([(msgs, tools) for _, msgs, tools in items])
    controls = tok.control_tokens()
    out: list[Checked] = []
    for (where, msgs, _), r in zip(items, rendered, strict=True):
        fs = analyse(
            r,
            msgs,
            where,
            kind=tok.kind,
            max_length=max_length,
            control_tokens=controls,
            count=tok.count_texts,
        )
        if isinstance(r, TemplateFailure):
            out.append(Checked(where, fs, True))
        else:
            out.append(
                Checked(
                    where, fs, False, r.n_tokens, [(a, b) for a, b, _ in r.spans], r.mask_source
                )
            )
    return out


@dataclass(slots=True)
class Parsed:
    """A batch of raw lines sorted into conversations to render and the rest, counted."""

    items: list[Item] = field(default_factory=list)
    n_unreadable: int = 0
    n_skipped: int = 0
    n_preference: int = 0
    first_problem: str | None = None

    def note(self, problem: str) -> None:
        if self.first_problem is None:
            self.first_problem = problem


def parse_batch(path: str, lines: Sequence[tuple[int, bytes]]) -> Parsed:
    """Parse raw JSONL lines (pure; runs in the worker that renders them): readable chat
    conversations become items; invalid JSON or encoding, non-conversations and
    preference (DPO) records are counted, and the first problem is kept as
    ``file:line: problem`` (``curate validate`` reports them all)."""
    out = Parsed()
    for n, raw in lines:
        ex = parse_line(path, n, raw)
        if ex is None:
            continue  # blank line: a warning in validate, no example lost
        if isinstance(ex, Finding):
            out.n_unreadable += 1
            out.note(f"{ex.location}: {ex.message}")
            continue
        if is_preference(ex.data):
            out.n_preference += 1  # not measured: a DPO trainer renders them differently
            continue
        msgs = ex.messages
        if not msgs or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) for m in msgs
        ):
            out.n_skipped += 1
            out.note(f"{ex.source}: no messages list, or a message without a string role")
            continue
        tools = ex.data.get("tools") if isinstance(ex.data, dict) else None
        out.items.append((ex.source, msgs, tools))
    return out


def _raw_batches(paths: Sequence[str], size: int, result: Scan) -> Iterator[tuple[str, Any]]:
    for path in paths:
        seen = False
        for batch in line_batches(path, max_lines=size):
            seen = True
            yield path, batch
        if not seen:
            result.n_unreadable += 1
            if result.first_problem is None:
                result.first_problem = f"{path}: file is empty: no examples"


_WORKER_TOK: ChatTokenizer | None = None


def _init_worker(tok: ChatTokenizer) -> None:
    global _WORKER_TOK
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one process per core instead
    _WORKER_TOK = tok


def parse_and_check(
    tok: ChatTokenizer, task: tuple[str, Sequence[tuple[int, bytes]]], max_length: int | None
) -> tuple[Parsed, list[Checked]]:
    """:func:`parse_batch` then :func:`check_batch`: one batch of raw lines, start to end."""
    parsed = parse_batch(*task)
    checked = check_batch(tok, parsed.items, max_length) if parsed.items else []
    parsed.items = []  # not sent back
    return parsed, checked


def _worker_batch(
    task: tuple[str, Sequence[tuple[int, bytes]]], max_length: int | None
) -> tuple[Parsed, list[Checked]]:
    assert _WORKER_TOK is not None
    return parse_and_check(_WORKER_TOK, task, max_length)


def _row(c: Checked, max_length: int | None, kept: int) -> dict[str, Any]:
    """Per-example numbers: where, tokens, trainable tokens, after truncation, codes."""
    trainable = sum(b - a for a, b in c.spans)
    return {
        "file": c.where.file,
        "line": c.where.line,
        "tokens": None if c.failed else c.n_tokens,
        "trainable": None if c.failed else trainable,
        "truncated": bool(not c.failed and max_length is not None and c.n_tokens > max_length),
        "trainable_after_truncation": None if c.failed else kept,
        "findings": [f.code for f in c.findings],
    }


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def scan(
    paths: Sequence[str],
    tok: ChatTokenizer,
    *,
    max_length: int | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
    workers: int | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[Finding], Scan]:
    """Render, count and check every conversation in ``paths``. Streams: batches of
    ``batch_size`` go through :func:`check_batch`, inline for small inputs (or
    ``workers=1``), else in ``workers`` forked processes with a bounded number of
    batches in flight, merged in input order. ``progress(n)`` gets the number of
    examples done; ``on_row(row)`` gets one dict per example in input order (file, line,
    tokens, trainable, truncated, trainable_after_truncation, findings)."""
    result = Scan(tok.name, tok.kind, max_length)
    findings: list[Finding] = []

    def merge(checked: list[Checked]) -> None:
        for c in checked:
            findings.extend(c.findings)
            for f in c.findings:
                result.codes[f.code] += 1
                if f.code == "template_dropped_reasoning" and f.data:
                    result.reasoning_tokens_dropped += int(f.data.get("total_tokens", 0))
            if c.failed:
                result.n_template_errors += 1
                if on_row is not None:
                    on_row(_row(c, max_length, 0))
                continue
            result.mask_sources[c.mask_source] += 1
            result.stats.add(c.n_tokens, c.spans)
            kept = c.spans
            if max_length is not None and c.n_tokens > max_length:
                result.n_truncated += 1
                kept = [(a, min(b, max_length)) for a, b in c.spans if a < max_length]
            n_kept = sum(b - a for a, b in kept)
            result.trainable_kept += n_kept
            if any(f.code == "no_trainable_tokens" for f in c.findings):
                result.n_no_trainable += 1
            if on_row is not None:
                on_row(_row(c, max_length, n_kept))
        if progress is not None:
            progress(len(checked))

    def merge_parsed(p: Parsed) -> None:
        result.n_unreadable += p.n_unreadable
        result.n_skipped += p.n_skipped
        result.n_preference += p.n_preference
        if result.first_problem is None:
            result.first_problem = p.first_problem

    n = workers if workers is not None else default_workers()
    size = sum(os.path.getsize(p) for p in paths if os.path.isfile(p))
    # raw lines go to the workers, which parse them too: the main process only reads
    tasks = _raw_batches(paths, batch_size, result)
    if n <= 1 or (workers is None and size < PARALLEL_MIN_BYTES):
        for task in tasks:
            parsed, checked = parse_and_check(tok, task, max_length)
            merge_parsed(parsed)
            merge(checked)
        return findings, result
    with fork_pool(n, initializer=_init_worker, initargs=(tok,)) as pool:
        for parsed, checked in run_ordered(
            partial(_worker_batch, max_length=max_length), tasks, pool, in_flight=2 * n
        ):
            merge_parsed(parsed)
            merge(checked)
    return findings, result


def trainer_view(
    paths: Sequence[str],
    *,
    tokenizer: str,
    max_length: int | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> tuple[list[Finding], dict[str, Any]]:
    """Check ``paths`` the way a trainer tokenizes them (the ``validate --tokenizer``
    hook). Returns the findings and a JSON-able summary (for validate's ``"trainer"`` key).
    ``progress(n)`` is called with the number of examples done. Raises
    :class:`~curate.records.CurateError` for a tokenizer that cannot be loaded or a
    file that cannot be read.
    """
    if max_length is not None and max_length <= 0:
        raise CurateError(f"--max-length must be a positive number of tokens, got {max_length}.")
    for p in paths:
        check_readable(p)
    tok = load_tokenizer(tokenizer)
    findings, result = scan(paths, tok, max_length=max_length, progress=progress, workers=workers)
    return findings, result.summary()
