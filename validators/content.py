"""Content checks: what format checks cannot see.

Secrets (:mod:`curate.validators.secrets`), personal data (:mod:`curate.validators.pii`),
unfilled template placeholders, boilerplate and refusals, echoed prompts, truncated and
looping replies, mojibake, control characters and language switches
(:mod:`curate.validators.text_quality`). :func:`content_validators` builds them from the
``[tool.curate.content]`` table; each finding carries ``data = {"span": [start, end],
"rule": ..., "field": ...}`` where the span indexes the string at ``field``.

Rules, default severities and what they mean are in :data:`RULES` (and docs/content.md).
Config, per rule or per group (``secrets``, ``pii``, ``text``), ``"error"``,
``"warning"``, ``"info"`` or ``"off"``; per-role allow lists::

    [tool.curate.content]
    pii = "error"                   # every pii_* rule
    pii_ip_address = "off"          # then one of them off
    pii_allowed_roles = ["user"]    # PII may appear in user turns, never elsewhere
    language_mismatch = "warning"

Example:
    >>> from curate.records import Example, Location
    >>> ex = Example({"messages": [
    ...     {"role": "user", "content": "Who are you?"},
    ...     {"role": "assistant", "content": "I am {{name}}, an AI assistant by {{author}}."},
    ... ]}, Location("identity.jsonl", 1))
    >>> [(f.code, f.data["span"]) for v in content_validators() for f in v.check(ex)]
    [('template_placeholder', [5, 13]), ('template_placeholder', [34, 44])]
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from curate.records import Example, Finding, Severity
from curate.validators import pii as _pii
from curate.validators import prefilter as _prefilter
from curate.validators import text_quality as tq
from curate.validators.base import Validator
from curate.validators.pii import find_pii
from curate.validators.secrets import (
    _LONG_RUN,
    _TOKEN_TABLE,
    DETECT_SECRETS_AVAILABLE,
    Hit,
    find_secrets,
)

E, W, INFO = "error", "warning", "info"

#: rule code -> (default severity, group, what it finds)
RULES: dict[str, tuple[str, str, str]] = {
    "secret_token": (E, "secrets", "an API key or token of a known provider"),
    "secret_private_key": (E, "secrets", "a private key block (RSA, EC, OpenSSH, PGP, PuTTY)"),
    "secret_password_in_url": (E, "secrets", "a password inside a URL (scheme://user:pw@host)"),
    "secret_high_entropy": (W, "secrets", "a random-looking value after api_key=, password:..."),
    "pii_email": (W, "pii", "an e-mail address (not at example.com and other reserved domains)"),
    "pii_phone": (W, "pii", "a phone number (international or North American shape)"),
    "pii_credit_card": (E, "pii", "a payment card number (Luhn-checked, known network prefix)"),
    "pii_ip_address": (
        INFO,
        "pii",
        "a public IPv4 address (not private or documentation ranges)",
    ),
    "pii_iban": (E, "pii", "an IBAN (country length and mod-97 checked)"),
    "template_placeholder": (W, "text", "an unfilled template slot: {{name}}, {name}, <NAME>..."),
    "assistant_boilerplate": (W, "text", "an 'As an AI language model' disclaimer in a reply"),
    "assistant_refusal": (W, "text", "a reply that opens by refusing ('I'm sorry, but I can't')"),
    "prompt_echo": (W, "text", "a reply that repeats its prompt"),
    "truncated_reply": (W, "text", "a reply cut off mid-sentence or inside an open code block"),
    "repetition_loop": (W, "text", "a degenerate loop: the same words repeated back to back"),
    "mojibake": (W, "text", "text decoded with the wrong encoding (Ã© for é), per ftfy"),
    "control_characters": (W, "text", "control or invisible bidirectional characters"),
    "language_mismatch": (INFO, "text", "a reply in another language than its prompt (py3langid)"),
}
GROUPS = ("secrets", "pii", "text")
ROLE_KEYS = ("secrets_allowed_roles", "pii_allowed_roles", "placeholder_allowed_roles")
SEVERITIES = ("error", "warning", "info", "off")

_HINTS = {
    "secrets": "remove or mask it (curate redact), and revoke the credential if it is real",
    "pii": "mask it (curate redact) or allow the role with pii_allowed_roles",
    "template_placeholder": "fill the template in (or drop the example) before training",
    "assistant_boilerplate": "rewrite the reply without the disclaimer, or drop the example",
    "assistant_refusal": "drop the example unless teaching refusals is intended",
    "prompt_echo": "write a real answer or drop the example",
    "truncated_reply": "complete the reply or drop the example",
    "repetition_loop": "cut the loop or drop the example",
    "mojibake": "repair the text with ftfy.fix_text, or re-read the source with the right encoding",
    "control_characters": "strip the control characters",
    "language_mismatch": "check the reply answers in the prompt's language",
}
_LABELS = {
    "email": "e-mail address",
    "phone": "phone number",
    "luhn_card": "card number",
    "ipv4": "IP address",
    "iban": "IBAN",
}

#: field names of non-chat records that hold a prompt / a reply (Alpaca, TRL, raw pairs)
_PROMPT_KEYS = frozenset({"instruction", "input", "prompt", "question", "query", "system"})
_REPLY_KEYS = frozenset({"output", "response", "answer", "completion", "chosen", "rejected"})


def missing_extras() -> list[str]:
    """Notes on optional libraries that are not installed (the rules then run reduced).

    Example:
        >>> missing_extras()
        []
    """
    notes = []
    if not DETECT_SECRETS_AVAILABLE:
        notes.append(
            "detect-secrets is not installed: secrets use curate's built-in patterns only "
            "(pip install 'curate[content]' for the full set)"
        )
    if not tq.FTFY_AVAILABLE:
        notes.append("ftfy is not installed: mojibake uses a short list of typical sequences")
    if not tq.LANGID_AVAILABLE:
        notes.append("py3langid is not installed: language_mismatch does not run")
    return notes


# -- walking the strings of a record ---------------------------------------------------

TextRef = tuple[str, int | None, str | None, str]  # field, message_index, role, text


def _message_texts(msg: Any, field: str, index: int | None) -> Iterator[TextRef]:
    if not isinstance(msg, dict):
        return
    role = msg.get("role")
    role = role if isinstance(role, str) else None
    content = msg.get("content")
    if isinstance(content, str):
        yield f"{field}.content", index, role, content
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield f"{field}.content[{j}].text", index, role, part["text"]
    calls = msg.get("tool_calls")
    if isinstance(calls, list):
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            args = fn.get("arguments") if isinstance(fn, dict) else None
            if isinstance(args, str):
                yield f"{field}.tool_calls[{j}].function.arguments", index, role, args


def iter_texts(data: Any) -> Iterator[TextRef]:
    """Every string a content check looks at: ``(field, message_index, role, text)``.

    Chat records: each message's content (and text parts, and tool-call arguments).
    OpenAI preference records: ``input.messages`` and both outputs (role assistant).
    Other objects: top-level strings, with the role guessed from the key
    (``instruction``/``prompt`` are user, ``output``/``chosen`` are assistant).

    Example:
        >>> [t[:3] for t in iter_texts({"instruction": "Say hi", "output": "Hi"})]
        [('instruction', None, 'user'), ('output', None, 'assistant')]
    """
    if not isinstance(data, dict):
        return
    msgs = data.get("messages")
    if isinstance(msgs, list):
        for i, m in enumerate(msgs):
            yield from _message_texts(m, f"messages[{i}]", i)
        return
    inp = data.get("input")
    if isinstance(inp, dict) and isinstance(inp.get("messages"), list):
        for i, m in enumerate(inp["messages"]):
            yield from _message_texts(m, f"input.messages[{i}]", i)
        for key in ("preferred_output", "non_preferred_output"):
            out = data.get(key)
            if isinstance(out, list):
                for j, m in enumerate(out):
                    yield from _message_texts(m, f"{key}[{j}]", None)
        return
    for key, value in data.items():
        if isinstance(value, str) and key not in ("id", "source"):
            role = "user" if key in _PROMPT_KEYS else "assistant" if key in _REPLY_KEYS else None
            yield key, None, role, value


# -- masking for messages -------------------------------------------------------------


def mask(value: str, code: str) -> str:
    """A short, safe preview of a found value: never the whole secret or address.

    Example:
        >>> mask("jane.doe@gmail.com", "pii_email"), mask("4539 5787 6362 1486", "pii_credit_card")
        ('j***@gmail.com', '…1486')
        >>> mask("ghp_" + "x1" * 18, "secret_token")
        'ghp_…x1 (40 chars)'
    """
    if code == "pii_email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if code in ("pii_credit_card", "pii_phone", "pii_iban"):
        digits = "".join(c for c in value if c.isalnum())
        prefix = digits[:2] if code == "pii_iban" else ""
        return f"{prefix}…{digits[-4:] if code != 'pii_phone' else digits[-2:]}"
    if code == "pii_ip_address":
        return value.rsplit(".", 1)[0] + ".x"
    if code == "secret_private_key":
        return f"{value.splitlines()[0][:60]} ({len(value)} chars)"
    if len(value) >= 12:
        return f"{value[:4]}…{value[-2:]} ({len(value)} chars)"
    return f"*** ({len(value)} chars)"


# -- the validator --------------------------------------------------------------------


#: Per-string results of every rule that looks at one string alone, per process: real
#: datasets repeat strings (system prompts, tool schemas, templated prompts and replies,
#: a prompt answered twice in preference data, duplicates), and each distinct one is then
#: scanned once. The same policy as the token counter's memo (curate.tokens.Counter).
#: Each string's results are one tuple of plain values (tuples of hits, None, bools):
#: the garbage collector stops tracking such tuples, so a full table costs it nothing
#: (a list per string measured +11 us per example on data where nothing repeats).
#: Bounded: strings over _MEMO_MAX_CHARS are not kept, and the table is emptied when it
#: holds _MEMO_MAX_ENTRIES strings or _MEMO_MAX_TOTAL characters.
_MEMO: dict[str, tuple[Any, ...]] = {}
_MEMO_MAX_ENTRIES = 32_768
_MEMO_MAX_CHARS = 32_768
_MEMO_MAX_TOTAL = 8_000_000
_memo_total = [0]  # characters held by _MEMO
#: hashes of the strings seen once and not kept (a string's results are stored when it
#: comes back): bounded, emptied when full
_SEEN_ONCE: set[int] = set()
_SEEN_MAX = 131_072
#: a slot not worked out yet (``None`` is a result: nothing found)
_TODO: Any = object()
#: slot indexes: the rules' results for one string
(
    _SECRETS,  # tuple[Hit, ...]
    _PII,  # tuple[Hit, ...]
    _PLACEHOLDERS,  # tuple[Hit, ...]
    _CONTROL,  # Hit | None
    _MOJIBAKE,  # Hit | None
    _BOILERPLATE,  # (first disclaimer, first not opening with "I")
    _REFUSAL,  # Hit | None
    _TRUNCATION,  # tuple[Hit, ...]
    _REPETITION,  # Hit | None
    _ASKS,  # as a prompt: (identity question, short question about "you")
    _PAIR,  # as a reply: (its prompt, echo?, language mismatch)
) = range(11)
_N_SLOTS = 11
_NEW: tuple[Any, ...] = (_TODO,) * _N_SLOTS
#: the slots of a string in which the prefilter found nothing: every per-string rule's
#: result is "nothing" (the rules that need a prompt, or are not gated, still to do)
_CLEAN: tuple[Any, ...] = ((), (), (), None, None, (None, None), None) + (_TODO,) * 4
#: last characters after which find_truncation reports nothing (given no ``` in the text):
#: not whitespace, not a letter, not "-", not one of its dangling punctuation marks
_SAFE_ENDS = frozenset(".!?)\"'*0123456789。！？]}>|;%”’»…")


def clear_caches() -> None:
    """Forget every per-string result and sighting in this process (tests and benchmarks
    start cold with it; the findings never depend on it)."""
    _MEMO.clear()
    _memo_total[0] = 0
    _SEEN_ONCE.clear()


def _keep(text: str, slots: list[Any], before: tuple[Any, ...] | None) -> None:
    """Store ``text``'s slots (as a tuple) if a rule worked something out for it."""
    if len(text) > _MEMO_MAX_CHARS:
        return
    after = tuple(slots)
    if after == before:
        return
    if before is None:
        if len(_MEMO) >= _MEMO_MAX_ENTRIES or _memo_total[0] + len(text) > _MEMO_MAX_TOTAL:
            _MEMO.clear()
            _memo_total[0] = 0
        _memo_total[0] += len(text)
    _MEMO[text] = after


#: the plan of a configuration: (severity by enabled code, any secret rule on, any PII
#: rule on, placeholders on, control characters on, mojibake on, then the severity (or
#: None) of boilerplate, refusal, truncation, repetition, echo and language)
Plan = tuple[
    dict[str, str], bool, bool, bool, bool, bool,
    str | None, str | None, str | None, str | None, str | None, str | None,
]  # fmt: skip


@lru_cache(maxsize=64)
def _plan(severities: tuple[tuple[str, str], ...]) -> Plan:
    """What :meth:`ContentCheck.check` needs to know of its configuration, worked out once
    per configuration instead of once per example (the dict is only read)."""
    enabled = dict(severities)
    return (
        enabled,
        any(c.startswith("secret") for c in enabled),
        any(c.startswith("pii") for c in enabled),
        "template_placeholder" in enabled,
        "control_characters" in enabled,
        "mojibake" in enabled,
        enabled.get("assistant_boilerplate"),
        enabled.get("assistant_refusal"),
        enabled.get("truncated_reply"),
        enabled.get("repetition_loop"),
        enabled.get("prompt_echo"),
        enabled.get("language_mismatch"),
    )


#: the field names of the first messages' content, formatted once
_CONTENT_FIELDS = tuple(f"messages[{i}].content" for i in range(64))


def _texts(data: Any) -> list[TextRef]:
    """The non-empty :func:`iter_texts` of a record, with a fast path for the common chat
    record whose messages are plain dicts with string content and no tool calls."""
    msgs = data.get("messages") if isinstance(data, dict) else None
    if isinstance(msgs, list):
        out: list[TextRef] = []
        for i, m in enumerate(msgs):
            if type(m) is dict and "tool_calls" not in m:
                content = m.get("content")
                if type(content) is str:
                    if content:
                        role = m.get("role")
                        out.append(
                            (
                                _CONTENT_FIELDS[i] if i < 64 else f"messages[{i}].content",
                                i,
                                role if isinstance(role, str) else None,
                                content,
                            )
                        )
                    continue
            out.extend(t for t in _message_texts(m, f"messages[{i}]", i) if t[3])
        return out
    return [t for t in iter_texts(data) if t[3]]


#: the ASCII characters str.isprintable rejects, less tab and newlines
_ASCII_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
#: secrets' _TOKEN_TABLE (key characters to "a") that also maps those controls to "c": one
#: pass over the bytes for both gates
_RUN_OR_CONTROL_TABLE = bytes(
    ord("c") if c in _ASCII_CONTROLS else _TOKEN_TABLE[c] for c in range(256)
)

#: UTF-8 of every character the mojibake gate looks for (text_quality._MOJIBAKE_GATE_RE):
#: lead bytes C2/C3 (U+0080-U+00FF), Р С в (U+0420, U+0421, U+0432) and U+FFFD. Lead
#: bytes never occur inside another character's encoding, so a miss here is a miss there.
_MOJIBAKE_BYTES = (b"\xc2", b"\xc3", b"\xd0\xa0", b"\xd0\xa1", b"\xd0\xb2", b"\xef\xbf\xbd")
#: bytes.translate table that keeps digits as "0": counting digits without a regex
_DIGIT_TABLE = bytes(ord("0") if 48 <= c <= 57 else ord(" ") for c in range(256))


#: the non-ASCII characters find_control_chars reports besides the C1 controls
#: (U+0080-U+009F, whose UTF-8 starts with C2): bidirectional overrides, U+FFFE, U+FFFF
_BIDI_AND_NONCHARACTERS = tuple(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufffe\uffff"
)
_C1_RE = re.compile(rb"\xc2[\x80-\x9f]")


def _non_ascii_controls(text: str, raw: bytes) -> bool:
    """Whether ``text`` (UTF-8 ``raw``) holds a non-ASCII character find_control_chars
    reports: exact, and single-character scans instead of ``str.isprintable`` (which
    looks up every character, and is False for more than the rule reports)."""
    return (b"\xc2" in raw and _C1_RE.search(raw) is not None) or any(
        c in text for c in _BIDI_AND_NONCHARACTERS
    )


def _example_gates(texts: list[TextRef]) -> tuple[bool, bool, bool, bool, bool]:
    """Necessary conditions, on all of an example's strings at once, for each per-string
    rule to find anything in any one of them: ``(secrets, pii, placeholders, control
    characters, mojibake)``. Strings are joined with a newline, which no rule's match
    needs (nor the digit shape below spans), so a ``False`` holds for every string (and
    may be cached for it). One join, one encode and a few C-speed scans, instead of each
    rule's own gates on each string. Number-shaped personal data (phones, cards, IP
    addresses, IBANs) needs, on ASCII text, the digit shape find_pii itself gates on (7+
    digits and separators from a digit to a digit); the control-character gate is exact
    (just the characters the rule reports)."""
    joined = "\n".join([t[3] for t in texts])
    raw = joined.encode("utf-8", "surrogatepass")
    ascii_only = len(raw) == len(joined)
    runs = raw.translate(_RUN_OR_CONTROL_TABLE)
    at = "@" in joined
    return (
        _LONG_RUN in runs
        or "PRIVATE KEY" in joined
        or "PuTTY" in joined
        or (at and "://" in joined),  # a short password in a URL
        at
        or (
            _pii._DIGITS_SHAPE_RE.search(raw.translate(_pii._DIGIT_TABLE)) is not None
            if ascii_only
            else raw.translate(_DIGIT_TABLE).count(b"0") >= 4
        ),
        "{" in joined or "<" in joined or "[" in joined,
        b"c" in runs or (not ascii_only and _non_ascii_controls(joined, raw)),
        not ascii_only and any(seq in raw for seq in _MOJIBAKE_BYTES),
    )


#: bits of a text's gate mask (curate.validators.prefilter.GROUPS)
_SEC, _PII_BIT, _PH, _CTL, _MOJ, _BOIL, _REF = (1 << i for i in range(7))
_TEXT_ONLY = _BOIL | _REF  # what the pure-Python example gates do not judge


def _python_masks(texts: list[TextRef]) -> list[int]:
    """Each string's gate mask from :func:`_example_gates` (one mask for all of them);
    boilerplate and refusals are left to their rule functions' own gates."""
    sec, pii, ph, ctl, moj = _example_gates(texts)
    mask = (
        _TEXT_ONLY
        | (_SEC if sec else 0)
        | (_PII_BIT if pii else 0)
        | (_PH if ph else 0)
        | (_CTL if ctl else 0)
        | (_MOJ if moj else 0)
    )
    return [mask] * len(texts)


def _control_of(text: str) -> Hit | None:
    """:func:`text_quality.find_control_chars`, after an exact gate: ASCII controls with
    one ``bytes.translate`` pass, the others with :func:`_non_ascii_controls`."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw.translate(None, _ASCII_CONTROLS)) == len(raw) and (
        len(raw) == len(text) or not _non_ascii_controls(text, raw)
    ):
        return None
    return tq.find_control_chars(text)


@dataclass(frozen=True, slots=True)
class ContentCheck:
    """Every content rule in one pass over an example's strings.

    Cheap gates run once per example on all its text joined: a secret needs a run of 16
    key characters, a private-key header, or a URL with an ``@`` (a password in a URL can be
    short), a number-shaped PII item needs 4 digits, an e-mail an
    ``@``, a placeholder a bracket or brace, a control character a non-printable
    character. Only what passes a gate meets the regexes; the rule functions then gate
    again per string and per pattern (see :mod:`curate.validators.secrets` and
    :mod:`curate.validators.pii`).

    Args:
        severities: ``(code, severity)`` for each enabled rule.
        secrets_allowed_roles / pii_allowed_roles / placeholder_allowed_roles: roles
            whose turns those rules skip.
    """

    severities: tuple[tuple[str, str], ...]
    secrets_allowed_roles: tuple[str, ...] = ()
    pii_allowed_roles: tuple[str, ...] = ()
    placeholder_allowed_roles: tuple[str, ...] = ()
    name: str = "content"
    prefilter: bool = True
    #: :func:`_plan` of ``severities``, set once (looking it up per example hashed the
    #: whole tuple each time)
    _cfg: Plan = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cfg", _plan(self.severities))

    def prepare(self) -> None:
        """Load what the checks load on first use (the prefilter database, the language
        model) in this process. Called in a parent before it forks its workers, they share
        these instead of each loading its own (~0.07 s of CPU per worker); optional, the
        findings are the same without it.

        Example:
            >>> (check,) = content_validators()
            >>> check.prepare()
        """
        if self.prefilter:
            _prefilter.get()
        if "language_mismatch" in self._cfg[0] and tq.LANGID_AVAILABLE:
            tq._identifier()
        if "mojibake" in self._cfg[0] and tq.FTFY_AVAILABLE:
            tq._ftfy()

    def _masks(self, texts: list[TextRef]) -> list[int]:
        """Per string, the bits of the rules that may find something in it: the compiled
        prefilter's (:mod:`curate.validators.prefilter`) when it is available and
        ``prefilter`` is on, else the pure-Python example gates'."""
        pf = _prefilter.get() if self.prefilter else None
        if pf is None:
            return _python_masks(texts)
        return pf.scan([t[3] for t in texts])

    def check(self, ex: Example) -> Iterator[Finding]:
        found: list[Finding] = []
        self._check(ex, found.append, None)
        return iter(found)

    def check_many(self, examples: Sequence[Example]) -> list[list[Finding]]:
        """:meth:`check` of each example: the same findings in the same order, with the
        replies' language identification left to the end and run for all of them in one
        go. ``curate validate`` calls it per batch: the language model's tables (~100 MB)
        and the classifier's code then stay in the CPU's caches from one reply to the
        next instead of being read back from memory for each (a classification cost ~3x
        more between the other checks than in a row).

        Example:
            >>> (check,) = content_validators()
            >>> [f.code for fs in check.check_many([]) for f in fs]
            []
        """
        pending: list[_Pending] = []
        outs: list[list[Any]] = []
        touched: list[int] = []
        check = self._check
        for i, ex in enumerate(examples):
            n = len(pending)
            found: list[Any] = []
            check(ex, found.append, pending)
            outs.append(found)
            if len(pending) > n:
                touched.append(i)
        for p in pending:
            mm = tq.language_mismatch(p.prompt, p.text)
            p.finding = _language_finding(p.ex, p.sev, p.field, p.index, p.text, mm)
            kept = _MEMO.get(p.text)  # the reply's results, kept with this rule to do
            if kept is not None:
                pair = kept[_PAIR]
                if pair is not _TODO and pair[2] is _TODO and pair[0] == p.prompt:
                    _MEMO[p.text] = (*kept[:_PAIR], (pair[0], pair[1], mm), *kept[_PAIR + 1 :])
        for i in touched:
            outs[i] = [
                f.finding if type(f) is _Pending else f
                for f in outs[i]
                if type(f) is not _Pending or f.finding is not None
            ]
        return outs

    def _check(
        self, ex: Example, out: Callable[[Any], object], pending: list[_Pending] | None
    ) -> None:
        """Pass each finding of :meth:`check` to ``out`` (a list's ``append``: no
        generator to create and resume per example); with a ``pending`` list, a reply's
        language check is not run but passed (and listed) as a :class:`_Pending` in its
        place."""
        texts = _texts(ex.data)
        if not texts:
            return
        (
            enabled,
            secrets_on,
            pii_on,
            ph_on,
            ctl_on,
            moj_on,
            boil_sev,
            ref_sev,
            trunc_sev,
            rep_sev,
            echo_sev,
            lang_sev,
        ) = self._cfg
        english = tq._english_like
        memo_get = _MEMO.get
        befores = [memo_get(t[3]) for t in texts]
        # one prefilter scan for the example as soon as one string is new (then the gate
        # masks say which rules can find anything in each string)
        masks: list[int] | None = self._masks(texts) if None in befores else None
        slots: list[list[Any]] = []
        prompt: str | None = None
        prompt_slot: list[Any] | None = None
        for k, (field, index, role, text) in enumerate(texts):
            before = befores[k]
            if before is None and masks is not None and not masks[k]:
                # no per-string rule can find anything: their results without running them
                slot = list(_CLEAN)
                slots.append(slot)
                if role == "user":
                    prompt, prompt_slot = text, slot
            else:
                slot = list(before or _NEW)
                slots.append(slot)
                if role == "user":
                    prompt, prompt_slot = text, slot
                if secrets_on and role not in self.secrets_allowed_roles:
                    found = slot[_SECRETS]
                    if found is _TODO:
                        if masks is None:
                            masks = self._masks(texts)
                        found = slot[_SECRETS] = (
                            tuple(find_secrets(text)) if masks[k] & _SEC else ()
                        )
                    for h in found:
                        sev = enabled.get(h.code)
                        if sev is not None:
                            value = mask(text[h.start : h.end], h.code)
                            kind = "password in URL" if h.rule == "password_in_url" else h.rule
                            what = f"{kind.replace('_', ' ')} {value}"
                            out(_finding(ex, sev, h, field, index, role, what))
                if pii_on and role not in self.pii_allowed_roles:
                    found = slot[_PII]
                    if found is _TODO:
                        if masks is None:
                            masks = self._masks(texts)
                        found = slot[_PII] = tuple(find_pii(text)) if masks[k] & _PII_BIT else ()
                    for h in found:
                        sev = enabled.get(h.code)
                        if sev is not None:
                            what = f"{_LABELS[h.rule]} {mask(text[h.start : h.end], h.code)}"
                            out(_finding(ex, sev, h, field, index, role, what))
                if ph_on and role not in self.placeholder_allowed_roles:
                    found = slot[_PLACEHOLDERS]
                    if found is _TODO:
                        if masks is None:
                            masks = self._masks(texts)
                        found = tuple(tq.find_placeholders(text)) if masks[k] & _PH else ()
                        slot[_PLACEHOLDERS] = found
                    sev = enabled["template_placeholder"]
                    for h in found:
                        what = f"unfilled placeholder {text[h.start : h.end]!r}"
                        out(_finding(ex, sev, h, field, index, role, what))
                if ctl_on:
                    h = slot[_CONTROL]
                    if h is _TODO:
                        if masks is None:
                            masks = self._masks(texts)
                        h = slot[_CONTROL] = _control_of(text) if masks[k] & _CTL else None
                    if h is not None:
                        n = len(tq._CONTROL_RE.findall(text))
                        what = f"{n} control character(s), first {h.rule} at {h.start}"
                        sev = enabled["control_characters"]
                        out(_finding(ex, sev, h, field, index, role, what))
                if moj_on:
                    h = slot[_MOJIBAKE]
                    if h is _TODO:
                        if masks is None:
                            masks = self._masks(texts)
                        h = slot[_MOJIBAKE] = tq.find_mojibake(text) if masks[k] & _MOJ else None
                    if h is not None:
                        what = f"mojibake {text[h.start : h.end][:20]!r}"
                        out(_finding(ex, enabled["mojibake"], h, field, index, role, what))
            if role != "assistant" or ".tool_calls[" in field:
                continue
            # -- the reply rules --
            if boil_sev:
                hits = slot[_BOILERPLATE]
                if hits is _TODO:
                    if masks is None:
                        masks = self._masks(texts)
                    hits = slot[_BOILERPLATE] = (
                        tq.boilerplate_hits(text) if masks[k] & _BOIL else (None, None)
                    )
                h = hits[0]
                if h is not None:
                    if prompt is not None and prompt_slot is not None:
                        asks = prompt_slot[_ASKS]
                        if asks is _TODO:
                            asks = prompt_slot[_ASKS] = tq.asks_about_assistant(prompt)
                        h = None if asks[0] else hits[1] if asks[1] else h
                    if h is not None:
                        what = f"AI boilerplate {text[h.start : h.end]!r}"
                        out(_finding(ex, boil_sev, h, field, index, "assistant", what))
            if ref_sev:
                h = slot[_REFUSAL]
                if h is _TODO:
                    if masks is None:
                        masks = self._masks(texts)
                    h = slot[_REFUSAL] = tq.find_refusal(text) if masks[k] & _REF else None
                if h is not None:
                    what = f"refusal {text[h.start : h.end][:60]!r}"
                    out(_finding(ex, ref_sev, h, field, index, "assistant", what))
            if trunc_sev:
                found = slot[_TRUNCATION]
                if found is _TODO:
                    # exact gate: no open code fence and a last character that ends nothing
                    # find_truncation reports (not a space, a letter, "-" or a comma...); "`"
                    # first: one character is found by memchr, far faster than "```"
                    found = slot[_TRUNCATION] = (
                        ()
                        if text[-1] in _SAFE_ENDS and ("`" not in text or "```" not in text)
                        else tuple(tq.find_truncation(text))
                    )
                for h in found:
                    why = "open code block"
                    if h.rule != "open_code_block":
                        why = f"ends with {text[h.start : h.end]!r}"
                    what = f"reply cut off ({why})"
                    out(_finding(ex, trunc_sev, h, field, index, "assistant", what))
            if rep_sev:
                h = slot[_REPETITION]
                if h is _TODO:
                    # find_repetition's own first test (min_chars=200), without the call
                    h = slot[_REPETITION] = tq.find_repetition(text) if len(text) >= 200 else None
                if h is not None:
                    what = (
                        f"loop of {h.end - h.start} chars ({(h.end - h.start) * 100 // len(text)}%"
                        f" of the reply), starting {text[h.start : h.start + 30]!r}"
                    )
                    out(_finding(ex, rep_sev, h, field, index, "assistant", what))
            if prompt is None or not (echo_sev or lang_sev):
                continue
            pair = slot[_PAIR]
            if pair is _TODO or pair[0] != prompt:  # kept for the last prompt it answered
                pair = (prompt, _TODO, _TODO)
            n_reply, n_prompt = len(text), len(prompt)
            if echo_sev and pair[1] is _TODO:
                # is_echo's own length tests (min_chars=12, 0.6-1.7x), without the call
                echo = (
                    n_reply >= 12
                    and 0.6 * n_prompt <= n_reply <= 1.7 * n_prompt
                    and tq.is_echo(prompt, text)
                )
                pair = (prompt, echo, pair[2])
            if lang_sev and pair[2] is _TODO:
                # language_mismatch's own length test (min_chars=40), without the call
                # and its first answer for most pairs, both texts looking English (cheap:
                # a few substring tests); only the others are left to check_many
                if n_reply < 40 or n_prompt < 40 or (english(prompt) and english(text)):
                    pair = (prompt, pair[1], None)
                elif pending is None:
                    pair = (prompt, pair[1], tq.language_mismatch(prompt, text))
            slot[_PAIR] = pair
            if echo_sev and pair[1]:
                h = Hit("prompt_echo", 0, len(text), "same_words", "")
                what = "reply repeats the prompt"
                out(_finding(ex, echo_sev, h, field, index, "assistant", what))
            if lang_sev:
                mm = pair[2]
                if mm is _TODO:  # left to check_many
                    assert pending is not None
                    p = _Pending(ex, lang_sev, field, index, prompt, text)
                    pending.append(p)
                    out(p)
                elif mm is not None:
                    out(_language_finding(ex, lang_sev, field, index, text, mm))
        for k, slot in enumerate(slots):
            before = befores[k]
            text = texts[k][3]
            if before is not None:
                _keep(text, slot, before)
            elif len(text) <= _MEMO_MAX_CHARS:  # _keep's new-string case, inline
                h = hash(text)  # (the str caches it: the look-up above computed it)
                if h not in _SEEN_ONCE:
                    # the first sighting: kept only from the second on (most strings of a
                    # real set never come back; storing them was work for nothing)
                    if len(_SEEN_ONCE) >= _SEEN_MAX:
                        _SEEN_ONCE.clear()
                    _SEEN_ONCE.add(h)
                    continue
                if len(_MEMO) >= _MEMO_MAX_ENTRIES or _memo_total[0] + len(text) > _MEMO_MAX_TOTAL:
                    _MEMO.clear()
                    _memo_total[0] = 0
                _memo_total[0] += len(text)
                _MEMO[text] = tuple(slot)


@dataclass(slots=True)
class _Pending:
    """A reply whose language check :meth:`ContentCheck.check_many` runs later, and then
    its finding (``None``: no finding)."""

    ex: Example
    sev: str
    field: str
    index: int | None
    prompt: str
    text: str
    finding: Finding | None = None


def _language_finding(
    ex: Example,
    sev: str,
    field: str,
    index: int | None,
    text: str,
    mm: tuple[str, str, float] | None,
) -> Finding | None:
    """The finding of a reply (``text``) whose language check returned ``mm``."""
    if mm is None:
        return None
    h = Hit("language_mismatch", 0, len(text), "py3langid", "")
    what = f"reply in {mm[1]!r}, prompt in {mm[0]!r} (confidence {mm[2]:.2f})"
    extra = {"languages": list(mm[:2])}
    return _finding(ex, sev, h, field, index, "assistant", what, extra)


def _hint(code: str) -> str | None:
    if code.startswith("secret"):
        return _HINTS["secrets"]
    if code.startswith("pii"):
        return _HINTS["pii"]
    return _HINTS.get(code)


def _finding(
    ex: Example,
    sev: str,
    hit: Hit,
    field: str,
    index: int | None,
    role: str | None,
    what: str,
    extra: dict[str, Any] | None = None,
) -> Finding:
    data: dict[str, Any] = {"span": [hit.start, hit.end], "rule": hit.rule, "field": field}
    if extra:
        data.update(extra)
    where = f"{role} message" if role else field
    return Finding(
        hit.code,
        Severity(sev),
        f"{what} in {where}",
        ex.source.with_message(index),
        hint=_hint(hit.code),
        data=data,
    )


# -- building from config -------------------------------------------------------------


def _parse(config: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    config = dict(config or {})
    valid = sorted([*RULES, *GROUPS, *ROLE_KEYS])
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown [tool.curate.content] key(s) {', '.join(unknown)}; "
            f"valid keys: {', '.join(valid)}"
        )
    sev = {code: default for code, (default, _, _) in RULES.items()}
    for key in (*GROUPS, *RULES):  # groups first, so a rule's own setting wins
        if key not in config:
            continue
        value = config[key]
        if value not in SEVERITIES:
            raise ValueError(
                f"[tool.curate.content] {key} = {value!r}: choose one of {', '.join(SEVERITIES)}"
            )
        codes = [c for c, (_, g, _) in RULES.items() if g == key] if key in GROUPS else [key]
        for c in codes:
            sev[c] = value
    roles: dict[str, tuple[str, ...]] = {}
    for key in ROLE_KEYS:
        value = config.get(key, [])
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise ValueError(f"[tool.curate.content] {key} must be a list of role names")
        roles[key] = tuple(value)
    return sev, roles


def severities(config: dict[str, Any] | None = None) -> dict[str, str]:
    """Each rule's severity (or ``off``) under ``config``.

    Example:
        >>> s = severities({"pii": "off", "pii_email": "error"})
        >>> s["pii_email"], s["pii_phone"], s["secret_token"]
        ('error', 'off', 'error')
    """
    return _parse(config)[0]


def content_validators(config: dict[str, Any] | None = None) -> list[Validator]:
    """The content validators under ``config`` (the ``[tool.curate.content]`` table): one
    :class:`ContentCheck` running every enabled rule, or none when all are off.

    Raises:
        ValueError: an unknown key (the message lists the valid ones) or a bad value.
    """
    sev, roles = _parse(config)
    enabled = tuple((c, s) for c, s in sev.items() if s != "off")
    if not enabled:
        return []
    return [
        ContentCheck(
            enabled,
            secrets_allowed_roles=roles["secrets_allowed_roles"],
            pii_allowed_roles=roles["pii_allowed_roles"],
            placeholder_allowed_roles=roles["placeholder_allowed_roles"],
        )
    ]


def check_all(ex: Example, validators: Iterable[Validator]) -> list[Finding]:
    """All findings of ``validators`` on one example (what ``curate redact`` uses)."""
    return [f for v in validators for f in v.check(ex)]


__all__ = [
    "RULES",
    "ContentCheck",
    "content_validators",
    "iter_texts",
    "mask",
    "missing_extras",
    "severities",
]
