"""Command-line options several ``curate`` commands share, declared once.

Each is an ``Annotated`` type for a typer parameter; the default stays with the command
(``max_tokens: MaxTokens = None``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

#: ``--max-tokens``: per-example token limit (``None``: the model's)
MaxTokens = Annotated[
    int | None, typer.Option(help="Per-example token limit [default: the model's].", min=1)
]
#: ``--epochs``: training epochs (``None``: OpenAI's rule from the number of examples)
Epochs = Annotated[
    int | None, typer.Option(help="Training epochs [default: OpenAI's rule].", min=1)
]
#: ``--workers``: processes for large inputs (``None``: all cores)
Workers = Annotated[
    int | None, typer.Option(help="Processes for large inputs [default: all cores].", min=1)
]
#: ``--json``: one JSON object on stdout instead of the human output
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def with_config(ctx: typer.Context, section: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (parameter name -> the command line's value) with the keys of
    ``[tool.curate.<section>]`` (checked by :mod:`curate.settings`) used for every
    option the user did not give: the command line wins over the file, the file over
    the built-in default."""
    from curate.config import load_config

    section_values = load_config().get(section, {})
    out = dict(values)
    for key, value in section_values.items():
        if key not in out:
            continue
        source = ctx.get_parameter_source(key)
        given = out[key] not in (None, [], {}) if source is None else source.name == "COMMANDLINE"
        if not given:
            out[key] = value
    return out
