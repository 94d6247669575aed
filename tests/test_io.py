from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.io import atomic_write, iter_raw_lines, parse_line, read_jsonl, write_jsonl
from curate.records import Example, Finding, InputError


def codes(path: Path) -> list[tuple[str, int | None]]:
    return [
        (r.code, r.location.line) if isinstance(r, Finding) else ("example", r.source.line)
        for r in read_jsonl(path)
    ]


def test_bom_is_stripped_and_reported(fixtures: Path) -> None:
    assert codes(fixtures / "openai/bom.jsonl") == [("bom", 1), ("example", 1), ("example", 2)]


def test_crlf_lines_parse(fixtures: Path) -> None:
    assert codes(fixtures / "openai/crlf.jsonl") == [("example", 1), ("example", 2), ("example", 3)]
    assert all(raw.endswith(b"}") for _, raw in iter_raw_lines(fixtures / "openai/crlf.jsonl"))


def test_blank_lines_are_findings_not_examples(fixtures: Path) -> None:
    assert codes(fixtures / "openai/blank_lines.jsonl") == [
        ("example", 1),
        ("empty_line", 2),
        ("example", 3),
        ("empty_line", 4),
    ]


def test_invalid_json_names_line_and_column(fixtures: Path) -> None:
    out = list(read_jsonl(fixtures / "openai/invalid_json.jsonl"))
    bad = [r for r in out if isinstance(r, Finding)]
    assert [(f.code, f.location.line) for f in bad] == [("invalid_json", 2)]
    assert bad[0].message.startswith("invalid JSON at column 48: Expecting ',' delimiter")
    assert [r.source.line for r in out if isinstance(r, Example)] == [1, 3]


def test_non_utf8_bytes_are_reported_with_the_byte(fixtures: Path) -> None:
    out = list(read_jsonl(fixtures / "openai/latin1.jsonl"))
    f = [r for r in out if isinstance(r, Finding)]
    assert [(x.code, x.location.line) for x in f] == [("invalid_encoding", 2)]
    assert "byte 0xe9" in f[0].message


def test_empty_file_is_one_finding(fixtures: Path) -> None:
    assert codes(fixtures / "openai/empty.jsonl") == [("empty_file", None)]


def test_last_line_without_newline(fixtures: Path) -> None:
    assert codes(fixtures / "openai/no_trailing_newline.jsonl") == [("example", 1), ("example", 2)]


def test_huge_line_streams(tmp_path: Path) -> None:
    p = tmp_path / "huge.jsonl"
    text = "x" * 5_000_000
    p.write_text('{"messages": [{"role": "user", "content": "' + text + '"}]}\n')
    (ex,) = list(read_jsonl(p))
    assert isinstance(ex, Example) and len(ex.messages[0]["content"]) == 5_000_000  # type: ignore[index]


def test_deeply_nested_json_is_a_finding(tmp_path: Path) -> None:
    p = tmp_path / "deep.jsonl"
    p.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    (f,) = list(read_jsonl(p))
    assert isinstance(f, Finding) and f.code == "invalid_json"


def test_missing_file_and_directory_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(read_jsonl(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match="is a directory"):
        list(read_jsonl(tmp_path))


def test_gzip_is_read_transparently(tmp_path: Path, fixtures: Path) -> None:
    p = tmp_path / "good.jsonl.gz"
    p.write_bytes(gzip.compress((fixtures / "openai/good.jsonl").read_bytes()))
    assert len([r for r in read_jsonl(p) if isinstance(r, Example)]) == 4


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"a": 1}])
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("partial")
        raise RuntimeError("interrupted")
    assert target.read_text() == '{"a":1}\n'
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_atomic_write_gives_the_usual_file_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_jsonl(tmp_path / "out.jsonl", [{"a": 1}])
    finally:
        os.umask(old)
    assert (tmp_path / "out.jsonl").stat().st_mode & 0o777 == 0o644


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=15,
)


@settings(max_examples=400, suppress_health_check=list(HealthCheck), deadline=None)
@given(JSON_VALUES, st.booleans())
def test_parse_line_gives_what_json_loads_gives(value: object, ascii_only: bool) -> None:
    # the orjson fast path must never change a value: NaN, infinities, integers beyond
    # 64 bits and lone surrogates included (they go the json.loads way)
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    parsed = parse_line("f.jsonl", 1, raw)
    try:
        expected = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        assert isinstance(parsed, Finding) and parsed.code == "invalid_encoding"
        return
    assert isinstance(parsed, Example)
    assert repr(parsed.data) == repr(expected)
    assert type(parsed.data) is type(expected)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"n": -9223372036854775809}',
        b'{"n": 18446744073709551616}',
        b'{"n": 1e400, "m": NaN, "i": -Infinity}',
        b"[" * 500 + b"]" * 500,
    ],
)
def test_values_orjson_reads_differently_are_read_as_json_does(raw: bytes) -> None:
    parsed = parse_line("f.jsonl", 1, raw)
    assert isinstance(parsed, Example)
    assert repr(parsed.data) == repr(json.loads(raw))


def test_a_lone_surrogate_is_a_finding_for_its_line_not_a_crash() -> None:
    parsed = parse_line("f.jsonl", 4, b'{"s": "\\ud800", "ok": "\\ud83d\\ude00"}')
    assert isinstance(parsed, Finding) and parsed.code == "invalid_unicode"
    assert str(parsed.location) == "f.jsonl:4"
    ok = parse_line("f.jsonl", 5, b'{"ok": "\\ud83d\\ude00"}')  # a valid pair is one emoji
    assert isinstance(ok, Example) and ok.data == {"ok": "\U0001f600"}


# -- standard input ------------------------------------------------------------------------


CLI = "from curate.cli import main; main()"


def _piped(args: list[str], data: bytes, cwd: Path) -> tuple[int, str, str]:
    """``curate ARGS`` in a fresh process with ``data`` on a real pipe as its stdin."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", CLI, *args], input=data, cwd=cwd,
                       capture_output=True, timeout=300)  # fmt: skip
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def _chat(i: int) -> str:
    user = {"role": "user", "content": f"Question {i} about rivers?"}
    return json.dumps({"messages": [user, {"role": "assistant", "content": f"Answer {i}."}]})


def test_stdin_is_an_input_named_dash(tmp_path: Path) -> None:
    """``-`` reads standard input in validate, dedup and split (each reads it more than
    once); findings and rejects name it ``-`` with the line; nothing is left in /tmp."""
    lines = [_chat(i) for i in range(30)] + [_chat(3), "{broken"]
    data = ("\n".join(lines) + "\n").encode()
    code, out, err = _piped(["validate", "-", "--json", "--no-content"], data, tmp_path)
    assert code == 1, err
    report = json.loads(out)
    assert report["n_examples"] == 32  # every line, the unreadable one included
    assert any(f["file"] == "-" and f["line"] == 32 for f in report["findings"]), report

    code, out, err = _piped(["dedup", "-", "-o", "kept.jsonl", "--json"], data, tmp_path)
    assert code == 1, err  # the unreadable line is a finding at the failure level
    s = json.loads(out)
    assert (s["read"], s["kept"], s["removed_exact"], s["removed_invalid"]) == (32, 30, 1, 1)
    assert len((tmp_path / "kept.jsonl").read_text().splitlines()) == 30
    rejects = [json.loads(x) for x in (tmp_path / "kept.rejected.jsonl").read_text().splitlines()]
    assert {(r["source"]["file"], r["source"]["line"]) for r in rejects} == {("-", 31), ("-", 32)}

    code, out, err = _piped(["split", "-", "-o", "splits", "--eval-size", "5", "--json"],
                            data, tmp_path)  # fmt: skip
    assert code in (0, 1), err
    manifest = json.loads((tmp_path / "splits" / "manifest.json").read_text())
    assert manifest["input"]["path"] == "-" and manifest["input"]["bytes"] == len(data)
    assert manifest["counts"]["eval"] == 5
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("curate-stdin-*")]
    assert not [p for p in leftovers if p.stat().st_mtime > (tmp_path.stat().st_mtime - 1)]


def test_stdin_from_a_terminal_or_empty_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = _piped(["validate", "-"], b"", tmp_path)
    assert code in (1, 2) and "Traceback" not in err, err
    import pty
    import subprocess
    import sys

    _, tty = pty.openpty()
    r = subprocess.run([sys.executable, "-c", CLI, "validate", "-"], stdin=tty,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "standard input is a terminal" in r.stderr
