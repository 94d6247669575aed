"""Tokenizers as a trainer uses them: render a conversation, count its tokens, find the
tokens a trainer learns from.

Four sources, one interface (:class:`ChatTokenizer`), chosen by :func:`load_tokenizer`:

- a local Hugging Face tokenizer or model folder, or a hub name already in the local
  Hugging Face cache (never downloaded): each batch normalised as ``apply_chat_template``
  normalises a conversation (keys whose value is ``None`` dropped), rendered in one call
  of ``transformers``' own chat-template code (``render_jinja_template``, what
  ``apply_chat_template`` calls; one conversation at a time when the batch raises) and
  tokenized in one ``encode_batch`` call of the fast (Rust) tokenizer with
  ``add_special_tokens=False``, exactly as ``apply_chat_template(..., tokenize=True)``
  does, so counts are equal;
- ``mistral:<version>`` (``v1``, ``v2``, ``v3``, ``v3-tekken``, ``v7``, ``tekken``) or
  ``mistral:<path to a tokenizer file>``: ``mistral-common``'s
  ``encode_chat_completion`` in fine-tuning mode (its text decoded once, control tokens
  left out, instead of its per-token decode with control tokens kept);
- ``tiktoken:<encoding>``: OpenAI encodings with the cookbook's per-message framing
  (OpenAI fine-tuning has no visible chat template).

Trainable tokens: the template's ``{% generation %}`` spans when it has them (the
assistant mask ``apply_chat_template(..., return_assistant_tokens_mask=True)`` returns),
otherwise the text each assistant turn adds to the rendered prefix before it (the
prompt/completion split TRL uses), mapped to tokens by the same overlap rule as
transformers. Assistant messages with ``weight: 0`` are not trainable.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from curate.records import CurateError
from curate.stats import content_text

#: One conversation: its messages and its ``tools`` (or ``None``).
Conversation = tuple[list[dict[str, Any]], Any]

INSTALL_HINT = "pip install 'curate[trainer]'"

MISTRAL_FILES = {
    "v1": "tokenizer.model.v1",
    "v2": "mistral_instruct_tokenizer_240216.model.v2",
    "v3": "mistral_instruct_tokenizer_240323.model.v3",
    "v3-tekken": "tekken_240718.json",
    "tekken": "tekken_240911.json",
    "v7": "mistral_instruct_tokenizer_241114.model.v7",
}


@dataclass(slots=True)
class Rendered:
    """One conversation as the trainer sees it.

    Attributes:
        n_tokens: length of the tokenized conversation (``input_ids``).
        spans: trainable token ranges ``(start, end, message_index)``, end exclusive,
            in order; ``message_index`` is ``None`` when the span cannot be tied to a
            message.
        text: the rendered text (control tokens kept), used to check what the template
            kept of each message.
        mask_source: ``generation`` (template markers), ``prefix`` (rendered prefixes),
            ``search`` (content located in the text: the template rewrites earlier turns),
            ``messages`` (mistral-common / tiktoken per-message encoding).
    """

    n_tokens: int
    spans: list[tuple[int, int, int | None]]
    text: str
    mask_source: str
    untrained: list[int] = field(default_factory=list)

    @property
    def trainable(self) -> int:
        return sum(e - s for s, e, _ in self.spans)


@dataclass(slots=True)
class TemplateFailure:
    """The template (or mistral-common's validator) refused the conversation."""

    message: str
    message_index: int | None = None


class ChatTokenizer(Protocol):
    name: str
    kind: str

    def render_batch(self, convs: Sequence[Conversation]) -> list[Rendered | TemplateFailure]: ...

    def control_tokens(self) -> tuple[str, ...]: ...

    def count_texts(self, texts: Sequence[str]) -> list[int]: ...


def _require(module: str) -> Any:
    if module == "transformers":
        # its "PyTorch was not found" advice at import: counting tokens needs no PyTorch
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise CurateError(
            f"--tokenizer needs the {module.split('.')[0]!r} package, which is not installed. "
            f"Install the trainer extra: {INSTALL_HINT}"
        ) from e


def text_of(content: Any) -> str | None:
    """The text of a message content: a string, or the ``text`` parts of a list, one per
    line (as chat templates render them)."""
    return content_text(content)


def error_text(e: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line; a pydantic validation error as its first error
    (``messages.0.content: Input should be a valid string``)."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            errs = errors()
            first = errs[0]
            loc = ".".join(str(x) for x in first.get("loc", ()))
            more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
            return f"{type(e).__name__}: {loc}: {first.get('msg')}{more}"[:limit]
        except Exception:
            pass
    text = " ".join(str(e).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(e).__name__}: {text}"


def _error_index(e: BaseException) -> int | None:
    """The message index a pydantic error points at (``messages.3....``), if any."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            loc = errors()[0].get("loc", ())
            if len(loc) > 1 and loc[0] == "messages" and isinstance(loc[1], int):
                return int(loc[1])
        except Exception:
            return None
    return None


def _weight_zero(m: dict[str, Any]) -> bool:
    w = m.get("weight")
    return w is not None and not isinstance(w, bool) and w == 0


def _mask_span(offsets_of: Any, n: int, char_start: int, char_end: int) -> tuple[int, int]:
    """Token range overlapping ``[char_start, char_end)``: every token with
    ``start < char_end`` and ``end > char_start`` (transformers' assistant-mask rule).
    ``offsets_of(i)`` gives token ``i``'s character offsets; binary search, so only
    O(log n) offsets are looked at."""
    lo, hi = 0, n
    while lo < hi:  # first token with end > char_start
        mid = (lo + hi) // 2
        if offsets_of(mid)[1] > char_start:
            hi = mid
        else:
            lo = mid + 1
    first = lo
    lo, hi = first, n
    while lo < hi:  # first token with start >= char_end
        mid = (lo + hi) // 2
        if offsets_of(mid)[0] >= char_end:
            hi = mid
        else:
            lo = mid + 1
    return first, max(first, lo)


def _offsets_reader(encoding: Any) -> Any:
    """Token ``i``'s character offsets, read one at a time from a ``tokenizers.Encoding``
    (its full ``offsets`` list costs a Python tuple per token)."""

    to_chars = encoding.token_to_chars

    def read(i: int) -> tuple[int, int]:
        r = to_chars(i)
        return r if r is not None else encoding.offsets[i]  # type: ignore[no-any-return]

    return read


def _plain(value: Any) -> bool:
    return value is None or type(value) is str


def _drop_none(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``apply_chat_template``'s message normalisation in transformers releases without
    ``_normalize_chat_messages``: keys whose value is ``None`` are dropped."""
    return [{k: v for k, v in m.items() if v is not None} for m in messages]


# -- Hugging Face ---------------------------------------------------------------------------

_GENERATION_RE = re.compile(r"\{\%-?\s*generation\s*-?\%\}")


class HFChatTokenizer:
    """A ``transformers`` fast tokenizer with its chat template.

    Example:
        >>> import sys, tempfile, curate
        >>> from pathlib import Path
        >>> sys.path.insert(0, str(Path(curate.__file__).parents[1] / "fixtures" / "trainer"))
        >>> import build_tokenizers
        >>> folder = build_tokenizers.build("chatml_gen", tempfile.mkdtemp())
        >>> tok = load_tokenizer(str(folder))
        >>> r = tok.render_batch([([{"role": "user", "content": "Hi"},
        ...                         {"role": "assistant", "content": "Hello."}], None)])[0]
        >>> (r.n_tokens > r.trainable > 0, r.mask_source)
        (True, 'generation')
    """

    kind = "hf"

    def __init__(self, tokenizer: Any, name: str) -> None:
        self.tok = tokenizer
        self.name = name
        if not getattr(tokenizer, "is_fast", False):
            raise CurateError(
                f"{name}: only a fast tokenizer (tokenizer.json) can be checked; this one is a "
                "slow Python tokenizer. Save it as a fast one first "
                "(AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(DIR))."
            )
        if not tokenizer.chat_template:
            raise CurateError(
                f"{name}: the tokenizer has no chat_template, so a trainer cannot render chat "
                "data with it. Use the instruct/chat model's tokenizer or set "
                "tokenizer.chat_template and save it."
            )
        self._has_generation: dict[str, bool] = {}
        self._controls: tuple[str, ...] | None = None
        self._plain_template: str | None = None
        from transformers.utils import chat_template_utils as ctu

        self._render = ctu.render_jinja_template
        # what apply_chat_template does to each conversation before rendering it (message
        # objects to dicts, keys whose value is None dropped)
        self._normalise = getattr(ctu, "_normalize_chat_messages", _drop_none)
        self._kwargs = dict(tokenizer.special_tokens_map)
        # The Rust tokenizer behind it, called the way transformers calls it for
        # tokenizer(texts, add_special_tokens=False): no truncation, no padding (what
        # transformers sets before encoding), minus the conversion of every id to Python.
        self._backend = tokenizer.backend_tokenizer
        if self._backend.truncation is not None:
            self._backend.no_truncation()
        if self._backend.padding is not None:
            self._backend.no_padding()

    def control_tokens(self) -> tuple[str, ...]:
        if self._controls is None:
            toks = [t for t in self.tok.added_tokens_encoder if t.strip()]
            self._controls = tuple(sorted(set(toks), key=len, reverse=True))
        return self._controls

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Each text's tokens on its own (no special tokens added), e.g. the length of a
        trace the template leaves out."""
        if not texts:
            return []
        return [len(e) for e in self._backend.encode_batch(list(texts), add_special_tokens=False)]

    def _template(self, tools: Any) -> str:
        if tools is None:
            if self._plain_template is None:
                self._plain_template = str(self.tok.get_chat_template(None, None))
            return self._plain_template
        return str(self.tok.get_chat_template(None, tools))

    def _render_many(
        self, convs: Sequence[list[dict[str, Any]]], tools: Any, *, mask: bool, gen: bool
    ) -> list[tuple[str, list[tuple[int, int]]] | Exception]:
        """Render ``convs`` (all with the same ``tools``) in one call of transformers'
        renderer, after the same message normalisation ``apply_chat_template`` applies.
        When the batch raises, each conversation is rendered alone and a failing one's
        exception is returned in its place."""
        template = self._template(tools)
        out: list[tuple[str, list[tuple[int, int]]] | Exception] = []
        normalised: list[list[dict[str, Any]] | Exception] = []
        for messages in convs:
            if all(type(m) is dict and all(_plain(v) for v in m.values()) for m in messages):
                # what the normaliser returns for plain JSON messages, without its walk
                normalised.append([{k: v for k, v in m.items() if v is not None} for m in messages])
                continue
            try:
                normalised.append(self._normalise(messages))
            except Exception as e:
                normalised.append(e)

        def render(chunk: list[list[dict[str, Any]]]) -> None:
            texts, indices = self._render(
                conversations=chunk,
                tools=tools,
                chat_template=template,
                return_assistant_tokens_mask=mask,
                add_generation_prompt=gen,
                **self._kwargs,
            )
            out.extend((t, list(indices[i]) if mask else []) for i, t in enumerate(texts))

        if all(not isinstance(c, Exception) for c in normalised):
            try:
                render(normalised)  # type: ignore[arg-type]
                return out
            except Exception:
                out.clear()
        for c in normalised:  # something raised: one at a time, to know which
            if isinstance(c, Exception):
                out.append(c)
                continue
            try:
                render([c])
            except Exception as e:
                out.append(e)
        return out

    def render_one(
        self, messages: list[dict[str, Any]], tools: Any, *, mask: bool = False, gen: bool = False
    ) -> tuple[str, list[tuple[int, int]]]:
        """One conversation rendered as ``apply_chat_template(..., tokenize=False)`` does
        (and its generation spans when ``mask``); raises what the template raises."""
        (r,) = self._render_many([messages], tools, mask=mask, gen=gen)
        if isinstance(r, Exception):
            raise r
        return r

    def _failing_index(self, messages: list[dict[str, Any]], tools: Any) -> int | None:
        for k in range(1, len(messages) + 1):
            try:
                self.render_one(messages[:k], tools)
            except Exception:
                return k - 1
        return None

    def _generation(self, tools: Any) -> bool:
        template = self._template(tools)
        has_gen = self._has_generation.get(template)
        if has_gen is None:
            has_gen = self._has_generation[template] = bool(_GENERATION_RE.search(template))
        return has_gen

    def _char_spans_batch(
        self, convs: Sequence[list[dict[str, Any]]], tools: Any
    ) -> list[tuple[str, list[tuple[int, int, int | None]], str] | Exception]:
        """Rendered text, trainable character spans and their source for conversations
        sharing ``tools``: every render of the batch goes through one renderer call
        (the full conversations; without generation markers, also every assistant
        turn's prompt and prefix)."""
        if self._generation(tools):
            out: list[tuple[str, list[tuple[int, int, int | None]], str] | Exception] = []
            rendered = self._render_many(convs, tools, mask=True, gen=False)
            for messages, r in zip(convs, rendered, strict=True):
                if isinstance(r, Exception):
                    out.append(r)
                    continue
                text, gen_spans = r
                assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
                if len(gen_spans) == len(assistants):
                    spans = [(s, e, i) for (s, e), i in zip(gen_spans, assistants, strict=True)]
                else:
                    spans = [(s, e, None) for s, e in gen_spans]
                out.append((text, spans, "generation"))
            return out
        full = self._render_many(convs, tools, mask=False, gen=False)
        prompts: list[list[dict[str, Any]]] = []
        prefixes: list[list[dict[str, Any]]] = []
        wanted: list[list[tuple[int, int, int]]] = []  # (message, prompt slot, prefix slot)
        for messages, r in zip(convs, full, strict=True):
            turns: list[tuple[int, int, int]] = []
            if not isinstance(r, Exception):
                for i, m in enumerate(messages):
                    if m.get("role") != "assistant":
                        continue
                    p = -1
                    if i:
                        p = len(prompts)
                        prompts.append(messages[:i])
                    turns.append((i, p, len(prefixes)))
                    prefixes.append(messages[: i + 1])
            wanted.append(turns)
        prompt_r = self._render_many(prompts, tools, mask=False, gen=True)
        prefix_r = self._render_many(prefixes, tools, mask=False, gen=False)
        out = []
        for messages, r, turns in zip(convs, full, wanted, strict=True):
            if isinstance(r, Exception):
                out.append(r)
                continue
            text = r[0]
            spans_p: list[tuple[int, int, int | None]] = []
            source = "prefix"
            cursor = 0
            for i, pi, fi in turns:
                span = None
                pr = prompt_r[pi] if pi >= 0 else None
                fr = prefix_r[fi]
                prompt = None if pr is None or isinstance(pr, Exception) else pr[0]
                whole = None if isinstance(fr, Exception) else fr[0]
                if (
                    prompt is not None
                    and whole is not None
                    and text.startswith(whole)
                    and whole.startswith(prompt)
                    and len(prompt) >= cursor
                ):
                    span = (len(prompt), len(whole))
                else:
                    content = text_of(messages[i].get("content")) or ""
                    content = content.strip()
                    pos = text.find(content, cursor) if content else -1
                    if pos >= 0:
                        span = (pos, pos + len(content))
                        source = "search"
                if span is not None and span[1] > span[0]:
                    spans_p.append((span[0], span[1], i))
                    cursor = span[1]
            out.append((text, spans_p, source))
        return out

    def render_batch(self, convs: Sequence[Conversation]) -> list[Rendered | TemplateFailure]:
        out: list[Rendered | TemplateFailure | None] = [None] * len(convs)
        # conversations sharing their tools (most often none) are rendered together
        groups: dict[str | None, list[int]] = {}
        for k, (_, tools) in enumerate(convs):
            key = None if tools is None else json.dumps(tools, sort_keys=True, default=repr)
            groups.setdefault(key, []).append(k)
        todo: list[tuple[int, str, list[tuple[int, int, int | None]], str]] = []
        for ks in groups.values():
            tools = convs[ks[0]][1]
            msgs = [convs[k][0] for k in ks]
            for k, messages, r in zip(ks, msgs, self._char_spans_batch(msgs, tools), strict=True):
                if isinstance(r, Exception):
                    out[k] = TemplateFailure(error_text(r), self._failing_index(messages, tools))
                else:
                    todo.append((k, *r))
        if todo:
            todo.sort()
            encodings = self._backend.encode_batch([t[1] for t in todo], add_special_tokens=False)
            for (k, text, spans, source), e in zip(todo, encodings, strict=True):
                messages = convs[k][0]
                zero = [
                    i
                    for i, m in enumerate(messages)
                    if "weight" in m and m.get("role") == "assistant" and _weight_zero(m)
                ]
                n = len(e)
                tok_spans: list[tuple[int, int, int | None]] = []
                if spans:
                    read = _offsets_reader(e)
                    for cs, ce, mi in spans:
                        if mi is not None and mi in zero:
                            continue
                        a, b = _mask_span(read, n, cs, ce)
                        if b > a:
                            tok_spans.append((a, b, mi))
                out[k] = Rendered(n, tok_spans, text, source, zero)
        return [o for o in out if o is not None]


#: a Hugging Face hub repo id (``name`` or ``org/name``): each part starts with a letter or
#: digit and does not end with ``.`` or ``-``; anything else given to --tokenizer is a path
_HUB_ID = re.compile(r"(?:[A-Za-z0-9](?:[\w.\-]*\w)?/)?[A-Za-z0-9](?:[\w.\-]*\w)?")


def _load_hf(spec: str) -> HFChatTokenizer:
    _require("transformers")
    _require("tokenizers")
    _require("jinja2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CurateError(
                f"--tokenizer {spec}: is a file; pass the folder that holds tokenizer.json and "
                "tokenizer_config.json."
            )
        if not (path / "tokenizer.json").exists() and not (path / "tokenizer_config.json").exists():
            raise CurateError(
                f"--tokenizer {spec}: no tokenizer.json or tokenizer_config.json in this folder."
            )
        where = str(path)
        try:
            tok = AutoTokenizer.from_pretrained(where, local_files_only=True)
        except Exception as e:
            raise CurateError(f"--tokenizer {spec}: cannot load the tokenizer: {e}") from e
        return HFChatTokenizer(tok, spec)
    if not _HUB_ID.fullmatch(spec) or ".." in spec:
        # a path (./x, ../x, /x, ~/x, a/b/c): never suggest downloading it from the hub
        raise CurateError(
            f"--tokenizer {spec}: no such folder ({os.path.abspath(path)}). Pass a tokenizer "
            "folder, a Hugging Face hub name in your local cache, mistral:<version> or "
            "tiktoken:<encoding>."
        )
    try:
        tok = AutoTokenizer.from_pretrained(spec, local_files_only=True)
    except Exception as e:
        raise CurateError(
            f"--tokenizer {spec}: not a folder and not in the local Hugging Face cache "
            f"(curate never downloads). Fetch it first, e.g. `hf download {spec} --include "
            "'tokenizer*' 'special_tokens_map.json' 'chat_template.jinja'`, or pass a local "
            f"folder. ({type(e).__name__})"
        ) from e
    return HFChatTokenizer(tok, spec)


# -- mistral-common --------------------------------------------------------------------------


class MistralChatTokenizer:
    """``mistral-common``'s tokenizer in fine-tuning mode. The full token list comes
    from ``encode_chat_completion``; which tokens each message produced is observed
    while it encodes (its own per-message encoders, as mistral-finetune masks them).

    Example:
        >>> tok = load_tokenizer("mistral:v3")
        >>> r = tok.render_batch([([{"role": "user", "content": "Hi"},
        ...                         {"role": "assistant", "content": "Hello."}], None)])[0]
        >>> r.n_tokens, r.trainable
        (7, 3)
    """

    kind = "mistral"

    def __init__(self, path: str, name: str) -> None:
        _require("mistral_common")
        from mistral_common.protocol.instruct.request import ChatCompletionRequest
        from mistral_common.protocol.instruct.validator import ValidationMode
        from mistral_common.tokens.tokenizers.base import SpecialTokenPolicy
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

        self.name = name
        self._controls: tuple[str, ...] | None = None
        self._request = ChatCompletionRequest
        self._ignore = SpecialTokenPolicy.IGNORE
        try:
            self.tok = MistralTokenizer.from_file(path, mode=ValidationMode.finetuning)
        except Exception as e:
            raise CurateError(f"--tokenizer {name}: cannot load {path}: {e}") from e
        it = self.tok.instruct_tokenizer
        self._inner = it.tokenizer
        self._log: list[tuple[str, int]] = []
        # encode_instruct also decodes every token list into Tokenized.text with control
        # tokens kept (a Python loop over the tokens in the SentencePiece tokenizer, a
        # third of encode_chat_completion's time, marked for removal upstream). While
        # render_batch encodes, this instance decodes once with control tokens left out
        # instead (the library's own decode, in C++ for SentencePiece): the text the
        # checks read. Tokens are untouched; outside render_batch decode is unchanged.
        inner = self._inner
        ignore = self._ignore
        texts = self._texts = [""]
        library_decode = it.decode
        self._encoding = False

        def decode(tokens: list[int], special_token_policy: Any = None) -> str:
            if not self._encoding:
                return str(library_decode(tokens, special_token_policy=special_token_policy))
            texts[0] = str(inner.decode(tokens, special_token_policy=ignore))
            return texts[0]

        it.decode = decode  # type: ignore[method-assign]
        for kind in ("user", "assistant", "tool", "system"):
            meth = getattr(it, f"encode_{kind}_message", None)
            if meth is not None:
                setattr(it, f"encode_{kind}_message", self._observer(kind, meth))

    def _observer(self, kind: str, meth: Any) -> Any:
        log = self._log

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            res = meth(*args, **kwargs)
            toks = res[0] if isinstance(res, tuple) else res
            log.append((kind, len(toks) if toks else 0))
            return res

        return wrapped

    def control_tokens(self) -> tuple[str, ...]:
        if self._controls is None:
            inner = self._inner
            names = set()
            for i in inner.special_ids:
                with contextlib.suppress(Exception):
                    s = inner.id_to_piece(i)
                    if isinstance(s, str) and len(s) > 2 and "control_" not in s:
                        names.add(s)
            self._controls = tuple(sorted(names, key=len, reverse=True))
        return self._controls

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Each text's tokens on its own (no BOS/EOS)."""
        return [len(self._inner.encode(t, bos=False, eos=False)) for t in texts]

    @staticmethod
    def _clean(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keep = {"role", "content", "tool_calls", "tool_call_id", "name", "prefix"}
        out = []
        for m in messages:
            c = {k: v for k, v in m.items() if k in keep and v is not None}
            if c.get("role") != "tool":
                c.pop("name", None)
            _no_remote_media(c.get("content"))
            out.append(c)
        return out

    def render_batch(self, convs: Sequence[Conversation]) -> list[Rendered | TemplateFailure]:
        out: list[Rendered | TemplateFailure] = []
        start = len(self.tok.instruct_tokenizer.start())
        for messages, tools in convs:
            self._log.clear()
            self._texts[0] = ""
            self._encoding = True
            try:
                req: dict[str, Any] = {"messages": self._clean(messages)}
                if tools:
                    req["tools"] = tools
                res = self.tok.encode_chat_completion(self._request.model_validate(req))
            except Exception as e:
                out.append(TemplateFailure(error_text(e), _error_index(e)))
                continue
            finally:
                self._encoding = False
            tokens = res.tokens
            assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
            spans: list[tuple[int, int, int | None]] = []
            zero: list[int] = []
            pos = start
            n_asst = sum(1 for k, _ in self._log if k == "assistant")
            mapped = n_asst == len(assistants)
            j = 0
            for kind, n in self._log:
                if kind == "assistant":
                    mi = assistants[j] if mapped else None
                    j += 1
                    if mi is not None and _weight_zero(messages[mi]):
                        zero.append(mi)
                    elif n:
                        spans.append((pos, pos + n, mi))
                pos += n
            if pos != len(tokens):  # never expected: fall back to no mask rather than a wrong one
                spans = []
            text = self._texts[0]  # what encode_instruct just decoded
            if not text and tokens:  # a mistral-common release that no longer decodes
                text = self._inner.decode(tokens, special_token_policy=self._ignore)
            out.append(Rendered(len(tokens), spans, text, "messages", zero))
        return out


def _no_remote_media(content: Any) -> None:
    """Raise for a media part with an ``http(s)`` URL: mistral-common would download it to
    encode the image, and curate never downloads."""
    if not isinstance(content, list):
        return
    for part in content:
        if not isinstance(part, dict):
            continue
        value = part.get(part.get("type"))  # type: ignore[arg-type]
        url = value.get("url") if isinstance(value, dict) else value
        if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
            raise ValueError(
                f"{part.get('type')} part with a remote URL ({url[:80]}): mistral-common would "
                "download it and curate never downloads, so this conversation is not encoded"
            )


def _load_mistral(version: str, spec: str) -> MistralChatTokenizer:
    _require("mistral_common")
    if version in MISTRAL_FILES:
        import importlib.resources

        path = str(importlib.resources.files("mistral_common") / "data" / MISTRAL_FILES[version])
    elif Path(version).expanduser().is_file():
        path = str(Path(version).expanduser())
    else:
        raise CurateError(
            f"--tokenizer {spec}: unknown Mistral tokenizer {version!r}. Use one of "
            f"{', '.join('mistral:' + v for v in MISTRAL_FILES)} or mistral:<path to a "
            "tokenizer.model.v* / tekken.json file>."
        )
    return MistralChatTokenizer(path, spec)


# -- tiktoken ---------------------------------------------------------------------------------


class TiktokenChatTokenizer:
    """An OpenAI encoding with the cookbook's framing: 3 tokens per message, then each
    value's tokens in key order (+1 for ``name``), 3 reply-priming tokens at the end.
    Trainable: each assistant message's content tokens. Totals equal
    :func:`curate.tokens.count_examples`.

    Example:
        >>> tok = load_tokenizer("tiktoken:cl100k_base")
        >>> r = tok.render_batch([([{"role": "user", "content": "hi"}], None)])[0]
        >>> r.n_tokens, r.trainable
        (8, 0)
    """

    kind = "tiktoken"

    def __init__(self, encoding: str, name: str) -> None:
        from curate.tokens import shared_counter

        self.name = name
        try:
            self.counter = shared_counter(encoding)
        except Exception as e:
            raise CurateError(
                f"--tokenizer {name}: unknown or unavailable tiktoken encoding {encoding!r} "
                "(offline: o200k_base, cl100k_base)."
            ) from e

    def control_tokens(self) -> tuple[str, ...]:
        return tuple(sorted(self.counter.enc.special_tokens_set, key=len, reverse=True))

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        return self.counter.count_many(list(texts)) if texts else []

    def render_batch(self, convs: Sequence[Conversation]) -> list[Rendered | TemplateFailure]:
        from curate.tokens import TOKENS_PER_MESSAGE, TOKENS_PER_NAME, TOKENS_PER_REPLY, value_text

        texts: list[str] = []
        plans = []
        for messages, tools in convs:
            plan: list[tuple[int, int, int | None, bool]] = []  # (fixed, text idx, msg, trainable)
            for i, m in enumerate(messages):
                plan.append((TOKENS_PER_MESSAGE, -1, i, False))
                learn = m.get("role") == "assistant" and not _weight_zero(m)
                for key, value in m.items():
                    t = value_text(value)
                    if t is not None:
                        texts.append(t)
                        plan.append((0, len(texts) - 1, i, learn and key == "content"))
                    if key == "name":
                        plan.append((TOKENS_PER_NAME, -1, i, False))
            if tools is not None:
                t = value_text(tools)
                if t is not None:
                    texts.append(t)
                    plan.append((0, len(texts) - 1, None, False))
            plan.append((TOKENS_PER_REPLY, -1, None, False))
            plans.append((messages, plan))
        counts = self.counter.count_many(texts) if texts else []
        out: list[Rendered | TemplateFailure] = []
        for messages, plan in plans:
            pos = 0
            spans: list[tuple[int, int, int | None]] = []
            for fixed, ti, mi, trainable in plan:
                n = fixed + (counts[ti] if ti >= 0 else 0)
                if trainable and n:
                    spans.append((pos, pos + n, mi))
                pos += n
            text = "\n".join(json.dumps(m, ensure_ascii=False) for m in messages)
            zero = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
            out.append(
                Rendered(
                    pos, spans, text, "messages", [i for i in zero if _weight_zero(messages[i])]
                )
            )
        return out


def load_tokenizer(spec: str) -> ChatTokenizer:
    """Load a tokenizer from ``spec`` (see the module docstring). Raises
    :class:`CurateError` with the fix when it cannot.

    Example:
        >>> load_tokenizer("tiktoken:o200k_base").name
        'tiktoken:o200k_base'
    """
    spec = spec.strip()
    if not spec:
        raise CurateError("--tokenizer is empty.")
    if spec.startswith("mistral:"):
        return _load_mistral(spec.split(":", 1)[1], spec)
    if spec.startswith("tiktoken:"):
        return TiktokenChatTokenizer(spec.split(":", 1)[1], spec)
    return _load_hf(spec)
