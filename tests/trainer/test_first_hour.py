"""Issue 22: a local-folder --tokenizer is never sent to the hub (item 6), and a
--tokenizer run prints no transformers "PyTorch was not found" advice (item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.records import CurateError
from curate.trainer import load_tokenizer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "spec",
    ["./Qwen2.5-0.5B-Instruct", "../Qwen2.5-0.5B-Instruct", "models/qwen/", "a/b/c", "~/qwen"],
)
def test_a_missing_local_folder_is_not_sent_to_the_hub(spec: str) -> None:
    with pytest.raises(CurateError) as e:
        load_tokenizer(spec)
    msg = str(e.value)
    assert "hf download" not in msg
    assert msg.startswith(f"--tokenizer {spec}: no such folder (")
    assert os.path.abspath(os.path.expanduser(spec)) in msg  # where it looked


def test_a_hub_name_not_in_the_cache_still_says_how_to_fetch_it() -> None:
    with pytest.raises(CurateError, match=r"`hf download Nobody/NoSuchModel-0\.1B --include"):
        load_tokenizer("Nobody/NoSuchModel-0.1B")


def test_tokenizer_run_prints_no_pytorch_advice(tok_dirs: dict[str, Path]) -> None:
    pytest.importorskip("transformers")
    if __import__("importlib").util.find_spec("torch") is not None:
        pytest.skip("PyTorch is installed: transformers has no advice to print")
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMERS_NO_ADVISORY_WARNINGS"}
    chat = ROOT / "fixtures" / "trainer" / "chat.jsonl"
    cmd = [sys.executable, "-c", "from curate.cli import main; main()", "validate", str(chat)]
    args = [*cmd, "--no-content", "--max-length", "16", "--tokenizer", str(tok_dirs["chatml"])]
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "truncated_by_trainer" in done.stdout  # transformers loaded and rendered
    assert "PyTorch" not in done.stderr + done.stdout
