"""curate: prepare fine-tuning data for LLMs (ingest, validate, dedup, review, split).

The library API (:mod:`curate.api`): ``curate.ingest``, ``curate.validate``,
``curate.dedup``, ``curate.split``, ``curate.redact``, ``curate.report`` and
``curate.profile``, with the CLI's option names, each returning a
:class:`curate.stage.StageResult`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from curate.api import dedup as dedup
    from curate.api import ingest as ingest
    from curate.api import profile as profile
    from curate.api import redact as redact
    from curate.api import report as report
    from curate.api import split as split
    from curate.api import validate as validate
    from curate.validate import validate_path as validate_path

API = ("dedup", "ingest", "profile", "redact", "report", "split", "validate")

__all__ = ["__version__", "validate_path", *API]


def __getattr__(name: str) -> Any:
    # lazy: importing curate must stay cheap (the pre-commit hook and the CLI start fast)
    if name == "validate_path":
        from curate.validate import validate_path

        return validate_path
    if name in API:
        import importlib

        return getattr(importlib.import_module("curate.api"), name)
    raise AttributeError(name)
