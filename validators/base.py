"""What a validator is.

Two kinds:

- :class:`Validator`: per example, pure. ``check(ex)`` yields findings. Runs in worker
  processes, so instances must be picklable (plain dataclasses are). An optional
  ``prepare()`` method loads what the checks load on first use (a model, a compiled
  database): ``validate_path`` calls it before forking its workers, so they share it.
  An optional ``check_many(examples)`` returns each example's ``check`` findings as a
  list (same findings, same order); ``validate_path`` calls it once per batch when it
  exists, so a validator can run a costly step for the whole batch in a row.
- :class:`CorpusValidator`: needs to see many examples (duplicates, leakage). It is
  split so the heavy part stays parallel: ``features(ex)`` is pure and runs in the
  workers (a hash, a MinHash signature); ``add(ref, feature)`` and ``finish()`` run in
  the main process and hold the cross-example state.

Content rules (:class:`Rule`) are smaller still: a function over one string (or a
prompt and its reply) and what it needs to be run; one runner
(:mod:`curate.validators.content`) turns them into a validator.

Validators never print, log, drop or mutate: the pipeline decides what happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

from curate.records import Example, Finding, Location


@runtime_checkable
class Validator(Protocol):
    name: str

    def check(self, ex: Example) -> Iterable[Finding]: ...


@dataclass(frozen=True, slots=True)
class ExampleRef:
    """What the main process keeps of an example for corpus checks."""

    id: str
    source: Location
    index: int  # 0-based position in the whole run (across files)


@runtime_checkable
class CorpusValidator(Protocol):
    name: str

    def features(self, ex: Example) -> Any: ...

    def add(self, ref: ExampleRef, feature: Any) -> Iterable[Finding]: ...

    def finish(self) -> Iterable[Finding]: ...


#: non-ASCII characters that Python's case-insensitive matching pairs with an ASCII letter,
#: or that ``str.lower`` turns into one (İ -> i + U+0307, K -> k): a gate written for
#: ASCII letters does not see them, so a string holding one meets every rule (a test checks
#: the list over every code point)
FOLDS_TO_ASCII = "\u0130\u0131\u017f\u212a"


class Hit(NamedTuple):
    """One thing a content rule found in a string: ``text[start:end]`` is it."""

    code: str
    start: int
    end: int
    rule: str
    label: str  # the redaction placeholder's name (EMAIL, SECRET...)


@dataclass(frozen=True, eq=False)
class Rule:
    """One content rule (or one family of codes found together, such as secrets): what it
    finds, its settings, and the cheap test that says where it needs to run. The runner
    (:class:`curate.validators.content.ContentCheck`) does the rest: configuration,
    gating, the per-string memo and the batching.

    Args:
        codes: each code it reports -> (default severity, what it finds).
        find: the rule. Scope ``"text"`` (every string) and ``"reply"`` (assistant
            replies): ``find(text, **settings)``, a result that depends on the text alone
            (kept per string). Scope ``"pair"``: ``find(prompt, reply, **settings)``.
            Settings are ``find``'s keyword-only arguments (the rule's thresholds, settable
            in ``[tool.curate.content]``).
        report: ``report(text, result, prompt)`` -> ``(hit, message, extra data or None)``
            for each finding in ``result`` (the prompt is ``None`` for a string without one).
        hint: how to fix what it finds.
        group: the ``[tool.curate.content]`` group (``secrets``, ``pii`` or ``text``).
        scope: ``"text"``, ``"reply"`` or ``"pair"``.
        gate: a bytes regex (the syntax Python's ``re`` and Hyperscan share) that the
            UTF-8 of every string in which ``find`` finds something matches (a superset:
            it may match where the rule finds nothing); ``None``: no gate.
        empty: ``find``'s result when it finds nothing (given to strings the gate rules out).
        skip_roles: the ``[tool.curate.content]`` key listing roles whose strings it skips.
        needs: for a pair rule whose ``find`` is costly: ``needs(prompt, reply,
            **settings)`` is False only where ``find`` finds nothing; the other pairs of a
            batch are then run together, after the rest (``check_many``).
        prepare: loads what ``find`` loads on first use (a model), so that forked workers
            share it.
    """

    codes: dict[str, tuple[str, str]]
    find: Callable[..., Any]
    report: Callable[[str, Any, str | None], Iterable[tuple[Hit, str, dict[str, Any] | None]]]
    hint: str
    group: str = "text"
    scope: str = "text"
    gate: bytes | None = None
    empty: Any = ()
    skip_roles: str | None = None
    needs: Callable[..., bool] | None = None
    prepare: Callable[[], object] | None = None

    @property
    def name(self) -> str:
        """The rule's name in ``[tool.curate.content]``: its code (its group for several)."""
        return next(iter(self.codes)) if len(self.codes) == 1 else self.group


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


def record_messages(data: Any) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
    """``(message index or None, prefix, message)`` for every message of a chat record or
    an OpenAI preference (DPO) record: the DPO replies first, with the prefix
    ``"preferred_output: "`` / ``"non_preferred_output: "`` and no index, then the
    (input) messages with their index.

    Example:
        >>> [(i, p, m["content"]) for i, p, m in record_messages(
        ...     {"messages": [{"role": "user", "content": "Hi"}]})]
        [(0, '', 'Hi')]
    """
    if not isinstance(data, dict):
        return
    if "input" in data and "preferred_output" in data:
        inp = data.get("input")
        msgs = inp.get("messages") if isinstance(inp, dict) else None
        for key in ("preferred_output", "non_preferred_output"):
            out = data.get(key)
            for m in out if isinstance(out, list) else ():
                if isinstance(m, dict):
                    yield None, f"{key}: ", m
    else:
        msgs = data.get("messages")
    for i, m in enumerate(msgs if isinstance(msgs, list) else ()):
        if isinstance(m, dict):
            yield i, "", m
