"""curate redact: masks what the content checks find, never touches the input, audits all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from curate.cli import main
from curate.records import CurateError
from curate.redact import default_audit_path, redact_path
from curate.validate import validate_path
from curate.validators.content import content_validators


def _lines(p: Path) -> list[dict]:
    return [json.loads(ln) for ln in p.read_text(encoding="utf-8").splitlines()]


def test_pii_masked_with_typed_placeholders_and_audited(tmp_path: Path, fixtures: Path) -> None:
    src = fixtures / "content/pii.jsonl"
    before = src.read_bytes()
    out = tmp_path / "pii.jsonl"
    rep = redact_path(src, out)
    assert src.read_bytes() == before
    assert (rep.n_read, rep.n_written, rep.n_changed_records) == (5, 5, 5)
    assert rep.by_code == {
        "pii_credit_card": 1,
        "pii_email": 1,
        "pii_iban": 1,
        "pii_ip_address": 1,
        "pii_phone": 2,
    }
    rows = _lines(out)
    assert rows[0]["messages"][0]["content"] == "Please reply to <EMAIL> about the order"
    assert rows[0]["messages"][1]["content"] == "Sure. I will also copy her manager at <PHONE>."
    assert rows[1]["messages"][1]["content"] == (
        "The card on file is <CREDIT_CARD>, expiring 08/27."
    )
    assert rows[2]["messages"][1]["content"] == "Refund issued to IBAN <IBAN>."
    assert rows[3]["messages"][0]["content"] == "Why is <IP_ADDRESS> blocked?"
    audit = _lines(default_audit_path(out))
    assert len(audit) == 6
    first = audit[0]
    assert first == {
        "file": str(src),
        "line": 1,
        "field": "messages[0].content",
        "code": "pii_email",
        "rule": "email",
        "span": [16, 42],
        "replacement": "<EMAIL>",
        "preview": "m***@outlook.com",
        "sha256": hashlib.sha256(b"maria.gonzalez@outlook.com").hexdigest(),
    }
    assert "maria.gonzalez" not in default_audit_path(out).read_text()


def test_redacted_secrets_no_longer_found_by_validate(tmp_path: Path, fixtures: Path) -> None:
    out = tmp_path / "secrets.jsonl"
    rep = redact_path(fixtures / "content/secrets.jsonl", out)
    assert rep.n_changes == 12
    report = validate_path([str(out)], validators=content_validators())
    codes = {f.code for f in report.findings}
    assert not {c for c in codes if c.startswith(("secret", "pii"))}
    assert "template_placeholder" not in codes  # <SECRET> is not an unfilled template
    text = out.read_text()
    assert "ghp_R8kLm2QzX4vN7bTc1YwP9dHs6FjA3eGu5KoE" not in text
    assert "https://<SECRET>@github.com/acme/app.git" in text
    assert "postgresql://app_admin:<PASSWORD>@db.prod.internal" in text
    assert "<PRIVATE_KEY>" in text and "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u" not in text


def test_allowed_roles_and_rules_off_are_not_redacted(tmp_path: Path, fixtures: Path) -> None:
    out = tmp_path / "pii.jsonl"
    rep = redact_path(
        fixtures / "content/pii.jsonl",
        out,
        config={"pii_allowed_roles": ["user"], "pii_phone": "off"},
    )
    assert rep.by_code == {"pii_credit_card": 1, "pii_iban": 1}
    rows = _lines(out)
    assert "maria.gonzalez@outlook.com" in rows[0]["messages"][0]["content"]  # user turn
    assert "+44 20 7946 0958" in rows[0]["messages"][1]["content"]  # phone rule off


def test_clean_files_copied_byte_for_byte(tmp_path: Path, fixtures: Path) -> None:
    for name in ("secrets_clean", "pii_clean", "text_clean"):
        src = fixtures / f"content/{name}.jsonl"
        out = tmp_path / f"{name}.jsonl"
        rep = redact_path(src, out)
        assert rep.n_changes == 0, name
        assert out.read_bytes() == src.read_bytes()
        assert default_audit_path(out).read_text() == ""


def test_nasty_lines_are_kept_and_counted(tmp_path: Path) -> None:
    src = tmp_path / "nasty.jsonl"
    src.write_bytes(
        b'{"messages": [{"role": "user", "content": "call +1 212 867 5309"}]}\r\n'
        b"\n"
        b'{"broken": "write to li.wei@qq.com\n'
        b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n'
        b"[1, 2, 3]"
    )
    out = tmp_path / "out.jsonl"
    rep = redact_path(src, out, audit=tmp_path / "audit.jsonl")
    assert (rep.n_read, rep.n_written, rep.n_unparsed) == (5, 5, 1)
    got = out.read_bytes().split(b"\n")
    assert got[0] == b'{"messages": [{"role": "user", "content": "call <PHONE>"}]}'
    assert got[1] == b""
    assert got[2] == b'{"broken": "write to <EMAIL>'
    assert got[3] == b'{"messages": [{"role": "user", "content": "caf\xe9"}]}'  # invalid UTF-8 kept
    assert got[4] == b"[1, 2, 3]"
    audit = _lines(tmp_path / "audit.jsonl")
    assert [(a["line"], a["field"], a["code"]) for a in audit] == [
        (1, "messages[0].content", "pii_phone"),
        (3, "<raw line>", "pii_email"),
    ]


def test_never_overwrites_the_input(tmp_path: Path, fixtures: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes((fixtures / "content/pii.jsonl").read_bytes())
    before = src.read_bytes()
    with pytest.raises(CurateError, match="the output output is also an input of redact"):
        redact_path(src, src)
    with pytest.raises(CurateError, match="the audit output is also an input of redact"):
        redact_path(src, tmp_path / "o.jsonl", audit=src)
    with pytest.raises(CurateError, match="given for both the output and the audit output"):
        redact_path(src, tmp_path / "o.jsonl", audit=tmp_path / "o.jsonl")
    assert src.read_bytes() == before and sorted(tmp_path.iterdir()) == [src]
    with pytest.raises(ValueError, match=r"unknown .* key"):
        redact_path(src, tmp_path / "o.jsonl", config={"pii_mail": "off"})


def test_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, fixtures: Path) -> None:
    out = tmp_path / "r.jsonl"
    with pytest.raises(SystemExit) as e:
        main(["redact", str(fixtures / "content/pii.jsonl"), "-o", str(out), "--json"])
    assert (e.value.code or 0) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_changes"] == 6 and summary["n_read"] == summary["n_written"] == 5
    assert summary["audit"] == str(tmp_path / "r.redactions.jsonl")
    with pytest.raises(SystemExit) as e:
        main(["redact", str(tmp_path / "missing.jsonl"), "-o", str(out)])
    assert e.value.code == 2
    assert "missing.jsonl" in capsys.readouterr().err
