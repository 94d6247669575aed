"""Typed settings: every key of ``[tool.curate]`` (``pyproject.toml``) and of a ``curate
run`` config is checked here, once, against its type and range.

A key of the wrong type (``max_tokens = "big"``, ``enabled = "false"``, ``workdir = 5``)
or an unknown key is a :class:`~curate.records.CurateError` naming the file, the section,
the key and what it takes; the CLI prints it and exits 2. A section is either read by a
command or refused: none is accepted and then ignored.

Example:
    >>> check_table({"max_tokens": 4096, "fail_on": "warning"}, VALIDATE, "[tool.curate]")
    {'max_tokens': 4096, 'fail_on': 'warning'}
    >>> check_table({"max_tokens": "big"}, VALIDATE, "[tool.curate]")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    curate.records.CurateError: [tool.curate] max_tokens: expected a whole number >= 1, got ...
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from curate.records import CurateError, json_type

#: a setting's check: the value in, the value to use out; raises ValueError with what it
#: takes
Check = Callable[[Any], Any]


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{json_type(value)} {value!r}"


def integer(minimum: int | None = None) -> Check:
    what = "a whole number" + (f" >= {minimum}" if minimum is not None else "")

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or (minimum is not None and v < minimum):
            raise ValueError(what)
        return v

    check.__doc__ = what
    return check


def number(minimum: float | None = None, maximum: float | None = None) -> Check:
    what = "a number"
    if minimum is not None and maximum is not None:
        what += f" from {minimum:g} to {maximum:g}"
    elif minimum is not None:
        what += f" >= {minimum:g}"

    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(what)
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise ValueError(what)
        return float(v)

    check.__doc__ = what
    return check


def boolean(v: Any) -> bool:
    """true or false (not a string)"""
    if not isinstance(v, bool):
        raise ValueError("true or false (without quotes)")
    return v


def string(v: Any) -> str:
    """a string"""
    if not isinstance(v, str) or not v:
        raise ValueError("a non-empty string")
    return v


def string_list(v: Any) -> list[str]:
    """a list of strings (one string is a list of one)"""
    if isinstance(v, str) and v:
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ValueError("a list of strings")
    return list(v)


def string_map(v: Any) -> dict[str, str]:
    """a table of strings"""
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise ValueError("a table of strings")
    return dict(v)


def number_map(v: Any) -> dict[str, float]:
    """a table of numbers >= 0"""
    ok = isinstance(v, dict) and all(
        not isinstance(x, bool) and isinstance(x, int | float) and x >= 0 for x in v.values()
    )
    if not ok:
        raise ValueError("a table of numbers >= 0")
    return {k: float(x) for k, x in v.items()}


def choice(*names: str) -> Check:
    what = "one of " + ", ".join(names)

    def check(v: Any) -> str:
        if v not in names:
            raise ValueError(what)
        return str(v)

    check.__doc__ = what
    return check


def table(v: Any) -> dict[str, Any]:
    """a table (checked by the command that reads it)"""
    if not isinstance(v, dict):
        raise ValueError("a table")
    return dict(v)


FAIL_ON = choice("error", "warning", "info", "never")

#: what ``curate validate`` reads at the top of ``[tool.curate]`` and in its
#: ``[tool.curate.validate]`` section
VALIDATE: dict[str, Check] = {
    "model": string,
    "max_tokens": integer(1),
    "epochs": integer(1),
    "price": number(0),
    "prices": number_map,
    "target": choice("curate", "openai"),
    "fail_on": FAIL_ON,
    "workers": integer(1),
    "max_findings": integer(0),
    "duplicates": choice("none", "exact", "near"),
    "near_threshold": number(0, 1),
    "content_checks": boolean,
    "expectations_suite": string,
    "tokenizer": string,
    "max_length": integer(1),
    "engine": choice("local", "ray"),
    "ray_address": string,
}

#: ``[tool.curate.ingest]`` and a run config's ``[ingest]`` (which adds ``inputs``)
INGEST: dict[str, Check] = {
    "format": string,
    "system": string,
    "maps": string_map,
    "split": string,
    "media_dir": string,
}

#: ``[tool.curate.split]`` and a run config's ``[split]`` (which adds ``output``); the
#: values are checked again by :class:`curate.split.SplitOptions`
SPLIT: dict[str, Check] = {
    "eval_fraction": number(0, 1),
    "eval_size": integer(1),
    "seed": integer(),
    "group_by": string,
    "near": boolean,
    "near_threshold": number(0, 1),
    "stratify_by": string,
    "method": choice("hash", "sklearn"),
    "format": string,
    "trl_shape": string,
    "model": string,
    "kind": choice("auto", "sft", "preference"),
    "reasoning": choice("auto", "inline", "drop", "reject"),
    "media": choice("copy", "rewrite", "embed"),
    "workers": integer(1),
    "engine": choice("local", "ray"),
}

#: ``[tool.curate.dedup]`` and a run config's ``[dedup]``
DEDUP: dict[str, Check] = {
    "threshold": number(0, 1),
    "scope": choice("conversation", "user", "assistant"),
    "near": boolean,
    "num_perm": integer(8),
    "shingle": integer(1),
    "seed": integer(),
    "against": string_list,
    "workers": integer(1),
    "keep": choice("longest", "first"),
    "containment": boolean,
    "engine": choice("local", "ray"),
    "reasoning": choice("exclude", "include"),
}

#: ``[tool.curate.review]`` and a run config's ``[review]``
REVIEW: dict[str, Check] = {
    "dataset": string,
    "workspace": string,
    "api_url": string,
    "api_key_env": string,
    "pending": choice("keep", "drop", "fail"),
    "conflicts": choice("majority", "strict"),
    "audit": string,
}

#: the sections of ``[tool.curate]``: each is read by the command of its name
SECTIONS: dict[str, dict[str, Check] | None] = {
    "validate": VALIDATE,
    "ingest": INGEST,
    "split": SPLIT,
    "dedup": DEDUP,
    "review": REVIEW,
    "content": None,  # checked by curate.validators.content (its rule names and options)
}


def check_value(key: str, value: Any, check: Check, where: str) -> Any:
    try:
        return check(value)
    except ValueError as e:
        raise CurateError(f"{where} {key}: expected {e}, got {_describe(value)}") from None


def check_table(
    values: Mapping[str, Any], schema: Mapping[str, Check], where: str
) -> dict[str, Any]:
    """``values`` checked against ``schema`` (key -> check); ``where`` names the table in
    messages (``"pyproject.toml [tool.curate.split]"``)."""
    unknown = sorted(set(values) - set(schema))
    if unknown:
        raise CurateError(
            f"{where}: unknown key(s) {', '.join(unknown)}. Known: {', '.join(sorted(schema))}."
        )
    return {k: check_value(k, v, schema[k], where) for k, v in values.items()}


def check_pyproject(section: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The whole ``[tool.curate]`` table, checked: top-level keys are ``curate
    validate``'s, sub-tables are the commands' sections (:data:`SECTIONS`)."""
    out: dict[str, Any] = {}
    top = {k: v for k, v in section.items() if k not in SECTIONS}
    unknown = sorted(set(top) - set(VALIDATE))
    if unknown:
        raise CurateError(
            f"{where}: unknown key(s) in [tool.curate]: {', '.join(unknown)}. Known: "
            f"{', '.join(sorted(VALIDATE))}, and the sections "
            f"{', '.join(f'[tool.curate.{s}]' for s in SECTIONS)}."
        )
    out.update(check_table(top, VALIDATE, f"{where} [tool.curate]"))
    for name in SECTIONS:
        if name not in section:
            continue
        value = check_value(name, section[name], table, f"{where} [tool.curate]")
        schema = SECTIONS[name]
        out[name] = (
            value if schema is None else check_table(value, schema, f"{where} [tool.curate.{name}]")
        )
    return out
