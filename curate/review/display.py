"""How an example looks in Argilla: the conversation, reasoning, tools and images (pure; no
Argilla import).

- **Reasoning** (an assistant message's ``reasoning_content``, ``thinking``, ``reasoning``, or
  an inline ``<think>`` trace, as ingest splits it) is shown apart from the answer: the
  conversation shows the final answer with a one-line marker, the ``reasoning`` field each
  assistant turn's trace under a header naming the turn. A dataset made without that field
  gets the trace as a marked block before the answer (``[reasoning] ... [/reasoning]``).
- **Tool calls** show the tool's name, the call id and the arguments pretty-printed (JSON
  indented; arguments that are not JSON as they are, said so); a tool result is labelled
  with the tool and the call it answers; the ``tools`` field lists the declared tools with
  their descriptions and parameter schemas.
- **Images** (canonical ``image_url`` parts, :mod:`curate.media`) go to the image fields
  ``image_1`` ... in order: an ``http(s)`` URL as it is, a ``data:`` URI as it is, a local
  file (relative to the pushed file's folder) as a ``data:`` URI when it is a PNG, JPEG,
  GIF or WEBP of at most ``max_image_bytes`` (default 1 MiB). The conversation names each
  one at its place (``[image 1: img/cat.png]``); one that cannot be shown is named there
  with the reason (too large, missing, not an image, more images than fields).

Example:
    >>> from curate.review.settings import Layout
    >>> msgs = [{"role": "user", "content": "2+2?"},
    ...         {"role": "assistant", "reasoning_content": "Add them.", "content": "4"}]
    >>> f = render(msgs, None, Layout(reasoning=True), "data/train.jsonl")
    >>> f["conversation"][1]["content"]
    '[reasoning: assistant turn 1, 9 characters, in the Reasoning field]\\n4'
    >>> print(f["reasoning"])
    ── assistant turn 1 (message 2) ──
    Add them.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from curate.dedup.text import split_trace
from curate.media import local_path, part_url
from curate.records import content_text
from curate.review import settings as S

#: local images larger than this are named in the conversation instead of shown
MAX_IMAGE_BYTES = 1 << 20
#: Argilla's limits for an image field value (argilla-server ``validators/records.py``)
MAX_WEB_URL_CHARS = 2038
MAX_DATA_URL_CHARS = 5_000_000
IMAGE_MIME = ("image/png", "image/jpeg", "image/gif", "image/webp")
#: a text field is clipped (for display only) beyond this
MAX_TEXT_CHARS = 100_000
_MARKERS = (b"reasoning_content", b'"thinking"', b"<think>", b'"tools"', b'"image_url"')


def clip(text: str, limit: int = S.MAX_MESSAGE_CHARS) -> str:
    """``text``, cut to ``limit`` characters with a note saying how much is not shown."""
    if len(text) <= limit:
        return text
    marker = f"\n\n[... {len(text) - limit + 200} more characters not shown; see the source file]"
    return text[: limit - 200] + marker


def pretty_json(text: Any) -> tuple[str, bool]:
    """``(text, is_json)``: a JSON object or array (or its text) indented, else the text.

    Example:
        >>> pretty_json('{"city": "Lima"}')
        ('{\\n  "city": "Lima"\\n}', True)
        >>> pretty_json("city=Lima")
        ('city=Lima', False)
    """
    value = text
    if isinstance(text, str):
        s = text.strip()
        if not s or s[0] not in "{[":
            return text, False
        try:
            value = json.loads(s)
        except ValueError:
            return text, False
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False), True
    return text if isinstance(text, str) else json.dumps(text, ensure_ascii=False), False


# ------------------------------------------------------------------------------ images
def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1024:
        return f"{round(n / 1024)} KB"
    return f"{n} bytes"


def _decodes(data: bytes) -> str:
    """``""`` when Pillow decodes ``data`` (or is not installed), else why not."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return ""
    import io

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except Exception as e:  # Pillow raises many types for one broken file
        return f"not decodable ({type(e).__name__}: {e})"
    return ""


@lru_cache(maxsize=128)
def _data_uri(path: str, size: int, mtime_ns: int, limit: int) -> tuple[str | None, str]:
    """A local image file as a ``data:`` URI, or ``(None, why not)`` (cached per file
    version: the same image in many records is read once)."""
    del mtime_ns  # part of the cache key only
    if size > limit:
        return None, f"{_size(size)}, over the {_size(limit)} limit for review"
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})"
    mime = _sniff(data[:16])
    if mime is None:
        return None, "not a PNG, JPEG, GIF or WEBP image"
    broken = _decodes(data)
    if broken:
        return None, broken
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", ""


def image_value(
    url: str, base_file: str | os.PathLike[str], max_bytes: int
) -> tuple[str | None, str]:
    """The image field value for a media url: ``(value, "")``, or ``(None, reason)`` when it
    cannot be shown.

    Example:
        >>> image_value("https://example.com/cat.png", "d/t.jsonl", 1024)
        ('https://example.com/cat.png', '')
        >>> image_value("missing.png", "/nowhere/t.jsonl", 1024)
        (None, 'file not found')
    """
    head = url[:11].lower()
    if head.startswith(("http://", "https://")):
        if len(url) > MAX_WEB_URL_CHARS:
            return None, f"URL longer than Argilla's {MAX_WEB_URL_CHARS} characters"
        return url, ""
    if head.startswith("data:"):
        mime = url[5 : url.find(";")] if ";" in url[:64] else ""
        if mime.lower() not in IMAGE_MIME:
            return None, f"a data URI of type {mime or 'unknown'}, not PNG, JPEG, GIF or WEBP"
        if len(url) > MAX_DATA_URL_CHARS:
            return None, f"a data URI of {len(url):,} characters, over Argilla's limit"
        return url, ""
    if not _is_file_url(url):
        return None, "not a web URL, data URI or local file"
    path = local_path(url, base_file)
    try:
        st = path.stat()
    except OSError:
        return None, "file not found"
    if not path.is_file():
        return None, "not a file"
    return _data_uri(str(path), st.st_size, st.st_mtime_ns, max_bytes)


def _is_file_url(url: str) -> bool:
    from curate.media import is_local

    return is_local(url)


def _short(url: str) -> str:
    if url[:5].lower() == "data:":
        return f"{url[: url.find(',') if ',' in url[:80] else 40]} ({_size(len(url) * 3 // 4)})"
    return url if len(url) <= 200 else url[:150] + "..." + url[-40:]


# ------------------------------------------------------------------------- rendering
class _Record:
    """What one record's rendering collects beside the conversation."""

    def __init__(self, layout: S.Layout, base_file: str, max_image_bytes: int) -> None:
        self.layout = layout
        self.base = base_file
        self.max_image_bytes = max_image_bytes
        self.images: dict[str, str] = {}
        self.n_images = 0
        self.traces: list[str] = []
        self.turn = 0
        self.call_names: dict[str, str] = {}

    def media(self, kind: str, url: str) -> str:
        if kind != "image":
            return f"[{kind}: {_short(url)}]"
        self.n_images += 1
        n = self.n_images
        where = f"[image {n}: {_short(url)}"
        if n > self.layout.images:
            why = (
                f"the dataset has {self.layout.images} image field(s)"
                if self.layout.images
                else "the dataset has no image field (push to a new --dataset to see images)"
            )
            return f"{where}: not shown, {why}]"
        value, why = image_value(url, self.base, self.max_image_bytes)
        if value is None:
            return f"{where}: not shown, {why}]"
        self.images[S.image_field(n)] = value
        return f"{where}, in the Image {n} field]"


def _content(content: Any, rec: _Record) -> str:
    if not isinstance(content, list):
        return content_text(content)
    out: list[str] = []
    for p in content:
        found = part_url(p)
        if found is not None:
            out.append(rec.media(*found))
        elif isinstance(p, str):
            out.append(p)
        elif isinstance(p, dict) and isinstance(p.get("text"), str):
            out.append(p["text"])
        else:
            out.append(content_text([p]))
    return "\n".join(out)


def _call(c: Any, rec: _Record, kind: str = "tool call") -> str:
    if not isinstance(c, dict):
        return f"[{kind}] {json.dumps(c, ensure_ascii=False)}"
    fn = c.get("function") if isinstance(c.get("function"), dict) else c
    name = fn.get("name") if isinstance(fn.get("name"), str) else "?"
    cid = c.get("id")
    if isinstance(cid, str):
        rec.call_names[cid] = name
    head = f"[{kind} {name}" + (f" (id {cid})" if isinstance(cid, str) else "") + "]"
    args = fn.get("arguments", fn.get("parameters"))
    if args is None:
        return head
    text, ok = pretty_json(args)
    if not ok and isinstance(args, str) and args.strip():
        return f"{head} (arguments are not JSON)\n{text}"
    return f"{head}\n{text}"


def _message(m: Any, i: int, rec: _Record) -> dict[str, str]:
    if not isinstance(m, dict):
        return {"role": "invalid", "content": clip(json.dumps(m, ensure_ascii=False))}
    role = str(m.get("role") or "unknown")
    pieces: list[str] = []
    content = m.get("content")
    if role == "assistant":
        rec.turn += 1
        trace, content = split_trace(m)
        if trace:
            if rec.layout.reasoning:
                rec.traces.append(f"── assistant turn {rec.turn} (message {i + 1}) ──\n{trace}")
                pieces.append(
                    f"[reasoning: assistant turn {rec.turn}, {len(trace):,} characters, in the "
                    "Reasoning field]"
                )
            else:
                pieces.append(f"[reasoning]\n{trace}\n[/reasoning]")
    name_tag = f"[name: {m['name']}] " if m.get("name") and role not in ("tool", "function") else ""
    if role in ("tool", "function"):
        cid = m.get("tool_call_id")
        name = rec.call_names.get(cid) if isinstance(cid, str) else m.get("name")
        label = "[tool result"
        label += f" of {name}" if name else ""
        label += f" (call {cid})" if cid else ""
        pieces.append(label + "]")
        text, _ = pretty_json(_content(content, rec)) if content is not None else ("", False)
    else:
        text = _content(content, rec)
    if text.strip():
        pieces.append(name_tag + text)
    elif name_tag:
        pieces.append(name_tag.strip())
    calls = m.get("tool_calls")
    if isinstance(calls, list):
        pieces.extend(_call(c, rec) for c in calls)
    elif calls:
        pieces.append(f"[tool_calls] {json.dumps(calls, ensure_ascii=False)}")
    if m.get("function_call"):
        pieces.append(_call(m["function_call"], rec, "function call"))
    body = "\n".join(pieces)
    return {"role": role[: S.MAX_ROLE_CHARS], "content": clip(body) if body.strip() else "(empty)"}


def tools_text(tools: Any) -> str | None:
    """The declared tools, one block each: name, description, parameters (indented JSON).

    Example:
        >>> print(tools_text([{"type": "function", "function": {"name": "f", "description": "d",
        ...     "parameters": {"type": "object"}}}]))
        f: d
        parameters: {
          "type": "object"
        }
    """
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            return clip(tools, MAX_TEXT_CHARS) if tools.strip() else None
    if not isinstance(tools, list) or not tools:
        return None
    blocks = []
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) and isinstance(t.get("function"), dict) else t
        if not isinstance(fn, dict):
            blocks.append(json.dumps(t, ensure_ascii=False))
            continue
        head = str(fn.get("name") or "?")
        if fn.get("description"):
            head += f": {fn['description']}"
        if "parameters" in fn:
            head += "\nparameters: " + pretty_json(fn["parameters"])[0]
        blocks.append(head)
    return clip("\n\n".join(blocks), MAX_TEXT_CHARS)


def render(
    messages: list[Any],
    tools: Any,
    layout: S.Layout,
    base_file: str | os.PathLike[str],
    *,
    max_image_bytes: int = MAX_IMAGE_BYTES,
) -> dict[str, Any]:
    """The display fields of one example: ``conversation`` always, and the optional fields
    of ``layout`` that this example has a value for (images, reasoning, tools)."""
    rec = _Record(layout, str(base_file), max_image_bytes)
    fields: dict[str, Any] = {S.CONVERSATION: [_message(m, i, rec) for i, m in enumerate(messages)]}
    fields.update(rec.images)
    if layout.reasoning and rec.traces:
        fields[S.REASONING] = clip("\n\n".join(rec.traces), MAX_TEXT_CHARS)
    if layout.tools:
        text = tools_text(tools)
        if text:
            fields[S.TOOLS] = text
    return fields


# ----------------------------------------------------------------------------- scanning
def _record_layout(data: Any) -> S.Layout:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return S.Layout()
    msgs = data["messages"]
    reasoning = any(
        isinstance(m, dict) and m.get("role") == "assistant" and split_trace(m)[0] for m in msgs
    )
    images = sum(
        1
        for m in msgs
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        for p in m["content"]
        if (found := part_url(p)) is not None and found[0] == "image"
    )
    return S.Layout(reasoning, tools_text(data.get("tools")) is not None, images)


def scan_layout(lines: Iterator[tuple[int, Any]]) -> S.Layout:
    """The optional fields a file's examples need, from its raw lines (only lines that
    mention a trace, tools or an image are parsed)."""
    reasoning = tools = False
    images = 0
    for _, raw in lines:
        if not isinstance(raw, bytes) or not any(k in raw for k in _MARKERS):
            continue
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            continue
        got = _record_layout(data)
        reasoning |= got.reasoning
        tools |= got.tools
        images = max(images, got.images)
        if reasoning and tools and images >= S.MAX_IMAGE_FIELDS:
            break
    return S.Layout(reasoning, tools, images)


def file_layout(path: str | os.PathLike[str]) -> S.Layout:
    """:func:`scan_layout` of a JSONL file."""
    from curate.io import iter_raw_lines

    return scan_layout(iter_raw_lines(Path(path)))
