"""The library API: one function per stage, the ones the CLI and ``curate run`` call.

Every function takes its inputs first (``paths``: one path, a string or a list; split
takes one file), its output second where it writes one, and options with the CLI's names
(``--max-tokens`` is ``max_tokens``). An option left ``None`` comes from ``config`` (the
``[tool.curate]`` table; default: the nearest ``pyproject.toml``'s, checked by
:mod:`curate.settings`), else from the built-in default. Each returns a
:class:`curate.stage.StageResult` (counts, outputs, findings) whose ``detail`` is the
stage's own report.

Example:
    >>> import curate, json, os, tempfile
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "a.jsonl")
    >>> _ = open(p, "w").write(json.dumps({"messages": [
    ...     {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}) + "\\n")
    >>> r = curate.validate(p, config={})
    >>> r.counts.read, r.counts.kept, r.extra["exit_code"]
    (1, 1, 0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from curate.records import CurateError, Location
from curate.stage import Counts, StageResult

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def as_paths(paths: Paths) -> list[str]:
    """One path, a string or a list of them, as a list of strings.

    Example:
        >>> as_paths("a.jsonl"), as_paths([Path("a"), "b"])
        (['a.jsonl'], ['a', 'b'])
    """
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise CurateError("no input given: pass a file (or a list of files)")
    return out


def _config(config: dict[str, Any] | None) -> dict[str, Any]:
    if config is not None:
        from curate.settings import check_pyproject

        return check_pyproject(config, "config")
    from curate.config import load_config

    return load_config()


def _pick(value: Any, cfg: dict[str, Any], key: str, default: Any) -> Any:
    """The argument, else ``[tool.curate.validate]``'s key, else the top-level key,
    else the default."""
    if value is not None:
        return value
    section = cfg.get("validate", {})
    if key in section:
        return section[key]
    return cfg.get(key, default)


def validate(
    paths: Paths,
    *,
    model: str | None = None,
    max_tokens: int | None = None,
    epochs: int | None = None,
    price: float | None = None,
    target: str | None = None,
    fail_on: str | None = None,
    workers: int | None = None,
    max_findings: int | None = None,
    duplicates: str | None = None,
    near_threshold: float | None = None,
    content: bool | None = None,
    expectations: str | os.PathLike[str] | None = None,
    data_docs: str | os.PathLike[str] | None = None,
    tokenizer: str | None = None,
    max_length: int | None = None,
    config: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    render_progress: Callable[[int], None] | None = None,
    notes: Callable[[str], None] | None = None,
    map_batches: Any = None,
) -> StageResult:
    """Validate chat JSONL files; the Python twin of ``curate validate`` (same option
    names). ``detail`` is the :class:`curate.validate.ValidationReport`; ``extra`` holds
    ``fail_on``, ``exit_code`` and ``price_source``.

    ``progress`` advances with bytes read, ``render_progress`` with examples rendered by
    the trainer view (``tokenizer``), ``notes`` receives one-line remarks.
    """
    from curate.tokens import MODELS
    from curate.validate import standard_validators, validate_path

    files = as_paths(paths)
    cfg = _config(config)
    model_name = str(_pick(model, cfg, "model", "gpt-4o-mini"))
    price_value = _pick(price, cfg, "price", None)
    prices = cfg.get("prices", {})
    if price_value is None and isinstance(prices, dict):
        price_value = prices.get(model_name)
    if price_value is not None and price_value < 0:
        raise CurateError(f"price must be >= 0 (got {price_value})")
    fail = str(_pick(fail_on, cfg, "fail_on", "error"))
    if fail not in ("error", "warning", "info", "never"):
        raise CurateError(f"fail_on must be one of error, warning, info, never (got {fail!r})")
    section = cfg.get("content", {})
    validators, corpus = standard_validators(
        content_config=section if isinstance(section, dict) else {},
        duplicates=str(_pick(duplicates, cfg, "duplicates", "exact")),
        near_threshold=float(_pick(near_threshold, cfg, "near_threshold", 0.8)),
        content=bool(_pick(content, cfg, "content_checks", True)),
        # a missing [content] extra is worth a note only when content checks were asked for
        notes=notes if content or cfg.get("content_checks") or section else None,
    )
    suite = _pick(expectations, cfg, "expectations_suite", None)
    suite_dict: dict[str, Any] = {}
    stats_columns: bool | tuple[str, ...] = False
    if suite is not None:
        from curate.expectations import load_suite, suite_columns

        suite_dict = load_suite(str(suite))  # a bad suite fails before the long pass
        stats_columns = suite_columns(suite_dict)  # the pass builds only what it reads
    if data_docs is not None:
        from curate.stage import OutputPlan

        OutputPlan(files, "validate").add("data_docs", data_docs, folder=True)  # fail early
        try:  # Great Expectations logs a traceback per page when it cannot write
            Path(data_docs).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            from curate.stage import write_error

            raise write_error(data_docs, e) from e
    report = validate_path(
        files,
        model=model_name,
        max_tokens=_pick(max_tokens, cfg, "max_tokens", None),
        epochs=_pick(epochs, cfg, "epochs", None),
        price=price_value,
        target=str(_pick(target, cfg, "target", "curate")),
        workers=_pick(workers, cfg, "workers", None),
        max_findings=_pick(max_findings, cfg, "max_findings", 100_000),
        validators=validators,
        corpus_validators=corpus,
        progress=progress,
        stats=stats_columns,
        map_batches=map_batches,
    )
    if suite is not None:
        from curate.expectations import check_table

        where = Location(files[0]) if len(files) == 1 else Location("<total>")
        try:
            found = check_table(
                report.stats_table(),
                suite_dict,
                location=where,
                suite_source=str(suite),
                data_docs=str(data_docs) if data_docs else None,
            )
        except OSError as e:
            raise CurateError(
                f"{data_docs}: cannot write the Data Docs there ({e.strerror or e}). "
                "Choose a folder you can write to."
            ) from e
        report.add_findings(found)
    tok = _pick(tokenizer, cfg, "tokenizer", None)
    if tok is not None:
        from curate.trainer import trainer_view

        t_findings, t_summary = trainer_view(
            files,
            tokenizer=str(tok),
            max_length=_pick(max_length, cfg, "max_length", None),
            progress=render_progress,
            workers=_pick(workers, cfg, "workers", None),
        )
        report.add_findings(t_findings)
        report.extra["trainer"] = t_summary
    code = report.exit_code(fail)
    n = report.n_examples
    counts = Counts(read=n, kept=n - report.n_invalid, rejected=report.n_invalid)
    counts.check("validate")
    return StageResult(
        "validate",
        counts,
        findings=list(report.findings),
        extra={
            "fail_on": fail,
            "exit_code": code,
            "price_source": _price_source(model_name, price_value, MODELS),
        },
        detail=report,
    )


def _price_source(model: str, price: float | None, models: dict[str, Any]) -> str:
    from curate.tokens import PRICES_SOURCE

    if price is not None:
        return "user (--price or [tool.curate])"
    return PRICES_SOURCE


def ingest(
    paths: Paths,
    output: str | os.PathLike[str],
    *,
    format: str | None = None,
    rejects: str | os.PathLike[str] | None = None,
    maps: dict[str, str] | None = None,
    system: str | None = None,
    split: str | None = None,
    config: dict[str, Any] | None = None,
    **kwargs: Any,
) -> StageResult:
    """Convert any supported input into canonical chat JSONL; the twin of ``curate
    ingest``. ``detail`` is the :class:`curate.ingest.IngestReport`."""
    from curate.ingest import ingest_paths

    sec = _config(config).get("ingest", {})
    kwargs.setdefault("media_dir", sec.get("media_dir"))
    rep = ingest_paths(
        as_paths(paths),
        output,
        format=format if format is not None else sec.get("format"),
        rejects=rejects,
        maps=maps if maps is not None else sec.get("maps"),
        system=system if system is not None else sec.get("system"),
        split=split if split is not None else sec.get("split"),
        **kwargs,
    )
    outputs = {"output": Path(rep.output)}
    if rep.rejects:
        outputs["rejects"] = Path(rep.rejects)
    return StageResult("ingest", rep.counts, outputs, detail=rep)


def split(
    paths: Paths,
    output: str | os.PathLike[str],
    *,
    config: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> StageResult:
    """Split one chat JSONL file into train and eval in ``output`` (a folder); the twin
    of ``curate split``: ``options`` are :class:`curate.split.SplitOptions`' fields
    (``eval_fraction``, ``seed``, ``group_by``...), defaults from ``[tool.curate.split]``.
    ``detail`` is the manifest."""
    from curate.split import SplitOptions, split_path

    files = as_paths(paths)
    if len(files) != 1:
        raise CurateError(f"split takes one input file, got {len(files)}: concatenate them first")
    merged = {**_config(config).get("split", {}), **options}
    merged.pop("engine", None)
    m = split_path(files[0], output, SplitOptions(**merged), progress=progress)
    c = m["counts"]
    counts = Counts(read=c["read"], kept=c["train"] + c["eval"], rejected=c["rejected"])
    counts.check("split")
    out = Path(output)
    outputs = {name: out / name for name in (*m["files"], "manifest.json")}
    return StageResult("split", counts, outputs, detail=m)


def redact(
    paths: Paths,
    output: str | os.PathLike[str],
    *,
    audit: str | os.PathLike[str] | None = None,
    config: dict[str, Any] | None = None,
) -> StageResult:
    """Mask secrets and personal data into a new file; the twin of ``curate redact``."""
    from curate.redact import redact_path

    files = as_paths(paths)
    if len(files) != 1:
        raise CurateError(f"redact takes one input file, got {len(files)}")
    rep = redact_path(files[0], output, audit=audit, config=_config(config).get("content", {}))
    counts = Counts(read=rep.n_read, kept=rep.n_written)
    counts.check("redact")
    return StageResult(
        "redact", counts, {"output": Path(rep.output), "audit": Path(rep.audit)}, detail=rep
    )


def report(paths: Paths, output: str | os.PathLike[str], **options: Any) -> StageResult:
    """Write the offline HTML report; the twin of ``curate report``."""
    from curate.report import write_report

    data = write_report(as_paths(paths), output, **options)
    return StageResult("report", Counts(), {"report": Path(output)}, detail=data)


def profile(
    paths: Paths, output: str | os.PathLike[str] | None = None, **options: Any
) -> StageResult:
    """Learn a starter expectation suite; the twin of ``curate profile`` (written to
    ``output`` when given). ``detail`` is the suite."""
    import json

    from curate.expectations import profile as learn
    from curate.stage import OutputPlan

    files = as_paths(paths)
    plan = OutputPlan(files, "profile")
    if output is not None:
        plan.add("suite", output)
    suite = learn(files, **options)
    if output is not None:
        with plan.writing():
            plan.write_text("suite", json.dumps(suite, indent=2, ensure_ascii=False) + "\n")
            plan.commit()
    return StageResult(
        "profile", Counts(), {"suite": Path(output)} if output is not None else {}, detail=suite
    )


def dedup(
    paths: Paths,
    output: str | os.PathLike[str] | None = None,
    *,
    config: dict[str, Any] | None = None,
    **options: Any,
) -> StageResult:
    """Remove duplicates; the twin of ``curate dedup`` (``options`` as
    :func:`curate.dedup.run.dedup_paths`, defaults from ``[tool.curate.dedup]``).
    ``detail`` is the dedup summary."""
    from curate.dedup.run import dedup_paths

    merged = {**_config(config).get("dedup", {}), **options}
    merged.pop("engine", None)
    s = dedup_paths(as_paths(paths), output, **merged)
    d = s.to_dict()
    removed = sum(v for k, v in d.items() if k.startswith("removed_") and k != "removed_invalid")
    counts = Counts(
        read=d["read"], kept=d["kept"], rejected=d.get("removed_invalid", 0), deduplicated=removed
    )
    counts.check("dedup")
    outputs = {k: Path(v) for k, v in d.items() if k in ("output", "rejects", "clusters") and v}
    return StageResult("dedup", counts, outputs, detail=s)
