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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from curate.validators import text_quality as tq
from curate.validators.base import Validator
from curate.validators.pii import find_pii
from curate.validators.secrets import DETECT_SECRETS_AVAILABLE, Hit, find_secrets

from curate.records import Example, Finding, Severity

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


def _pairs(data: Any) -> Iterator[tuple[str, int | None, str, str]]:
    """(field, message_index, prompt, reply) for each reply and the user turn before it."""
    if not isinstance(data, dict):
        return
    prompt: str | None = None
    for field, index, role, text in iter_texts(data):
        if field.endswith("tool_calls") or ".tool_calls[" in field:
            continue
        if role == "user":
            prompt = text if field != "input" or prompt is None else f"{prompt}\n{text}"
        elif role == "assistant" and prompt is not None:
            yield field, index, prompt, text


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


# -- the validators -------------------------------------------------------------------


def _sev(value: str) -> Severity:
    return Severity(value)


@dataclass(frozen=True, slots=True)
class _Base:
    #: (code, severity) for each enabled rule of this validator
    severities: tuple[tuple[str, str], ...]
    allowed_roles: tuple[str, ...] = ()

    def _enabled(self) -> dict[str, str]:
        return dict(self.severities)

    def _finding(
        self,
        ex: Example,
        sev: str,
        hit: Hit,
        field: str,
        index: int | None,
        role: str | None,
        what: str,
        extra: dict[str, Any] | None = None,
    ) -> Finding:
        where = f"{role} message" if role else field
        hint_key = hit.code.split("_")[0] if hit.code.startswith(("secret", "pii")) else hit.code
        hint_key = {"secret": "secrets"}.get(hint_key, hint_key)
        data: dict[str, Any] = {"span": [hit.start, hit.end], "rule": hit.rule, "field": field}
        if extra:
            data.update(extra)
        return Finding(
            hit.code,
            _sev(sev),
            f"{what} in {where}",
            ex.source.with_message(index),
            hint=_HINTS.get(hint_key),
            data=data,
        )


@dataclass(frozen=True, slots=True)
class SecretsCheck(_Base):
    """API keys and tokens, private keys, passwords in URLs, high-entropy values after a
    key-like name (:func:`curate.validators.secrets.find_secrets`)."""

    name: str = "content.secrets"

    def check(self, ex: Example) -> Iterator[Finding]:
        enabled = self._enabled()
        for field, index, role, text in iter_texts(ex.data):
            if role in self.allowed_roles:
                continue
            for h in find_secrets(text):
                sev = enabled.get(h.code)
                if sev is None:
                    continue
                kind = h.rule.replace("_", " ")
                what = f"{kind} {mask(text[h.start : h.end], h.code)}"
                if h.code == "secret_password_in_url":
                    what = f"password in URL {mask(text[h.start : h.end], h.code)}"
                yield self._finding(ex, sev, h, field, index, role, what)


@dataclass(frozen=True, slots=True)
class PIICheck(_Base):
    """E-mail addresses, phone numbers, card numbers, public IPs, IBANs
    (:func:`curate.validators.pii.find_pii`), except in ``allowed_roles``."""

    name: str = "content.pii"

    def check(self, ex: Example) -> Iterator[Finding]:
        enabled = self._enabled()
        for field, index, role, text in iter_texts(ex.data):
            if role in self.allowed_roles:
                continue
            for h in find_pii(text):
                sev = enabled.get(h.code)
                if sev is not None:
                    what = f"{_LABELS[h.rule]} {mask(text[h.start : h.end], h.code)}"
                    yield self._finding(ex, sev, h, field, index, role, what)


@dataclass(frozen=True, slots=True)
class TextCheck(_Base):
    """Placeholders, mojibake and control characters in any turn; boilerplate, refusals,
    echoes, truncation, loops and language switches in assistant turns."""

    name: str = "content.text"

    def check(self, ex: Example) -> Iterator[Finding]:
        enabled = self._enabled()
        data = ex.data
        prompt: str | None = None
        for field, index, role, text in iter_texts(data):
            if role == "user":
                prompt = text
            if not text:
                continue
            sev = enabled.get("template_placeholder")
            if sev and role not in self.allowed_roles:
                for h in tq.find_placeholders(text):
                    what = f"unfilled placeholder {text[h.start : h.end]!r}"
                    yield self._finding(ex, sev, h, field, index, role, what)
            sev = enabled.get("control_characters")
            if sev:
                h = tq.find_control_chars(text)
                if h is not None:
                    n = sum(1 for _ in tq._CONTROL_RE.finditer(text))
                    what = f"{n} control character(s), first {h.rule} at {h.start}"
                    yield self._finding(ex, sev, h, field, index, role, what)
            sev = enabled.get("mojibake")
            if sev:
                h = tq.find_mojibake(text)
                if h is not None:
                    what = f"mojibake {text[h.start : h.end][:20]!r}"
                    yield self._finding(ex, sev, h, field, index, role, what)
            if role != "assistant" or ".tool_calls[" in field:
                continue
            sev = enabled.get("assistant_boilerplate")
            if sev:
                h = tq.find_boilerplate(text, prompt)
                if h is not None:
                    what = f"AI boilerplate {text[h.start : h.end]!r}"
                    yield self._finding(ex, sev, h, field, index, role, what)
            sev = enabled.get("assistant_refusal")
            if sev:
                h = tq.find_refusal(text)
                if h is not None:
                    what = f"refusal {text[h.start : h.end][:60]!r}"
                    yield self._finding(ex, sev, h, field, index, role, what)
            sev = enabled.get("truncated_reply")
            if sev:
                for h in tq.find_truncation(text):
                    why = "open code block" if h.rule == "open_code_block" else "ends with "
                    if h.rule != "open_code_block":
                        why += repr(text[h.start : h.end])
                    yield self._finding(ex, sev, h, field, index, role, f"reply cut off ({why})")
            sev = enabled.get("repetition_loop")
            if sev:
                h = tq.find_repetition(text)
                if h is not None:
                    what = (
                        f"loop of {h.end - h.start} chars ({(h.end - h.start) * 100 // len(text)}%"
                        f" of the reply), starting {text[h.start : h.start + 30]!r}"
                    )
                    yield self._finding(ex, sev, h, field, index, role, what)
        sev_echo = enabled.get("prompt_echo")
        sev_lang = enabled.get("language_mismatch")
        if not sev_echo and not sev_lang:
            return
        for field, index, prompt, reply in _pairs(data):
            if sev_echo and tq.is_echo(prompt, reply):
                h = Hit("prompt_echo", 0, len(reply), "same_words", "")
                what = "reply repeats the prompt"
                yield self._finding(ex, sev_echo, h, field, index, "assistant", what)
            if sev_lang:
                mm = tq.language_mismatch(prompt, reply)
                if mm is not None:
                    h = Hit("language_mismatch", 0, len(reply), "py3langid", "")
                    what = f"reply in {mm[1]!r}, prompt in {mm[0]!r} (confidence {mm[2]:.2f})"
                    yield self._finding(
                        ex, sev_lang, h, field, index, "assistant", what, {"languages": mm[:2]}
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
    """The content validators under ``config`` (the ``[tool.curate.content]`` table).

    Raises:
        ValueError: an unknown key (the message lists the valid ones) or a bad value.
    """
    sev, roles = _parse(config)

    def pick(group: str) -> tuple[tuple[str, str], ...]:
        return tuple((c, s) for c, s in sev.items() if RULES[c][1] == group and s != "off")

    out: list[Validator] = []
    if pick("secrets"):
        out.append(SecretsCheck(pick("secrets"), roles["secrets_allowed_roles"]))
    if pick("pii"):
        out.append(PIICheck(pick("pii"), roles["pii_allowed_roles"]))
    if pick("text"):
        out.append(TextCheck(pick("text"), roles["placeholder_allowed_roles"]))
    return out


def check_all(ex: Example, validators: Iterable[Validator]) -> list[Finding]:
    """All findings of ``validators`` on one example (what ``curate redact`` uses)."""
    return [f for v in validators for f in v.check(ex)]


__all__ = [
    "RULES",
    "PIICheck",
    "SecretsCheck",
    "TextCheck",
    "content_validators",
    "iter_texts",
    "mask",
    "missing_extras",
    "severities",
]
