from __future__ import annotations

from curate.records import Example, Finding, Location, Rejected, Severity, content_id


def test_severity_is_ordered() -> None:
    assert Severity.ERROR > Severity.WARNING > Severity.INFO
    assert (
        max([Severity.INFO, Severity.ERROR, Severity.WARNING], key=lambda s: s.rank)
        is Severity.ERROR
    )


def test_location_str_prefers_line_then_row() -> None:
    assert str(Location("a.jsonl", 3)) == "a.jsonl:3"
    assert str(Location("a.json", row=7)) == "a.json#7"
    assert str(Location("a.json")) == "a.json"
    assert Location.from_dict(Location("f", 2, format="alpaca").to_dict()) == Location(
        "f", 2, format="alpaca"
    )


def test_content_id_ignores_provenance_key_order_and_unicode_form() -> None:
    a = {"messages": [{"role": "user", "content": "caf\u00e9"}], "id": "x", "source": {"file": "a"}}
    b = {"source": {"file": "b"}, "messages": [{"content": "cafe\u0301", "role": "user"}]}
    assert content_id(a) == content_id(b)
    assert content_id(a) != content_id({"messages": [{"role": "user", "content": "cafe"}]})
    assert len(content_id(a)) == 20


def test_example_id_uses_given_id_else_hash() -> None:
    assert Example({"id": "ex-1", "messages": []}, Location("f")).id == "ex-1"
    ex = Example({"messages": [{"role": "user", "content": "hi"}]}, Location("f"))
    assert ex.id == content_id(ex.data)
    assert Example([1, 2], Location("f")).messages is None


def test_finding_and_rejected_serialise() -> None:
    f = Finding(
        "too_long",
        Severity.ERROR,
        "5000 tokens",
        Location("t.jsonl", 4, message_index=1),
        hint="shorten it",
        related=Location("t.jsonl", 2),
    )
    d = f.to_dict()
    assert d == {
        "code": "too_long",
        "severity": "error",
        "message": "5000 tokens",
        "file": "t.jsonl",
        "line": 4,
        "message_index": 1,
        "hint": "shorten it",
        "related": {"file": "t.jsonl", "line": 2},
    }
    assert f.format_line() == "t.jsonl:4: error too_long (message 1): 5000 tokens Fix: shorten it"
    r = Rejected(Location("a.csv", 3, format="csv"), "missing_column", "no prompt", {"x": 1})
    assert r.to_dict()["source"] == {"file": "a.csv", "line": 3, "format": "csv"}
