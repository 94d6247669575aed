"""Meta-tests: the README's commands are the ones CI runs, and the docs stay true."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/test-command.sh").read_text()
    ci_cmd = [ln for ln in ci.splitlines() if ln and not ln.startswith(("#", "set "))][-1].strip()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert ci_cmd in [b.strip() for b in blocks], f"README must show the CI test command: {ci_cmd}"
    assert (ROOT / ".ci/run").read_text().count("test-command.sh") >= 1


def test_readme_setup_has_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"```bash\n", setup)) == 2


def test_changelog_has_unreleased_section() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_validators_do_not_install_as_bare_validators() -> None:
    import importlib.util

    spec = importlib.util.find_spec("curate.validators.format")
    assert spec is not None and spec.origin is not None
    assert spec.origin.endswith("validators/format.py")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"curate.validators" = "validators"' in pyproject
