"""Every command against hostile inputs, as a user or a careless script makes them.

For each (command, input) pair: no traceback and no ``internal error``; an input problem
is exit 2 naming the file; a per-line problem is a finding or a reject while the rest is
processed; the inputs (and earlier outputs) are byte-identical afterwards. The shared
guards live in one place (``curate.io``: the reader; ``curate.stage``: the output plan),
so one matrix covers them all.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from curate.cli import main

# -- inputs --------------------------------------------------------------------------------


def rec(i: int, text: str | None = None) -> dict:
    return {
        "messages": [
            {"role": "user", "content": text or f"What is item number {i} in the list?"},
            {"role": "assistant", "content": f"Item {i} is the {i}th entry of the list."},
        ]
    }


def lines(n: int = 12) -> list[str]:
    return [json.dumps(rec(i)) for i in range(n)]


def good_bytes(n: int = 12) -> bytes:
    return ("\n".join(lines(n)) + "\n").encode()


def make(kind: str, d: Path) -> Path:
    """The hostile input named ``kind`` in folder ``d``."""
    if kind == "zst":
        zstandard = pytest.importorskip("zstandard")
        p = d / "in.jsonl.zst"
        p.write_bytes(zstandard.ZstdCompressor().compress(good_bytes()))
    elif kind in ("truncated_gz", "truncated_bz2", "truncated_xz"):
        ext, comp = {
            "truncated_gz": (".gz", gzip.compress),
            "truncated_bz2": (".bz2", bz2.compress),
            "truncated_xz": (".xz", lzma.compress),
        }[kind]
        data = comp(good_bytes(200))
        p = d / f"in.jsonl{ext}"
        p.write_bytes(data[: len(data) // 2])
    elif kind == "corrupt_gz":
        p = d / "in.jsonl.gz"
        p.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    elif kind == "surrogate":
        p = d / "in.jsonl"
        bad = '{"messages": [{"role": "user", "content": "cut \\ud83d"}, '
        bad += '{"role": "assistant", "content": "x"}]}'
        p.write_text("\n".join([*lines(), bad]) + "\n")
    elif kind == "long_line":  # with CURATE_MAX_LINE_BYTES=2000
        p = d / "in.jsonl"
        huge = json.dumps(rec(99, "x" * 5000))
        p.write_text("\n".join([*lines()[:6], huge, *lines()[6:]]) + "\n")
    elif kind == "deep":
        p = d / "in.jsonl"
        p.write_text("\n".join([*lines(), "[" * 50_000 + "]" * 50_000]) + "\n")
    elif kind == "invalid_json":
        p = d / "in.jsonl"
        p.write_text("\n".join([*lines(), '{"messages": [', "not json"]) + "\n")
    elif kind == "nan":
        p = d / "in.jsonl"
        nan = '{"messages": [{"role": "user", "content": "a"}, '
        nan += '{"role": "assistant", "content": "b"}], "score": NaN, "big": 1e400}'
        p.write_text("\n".join([*lines(), nan]) + "\n")
    elif kind == "dup_keys":
        p = d / "in.jsonl"
        dup = '{"messages": [{"role": "user", "content": "a", "content": "b"}, '
        dup += '{"role": "assistant", "content": "c"}]}'
        p.write_text("\n".join([*lines(), dup]) + "\n")
    elif kind == "bom_crlf":
        p = d / "in.jsonl"
        p.write_bytes(b"\xef\xbb\xbf" + good_bytes().replace(b"\n", b"\r\n"))
    elif kind == "latin1":
        p = d / "in.jsonl"
        p.write_bytes(good_bytes() + json.dumps(rec(50, "caf\u00e9")).encode("latin-1") + b"\n")
        p.write_bytes(p.read_bytes().replace(b"caf\\u00e9", "café".encode("latin-1")))
    elif kind == "utf16":
        p = d / "in.jsonl"
        p.write_bytes(good_bytes().decode().encode("utf-16"))
    elif kind == "empty":
        p = d / "in.jsonl"
        p.write_bytes(b"")
    elif kind == "blank":
        p = d / "in.jsonl"
        p.write_text("\n\n   \n")
    elif kind == "array":
        p = d / "in.json"
        p.write_text(
            json.dumps([{"instruction": f"q{i}", "output": f"a{i}"} for i in range(5)], indent=2)
        )
    elif kind == "fifo":
        p = d / "in.jsonl"
        os.mkfifo(p)
    elif kind == "dev_zero":
        return Path("/dev/zero")
    elif kind == "missing":
        return d / "nope.jsonl"
    elif kind == "directory":
        p = d / "folder.jsonl"
        p.mkdir()
    else:  # pragma: no cover
        raise ValueError(kind)
    return p


#: what each input must give: "input_error" (exit 2 naming the file), "ok" (processed;
#: exit 0 or 1 for findings), "per_line" (processed, the bad line reported)
EXPECT = {
    "zst": "ok",
    "truncated_gz": "input_error",
    "truncated_bz2": "input_error",
    "truncated_xz": "input_error",
    "corrupt_gz": "input_error",
    "surrogate": "per_line",
    "long_line": "per_line",
    "deep": "per_line",
    "invalid_json": "per_line",
    "nan": "ok",
    "dup_keys": "ok",
    "bom_crlf": "ok",
    "latin1": "per_line",
    "utf16": "input_error",
    "empty": "not_ok",
    "blank": "not_ok",
    "array": "input_error",
    "fifo": "input_error",
    "dev_zero": "input_error",
    "missing": "input_error",
    "directory": "input_error",
}

# -- commands ------------------------------------------------------------------------------

Command = Callable[[Path, Path], list[str]]
COMMANDS: dict[str, Command] = {
    "validate": lambda src, out: ["validate", str(src), "--no-content"],
    "ingest": lambda src, out: ["ingest", str(src), "-o", str(out / "o.jsonl")],
    "dedup": lambda src, out: ["dedup", str(src), "-o", str(out / "o.jsonl")],
    "split": lambda src, out: ["split", str(src), "-o", str(out / "split"), "--eval-size", "2"],
    "redact": lambda src, out: ["redact", str(src), "-o", str(out / "r.jsonl")],
    "report": lambda src, out: ["report", str(src), "-o", str(out / "r.html")],
}

#: ingest reads JSON arrays (its job); redact copies any line through as text (blank
#: lines included)
ACCEPTS = {("ingest", "array"), ("redact", "array"), ("redact", "blank")}


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_fifo() and not p.is_symlink()
    }


@pytest.mark.parametrize("kind", sorted(EXPECT))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_input(
    command: str,
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CURATE_MAX_LINE_BYTES", "2000")
    monkeypatch.chdir(tmp_path)
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    out_dir = tmp_path / "out"
    src = make(kind, src_dir)
    before = snapshot(src_dir)
    code, out, err = run(capsys, COMMANDS[command](src, out_dir))
    text = out + err
    assert "Traceback" not in text and "internal error" not in text, text
    assert snapshot(src_dir) == before, "an input changed"
    expect = "ok" if (command, kind) in ACCEPTS else EXPECT[kind]
    if expect == "input_error":
        assert code == 2, text
        assert src.name in err, err
        assert not out_dir.exists() or not any(out_dir.rglob("*.jsonl")), "wrote output"
    elif expect == "not_ok":
        assert code in (1, 2), text
    else:
        assert code in (0, 1), text
        if expect == "per_line" and command in ("ingest", "split", "dedup"):
            assert out_dir.exists(), "the good lines were not written"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_that_is_the_input_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "data.jsonl"
    src.write_bytes(good_bytes())
    args = COMMANDS[command](src, tmp_path)
    if command == "validate":
        pytest.skip("validate writes no data file")
    if command == "split":  # a folder holding the input under an output's name
        src = tmp_path / "train.jsonl"
        src.write_bytes(good_bytes())
        args = ["split", str(src), "-o", str(tmp_path), "--eval-size", "2"]
    else:
        args[args.index("-o") + 1] = str(src)
    before = snapshot(tmp_path)
    code, out, err = run(capsys, args)
    assert code == 2, out + err
    assert "is also an input" in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["ingest", "dedup", "split", "redact", "report"])
def test_a_refused_run_leaves_no_new_folder(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An input with nothing usable is refused (exit 2) or gives empty outputs; a refused
    run must not leave the output's folders behind, created and empty."""
    src = tmp_path / "data.jsonl"
    src.write_bytes(good_bytes(1))  # one example: too few to split
    out = tmp_path / "new" / "deeper"
    code, stdout, err = run(capsys, COMMANDS[command](src, out))
    if code == 2:
        assert not (tmp_path / "new").exists(), err
    else:
        assert code in (0, 1), stdout + err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["ingest", "dedup", "split", "redact", "report"])
def test_an_unwritable_output_is_a_clear_error(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "data.jsonl"
    src.write_bytes(good_bytes())
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, out, err = run(capsys, COMMANDS[command](src, blocker))  # afile/<output>
    assert code == 2, out + err
    assert "afile" in err and "cannot write" in err
    assert "Traceback" not in err and "internal error" not in err


def test_dedup_outputs_may_not_be_the_input_or_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "a.jsonl"
    src.write_bytes(good_bytes(20))
    before = src.read_bytes()
    for flag in ("--clusters", "--rejects", "-o"):
        code, _, err = run(capsys, ["dedup", str(src), flag, str(src)])
        assert code == 2 and "is also an input" in err, err
        assert src.read_bytes() == before
    x = tmp_path / "x.jsonl"
    code, _, err = run(capsys, ["dedup", str(src), "-o", str(x), "--rejects", str(x)])
    assert code == 2 and "given for both" in err
    assert not x.exists()


def test_an_against_file_that_is_an_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same file (or a link to it) as an input and an --against file would remove
    every example as contaminated: exit 2 before anything is read or written."""
    src = tmp_path / "a.jsonl"
    src.write_bytes(good_bytes(20))
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    for ref in (src, link):
        before = snapshot(tmp_path)
        code, out, err = run(capsys, ["dedup", str(src), "-o", str(tmp_path / "o.jsonl"),
                                      "--against", str(ref)])  # fmt: skip
        assert code == 2, out + err
        assert "is both an input and an --against file" in err
        assert snapshot(tmp_path) == before


def test_ingest_writes_strict_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orjson = pytest.importorskip("orjson")
    src = make("nan", tmp_path)
    out = tmp_path / "o.jsonl"
    code, _, _ = run(capsys, ["ingest", str(src), "-o", str(out)])
    assert code == 1  # one record rejected
    for line in out.read_bytes().splitlines():
        orjson.loads(line)  # strict: no NaN, no Infinity
    rejects = [json.loads(x) for x in (tmp_path / "o.rejected.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rejects] == ["non_finite_number"]
    assert rejects[0]["record"]["score"] == "NaN"
    for line in (tmp_path / "o.rejected.jsonl").read_bytes().splitlines():
        orjson.loads(line)


def test_accounting_balances_with_per_line_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """read = kept + rejected (+ deduplicated), every bad line is in the rejects file."""
    monkeypatch.setenv("CURATE_MAX_LINE_BYTES", "2000")
    p = tmp_path / "in.jsonl"
    bad_surrogate = '{"messages": [{"role": "user", "content": "\\udc00"}]}'
    p.write_text(
        "\n".join([*lines()[:6], json.dumps(rec(99, "x" * 5000)), bad_surrogate, *lines()[6:]])
        + "\n"
    )
    out = tmp_path / "o.jsonl"
    _, stdout, _ = run(capsys, ["ingest", str(p), "-o", str(out), "--json"])
    rep = json.loads(stdout)
    assert rep["read"] == 14 and rep["written"] == 12 and rep["rejected"] == 2
    rejected = [json.loads(x) for x in (tmp_path / "o.rejected.jsonl").read_text().splitlines()]
    assert sorted((r["source"]["line"], r["reason"]) for r in rejected) == [
        (7, "line_too_long"),
        (8, "invalid_unicode"),
    ]
    assert set(rejected[0]) >= {"source", "reason", "message", "record"}


# -- interrupted runs ----------------------------------------------------------------------


def _big_input(d: Path, n: int = 300_000) -> Path:
    p = d / "big.jsonl"
    with open(p, "w") as f:
        for i in range(n):
            f.write(json.dumps(rec(i)) + "\n")
    return p


def _curate(*args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", "from curate.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,  # type: ignore[arg-type]
    )


def _wait_for_temp(folder: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(".curate-" in p.name for p in folder.rglob("*")):
            return
        time.sleep(0.05)
    raise AssertionError("the command never started writing")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_leaves_no_temporary_file_and_the_old_output(
    tmp_path: Path, sig: signal.Signals
) -> None:
    src = _big_input(tmp_path)
    out = tmp_path / "out.jsonl"
    out.write_text("old output\n")
    proc = _curate("ingest", str(src), "-o", str(out), start_new_session=True)
    _wait_for_temp(tmp_path)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: no output was replaced" in err
    assert "Traceback" not in err
    assert out.read_text() == "old output\n"
    assert not [p for p in tmp_path.iterdir() if ".curate-" in p.name]


@pytest.mark.slow
def test_a_killed_run_leaves_its_temporaries_to_the_next_run(tmp_path: Path) -> None:
    src = _big_input(tmp_path)
    out = tmp_path / "out.jsonl"
    proc = _curate("ingest", str(src), "-o", str(out))
    _wait_for_temp(tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    left = [p for p in tmp_path.iterdir() if ".curate-" in p.name]
    assert left and not out.exists()  # SIGKILL cannot be handled: a temporary remains
    small = tmp_path / "small.jsonl"
    small.write_bytes(good_bytes())
    from curate.ingest import ingest_paths

    ingest_paths([small], out)  # the next run writing the same output removes it
    assert not [p for p in tmp_path.iterdir() if ".curate-" in p.name]


@pytest.mark.slow
def test_sigint_during_dedup_prints_no_worker_traceback(tmp_path: Path) -> None:
    src = _big_input(tmp_path, 200_000)
    proc = _curate("dedup", str(src), "-o", str(tmp_path / "o.jsonl"), start_new_session=True)
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not (tmp_path / "o.jsonl").exists()


def test_data_docs_in_a_folder_that_cannot_exist_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fixtures: Path
) -> None:
    pytest.importorskip("great_expectations")
    suite = fixtures / "expectations" / "suite.json"
    if not suite.exists():
        suite = tmp_path / "suite.json"
        code, _, _ = run(
            capsys, ["profile", str(fixtures / "expectations/clean.jsonl"), "-o", str(suite)]
        )
        assert code == 0
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    args = ["validate", str(fixtures / "expectations/clean.jsonl"), "--no-content"]
    code, out, err = run(capsys, [*args, "--expectations", str(suite), "--data-docs",
                                  str(blocker / "docs")])  # fmt: skip
    assert code == 2 and "afile/docs: cannot write" in err
    assert "Traceback" not in out + err


def test_pyproject_sections_set_the_commands_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """[tool.curate.<command>] is read by its command (the command line wins); a value of
    the wrong type or a section no command reads is an error naming it."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "a.jsonl"
    src.write_bytes(good_bytes(20))
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.curate.dedup]\nkeep = "first"\nthreshold = 0.5\n')
    _, out, _ = run(capsys, ["dedup", str(src), "--json"])
    assert (json.loads(out)["keep"], json.loads(out)["threshold"]) == ("first", 0.5)
    _, out, _ = run(capsys, ["dedup", str(src), "--json", "--threshold", "0.9"])
    assert json.loads(out)["threshold"] == 0.9
    cfg.write_text("[tool.curate.split]\neval_size = 3\n")
    _, out, _ = run(capsys, ["split", str(src), "-o", str(tmp_path / "s"), "--json"])
    assert json.loads(out)["counts"]["eval"] == 3
    for text, message in [
        ('[tool.curate]\nmax_tokens = "big"\n', "max_tokens: expected a whole number >= 1"),
        ("[tool.curate.report]\nx = 1\n", "unknown key(s) in [tool.curate]: report"),
        ('[tool.curate.dedup]\nnear = "false"\n', "[tool.curate.dedup] near: expected true"),
    ]:
        cfg.write_text(text)
        code, _, err = run(capsys, ["validate", str(src)])
        assert code == 2 and message in err, err
