"""Writers for each trainer's format, their config snippets, and the split manifest.

Every converter takes one canonical record (a dict: ``messages`` for supervised data, or
OpenAI's DPO shape ``input`` / ``preferred_output`` / ``non_preferred_output`` for
preference data) and returns the row the target trainer loads, keeping only the keys it
accepts. A record a format cannot represent (tool calls in Alpaca, an image part in a
ShareGPT turn) raises :class:`ExportError` with a stable ``reason``; the splitter writes
it to ``rejected.jsonl`` instead of dropping it.

Formats (``--format``):

- ``openai``: ``train.jsonl`` / ``eval.jsonl`` with only the keys OpenAI's fine-tuning
  endpoint accepts (chat ``messages``/``tools``/``parallel_tool_calls``/``functions``, or
  DPO ``input``/``preferred_output``/``non_preferred_output``).
- ``hf``: a ``datasets.DatasetDict`` (``train``/``eval``) saved with ``save_to_disk`` in
  ``hf/`` and as ``train.parquet`` / ``eval.parquet``; columns ``messages`` (or
  ``prompt``/``chosen``/``rejected``), ``tools`` (a JSON string) and ``id``.
- ``trl``: JSONL in TRL's conversational shapes: ``messages`` (or, with
  ``trl_shape="prompt-completion"``, ``prompt``/``completion``), and
  ``prompt``/``chosen``/``rejected`` for preference data.
- ``sharegpt``: LLaMA-Factory's ShareGPT JSONL (``conversations`` of ``from``/``value``,
  ``system``, ``tools``; ``chosen``/``rejected`` for preference data).
- ``alpaca``: LLaMA-Factory's Alpaca JSONL (``instruction``/``input``/``output``,
  ``system``, ``history``; ``chosen``/``rejected`` for preference data).

Example:
    >>> rec = {"id": "x", "source": {"file": "a.jsonl"}, "messages": [
    ...     {"role": "system", "content": "Be brief."},
    ...     {"role": "user", "content": "2+2?"},
    ...     {"role": "assistant", "content": "4", "weight": 1}]}
    >>> convert(rec, "openai")["messages"][2]
    {'role': 'assistant', 'content': '4', 'weight': 1}
    >>> convert(rec, "alpaca")
    {'instruction': '2+2?', 'input': '', 'output': '4', 'system': 'Be brief.', 'history': []}
    >>> convert(rec, "sharegpt")["conversations"]
    [{'from': 'human', 'value': '2+2?'}, {'from': 'gpt', 'value': '4'}]
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from curate.io import atomic_write, dumps

FORMATS = ("openai", "hf", "trl", "sharegpt", "alpaca")
TRL_SHAPES = ("messages", "prompt-completion")
KINDS = ("sft", "preference")

#: message keys OpenAI accepts (see curate.validators.format.MESSAGE_KEYS)
OPENAI_MESSAGE_KEYS = (
    "role",
    "content",
    "name",
    "function_call",
    "tool_calls",
    "tool_call_id",
    "weight",
)
OPENAI_TOP_LEVEL = ("messages", "tools", "parallel_tool_calls", "functions")
OPENAI_DPO_INPUT = ("messages", "tools", "parallel_tool_calls")
#: keys kept in TRL / Hugging Face messages (transformers chat templates read these)
HF_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
SHAREGPT_ROLES = {
    "user": "human",
    "assistant": "gpt",
    "tool": "observation",
    "function": "observation",
}


class ExportError(ValueError):
    """A record the target format cannot represent. ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# -- record shape ------------------------------------------------------------------------


def record_kind(data: Any) -> str:
    """``sft`` (has ``messages``) or ``preference`` (OpenAI DPO shape); raise
    :class:`ExportError` for anything else.

    Example:
        >>> record_kind({"messages": [{"role": "user", "content": "hi"}]})
        'sft'
        >>> try:
        ...     record_kind({"prompt": "hi", "chosen": "a", "rejected": "b"})
        ... except ExportError as e:
        ...     print(e.reason)
        not_chat_record
    """
    if not isinstance(data, dict):
        raise ExportError(
            "not_an_object", f"example is a JSON {type(data).__name__}, not an object"
        )
    if "messages" in data:
        _check_messages(data["messages"], "messages")
        return "sft"
    if "preferred_output" in data or "non_preferred_output" in data:
        inp = data.get("input")
        if not isinstance(inp, dict):
            raise ExportError("invalid_preference", 'preference record has no "input" object')
        _check_messages(inp.get("messages"), "input.messages")
        _check_messages(data.get("preferred_output"), "preferred_output")
        _check_messages(data.get("non_preferred_output"), "non_preferred_output")
        return "preference"
    keys = ", ".join(sorted(map(str, data))[:6]) or "no keys"
    raise ExportError(
        "not_chat_record",
        f'not a canonical chat record: has {keys}; expected "messages" or '
        '"input"/"preferred_output"/"non_preferred_output" (convert it with curate ingest)',
    )


def _check_messages(msgs: Any, where: str) -> None:
    if not isinstance(msgs, list) or not msgs:
        raise ExportError("invalid_messages", f'"{where}" must be a non-empty list of messages')
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ExportError(
                "invalid_messages", f'"{where}"[{i}] must be an object with a string "role"'
            )


def training_messages(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages whose tokens are trained on: the conversation, or for preference data the
    prompt plus the preferred reply (what the manifest's token counts measure)."""
    if "messages" in data:
        return list(data["messages"])
    return list(data["input"]["messages"]) + list(data["preferred_output"])


def _pick(m: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: m[k] for k in keys if k in m}


def _text(content: Any, where: str) -> str:
    """Plain text of a message content (a string, ``None`` or a list of text parts, read
    by :func:`curate.records.content_text`); other parts are an :class:`ExportError`."""
    from curate.records import content_text

    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        return content_text(content)
    raise ExportError(
        "content_not_text",
        f"{where}: content is not text (a {type(content).__name__} with non-text parts); "
        "this format holds text only",
    )


# -- per-format converters ---------------------------------------------------------------


def to_openai(data: dict[str, Any]) -> dict[str, Any]:
    """Only the keys OpenAI's fine-tuning endpoint accepts (chat or DPO)."""
    if record_kind(data) == "sft":
        out = {k: data[k] for k in OPENAI_TOP_LEVEL if k in data}
        out["messages"] = [_pick(m, OPENAI_MESSAGE_KEYS) for m in data["messages"]]
        return {k: out[k] for k in OPENAI_TOP_LEVEL if k in out}
    inp = data["input"]
    new_inp = {k: inp[k] for k in OPENAI_DPO_INPUT if k in inp}
    new_inp["messages"] = [_pick(m, OPENAI_MESSAGE_KEYS) for m in inp["messages"]]
    return {
        "input": {k: new_inp[k] for k in OPENAI_DPO_INPUT if k in new_inp},
        "preferred_output": [_pick(m, OPENAI_MESSAGE_KEYS) for m in data["preferred_output"]],
        "non_preferred_output": [
            _pick(m, OPENAI_MESSAGE_KEYS) for m in data["non_preferred_output"]
        ],
    }


def _hf_message(m: dict[str, Any]) -> dict[str, Any]:
    out = _pick(m, HF_MESSAGE_KEYS)
    if "content" not in out:
        out["content"] = None
    return out


def to_trl(data: dict[str, Any], shape: str = "messages") -> dict[str, Any]:
    """TRL's conversational shapes: ``messages``, ``prompt``/``completion``, or
    ``prompt``/``chosen``/``rejected`` for preference data (``tools`` kept when present)."""
    if shape not in TRL_SHAPES:
        raise ValueError(f"unknown trl shape {shape!r}; choose one of {', '.join(TRL_SHAPES)}")
    if record_kind(data) == "preference":
        inp = data["input"]
        out: dict[str, Any] = {
            "prompt": [_hf_message(m) for m in inp["messages"]],
            "chosen": [_hf_message(m) for m in data["preferred_output"]],
            "rejected": [_hf_message(m) for m in data["non_preferred_output"]],
        }
        if "tools" in inp:
            out["tools"] = inp["tools"]
        return out
    msgs = [_hf_message(m) for m in data["messages"]]
    if shape == "messages":
        out = {"messages": msgs}
    else:
        if msgs[-1]["role"] != "assistant":
            raise ExportError(
                "no_final_assistant",
                f"prompt-completion needs the conversation to end with an assistant reply "
                f"(it ends with {msgs[-1]['role']!r})",
            )
        out = {"prompt": msgs[:-1], "completion": msgs[-1:]}
    if "tools" in data:
        out["tools"] = data["tools"]
    return out


def _sharegpt_turns(msgs: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, str]]]:
    system: str | None = None
    turns: list[dict[str, str]] = []
    for i, m in enumerate(msgs):
        role = m["role"]
        if role == "system":
            if turns or system is not None:
                raise ExportError(
                    "system_not_first",
                    f"messages[{i}]: a system message after the first turn cannot be "
                    "expressed in ShareGPT/Alpaca (only one leading system prompt)",
                )
            system = _text(m.get("content"), f"messages[{i}]")
            continue
        calls = m.get("tool_calls") or (
            [{"function": m["function_call"]}] if m.get("function_call") else None
        )
        if role == "assistant" and calls:
            fns = [_call_dict(c, i) for c in calls]
            value = dumps(fns[0] if len(fns) == 1 else fns)
            turns.append({"from": "function_call", "value": value})
            continue
        if role not in SHAREGPT_ROLES:
            raise ExportError("unknown_role", f"messages[{i}]: role {role!r} has no ShareGPT tag")
        turns.append(
            {"from": SHAREGPT_ROLES[role], "value": _text(m.get("content"), f"messages[{i}]")}
        )
    return system, turns


def _call_dict(call: Any, i: int) -> dict[str, Any]:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise ExportError("invalid_tool_call", f"messages[{i}]: a tool call has no function name")
    args = fn.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            pass
    return {"name": fn["name"], "arguments": args}


def _tools_string(tools: Any) -> str:
    return tools if isinstance(tools, str) else dumps(tools)


def to_sharegpt(data: dict[str, Any]) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT row (``from``: human, gpt, function_call, observation)."""
    kind = record_kind(data)
    src = data if kind == "sft" else data["input"]
    msgs = src["messages"]
    system, turns = _sharegpt_turns(msgs)
    out: dict[str, Any] = {"conversations": turns}
    if kind == "preference":
        for key, side in (("chosen", "preferred_output"), ("rejected", "non_preferred_output")):
            _, reply = _sharegpt_turns(data[side])
            if len(reply) != 1 or reply[0]["from"] != "gpt":
                raise ExportError(
                    "multi_turn_preference",
                    f"{side}: ShareGPT preference data holds one assistant reply per side",
                )
            out[key] = reply[0]
    if system is not None:
        out["system"] = system
    if "tools" in src:
        out["tools"] = _tools_string(src["tools"])
    return out


def to_alpaca(data: dict[str, Any]) -> dict[str, Any]:
    """LLaMA-Factory's Alpaca row: the last user turn as ``instruction``, the reply as
    ``output`` (``chosen``/``rejected`` for preference data), earlier turns as ``history``."""
    kind = record_kind(data)
    src = data if kind == "sft" else data["input"]
    if "tools" in src or any(
        m.get("tool_calls") or m.get("function_call") or m["role"] in ("tool", "function")
        for m in src["messages"]
    ):
        raise ExportError("tools_not_supported", "Alpaca cannot hold tool calls or tool results")
    system, turns = _sharegpt_turns(src["messages"])
    if kind == "preference":
        replies = []
        for side in ("preferred_output", "non_preferred_output"):
            _, reply = _sharegpt_turns(data[side])
            if len(reply) != 1 or reply[0]["from"] != "gpt":
                raise ExportError(
                    "multi_turn_preference",
                    f"{side}: Alpaca preference data holds one assistant reply per side",
                )
            replies.append(reply[0]["value"])
        turns = [*turns, {"from": "gpt", "value": ""}]
    expected = ["human", "gpt"] * (len(turns) // 2)
    if len(turns) % 2 or [t["from"] for t in turns] != expected:
        raise ExportError(
            "not_alternating",
            "Alpaca needs alternating user/assistant turns ending with the assistant "
            f"(got {', '.join(t['from'] for t in turns)})",
        )
    pairs = [[turns[i]["value"], turns[i + 1]["value"]] for i in range(0, len(turns), 2)]
    instruction = pairs[-1][0]
    out: dict[str, Any] = {"instruction": instruction, "input": ""}
    if kind == "preference":
        out["chosen"], out["rejected"] = replies
    else:
        out["output"] = pairs[-1][1]
    if system is not None:
        out["system"] = system
    out["history"] = pairs[:-1]
    return out


def to_hf(data: dict[str, Any], record_id: str) -> dict[str, Any]:
    """A row for the Hugging Face dataset: TRL's conversational columns, ``tools`` as a
    JSON string (or ``None``) and the record's ``id``."""
    row = to_trl(data, "messages")
    tools = row.pop("tools", None)
    for col in ("messages", "prompt", "chosen", "rejected"):
        if col in row:
            row[col] = [_arrow_message(m, f"{col}[{i}]") for i, m in enumerate(row[col])]
    row["tools"] = None if tools is None else _tools_string(tools)
    row["id"] = record_id
    return row


def _arrow_message(m: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m["role"], "content": _text(m.get("content"), where)}
    if "name" in m:
        out["name"] = None if m["name"] is None else str(m["name"])
    if "tool_call_id" in m:
        out["tool_call_id"] = None if m["tool_call_id"] is None else str(m["tool_call_id"])
    if m.get("tool_calls"):
        calls = []
        for c in m["tool_calls"]:
            fn = c.get("function") if isinstance(c, dict) else None
            if not isinstance(fn, dict):
                raise ExportError("invalid_tool_call", f"{where}: a tool call has no function")
            args = fn.get("arguments")
            calls.append(
                {
                    "id": c.get("id"),
                    "type": c.get("type", "function"),
                    "function": {
                        "name": fn.get("name"),
                        "arguments": args if isinstance(args, str) else dumps(args),
                    },
                }
            )
        out["tool_calls"] = calls
    return out


def convert(
    data: Any, fmt: str, *, trl_shape: str = "messages", record_id: str = ""
) -> dict[str, Any]:
    """Convert one canonical record to ``fmt`` (see :data:`FORMATS`)."""
    if fmt == "openai":
        return to_openai(data)
    if fmt == "trl":
        return to_trl(data, trl_shape)
    if fmt == "sharegpt":
        return to_sharegpt(data)
    if fmt == "alpaca":
        return to_alpaca(data)
    if fmt == "hf":
        return to_hf(data, record_id)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


# -- Hugging Face (Parquet + save_to_disk) -------------------------------------------------


def hf_schema(kind: str, fields: set[str]) -> Any:
    """The Arrow schema of the ``hf`` export. Optional message fields (``name``,
    ``tool_calls``, ``tool_call_id``) are columns only when some record uses them, so chat
    templates do not see ``None`` keys that no example has."""
    import pyarrow as pa

    msg_fields = [pa.field("role", pa.string()), pa.field("content", pa.string())]
    if "name" in fields:
        msg_fields.append(pa.field("name", pa.string()))
    if "tool_calls" in fields:
        fn = pa.struct([pa.field("name", pa.string()), pa.field("arguments", pa.string())])
        call = pa.struct(
            [pa.field("id", pa.string()), pa.field("type", pa.string()), pa.field("function", fn)]
        )
        msg_fields.append(pa.field("tool_calls", pa.list_(call)))
    if "tool_call_id" in fields:
        msg_fields.append(pa.field("tool_call_id", pa.string()))
    messages = pa.list_(pa.struct(msg_fields))
    cols = ["messages"] if kind == "sft" else ["prompt", "chosen", "rejected"]
    schema = [pa.field(c, messages) for c in cols]
    schema += [pa.field("tools", pa.string()), pa.field("id", pa.string())]
    return pa.schema(schema)


class ParquetSink:
    """Streams rows into one Parquet file (row groups of ``batch_rows``), atomically."""

    def __init__(
        self, path: Path, schema: Any, batch_rows: int = 20_000, *, direct: bool = False
    ) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows: list[dict[str, Any]] = []
        # direct: ``path`` is already a temporary name (an output plan's), written as is
        self.tmp = path if direct else path.with_name(f".{path.name}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()
        if self.tmp != self.path:
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.close()
        if self.tmp.exists():
            self.tmp.unlink()


def save_hf_dataset(outdir: Path, splits: dict[str, Path], target: Path | None = None) -> Path:
    """Load the written Parquet files as a ``DatasetDict`` and ``save_to_disk`` it in
    ``outdir/hf`` (replacing an older copy only once the new one is complete), or in
    ``target`` as it is (an output plan's temporary folder, renamed by the plan)."""
    import shutil
    import tempfile

    try:
        import datasets
    except ImportError as e:  # pragma: no cover - depends on the install
        from curate.records import CurateError

        raise CurateError("--format hf needs the datasets package: pip install 'curate[hf]'") from e
    datasets.disable_progress_bars()
    direct = target is not None
    target = target if target is not None else outdir / "hf"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".hf-cache-") as cache:
        dd = datasets.DatasetDict(
            {
                name: datasets.Dataset.from_parquet(
                    str(path), cache_dir=cache, keep_in_memory=False
                )
                for name, path in splits.items()
            }
        )
        tmp = target if direct else outdir / ".hf.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        dd.save_to_disk(str(tmp))
        del dd
    _normalise_hf_state(tmp)
    if direct:
        return target
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


def _normalise_hf_state(folder: Path) -> None:
    """Make ``save_to_disk`` output reproducible: its ``state.json`` holds a random
    fingerprint when the dataset came from a temporary cache. Replace it with a hash of
    the data files, so the same data gives byte-identical folders."""
    for state in sorted(folder.glob("*/state.json")):
        info = json.loads(state.read_text(encoding="utf-8"))
        h = hashlib.sha256()
        for f in sorted(state.parent.glob("*.arrow")):
            h.update(file_sha256(f).encode())
        info["_fingerprint"] = h.hexdigest()[:16]
        state.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# -- trainer config snippets ---------------------------------------------------------------


def llamafactory_entry(
    fmt: str, kind: str, file_name: str, *, tools: bool = False
) -> dict[str, Any]:
    """One ``dataset_info.json`` entry for LLaMA-Factory to load ``file_name``.

    Example:
        >>> llamafactory_entry("alpaca", "sft", "train.jsonl")["columns"]["prompt"]
        'instruction'
    """
    entry: dict[str, Any] = {"file_name": file_name}
    ranking = kind == "preference"
    if fmt == "alpaca":
        cols = {"prompt": "instruction", "query": "input", "system": "system", "history": "history"}
        if ranking:
            cols.update({"chosen": "chosen", "rejected": "rejected"})
        else:
            cols["response"] = "output"
        entry["columns"] = cols
    elif fmt == "sharegpt":
        entry["formatting"] = "sharegpt"
        cols = {"messages": "conversations", "system": "system"}
        if tools:
            cols["tools"] = "tools"
        if ranking:
            cols.update({"chosen": "chosen", "rejected": "rejected"})
        entry["columns"] = cols
    elif fmt in ("openai", "trl", "hf") and not ranking:
        entry["formatting"] = "sharegpt"
        entry["columns"] = {"messages": "messages"}
        entry["tags"] = {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        }
    else:
        return {}
    if ranking:
        entry["ranking"] = True
    return entry


def axolotl_block(
    fmt: str, kind: str, train: str, eval_: str, *, trl_shape: str = "messages"
) -> str:
    """The ``datasets:`` / ``test_datasets:`` YAML block axolotl needs to load the split.

    Example:
        >>> print(axolotl_block("alpaca", "sft", "out/train.jsonl", "out/eval.jsonl"))
        datasets:
          - path: out/train.jsonl
            ds_type: json
            type: alpaca
        test_datasets:
          - path: out/eval.jsonl
            ds_type: json
            split: train
            type: alpaca
        <BLANKLINE>
    """
    ds_type = "parquet" if fmt == "hf" else "json"
    if kind == "preference":
        body = [
            "type: chat_template.default",
            "field_messages: prompt",
            "field_chosen: chosen",
            "field_rejected: rejected",
            "message_property_mappings:",
            "  role: role",
            "  content: content",
        ]
        header = "rl: dpo\n"
        if fmt in ("sharegpt", "alpaca", "openai"):
            return ""  # axolotl reads DPO data in the trl/hf shape only
    else:
        header = ""
        if fmt == "alpaca":
            body = ["type: alpaca"]
        elif fmt == "sharegpt":
            body = [
                "type: chat_template",
                "field_messages: conversations",
                "message_property_mappings:",
                "  role: from",
                "  content: value",
                "roles:",
                "  user: [human]",
                "  assistant: [gpt]",
            ]
        elif fmt == "trl" and trl_shape == "prompt-completion":
            return ""  # axolotl has no loader for conversational prompt/completion
        else:
            body = [
                "type: chat_template",
                "field_messages: messages",
                "message_property_mappings:",
                "  role: role",
                "  content: content",
            ]

    def item(path: str, test: bool) -> str:
        lines = [f"path: {path}", f"ds_type: {ds_type}"]
        if test:
            lines.append("split: train")
        lines += body
        return "  - " + "\n    ".join(lines)

    return f"{header}datasets:\n{item(train, False)}\ntest_datasets:\n{item(eval_, True)}\n"


# -- files and manifest --------------------------------------------------------------------


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes, streamed.

    Example:
        >>> import tempfile
        >>> p = tempfile.mktemp(); _ = open(p, "wb").write(b"abc")
        >>> file_sha256(p)[:12]
        'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_text(obj: Any) -> str:
    """Stable JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_json(path: Path, obj: Any) -> None:
    """Atomic, stable (sorted keys, 2-space indent, trailing newline) JSON."""
    with atomic_write(path) as f:
        f.write(json_text(obj))
