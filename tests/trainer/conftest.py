"""Real tokenizers for the trainer tests: small byte-level BPE tokenizers trained here
with the ``tokenizers`` library and saved with real chat templates
(fixtures/trainer/build_tokenizers.py), plus the Mistral tokenizers mistral-common ships."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")  # "PyTorch was not found"

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "fixtures" / "trainer" / "build_tokenizers.py"

pytest.importorskip("transformers")
pytest.importorskip("mistral_common")


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_tokenizers", BUILDER)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def tok_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _builder().build_all(tmp_path_factory.mktemp("tokenizers"))


@pytest.fixture(scope="session")
def hf() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def conv(*turns: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns], **extra}
