"""Writers for each trainer's format, their config snippets, and the split manifest.

Every converter takes one canonical record (a dict: ``messages`` for supervised data, or
OpenAI's DPO shape ``input`` / ``preferred_output`` / ``non_preferred_output`` for
preference data) and returns the row the target trainer loads, keeping only the keys it
accepts. A record a format cannot represent (tool calls in Alpaca, a reasoning trace in
OpenAI's format, a missing image file) raises :class:`ExportError` with a stable
``reason``; the splitter writes it to ``rejected.jsonl`` instead of dropping it.

Reasoning (assistant ``reasoning_content``), tools and media (``image_url`` /
``audio_url`` / ``video_url`` parts, :mod:`curate.media`) are carried where the target
can hold them: see :data:`REASONING_AUTO` (``reasoning`` option), :class:`MediaPlan`
(``media`` option: where media files go) and docs/split.md's table. What a conversion
carried or dropped is counted in the ``stats`` counter it is given.

Formats (``--format``):

- ``openai``: ``train.jsonl`` / ``eval.jsonl`` with only the keys OpenAI's fine-tuning
  endpoint accepts (chat ``messages``/``tools``/``parallel_tool_calls``/``functions``, or
  DPO ``input``/``preferred_output``/``non_preferred_output``).
- ``hf``: a ``datasets.DatasetDict`` (``train``/``eval``) saved with ``save_to_disk`` in
  ``hf/`` and as ``train.parquet`` / ``eval.parquet``; columns ``messages`` (or
  ``prompt``/``chosen``/``rejected``), ``tools`` (a JSON string), ``id``, and with media
  ``images`` (``datasets.Image``, the bytes in the files) / ``videos`` / ``audios``.
- ``trl``: JSONL in TRL's conversational shapes: ``messages`` (or, with
  ``trl_shape="prompt-completion"``, ``prompt``/``completion``), and
  ``prompt``/``chosen``/``rejected`` for preference data; ``reasoning_content`` kept,
  media in TRL's vision format (``{"type": "image"}`` parts, an ``images`` column).
- ``sharegpt``: LLaMA-Factory's ShareGPT JSONL (``conversations`` of ``from``/``value``,
  ``system``, ``tools``, ``images``/``videos``/``audios``; ``chosen``/``rejected`` for
  preference data); reasoning as an inline ``<think>`` block.
- ``alpaca``: LLaMA-Factory's Alpaca JSONL (``instruction``/``input``/``output``,
  ``system``, ``history``, media columns; ``chosen``/``rejected`` for preference data).

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
from collections import Counter
from dataclasses import dataclass, field
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


# -- reasoning ---------------------------------------------------------------------------

#: the canonical field of an assistant message's thinking trace
REASONING_KEY = "reasoning_content"
#: ``reasoning`` option: ``auto`` (the format's own way, below), ``inline`` (a
#: ``<think>`` block at the start of the answer), ``drop`` (left out, counted in the
#: manifest) or ``reject`` (the record goes to rejected.jsonl)
REASONING_MODES = ("auto", "inline", "drop", "reject")
#: what ``auto`` means per format: the field, an inline block, or a reject (OpenAI's
#: chat fine-tuning schema has no reasoning field)
REASONING_AUTO = {
    "hf": "field",
    "trl": "field",
    "sharegpt": "inline",
    "alpaca": "inline",
    "openai": "reject",
}
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def reasoning_mode(fmt: str, reasoning: str = "auto") -> str:
    """What happens to a reasoning trace in ``fmt``: ``field``, ``inline``, ``drop`` or
    ``reject``.

    Example:
        >>> reasoning_mode("trl"), reasoning_mode("sharegpt"), reasoning_mode("openai")
        ('field', 'inline', 'reject')
        >>> reasoning_mode("openai", "inline")
        'inline'
    """
    if reasoning not in REASONING_MODES:
        raise ValueError(
            f"unknown reasoning mode {reasoning!r}; choose one of {', '.join(REASONING_MODES)}"
        )
    return REASONING_AUTO[fmt] if reasoning == "auto" else reasoning


def think_block(trace: str, answer: str) -> str:
    """The answer with its trace inline, as Qwen3-style templates and LLaMA-Factory's
    reasoning templates write it (``<think>\\n...\\n</think>\\n\\n`` then the answer).

    Example:
        >>> think_block("2 + 2 is 4.", "4")
        '<think>\\n2 + 2 is 4.\\n</think>\\n\\n4'
    """
    return f"{THINK_OPEN}\n{trace}\n{THINK_CLOSE}\n\n{answer}"


def _trace(m: dict[str, Any], where: str) -> str | None:
    """The message's non-empty trace (``None`` when it has none)."""
    if REASONING_KEY not in m:
        return None
    trace = m[REASONING_KEY]
    if trace is None:
        return None
    if not isinstance(trace, str):
        raise ExportError(
            "invalid_reasoning",
            f'{where}: "{REASONING_KEY}" is a {type(trace).__name__}, not a string',
        )
    if not trace.strip():
        return None  # an empty trace carries nothing
    if m.get("role") != "assistant":
        raise ExportError(
            "reasoning_not_on_assistant",
            f"{where}: a {m.get('role')!r} message has a reasoning trace; only assistant "
            "messages carry one",
        )
    return trace


def _apply_reasoning(
    trace: str | None, mode: str, fmt: str, where: str, stats: Counter[str] | None
) -> str | None:
    """Count the trace and return it when it stays (``field``/``inline``); raise for
    ``reject``."""
    if trace is None:
        return None
    if mode == "reject":
        why = (
            "OpenAI's chat fine-tuning format has no reasoning field"
            if fmt == "openai"
            else "--reasoning reject"
        )
        raise ExportError(
            "cannot_carry_reasoning",
            f"{where}: has a reasoning trace and {why}; pass --reasoning inline (a "
            "<think> block before the answer, trained as text) or --reasoning drop (left "
            "out, counted in the manifest), or export --format trl/hf, which keep it",
        )
    if stats is not None:
        stats[f"reasoning_{'dropped' if mode == 'drop' else mode}"] += 1
    return None if mode == "drop" else trace


# -- media ---------------------------------------------------------------------------------

#: ``media`` option: ``copy`` local files into OUTDIR/media/ (content-addressed names, a
#: file used twice is stored once), ``rewrite`` their paths relative to the output
#: folder (nothing copied), or ``embed`` them as ``data:`` URIs (base64)
MEDIA_MODES = ("copy", "rewrite", "embed")
MEDIA_DIR = "media"


@dataclass
class MediaPlan:
    """Where an export's media urls point. ``source`` is the JSONL file the records come
    from (a relative local url is relative to its folder), ``outdir`` the export folder
    (the data files are written there, so urls are written relative to it); with
    ``outdir=None`` urls are only checked (the file exists and is readable) and kept.

    ``copies`` collects the files to write into ``OUTDIR/media/`` (name -> source path,
    or the bytes of a decoded ``data:`` URI), for the caller to write once.
    """

    source: str
    outdir: str | None = None
    mode: str = "copy"
    copies: dict[str, str | bytes] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    def local(self, url: str, where: str) -> Path:
        """The local file ``url`` names; an :class:`ExportError` when it is missing or
        unreadable."""
        from curate.media import local_path

        path = local_path(url, self.source)
        if not path.is_file():
            reason = "media_missing" if not path.exists() else "media_unreadable"
            what = "does not exist" if not path.exists() else "is not a file"
            raise ExportError(
                reason,
                f"{where}: media file {url!r} {what} (looked for {path}; a relative path "
                "is relative to the folder of the input JSONL). Put the file there or fix "
                "the url (curate validate reports missing media)",
            )
        if not os.access(path, os.R_OK):
            raise ExportError(
                "media_unreadable", f"{where}: media file {path} is not readable (permissions)"
            )
        return path

    def url(self, kind: str, url: str, where: str, *, files: bool = False) -> str:
        """The url to write for a media item (a local file copied, rewritten or
        embedded; an ``http(s)`` url as it is; a ``data:`` URI as it is, or with
        ``files`` (a trainer that reads files) and ``--media copy`` decoded into
        ``media/``)."""
        from curate.media import is_local_path as is_local
        from curate.media import relative_url

        if url.startswith("data:"):
            raw = self.data_bytes(url, where)  # one that does not decode is a reject
            if self.outdir is None or not files or self.mode != "copy":
                return url
            import hashlib
            import mimetypes

            mime = url[5:].split(";", 1)[0].split(",", 1)[0]
            ext = mimetypes.guess_extension(mime) or ".bin"
            name = hashlib.sha256(raw).hexdigest()[:16] + ext
            self.copies.setdefault(name, raw)
            return f"{MEDIA_DIR}/{name}"
        if not is_local(url):
            return url
        path = self.local(url, where)
        if self.outdir is None:
            return url
        if self.mode == "embed":
            return data_uri(path, kind)
        if self.mode == "rewrite":
            return relative_url(path, Path(self.outdir) / "train.jsonl")
        name = self._names.get(str(path))
        if name is None:
            name = content_name(path)
            self._names[str(path)] = name
            self.copies[name] = str(path)
        return f"{MEDIA_DIR}/{name}"

    def image_cell(self, url: str, where: str) -> dict[str, Any]:
        """A ``datasets.Image`` cell: the bytes of a ``data:`` URI, the absolute path of a
        local file (:class:`ParquetSink` reads its bytes into the file as it writes the
        row, so a batch of rows never holds them), or the url of a remote image (decoded
        when the row is read)."""

        from curate.media import is_local_path as is_local

        if url.startswith("data:"):
            return {"bytes": self.data_bytes(url, where), "path": None}
        if not is_local(url):
            return {"bytes": None, "path": url}
        return {"bytes": None, "path": str(self.local(url, where).resolve())}

    @staticmethod
    def data_bytes(url: str, where: str) -> bytes:
        """The bytes of a ``data:`` URI (an :class:`ExportError` when it does not decode)."""
        import base64
        import binascii
        from urllib.parse import unquote_to_bytes

        head, sep, body = url.partition(",")
        try:
            if not sep:
                raise ValueError("no comma")
            if head.endswith(";base64"):
                return base64.b64decode(body, validate=True)
            return unquote_to_bytes(body)
        except (ValueError, binascii.Error) as e:
            raise ExportError(
                "media_unreadable", f"{where}: a data: URI that does not decode ({e})"
            ) from e


def content_name(path: str | os.PathLike[str]) -> str:
    """A content-addressed file name: the first 16 hex digits of the sha256 of the bytes
    and the file's extension (so the same image used twice is stored once).

    Example:
        >>> import tempfile
        >>> p = tempfile.mktemp(suffix=".PNG"); _ = open(p, "wb").write(b"abc")
        >>> content_name(p)
        'ba7816bf8f01cfea.png'
    """
    return file_sha256(path)[:16] + Path(path).suffix.lower()


def data_uri(path: Path, kind: str) -> str:
    """A file as a base64 ``data:`` URI (its MIME type from the extension)."""
    import base64
    import mimetypes

    mime = mimetypes.guess_type(path.name)[0] or f"{kind}/{path.suffix.lstrip('.') or 'bin'}"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _segments(content: Any, where: str) -> list[tuple[str, str]]:
    """A content as ``("text", s)`` and ``(kind, url)`` pieces in order; a part that is
    neither text nor canonical media is an :class:`ExportError`."""
    from curate.media import part_url

    if content is None:
        return []
    if isinstance(content, str):
        return [("text", content)]
    if not isinstance(content, list):
        raise ExportError("content_not_text", f"{where}: content is a {type(content).__name__}")
    out: list[tuple[str, str]] = []
    for j, p in enumerate(content):
        if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str):
            out.append(("text", p["text"]))
            continue
        found = part_url(p)
        if found is None:
            kind = p.get("type") if isinstance(p, dict) else type(p).__name__
            raise ExportError(
                "content_not_text",
                f"{where}: content[{j}] is a {kind!r} part; this format holds text and "
                "image_url/audio_url/video_url parts only",
            )
        out.append(found)
    return out


def _count_media(stats: Counter[str] | None, kind: str, url: str) -> None:
    if stats is None:
        return
    from curate.media import is_local_path as is_local

    where = "local" if is_local(url) else "data_uri" if url.startswith("data:") else "remote"
    stats[f"{kind}s"] += 1
    stats[f"{kind}s_{where}"] += 1


# -- per-format converters ---------------------------------------------------------------


@dataclass
class Context:
    """What a conversion needs besides the record: the reasoning mode in effect, the
    media plan (``None``: urls kept as they are, not checked) and a counter of what was
    carried or dropped (``None``: not counted)."""

    fmt: str
    reasoning: str = "auto"
    media: MediaPlan | None = None
    stats: Counter[str] | None = None
    #: what happens to a trace here (:func:`reasoning_mode`)
    mode: str = field(init=False)

    def __post_init__(self) -> None:
        self.mode = reasoning_mode(self.fmt, self.reasoning)

    def url(self, kind: str, url: str, where: str) -> str:
        _count_media(self.stats, kind, url)
        if self.media is None:
            return url
        # OpenAI takes data: URIs; the other trainers read files
        return self.media.url(kind, url, where, files=self.fmt != "openai")


def _openai_message(m: dict[str, Any], where: str, ctx: Context) -> dict[str, Any]:
    out = _pick(m, OPENAI_MESSAGE_KEYS)
    content = m.get("content")
    if isinstance(content, list):
        from curate.media import part_url

        parts = []
        for j, p in enumerate(content):
            found = part_url(p)
            if found is None:
                parts.append(p)  # text (or what validate --target openai will name)
                continue
            kind, url = found
            if kind != "image":
                raise ExportError(
                    "media_not_supported",
                    f"{where}: content[{j}] is {kind}; OpenAI's chat fine-tuning takes "
                    "images only (export --format trl/hf/sharegpt for audio and video)",
                )
            from curate.media import is_local_path as is_local

            if is_local(url) and (ctx.media is None or ctx.media.mode != "embed"):
                if ctx.media is not None:
                    ctx.media.local(url, f"{where} content[{j}]")  # missing: say so first
                    raise ExportError(
                        "media_not_uploadable",
                        f"{where}: content[{j}] is the local file {url!r}; OpenAI "
                        "fine-tuning takes image URLs or data: URIs. Pass --media embed to "
                        "inline local images as base64 data: URIs, or host them",
                    )
            new = dict(p)
            inner = dict(p["image_url"])
            inner["url"] = ctx.url(kind, url, f"{where} content[{j}]")
            new["image_url"] = inner
            parts.append(new)
        out["content"] = parts
    trace = _apply_reasoning(_trace(m, where), ctx.mode, "openai", where, ctx.stats)
    if trace is not None:
        out["content"] = _inline_content(trace, out.get("content"))
    return out


def _inline_content(trace: str, content: Any) -> Any:
    """``content`` with ``trace`` inline before it (a string, or a first text part)."""
    if isinstance(content, list):
        return [{"type": "text", "text": think_block(trace, "")}, *content]
    return think_block(trace, "" if content is None else str(content))


def to_openai(data: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    """Only the keys OpenAI's fine-tuning endpoint accepts (chat or DPO). A reasoning
    trace cannot be carried: rejected (``cannot_carry_reasoning``) unless
    ``ctx.reasoning`` is ``inline`` or ``drop``; local images need ``--media embed``."""
    ctx = ctx or Context("openai")

    def msgs(items: list[dict[str, Any]], col: str) -> list[dict[str, Any]]:
        return [_openai_message(m, f"{col}[{i}]", ctx) for i, m in enumerate(items)]

    if record_kind(data) == "sft":
        out = {k: data[k] for k in OPENAI_TOP_LEVEL if k in data}
        out["messages"] = msgs(data["messages"], "messages")
        _count_tools(ctx, data, data["messages"])
        return {k: out[k] for k in OPENAI_TOP_LEVEL if k in out}
    inp = data["input"]
    new_inp = {k: inp[k] for k in OPENAI_DPO_INPUT if k in inp}
    new_inp["messages"] = msgs(inp["messages"], "input.messages")
    _count_tools(ctx, inp, inp["messages"])
    return {
        "input": {k: new_inp[k] for k in OPENAI_DPO_INPUT if k in new_inp},
        "preferred_output": msgs(data["preferred_output"], "preferred_output"),
        "non_preferred_output": msgs(data["non_preferred_output"], "non_preferred_output"),
    }


def _count_tools(ctx: Context, src: dict[str, Any], msgs: list[Any]) -> None:
    """Count tools, calls and results, and per-message ``weight`` (only OpenAI's format
    holds one: elsewhere it is counted as dropped, a weight 0 apart, since the trainer
    then learns that turn)."""
    stats = ctx.stats
    if stats is None:
        return
    if src.get("tools"):
        stats["records_with_tools"] += 1
    for m in msgs:
        if len(m) == 2 and m.get("role") in ("user", "assistant", "system"):
            continue  # {role, content}: no call, no result, no weight
        if "weight" in m:
            if ctx.fmt == "openai":
                stats["weights_carried"] += 1
            else:
                stats["weights_dropped"] += 1
                stats["weight_zero_dropped"] += m["weight"] == 0
        calls = m.get("tool_calls")
        if calls:
            stats["tool_calls"] += len(calls) if isinstance(calls, list) else 1
        if m.get("function_call"):  # the legacy single call
            stats["tool_calls"] += 1
        if m.get("role") in ("tool", "function"):
            stats["tool_results"] += 1


def _chat_message(
    m: dict[str, Any], where: str, ctx: Context, media: dict[str, list[str]]
) -> dict[str, Any]:
    """A TRL / Hugging Face message: ``role``, ``content`` (text, or TRL's vision parts
    ``{"type": "text", "text"}`` / ``{"type": "image"}`` when it holds media, whose urls
    go to ``media``), the optional keys, and ``reasoning_content``."""
    out = _pick(m, HF_MESSAGE_KEYS)
    content = m.get("content")
    if isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") != "text" for p in content
    ):
        parts: list[dict[str, Any]] = []
        for kind, value in _segments(content, where):
            if kind == "text":
                parts.append({"type": "text", "text": value})
            else:
                if ctx.fmt == "hf" and kind == "image":  # to_hf reads the file itself
                    _count_media(ctx.stats, kind, value)
                else:
                    value = ctx.url(kind, value, where)
                media.setdefault(kind, []).append(value)
                parts.append({"type": kind})
        out["content"] = parts
    elif out.get("content") is None:
        # a tool-call turn without text: "" not null, because chat templates test the
        # content as text (Qwen3's `'</think>' in message.content` fails on None) and a
        # datasets column cannot leave the key out
        out["content"] = ""
    trace = _apply_reasoning(_trace(m, where), ctx.mode, ctx.fmt, where, ctx.stats)
    if trace is not None:
        if ctx.mode == "inline":
            out["content"] = _inline_content(trace, out.get("content"))
        else:
            out[REASONING_KEY] = trace
    return out


#: media kind -> the column that lists its files (TRL's ``images``; LLaMA-Factory's
#: ``images`` / ``videos`` / ``audios``)
MEDIA_COLUMNS = {"image": "images", "video": "videos", "audio": "audios"}


def to_trl(
    data: dict[str, Any], shape: str = "messages", ctx: Context | None = None
) -> dict[str, Any]:
    """TRL's conversational shapes: ``messages``, ``prompt``/``completion``, or
    ``prompt``/``chosen``/``rejected`` for preference data (``tools`` kept when present),
    with ``reasoning_content`` on assistant messages and, for media, TRL's vision format:
    ``{"type": "image"}`` parts in the content and the files in an ``images`` column."""
    if shape not in TRL_SHAPES:
        raise ValueError(f"unknown trl shape {shape!r}; choose one of {', '.join(TRL_SHAPES)}")
    ctx = ctx or Context("trl")
    media: dict[str, list[str]] = {}

    def msgs(items: list[dict[str, Any]], col: str) -> list[dict[str, Any]]:
        return [_chat_message(m, f"{col}[{i}]", ctx, media) for i, m in enumerate(items)]

    if record_kind(data) == "preference":
        inp = data["input"]
        out: dict[str, Any] = {
            "prompt": msgs(inp["messages"], "input.messages"),
            "chosen": msgs(data["preferred_output"], "preferred_output"),
            "rejected": msgs(data["non_preferred_output"], "non_preferred_output"),
        }
        if "tools" in inp:
            out["tools"] = inp["tools"]
        _count_tools(ctx, inp, inp["messages"])
    else:
        converted = msgs(data["messages"], "messages")
        if shape == "messages":
            out = {"messages": converted}
        else:
            if converted[-1]["role"] != "assistant":
                raise ExportError(
                    "no_final_assistant",
                    f"prompt-completion needs the conversation to end with an assistant "
                    f"reply (it ends with {converted[-1]['role']!r})",
                )
            out = {"prompt": converted[:-1], "completion": converted[-1:]}
        if "tools" in data:
            out["tools"] = data["tools"]
        _count_tools(ctx, data, data["messages"])
    for kind, urls in media.items():
        out[MEDIA_COLUMNS[kind]] = urls
    return out


def _turn_value(m: dict[str, Any], where: str, ctx: Context, media: dict[str, list[str]]) -> str:
    """A message's text with a LLaMA-Factory placeholder (``<image>``, ``<video>``,
    ``<audio>``) where each media part was; the urls go to ``media``."""
    from curate.media import PLACEHOLDERS

    content = m.get("content")
    if type(content) is str and "<" not in content:  # the common case, fast
        return content
    pieces: list[str] = []
    last_text = False
    for kind, value in _segments(content, where):
        if kind == "text":
            for ph in PLACEHOLDERS.values() if "<" in value else ():
                if ph in value:
                    raise ExportError(
                        "placeholder_in_text",
                        f"{where}: the text holds a literal {ph}, which LLaMA-Factory "
                        "would read as a media placeholder; edit the text",
                    )
            pieces.append(("\n" if last_text else "") + value)
            last_text = True
        else:
            media.setdefault(kind, []).append(ctx.url(kind, value, where))
            pieces.append(PLACEHOLDERS[kind])
            last_text = False
    return "".join(pieces)


def _sharegpt_turns(
    msgs: list[dict[str, Any]], ctx: Context, media: dict[str, list[str]], col: str = "messages"
) -> tuple[str | None, list[dict[str, str]]]:
    system: str | None = None
    turns: list[dict[str, str]] = []
    for i, m in enumerate(msgs):
        where = f"{col}[{i}]"
        role = m["role"]
        if role == "system":
            if turns or system is not None:
                raise ExportError(
                    "system_not_first",
                    f"{where}: a system message after the first turn cannot be "
                    "expressed in ShareGPT/Alpaca (only one leading system prompt)",
                )
            system = _text(m.get("content"), where)
            continue
        trace = _apply_reasoning(_trace(m, where), ctx.mode, ctx.fmt, where, ctx.stats)
        if ctx.mode == "field" and trace is not None:  # pragma: no cover - not a mode here
            raise ValueError("ShareGPT/Alpaca have no reasoning field")
        calls = m.get("tool_calls") or (
            [{"function": m["function_call"]}] if m.get("function_call") else None
        )
        if role == "assistant" and calls:
            if _text(m.get("content"), where).strip():
                raise ExportError(
                    "tool_call_with_text",
                    f"{where}: an assistant message with both text and tool calls; "
                    "LLaMA-Factory's function_call turn holds the calls only (the text "
                    "would be lost). Export --format trl/hf/openai, or move the text",
                )
            fns = [_call_dict(c, i) for c in calls]
            value = dumps(fns[0] if len(fns) == 1 else fns)
            if trace is not None:
                value = think_block(trace, value)
            turns.append({"from": "function_call", "value": value})
            continue
        if role not in SHAREGPT_ROLES:
            raise ExportError("unknown_role", f"{where}: role {role!r} has no ShareGPT tag")
        value = _turn_value(m, where, ctx, media)
        if trace is not None:
            value = think_block(trace, value)
        turns.append({"from": SHAREGPT_ROLES[role], "value": value})
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


def _media_columns(out: dict[str, Any], media: dict[str, list[str]]) -> dict[str, Any]:
    for kind in ("image", "video", "audio"):
        if media.get(kind):
            out[MEDIA_COLUMNS[kind]] = media[kind]
    return out


def to_sharegpt(data: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT row (``from``: human, gpt, function_call, observation):
    reasoning inline as a ``<think>`` block, media as ``<image>``/``<video>``/``<audio>``
    placeholders with ``images``/``videos``/``audios`` columns, ``tools`` as JSON text."""
    ctx = ctx or Context("sharegpt")
    media: dict[str, list[str]] = {}
    kind = record_kind(data)
    src = data if kind == "sft" else data["input"]
    col = "messages" if kind == "sft" else "input.messages"
    system, turns = _sharegpt_turns(src["messages"], ctx, media, col)
    out: dict[str, Any] = {"conversations": turns}
    if kind == "preference":
        for key, side in (("chosen", "preferred_output"), ("rejected", "non_preferred_output")):
            _, reply = _sharegpt_turns(data[side], ctx, media, side)
            if len(reply) != 1 or reply[0]["from"] != "gpt":
                raise ExportError(
                    "multi_turn_preference",
                    f"{side}: ShareGPT preference data holds one assistant reply per side",
                )
            out[key] = reply[0]
    _check_sharegpt_order(turns, kind)
    if system is not None:
        out["system"] = system
    if "tools" in src:
        out["tools"] = _tools_string(src["tools"])
    _count_tools(ctx, src, src["messages"])
    return _media_columns(out, media)


def _check_sharegpt_order(turns: list[dict[str, str]], kind: str) -> None:
    """What LLaMA-Factory's ShareGPT converter accepts (it skips any other conversation
    with a warning): human or observation turns at even positions, gpt or function_call at
    odd ones, ending with the assistant (before ``chosen``/``rejected`` for preference
    data: ending with a human turn)."""
    odd = ("gpt", "function_call")
    for i, t in enumerate(turns):
        if (t["from"] in odd) != (i % 2 == 1):
            got = ", ".join(x["from"] for x in turns)
            raise ExportError(
                "not_alternating",
                f"LLaMA-Factory's ShareGPT reader needs human/observation and "
                f"gpt/function_call turns to alternate, starting with human (got {got}); it "
                "would skip this conversation",
            )
    if turns and (len(turns) % 2 == 0) != (kind == "sft"):
        last = turns[-1]["from"] if turns else "nothing"
        raise ExportError(
            "not_alternating",
            f"the conversation ends with {last}; LLaMA-Factory's ShareGPT reader needs "
            + (
                "an assistant reply last"
                if kind == "sft"
                else "the prompt to end with a human turn"
            ),
        )


def to_alpaca(data: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    """LLaMA-Factory's Alpaca row: the last user turn as ``instruction``, the reply as
    ``output`` (``chosen``/``rejected`` for preference data), earlier turns as ``history``;
    reasoning inline, media as placeholders with ``images``/``videos``/``audios``."""
    ctx = ctx or Context("alpaca")
    media: dict[str, list[str]] = {}
    kind = record_kind(data)
    src = data if kind == "sft" else data["input"]
    if "tools" in src or any(
        m.get("tool_calls") or m.get("function_call") or m["role"] in ("tool", "function")
        for m in src["messages"]
    ):
        raise ExportError("tools_not_supported", "Alpaca cannot hold tool calls or tool results")
    col = "messages" if kind == "sft" else "input.messages"
    system, turns = _sharegpt_turns(src["messages"], ctx, media, col)
    if kind == "preference":
        replies = []
        for side in ("preferred_output", "non_preferred_output"):
            _, reply = _sharegpt_turns(data[side], ctx, media, side)
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
    _count_tools(ctx, src, src["messages"])
    return _media_columns(out, media)


def to_hf(data: dict[str, Any], record_id: str, ctx: Context | None = None) -> dict[str, Any]:
    """A row for the Hugging Face dataset: TRL's conversational columns (with
    ``reasoning_content``), ``tools`` as a JSON string (or ``None``), the record's ``id``,
    and for media ``images`` (``datasets.Image`` cells: the file's bytes) and
    ``videos``/``audios`` (paths relative to the export folder)."""
    ctx = ctx or Context("hf")
    row = to_trl(data, "messages", ctx)
    tools = row.pop("tools", None)
    images = row.pop("images", None)
    for col in ("messages", "prompt", "chosen", "rejected"):
        if col in row:
            row[col] = [_arrow_message(m, f"{col}[{i}]") for i, m in enumerate(row[col])]
    row["tools"] = None if tools is None else _tools_string(tools)
    row["id"] = record_id
    if images:
        row["images"] = [_image_cell(u, ctx, f"images[{i}]") for i, u in enumerate(images)]
    return row


def _image_cell(url: str, ctx: Context, where: str) -> dict[str, Any]:
    if ctx.media is None:
        return {"bytes": None, "path": url}
    return ctx.media.image_cell(url, where)


def _arrow_message(m: dict[str, Any], where: str) -> dict[str, Any]:
    content = m.get("content")
    if isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") != "text" for p in content
    ):
        value: Any = [{"type": p["type"], "text": p.get("text")} for p in content]
    else:
        value = _text(content, where)
    out: dict[str, Any] = {"role": m["role"], "content": value}
    if "name" in m:
        out["name"] = None if m["name"] is None else str(m["name"])
    if "tool_call_id" in m:
        out["tool_call_id"] = None if m["tool_call_id"] is None else str(m["tool_call_id"])
    if REASONING_KEY in m:
        out[REASONING_KEY] = m[REASONING_KEY]
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
    data: Any,
    fmt: str,
    *,
    trl_shape: str = "messages",
    record_id: str = "",
    reasoning: str = "auto",
    media: MediaPlan | None = None,
    stats: Counter[str] | None = None,
) -> dict[str, Any]:
    """Convert one canonical record to ``fmt`` (see :data:`FORMATS`). ``reasoning`` is
    one of :data:`REASONING_MODES`; ``media`` says where media urls point (``None``:
    kept as they are); ``stats`` counts what was carried or dropped."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    ctx = Context(fmt, reasoning, media, stats)
    if fmt == "openai":
        return to_openai(data, ctx)
    if fmt == "trl":
        return to_trl(data, trl_shape, ctx)
    if fmt == "sharegpt":
        return to_sharegpt(data, ctx)
    if fmt == "alpaca":
        return to_alpaca(data, ctx)
    return to_hf(data, record_id, ctx)


# -- Hugging Face (Parquet + save_to_disk) -------------------------------------------------


def hf_schema(kind: str, fields: set[str], *, reasoning: bool = False) -> Any:
    """The Arrow schema of the ``hf`` export. Optional message fields (``name``,
    ``tool_calls``, ``tool_call_id``, ``reasoning_content`` when ``reasoning``) are
    columns only when some record uses them, so chat templates do not see ``None`` keys
    that no example has. When some record holds media (``image``/``audio``/``video`` in
    ``fields``) every ``content`` is a list of ``{type, text}`` parts (TRL's vision
    format), ``images`` is a list of ``datasets.Image`` (the bytes are in the file) and
    ``videos``/``audios`` are lists of paths relative to the export folder."""
    import pyarrow as pa

    has_media = bool(fields & {"image", "audio", "video"})
    if has_media:
        part = pa.struct([pa.field("type", pa.string()), pa.field("text", pa.string())])
        content = pa.list_(part)
    else:
        content = pa.string()
    msg_fields = [pa.field("role", pa.string()), pa.field("content", content)]
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
    if reasoning:
        msg_fields.append(pa.field(REASONING_KEY, pa.string()))
    messages = pa.list_(pa.struct(msg_fields))
    cols = ["messages"] if kind == "sft" else ["prompt", "chosen", "rejected"]
    schema = [pa.field(c, messages) for c in cols]
    schema += [pa.field("tools", pa.string()), pa.field("id", pa.string())]
    for kind_ in ("video", "audio"):
        if kind_ in fields:
            schema.append(pa.field(MEDIA_COLUMNS[kind_], pa.list_(pa.string())))
    plain = pa.schema(schema)
    if "image" not in fields:
        return plain
    import datasets

    features = datasets.Features.from_arrow_schema(plain)
    features["images"] = datasets.List(datasets.Image())
    return features.arrow_schema


def hf_fill(row: dict[str, Any], schema: Any) -> dict[str, Any]:
    """``row`` shaped for ``schema``: text contents as one text part when contents are
    part lists, and empty media columns for a record without media."""
    import pyarrow as pa

    msg_type = schema.field(schema.names[0]).type.value_type
    if pa.types.is_list(msg_type.field("content").type):
        for col in ("messages", "prompt", "chosen", "rejected"):
            for m in row.get(col) or ():
                c = m.get("content")
                if not isinstance(c, list):
                    m["content"] = [] if c is None else [{"type": "text", "text": c}]
    for col in ("images", "videos", "audios"):
        if col in schema.names and col not in row:
            row[col] = []
    return row


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
        self.bytes = 0
        # direct: ``path`` is already a temporary name (an output plan's), written as is
        self.tmp = path if direct else path.with_name(f".{path.name}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(hf_fill(row, self.schema))
        for cell in row.get("images") or ():
            path = cell.get("path")
            if cell.get("bytes") is None and path and os.path.isabs(path):
                cell["bytes"] = Path(path).read_bytes()  # a local image, embedded
                cell["path"] = os.path.basename(path)
            self.bytes += len(cell.get("bytes") or b"")
        # image bytes are in the rows: a row group holds at most ~64 MB of them
        if len(self.rows) >= self.batch_rows or self.bytes >= 64 << 20:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []
            self.bytes = 0

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


#: LLaMA-Factory's ShareGPT tags as the sharegpt export writes them
SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


def llamafactory_gap(
    fmt: str,
    kind: str,
    *,
    fields: set[str] | frozenset[str] = frozenset(),
    reasoning: str = "auto",
) -> str | None:
    """Why LLaMA-Factory cannot load this export as written (``None`` when it can)."""
    if fmt in ("sharegpt", "alpaca"):
        return None
    if kind == "preference":
        return "LLaMA-Factory reads preference data as sharegpt or alpaca: export one of those"
    keeps_field = "reasoning" in fields and reasoning_mode(fmt, reasoning) == "field"
    if keeps_field or set(fields) & {"tool_calls", "image", "video", "audio"}:
        return (
            "LLaMA-Factory's ShareGPT reader takes text content only (a reasoning field, "
            "tool calls or media would be lost): export --format sharegpt"
        )
    return None


def llamafactory_entry(
    fmt: str,
    kind: str,
    file_name: str,
    *,
    tools: bool = False,
    fields: set[str] | frozenset[str] = frozenset(),
    reasoning: str = "auto",
) -> dict[str, Any]:
    """One ``dataset_info.json`` entry for LLaMA-Factory to load ``file_name``.
    ``fields`` are what the records use (``tools``, ``tool_calls``, ``reasoning``,
    ``image``/``video``/``audio``): the entry declares the ``images``/``videos``/
    ``audios`` and ``tools`` columns they need. Returns ``{}`` when LLaMA-Factory cannot
    read the export faithfully (preference data outside sharegpt/alpaca; an
    openai/trl/hf export whose records hold tool calls, media or a reasoning field,
    which its ShareGPT reader would not see).

    Example:
        >>> llamafactory_entry("alpaca", "sft", "train.jsonl")["columns"]["prompt"]
        'instruction'
        >>> llamafactory_entry("sharegpt", "sft", "t.jsonl", fields={"image"})["columns"]
        {'messages': 'conversations', 'system': 'system', 'images': 'images'}
    """
    entry: dict[str, Any] = {"file_name": file_name}
    ranking = kind == "preference"
    fields = set(fields) | ({"tools"} if tools else set())
    media_cols = {
        MEDIA_COLUMNS[k]: MEDIA_COLUMNS[k] for k in ("image", "video", "audio") if k in fields
    }
    if fmt == "alpaca":
        cols = {"prompt": "instruction", "query": "input", "system": "system", "history": "history"}
        if ranking:
            cols.update({"chosen": "chosen", "rejected": "rejected"})
        else:
            cols["response"] = "output"
        cols.update(media_cols)
        entry["columns"] = cols
    elif fmt == "sharegpt":
        entry["formatting"] = "sharegpt"
        cols = {"messages": "conversations", "system": "system"}
        if "tools" in fields:
            cols["tools"] = "tools"
        cols.update(media_cols)
        if ranking:
            cols.update({"chosen": "chosen", "rejected": "rejected"})
        entry["columns"] = cols
        entry["tags"] = dict(SHAREGPT_TAGS)
    elif not llamafactory_gap(fmt, kind, fields=fields, reasoning=reasoning):
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


def axolotl_gap(
    fmt: str,
    kind: str,
    *,
    trl_shape: str = "messages",
    fields: set[str] | frozenset[str] = frozenset(),
) -> str | None:
    """Why axolotl cannot load this export as written (``None`` when it can).

    Example:
        >>> axolotl_gap("sharegpt", "sft", fields={"tool_calls"})[:40]
        'function_call/observation turns and tool'
    """
    has_media = bool(set(fields) & {"image", "audio", "video"})
    if kind == "preference":
        if fmt in ("sharegpt", "alpaca", "openai"):
            return "axolotl reads DPO data in the trl/hf shape only: export --format trl or hf"
        if has_media:
            return "axolotl's DPO loader takes no image columns"
        return None
    if has_media and fmt != "hf":
        return (
            "axolotl reads images from list[Image] columns or absolute paths in the parts: "
            "export --format hf (images stored in the Parquet files)"
        )
    if fmt == "sharegpt" and set(fields) & {"tool_calls", "tools"}:
        return (
            "function_call/observation turns and tools as JSON text are not read by "
            "axolotl's chat_template loader: export --format trl"
        )
    if fmt == "trl" and trl_shape == "prompt-completion":
        return "axolotl has no loader for conversational prompt/completion"
    return None


def axolotl_block(
    fmt: str,
    kind: str,
    train: str,
    eval_: str,
    *,
    trl_shape: str = "messages",
    fields: set[str] | frozenset[str] = frozenset(),
    reasoning: str = "auto",
) -> str:
    """The ``datasets:`` / ``test_datasets:`` YAML block axolotl needs to load the split
    (``""`` when axolotl cannot load it as written). ``fields`` are what the records use:
    a reasoning field is mapped (``reasoning_content``), an inline ``<think>`` block is
    split back into it (``split_thinking: true``), tools are read from ``tools``
    (``field_tools``), and an ``hf`` export with images gets axolotl's multimodal keys.

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
    fields = set(fields)
    if axolotl_gap(fmt, kind, trl_shape=trl_shape, fields=fields):
        return ""
    has_media = bool(fields & {"image", "audio", "video"})
    mode = reasoning_mode(fmt, reasoning) if "reasoning" in fields else "none"
    header = ""
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
        if mode == "field":
            body.append(f"  {REASONING_KEY}: {REASONING_KEY}")
        header = "rl: dpo\n"
    else:
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
            if mode == "inline":
                body.append("split_thinking: true")
        else:
            body = [
                "type: chat_template",
                "field_messages: messages",
                "message_property_mappings:",
                "  role: role",
                "  content: content",
            ]
            if mode == "field":
                body.append(f"  {REASONING_KEY}: {REASONING_KEY}")
            body += [f"  {k}: {k}" for k in ("name", "tool_calls", "tool_call_id") if k in fields]
            if mode == "inline":
                body.append("split_thinking: true")
            if "tools" in fields and fmt != "hf":  # hf holds tools as JSON text
                body.append("field_tools: tools")
        if has_media:
            header = (
                "processor_type: AutoProcessor\nskip_prepare_dataset: true\n"
                "remove_unused_columns: false\nsample_packing: false\n"
            )

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
    from curate.io import source_file

    h = hashlib.sha256()
    with open(source_file(path), "rb") as f:
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
