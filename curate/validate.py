"""``curate validate``: format, length, tokens and cost of chat fine-tuning JSONL.

The work per batch of lines is one pure function (:func:`check_batch`): parse, run the
per-example validators, count tokens, extract the features corpus validators need. It
runs inline for small files and in a process pool (both cores) for large ones, with a
bounded number of batches in flight, so memory stays flat however large the file. The
main process only splits lines, merges results in order and feeds corpus validators.

Example:
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.jsonl")
    >>> rows = [{"messages": [{"role": "user", "content": "hi"},
    ...                       {"role": "assistant", "content": "hello"}]}]
    >>> _ = open(p, "w").write("\\n".join(json.dumps(r) for r in rows) + "\\n")
    >>> r = validate_path([p], model="gpt-3.5-turbo")
    >>> r.n_examples, r.n_invalid, r.tokens_total
    (1, 0, 13)
"""

from __future__ import annotations

import os
from array import array
from collections import Counter as CountDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.io import (
    duplicate_key_findings,
    empty_file_finding,
    line_findings,
    parse_line,
    sniff_not_jsonl,
    source_file,
)
from curate.parallel import LineBlock, block_batches, fork_pool, run_ordered
from curate.records import Example, Finding, Location, Severity
from curate.tokens import (
    ModelSpec,
    billing_tokens,
    count_examples,
    default_epochs,
    model_spec,
    shared_counter,
)
from curate.validators.base import CorpusValidator, ExampleRef, Validator
from curate.validators.format import OpenAIFormat, countable_messages
from curate.validators.length import too_long

FAIL_ON = ("error", "warning", "info", "never")
#: bytes of whole lines per batch: the main process reads blocks and counts newlines, the
#: workers split and parse them
BATCH_BYTES = 1 << 20
PARALLEL_MIN_BYTES = 4 << 20


# -- the pure batch function ------------------------------------------------------------


@dataclass(slots=True)
class BatchTask:
    file: str
    #: ``(line_number, raw)`` pairs: a :class:`curate.parallel.LineBlock` or a list
    lines: Iterable[tuple[int, bytes]]
    encoding: str
    max_tokens: int
    validators: tuple[Validator, ...]
    corpus_validators: tuple[CorpusValidator, ...]
    #: also build the per-example statistics rows (curate.stats) from the same pass
    stats: bool = False
    #: with ``stats``: only these columns of the table (``None``: all of them)
    stats_names: tuple[str, ...] | None = None
    #: the model whose image tokens are added to each example's total (``--target
    #: openai``: OpenAI's formulas, curate.validators.media.image_tokens); ``None``: none
    image_model: str | None = None


@dataclass(slots=True)
class BatchResult:
    n_examples: int = 0
    n_bytes: int = 0
    #: per counted example, as columns (arrays pickle and merge at C speed): number of
    #: messages, total tokens, assistant tokens; and how many have no system / no user
    #: message
    n_messages: array = field(default_factory=lambda: array("l"))
    totals: array = field(default_factory=lambda: array("l"))
    assistant: array = field(default_factory=lambda: array("l"))
    n_missing_system: int = 0
    n_missing_user: int = 0
    findings: list[Finding] = field(default_factory=list)
    error_lines: list[int] = field(default_factory=list)
    #: per parsed example: (id, line, [feature per corpus validator])
    features: list[tuple[str, int, list[Any]]] = field(default_factory=list)
    #: with ``task.stats``: the curate.stats table of the batch's parsed examples, one
    #: list per column in COLUMNS order, or per column of ``task.stats_names`` (columns
    #: pickle and load into polars faster than rows)
    stats_columns: list[list[Any]] | None = None


def check_batch(task: BatchTask) -> BatchResult:
    """Validate one batch of raw lines. Pure: same task, same result.

    Each validator runs over the whole batch before the next one starts (its code, tables
    and caches stay warm in the CPU's caches instead of being evicted by parsing and the
    other checks at every example); the findings are then put back in line order, each
    line's in validator order, as if each example had been checked by all in turn."""
    out = BatchResult()
    countable: list[tuple[Example, list[Any], Any]] = []
    # with task.stats, per parsed example: [example, codes, n_errors, counted total]
    stats_input: list[list[Any]] = []
    known: dict[str, int] | None = {} if task.stats else None
    # per line with anything to say: (line, the example or None, its findings, how many
    # of them are about the line itself, or -1 for a line that does not parse)
    items: list[tuple[int, Example | None, list[Finding], int]] = []
    for line, raw in task.lines:
        out.n_bytes += len(raw) + 1
        found = line_findings(task.file, line, raw)
        parsed = parse_line(task.file, line, raw)
        if parsed is None:
            if found:
                items.append((line, None, found, 0))
            continue
        out.n_examples += 1
        if isinstance(parsed, Finding):
            found.append(parsed)
            items.append((line, None, found, -1))  # -1: the line is not an example
            continue
        found.extend(duplicate_key_findings(task.file, line, raw, parsed.data))
        items.append((line, parsed, found, len(found)))
    for v in task.validators:
        many = getattr(v, "check_many", None)
        if many is not None:  # the validator's own batch loop (see Validator)
            parsed_items = [(ex, found) for _, ex, found, _ in items if ex is not None]
            results = many([ex for ex, _ in parsed_items])
            for (_, found), more in zip(parsed_items, results, strict=True):
                found.extend(more)
            continue
        check = v.check
        for _, ex, found, _ in items:
            if ex is not None:
                found.extend(check(ex))
    for line, ex, found, n_line in items:
        out.findings.extend(found)
        if ex is None:
            if n_line < 0:
                out.error_lines.append(line)
            continue
        checked = found[n_line:]  # the validators' findings (not the line's own)
        if any(f.severity is Severity.ERROR for f in checked):
            out.error_lines.append(line)
        counted = countable_messages(ex.data)
        item: list[Any] | None = None
        if task.stats:
            if checked:
                codes = {f.code for f in checked}
                n_err = sum(f.severity is Severity.ERROR for f in checked)
                item = [ex, codes, n_err, None]
            else:
                item = [ex, None, 0, None]
            stats_input.append(item)
        if counted is not None and all(isinstance(m, dict) for m in counted[0]):
            # the statistics row reuses the total when it is for these very messages
            # (a preference record is counted from its input and outputs instead)
            countable.append((ex, *counted, item))
        if task.corpus_validators:
            out.features.append((ex.id, line, [cv.features(ex) for cv in task.corpus_validators]))
    if countable:
        counts = count_examples(
            [(m, t) for _, m, t, _ in countable], shared_counter(task.encoding), known
        )
        error_set = set(out.error_lines)
        if task.image_model is not None:
            from curate.validators.media import image_tokens
        for (ex, msgs, _, item), c in zip(countable, counts, strict=True):
            line = ex.source.line or 0
            roles = [m.get("role") for m in msgs]
            has_system = "system" in roles
            has_user = "user" in roles
            total = c.total
            if task.image_model is not None:
                total += image_tokens(ex, task.image_model)
            out.n_messages.append(len(msgs))
            out.totals.append(total)
            out.assistant.append(c.assistant)
            out.n_missing_system += not has_system
            out.n_missing_user += not has_user
            if item is not None and msgs is ex.messages:
                item[3] = total
            if total > task.max_tokens:
                out.findings.append(too_long(total, ex.source, max_tokens=task.max_tokens))
                if item is not None:
                    if item[1] is None:
                        item[1] = set()
                    item[1].add("too_long")
                    item[2] += 1
                if line not in error_set:
                    out.error_lines.append(line)
    if task.stats:
        out.stats_columns = _stats_columns(stats_input, task, known or {})
    return out


def _stats_columns(
    items: list[list[Any]], task: BatchTask, known: dict[str, int]
) -> list[list[Any]]:
    """The curate.stats table of a batch as columns, reusing what validate just worked out:
    the token counts (each text's, and the cookbook total), the finding codes. With
    ``task.stats_names``, only those columns (and the costly values only they need)."""
    from curate.stats import COLUMNS, row_values

    counter = shared_counter(task.encoding)
    get = known.get

    def count(text: str) -> int:
        n = get(text)
        return n if n is not None else counter.count(text)

    limit = task.max_tokens
    names = task.stats_names
    need = None if names is None else frozenset(names)
    with_codes = need is None or "codes" in need
    rows = []
    for ex, codes, n_err, total in items:
        values = row_values(ex, count, max_tokens=limit, total=total, need=need)
        # a code once per example, sorted (validate's findings come from several checks)
        code_text = ",".join(sorted(codes)) if codes and with_codes else ""
        rows.append((*values, code_text, n_err))
    if names is None:
        if not rows:
            return [[] for _ in COLUMNS]
        return [list(col) for col in zip(*rows, strict=True)]
    if not rows:
        return [[] for _ in names]
    index = {c: i for i, c in enumerate(COLUMNS)}
    columns = list(zip(*rows, strict=True))
    return [list(columns[index[c]]) for c in names]


# -- results ----------------------------------------------------------------------------


def distribution(values: Sequence[int] | np.ndarray) -> dict[str, float | int | None]:
    """min, max, mean, median, p5, p95 of ``values``, computed as the OpenAI cookbook does
    (numpy). Note: the cookbook prints ``p5 / p95`` from ``np.quantile(values, 0.1)`` and
    ``np.quantile(values, 0.9)``; ``p5`` and ``p95`` here are those same numbers, for
    parity. The true 5th and 95th percentiles are ``q05`` and ``q95``.

    Example:
        >>> distribution([26, 45, 8032, 30, 1])["median"]
        30.0
    """
    arr = np.asarray(values)
    if arr.size == 0:
        return dict.fromkeys(("min", "max", "mean", "median", "p5", "p95", "q05", "q95"))
    return {
        "min": int(arr.min()),
        "max": int(arr.max()),
        "mean": float(np.mean(arr)),
        "median": float(np.median(arr)),
        "p5": float(np.quantile(arr, 0.1)),
        "p95": float(np.quantile(arr, 0.9)),
        "q05": float(np.quantile(arr, 0.05)),
        "q95": float(np.quantile(arr, 0.95)),
    }


@dataclass
class FileReport:
    """What validation found in one file (or, for the total, in all of them)."""

    file: str
    n_examples: int = 0
    error_lines: set[tuple[str, int]] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    findings_by_code: CountDict[str] = field(default_factory=CountDict)
    severity_counts: CountDict[str] = field(default_factory=CountDict)
    n_missing_system: int = 0
    n_missing_user: int = 0
    n_messages: array = field(default_factory=lambda: array("l"))
    totals: array = field(default_factory=lambda: array("l"))
    assistant: array = field(default_factory=lambda: array("l"))
    findings_truncated: bool = False

    @property
    def n_invalid(self) -> int:
        return len(self.error_lines)

    @property
    def n_valid(self) -> int:
        return self.n_examples - self.n_invalid

    @property
    def tokens_total(self) -> int:
        return int(sum(self.totals))

    def add_finding(self, f: Finding, max_findings: int) -> None:
        self.findings_by_code[f.code] += 1
        self.severity_counts[f.severity.value] += 1
        if f.severity is Severity.ERROR and f.location.line is not None:
            self.error_lines.add((f.location.file, f.location.line))
        if len(self.findings) < max_findings:
            self.findings.append(f)
        else:
            self.findings_truncated = True

    def worst(self) -> Severity | None:
        for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
            if self.severity_counts.get(sev.value):
                return sev
        return None


@dataclass
class ValidationReport:
    """The result of :func:`validate_path`: one :class:`FileReport` per file plus the
    total, the billing estimate and the exit code."""

    files: list[FileReport]
    total: FileReport
    model: ModelSpec
    max_tokens: int
    epochs: int | None
    price_per_million: float
    extra: dict[str, Any] = field(default_factory=dict)
    stats_frames: list[Any] = field(default_factory=list, repr=False)
    #: the columns of the statistics table (``None``: all of curate.stats.COLUMNS)
    stats_names: tuple[str, ...] | None = field(default=None, repr=False)

    def stats_table(self) -> Any:
        """The per-example statistics table (:mod:`curate.stats`) built during the run
        (``validate_path(..., stats=True)``, or the columns it named), as one polars
        DataFrame."""
        import polars as pl

        from curate.stats import schema

        if not self.stats_frames:
            return pl.DataFrame(schema=schema(self.stats_names))
        return pl.concat(self.stats_frames, how="vertical")

    @property
    def n_examples(self) -> int:
        return self.total.n_examples

    @property
    def n_invalid(self) -> int:
        return self.total.n_invalid

    @property
    def tokens_total(self) -> int:
        return self.total.tokens_total

    @property
    def findings(self) -> list[Finding]:
        return self.total.findings

    def add_findings(self, findings: Iterable[Finding], max_findings: int = 100_000) -> None:
        """Join findings from another pass (expectations, trainer view) to the report."""
        by_file = {r.file: r for r in self.files}
        for f in findings:
            rep = by_file.get(f.location.file)
            if rep is not None:
                rep.add_finding(f, max_findings)
            self.total.add_finding(f, max_findings)

    def exit_code(self, fail_on: str = "error") -> int:
        """0 when nothing reaches ``fail_on`` (error, warning, info or never), else 1."""
        if fail_on == "never":
            return 0
        threshold = Severity(fail_on)
        worst = self.total.worst()
        return 1 if worst is not None and worst >= threshold else 0

    def billing(self, rep: FileReport) -> dict[str, Any]:
        n = len(rep.totals)
        n_billing = billing_tokens(rep.totals, self.max_tokens)
        epochs = self.epochs if self.epochs is not None else default_epochs(n)
        est = n_billing * epochs
        return {
            "model": self.model.name,
            "encoding": self.model.encoding,
            "max_tokens": self.max_tokens,
            "n_billing_tokens": n_billing,
            "epochs": epochs,
            "estimated_training_tokens": est,
            "price_per_million_tokens": self.price_per_million,
            "estimated_cost_usd": round(est * self.price_per_million / 1_000_000, 6),
        }

    def file_dict(self, rep: FileReport) -> dict[str, Any]:
        return {
            "file": rep.file,
            "n_examples": rep.n_examples,
            "n_valid": rep.n_valid,
            "n_invalid": rep.n_invalid,
            "findings_by_code": dict(sorted(rep.findings_by_code.items())),
            "findings_by_severity": dict(sorted(rep.severity_counts.items())),
            "findings": [f.to_dict() for f in rep.findings],
            "findings_truncated": rep.findings_truncated,
            "stats": {
                "n_counted": len(rep.totals),
                "n_missing_system": rep.n_missing_system,
                "n_missing_user": rep.n_missing_user,
                "n_too_long": rep.findings_by_code.get("too_long", 0),
                "messages_per_example": distribution(rep.n_messages),
            },
            "tokens": {
                "total": rep.tokens_total,
                "assistant_total": int(sum(rep.assistant)),
                "per_example": distribution(rep.totals),
                "assistant_per_example": distribution(rep.assistant),
            },
            "billing": self.billing(rep),
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object: the totals at the top level, each file under ``files``."""
        out = self.file_dict(self.total)
        out.pop("file")
        out["files"] = [self.file_dict(r) for r in self.files]
        out.update(self.extra)
        return out


# -- the driver -------------------------------------------------------------------------


def _batches(path: str) -> Iterator[LineBlock]:
    return block_batches(path, block_bytes=BATCH_BYTES)


DUPLICATE_MODES = ("none", "exact", "near")


def standard_validators(
    *,
    content: bool = True,
    content_config: dict[str, Any] | None = None,
    duplicates: str = "exact",
    near_threshold: float = 0.8,
    notes: Callable[[str], None] | None = None,
) -> tuple[list[Validator], list[CorpusValidator]]:
    """The validators ``curate validate`` runs beside the format check by default: the
    reasoning-trace checks (:mod:`curate.validators.reasoning`), the tool-call argument
    checks (:mod:`curate.validators.tools`), the content checks
    (``[tool.curate.content]`` config) and the duplicate finders
    (``none``, ``exact`` or ``near``). ``notes`` receives a line per missing optional
    library. Returns ``(validators, corpus_validators)`` for :func:`validate_path`.

    Example:
        >>> v, c = standard_validators(content=False, duplicates="exact")
        >>> [x.name for x in c]
        ['exact_duplicates']
    """
    from curate.records import CurateError
    from curate.validators.reasoning import Reasoning
    from curate.validators.tools import ToolArguments

    validators: list[Validator] = [Reasoning(), ToolArguments()]
    corpus: list[CorpusValidator] = []
    if content:
        from curate.validators.content import content_validators, missing_extras

        try:
            validators.extend(content_validators(content_config or {}))
        except ValueError as e:
            raise CurateError(f"[tool.curate.content]: {e}") from e
        for note in missing_extras():
            if notes is not None:
                notes(note)
    if duplicates not in DUPLICATE_MODES:
        raise CurateError(f"duplicates must be one of none, exact, near (got {duplicates!r})")
    if duplicates != "none":
        from curate.validators.duplicates import ExactDuplicates, NearDuplicates

        corpus.append(ExactDuplicates())
        if duplicates == "near":
            corpus.append(NearDuplicates(threshold=near_threshold))
    return validators, corpus


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def validate_path(
    paths: Sequence[str | os.PathLike[str]],
    *,
    model: str = "gpt-4o-mini",
    max_tokens: int | None = None,
    epochs: int | None = None,
    price: float | None = None,
    target: str = "curate",
    workers: int | None = None,
    max_findings: int = 100_000,
    validators: Sequence[Validator] = (),
    corpus_validators: Sequence[CorpusValidator] = (),
    progress: Callable[[int], None] | None = None,
    stats: bool | Sequence[str] = False,
    map_batches: Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]] | None = None,
) -> ValidationReport:
    """Validate chat fine-tuning JSONL files; the Python twin of ``curate validate``.

    Args:
        paths: JSONL files (``.gz``/``.bz2``/``.xz`` are read transparently).
        model: the model to count and price for (sets the encoding, the per-example
            limit and the price); see :data:`curate.tokens.MODELS`.
        max_tokens: per-example limit in tokens (default: the model's).
        epochs: training epochs (default: OpenAI's rule from the number of examples).
        price: USD per 1M training tokens (default: the model's list price).
        target: ``curate`` or ``openai`` (stricter top-level keys).
        workers: processes for large files (default: all cores; 1 = inline).
        max_findings: findings kept in the report (counts are always exact).
        validators: extra per-example validators, run after the format check.
        corpus_validators: cross-example validators (duplicates, leakage).
        progress: called with the number of bytes read, as reading advances.
        stats: also build the per-example statistics table (``report.stats_table()``)
            in the same pass, from the same token counts and findings (for dataset
            expectations). ``True`` builds every column; column names build only those
            (a suite's: :func:`curate.expectations.suite_columns`), with the same values, and skip
            the work only the others need (the content id, for one).
        map_batches: runs :func:`check_batch` over the batches elsewhere, results in
            order (``curate.engine.ray.ordered_map``: Ray Data tasks); default: inline or
            the local process pool.

    Raises:
        curate.records.InputError: a path is missing, a directory or unreadable.
    """
    from curate.io import check_readable

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    spec = model_spec(model, max_tokens=max_tokens, price=price)
    limit = max_tokens if max_tokens is not None else spec.max_tokens
    unit_price = price if price is not None else spec.price_per_million
    from curate.validators.media import ImageExampleCount, Media

    # media checks run beside the format check (they need the target); OpenAI's limit of
    # examples with images per file is a corpus check
    all_validators: tuple[Validator, ...] = (
        OpenAIFormat(target=target),
        Media(target=target),
        *validators,
    )
    cvs = tuple(corpus_validators) + ((ImageExampleCount(),) if target == "openai" else ())
    files = [str(p) for p in paths]
    for p in files:
        check_readable(p)
        sniff_not_jsonl(p)
    n_workers = workers if workers is not None else default_workers()
    big = any(os.path.getsize(source_file(p)) >= PARALLEL_MIN_BYTES for p in files)
    executor: ProcessPoolExecutor | None = None
    if n_workers > 1 and big and map_batches is None:
        shared_counter(spec.encoding)  # load once; forked workers inherit it
        for v in all_validators:  # the same for what a validator loads (models, databases)
            prepare = getattr(v, "prepare", None)
            if callable(prepare):
                prepare()
        executor = fork_pool(n_workers)
    total = FileReport("<total>")
    reports: list[FileReport] = []
    frames: list[Any] = []
    stats_names = _stats_names(stats)
    index = 0
    try:
        for path in files:
            rep = FileReport(path)
            reports.append(rep)
            tasks = (
                BatchTask(
                    path,
                    b,
                    spec.encoding,
                    limit,
                    all_validators,
                    cvs,
                    bool(stats),
                    stats_names,
                    image_model=spec.name if target == "openai" else None,
                )
                for b in _batches(path)
            )
            seen_lines = False
            results = (
                map_batches(check_batch, tasks)
                if map_batches is not None
                else run_ordered(check_batch, tasks, executor, in_flight=2 * n_workers + 2)
            )
            for res in results:
                seen_lines = True
                _merge(res, rep, total, max_findings)
                if res.stats_columns is not None:
                    frames.append(_frame(res.stats_columns, stats_names))
                for ex_id, line, feats in res.features:
                    ref = ExampleRef(ex_id, Location(path, line), index)
                    index += 1
                    for cv, feat in zip(cvs, feats, strict=True):
                        for f in cv.add(ref, feat):
                            rep.add_finding(f, max_findings)
                            total.add_finding(f, max_findings)
                if progress is not None:
                    progress(res.n_bytes)
            if not seen_lines or not rep.n_examples:
                f = empty_file_finding(path, blank=seen_lines)
                rep.add_finding(f, max_findings)
                total.add_finding(f, max_findings)
        for cv in cvs:
            for f in cv.finish():
                for rep in reports:
                    if rep.file == f.location.file:
                        rep.add_finding(f, max_findings)
                total.add_finding(f, max_findings)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return ValidationReport(
        reports,
        total,
        spec,
        limit,
        epochs,
        unit_price,
        stats_frames=frames,
        stats_names=stats_names,
    )


def _stats_names(stats: bool | Sequence[str]) -> tuple[str, ...] | None:
    """The statistics columns ``stats`` asks for (``None``: all of them)."""
    if isinstance(stats, bool) or not stats:
        return None
    if isinstance(stats, str):
        raise TypeError("stats takes True or a sequence of column names, not a string")
    from curate.stats import COLUMNS, table_columns

    names = table_columns(stats)
    unknown = sorted(set(stats) - set(COLUMNS) - {"has_error"})
    if unknown:
        raise ValueError(
            f"no such statistics column: {', '.join(unknown)} (have: {', '.join(COLUMNS)})"
        )
    return None if len(names) == len(COLUMNS) else names


def _frame(columns: list[list[Any]], names: tuple[str, ...] | None = None) -> Any:
    import polars as pl

    from curate.stats import COLUMNS, schema

    cols = COLUMNS if names is None else names
    return pl.DataFrame(dict(zip(cols, columns, strict=True)), schema=schema(names))


def _merge(res: BatchResult, rep: FileReport, total: FileReport, max_findings: int) -> None:
    for r in (rep, total):
        r.n_examples += res.n_examples
        r.n_messages.extend(res.n_messages)
        r.totals.extend(res.totals)
        r.assistant.extend(res.assistant)
        r.n_missing_system += res.n_missing_system
        r.n_missing_user += res.n_missing_user
        for f in res.findings:
            r.add_finding(f, max_findings)
        # lines with an error that has no line number in a finding (none today) still count
        for line in res.error_lines:
            r.error_lines.add((rep.file, line))


# ``curate.validate(...)`` is the library function (curate.api) even once this module is imported
from curate.stage import callable_module  # noqa: E402

callable_module(__name__)
