"""Meta-tests: the README's commands are the ones CI runs, and the docs stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


# -- issue 22, item 2: the repository carries everything its tests, benches and docs use -----

#: files owned elsewhere that still read the shared samples (remove once they read fixtures/)
READS_OUTSIDE_PENDING = {"bench/dedup.py", "bench/content.py"}


def test_public_samples_in_fixtures_match_their_sources() -> None:
    import hashlib

    sources = (ROOT / "fixtures/SOURCES.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", sources, re.M)
    assert len(rows) >= 5
    listed = {name for name, _ in rows}
    on_disk = {p.name for p in (ROOT / "fixtures/samples").iterdir()}
    # every copied file is listed with its source and licence; the rest is ours and named
    assert on_disk - listed == {"trl_preference_zh.jsonl"}
    assert "trl_preference_zh.jsonl" in sources
    for name, digest in rows:
        data = (ROOT / "fixtures/samples" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert re.search(rf"`{re.escape(name)}` \| \S+/\S+ `[^`]+` \| [^|]*(Apache|MIT)", sources)


def test_no_test_bench_or_doc_reads_outside_the_repository() -> None:
    outside = re.compile(r"ROOT\.parent\b|\.\./shared|shared/samples|/work/")
    files = [
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "bench").glob("*.py"),
        *(ROOT / "docs").glob("*.md"),
        ROOT / "README.md",
        *(ROOT / "fixtures").rglob("*.py"),
    ]
    offenders = []
    for f in files:
        rel = f.relative_to(ROOT).as_posix()
        if rel in READS_OUTSIDE_PENDING or rel == "tests/test_docs.py":
            continue
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            # parents[k] of a file k or more folders deep is above the repository
            depth = len(f.relative_to(ROOT).parts)
            above = any(int(k) >= depth for k in re.findall(r"parents\[(\d+)\]", line))
            if outside.search(line) or above:
                offenders.append(f"{rel}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# -- issue 22 (done-when): README commands on a core install -------------------------------


def readme_blocks() -> list[tuple[int, list[str], str]]:
    """``(line, commands, block)`` for each README ```bash block with ``curate`` commands
    that run on the repository's fixtures alone (no server, no folder built beforehand)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.finditer(r"^```bash\n(.*?)^```", text, re.S | re.M):
        body = block.group(1)
        cmds = []
        for line in body.splitlines():
            for part in line.split("  #", 1)[0].split("&&"):
                cmd = part.strip()
                if not cmd.startswith("curate ") or "fixtures/" not in cmd:
                    continue
                if cmd.startswith("curate review") or "/tmp/" in cmd or "mistral:" in cmd:
                    continue  # a server, a folder an earlier line builds, the trainer extra
                cmds.append(cmd)
        if cmds:
            out.append((text[: block.start()].count("\n") + 1, cmds, body))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("line", "commands", "block"), readme_blocks())
def test_readme_commands_run_on_a_core_install_or_name_their_extra(
    line: int, commands: list[str], block: str, tmp_path: Path
) -> None:
    """Done-when of issue 22: after ``pip install .`` every README command runs, or its
    block installs the extra it needs in the same place. The commands of a block run in
    order, in a scratch folder with a copy of fixtures/."""
    import shlex
    import shutil

    from tests.test_core_install import run_core

    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    for command in commands:
        done = run_core(shlex.split(command)[1:], tmp_path)
        said = " ".join((done.stdout + done.stderr).split())
        if done.returncode in (0, 1):
            assert "Traceback" not in said
            continue
        needs = re.search(r"pip install '(?:curate|\.)\[(\w+)\]'", said)
        assert needs, f"README.md:{line}: `{command}` exited {done.returncode}: {said[-600:]}"
        assert re.search(rf"pip install .*\[[\w,]*{needs.group(1)}", block), (
            f"README.md:{line}: `{command}` needs the [{needs.group(1)}] extra; its block does "
            "not install it"
        )
        continue
