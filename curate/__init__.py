"""curate: prepare fine-tuning data for LLMs (ingest, validate, dedup, review, split)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from curate.validate import validate_path as validate_path

__all__ = ["__version__", "validate_path"]


def __getattr__(name: str) -> Any:
    # lazy: importing curate must stay cheap (the pre-commit hook and the CLI start fast)
    if name == "validate_path":
        from curate.validate import validate_path

        return validate_path
    raise AttributeError(name)
