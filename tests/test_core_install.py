"""A plain ``pip install .`` runs the core commands (issue 22, item 1).

The test environment has every extra installed, so each command runs in a fresh interpreter
where only the modules a core install provides can be imported: the standard library, curate
and the distributions ``[project] dependencies`` pulls in (read from pyproject.toml, then
their own requirements from the installed metadata). Anything else raises
ModuleNotFoundError exactly as it would after ``pip install .``.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def core_modules() -> set[str]:
    """Top-level import names a core install provides (curate's non-extra requirements)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [m.group(1) for d in deps if (m := _NAME.match(d))]
    seen: set[str] = set()
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r.replace('extra=="', 'extra == "'):
                continue
            if m := _NAME.match(r):
                todo.append(m.group(1))
    mods = {"curate"}
    for mod, dists in md.packages_distributions().items():
        if any(_norm(d) in seen for d in dists):
            mods.add(mod)
    return mods


BLOCKER = """
import sys
ALLOWED = set({allowed!r})
class _CoreOnly:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in ALLOWED or top in sys.stdlib_module_names or top.startswith("_"):
            return None
        raise ModuleNotFoundError(f"No module named {{top!r}} (not in a core install)", name=top)
sys.meta_path.insert(0, _CoreOnly())
from curate.cli import main
sys.argv = ["curate", *sys.argv[1:]]
main()
"""


def run_core(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = BLOCKER.format(allowed=sorted(core_modules()))
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_core_closure_has_no_extra() -> None:
    mods = core_modules()
    assert {"numpy", "scipy", "tiktoken", "typer", "rich"} <= mods
    assert not {"sklearn", "datasets", "great_expectations", "argilla", "transformers"} & mods


@pytest.mark.slow
def test_split_and_run_work_with_core_dependencies_only(tmp_path: Path) -> None:
    p = run_core(
        ["split", str(FIXTURES / "split/chat.jsonl"), "-o", str(tmp_path / "out")], tmp_path
    )
    assert p.returncode == 0, p.stderr
    assert "pip install" not in p.stderr
    assert (tmp_path / "out/train.jsonl").stat().st_size > 0

    shutil.copytree(FIXTURES / "run", tmp_path / "run")
    p = run_core(["run", str(tmp_path / "run/curate.toml")], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok split" in p.stdout
    assert "pip install" not in p.stdout + p.stderr


def test_sklearn_method_without_scikit_learn_names_the_extra(tmp_path: Path) -> None:
    p = run_core(
        [
            "split",
            str(FIXTURES / "split/chat.jsonl"),
            "-o",
            str(tmp_path / "out"),
            "--method",
            "sklearn",
        ],
        tmp_path,
    )
    assert p.returncode == 2, p.stderr
    assert "pip install 'curate[split]'" in p.stderr
    assert "Traceback" not in p.stderr
