"""``curate redact``: mask secrets and personal data, never touching the original file.

Every string of every record is scanned with the same detectors as ``curate validate``
(:mod:`curate.validators.secrets`, :mod:`curate.validators.pii`); each find is replaced
by a typed placeholder (``<EMAIL>``, ``<PHONE>``, ``<CREDIT_CARD>``, ``<IP_ADDRESS>``,
``<IBAN>``, ``<SECRET>``, ``<PRIVATE_KEY>``, ``<PASSWORD>``), and every change is logged
to an audit file (JSONL, one line per change: where, which rule, the span, a masked
preview and a SHA-256 of the original value, so a reviewer can confirm a value without
the audit leaking it). Rules set to ``off`` in ``[tool.curate.content]`` are not
redacted, and ``pii_allowed_roles`` / ``secrets_allowed_roles`` are honoured.

A line that is not valid JSON is redacted as text (the detectors do not need JSON) and
written back, so ``read == written`` always holds.

Example:
    >>> import json, os, tempfile
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.jsonl")
    >>> row = {"messages": [{"role": "user", "content": "Mail me at jane.roe@gmail.com"},
    ...                     {"role": "assistant", "content": "Done."}]}
    >>> _ = open(src, "w").write(json.dumps(row) + "\\n")
    >>> rep = redact_path(src, os.path.join(d, "out.jsonl"))
    >>> rep.n_changes, rep.by_code
    (1, {'pii_email': 1})
    >>> json.loads(open(os.path.join(d, "out.jsonl")).read())["messages"][0]["content"]
    'Mail me at <EMAIL>'
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.io import check_readable, iter_raw_lines, refuse_utf16
from curate.records import InputError
from curate.validators.content import _parse, mask
from curate.validators.pii import find_pii
from curate.validators.secrets import Hit, find_secrets


@dataclass
class RedactReport:
    """What :func:`redact_path` did."""

    source: str
    output: str
    audit: str
    n_read: int = 0
    n_written: int = 0
    n_changed_records: int = 0
    n_unparsed: int = 0
    by_code: dict[str, int] = field(default_factory=dict)

    @property
    def n_changes(self) -> int:
        return sum(self.by_code.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "audit": self.audit,
            "n_read": self.n_read,
            "n_written": self.n_written,
            "n_changed_records": self.n_changed_records,
            "n_unparsed_lines": self.n_unparsed,
            "n_changes": self.n_changes,
            "changes_by_code": dict(sorted(self.by_code.items())),
        }


def default_audit_path(output: str | os.PathLike[str]) -> Path:
    """``out.jsonl`` -> ``out.redactions.jsonl`` (beside the output).

    Example:
        >>> str(default_audit_path("data/clean.jsonl"))
        'data/clean.redactions.jsonl'
    """
    p = Path(output)
    name = p.name
    for ext in (".jsonl.gz", ".jsonl", ".json"):
        if name.endswith(ext):
            return p.with_name(name[: -len(ext)] + ".redactions.jsonl")
    return p.with_name(name + ".redactions.jsonl")


class _Redactor:
    def __init__(self, config: dict[str, Any] | None) -> None:
        sev, roles = _parse(config)
        self.enabled = {c for c, s in sev.items() if s != "off"}
        self.secrets_on = any(c.startswith("secret") for c in self.enabled)
        self.pii_on = any(c.startswith("pii") for c in self.enabled)
        self.secret_roles = roles["secrets_allowed_roles"]
        self.pii_roles = roles["pii_allowed_roles"]

    def hits(self, text: str, role: str | None) -> list[Hit]:
        found: list[Hit] = []
        if self.secrets_on and role not in self.secret_roles:
            found += [h for h in find_secrets(text) if h.code in self.enabled]
        if self.pii_on and role not in self.pii_roles:
            found += [h for h in find_pii(text) if h.code in self.enabled]
        # secrets first: a token inside a URL is a secret, not an e-mail
        kept: list[Hit] = []
        for h in found:
            if all(h.end <= k.start or h.start >= k.end for k in kept):
                kept.append(h)
        return sorted(kept, key=lambda h: h.start)

    def redact_text(
        self, text: str, role: str | None, where: dict[str, Any], audit: list[dict[str, Any]]
    ) -> str:
        hits = self.hits(text, role)
        if not hits:
            return text
        out = []
        pos = 0
        for h in hits:
            value = text[h.start : h.end]
            token = f"<{h.label}>"
            out.append(text[pos : h.start])
            out.append(token)
            pos = h.end
            audit.append(
                {
                    **where,
                    "code": h.code,
                    "rule": h.rule,
                    "span": [h.start, h.end],
                    "replacement": token,
                    "preview": mask(value, h.code),
                    "sha256": hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest(),
                }
            )
        out.append(text[pos:])
        return "".join(out)

    def walk(
        self,
        obj: Any,
        path: str,
        role: str | None,
        where: dict[str, Any],
        audit: list[dict[str, Any]],
    ) -> Any:
        if isinstance(obj, str):
            return self.redact_text(obj, role, {**where, "field": path}, audit)
        if isinstance(obj, list):
            return [self.walk(v, f"{path}[{i}]", role, where, audit) for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            r = obj.get("role")
            here = r if isinstance(r, str) else role
            return {
                k: (
                    v
                    if k == "role"
                    else self.walk(v, f"{path}.{k}" if path else k, here, where, audit)
                )
                for k, v in obj.items()
            }
        return obj


def redact_path(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    audit: str | os.PathLike[str] | None = None,
    config: dict[str, Any] | None = None,
) -> RedactReport:
    """Write a redacted copy of the JSONL file ``source`` to ``output`` and the audit of
    every change to ``audit`` (default: ``OUTPUT.redactions.jsonl``); the Python twin of
    ``curate redact``.

    Args:
        source: JSONL (``.gz``/``.bz2``/``.xz``/``.zst`` read transparently).
        output: the redacted JSONL; written atomically.
        audit: where the change log goes.
        config: the ``[tool.curate.content]`` table (rules set to ``off`` and allowed
            roles are not redacted).

    Raises:
        curate.records.InputError: ``source`` unreadable, or ``output``/``audit`` would
            overwrite ``source``.
        ValueError: a bad ``config`` key or value.
    """
    from curate.stage import OutputPlan

    src = check_readable(source)
    out = Path(output)
    aud = Path(audit) if audit is not None else default_audit_path(out)
    plan = OutputPlan([src], "redact")
    plan.add("output", out)
    plan.add("audit", aud)
    red = _Redactor(config)
    rep = RedactReport(str(source), str(out), str(aud))
    counts: Counter[str] = Counter()
    with plan.writing():
        fo, fa = plan.open("output", "wb"), plan.open("audit")
        for line, raw in iter_raw_lines(src):
            if line == 1:
                refuse_utf16(src, raw)
            rep.n_read += 1
            changes: list[dict[str, Any]] = []
            text = raw.decode("utf-8", "surrogateescape")
            where = {"file": str(source), "line": line}
            try:
                record = json.loads(text) if text.strip() else None
                parsed = text.strip() != ""
                if parsed:
                    new = red.walk(record, "", None, where, changes)
                    line_out = json.dumps(new, ensure_ascii=False) if changes else text
            except (json.JSONDecodeError, RecursionError):  # deep nesting: as raw text
                parsed = False
                changes = []
            if not parsed:
                if text.strip():
                    rep.n_unparsed += 1
                line_out = red.redact_text(text, None, {**where, "field": "<raw line>"}, changes)
            # unchanged lines are copied byte for byte (invalid UTF-8 included)
            fo.write(raw if not changes else line_out.encode("utf-8", "surrogateescape"))
            fo.write(b"\n")
            rep.n_written += 1
            if changes:
                rep.n_changed_records += 1
                for c in changes:
                    counts[c["code"]] += 1
                    fa.write(json.dumps(c, ensure_ascii=False) + "\n")
        if not rep.n_read:
            raise InputError(f"{source}: file is empty: nothing to redact")
        plan.commit()
    rep.by_code = dict(sorted(counts.items()))
    return rep


# ``curate.redact(...)`` is the library function (curate.api) even once this module is imported
from curate.stage import callable_module  # noqa: E402

callable_module(__name__)
