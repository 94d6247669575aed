"""The per-example statistics table: one row per example, the numbers dataset-level
checks (:mod:`curate.expectations`) and the HTML report (:mod:`curate.report`) work on.

Columns (see :data:`COLUMNS`): where the example came from (``file``, ``line``, ``row``,
``format``, ``source``), its shape (``n_messages``, ``n_turns`` = user messages,
``roles``, ``has_system``, tool use), characters and tokens of the content per role (for
the assistant, its final answers; their thinking traces, ``reasoning_content``, are in
``chars_reasoning`` and ``tokens_reasoning``), the cookbook token total (``tokens_total``,
the same number ``curate validate`` counts, through :func:`curate.tokens.count_examples`),
its share of the model's per-example limit, a writing-system guess (``script``: latin,
cyrillic, cjk...; no language-id library is a dependency, so this is the script of the
text, not its language) and the codes of the per-example findings (the format checks and
``too_long``).

The work is a pure function over a batch of examples (:func:`stats_rows`), so it runs in
a loop, a process pool, or a Ray ``map_batches``; :func:`stats_table` streams JSONL,
Parquet files and Hugging Face ``save_to_disk`` folders through it into one polars frame.

Example:
    >>> from curate.records import Example, Location
    >>> ex = Example({"messages": [{"role": "user", "content": "hi"},
    ...                            {"role": "assistant", "content": "hello"}]},
    ...              Location("t.jsonl", 1))
    >>> row = stats_rows([ex], model="gpt-3.5-turbo")[0]
    >>> row["n_turns"], row["has_system"], row["chars_assistant"], row["tokens_total"]
    (1, False, 5, 13)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.records import Example, Finding, InputError, Location, Severity
from curate.records import content_text as records_content_text
from curate.tokens import (
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    TOKENS_PER_REPLY,
    shared_counter,
    value_text,
)

if TYPE_CHECKING:
    import polars as pl

    from curate.tokens import Counter

ROLES = ("system", "user", "assistant", "tool")
BATCH_SIZE = 2000

#: column name -> polars dtype name (built lazily into a schema by :func:`schema`)
COLUMNS: dict[str, str] = {
    "id": "str",
    "file": "str",
    "line": "int",
    "row": "int",
    "format": "str",
    "source": "str",
    "n_messages": "int",
    "n_turns": "int",
    "roles": "str",
    "has_system": "bool",
    **{f"chars_{r}": "int" for r in ROLES},
    **{f"tokens_{r}": "int" for r in ROLES},
    #: assistant thinking traces (``reasoning_content``); ``*_assistant`` is the answer
    "chars_reasoning": "int",
    "tokens_reasoning": "int",
    "tokens_total": "int",
    "context_share": "float",
    "uses_tools": "bool",
    "n_tool_calls": "int",
    "script": "str",
    "codes": "str",
    "n_errors": "int",
}


def schema(names: Sequence[str] | None = None) -> dict[str, Any]:
    """The polars schema of the table (of the columns ``names`` only, when given)."""
    import polars as pl

    types = {"str": pl.String, "int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean}
    wanted = COLUMNS if names is None else names
    return {name: types[COLUMNS[name]] for name in wanted}


def table_columns(names: Iterable[str]) -> tuple[str, ...]:
    """The table columns among ``names``, in table order (``has_error``, the derived
    column expectations may read, stands for ``n_errors``; other names are dropped).

    Example:
        >>> table_columns(["tokens_total", "has_error", "id", "nonsense"])
        ('id', 'tokens_total', 'n_errors')
    """
    wanted = set(names)
    if "has_error" in wanted:
        wanted.add("n_errors")
    return tuple(c for c in COLUMNS if c in wanted)


# -- small pure helpers ----------------------------------------------------------------


def content_text(content: Any) -> str | None:
    """The text of a message's content (:func:`curate.records.content_text`, non-text
    parts left out), ``None`` when there is none."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    return records_content_text(content, non_text="skip") or None


_SCRIPTS = [
    ("cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("greek", re.compile(r"[\u0370-\u03ff]")),
    ("arabic", re.compile(r"[\u0600-\u06ff\u0750-\u077f]")),
    ("hebrew", re.compile(r"[\u0590-\u05ff]")),
    ("devanagari", re.compile(r"[\u0900-\u097f]")),
    ("cjk", re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")),
    ("thai", re.compile(r"[\u0e00-\u0e7f]")),
]
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
SCRIPT_SAMPLE_CHARS = 2000
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def guess_script(text: str) -> str | None:
    """The dominant writing system of ``text`` (first 2,000 characters), or ``None``
    when it has no letters.

    Example:
        >>> guess_script("Hello there"), guess_script("Привет, мир"), guess_script("你好世界")
        ('latin', 'cyrillic', 'cjk')
    """
    sample = text[:SCRIPT_SAMPLE_CHARS]
    if sample.isascii():
        return "latin" if _LATIN.search(sample) else None
    ascii_part = sample.encode("ascii", "ignore")
    ascii_letters = len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
    if ascii_letters and ascii_letters >= len(sample) - len(ascii_part):
        # English with a few curly quotes or accents: no other script can have more
        # letters than there are non-ASCII characters, and latin wins ties
        return "latin"
    best, best_n = None, 0
    for name, rx in (("latin", _LATIN), *_SCRIPTS):
        n = len(rx.findall(sample))
        if n > best_n:
            best, best_n = name, n
    return best


def source_of(data: Any, file: str) -> str:
    """The provenance an example names: ``metadata.source``, a string ``source``, the
    ``file`` of a ``source`` object, else the input file's name."""
    if isinstance(data, dict):
        meta = data.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("source"), str):
            return str(meta["source"])
        src = data.get("source")
        if isinstance(src, str) and src:
            return src
        if isinstance(src, dict) and isinstance(src.get("file"), str):
            return os.path.basename(src["file"]) or src["file"]
    return os.path.basename(file) or file


def example_texts(ex: Example) -> list[str]:
    """Every text :func:`stats_rows` counts for ``ex`` (the same strings
    :func:`curate.tokens.count_examples` counts, plus content texts of list contents)."""
    msgs = ex.messages
    if msgs is None:
        return []
    out: list[str] = []
    for m in msgs:
        if not isinstance(m, dict):
            continue
        for v in m.values():
            t = value_text(v)
            if t is not None:
                out.append(t)
        c = m.get("content")
        if not isinstance(c, str):
            ct = content_text(c)
            if ct is not None:
                out.append(ct)
    tools = ex.data.get("tools") if isinstance(ex.data, dict) else None
    t = value_text(tools)
    if t is not None:
        out.append(t)
    return out


#: the values of an example without ``messages``, from ``n_messages`` to ``script``
_NO_MESSAGES: tuple[None, ...] = (None,) * 19


def row_values(
    ex: Example,
    count: Callable[[str], int],
    *,
    max_tokens: int,
    format: str = "jsonl",
    total: int | None = None,
    need: Container[str] | None = None,
) -> tuple[Any, ...]:
    """The values of ``ex``'s row in :data:`COLUMNS` order, up to ``script`` (without
    ``codes`` and ``n_errors``, which come from the findings); ``count(text)`` gives a
    text's token count. ``total`` is the cookbook token count when the caller already has
    it for these very messages (validate does); then only the per-role contents are
    counted. One walk over the messages, plain locals (the table is built for every
    example of a validate run). :func:`example_row` is the same as a dict.

    ``need``: the columns the caller keeps; the costly ones it leaves out (``id``, a
    content hash; ``source``; ``script``) are then ``None`` instead of computed. The
    others are the same whatever ``need`` says.
    """
    data = ex.data
    loc = ex.source
    file = loc.file
    if need is None:
        head = (ex.id, file, loc.line, loc.row, loc.format or format, source_of(data, file))
    else:
        head = (
            ex.id if "id" in need else None,
            file,
            loc.line,
            loc.row,
            loc.format or format,
            source_of(data, file) if "source" in need else None,
        )
    msgs = ex.messages
    if msgs is None:
        return head + _NO_MESSAGES
    ch_sys = ch_user = ch_asst = ch_tool = 0
    tk_sys = tk_user = tk_asst = tk_tool = 0
    ch_reason = tk_reason = 0
    roles: set[str] = set()
    tot = TOKENS_PER_REPLY
    countable = True
    n_turns = n_tool_calls = 0
    uses_tools = False
    script_text: str | None = None
    for m in msgs:
        if not isinstance(m, dict):
            countable = False
            continue
        if total is None:
            tot += TOKENS_PER_MESSAGE
            for key, v in m.items():
                if isinstance(v, str):
                    tot += count(v)
                elif v is not None:
                    tot += count(value_text(v))  # type: ignore[arg-type]
                if key == "name":
                    tot += TOKENS_PER_NAME
        role = m.get("role")
        c = m.get("content")
        text = c if isinstance(c, str) else content_text(c)
        if isinstance(role, str):
            roles.add(role)
            if role == "user":
                n_turns += 1
                if text is not None:
                    ch_user += len(text)
                    tk_user += count(text)
                    if script_text is None and text:
                        script_text = text
            elif role == "assistant":
                if text is not None:
                    ch_asst += len(text)
                    tk_asst += count(text)
                    if script_text is None and text:
                        script_text = text
                trace = m.get("reasoning_content")
                if isinstance(trace, str):
                    ch_reason += len(trace)
                    tk_reason += count(trace)
            elif role == "system":
                if text is not None:
                    ch_sys += len(text)
                    tk_sys += count(text)
            elif role == "tool" or role == "function":
                uses_tools = True
                if text is not None:
                    ch_tool += len(text)
                    tk_tool += count(text)
        else:
            roles.add("?")
        calls = m.get("tool_calls")
        if calls:
            n_tool_calls += len(calls) if isinstance(calls, list) else 1
            uses_tools = True
        if m.get("function_call"):
            n_tool_calls += 1
            uses_tools = True
    tools = data.get("tools")
    if tools:
        uses_tools = True
    if total is None and tools is not None:
        tot += count(value_text(tools))  # type: ignore[arg-type]
    if countable and msgs:
        tokens_total: int | None = tot if total is None else total
        share = tokens_total / max_tokens if max_tokens > 0 else None  # type: ignore[operator]
    else:
        tokens_total = share = None
    return (
        *head,
        len(msgs),
        n_turns,
        "+".join(sorted(roles)),
        "system" in roles,
        ch_sys,
        ch_user,
        ch_asst,
        ch_tool,
        tk_sys,
        tk_user,
        tk_asst,
        tk_tool,
        ch_reason,
        tk_reason,
        tokens_total,
        share,
        uses_tools,
        n_tool_calls,
        guess_script(script_text) if script_text and (need is None or "script" in need) else None,
    )


def example_row(
    ex: Example,
    count: Callable[[str], int],
    *,
    max_tokens: int,
    codes: Sequence[str] = (),
    n_errors: int = 0,
    format: str = "jsonl",
) -> dict[str, Any]:
    """One row of the table for ``ex``; ``count(text)`` gives a text's token count.

    ``tokens_total`` follows :func:`curate.tokens.count_examples` exactly (3 per example,
    3 per message, the tokens of every value, 1 per ``name``, the ``tools`` JSON); it is
    ``None`` when ``messages`` is missing, empty or holds a non-object (as validate).
    """
    values = row_values(ex, count, max_tokens=max_tokens, format=format)
    code_text = ",".join(dict.fromkeys(codes)) if codes else ""
    return dict(zip(COLUMNS, (*values, code_text, n_errors), strict=True))


def _check_codes(ex: Example, validators: Sequence[Any]) -> tuple[list[str], int]:
    codes: list[str] = []
    n_errors = 0
    for v in validators:
        for f in v.check(ex):
            codes.append(f.code)
            n_errors += f.severity is Severity.ERROR
    return codes, n_errors


def stats_rows(
    examples: Sequence[Example],
    *,
    model: str = "gpt-4o-mini",
    max_tokens: int | None = None,
    counter: Counter | None = None,
    target: str = "curate",
) -> list[dict[str, Any]]:
    """The table rows for a batch of examples. Pure (same batch, same rows): tokens are
    counted in one batched tiktoken call; per-example findings come from the same
    validators ``curate validate`` runs (format checks and ``too_long``)."""
    from curate.tokens import model_spec
    from curate.validators.format import OpenAIFormat

    spec = model_spec(model, max_tokens=max_tokens, priced=False)
    limit = max_tokens if max_tokens is not None else spec.max_tokens
    counter = counter or shared_counter(spec.encoding)
    texts = [t for ex in examples for t in example_texts(ex)]
    uniq = list(dict.fromkeys(texts))
    counts = dict(zip(uniq, counter.count_many(uniq), strict=True)) if uniq else {}
    fmt = (OpenAIFormat(target=target),)
    rows = []
    for ex in examples:
        codes, n_errors = _check_codes(ex, fmt)
        row = example_row(ex, counts.__getitem__, max_tokens=limit, codes=codes, n_errors=n_errors)
        if row["tokens_total"] is not None and row["tokens_total"] > limit:
            codes.append("too_long")
            row["codes"] = ",".join(dict.fromkeys(codes))
            row["n_errors"] = n_errors + 1
        rows.append(row)
    return rows


# -- reading any supported input ---------------------------------------------------------


def _clean(value: Any) -> Any:
    """Drop ``None`` members that Arrow adds when it unifies struct fields (a Parquet row's
    message gets ``name: None`` when any message in the file has a name)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def input_format(path: str | os.PathLike[str]) -> str:
    """``jsonl``, ``parquet`` or ``hf`` (a ``save_to_disk`` folder), by the path.

    Raises:
        InputError: a missing path, or a folder that is not a saved dataset.
    """
    p = Path(path)
    if str(path) == "-":  # standard input: JSONL
        return "jsonl"
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists():
            return "hf"
        raise InputError(
            f"{path}: is a directory but not a Hugging Face save_to_disk folder (no "
            "dataset_info.json or dataset_dict.json). Pass JSONL or Parquet files."
        )
    if not p.exists():
        raise InputError(f"{path}: no such file. Check the path (cwd is {os.getcwd()}).")
    if p.suffix.lower() == ".parquet":
        return "parquet"
    return "jsonl"


def iter_examples(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    batch_size: int = BATCH_SIZE,
    on_finding: Callable[[Finding], None] | None = None,
) -> Iterator[list[Example]]:
    """Stream batches of :class:`Example` from chat JSONL files, Parquet files and Hugging
    Face ``save_to_disk`` folders (each needs a ``messages`` column), through the one
    reader (:mod:`curate.io`). A line that is not an example (invalid JSON, too long, a
    lone surrogate) goes to ``on_finding``; without it, it is an :class:`InputError`
    naming the file and line (nothing is skipped silently)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for path in paths:
        fmt = input_format(path)
        if fmt == "jsonl":
            yield from _jsonl_batches(str(path), batch_size, on_finding)
        elif fmt == "parquet":
            yield from _parquet_batches(str(path), batch_size)
        else:
            yield from _hf_batches(str(path), batch_size)


def _jsonl_batches(
    path: str, batch_size: int, on_finding: Callable[[Finding], None] | None
) -> Iterator[list[Example]]:
    from curate.io import iter_raw_lines, parse_line, sniff_not_jsonl

    sniff_not_jsonl(path)
    batch: list[Example] = []
    for line, raw in iter_raw_lines(path):
        parsed = parse_line(path, line, raw)
        if isinstance(parsed, Finding):
            if on_finding is None:
                raise InputError(
                    f"{parsed.location}: {parsed.message}. Run curate validate {path} to see "
                    "every problem, fix or drop the line, then run this again."
                )
            on_finding(parsed)
        if isinstance(parsed, Example):
            batch.append(parsed)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def _records_batches(
    file: str, fmt: str, records: Iterator[list[dict[str, Any]]]
) -> Iterator[list[Example]]:
    n = 0
    for recs in records:
        out = []
        for rec in recs:
            n += 1
            out.append(Example(_clean(rec), Location(file, row=n, format=fmt)))
        yield out


def _require_messages(path: str, columns: Sequence[str]) -> None:
    if "messages" not in columns:
        raise InputError(
            f"{path}: no 'messages' column (have: {', '.join(columns) or 'none'}). "
            "Convert it to chat format first with curate ingest."
        )


def _parquet_batches(path: str, batch_size: int) -> Iterator[list[Example]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - pyarrow comes with polars[pyarrow]/datasets
        raise InputError("reading Parquet needs pyarrow: pip install 'curate[hf]'") from e
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise InputError(f"{path}: not a readable Parquet file ({e})") from e
    _require_messages(path, pf.schema_arrow.names)
    yield from _records_batches(
        path, "parquet", (b.to_pylist() for b in pf.iter_batches(batch_size=batch_size))
    )


def _hf_batches(path: str, batch_size: int) -> Iterator[list[Example]]:
    try:
        import datasets
    except ImportError as e:
        raise InputError(
            f"{path}: reading a Hugging Face dataset needs the hf extra: pip install 'curate[hf]'"
        ) from e
    datasets.disable_progress_bars()
    try:
        loaded = datasets.load_from_disk(path)
    except Exception as e:
        raise InputError(f"{path}: cannot load the saved dataset ({e})") from e
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    for split, ds in splits:
        file = f"{path}/{split}" if split is not None else path
        _require_messages(file, ds.column_names)
        # ds.iter decodes the features (datasets 5 stores mixed structs as Json strings);
        # the Arrow data stays memory-mapped, one batch is materialised at a time
        yield from _records_batches(file, "hf", _columns_to_rows(ds.iter(batch_size=batch_size)))


def _columns_to_rows(batches: Iterator[dict[str, list[Any]]]) -> Iterator[list[dict[str, Any]]]:
    for b in batches:
        keys = list(b)
        yield [dict(zip(keys, vals, strict=True)) for vals in zip(*b.values(), strict=True)]


# -- the table ---------------------------------------------------------------------------


def frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """A polars frame with the table's schema from rows."""
    import polars as pl

    return pl.DataFrame(list(rows), schema=schema())


def stats_table(
    paths: Sequence[str | os.PathLike[str]],
    *,
    model: str = "gpt-4o-mini",
    max_tokens: int | None = None,
    target: str = "curate",
    progress: Callable[[int], None] | None = None,
    on_finding: Callable[[Finding], None] | None = None,
) -> pl.DataFrame:
    """The statistics table of every example in ``paths`` (JSONL, Parquet, HF folders),
    built batch by batch (memory: the table itself, a few dozen bytes per example). A
    line that is no example goes to ``on_finding``, or is an error without it (see
    :func:`iter_examples`).

    Example:
        >>> import tempfile, os, json
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.jsonl")
        >>> rows = [{"messages": [{"role": "system", "content": "Be brief."},
        ...                       {"role": "user", "content": "hi"},
        ...                       {"role": "assistant", "content": "hello"}]}]
        >>> _ = open(p, "w").write("".join(json.dumps(r) + "\\n" for r in rows))
        >>> t = stats_table([p], model="gpt-3.5-turbo")
        >>> t.select("n_messages", "has_system", "tokens_total").row(0)
        (3, True, 20)
    """
    import polars as pl

    parts: list[pl.DataFrame] = []
    for batch in iter_examples(paths, on_finding=on_finding):
        rows = stats_rows(batch, model=model, max_tokens=max_tokens, target=target)
        parts.append(frame(rows))
        if progress is not None:
            progress(len(batch))
    if not parts:
        return pl.DataFrame(schema=schema())
    return pl.concat(parts, rechunk=True)
