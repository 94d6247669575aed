"""``curate run CONFIG.toml``: ingest -> validate -> dedup -> (review pull) -> split.

Each stage is the stage's own Python function (no subprocesses), reading the previous
stage's file and writing its own into ``[run].workdir``:

==========  =============================================  ==============================
stage       function                                       writes
==========  =============================================  ==============================
ingest      :func:`curate.ingest.ingest_paths`             ``01-ingested.jsonl``
validate    :func:`curate.validate.validate_path`          ``02-validation.json``
dedup       :func:`curate.dedup.run.dedup_paths`           ``03-deduplicated.jsonl``
review      :func:`curate.review.pull.pull` (optional)     ``04-reviewed.jsonl``
split       :func:`curate.split.split_path`                ``split/`` (+ ``manifest.json``)
==========  =============================================  ==============================

The run stops after ``validate`` when a finding reaches ``[run].fail_on`` (exit 1), and at
any stage that raises a usage or input error (exit 2); the summary says where. Every stage
is deterministic, so re-running an unchanged config rewrites byte-identical files. When
the dedup stage removed near-duplicates, split does not look for them again (set
``[split] near = true`` to force it).

A config (paths are relative to the config file's folder)::

    [run]
    workdir = "build"
    fail_on = "error"          # error, warning, info or never

    [ingest]
    inputs = ["raw/*.json", "raw/chat.jsonl"]

    [validate]
    model = "gpt-4o-mini"

    [dedup]
    threshold = 0.8

    [review]                   # optional: apply Argilla decisions
    enabled = false
    dataset = "support-sft"

    [split]
    eval_fraction = 0.1
    format = "openai"

Example:
    >>> import os, tempfile, json
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "raw.jsonl"), "w") as f:
    ...     for i in range(20):
    ...         m = [{"role": "user", "content": f"q{i}"},
    ...              {"role": "assistant", "content": f"a{i}"}]
    ...         _ = f.write(json.dumps({"messages": m}) + "\\n")
    >>> with open(os.path.join(d, "run.toml"), "w") as f:
    ...     _ = f.write('[ingest]\\ninputs = ["raw.jsonl"]\\n[split]\\neval_size = 4\\n')
    >>> s = run_config(os.path.join(d, "run.toml"))
    >>> [(st["name"], st["status"]) for st in s["stages"]][-1], s["exit_code"]
    (('split', 'ok'), 0)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from curate.records import CurateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

STAGES = ("ingest", "validate", "dedup", "review", "split")
FAIL_ON = ("error", "warning", "info", "never")


def _schemas() -> dict[str, dict[str, Any]]:
    """The keys each section takes and their checks (:mod:`curate.settings`)."""
    from curate import settings as st

    enabled = {"enabled": st.boolean}
    validate = {k: v for k, v in st.VALIDATE.items() if k not in ("fail_on", "prices", "tokenizer")}
    return {
        "run": {"workdir": st.string, "fail_on": st.FAIL_ON, "engine": st.choice("local", "ray")},
        "ingest": {**st.INGEST, "inputs": st.string_list},
        "validate": {**validate, **enabled, "content": st.boolean},
        "dedup": {**st.DEDUP, **enabled},
        "review": {**st.REVIEW, **enabled},
        "split": {**st.SPLIT, "output": st.string},
    }


def load_run_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a pipeline config; raise :class:`CurateError` naming the problem
    (an unknown section or key, a value of the wrong type: ``enabled = "false"``,
    ``workdir = 5``)."""
    from curate.settings import check_table, check_value, table

    p = Path(path)
    if not p.is_file():
        raise CurateError(f"{path}: no such config file")
    try:
        with open(p, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CurateError(f"{path}: not valid TOML: {e}") from e
    except OSError as e:
        raise CurateError(f"{path}: cannot read: {e}") from e
    schemas = _schemas()
    unknown = sorted(set(raw) - set(schemas))
    if unknown:
        raise CurateError(
            f"{path}: unknown section(s) [{'], ['.join(unknown)}]; known: {', '.join(schemas)}"
        )
    cfg: dict[str, Any] = {}
    for section, value in raw.items():
        value = check_value(f"[{section}]", value, table, f"{path}:")
        cfg[section] = check_table(value, schemas[section], f"{path} [{section}]")
    if not cfg.get("ingest", {}).get("inputs"):
        raise CurateError(f'{path}: [ingest] needs inputs = ["file or glob", ...]')
    if cfg.get("review", {}).get("enabled") and not cfg["review"].get("dataset"):
        raise CurateError(f'{path}: [review] enabled needs dataset = "..."')
    return cfg


def _stage(name: str) -> dict[str, Any]:
    return {"name": name, "status": "skipped", "counts": {}, "output": None}


def run_config(
    path: str | os.PathLike[str],
    *,
    progress: Callable[[str], None] | None = None,
    engine: str | None = None,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Run the pipeline a config describes; the Python twin of ``curate run``.

    Returns a summary: ``stages`` (name, status ``ok``/``failed``/``skipped``, counts,
    output), ``exit_code`` (0 ok, 1 findings at ``fail_on``, 2 a stage's error) and
    ``stopped_at``. ``engine`` (else ``[run] engine``) and ``ray_address`` pick where
    validate, dedup and split run (:mod:`curate.engine`).
    """
    cfg = load_run_config(path)
    base = Path(path).resolve().parent
    run = cfg.get("run", {})
    workdir = base / run.get("workdir", "build")
    from curate.engine.cli import settle

    eng = settle(engine if engine is not None else run.get("engine"), ray_address)
    workdir.mkdir(parents=True, exist_ok=True)
    stages = {name: _stage(name) for name in STAGES}
    summary: dict[str, Any] = {
        "config": str(path),
        "workdir": str(workdir),
        "stages": list(stages.values()),
        "exit_code": 0,
        "stopped_at": None,
    }

    def note(name: str) -> None:
        if progress is not None:
            progress(name)

    current = ""
    try:
        current = "ingest"
        note(current)
        ingested = workdir / "01-ingested.jsonl"
        _ingest(cfg.get("ingest", {}), base, ingested, stages["ingest"])

        current = "validate"
        val = cfg.get("validate", {})
        if val.get("enabled", True):
            note(current)
            code = _validate(val, ingested, workdir, run.get("fail_on", "error"), stages[current],
                             eng)  # fmt: skip
            if code:
                summary["exit_code"] = code
                summary["stopped_at"] = current
                return summary

        current = "dedup"
        data = ingested
        ded = cfg.get("dedup", {})
        if ded.get("enabled", True):
            note(current)
            data = _dedup(ded, base, data, workdir, stages[current], eng)

        current = "review"
        rev = cfg.get("review", {})
        if rev.get("enabled", False):
            note(current)
            data = _review(rev, data, workdir, stages[current])

        current = "split"
        note(current)
        split_cfg = dict(cfg.get("split", {}))
        if ded.get("enabled", True) and ded.get("near", True):
            # dedup already removed near-duplicates: grouping them again finds none
            split_cfg.setdefault("near", False)
        _split(split_cfg, data, workdir, stages[current], eng)
    except (CurateError, ValueError, TypeError) as e:
        # ValueError / TypeError: a config value of the wrong kind (threshold = 2, "0.1")
        msg = str(e) if isinstance(e, CurateError) else f"[{current}] bad setting: {e}"
        stages[current]["status"] = "failed"
        stages[current]["message"] = msg
        summary["exit_code"] = 2
        summary["stopped_at"] = current
    return summary


def _ingest(sec: dict[str, Any], base: Path, out: Path, st: dict[str, Any]) -> None:
    try:
        from curate.ingest import ingest_paths
    except ImportError as e:  # pragma: no cover - depends on the tree
        raise CurateError(f"the ingest stage is not available: {e}") from e
    inputs = [i if os.path.isabs(i) else str(base / i) for i in sec["inputs"]]
    rep = ingest_paths(
        inputs,
        out,
        exclude_under=out.parent,  # the workdir: a glob over it must not read the outputs
        format=sec.get("format"),
        maps=sec.get("maps"),
        system=sec.get("system"),
        split=sec.get("split"),
    )
    st.update(
        status="ok",
        output=str(out),
        counts={"read": rep.read, "written": rep.written, "rejected": rep.rejected},
    )
    if rep.rejects:
        st["rejects"] = rep.rejects


def _validate(
    sec: dict[str, Any],
    data: Path,
    workdir: Path,
    fail_on: str,
    st: dict[str, Any],
    engine: tuple[str, str | None] = ("local", None),
) -> int:
    from curate.api import validate
    from curate.engine import batch_mapper
    from curate.export import write_json

    skip = ("enabled", "content", "engine", "ray_address")
    opts = {k: v for k, v in sec.items() if k not in skip}
    with batch_mapper(*engine) as mb:
        result = validate([data], content=sec.get("content"), fail_on=fail_on, config={},
                          map_batches=mb, **opts)  # fmt: skip
    report = result.detail
    out = workdir / "02-validation.json"
    write_json(out, report.to_dict())
    by_sev = {"error": 0, "warning": 0, "info": 0}
    for f in report.findings:
        by_sev[f.severity.value] += 1
    code = result.extra["exit_code"]
    st.update(
        status="failed" if code else "ok",
        output=str(out),
        counts={
            "examples": report.n_examples,
            "invalid": report.n_invalid,
            "tokens": report.tokens_total,
            **{f"{k}s": v for k, v in by_sev.items()},
        },
    )
    if code:
        st["message"] = (
            f"findings at or above fail_on={fail_on!r}: see {out} (or run curate validate "
            f"{data}); set [run] fail_on to go on"
        )
    return code


def _dedup(
    sec: dict[str, Any],
    base: Path,
    data: Path,
    workdir: Path,
    st: dict[str, Any],
    engine: tuple[str, str | None] = ("local", None),
) -> Path:
    import inspect

    try:
        from curate.dedup.run import dedup_paths as local_dedup
        from curate.dedup.run import reasoning_kwargs
        from curate.engine import dedup as dedup_paths
    except ImportError as e:  # pragma: no cover - depends on the tree
        raise CurateError(f"the dedup stage is not available: {e}") from e
    out = workdir / "03-deduplicated.jsonl"
    against = [a if os.path.isabs(a) else str(base / a) for a in sec.get("against", [])]
    # the section's keys (checked by curate.settings) that are dedup's own options; the
    # defaults are dedup's, not restated here
    own = set(inspect.signature(local_dedup).parameters) - {"inputs", "output", "against",
                                                           "progress", "reasoning"}  # fmt: skip
    s = dedup_paths(
        [data],
        out,
        against=against,
        engine=engine[0],
        ray_address=engine[1],
        **{k: v for k, v in sec.items() if k in own},
        **reasoning_kwargs(sec.get("reasoning", "exclude"), engine[0]),
    )
    d = s.to_dict()
    st.update(
        status="ok",
        output=str(out),
        counts={
            k: d[k]
            for k in (
                "read",
                "kept",
                "removed_exact",
                "removed_near",
                "removed_contained",
                "removed_contaminated",
                "removed_invalid",
            )
        },
    )
    return out


def _review(sec: dict[str, Any], data: Path, workdir: Path, st: dict[str, Any]) -> Path:
    try:
        from curate.review.client import connect
        from curate.review.pull import pull
    except ImportError as e:  # pragma: no cover - depends on the tree
        raise CurateError(f"the review stage is not available: {e}") from e
    key_env = sec.get("api_key_env", "ARGILLA_API_KEY")
    client = connect(sec.get("api_url"), os.environ.get(key_env))
    out = workdir / "04-reviewed.jsonl"
    res = pull(
        data,
        client=client,
        dataset=sec["dataset"],
        workspace=sec.get("workspace"),
        out=out,
        audit=workdir / sec.get("audit", "review-audit.jsonl"),
        pending=sec.get("pending", "keep"),
        conflicts=sec.get("conflicts", "majority"),
    )
    r = res.to_dict()
    st.update(
        status="ok",
        output=str(out),
        counts={k: r[k] for k in ("read", "kept", "rejected", "corrected", "not_reviewed")},
    )
    return out


def _split(
    sec: dict[str, Any],
    data: Path,
    workdir: Path,
    st: dict[str, Any],
    engine: tuple[str, str | None] = ("local", None),
) -> None:
    from curate.engine import split as split_path
    from curate.split import SplitOptions

    known = {f.name for f in fields(SplitOptions)}
    kwargs = {k: v for k, v in sec.items() if k in known}
    if "eval_fraction" not in kwargs and "eval_size" not in kwargs:
        kwargs["eval_fraction"] = 0.1
    out = workdir / sec.get("output", "split")
    m = split_path(data, out, SplitOptions(**kwargs), engine=engine[0], ray_address=engine[1])
    c = m["counts"]
    st.update(
        status="ok",
        output=str(out),
        counts={
            "read": c["read"],
            "train": c["train"],
            "eval": c["eval"],
            "rejected": c["rejected"],
            "groups": m["groups"]["total"],
            "straddling": m["leakage"]["groups_straddling"],
            "train_tokens": m["tokens"]["train"],
            "eval_tokens": m["tokens"]["eval"],
        },
    )
