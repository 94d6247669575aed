"""A LLaMA-Factory data folder, read through its ``dataset_info.json``.

``curate ingest data/`` (a folder holding ``dataset_info.json``) or ``curate ingest
data/dataset_info.json`` reads every dataset the file declares, each with its own
``formatting`` (``alpaca``, ``sharegpt``, or ``openai``, which LLaMA-Factory reads like
``sharegpt``), ``ranking``, ``columns`` and ``tags``, the way LLaMA-Factory's
``data/parser.py`` and ``data/converter.py`` read them:

- without ``columns`` the defaults apply (``instruction``/``input``/``output``; ShareGPT
  ``conversations``); *with* ``columns``, a column it does not name is not used (LLaMA-Factory
  sets it to ``None``), so an unlisted ``system`` or ``history`` key is not a system prompt
  or history: it goes to ``metadata``, like every key no column names. ``tags`` work the
  same way (defaults ``from``/``value``/``human``/``gpt``/``observation``/``function_call``/
  ``system``; with ``tags``, an unlisted role tag maps nothing, and a turn with that role is
  rejected ``unknown_role`` naming the tags).
- Each record is renamed to the standard shape and converted by curate's own format
  (``alpaca``, ``sharegpt``, ``sharegpt_preference``, ``preference``), so every rule of
  those formats (tool calls, reasoning, media placeholders) applies. ``tools`` of an Alpaca
  dataset become OpenAI ``tools``; ``images``/``videos``/``audios`` become media parts
  (relative paths are looked up in the data folder first, LLaMA-Factory's ``media_dir``);
  ``kto_tag`` (KTO's desirable/undesirable label) is kept as ``metadata.kto_tag``: curate's
  record has no KTO label, so filter the ``false`` ones before SFT training.
- A dataset without a response column (pre-training text, ``columns: {prompt: text}``) has
  nothing to reply: its rows are rejected ``not_chat``. ``.txt`` files are read one
  non-empty line per row, as LLaMA-Factory's ``text`` loader does.
- ``source`` names the dataset (``"dataset": "NAME"``) beside the file and row; a reject's
  message starts with it.
- Remote datasets (``hf_hub_url``, ``ms_hub_url``, ``om_hub_url``, ``script_url``,
  ``cloud_file_name``) are not read (curate works offline, and never runs a loading script):
  each is listed as skipped with the reason, as is a dataset whose file is missing or whose
  entry cannot be read, and a data file of the folder no dataset names.

Example:
    >>> ing = DatasetIngestor("demo", "sharegpt", False, {"messages": "messages"},
    ...     {"role_tag": "role", "content_tag": "content", "user_tag": "user",
    ...      "assistant_tag": "assistant"})  # "columns" and "tags" of a dataset_info.json entry
    >>> rec = {"messages": [{"role": "user", "content": "Hi"},
    ...                     {"role": "assistant", "content": "Hello"}], "lang": "en"}
    >>> body = ing.convert(rec, IngestOptions())
    >>> body["messages"][1], body["metadata"]
    ({'role': 'assistant', 'content': 'Hello'}, {'lang': 'en'})
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.ingest.base import IngestOptions, Reject, get, json_type
from curate.ingest.readers import Raw, Source, expand, is_hf_dataset, kind_of, read_raw
from curate.records import InputError, Location

INFO = "dataset_info.json"
#: entry keys that name a dataset curate does not read offline
REMOTE = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")
FORMATTINGS = ("alpaca", "sharegpt", "openai")
#: LLaMA-Factory's column defaults (``DatasetAttr``), used when an entry has no ``columns``
DEFAULT_COLUMNS: dict[str, str | None] = {
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "history": None,
    "messages": "conversations",
    "system": None,
    "tools": None,
    "images": None,
    "videos": None,
    "audios": None,
    "chosen": None,
    "rejected": None,
    "kto_tag": None,
}
#: tag -> (LLaMA-Factory default, the ShareGPT role curate's sharegpt format reads)
TAGS: dict[str, tuple[str, str | None]] = {
    "role_tag": ("from", None),
    "content_tag": ("value", None),
    "user_tag": ("human", "human"),
    "assistant_tag": ("gpt", "gpt"),
    "observation_tag": ("observation", "observation"),
    "function_tag": ("function_call", "function_call"),
    "system_tag": ("system", "system"),
}
MEDIA = ("images", "videos", "audios")


@dataclass
class Entry:
    """One local dataset of a ``dataset_info.json``: its files and how to convert them."""

    name: str
    files: list[str]
    ingestor: DatasetIngestor
    reason: str
    #: where relative media paths are looked up first (the data folder)
    media_dir: str

    def sources(self, split: str | None) -> Iterator[Source]:
        for f in self.files:
            yield Source(f, "txt" if _is_txt(f) else (kind_of(f) or "json"), split)


@dataclass
class DatasetInfo:
    """A parsed ``dataset_info.json``: the datasets curate reads and what it skips (why)."""

    path: str
    entries: list[Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _is_txt(path: str) -> bool:
    name = path.lower()
    for c in (".gz", ".bz2", ".xz", ".zst"):
        name = name.removesuffix(c)
    return name.endswith(".txt")


def info_file(path: str | os.PathLike[str]) -> Path | None:
    """The ``dataset_info.json`` an input names: the file itself, or the one in a folder.

    Example:
        >>> info_file("no/such/folder") is None
        True
    """
    p = Path(path)
    if p.name == INFO and p.is_file():
        found = p
    elif p.is_dir() and (p / INFO).is_file():
        found = p / INFO
    else:
        return None
    # a Hugging Face dataset saved with save_to_disk has a dataset_info.json of its own
    if is_hf_dataset(found.parent) or _hf_info(found):
        return None
    return found


#: top-level keys of a Hugging Face ``datasets`` DatasetInfo (never LLaMA-Factory's)
_HF_KEYS = frozenset({"builder_name", "citation", "features", "splits", "download_checksums"})


def _hf_info(path: Path) -> bool:
    """True for a Hugging Face ``DatasetInfo`` file (its ``features``, ``splits``...)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        info = json.loads(head.decode("utf-8-sig"))
    except (OSError, ValueError):
        return False  # a broken file: load() says what is wrong with it
    return isinstance(info, dict) and len(_HF_KEYS & set(info)) >= 2


def take(paths: Sequence[str]) -> tuple[list[DatasetInfo], list[str]]:
    """Split inputs into data folders read through their ``dataset_info.json`` (parsed) and
    the other paths."""
    infos, rest = [], []
    for p in paths:
        f = info_file(p)
        if f is None:
            rest.append(p)
        else:
            infos.append(load(f))
    return infos, rest


def load(path: str | os.PathLike[str]) -> DatasetInfo:
    """Parse a ``dataset_info.json``: one :class:`Entry` per local dataset, the rest skipped
    with the reason. Raises :class:`InputError` when the file is not a JSON object."""
    p = Path(path)
    try:
        info = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read it ({e})") from e
    except json.JSONDecodeError as e:
        raise InputError(
            f"{p}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno}); LLaMA-Factory could "
            "not read it either"
        ) from e
    if not isinstance(info, dict):
        raise InputError(
            f"{p}: a JSON {json_type(info)}, expected an object of datasets "
            '({"name": {"file_name": ...}, ...})'
        )
    out = DatasetInfo(str(p))
    base = str(p.parent)
    used: set[str] = set()
    for name, attr in info.items():
        try:
            entry = parse_entry(name, attr, base)
        except _Skip as s:
            out.skipped.append(f'{p}: dataset "{name}" ({s})')
            continue
        out.entries.append(entry)
        used.update(os.path.realpath(f) for f in entry.files)
    for f in _data_files(p.parent):
        if os.path.realpath(f) not in used:
            out.skipped.append(f"{f} (no dataset of {INFO} names it)")
    return out


def _data_files(folder: Path) -> list[str]:
    """The data files of the folder itself (not its subfolders, which hold media)."""
    out = []
    for child in sorted(folder.iterdir(), key=lambda c: c.name):
        if child.is_file() and child.name != INFO and not child.name.startswith("."):
            if kind_of(child) is not None and not child.name.endswith(".rejected.jsonl"):
                out.append(str(child))
    return out


class _Skip(Exception):
    """An entry curate does not read, with the reason."""


def parse_entry(name: str, attr: Any, base: str) -> Entry:
    """One entry of ``dataset_info.json`` (``base``: its folder) as an :class:`Entry`;
    raises ``_Skip`` with the reason for one that is remote, missing or malformed."""
    if not isinstance(attr, dict):
        raise _Skip(f"the entry is a JSON {json_type(attr)}, not an object")
    remote = [k for k in REMOTE if attr.get(k)]
    if remote:
        k = remote[0]
        if k == "script_url":
            raise _Skip(
                f"script_url {attr[k]}: a loading script, not run; export its data to a file"
            )
        raise _Skip(f"{k} {attr[k]}: remote, not read offline; download it, give its file_name")
    file_name = attr.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        raise _Skip("no file_name (nor a hub url): nothing to read")
    formatting = attr.get("formatting", "alpaca")
    if formatting not in FORMATTINGS:
        raise _Skip(f"formatting {formatting!r} is not one of {', '.join(FORMATTINGS)}")
    ranking = attr.get("ranking", False)
    if not isinstance(ranking, bool):
        raise _Skip(f"ranking is a JSON {json_type(ranking)}, expected true or false")
    columns = _table(attr, "columns", {k: v for k, v in DEFAULT_COLUMNS.items()})
    tags = _table(attr, "tags", {k: d for k, (d, _) in TAGS.items()})
    if formatting != "alpaca" and not columns.get("messages"):
        raise _Skip(f"formatting {formatting} needs a messages column in columns")
    if ranking and not (columns.get("chosen") and columns.get("rejected")):
        raise _Skip("ranking is true but columns names no chosen and rejected columns")
    if formatting != "alpaca" and not (tags.get("role_tag") and tags.get("content_tag")):
        raise _Skip("tags must name role_tag and content_tag")
    target = Path(base) / file_name
    if not target.exists():
        raise _Skip(f"file_name {file_name}: not found in {base}")
    if target.is_dir():
        files = [s.path for s in expand([str(target)])[0]]
    else:
        files = [str(target)]
    if not files:
        raise _Skip(f"file_name {file_name}: a folder with no data file")
    ing = DatasetIngestor(name, formatting, ranking, columns, tags)
    named = ", ".join(f"{k}={v}" for k, v in columns.items() if v and k in attr.get("columns", {}))
    reason = f'dataset "{name}" in {INFO}: formatting {formatting}'
    reason += ", ranking" if ranking else ""
    reason += f", columns {named}" if named else ""
    return Entry(name, files, ing, reason, base)


def _table(attr: dict[str, Any], key: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """LLaMA-Factory's ``set_attr``: with the table, what it does not name is ``None``."""
    if key not in attr:
        return defaults
    table = attr[key]
    if not isinstance(table, dict):
        raise _Skip(f"{key} is a JSON {json_type(table)}, expected an object")
    bad = sorted(set(table) - set(defaults))
    if bad:
        raise _Skip(f"unknown {key} {', '.join(bad)} (known: {', '.join(defaults)})")
    for k, v in table.items():
        if v is not None and not isinstance(v, str):
            raise _Skip(f"{key}.{k} is a JSON {json_type(v)}, expected a name")
    return {k: table.get(k) for k in defaults}


class DatasetIngestor:
    """Converts the records of one dataset: renamed to the standard shape, then converted
    by curate's own format (``inner``). Pure and picklable."""

    description = "a dataset of a LLaMA-Factory dataset_info.json"
    required: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    fallback = False

    def __init__(
        self,
        dataset: str,
        formatting: str,
        ranking: bool,
        columns: dict[str, str | None],
        tags: dict[str, str | None],
    ) -> None:
        self.dataset = dataset
        self.formatting = formatting
        self.ranking = ranking
        self.columns = columns
        self.tags = tags
        if formatting == "alpaca":
            self.name = "preference" if ranking else "alpaca"
        else:
            self.name = "sharegpt_preference" if ranking else "sharegpt"
        #: added to each record's ``source``
        self.provenance = {"dataset": dataset}
        self.roles = {
            tags[t]: std for t, (_, std) in TAGS.items() if std is not None and tags.get(t)
        }

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        try:
            if self.formatting == "alpaca":
                std, post = self._alpaca(record)
            else:
                std, post = self._sharegpt(record), {}
            body = get(self.name).convert(std, options)
            self._post(body, std, post)
        except Reject as r:
            raise Reject(r.reason, f'dataset "{self.dataset}": {r.message}') from None
        return body

    # -- renaming --------------------------------------------------------------------------
    def _column(self, record: dict[str, Any], key: str, *, required: bool = False) -> Any:
        col = self.columns.get(key)
        if col is None:
            return None
        if required and record.get(col) is None:
            have = ", ".join(sorted(record)) or "none"
            what = "is null" if col in record else f"is missing (have: {have})"
            raise Reject("missing_field", f'column "{col}" (columns.{key}) {what}')
        return record.get(col)

    def _rest(self, record: dict[str, Any]) -> dict[str, Any]:
        """The keys no column names, for ``metadata`` (an input ``metadata`` object merged)."""
        named = {c for c in self.columns.values() if c}
        rest: dict[str, Any] = {}
        given = record.get("metadata")
        if isinstance(given, dict) and "metadata" not in named:
            rest.update(given)
        for k, v in record.items():
            if k not in named and not (k == "metadata" and isinstance(given, dict)):
                rest[k] = v
        kto = self._column(record, "kto_tag")
        if kto is not None:
            rest["kto_tag"] = kto
        return rest

    def _common(self, record: dict[str, Any], std: dict[str, Any]) -> None:
        for key in ("system", *MEDIA):
            value = self._column(record, key)
            if value is not None:
                std[key] = value
        rest = self._rest(record)
        if rest:
            std["metadata"] = rest

    def _alpaca(self, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        c = self.columns
        if not self.ranking and not c.get("response"):
            raise Reject(
                "not_chat",
                "the dataset declares no response column (a pre-training text dataset): "
                "there is no reply to train on",
            )
        prompt = self._column(record, "prompt", required=True)
        query = self._column(record, "query")
        if c.get("prompt") is None and c.get("query") is None:
            raise Reject("missing_field", "the dataset declares no prompt or query column")
        std: dict[str, Any] = {"instruction": "" if prompt is None else prompt}
        if query is not None:
            std["input"] = query
        history = self._column(record, "history")
        if self.ranking:
            std["chosen"] = self._column(record, "chosen", required=True)
            std["rejected"] = self._column(record, "rejected", required=True)
            if history:
                std = _history_prompt(std, history)
        else:
            std["output"] = self._column(record, "response", required=True)
            if history is not None:
                std["history"] = history
        self._common(record, std)
        return std, {"tools": self._column(record, "tools")}

    def _sharegpt(self, record: dict[str, Any]) -> dict[str, Any]:
        col = self.columns["messages"] or "conversations"
        turns = self._column(record, "messages", required=True)
        std: dict[str, Any] = {"conversations": self._turns(turns, col)}
        tools = self._column(record, "tools")
        if tools is not None:
            std["tools"] = tools
        if self.ranking:
            for key in ("chosen", "rejected"):
                value = self._column(record, key, required=True)
                std[key] = self._turns(value, self.columns[key] or key)
        self._common(record, std)
        return std

    def _turns(self, turns: Any, col: str) -> Any:
        if isinstance(turns, dict):
            return self._turn(turns, col)
        if not isinstance(turns, list):
            raise Reject(
                "wrong_type", f'column "{col}" is a JSON {json_type(turns)}, expected an array'
            )
        return [self._turn(t, f"{col}[{i}]") for i, t in enumerate(turns)]

    def _turn(self, t: Any, where: str) -> Any:
        if not isinstance(t, dict):
            return t  # the format rejects it (wrong_type)
        role_tag, content_tag = self.tags["role_tag"], self.tags["content_tag"]
        assert role_tag is not None and content_tag is not None  # checked by parse_entry
        value = t.get(role_tag)
        std = self.roles.get(value) if isinstance(value, str) else None
        if std is None:
            mapped = ", ".join(
                f"{t}={self.tags[t]!r}"
                for t in TAGS
                if t not in ("role_tag", "content_tag") and self.tags.get(t)
            )
            raise Reject(
                "unknown_role",
                f"{where} has {role_tag} {value!r}, which the tags of the dataset do not map "
                f"({mapped}); add it to the dataset's tags in {INFO}",
            )
        out = {k: v for k, v in t.items() if k not in (role_tag, content_tag, "from", "value")}
        out.pop("role", None)
        out.pop("content", None)
        out["role"] = std
        out["content"] = t.get(content_tag)
        return out

    # -- after the format's conversion -----------------------------------------------------
    def _post(self, body: dict[str, Any], std: dict[str, Any], post: dict[str, Any]) -> None:
        meta = body.get("metadata")
        tools = post.get("tools")
        if tools not in (None, "", "[]", []):
            from curate.ingest.sharegpt import convert_tools

            (body["input"] if "input" in body else body)["tools"] = convert_tools(tools)
        if self.formatting == "alpaca" and any(k in std for k in MEDIA):
            from curate.ingest.media import attach, column_items

            attach(body, column_items(std))
            if isinstance(meta, dict):
                for k in MEDIA:
                    meta.pop(k, None)
                if not meta:
                    del body["metadata"]


def _history_prompt(std: dict[str, Any], history: Any) -> dict[str, Any]:
    """A ranked Alpaca record with ``history``: the prompt as messages (the history pairs,
    then the instruction and input), for curate's ``preference`` format."""
    from curate.ingest.alpaca import instruction_prompt

    if not isinstance(history, list):
        raise Reject("wrong_type", f"the history is a JSON {json_type(history)}, expected an array")
    msgs: list[dict[str, Any]] = []
    for i, pair in enumerate(history):
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        ):
            raise Reject("wrong_type", f"history[{i}] is not a [instruction, response] pair")
        msgs += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    msgs.append({"role": "user", "content": instruction_prompt(std, "instruction", "input")})
    out = {k: v for k, v in std.items() if k not in ("instruction", "input")}
    out["prompt"] = msgs
    return out


def read_txt(path: str) -> Iterator[Raw]:
    """A ``.txt`` data file as LLaMA-Factory's ``text`` loader reads it: one ``{"text"}`` row
    per non-empty line (``line`` numbers kept)."""
    from curate.io import iter_raw_lines

    for n, raw in iter_raw_lines(path):
        if not isinstance(raw, bytes):
            yield Raw(Location(path, n), "", ("line_too_long", "line too long to read"))
            continue
        try:
            text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as e:
            yield Raw(Location(path, n), raw[:200].decode("utf-8", "backslashreplace"),
                      ("invalid_encoding", f"not valid UTF-8 ({e.reason})"))  # fmt: skip
            continue
        if text.strip():
            yield Raw(Location(path, n), {"text": text})


def read_source(src: Source) -> Iterator[Raw]:
    """The rows of one dataset file (``.txt`` included)."""
    if src.kind == "txt":
        return read_txt(src.path)
    return read_raw(src.path, src.kind)


def entry_options(entry: Entry, options: IngestOptions) -> IngestOptions:
    """``options`` for an entry: relative media paths looked up in the data folder first
    (LLaMA-Factory's default ``media_dir``), unless ``--media-dir`` was given."""
    if options.media_dir is not None:
        return options
    return dataclasses.replace(options, media_dir=entry.media_dir)
