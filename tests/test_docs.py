"""Meta-tests: the README's commands are the ones CI runs, and the docs stay true."""

from __future__ import annotations

import os
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
READS_OUTSIDE_PENDING: set[str] = set()


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


# -- issue 22, item 9: every console example in README.md and docs/*.md is true ---------------

DOC_FILES = [
    "README.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
]
#: an output line of ``(exit N)`` in a console block: the status the command ends with (else 0)
EXIT_LINE = re.compile(r"^\(exit (\d+)\)$")
#: timings and sizes that change from run to run
_VOLATILE = [
    (re.compile(r"\b\d+(\.\d+)? ?(s|ms|µs|seconds)\b"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)? ?(MB|GB|KB|kB|B)\b"), "<size>"),
]


def console_examples() -> list[tuple[str, int, list[tuple[int, str, list[str], int]]]]:
    """``(file, line, commands)`` for every ```` ```console ```` block of README.md and
    docs/*.md; each command is ``(line, command, expected output lines, exit status)``."""
    out = []
    for name in DOC_FILES:
        text = (ROOT / name).read_text(encoding="utf-8")
        for block in re.finditer(r"^```console\n(.*?)^```", text, re.S | re.M):
            first = text[: block.start()].count("\n") + 2
            cmds: list[tuple[int, str, list[str], int]] = []
            cmd: tuple[int, str] | None = None
            lines: list[str] = []
            for i, line in enumerate(block.group(1).splitlines()):
                if line.startswith("$ "):
                    if cmd is not None:
                        cmds.append((*cmd, *_expected(lines)))
                    cmd, lines = (first + i, line[2:]), []
                elif cmd is not None:
                    lines.append(line)
            if cmd is not None:
                cmds.append((*cmd, *_expected(lines)))
            out.append((name, first - 1, cmds))
    return out


def _expected(lines: list[str]) -> tuple[list[str], int]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    status = 0
    if lines and (m := EXIT_LINE.match(lines[-1].strip())):
        status, lines = int(m.group(1)), lines[:-1]
    return lines, status


def normalise(text: str, workdir: Path) -> list[str]:
    text = text.replace(str(workdir) + os.sep, "").replace(str(workdir), ".")
    text = text.replace(str(ROOT) + os.sep, "")
    for rx, sub in _VOLATILE:
        text = rx.sub(sub, text)
    lines = [ln.rstrip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(expected: list[str], got: list[str]) -> bool:
    """Line by line; a line ``...`` in the docs stands for any number of lines."""
    if not expected:
        return not got
    if expected[0].strip() == "...":
        return any(matches(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and matches(expected[1:], got[1:])


EXAMPLES = console_examples()


def test_output_comparison_normalises_paths_and_timings_and_reads_ellipses(
    tmp_path: Path,
) -> None:
    out = f"wrote {tmp_path}/out/a.jsonl in 1.25 s (12.5 MB)\nx  \ny\nz\n\n"
    got = normalise(out, tmp_path)
    assert got == ["wrote out/a.jsonl in <time> (<size>)", "x", "y", "z"]
    assert matches(["wrote out/a.jsonl in <time> (<size>)", "...", "z"], got)
    assert matches(["...", "z"], got) and matches(["..."], [])
    assert not matches(["wrote out/a.jsonl in <time> (<size>)", "z"], got)
    assert _expected(["a", "(exit 1)", ""]) == (["a"], 1)


def test_docs_have_console_examples() -> None:
    assert sum(len(cmds) for *_, cmds in EXAMPLES) >= 9
    assert {f for f, *_ in EXAMPLES} >= {"README.md", "docs/ingest.md", "docs/split.md"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("doc", "line", "commands"), EXAMPLES, ids=[f"{f}:{n}" for f, n, _ in EXAMPLES]
)
def test_console_examples_print_what_the_docs_show(
    doc: str, line: int, commands: list[tuple[int, str, list[str], int]], tmp_path: Path
) -> None:
    """Each block's commands run in order in a scratch folder holding a copy of fixtures/
    (examples write there, never in the repository); output is stdout and stderr as a
    terminal shows them, with the scratch path, timings and sizes normalised."""
    import shlex
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("FORCE_COLOR", None)
    problems = []
    for at, command, expected, status in commands:
        args = shlex.split(command)
        assert args[0] == "curate", f"{doc}:{at}: console examples run curate commands"
        done = subprocess.run(
            [sys.executable, "-c", "from curate.cli import main; main()", *args[1:]],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            timeout=600,
        )
        got = normalise(done.stdout, tmp_path)
        if done.returncode != status or not matches([ln.rstrip() for ln in expected], got):
            problems.append(
                f"{doc}:{at}: `{command}` exited {done.returncode} (docs: {status}) and "
                "printed:\n" + "\n".join(got) + "\n\nthe docs show:\n" + "\n".join(expected)
            )
    assert not problems, "\n\n".join(problems)


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
