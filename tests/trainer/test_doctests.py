"""The docstring examples of curate.trainer run (pytest only collects tests/)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    ["curate.trainer.backends", "curate.trainer.lengths", "curate.trainer.view"],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
