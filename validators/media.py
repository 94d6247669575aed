"""Media checks: images, audio and video in the chat record (:mod:`curate.media`).

Codes (each finding says what, where, and how to fix it):

- ``media_placeholder_unmatched``: a message's text still holds more ``<image>`` /
  ``<video>`` / ``<audio>`` placeholders than the message has media parts of that kind (a
  placeholder that no file answers: LLaMA-Factory refuses the example, other trainers read
  the tag as text). An error when the example has media elsewhere (a conversion that went
  wrong); a warning in an example without any media (the tag may be meant as text).
- ``media_part_invalid`` (error): a media part without a string url, an empty url, a
  ``data:`` url that is not base64 data; for ``--target openai`` also a ``detail`` other
  than ``low`` / ``high`` / ``auto``.
- ``media_file_missing`` (error): a local file that does not exist. Relative paths are
  resolved against the folder of the validated file (:func:`curate.media.local_path`).
- ``media_file_unreadable`` (error): it exists but cannot be read (a folder, no permission).
- ``media_file_undecodable`` (error): an image Pillow cannot open, verify or decode
  (truncated, corrupt, not an image, past Pillow's decompression-bomb limit). Audio and
  video are checked for existence and readability only (no decoder is required).

With ``target="openai"``, OpenAI's vision fine-tuning rules ("Image data requirements" in
https://platform.openai.com/docs/guides/vision-fine-tuning, also served at
https://developers.openai.com/api/docs/guides/vision-fine-tuning):

- ``media_unsupported_by_target`` (error): audio or video (OpenAI fine-tuning takes images
  only).
- ``media_image_not_on_user`` (error): an image in a non-user message ("You cannot include
  images as output from messages with the assistant role"; system and tool content is text).
- ``media_url_not_accepted`` (error): an image url that is neither ``http(s)://`` nor a
  ``data:`` URL ("Images can be provided either as HTTP URLs or data URLs containing
  Base64-encoded images"): a local path is not uploaded with the JSONL.
- ``media_image_format`` (error): not JPEG, PNG or WEBP.
- ``media_image_mode`` (error): not in the RGB or RGBA image mode.
- ``media_image_too_large`` (error): more than 10 MB (taken as 10 * 1024 * 1024 bytes).
- ``media_too_many_images`` (error): more than 10 images in one example.
- ``media_too_many_image_examples`` (error, :class:`ImageExampleCount`): more than 50,000
  examples with images in one file.

What is not checked: remote (``http(s)``) images are never fetched (validate runs
offline), so their format, mode, size and decodability are unknown; OpenAI's content
moderation (images with people, faces, children or CAPTCHAs are skipped) cannot be checked.

Image tokens for ``--target openai`` (:func:`image_tokens`, added to each example's token
total and so to the cost estimate): OpenAI's "Calculating costs" rules in
https://platform.openai.com/docs/guides/images-vision (section "Calculating costs"):
tile-based for gpt-4o and gpt-4.1 (85 base + 170 per 512 px tile) and gpt-4o-mini (2,833 +
5,667); patch-based for gpt-4.1-mini (x1.62) and gpt-4.1-nano (x2.46) (32 px patches,
capped at 1,536). ``detail: "low"`` costs the base only (tile models); ``auto`` or none is
counted as ``high``. A remote image, whose size is unknown, counts the low-detail cost (a
lower bound).

Checking is bounded: each local file is probed once per process (cached by path, size
and modification time); Pillow's ``verify`` reads the file without decoding it, and only
images of at most :data:`FULL_DECODE_PIXELS` pixels are decoded in full (to catch a
truncated JPEG, which ``verify`` does not see).

Example:
    >>> from curate.records import Example, Location
    >>> ex = Example({"messages": [{"role": "user", "content": "<image>Who is this?"},
    ...     {"role": "assistant", "content": "Kane."}]}, Location("d/train.jsonl", 3))
    >>> [(f.code, f.severity.value, f.location.message_index) for f in Media().check(ex)]
    [('media_placeholder_unmatched', 'warning', 0)]
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from curate.media import PART_KINDS, PLACEHOLDERS, local_path
from curate.media import is_local_path as is_local
from curate.records import Example, Finding, Location, Severity
from curate.validators.base import ExampleRef, record_messages

E, W = Severity.ERROR, Severity.WARNING

#: code -> (default severity, what it finds)
CODES: dict[str, tuple[Severity, str]] = {
    "media_placeholder_unmatched": (E, "a placeholder in the text with no media part for it"),
    "media_part_invalid": (E, "a media part without a usable url (or a bad detail)"),
    "media_file_missing": (E, "a local media file that does not exist"),
    "media_file_unreadable": (E, "a local media file that cannot be read"),
    "media_file_undecodable": (E, "an image Pillow cannot open, verify or decode"),
    "media_unsupported_by_target": (E, "audio or video, which OpenAI fine-tuning does not take"),
    "media_image_not_on_user": (E, "an image outside a user message (OpenAI)"),
    "media_url_not_accepted": (E, "an image url that is not http(s) or data: (OpenAI)"),
    "media_image_format": (E, "an image that is not JPEG, PNG or WEBP (OpenAI)"),
    "media_image_mode": (E, "an image not in RGB or RGBA mode (OpenAI)"),
    "media_image_too_large": (E, "an image over 10 MB (OpenAI)"),
    "media_too_many_images": (E, "more than 10 images in one example (OpenAI)"),
    "media_too_many_image_examples": (E, "more than 50,000 examples with images in a file"),
}

#: OpenAI's vision fine-tuning limits (see the module docstring for the page)
OPENAI_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "MPO"})  # MPO: a camera JPEG, Pillow's name
OPENAI_MIME = frozenset({"image/jpeg", "image/jpg", "image/png", "image/webp"})
OPENAI_MODES = frozenset({"RGB", "RGBA"})
OPENAI_MAX_IMAGE_BYTES = 10 * 1024 * 1024
OPENAI_MAX_IMAGES_PER_EXAMPLE = 10
OPENAI_MAX_IMAGE_EXAMPLES = 50_000
OPENAI_DETAILS = frozenset({"low", "high", "auto"})
#: images up to this many pixels are decoded in full (bigger ones only verified)
FULL_DECODE_PIXELS = 4_000_000

_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
_KIND_OF = {p: k for k, p in PLACEHOLDERS.items()}
_DATA_RE = re.compile(r"data:([^;,]*)((?:;[^;,]*)*),", re.IGNORECASE)


# -- probing files ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What Pillow says about an image: its format, mode and size, or why it failed."""

    format: str | None = None
    mode: str | None = None
    width: int = 0
    height: int = 0
    n_bytes: int = 0
    error: str | None = None


def _probe_bytes(stream: Any, n_bytes: int) -> ImageInfo:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(stream) as im:
            fmt, mode, (w, h) = im.format, im.mode, im.size
            im.verify()
        if w * h <= FULL_DECODE_PIXELS:
            stream.seek(0)
            with Image.open(stream) as im:
                im.load()
    except UnidentifiedImageError:
        return ImageInfo(n_bytes=n_bytes, error="not an image Pillow can read")
    except Image.DecompressionBombError as e:
        return ImageInfo(n_bytes=n_bytes, error=f"refused as a decompression bomb ({e})")
    except Exception as e:  # truncated data, bad chunk CRC, broken headers...
        return ImageInfo(n_bytes=n_bytes, error=f"{type(e).__name__}: {e}")
    return ImageInfo(fmt, mode, w, h, n_bytes)


@lru_cache(maxsize=8192)
def _probe_file(path: str, size: int, mtime_ns: int) -> ImageInfo | str:
    del mtime_ns  # part of the cache key: a changed file is probed again
    try:
        with open(path, "rb") as f:
            return _probe_bytes(f, size)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"


@lru_cache(maxsize=8192)
def _readable(path: str, size: int, mtime_ns: int) -> str | None:
    del size, mtime_ns
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    return None


def probe_local(path: str, image: bool = True) -> tuple[str | None, ImageInfo | None]:
    """``(problem, info)`` for a local file: ``("missing", None)``, ``("unreadable: why",
    None)``, or ``(None, ImageInfo)`` for an image (``info.error`` set when Pillow fails);
    ``(None, None)`` for a readable non-image."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing", None
    except OSError as e:
        return f"unreadable: {e.strerror or e}", None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        return f"unreadable: it is {what}", None
    if not image:
        why = _readable(path, st.st_size, st.st_mtime_ns)
        return (f"unreadable: {why}", None) if why else (None, None)
    got = _probe_file(path, st.st_size, st.st_mtime_ns)
    if isinstance(got, str):
        return f"unreadable: {got}", None
    return None, got


def parse_data_url(url: str) -> tuple[str, bytes] | None:
    """``(mime type, bytes)`` of a base64 ``data:`` URL, or ``None`` when it is not one."""
    m = _DATA_RE.match(url)
    if m is None or ";base64" not in m.group(2).lower():
        return None
    try:
        data = base64.b64decode(url[m.end() :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return m.group(1).lower(), data


@lru_cache(maxsize=1024)
def _probe_data(digest: str, url: str) -> tuple[str, ImageInfo] | None:
    del digest
    parsed = parse_data_url(url)
    if parsed is None:
        return None
    mime, data = parsed
    return mime, _probe_bytes(io.BytesIO(data), len(data))


def probe_data_url(url: str) -> tuple[str, ImageInfo] | None:
    """``(mime type, ImageInfo)`` of a base64 image ``data:`` URL (``None``: not valid)."""
    digest = hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return _probe_data(digest, url)


@lru_cache(maxsize=65536)
def _resolve(url: str, file: str) -> str:
    """:func:`curate.media.local_path` as text, remembered (pathlib is the slow part)."""
    return str(local_path(url, file))


# -- walking the record ------------------------------------------------------------------


def _has_any_media(data: Any) -> bool:
    for _, _, m in record_messages(data):
        c = m.get("content")
        if isinstance(c, list) and any(
            isinstance(p, dict) and p.get("type") in PART_KINDS for p in c
        ):
            return True
    return False


def _texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for p in content:
            if isinstance(p, dict) and isinstance(p.get("text"), str):
                yield p["text"]
            elif isinstance(p, str):
                yield p


def _f(code: str, message: str, loc: Location, hint: str, sev: Severity | None = None) -> Finding:
    return Finding(code, sev or CODES[code][0], message, loc, hint=hint)


@dataclass(frozen=True, slots=True)
class Media:
    """The media checks (see the module docstring).

    Args:
        target: ``curate`` (placeholders, parts, local files) or ``openai`` (also OpenAI's
            vision fine-tuning rules).
    """

    target: str = "curate"
    name: str = "media"

    def check(self, ex: Example) -> Iterator[Finding]:
        data = ex.data
        msgs = data.get("messages") if type(data) is dict else None
        if type(msgs) is list and all(
            type(m) is dict and type(c := m.get("content")) is str and "<" not in c for m in msgs
        ):
            return  # the common example: text messages without a tag
        any_media: bool | None = None
        n_images = 0
        for i, where, m in record_messages(data):
            content = m.get("content")
            if type(content) is str and "<" not in content:
                continue  # the common message: text with no tag
            loc = ex.source.with_message(i)
            parts = content if isinstance(content, list) else []
            have: Counter[str] = Counter()
            for j, p in enumerate(parts):
                if isinstance(p, dict) and p.get("type") in PART_KINDS:
                    kind = PART_KINDS[p["type"]]
                    have[kind] += 1
                    if kind == "image":
                        n_images += 1
                    yield from self._part(p, kind, j, m.get("role"), where, loc, ex.source.file)
            said: Counter[str] = Counter()
            for text in _texts(content):
                if "<" in text:
                    said.update(_KIND_OF[t] for t in _PLACEHOLDER_RE.findall(text))
            for kind, n in sorted(said.items()):
                if n <= have[kind]:
                    continue
                if any_media is None:
                    any_media = _has_any_media(data)
                tag = PLACEHOLDERS[kind]
                yield _f(
                    "media_placeholder_unmatched",
                    f"{where}the text has {n} {tag} placeholder(s) but the message has "
                    f"{have[kind]} {kind} part(s)",
                    loc,
                    f"re-run curate ingest on the source (it turns {tag} into a media part "
                    f"from the {kind}s list), or remove the tag"
                    + ("" if any_media else " if it is meant as text"),
                    E if any_media else W,
                )
        if self.target == "openai" and n_images > OPENAI_MAX_IMAGES_PER_EXAMPLE:
            yield _f(
                "media_too_many_images",
                f"{n_images} images in one example; OpenAI takes at most "
                f"{OPENAI_MAX_IMAGES_PER_EXAMPLE}",
                ex.source,
                "split the conversation, or drop images",
            )

    def _part(
        self,
        p: dict[str, Any],
        kind: str,
        j: int,
        role: Any,
        where: str,
        loc: Location,
        file: str,
    ) -> Iterator[Finding]:
        inner = p.get(p["type"])
        url = inner.get("url") if isinstance(inner, dict) else None
        what = f"{where}content[{j}] ({p['type']})"
        if not isinstance(url, str) or not url.strip():
            if isinstance(inner, str):
                problem = f'{what} has "{p["type"]}" as a bare string, not an object'
            elif url is None:
                problem = f"{what} has no url"
            else:
                problem = f"{what} url is empty or not a string"
            yield _f(
                "media_part_invalid",
                problem,
                loc,
                f'write it as {{"type": "{p["type"]}", "{p["type"]}": {{"url": "path/or/URL"}}}}',
            )
            return
        openai = self.target == "openai"
        if openai:
            if kind != "image":
                yield _f(
                    "media_unsupported_by_target",
                    f"{what}: OpenAI fine-tuning takes images only, not {kind}",
                    loc,
                    f"drop the {kind} part (or the example), or train with a trainer that "
                    f"takes {kind} (LLaMA-Factory, TRL)",
                )
                return
            if role != "user":
                yield _f(
                    "media_image_not_on_user",
                    f"{what}: an image in a {role!r} message; OpenAI takes images in user "
                    "messages only",
                    loc,
                    "move the image into a user message",
                )
            detail = inner.get("detail") if isinstance(inner, dict) else None
            if detail is not None and detail not in OPENAI_DETAILS:
                yield _f(
                    "media_part_invalid",
                    f"{what} detail is {detail!r}",
                    loc,
                    "use detail low, high or auto (or leave it out)",
                )
        low = url[:8].lower()
        if low.startswith("data:"):
            yield from self._data_url(url, kind, what, loc)
            return
        if not is_local(url):
            if openai and not low.startswith(("http://", "https:/")):
                yield _f(
                    "media_url_not_accepted",
                    f"{what} url {url[:60]!r} is not an http(s) or data: URL",
                    loc,
                    "host the image at an https URL, or embed it as a data:image/...;base64 URL",
                )
            return  # remote: not fetched
        path = _resolve(url, file)
        problem, info = probe_local(path, image=kind == "image")
        if problem == "missing":
            yield _f(
                "media_file_missing",
                f"{what} file {url!r} does not exist"
                + (
                    ""
                    if os.path.normpath(path) == os.path.normpath(url)
                    else f" (looked for {os.path.normpath(path)})"
                ),
                loc,
                "fix the path (relative paths are relative to this file's folder; "
                "curate ingest --media-dir rewrites them), or add the file",
            )
            return
        if problem is not None:
            yield _f(
                "media_file_unreadable",
                f"{what} file {url!r} {problem.removeprefix('unreadable: ')}",
                loc,
                "make it a readable file",
            )
            return
        if openai:
            yield _f(
                "media_url_not_accepted",
                f"{what} is the local file {url!r}; OpenAI takes http(s) URLs or data: URLs",
                loc,
                "embed the file as a data:image/...;base64 URL, or host it at an https URL",
            )
        if info is not None:
            yield from self._image(info, f"{what} file {url!r}", loc)

    def _data_url(self, url: str, kind: str, what: str, loc: Location) -> Iterator[Finding]:
        if kind != "image":
            if parse_data_url(url) is None:
                yield _f(
                    "media_part_invalid",
                    f"{what} is a data: URL without valid base64 data",
                    loc,
                    "write it as data:<mime type>;base64,<data>",
                )
            return
        got = probe_data_url(url)
        if got is None:
            yield _f(
                "media_part_invalid",
                f"{what} is a data: URL without valid base64 data",
                loc,
                "write it as data:image/png;base64,<data>",
            )
            return
        mime, info = got
        if self.target == "openai" and mime not in OPENAI_MIME:
            yield _f(
                "media_image_format",
                f"{what} data URL says {mime or 'no media type'}; OpenAI takes image/jpeg, "
                "image/png or image/webp",
                loc,
                "convert the image to PNG or JPEG and re-encode it",
            )
        yield from self._image(info, f"{what} data URL", loc)

    def _image(self, info: ImageInfo, what: str, loc: Location) -> Iterator[Finding]:
        if info.error is not None:
            yield _f(
                "media_file_undecodable",
                f"{what} cannot be decoded: {info.error}",
                loc,
                "replace it with an intact image (open it in an image viewer to check)",
            )
            return
        if self.target != "openai":
            return
        if info.format not in OPENAI_FORMATS:
            yield _f(
                "media_image_format",
                f"{what} is {info.format}; OpenAI takes JPEG, PNG or WEBP",
                loc,
                "convert it to PNG or JPEG",
            )
        if info.mode not in OPENAI_MODES:
            yield _f(
                "media_image_mode",
                f"{what} is in mode {info.mode}; OpenAI takes RGB or RGBA images",
                loc,
                "convert it (Pillow: Image.open(p).convert('RGB').save(p))",
            )
        if info.n_bytes > OPENAI_MAX_IMAGE_BYTES:
            yield _f(
                "media_image_too_large",
                f"{what} is {info.n_bytes / 1_048_576:.1f} MB; OpenAI takes at most 10 MB "
                "per image",
                loc,
                "downscale or recompress it",
            )


# -- a file-level limit ------------------------------------------------------------------


@dataclass(slots=True)
class ImageExampleCount:
    """OpenAI's limit of examples with images per training file (a corpus check)."""

    limit: int = OPENAI_MAX_IMAGE_EXAMPLES
    name: str = "media_image_examples"
    counts: Counter[str] = field(default_factory=Counter)

    def features(self, ex: Example) -> bool:
        return any(m.kind == "image" for m in _iter_media(ex.data))

    def add(self, ref: ExampleRef, feature: Any) -> Iterable[Finding]:
        if feature:
            self.counts[ref.source.file] += 1
        return ()

    def finish(self) -> Iterable[Finding]:
        for file, n in sorted(self.counts.items()):
            if n > self.limit:
                yield _f(
                    "media_too_many_image_examples",
                    f"{n:,} examples with images; OpenAI takes at most {self.limit:,} per "
                    "training file",
                    Location(file),
                    "split the file, or drop examples with images",
                )


def _iter_media(data: Any) -> Iterator[Any]:
    from curate.media import message_media

    for i, _, m in record_messages(data):
        yield from message_media(m, i or 0)


# -- image tokens (OpenAI) -----------------------------------------------------------------

#: model -> (base tokens, tokens per 512 px tile), OpenAI's tile-based models
TILE_MODELS: dict[str, tuple[int, int]] = {
    "gpt-4o": (85, 170),
    "gpt-4.1": (85, 170),
    "gpt-4o-mini": (2833, 5667),
}
#: model -> multiplier, OpenAI's patch-based models (32 px patches, at most 1,536)
PATCH_MODELS: dict[str, float] = {"gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46}
MAX_PATCHES = 1536


def tile_tokens(width: int, height: int, detail: str, base: int, per_tile: int) -> int:
    """Tokens of one image for a tile-based model.

    Example (OpenAI's examples for gpt-4o):
        >>> tile_tokens(1024, 1024, "high", 85, 170), tile_tokens(2048, 4096, "high", 85, 170)
        (765, 1105)
        >>> tile_tokens(4096, 8192, "low", 85, 170)
        85
    """
    if detail == "low":
        return base
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        s = 2048 / max(w, h)
        w, h = w * s, h * s
    if min(w, h) > 768:
        s = 768 / min(w, h)
        w, h = w * s, h * s
    return base + per_tile * math.ceil(w / 512) * math.ceil(h / 512)


def patch_tokens(width: int, height: int, multiplier: float) -> int:
    """Tokens of one image for a patch-based model (OpenAI's worked example: 1024 x 1024
    is 1,024 patches; 1800 x 2400 is scaled down to 1,452 patches).

    Example:
        >>> patch_tokens(1024, 1024, 1.0), patch_tokens(1800, 2400, 1.0)
        (1024, 1452)
    """
    patches = math.ceil(width / 32) * math.ceil(height / 32)
    if patches > MAX_PATCHES:
        r = math.sqrt(32 * 32 * MAX_PATCHES / (width * height))
        w, h = width * r, height * r
        r *= min(math.floor(w / 32) / (w / 32), math.floor(h / 32) / (h / 32))
        patches = math.ceil(int(width * r) / 32) * math.ceil(int(height * r) / 32)
    return math.ceil(min(patches, MAX_PATCHES) * multiplier)


def one_image_tokens(width: int | None, height: int | None, detail: str, model: str) -> int:
    """Tokens of one image for ``model`` (unknown size: the low-detail cost, a lower bound;
    a model with no published rule: gpt-4o's)."""
    if model in PATCH_MODELS:
        mult = PATCH_MODELS[model]
        if width is None or height is None:
            return math.ceil(mult)  # one patch: the least an image can cost
        return patch_tokens(width, height, mult)
    base, per_tile = TILE_MODELS.get(model, TILE_MODELS["gpt-4o"])
    if width is None or height is None:
        return base
    return tile_tokens(width, height, detail, base, per_tile)


def image_tokens(ex: Example, model: str) -> int:
    """The image tokens of one example for ``model`` (OpenAI's formulas, see the module
    docstring): local files and data URLs are measured, remote images count the
    low-detail cost, undecodable ones nothing."""
    total = 0
    for _, _, m in record_messages(ex.data):
        content = m.get("content")
        if not isinstance(content, list):
            continue
        for p in content:
            if not isinstance(p, dict) or p.get("type") != "image_url":
                continue
            inner = p.get("image_url")
            url = inner.get("url") if isinstance(inner, dict) else None
            if not isinstance(url, str) or not url:
                continue
            detail = inner.get("detail") or "auto"
            info: ImageInfo | None = None
            if url[:5].lower() == "data:":
                got = probe_data_url(url)
                info = got[1] if got else None
            elif is_local(url):
                _, info = probe_local(_resolve(url, ex.source.file))
            if info is not None and info.error is not None:
                continue
            w, h = (info.width, info.height) if info is not None else (None, None)
            total += one_image_tokens(w, h, str(detail), model)
    return total
