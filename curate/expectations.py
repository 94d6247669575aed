"""Dataset-level expectations: Great Expectations over the per-example statistics table.

Per-example checks miss drift: a new batch where half the system prompts are missing,
answers are suddenly twice as long, one source dominates, examples repeat. :func:`profile`
learns a starter suite from a dataset you trust (value ranges, quantiles and means with a
tolerance, proportions, the source mix, uniqueness, not-null); :func:`check_expectations`
runs a suite against new data (the inputs together form one batch) and turns each failed
expectation into an ``expectation_failed`` finding that says what was expected and what
was observed. The suite is plain Great Expectations 1.x JSON: edit it, commit it next to
the data, add any GX expectation over the table's columns (:data:`curate.stats.COLUMNS`).

Great Expectations is imported lazily (about 2 s), only to check; profiling writes the
suite JSON without it. Its chart library (altair, ~10% of that import) is left out until
something draws a chart (Data Docs): see :func:`_deferred_imports`. It runs with an
ephemeral context (no project folder), analytics off (``GX_ANALYTICS_ENABLED=false``) and
its progress bars off.

Example:
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.jsonl")
    >>> row = {"messages": [{"role": "user", "content": "hi"},
    ...                     {"role": "assistant", "content": "hello"}]}
    >>> _ = open(p, "w").write(json.dumps(row) + "\\n")
    >>> suite = profile([p])
    >>> types = {e["type"] for e in suite["expectations"]}
    >>> "expect_column_quantile_values_to_be_between" in types
    True
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curate.records import CurateError, Finding, InputError, Location, Severity

if TYPE_CHECKING:
    import polars as pl

    from curate.records import Example
    from curate.validators.base import ExampleRef

CODE = "expectation_failed"
#: numeric columns profiled with a range, a mean and quantiles
NUMERIC = (
    "n_messages",
    "n_turns",
    "chars_system",
    "chars_user",
    "chars_assistant",
    "tokens_user",
    "tokens_assistant",
    "tokens_total",
)
#: boolean columns profiled as a proportion
PROPORTIONS = ("has_system", "uses_tools")
#: columns that need the per-example format checks run again inside validate
FINDING_COLUMNS = frozenset({"codes", "n_errors", "has_error"})
#: categorical columns profiled as a set of values
CATEGORIES = ("roles", "script")
QUANTILES = (0.1, 0.5, 0.9)
QUANTILE_SPREAD = 0.1
MAX_SOURCES = 50


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far new data may move from the profiled data before an expectation fails.

    Args:
        relative: fraction a mean, quantile or range bound may move (0.25 = 25%).
        proportion: absolute change allowed in a proportion (0.1 = 10 points).
        kl_divergence: largest KL divergence of the source mix from the profiled one.
        mostly: share of examples that must fall in a learned value range or set.
    """

    relative: float = 0.25
    proportion: float = 0.1
    kl_divergence: float = 0.1
    mostly: float = 0.99


# -- profiling (no Great Expectations import needed) ----------------------------------------


def _expectation(type_: str, why: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": {"curate": why}}


def _bound(value: float, rel: float, *, up: bool, integer: bool) -> float | int:
    v = value * (1 + rel) if up else value * (1 - rel)
    if integer:
        return math.ceil(v) if up else max(0, math.floor(v))
    return round(v, 6)


def _with_derived(table: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    if "n_errors" not in table.columns:  # a table built with a suite's columns only
        return table
    return table.with_columns(has_error=pl.col("n_errors") > 0)


#: a source that is a data file's name (curate ingest's ``source.file``, or the input file's
#: name when an example names no source) rather than a label such as ``metadata.source``
_DATA_FILE_NAME = re.compile(
    r"\.(jsonl|ndjson|json|csv|tsv|parquet|arrow|txt)(\.(gz|bz2|xz|zst))?$", re.IGNORECASE
)


def file_named_sources(table: pl.DataFrame) -> int:
    """How many examples of a statistics table have a file name as their ``source``
    (their own input file's name, or a data file's name such as ingest's ``source.file``).

    A source mix of file names is not a property of the data: the same distribution in a
    file with another name would look like a new source.

    Example:
        >>> import polars as pl
        >>> file_named_sources(pl.DataFrame({"file": ["d/a.jsonl", "d/a.jsonl", "b.jsonl"],
        ...     "source": ["a.jsonl", "forum", "raw.json.gz"]}))
        2
    """
    files = table["file"].to_list() if "file" in table.columns else [None] * table.height
    n = 0
    for src, file in zip(table["source"].to_list(), files, strict=True):
        if src is None:
            continue
        if (file is not None and src == os.path.basename(file)) or _DATA_FILE_NAME.search(src):
            n += 1
    return n


def profile_table(
    table: pl.DataFrame, *, name: str = "curate", tolerance: Tolerance | None = None
) -> dict[str, Any]:
    """A starter Great Expectations suite (its JSON dict) learned from a statistics table
    (:func:`curate.stats.stats_table`) of data you trust.

    Raises:
        CurateError: the table is empty (nothing to learn from).
    """
    import polars as pl

    tol = tolerance or Tolerance()
    if table.height == 0:
        raise CurateError("no examples to profile: the input holds no parseable records")
    t = _with_derived(table)
    exps: list[dict[str, Any]] = []
    n = t.height
    for col in ("id", "source", "n_messages", "tokens_total"):
        if t[col].null_count() == 0:
            exps.append(
                _expectation(
                    "expect_column_values_to_not_be_null",
                    f"every profiled example has {col}",
                    column=col,
                )
            )
    n_unique = t["id"].n_unique()
    if n_unique == n:
        exps.append(
            _expectation(
                "expect_column_values_to_be_unique", "no duplicate examples (by id)", column="id"
            )
        )
    else:
        share = n_unique / n
        exps.append(
            _expectation(
                "expect_column_proportion_of_unique_values_to_be_between",
                f"profiled share of distinct ids {share:.3f}",
                column="id",
                min_value=round(max(0.0, share - tol.proportion), 4),
                max_value=1.0,
            )
        )
    for col in NUMERIC:
        s = t[col].drop_nulls().cast(pl.Float64)
        if s.len() == 0:
            continue
        integer = col != "context_share"
        lo, hi = float(s.min()), float(s.max())  # type: ignore[arg-type]
        exps.append(
            _expectation(
                "expect_column_values_to_be_between",
                f"profiled range {lo:g} to {hi:g}",
                column=col,
                min_value=_bound(lo, tol.relative, up=False, integer=integer),
                max_value=_bound(hi, tol.relative, up=True, integer=integer),
                mostly=tol.mostly,
            )
        )
        mean = float(s.mean())  # type: ignore[arg-type]
        exps.append(
            _expectation(
                "expect_column_mean_to_be_between",
                f"profiled mean {mean:.2f}",
                column=col,
                min_value=_bound(mean, tol.relative, up=False, integer=False),
                max_value=_bound(mean, tol.relative, up=True, integer=False),
            )
        )
        qs = [float(s.quantile(q, interpolation="linear")) for q in QUANTILES]  # type: ignore[arg-type]
        # each quantile may land between its neighbours' values (+-QUANTILE_SPREAD), then
        # move by the relative tolerance: robust to discrete columns (a median of 3 or 5
        # messages) while a doubling still fails
        spread = [
            (
                float(s.quantile(max(0.0, q - QUANTILE_SPREAD), interpolation="linear")),  # type: ignore[arg-type]
                float(s.quantile(min(1.0, q + QUANTILE_SPREAD), interpolation="linear")),  # type: ignore[arg-type]
            )
            for q in QUANTILES
        ]
        exps.append(
            _expectation(
                "expect_column_quantile_values_to_be_between",
                "profiled quantiles "
                + ", ".join(f"{q:g}: {v:g}" for q, v in zip(QUANTILES, qs, strict=True)),
                column=col,
                quantile_ranges={
                    "quantiles": list(QUANTILES),
                    "value_ranges": [
                        [
                            _bound(lo_q, tol.relative, up=False, integer=True),
                            _bound(hi_q, tol.relative, up=True, integer=True),
                        ]
                        for lo_q, hi_q in spread
                    ],
                },
            )
        )
    if t["context_share"].drop_nulls().len():
        hi = float(t["context_share"].max())  # type: ignore[arg-type]
        exps.append(
            _expectation(
                "expect_column_max_to_be_between",
                f"profiled largest share of the model context {hi:.3f}",
                column="context_share",
                min_value=0.0,
                max_value=max(1.0, round(hi, 6)),
            )
        )
    for col in PROPORTIONS:
        p = float(t[col].cast(pl.Float64).mean())  # type: ignore[arg-type]
        exps.append(
            _expectation(
                "expect_column_mean_to_be_between",
                f"profiled proportion {p:.3f}",
                column=col,
                min_value=round(max(0.0, p - tol.proportion), 4),
                max_value=round(min(1.0, p + tol.proportion), 4),
            )
        )
    for col in CATEGORIES:
        values = sorted(v for v in t[col].unique().to_list() if v is not None)
        if values:
            exps.append(
                _expectation(
                    "expect_column_values_to_be_in_set",
                    f"profiled values of {col}",
                    column=col,
                    value_set=values,
                    mostly=tol.mostly,
                )
            )
    named_by_file = file_named_sources(t)
    counts = t["source"].value_counts(sort=True)
    if named_by_file:
        source_mix = (
            f"not learned: {named_by_file} of {n:,} examples name no source of their own "
            "(their source is a file name, which a new batch in another file does not share); "
            "give each example metadata.source to profile the mix"
        )
    elif 0 < counts.height <= MAX_SOURCES:
        source_mix = "learned"
        values = counts["source"].to_list()
        weights = [c / n for c in counts["count"].to_list()]
        exps.append(
            _expectation(
                "expect_column_kl_divergence_to_be_less_than",
                "profiled source mix "
                + ", ".join(f"{v} {w:.0%}" for v, w in zip(values, weights, strict=True)),
                column="source",
                partition_object={"values": values, "weights": weights},
                threshold=tol.kl_divergence,
            )
        )
    else:
        source_mix = f"not learned: {counts.height:,} sources (more than {MAX_SOURCES})"
    return {
        "name": name,
        "id": None,
        "expectations": exps,
        "meta": {
            "curate": {
                "profiled_examples": n,
                "columns": "curate.stats.COLUMNS plus has_error (n_errors > 0)",
                "source_mix": source_mix,
                "tolerance": {
                    "relative": tol.relative,
                    "proportion": tol.proportion,
                    "kl_divergence": tol.kl_divergence,
                    "mostly": tol.mostly,
                },
            }
        },
        "notes": None,
    }


def profile(
    paths: Sequence[str | os.PathLike[str]],
    *,
    model: str = "gpt-4o-mini",
    max_tokens: int | None = None,
    name: str = "curate",
    tolerance: Tolerance | None = None,
) -> dict[str, Any]:
    """Learn a starter suite from trusted data (JSONL, Parquet, HF folders); the Python
    twin of ``curate profile``. Returns the suite's JSON dict."""
    from curate.stats import stats_table

    table = stats_table(paths, model=model, max_tokens=max_tokens)
    if table.height == 0:
        raise CurateError(
            f"no examples to profile in {', '.join(str(p) for p in paths)}: no line parsed as "
            "JSON (run curate validate on it to see why)"
        )
    return profile_table(table, name=name, tolerance=tolerance)


def load_suite(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a suite JSON file, with clear errors for a missing or malformed one."""
    try:
        with open(path, encoding="utf-8") as f:
            suite = json.load(f)
    except FileNotFoundError as e:
        raise InputError(
            f"{path}: no such suite file. Create one with: curate profile GOOD.jsonl -o {path}"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the suite ({e})") from e
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: the suite is not valid JSON ({e.msg})") from e
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise InputError(f"{path}: not a Great Expectations suite (needs an 'expectations' list)")
    return suite


# -- checking (Great Expectations) ------------------------------------------------------------


def _gx() -> Any:
    """Import Great Expectations (its analytics off), or say which extra to install.

    Its import makes ~400,000 objects that live as long as the process: the cyclic
    garbage collector is paused during the import and those objects are frozen after it
    (``gc.freeze``), so neither the import nor any later collection walks them (measured:
    ~0.5 s of the import's ~3 s of CPU, and the collection at exit; bench/RESULTS.md).
    ``CURATE_GX_FREEZE=0`` in the environment imports it plainly."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    freeze = (
        "great_expectations" not in sys.modules
        and os.environ.get("CURATE_GX_FREEZE", "1") != "0"
        and gc.isenabled()
    )
    if freeze:
        gc.disable()
    try:
        import great_expectations as gx
    except ImportError as e:
        raise CurateError(
            "expectations need the expectations extra: pip install 'curate[expectations]'"
        ) from e
    finally:
        if freeze:
            gc.freeze()
            gc.enable()
    return gx


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _range(kw: dict[str, Any]) -> str:
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if lo is not None and hi is not None:
        return f"{_fmt(lo)} to {_fmt(hi)}"
    return f">= {_fmt(lo)}" if lo is not None else f"<= {_fmt(hi)}"


def describe_failure(type_: str, kwargs: dict[str, Any], result: dict[str, Any]) -> str:
    """One readable sentence for a failed expectation: the expectation, its column, the
    observed and the expected values.

    Example:
        >>> describe_failure("expect_column_mean_to_be_between",
        ...     {"column": "has_system", "min_value": 0.8, "max_value": 1.0},
        ...     {"observed_value": 0.5})
        'expect_column_mean_to_be_between on has_system: observed 0.5, expected 0.8 to 1'
    """
    col = kwargs.get("column")
    head = f"{type_} on {col}" if col else type_
    observed = result.get("observed_value")
    if type_ == "expect_column_quantile_values_to_be_between" and isinstance(observed, dict):
        qr = kwargs.get("quantile_ranges", {})
        parts = []
        for q, v, (lo, hi) in zip(
            qr.get("quantiles", []),
            observed.get("values", []),
            qr.get("value_ranges", []),
            strict=False,
        ):
            if not ((lo is None or v >= lo) and (hi is None or v <= hi)):
                parts.append(
                    f"quantile {_fmt(q)} observed {_fmt(v)}, expected {_fmt(lo)} to {_fmt(hi)}"
                )
        return f"{head}: " + ("; ".join(parts) or f"observed {_fmt(observed.get('values'))}")
    if type_ == "expect_column_kl_divergence_to_be_less_than":
        details = result.get("details") or {}
        obs = details.get("observed_partition") or {}
        mix = ", ".join(
            f"{v} {w:.0%}"
            for v, w in zip(obs.get("values", []), obs.get("weights", []), strict=False)
            if w and w > 0
        )
        expected = kwargs.get("partition_object") or {}
        known = set(expected.get("values", []))
        new = [v for v in obs.get("values", []) if v not in known]
        value = "infinite" if observed is None else _fmt(observed)
        text = (
            f"{head}: observed divergence {value}, expected < {_fmt(kwargs.get('threshold'))}"
            f" (observed mix {mix}; profiled "
            + ", ".join(
                f"{v} {w:.0%}"
                for v, w in zip(
                    expected.get("values", []), expected.get("weights", []), strict=False
                )
            )
            + ")"
        )
        if new:
            text += f"; values not in the profile: {', '.join(map(str, new))}"
        return text
    if "unexpected_count" in result and observed is None:
        n = result.get("unexpected_count", 0)
        total = result.get("element_count")
        pct = result.get("unexpected_percent")
        examples = [c.get("value") for c in result.get("partial_unexpected_counts") or []][:5]
        if not examples:
            examples = list(dict.fromkeys(result.get("partial_unexpected_list") or []))[:5]
        if type_ == "expect_column_values_to_not_be_null":
            what = "null values"
        elif type_ == "expect_column_values_to_be_unique":
            what = "duplicated values"
        elif type_ == "expect_column_values_to_be_in_set":
            what = f"values outside the profiled set {_fmt(kwargs.get('value_set'))}"
        elif "min_value" in kwargs or "max_value" in kwargs:
            what = f"values outside {_range(kwargs)}"
        else:
            what = "unexpected values"
        out = f"{head}: {n:,}"
        if total:
            out += f" of {total:,}"
        out += f" {what}"
        if pct is not None:
            out += f" ({pct:.1f}%"
            mostly = kwargs.get("mostly")
            if mostly is not None and mostly < 1:
                out += f", at most {(1 - mostly) * 100:.1f}% allowed"
            out += ")"
        if examples and type_ != "expect_column_values_to_not_be_null":
            out += "; e.g. " + ", ".join(_fmt(e) for e in examples)
        return out
    if "min_value" in kwargs or "max_value" in kwargs:
        return f"{head}: observed {_fmt(observed)}, expected {_range(kwargs)}"
    return f"{head}: observed {_fmt(observed)}"


@dataclass
class _Context:
    gx: Any
    context: Any
    batch_definition: Any


def _context(data_docs: str | None) -> _Context:
    gx = _gx()
    import logging

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    # no temporary docs site (the default ephemeral context makes one per call in /tmp)
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    )
    ctx = gx.get_context(mode="ephemeral", project_config=config)
    ctx.variables.progress_bars = {"globally": False, "metric_calculations": False}
    if data_docs is not None:
        ctx.add_data_docs_site(
            site_name="curate",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": os.path.abspath(data_docs),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    asset = ctx.data_sources.add_pandas("curate").add_dataframe_asset("examples")
    return _Context(gx, ctx, asset.add_batch_definition_whole_dataframe("all"))


def _build_suite(gx: Any, suite_dict: dict[str, Any], source: str) -> Any:
    d = {k: v for k, v in suite_dict.items() if k in ("name", "expectations", "meta", "notes")}
    d.setdefault("name", "curate")
    try:
        return gx.ExpectationSuite(**d)
    except Exception as e:
        raise InputError(f"{source}: the suite does not load in Great Expectations ({e})") from e


def _suite_columns(suite: dict[str, Any]) -> set[str]:
    return {
        str(e["kwargs"]["column"])
        for e in suite.get("expectations", [])
        if isinstance(e, dict)
        and isinstance(e.get("kwargs"), dict)
        and e["kwargs"].get("column") is not None
    }


#: kwargs that name the columns an expectation reads
_COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")


def _needed_columns(suite: dict[str, Any], have: Sequence[str]) -> list[str] | None:
    """The table columns ``suite`` reads (in table order, ``has_error`` last when named),
    so only those go to pandas; ``None`` (all of them) when some expectation does not say
    (a table-level one such as ``expect_table_row_count_to_be_between``).

    Example:
        >>> s = {"expectations": [{"type": "expect_column_values_to_be_unique",
        ...                        "kwargs": {"column": "id"}}]}
        >>> _needed_columns(s, ["id", "file", "tokens_total"])
        ['id']
    """
    named: set[str] = set()
    for e in suite.get("expectations", []):
        kw = e.get("kwargs") if isinstance(e, dict) else None
        if not isinstance(kw, dict):
            return None
        cols: list[Any] = []
        for key in _COLUMN_KWARGS:
            v = kw.get(key)
            if isinstance(v, list):
                cols.extend(v)
            elif v is not None:
                cols.append(v)
        if not cols:
            return None
        named.update(str(c) for c in cols)
    out = [c for c in have if c in named]
    if "has_error" in named:
        out.append("has_error")
    return out or None


def suite_columns(suite: dict[str, Any]) -> tuple[str, ...]:
    """The statistics columns (:data:`curate.stats.COLUMNS`) a suite reads, in table order,
    for ``validate_path(..., stats=suite_columns(suite))``: the validate pass then builds
    only those (the content id only when an expectation reads ``id``). Every column when
    an expectation reads no one column (``expect_table_columns_to_match_set`` sees the
    whole table) or the suite names none the table has (the check then says which).

    Example:
        >>> s = {"expectations": [
        ...     {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "has_error"}},
        ...     {"type": "expect_column_max_to_be_between", "kwargs": {"column": "tokens_total"}}]}
        >>> suite_columns(s)
        ('tokens_total', 'n_errors')
    """
    from curate.stats import COLUMNS, table_columns

    needed = _needed_columns(suite, list(COLUMNS))
    names = table_columns(needed or ())
    return names or tuple(COLUMNS)


def check_table(
    table: pl.DataFrame,
    suite: dict[str, Any],
    *,
    location: Location,
    suite_source: str = "suite",
    data_docs: str | None = None,
) -> list[Finding]:
    """Run ``suite`` on a statistics table; one finding per failed expectation."""
    if table.height == 0:
        return []
    missing = sorted(
        {
            str(e.get("kwargs", {}).get("column"))
            for e in suite["expectations"]
            if isinstance(e, dict)
            and e.get("kwargs", {}).get("column") is not None
            and e["kwargs"]["column"] not in table.columns
            and e["kwargs"]["column"] != "has_error"
        }
    )
    if missing:
        from curate.stats import COLUMNS

        unknown = [c for c in missing if c not in COLUMNS]
        if not unknown:  # a table built with fewer columns (validate_path(stats=[...]))
            raise CurateError(
                f"the statistics table was built without columns {suite_source} reads: "
                f"{', '.join(missing)} (build it with stats=suite_columns(suite) or stats=True)"
            )
        have = [*COLUMNS, *(c for c in table.columns if c not in COLUMNS), "has_error"]
        raise InputError(
            f"{suite_source}: the suite names columns the statistics table does not have: "
            f"{', '.join(unknown)} (have: {', '.join(have)})"
        )
    ctx = _context(data_docs)
    gx = ctx.gx
    needed = _needed_columns(suite, table.columns) if data_docs is None else None
    t = _with_derived(table)
    df = (t if needed is None else t.select(needed)).to_pandas()
    for col in df.columns:
        if df[col].dtype == bool:
            df[col] = df[col].astype("int8")
    gsuite = _build_suite(gx, suite, suite_source)
    if data_docs is not None:
        _numpy_safe_results_store(ctx.context)
        gsuite = ctx.context.suites.add(gsuite)
        vd = ctx.context.validation_definitions.add(
            gx.ValidationDefinition(name="curate", data=ctx.batch_definition, suite=gsuite)
        )
        cp = ctx.context.checkpoints.add(
            gx.Checkpoint(
                name="curate",
                validation_definitions=[vd],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            )
        )
        run = cp.run(batch_parameters={"dataframe": df})
        results = [r for vr in run.run_results.values() for r in vr.results]
    else:
        batch = ctx.batch_definition.get_batch(batch_parameters={"dataframe": df})
        results = batch.validate(gsuite).results
    findings: list[Finding] = []
    for res in results:
        if res.success:
            continue
        cfg = res.expectation_config
        kwargs = dict(cfg.kwargs)
        err = (res.exception_info or {}).get("exception_message")
        if err and res.result == {}:
            message = f"{cfg.type} on {kwargs.get('column')}: could not run ({err})"
        else:
            message = describe_failure(cfg.type, kwargs, dict(res.result))
        meta = cfg.meta or {}
        why = meta.get("curate") if isinstance(meta, dict) else None
        findings.append(
            Finding(
                CODE,
                Severity.ERROR,
                message,
                location,
                hint=(
                    "look at this column in `curate report`; if the change is intended, "
                    "re-profile the suite with `curate profile`"
                ),
                data={
                    "expectation": cfg.type,
                    "column": kwargs.get("column"),
                    "kwargs": _jsonable(kwargs),
                    "observed": _jsonable(res.result.get("observed_value")),
                    "profiled": why,
                },
            )
        )
    return findings


class _NumpyJson:
    """A ``render_module`` for GX's result schema that also writes numpy scalars (GX 1.x
    stores ``numpy.bool_`` in quantile results and then cannot serialise them)."""

    @staticmethod
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> str:
        kwargs["default"] = lambda o: o.item() if hasattr(o, "item") else str(o)
        return json.dumps(obj, *args, **kwargs)

    @staticmethod
    def loads(s: str, *args: Any, **kwargs: Any) -> Any:
        return json.loads(s, *args, **kwargs)


def _numpy_safe_results_store(context: Any) -> None:
    schema = getattr(
        context.validation_results_store, "_expectationSuiteValidationResultSchema", None
    )
    if schema is not None:
        schema.opts.render_module = _NumpyJson


def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _location(paths: Sequence[str]) -> Location:
    return Location(paths[0] if len(paths) == 1 else "<total>")


def check_expectations(
    paths: Sequence[str],
    suite_path: str,
    *,
    model: str = "gpt-4o-mini",
    max_tokens: int | None = None,
    data_docs: str | None = None,
) -> list[Finding]:
    """Check data (JSONL, Parquet, HF folders; all inputs form one batch) against a suite
    file. One ``expectation_failed`` error per failed expectation, located at the file
    (``<total>`` for several). Writes GX Data Docs HTML into ``data_docs`` when given."""
    from curate.stats import stats_table

    suite = load_suite(suite_path)
    files = [str(p) for p in paths]
    table = stats_table(files, model=model, max_tokens=max_tokens)
    return check_table(
        table, suite, location=_location(files), suite_source=suite_path, data_docs=data_docs
    )


# -- the same check inside ``validate_path`` (no second read, tokens counted once) ------------


@dataclass
class ExpectationsValidator:
    """A :class:`curate.validators.base.CorpusValidator` that builds the statistics table
    while ``curate validate`` reads the data (rows computed in its worker processes) and
    checks the suite at the end: ``validate_path(paths, corpus_validators=[
    ExpectationsValidator("suite.json", paths=paths)])``.

    Token counts go through the worker's own :class:`curate.tokens.Counter` memo, so the
    validate pass that follows in the same batch finds them already counted.
    """

    suite_path: str
    paths: Sequence[str] = ()
    model: str = "gpt-4o-mini"
    max_tokens: int | None = None
    data_docs: str | None = None
    target: str = "curate"
    name: str = "expectations"
    _rows: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    _suite: dict[str, Any] | None = field(default=None, repr=False)
    _limit: int = field(default=0, repr=False)
    _encoding: str = field(default="o200k_base", repr=False)
    _need_codes: bool = field(default=True, repr=False)

    def __post_init__(self) -> None:
        from curate.tokens import model_spec

        self._suite = load_suite(self.suite_path)
        spec = model_spec(self.model, max_tokens=self.max_tokens, priced=False)
        self._limit = self.max_tokens if self.max_tokens is not None else spec.max_tokens
        self._encoding = spec.encoding
        # validate reports per-example findings itself; run the format checks again for
        # the table only when the suite looks at them
        self._need_codes = bool(_suite_columns(self._suite) & FINDING_COLUMNS)

    def __getstate__(self) -> dict[str, Any]:
        # workers only need what features() reads
        return {
            "suite_path": self.suite_path,
            "model": self.model,
            "_limit": self._limit,
            "_encoding": self._encoding,
            "target": self.target,
            "_need_codes": self._need_codes,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._rows = []

    def features(self, ex: Example) -> tuple[Any, ...]:
        from curate.stats import COLUMNS, _check_codes, example_row
        from curate.tokens import shared_counter
        from curate.validators.format import OpenAIFormat

        count = _shared_count(shared_counter(self._encoding))
        codes: list[str] = []
        n_errors = 0
        if self._need_codes:
            codes, n_errors = _check_codes(ex, (OpenAIFormat(target=self.target),))
        row = example_row(ex, count, max_tokens=self._limit, codes=codes, n_errors=n_errors)
        if row["tokens_total"] is not None and row["tokens_total"] > self._limit:
            row["codes"] = ",".join(dict.fromkeys([*codes, "too_long"]))
            row["n_errors"] = n_errors + 1
        return tuple(row[c] for c in COLUMNS)

    def add(self, ref: ExampleRef, feature: Any) -> Iterable[Finding]:
        self._rows.append(feature)
        return ()

    def finish(self) -> Iterable[Finding]:
        import polars as pl

        from curate.stats import schema

        table = pl.DataFrame(self._rows, schema=schema(), orient="row")
        self._rows = []
        assert self._suite is not None
        return check_table(
            table,
            self._suite,
            location=_location([str(p) for p in self.paths] or ["<total>"]),
            suite_source=self.suite_path,
            data_docs=self.data_docs,
        )


#: texts parked in a worker's Counter memo beyond what it keeps itself (see _shared_count)
_PARKED: list[str] = []
_PARKED_CHARS = [0]
#: parked characters at most (about two validate batches); past it they are dropped
PARK_LIMIT = 2 * (2 << 20)


def _shared_count(counter: Any) -> Any:
    """``count(text)`` through ``counter``'s memo, storing what it counts so the
    ``count_examples`` call that ends the same validate batch finds it counted. Texts the
    memo would not keep itself (2,000 characters or more, or a full memo) are parked and
    dropped again once they pass :data:`PARK_LIMIT` characters, so memory stays bounded; a
    text dropped early is simply counted again (same number)."""
    memo: dict[str, int] = counter._memo
    count_many = counter.count_many

    def count(text: str) -> int:
        n = memo.get(text)
        if n is None:
            # the counter's own (chunked) counting; it remembers the text when its memo
            # budgets allow, else the text is parked here
            n = count_many([text])[0]
            if text not in memo:
                if _PARKED_CHARS[0] > PARK_LIMIT:
                    for t in _PARKED:
                        memo.pop(t, None)
                    _PARKED.clear()
                    _PARKED_CHARS[0] = 0
                _PARKED.append(text)
                _PARKED_CHARS[0] += len(text)
                memo[text] = n
        return n

    return count
