"""Imports every built-in format module so that each registers itself."""

from curate.ingest import (  # noqa: F401
    alpaca,
    columns,
    dolly,
    llamafactory,
    openai,
    openai_dpo,
    preference,
    prompt_completion,
    sharegpt,
    text,
)
