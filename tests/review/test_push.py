"""Push: record building (pure) and pushing to a real local Argilla server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curate.records import CurateError, Example, Finding, Location, Severity
from curate.review import settings as S
from curate.review.push import (
    build_record,
    chat_messages,
    choose_lines,
    collect_findings,
    default_dataset_name,
    findings_markdown,
    push,
)


def test_chat_messages_meet_argilla_limits() -> None:
    long = "x" * 25_000
    out = chat_messages(
        [
            {"role": "system", "content": ""},
            {"role": "a-very-long-custom-role-name", "content": long},
            {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "image"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{}"},
            {"role": "assistant", "name": "bot", "content": "hi"},
            "not a message",
        ]
    )
    assert out[0] == {"role": "system", "content": "(empty)"}
    assert out[1]["role"] == "a-very-long-custom-r"
    assert len(out[1]["content"]) <= S.MAX_MESSAGE_CHARS
    assert out[1]["content"].endswith("more characters not shown; see the source file]")
    assert out[2]["content"] == 'part one\n{"type":"image"}'
    assert out[3]["content"] == "[tool result (call c1)]\n{}"
    assert out[4]["content"] == "[name: bot] hi"
    assert out[5] == {"role": "invalid", "content": '"not a message"'}


def test_build_record_metadata_and_suggestion() -> None:
    data = {
        "id": "x1",
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "source": {"file": "raw/a.csv", "line": 3, "format": "alpaca"},
    }
    ex = Example(data, Location("in.jsonl", 7))
    dup = Finding(
        "exact_duplicate",
        Severity.WARNING,
        "exact duplicate of in.jsonl:2",
        Location("in.jsonl", 7),
        hint="remove the copy",
        related=Location("in.jsonl", 2),
    )
    rec = build_record(ex, [dup], tokens=17)
    assert rec["id"] == "x1"
    assert rec["metadata"] == {
        "source_format": "alpaca",
        "file": "raw/a.csv",
        "tokens": 17,
        "turns": 2,
        "finding_codes": ["exact_duplicate"],
        "severity": "warning",
    }
    assert rec["suggestion"] == ("reject", 0.9)
    assert rec["fields"][S.FINDINGS] == (
        "- **warning** `exact_duplicate`: exact duplicate of in.jsonl:2 "
        "(other copy: in.jsonl:2) Fix: remove the copy"
    )
    assert findings_markdown([]) == "No findings."


def test_collect_findings_and_sampling(chat_file: Path) -> None:
    findings = collect_findings(str(chat_file))
    codes = {line: sorted(f.code for f in fs) for line, fs in findings.items()}
    assert codes[4] == ["exact_duplicate"]
    assert "last_not_assistant" in codes[7]
    assert "invalid_json" in codes[6]
    one = choose_lines(str(chat_file), findings, only_flagged=False, sample=3, seed=7)
    two = choose_lines(str(chat_file), findings, only_flagged=False, sample=3, seed=7)
    other = choose_lines(str(chat_file), findings, only_flagged=False, sample=3, seed=8)
    assert one == two and one is not None and len(one) == 3
    assert other != one
    flagged = choose_lines(str(chat_file), findings, only_flagged=True, sample=50, seed=0)
    assert flagged == {line for line, fs in findings.items() if line not in (6, 9)}
    assert choose_lines(str(chat_file), findings, only_flagged=False, sample=None, seed=0) is None


def test_default_dataset_name() -> None:
    assert default_dataset_name("x/train.jsonl") == "train"
    assert default_dataset_name("x/a.b.jsonl.gz") == "a-b"


# --------------------------------------------------------------------------- real server
def test_push_creates_dataset_with_settings_and_is_idempotent(
    client: Any, chat_file: Path, dataset_name: str
) -> None:
    res = push(chat_file, dataset=dataset_name, client=client)
    timings = {"seconds": 0, "validate_seconds": 0, "records_per_second": 0}
    assert res.to_dict() | timings == {
        "dataset": dataset_name,
        "workspace": res.workspace,
        "url": res.url,
        "read": 10,
        "pushed": 9,
        "flagged": 2,
        "not_selected": 0,
        "skipped": {"invalid_json": 1},
        "rejected": 1,
        "rejects": str(chat_file.with_name("chat.push.rejected.jsonl")),
        "reviewers_per_record": 1,
        "fields": [S.CONVERSATION, S.TOOLS, S.FINDINGS],  # rv-08 declares a tool
        "notes": [],
        **timings,
    }
    (bad,) = [json.loads(line) for line in Path(res.rejects or "").read_text().splitlines()]
    assert (bad["reason"], bad["source"]["line"], bad["record"]) == ("invalid_json", 6, None)
    ds = client.datasets(dataset_name)
    assert [f.name for f in ds.settings.fields] == [S.CONVERSATION, S.TOOLS, S.FINDINGS]
    assert [q.name for q in ds.settings.questions] == [S.DECISION, S.QUALITY, S.CORRECTION, S.NOTE]
    assert ds.settings.questions[S.DECISION].labels == ["accept", "reject", "needs_fix"]
    assert {m.name for m in ds.settings.metadata} == set(S.METADATA)
    assert "needs_fix" in ds.settings.guidelines
    records = {r.id: r for r in ds.records(with_suggestions=True)}
    assert len(records) == 9
    dup = records["rv-04"]
    assert dup.suggestions[S.DECISION].value == "reject"
    assert dup.suggestions[S.DECISION].agent == S.AGENT
    assert dup.metadata["finding_codes"] == ["exact_duplicate"]
    assert records["rv-01"].suggestions[S.DECISION].value == "accept"
    assert records["rv-06"].suggestions[S.DECISION].value == "needs_fix"
    tool = records["rv-08"]
    assert tool.metadata["source_format"] == "openai" and tool.metadata["turns"] == 5
    assert tool.fields[S.CONVERSATION][2].content == (
        '[tool call get_weather (id call_1)]\n{\n  "city": "Lima"\n}'
    )
    assert tool.fields[S.TOOLS].startswith("get_weather\nparameters: {")
    assert tool.metadata["tokens"] > 30

    again = push(chat_file, dataset=dataset_name, client=client)
    assert again.pushed == 9
    assert len(list(client.datasets(dataset_name).records)) == 9


def test_push_only_flagged_and_sample(client: Any, chat_file: Path, dataset_name: str) -> None:
    res = push(chat_file, dataset=dataset_name, client=client, only_flagged=True)
    assert (res.pushed, res.not_selected) == (2, 7)  # rv-03 is the first copy: not flagged
    ids = sorted(r.id for r in client.datasets(dataset_name).records)
    assert ids == ["rv-04", "rv-06"]
    res2 = push(chat_file, dataset=f"{dataset_name}-s", client=client, sample=2, seed=1)
    assert (res2.pushed, res2.not_selected) == (2, 7)
    with pytest.raises(CurateError, match="--sample must be at least 1"):
        push(chat_file, dataset=dataset_name, client=client, sample=0)


def test_push_to_a_foreign_dataset_is_refused(
    client: Any, dataset_name: str, tmp_path: Path
) -> None:
    import argilla as rg

    foreign = rg.Dataset(
        name=dataset_name,
        settings=rg.Settings(
            fields=[rg.TextField(name="text")],
            questions=[rg.LabelQuestion(name="label", labels=["a", "b"])],
        ),
        client=client,
    ).create()
    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(CurateError, match="exists but is not a curate review dataset"):
        push(src, dataset=dataset_name, workspace=foreign.workspace.name, client=client)


def _conversation(i: int, turns: int = 2) -> dict[str, Any]:
    roles = ("user", "assistant")
    return {
        "id": f"c{i:03d}",
        "messages": [{"role": roles[k % 2], "content": f"turn {k} of {i}"} for k in range(turns)],
    }


def test_a_refused_record_is_a_reject_and_the_rest_are_pushed(
    client: Any, dataset_name: str, tmp_path: Path
) -> None:
    """Argilla refuses a chat of more than 500 messages: that record alone is rejected, with
    the server's reason, and its 20 neighbours (same batch) are pushed."""
    rows = [_conversation(i) for i in range(10)]
    rows += [_conversation(100, turns=502)]
    rows += [_conversation(i) for i in range(10, 20)]
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = push(src, dataset=dataset_name, client=client, duplicates=False)
    assert (res.read, res.pushed, res.rejected) == (21, 20, 1)
    assert res.skipped == {"review_refused": 1}
    (row,) = [json.loads(line) for line in Path(res.rejects or "").read_text().splitlines()]
    assert row["reason"] == "review_refused"
    assert row["source"] == {"file": str(src), "line": 11}
    assert "exceeds the maximum allowed value of 500" in row["message"]
    assert row["record"]["id"] == "c100" and len(row["record"]["messages"]) == 502
    ids = sorted(r.id for r in client.datasets(dataset_name).records)
    assert ids == [f"c{i:03d}" for i in range(20)]


def test_reviewers_per_record_sets_the_task_distribution(
    client: Any, chat_file: Path, dataset_name: str
) -> None:
    res = push(chat_file, dataset=dataset_name, client=client, reviewers_per_record=2)
    assert res.reviewers_per_record == 2
    assert client.datasets(dataset_name).settings.distribution.min_submitted == 2
    again = push(chat_file, dataset=dataset_name, client=client, reviewers_per_record=3)
    assert again.reviewers_per_record == 3  # no answers yet: Argilla accepts the change
    with pytest.raises(CurateError, match="--reviewers-per-record must be at least 1"):
        push(chat_file, dataset=dataset_name, client=client, reviewers_per_record=0)


def test_push_rejects_file_may_not_be_the_input(chat_file: Path) -> None:
    before = chat_file.read_bytes()
    with pytest.raises(CurateError, match="rejects output is also an input"):
        push(chat_file, dataset="x", client=None, rejects=chat_file)
    assert chat_file.read_bytes() == before
