"""Media in the canonical chat record: the one representation every stage reads.

An image, audio clip or video lives in a message's ``content`` as a typed part, at the
position where the model sees it (the position of LLaMA-Factory's ``<image>`` placeholder):

- ``{"type": "image_url", "image_url": {"url": U}}`` (OpenAI's vision shape; an optional
  ``"detail"`` beside ``url`` is kept),
- ``{"type": "audio_url", "audio_url": {"url": U}}``,
- ``{"type": "video_url", "video_url": {"url": U}}``.

``U`` is an ``http(s)://`` URL, a ``data:`` URI, or a local path. A relative local path is
relative to the folder of the JSONL file that holds the record (as a Markdown image is), so a
data folder can be moved whole. Ingest rewrites the paths of its sources to follow this rule;
exports make them valid relative to what they write.

Example:
    >>> msg = {"role": "user", "content": [
    ...     {"type": "image_url", "image_url": {"url": "img/cat.png"}},
    ...     {"type": "text", "text": "What is this?"}]}
    >>> [(m.kind, m.url) for m in message_media(msg)]
    [('image', 'img/cat.png')]
    >>> is_local("img/cat.png"), is_local("https://x/y.png"), is_local("data:image/png;base64,AA")
    (True, False, False)
    >>> str(local_path("img/cat.png", "/data/train.jsonl"))
    '/data/img/cat.png'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: content part ``type`` -> media kind
PART_KINDS = {"image_url": "image", "audio_url": "audio", "video_url": "video"}
#: media kind -> content part ``type``
KIND_PARTS = {kind: part for part, kind in PART_KINDS.items()}
#: media kind -> the placeholder LLaMA-Factory and ShareGPT-style data put in the text
PLACEHOLDERS = {"image": "<image>", "audio": "<audio>", "video": "<video>"}


@dataclass(frozen=True)
class Media:
    """One media part: where it is (message and part index), its kind and its url."""

    message: int
    part: int
    kind: str
    url: str


def media_part(kind: str, url: str) -> dict[str, Any]:
    """The canonical content part for a media item.

    Example:
        >>> media_part("image", "a.png")
        {'type': 'image_url', 'image_url': {'url': 'a.png'}}
    """
    part = KIND_PARTS[kind]
    return {"type": part, part: {"url": url}}


def part_url(part: Any) -> tuple[str, str] | None:
    """``(kind, url)`` of a canonical media part, or ``None`` for anything else (a text part,
    a part without a string url).

    Example:
        >>> part_url({"type": "video_url", "video_url": {"url": "v.mp4"}})
        ('video', 'v.mp4')
        >>> part_url({"type": "text", "text": "hi"}) is None
        True
    """
    if not isinstance(part, dict):
        return None
    kind = PART_KINDS.get(part.get("type"))  # type: ignore[arg-type]
    if kind is None:
        return None
    inner = part.get(part["type"])
    url = inner.get("url") if isinstance(inner, dict) else None
    return (kind, url) if isinstance(url, str) else None


def message_media(message: Any, index: int = 0) -> list[Media]:
    """The media parts of one message, in order (``index`` is the message's position)."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return []
    out = []
    for j, part in enumerate(content):
        found = part_url(part)
        if found:
            out.append(Media(index, j, found[0], found[1]))
    return out


def iter_media(messages: Any) -> Iterator[Media]:
    """Every media part of a message list, in order."""
    if not isinstance(messages, list):
        return
    for i, m in enumerate(messages):
        yield from message_media(m, i)


#: a URL scheme as RFC 3986 spells it (``https:``, ``data:``, ``s3:``, ``gs:``); one letter
#: before the colon is a Windows drive (``C:\\...``), not a scheme
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def is_local(url: str) -> bool:
    """True for a local path: not ``http(s)://``, ``data:``, ``s3://`` or any other URL
    scheme. ``file://`` URLs and Windows drive paths count as local.

    Example:
        >>> is_local("img/a.png"), is_local("s3://b/a.png"), is_local("file:///a")
        (True, False, True)
        >>> is_local("C:\\data\\a.png"), is_local("data:image/png;base64,AA")
        (True, False)
    """
    if url[:7].lower() == "file://":
        return True
    return _SCHEME_RE.match(url) is None


#: the name the first media commits used; the same function
is_local_path = is_local


def local_path(url: str, jsonl_file: str | os.PathLike[str]) -> Path:
    """The file a local media url names, resolved against the folder of the JSONL file that
    holds the record."""
    if url.lower().startswith("file://"):
        url = url[7:]
    p = Path(url).expanduser()
    return p if p.is_absolute() else Path(jsonl_file).parent / p


def relative_url(target: str | os.PathLike[str], jsonl_file: str | os.PathLike[str]) -> str:
    """The url to write for the local file ``target`` in a record of ``jsonl_file``:
    relative to that file's folder (POSIX separators), or absolute when no relative path
    exists (another drive).

    Example:
        >>> relative_url("/data/img/a.png", "/data/out/train.jsonl")
        '../img/a.png'
    """
    base = Path(os.path.abspath(Path(jsonl_file).parent))
    t = Path(os.path.abspath(target))
    try:
        return Path(os.path.relpath(t, base)).as_posix()
    except ValueError:
        return t.as_posix()
