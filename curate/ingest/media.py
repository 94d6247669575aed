"""Media columns and placeholders -> canonical media parts (:mod:`curate.media`), and the
media paths of a converted record made relative to the file that will hold it.

Three input shapes carry media beside the text:

- LLaMA-Factory / ShareGPT: ``images`` / ``videos`` / ``audios`` columns (lists of paths or
  URLs) and ``<image>`` / ``<video>`` / ``<audio>`` placeholders in the message text. Each
  placeholder becomes a canonical part at its position; the text around it stays as text
  parts, unchanged. The n-th placeholder of a kind takes the n-th item of its column,
  counting through the messages in order (LLaMA-Factory's ``mm_plugin`` does the same).
- TRL vision: an ``images`` column and content parts ``{"type": "image"}`` (optionally with
  an ``index`` into the column); ``{"type": "text", "text": ...}`` parts are kept.
- Inline parts that name their source (``{"type": "image", "url" | "path" | "image": U}``,
  transformers' chat-template form) and OpenAI's ``input_audio`` (base64 data) become
  canonical parts directly.

Counts must match: placeholders of a kind versus items of its column (LLaMA-Factory's
training raises ``The number of images does not match the number of <image> tokens``), or
the record is rejected with ``media_mismatch``. One exception, LLaMA-Factory's own: when no
message has a placeholder of a kind and its column is not empty, the placeholders are put at
the start of the first user message (LLaMA-Factory's chat engines, ``chat/hf_engine.py``,
prepend ``<image>`` * len(images) to the first message when none is present; its training
``mm_plugin`` raises on such a record instead). Items that
cannot be a url (embedded bytes, lists of video frames, empty strings) are ``bad_media``.

Example:
    >>> body = {"messages": [{"role": "user", "content": "<image>Who?"},
    ...                      {"role": "assistant", "content": "Kane."}]}
    >>> attach(body, {"images": ["a.jpg"]})
    >>> body["messages"][0]["content"]
    [{'type': 'image_url', 'image_url': {'url': 'a.jpg'}}, {'type': 'text', 'text': 'Who?'}]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.ingest.base import Reject, json_type
from curate.media import (
    KIND_PARTS,
    PLACEHOLDERS,
    is_local_path,
    media_part,
    part_url,
    relative_url,
)

#: column -> media kind
COLUMNS = {"images": "image", "videos": "video", "audios": "audio"}
#: kind -> column
KIND_COLUMNS = {kind: col for col, kind in COLUMNS.items()}
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
_KIND_OF = {p: k for k, p in PLACEHOLDERS.items()}
#: a Windows absolute path (``C:\\imgs\\a.png``, ``\\\\server\\share``), kept as given on any OS
_WINDOWS_ABS = re.compile(r"[A-Za-z]:[\\/]|\\\\")
#: canonical part type -> kind (a part whose url is a bare string is normalised)
_CANONICAL = {part: kind for kind, part in KIND_PARTS.items()}
#: OpenAI ``input_audio`` formats -> MIME type
_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg"}


#: LLaVA-style singular keys (``"image": "coco/000.jpg"``) -> the column they stand for
SINGULAR = {"image": "images", "video": "videos", "audio": "audios"}


def _mentions(value: Any, tag: str) -> bool:
    """Whether a string inside ``value`` (the raw turns) holds ``tag``."""
    if isinstance(value, str):
        return tag in value
    if isinstance(value, list):
        return any(_mentions(v, tag) for v in value)
    if isinstance(value, dict):
        return any(_mentions(v, tag) for v in value.values())
    return False


def media_keys(record: dict[str, Any]) -> dict[str, str]:
    """The record's keys that hold media, mapped to their column: ``images`` /
    ``videos`` / ``audios``, and LLaVA's singular ``image`` / ``video`` / ``audio`` (a
    path or a list of them) when the plural is absent and the turns hold the matching
    placeholder (otherwise a singular key is ordinary data and stays in ``metadata``).

    Example:
        >>> media_keys({"image": "coco/1.jpg", "conversations": [{"value": "<image>\\nHi"}]})
        {'image': 'images'}
        >>> media_keys({"image": "logo.png", "conversations": [{"value": "Hi"}]})
        {}
    """
    out = {c: c for c in COLUMNS if c in record}
    for key, col in SINGULAR.items():
        if key in record and col not in record:
            turns = record.get("conversations", record.get("messages"))
            if _mentions(turns, PLACEHOLDERS[COLUMNS[col]]):
                out[key] = col
    return out


def has_media_columns(record: dict[str, Any]) -> bool:
    """True when ``record`` has media columns (:func:`media_keys`)."""
    return bool(media_keys(record))


def column_items(record: dict[str, Any]) -> dict[str, list[str]]:
    """The media columns of ``record`` as lists of urls (``None`` or ``[]`` = none; a single
    string is one item). Raises :class:`Reject` (``bad_media``) for an item that is not a
    path or URL.

    Example:
        >>> column_items({"images": "a.png", "videos": None})
        {'images': ['a.png'], 'videos': []}
    """
    out: dict[str, list[str]] = {}
    for key, col in media_keys(record).items():
        value = record[key]
        if value is None:
            out[col] = []
            continue
        items = value if isinstance(value, list) else [value]
        urls = []
        for i, item in enumerate(items):
            urls.append(_item_url(item, f"{key}[{i}]"))
        out[col] = urls
    return out


def _item_url(item: Any, where: str) -> str:
    if isinstance(item, dict):
        if item.get("bytes") not in (None, "", b""):
            raise Reject(
                "bad_media",
                f"{where} holds the file's bytes, not a path or URL: curate writes JSONL, which "
                "cannot carry them. Save the files and list their paths (datasets: "
                "cast_column(..., Image(decode=False)) keeps the path)",
            )
        for key in ("path", "url"):
            if isinstance(item.get(key), str):
                item = item[key]
                break
    if isinstance(item, list):
        raise Reject(
            "bad_media",
            f"{where} is a list (a video given as frames?); the chat record takes one path or "
            "URL per item",
        )
    if not isinstance(item, str):
        raise Reject(
            "bad_media", f"{where} is a JSON {json_type(item)}, expected a path or URL string"
        )
    if not item.strip():
        raise Reject("bad_media", f"{where} is an empty string")
    return item


def _text_parts(text: str, queues: dict[str, list[str]]) -> list[dict[str, Any]]:
    """``text`` split at its placeholders: text parts (verbatim) and media parts taken from
    the front of ``queues``."""
    parts: list[dict[str, Any]] = []
    pos = 0
    for m in _PLACEHOLDER_RE.finditer(text):
        if m.start() > pos:
            parts.append({"type": "text", "text": text[pos : m.start()]})
        kind = _KIND_OF[m.group()]
        parts.append(media_part(kind, queues[kind].pop(0)))
        pos = m.end()
    if pos < len(text):
        parts.append({"type": "text", "text": text[pos:]})
    return parts


def _inline_part(part: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A part that names its own media source as a canonical part (``None``: not one)."""
    kind = part.get("type")
    if kind in _CANONICAL and isinstance(part.get(kind), str):  # {"image_url": "URL"}
        return media_part(_CANONICAL[kind], _item_url(part[kind], f"{where} {kind}"))
    if kind == "input_audio" and isinstance(part.get("input_audio"), dict):
        data = part["input_audio"].get("data")
        fmt = part["input_audio"].get("format")
        if not isinstance(data, str) or not data:
            raise Reject("bad_media", f"{where} input_audio has no base64 data")
        mime = _AUDIO_MIME.get(fmt if isinstance(fmt, str) else "", f"audio/{fmt}")
        return media_part("audio", f"data:{mime};base64,{data}")
    if kind not in PLACEHOLDERS:
        return None
    for key in ("url", "path", kind):
        value = part.get(key)
        if value is None:
            continue
        return media_part(kind, _item_url(value, f"{where} {key}"))
    return None


def _placeholder_part(part: Any) -> str | None:
    """The kind of a TRL placeholder part (``{"type": "image"}`` without a source)."""
    if isinstance(part, dict) and part.get("type") in PLACEHOLDERS:
        if not any(part.get(k) is not None for k in ("url", "path", part["type"])):
            return str(part["type"])
    return None


def _count(messages: list[dict[str, Any]]) -> dict[str, int]:
    n = dict.fromkeys(PLACEHOLDERS, 0)
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        for text in _texts(content):
            for ph in _PLACEHOLDER_RE.findall(text):
                n[_KIND_OF[ph]] += 1
        if isinstance(content, list):
            for p in content:
                kind = _placeholder_part(p)
                if kind is not None:  # with or without an index into the column
                    n[kind] += 1
    return n


def _texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for p in content:
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str):
                yield p["text"]


def _convert_messages(
    messages: list[dict[str, Any]], queues: dict[str, list[str]], items: dict[str, list[str]]
) -> None:
    """Replace the placeholders of ``messages`` (in place) with parts from ``queues``."""
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, str):
            if _PLACEHOLDER_RE.search(content):
                m["content"] = _text_parts(content, queues)
            continue
        if not isinstance(content, list):
            continue
        new: list[Any] = []
        for j, p in enumerate(content):
            where = f"messages[{i}] content[{j}]"
            kind = _placeholder_part(p)
            if kind is not None:
                index = p.get("index")
                column = items.get(KIND_COLUMNS[kind], [])
                if isinstance(index, int):
                    if not 0 <= index < len(column):
                        raise Reject(
                            "media_mismatch",
                            f"{where} points at {KIND_COLUMNS[kind]}[{index}], but "
                            f'"{KIND_COLUMNS[kind]}" has {len(column)} item(s)',
                        )
                    new.append(media_part(kind, column[index]))
                else:
                    new.append(media_part(kind, queues[kind].pop(0)))
                continue
            inline = _inline_part(p, where) if isinstance(p, dict) else None
            if inline is not None:
                new.append(inline)
            elif (
                isinstance(p, dict)
                and p.get("type") == "text"
                and isinstance(p.get("text"), str)
                and _PLACEHOLDER_RE.search(p["text"])
            ):
                new.extend(_text_parts(p["text"], queues))
            else:
                new.append(p)
        m["content"] = new


def _prepend(messages: list[dict[str, Any]], kind: str, n: int, col: str) -> None:
    """Put ``n`` placeholders of ``kind`` at the start of the first user message."""
    target = next(
        (m for m in messages if isinstance(m, dict) and m.get("role") == "user"),
        None,
    )
    if target is None:
        raise Reject(
            "media_mismatch",
            f'"{col}" lists {n} item(s), no message has a {PLACEHOLDERS[kind]} placeholder, '
            "and there is no user message to put them in",
        )
    content = target.get("content")
    tags = PLACEHOLDERS[kind] * n
    if isinstance(content, str) or content is None:
        target["content"] = tags + (content or "")
    elif isinstance(content, list):
        target["content"] = [{"type": kind} for _ in range(n)] + content
    else:
        raise Reject(
            "wrong_type",
            f"the first user message's content is a JSON {json_type(content)}, expected a "
            "string or a list of parts",
        )


def _settle(
    counts: list[dict[str, int]],
    items: dict[str, list[str]],
    prompt: list[dict[str, Any]],
) -> None:
    """Check the placeholder counts of each message sequence (``counts``) against the
    columns; prepend placeholders to ``prompt`` for a kind none of them has."""
    for kind in ("image", "video", "audio"):  # LLaMA-Factory's order of prepending
        col = KIND_COLUMNS[kind]
        n = len(items.get(col, []))
        found = [c[kind] for c in counts]
        if n and not any(found):
            _prepend(prompt, kind, n, col)
            continue
        for f in found:
            if f != n:
                what = f'"{col}" lists {n} item(s)' if col in items else f'there is no "{col}"'
                raise Reject(
                    "media_mismatch",
                    f"the messages have {f} {PLACEHOLDERS[kind]} placeholder(s) but {what} "
                    "(LLaMA-Factory refuses such an example); make the placeholders and the "
                    f'"{col}" list match',
                )


def attach(body: dict[str, Any], items: dict[str, list[str]]) -> None:
    """Turn the placeholders of a converted record (``messages``, or a preference record's
    ``input.messages`` and both outputs) into canonical parts, in place, taking urls from
    ``items`` (:func:`column_items`; may be empty for inline TRL / ``input_audio`` parts).
    Raises :class:`Reject` (``media_mismatch``, ``bad_media``)."""
    if "input" in body:
        prompt = body["input"]["messages"]
        outs = [body.get("preferred_output") or [], body.get("non_preferred_output") or []]
        for key, o in zip(("chosen", "rejected"), outs, strict=True):
            if any(_count(o).values()):
                raise Reject(
                    "unsupported_content",
                    f"the {key} reply has a media placeholder: a preference reply is text "
                    "(OpenAI's DPO shape); put the media in the prompt",
                )
        counts = [_add(_count(prompt), _count(o)) for o in outs]
        _settle(counts, items, prompt)
        start = {kind: list(items.get(KIND_COLUMNS[kind], [])) for kind in PLACEHOLDERS}
        _convert_messages(prompt, start, items)
        for o in outs:
            _convert_messages(o, {k: list(v) for k, v in start.items()}, items)
        return
    messages = body["messages"]
    _settle([_count(messages)], items, messages)
    queues = {kind: list(items.get(KIND_COLUMNS[kind], [])) for kind in PLACEHOLDERS}
    _convert_messages(messages, queues, items)


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a[k] + b[k] for k in a}


def needs_attach(record: dict[str, Any], messages: Any) -> bool:
    """Whether :func:`attach` has work: media columns, or content parts that are TRL
    placeholders, inline sources or ``input_audio``."""
    if has_media_columns(record):
        return True
    if not isinstance(messages, list):
        return False
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(
            isinstance(p, dict)
            and (
                p.get("type") in PLACEHOLDERS
                or p.get("type") == "input_audio"
                or (p.get("type") in _CANONICAL and isinstance(p.get(p["type"]), str))
            )
            for p in content
        ):
            return True
    return False


# -- paths ------------------------------------------------------------------------------


def _all_messages(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "input" in body and isinstance(body["input"], dict):
        groups = [
            body["input"].get("messages"),
            body.get("preferred_output"),
            body.get("non_preferred_output"),
        ]
    else:
        groups = [body.get("messages")]
    for g in groups:
        for m in g if isinstance(g, list) else ():
            if isinstance(m, dict):
                yield m


def rewrite_paths(
    body: dict[str, Any],
    source: str,
    output: str | os.PathLike[str] | None,
    media_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Make every relative local media url of ``body`` relative to the folder of
    ``output`` (the JSONL that will hold it; without one, of ``source``), in place.

    A relative url is looked up under ``media_dir`` first (LLaMA-Factory's ``media_dir``),
    then beside ``source``; the first that exists wins, else the first place looked (the
    file is missing either way: ``curate validate`` reports it). Absolute paths, ``file://``,
    ``http(s)://`` and ``data:`` urls are kept as they are.

    Example:
        >>> body = {"messages": [{"role": "user", "content": [
        ...     {"type": "image_url", "image_url": {"url": "img/a.png"}}]}]}
        >>> rewrite_paths(body, "/data/raw/train.json", "/data/out/train.jsonl")
        >>> body["messages"][0]["content"][0]["image_url"]["url"]
        '../raw/img/a.png'
    """
    target = output if output is not None else source
    base = Path(source).parent
    for m in _all_messages(body):
        content = m.get("content")
        if not isinstance(content, list):
            continue
        for p in content:
            found = part_url(p)
            if found is None:
                continue
            url = found[1]
            if (
                not is_local_path(url)
                or url.lower().startswith("file://")
                or os.path.isabs(url)
                or _WINDOWS_ABS.match(url)
            ):
                continue
            candidates = ([Path(media_dir) / url] if media_dir is not None else []) + [base / url]
            path = next((c for c in candidates if c.exists()), candidates[0])
            p[p["type"]]["url"] = relative_url(path, target)


def media_kinds() -> tuple[str, ...]:
    """The canonical part types (``image_url``, ``audio_url``, ``video_url``)."""
    return tuple(KIND_PARTS.values())
