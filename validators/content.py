"""Content checks: what format checks cannot see.

Secrets (:mod:`curate.validators.secrets`), personal data (:mod:`curate.validators.pii`),
unfilled template placeholders, boilerplate and refusals, echoed prompts, truncated and
looping replies, mojibake, control characters and language switches
(:mod:`curate.validators.text_quality`). :func:`content_validators` builds them from the
``[tool.curate.content]`` table; each finding carries ``data = {"span": [start, end],
"rule": ..., "field": ...}`` where the span indexes the string at ``field``.

Each rule is a :class:`~curate.validators.base.Rule` in its family's module; codes,
default severities and what they find are in :data:`RULES` (and docs/content.md). One
runner, :class:`ContentCheck`, runs them: the gates (:mod:`curate.validators.prefilter`),
a bounded per-string memo, and the language check batched per ``check_many`` call.

Config, per rule or per group (``secrets``, ``pii``, ``text``), ``"error"``,
``"warning"``, ``"info"`` or ``"off"``, or for a rule a table with its ``severity`` and
thresholds (the keyword arguments of its function); per-role allow lists::

    [tool.curate.content]
    pii = "error"                   # every pii_* rule
    pii_ip_address = "off"          # then one of them off
    pii_allowed_roles = ["user"]    # PII may appear in user turns, never elsewhere
    language_mismatch = "warning"
    repetition_loop = { severity = "warning", min_chars = 400 }

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

import difflib
import inspect
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from curate.records import Example, Finding, Severity
from curate.validators import prefilter
from curate.validators import text_quality as tq
from curate.validators.base import Hit, Rule, mask
from curate.validators.pii import PII
from curate.validators.secrets import DETECT_SECRETS_AVAILABLE, SECRETS

#: every content rule, in the order a string's findings are listed
ALL_RULES: tuple[Rule, ...] = (
    SECRETS,
    PII,
    tq.PLACEHOLDERS,
    tq.CONTROL,
    tq.MOJIBAKE,
    tq.BOILERPLATE,
    tq.REFUSAL,
    tq.TRUNCATION,
    tq.REPETITION,
    tq.ECHO,
    tq.LANGUAGE,
)
#: code -> (default severity, group, what it finds)
RULES: dict[str, tuple[str, str, str]] = {
    code: (sev, rule.group, about)
    for rule in ALL_RULES
    for code, (sev, about) in rule.codes.items()
}
GROUPS = ("secrets", "pii", "text")
ROLE_KEYS = ("secrets_allowed_roles", "pii_allowed_roles", "placeholder_allowed_roles")
SEVERITIES = ("error", "warning", "info", "off")
_RULE_OF = {code: rule for rule in ALL_RULES for code in rule.codes}


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


#: field names of non-chat records that hold a prompt / a reply (Alpaca, TRL, raw pairs)
_PROMPT_KEYS = frozenset({"instruction", "input", "prompt", "question", "query", "system"})
_REPLY_KEYS = frozenset({"output", "response", "answer", "completion", "chosen", "rejected"})


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


# -- configuration -----------------------------------------------------------------------


def _settings_of(rule: Rule) -> dict[str, Any]:
    """A rule's settings: the keyword-only arguments of its function, with defaults."""
    params = inspect.signature(rule.find).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


def _parse_all(
    config: dict[str, Any] | None,
) -> tuple[dict[str, str], dict[str, tuple[str, ...]], dict[str, dict[str, Any]]]:
    """``(severity by code, roles by key, settings by code)`` of a ``[tool.curate.content]``
    table; a ValueError names a bad key or value and what is valid."""
    config = dict(config or {})
    valid = sorted([*RULES, *GROUPS, *ROLE_KEYS])
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown [tool.curate.content] key(s) {', '.join(unknown)}; "
            f"valid keys: {', '.join(valid)}"
        )
    sev = {code: default for code, (default, _, _) in RULES.items()}
    settings: dict[str, dict[str, Any]] = {}
    for key in (*GROUPS, *RULES):  # groups first, so a rule's own setting wins
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, dict) and key in RULES:
            value = dict(value)
            allowed = _settings_of(_RULE_OF[key])
            bad = sorted(set(value) - {"severity", *allowed})
            if bad:
                close = difflib.get_close_matches(bad[0], ["severity", *allowed], n=1)
                raise ValueError(
                    f"[tool.curate.content] {key}: unknown setting(s) {', '.join(bad)}"
                    f"{f' (did you mean {close[0]}?)' if close else ''}; "
                    f"valid: {', '.join(['severity', *allowed])}"
                )
            for name, v in value.items():
                default = allowed.get(name)
                if name != "severity" and (
                    isinstance(v, bool) or not isinstance(v, type(default) | int)
                ):
                    raise ValueError(
                        f"[tool.curate.content] {key}.{name} = {v!r}: must be a number "
                        f"(default {default!r})"
                    )
            settings[key] = {k: v for k, v in value.items() if k != "severity"}
            value = value.get("severity", sev[key])
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
    return sev, roles, settings


def _parse(config: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """``(severity by code, roles by key)`` of a ``[tool.curate.content]`` table."""
    sev, roles, _ = _parse_all(config)
    return sev, roles


def severities(config: dict[str, Any] | None = None) -> dict[str, str]:
    """Each rule's severity (or ``off``) under ``config``.

    Example:
        >>> s = severities({"pii": "off", "pii_email": "error"})
        >>> s["pii_email"], s["pii_phone"], s["secret_token"]
        ('error', 'off', 'error')
    """
    return _parse(config)[0]


def content_validators(config: dict[str, Any] | None = None) -> list[ContentCheck]:
    """The content validators under ``config`` (the ``[tool.curate.content]`` table): one
    :class:`ContentCheck` running every enabled rule, or none when all are off.

    Raises:
        ValueError: an unknown key (the message lists the valid ones) or a bad value.
    """
    check = ContentCheck(config)
    return [check] if check.rules else []


# -- the runner ------------------------------------------------------------------------

#: the per-string memo: strings up to this long are kept, and it is emptied when it holds
#: this many strings or characters (real sets repeat strings: system prompts, templates,
#: a prompt answered twice in preference data, duplicates)
MEMO_MAX_CHARS = 32_768
MEMO_MAX_ENTRIES = 32_768
MEMO_MAX_TOTAL = 8_000_000
#: a memo slot not worked out yet (``None`` is a result)
_TODO: Any = object()


class _Active:
    """A rule as configured: its function with its settings, its severities."""

    __slots__ = ("empty", "find", "gated", "hint", "needs", "reply", "report", "sev", "skip")

    def __init__(
        self,
        rule: Rule,
        sev: dict[str, Severity],
        settings: dict[str, Any],
        roles: dict[str, tuple[str, ...]],
    ) -> None:
        self.find: Callable[..., Any] = partial(rule.find, **settings) if settings else rule.find
        self.needs: Callable[..., bool] | None = None
        if rule.needs is not None:
            accepted = inspect.signature(rule.needs).parameters
            kept = {k: v for k, v in settings.items() if k in accepted}
            self.needs = partial(rule.needs, **kept) if kept else rule.needs
        self.report = rule.report
        self.empty = rule.empty
        self.hint = rule.hint
        self.sev = sev
        self.skip = roles.get(rule.skip_roles or "", ())
        self.reply = rule.scope != "text"
        self.gated = rule.gate is not None


class _Plan:
    """The per-string rules that apply to one kind of string: ``rules`` as ``(memo slot,
    gate bit, rule)``; ``gated``, the bits of those with a gate; ``ungated``, the others;
    ``clean``, the memo slots of a string that passes none of the gates."""

    __slots__ = ("clean", "gated", "rules", "ungated")

    def __init__(self, rules: list[tuple[int, int, _Active]], blank: list[Any]) -> None:
        self.rules = rules
        self.gated = sum(bit for _, bit, a in rules if a.gated)
        self.ungated = [(s, -1, a) for s, _, a in rules if not a.gated]
        self.clean = blank.copy()
        for s, _, a in rules:
            if a.gated:
                self.clean[s] = a.empty


class ContentCheck:
    """Every enabled content rule over an example's strings, in one pass.

    Per string, in :data:`ALL_RULES` order: the rules whose gate the string passes (all
    of them without the prefilter) run, unless the string's results are in the memo;
    replies then get the reply rules, and the pair rules with the prompt they answer.

    Args:
        config: the ``[tool.curate.content]`` table (see the module docstring).
    """

    name = "content"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        sev, roles, settings = _parse_all(self.config)
        self.rules: list[Rule] = []
        active: list[_Active] = []
        for rule in ALL_RULES:
            on = {c: Severity(sev[c]) for c in rule.codes if sev[c] != "off"}
            if on:
                mine = {k: v for c in rule.codes for k, v in settings.get(c, {}).items()}
                self.rules.append(rule)
                active.append(_Active(rule, on, mine, roles))
        #: (bit, rule) of the rules over one string (their results are kept per string)
        self._strings = [
            (1 << i, a)
            for i, (r, a) in enumerate(zip(self.rules, active, strict=True))
            if r.scope != "pair"
        ]
        self._pairs = [a for r, a in zip(self.rules, active, strict=True) if r.scope == "pair"]
        self._blank: list[Any] = [_TODO] * len(self._strings)
        self._plans: dict[tuple[str | None, bool], _Plan] = {}
        self._pf: Any = _TODO  # the prefilter, looked up at first use
        self._memo: dict[str, tuple[Any, ...]] = {}
        self._memo_total = 0
        self._seen: set[int] = set()  # hashes of strings seen once (kept when they return)

    def __reduce__(self) -> tuple[Any, ...]:  # sent to workers as its configuration
        return ContentCheck, (self.config,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContentCheck) and other.config == self.config

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ContentCheck({self.config!r})"

    def clear(self) -> None:
        """Forget every per-string result (the findings never depend on it)."""
        self._memo.clear()
        self._memo_total = 0
        self._seen.clear()

    def _prefilter(self) -> prefilter.Prefilter | None:
        return prefilter.get([r for r in self.rules if r.scope != "pair"])

    def prepare(self) -> None:
        """Load what the rules load on first use (the prefilter database, the language
        model): called in a parent before it forks its workers, they share these.

        Example:
            >>> (check,) = content_validators()
            >>> check.prepare()
        """
        self._pf = self._prefilter()
        for rule in self.rules:
            if rule.prepare is not None:
                rule.prepare()

    def check(self, ex: Example) -> Iterator[Finding]:
        found: list[Finding] = []
        self._check(ex, found.append, None)
        return iter(found)

    def check_many(self, examples: Sequence[Example]) -> list[list[Finding]]:
        """:meth:`check` of each example (the same findings in the same order), with the
        costly pair checks (language identification) run last, for all of them in a row:
        the language model's tables (~100 MB) then stay in the CPU's caches from one reply
        to the next (a classification cost ~3x more between the other checks).

        Example:
            >>> (check,) = content_validators()
            >>> check.check_many([])
            []
        """
        pending: list[_Pending] = []
        outs: list[list[Any]] = []
        for ex in examples:
            found: list[Any] = []
            self._check(ex, found.append, pending)
            outs.append(found)
        if not pending:
            return outs
        for p in pending:
            p.run()
        return [
            [g for f in found for g in (f.findings if type(f) is _Pending else (f,))]
            for found in outs
        ]

    def _check(
        self, ex: Example, out: Callable[[Any], object], pending: list[_Pending] | None
    ) -> None:
        """Pass each finding of :meth:`check` to ``out``; with a ``pending`` list, a pair
        check that needs its costly step is listed there and passed to ``out`` in place of
        its findings."""
        texts = _texts(ex.data)
        if not texts:
            return
        memo = self._memo
        kept = [memo.get(t[3]) for t in texts]
        masks = None
        if None in kept:
            if self._pf is _TODO:
                self._pf = prefilter.get([r for r in self.rules if r.scope != "pair"])
            if self._pf is not None:
                masks = self._pf.scan([t[3] for t in texts])
        plans = self._plans
        prompt: str | None = None
        for k, (field, index, role, text) in enumerate(texts):
            if role == "user":
                prompt = text
            reply = role == "assistant" and ".tool_calls[" not in field
            plan = plans.get((role, reply)) or self._plan(role, reply)
            results = kept[k]
            if results is None:  # a new string: run the rules whose gate it passes
                mask = masks[k] if masks is not None else -1
                if mask & plan.gated:
                    new = self._blank.copy()
                    run = plan.rules
                else:  # no gate passed: those rules' "nothing found", without them
                    new = plan.clean.copy()
                    run = plan.ungated
                for s, bit, a in run:
                    r = new[s] = a.find(text) if mask & bit else a.empty
                    if r is not a.empty and r != a.empty:
                        self._report(ex, a, text, r, prompt, field, index, role, out)
                self._keep(text, new, None)
            else:  # results kept: only the rules not run on it yet (for another role)
                new = None
                for s, _, a in plan.rules:
                    r = results[s]
                    if r is _TODO:
                        if new is None:
                            new = list(results)
                        r = new[s] = a.find(text)
                    if r is not a.empty and r != a.empty:
                        self._report(ex, a, text, r, prompt, field, index, role, out)
                if new is not None:
                    self._keep(text, new, results)
            if reply and prompt is not None:
                for a in self._pairs:
                    if a.needs is not None and not a.needs(prompt, text):
                        continue
                    if a.needs is not None and pending is not None:
                        p = _Pending(self, ex, a, text, prompt, field, index)
                        pending.append(p)
                        out(p)
                        continue
                    r = a.find(prompt, text)
                    if r is not a.empty and r != a.empty:
                        self._report(ex, a, text, r, prompt, field, index, role, out)

    def _plan(self, role: str | None, reply: bool) -> _Plan:
        """The per-string rules for a string of this role (a reply or not)."""
        plan = _Plan(
            [
                (s, bit, a)
                for s, (bit, a) in enumerate(self._strings)
                if (reply or not a.reply) and role not in a.skip
            ],
            self._blank,
        )
        self._plans[(role, reply)] = plan
        return plan

    def _keep(self, text: str, results: list[Any], before: tuple[Any, ...] | None) -> None:
        """Keep a string's results (as a tuple: the garbage collector does not track a
        tuple of plain values). A new string is kept from its second sighting on: most
        strings of a real set never come back."""
        if len(text) > MEMO_MAX_CHARS:
            return
        if text not in self._memo:
            if before is None:
                h = hash(text)
                if h not in self._seen:
                    if len(self._seen) >= MEMO_MAX_ENTRIES * 4:
                        self._seen.clear()
                    self._seen.add(h)
                    return
            if len(self._memo) >= MEMO_MAX_ENTRIES or self._memo_total + len(text) > MEMO_MAX_TOTAL:
                self.clear()
            self._memo_total += len(text)
        self._memo[text] = tuple(results)

    @staticmethod
    def _report(
        ex: Example,
        a: _Active,
        text: str,
        result: Any,
        prompt: str | None,
        field: str,
        index: int | None,
        role: str | None,
        out: Callable[[Any], object],
    ) -> None:
        where = f"{role} message" if role else field
        for hit, what, extra in a.report(text, result, prompt if a.reply else None):
            sev = a.sev.get(hit.code)
            if sev is not None:
                out(_finding(ex, sev, hit, field, index, f"{what} in {where}", a.hint, extra))


def _finding(
    ex: Example,
    sev: Severity,
    hit: Hit,
    field: str,
    index: int | None,
    message: str,
    hint: str,
    extra: dict[str, Any] | None,
) -> Finding:
    data: dict[str, Any] = {"span": [hit.start, hit.end], "rule": hit.rule, "field": field}
    if extra:
        data.update(extra)
    return Finding(hit.code, sev, message, ex.source.with_message(index), hint=hint, data=data)


class _Pending:
    """A pair check left to the end of :meth:`ContentCheck.check_many`, then its findings."""

    __slots__ = ("a", "check", "ex", "field", "findings", "index", "prompt", "text")

    def __init__(
        self,
        check: ContentCheck,
        ex: Example,
        a: _Active,
        text: str,
        prompt: str,
        field: str,
        index: int | None,
    ) -> None:
        self.check, self.ex, self.a, self.text, self.prompt = check, ex, a, text, prompt
        self.field, self.index = field, index
        self.findings: list[Finding] = []

    def run(self) -> None:
        r = self.a.find(self.prompt, self.text)
        if r != self.a.empty:
            ContentCheck._report(
                self.ex,
                self.a,
                self.text,
                r,
                self.prompt,
                self.field,
                self.index,
                "assistant",
                self.findings.append,
            )


__all__ = [
    "ALL_RULES",
    "RULES",
    "ContentCheck",
    "content_validators",
    "iter_texts",
    "mask",
    "missing_extras",
    "severities",
]
