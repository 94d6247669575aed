"""Pull: resolving votes, applying decisions (pure), and the full round trip on a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curate.records import CurateError, content_id
from curate.review.pull import (
    Decision,
    Vote,
    agreement,
    apply_decisions,
    cohen_kappa,
    default_rejects_path,
    fleiss_kappa,
    pull,
    replace_last_assistant,
    resolve,
    reviewer_counts,
)
from curate.review.push import push


def vote(user: str, label: str | None, at: str = "2026-01-01T00:00:00", **kw: Any) -> Vote:
    return Vote(user, label, kw.get("correction"), kw.get("note"), kw.get("quality"), at)


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ------------------------------------------------------------------------------- resolve
def test_resolve_single_votes() -> None:
    assert resolve("a", []).outcome == "pending"
    assert resolve("a", [vote("x", None)]).outcome == "pending"
    assert resolve("a", [vote("x", "accept")]).outcome == "accept"
    d = resolve("a", [vote("x", "reject", note="spam")])
    assert (d.outcome, d.note, d.reviewers) == ("reject", "x: spam", ["x"])
    assert resolve("a", [vote("x", "needs_fix")]).outcome == "needs_fix"
    d = resolve("a", [vote("x", "needs_fix", correction="Better.")])
    assert (d.outcome, d.correction) == ("correct", "Better.")
    # a correction on a reject is ignored: the example goes
    assert resolve("a", [vote("x", "reject", correction="x")]).outcome == "reject"


def test_resolve_conflicts_majority_and_strict() -> None:
    votes = [vote("a", "accept"), vote("b", "accept"), vote("c", "reject", note="dup")]
    assert resolve("r", votes, "majority").outcome == "accept"
    d = resolve("r", votes, "strict")
    assert (d.outcome, d.reviewers) == ("conflict", ["a", "b", "c"])
    assert resolve("r", votes[1:], "majority").outcome == "conflict"  # 1-1 tie
    with pytest.raises(CurateError, match="--conflicts must be one of majority, strict"):
        resolve("r", votes, "vote")


def test_resolve_correction_tie_takes_latest() -> None:
    votes = [
        vote("a", "needs_fix", "2026-01-01T00:00:00", correction="Old."),
        vote("b", "needs_fix", "2026-01-03T00:00:00", correction="New."),
    ]
    d = resolve("r", votes)
    assert (d.outcome, d.correction, d.timestamp) == ("correct", "New.", "2026-01-03T00:00:00")


def test_replace_last_assistant_keeps_original() -> None:
    data = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    new = replace_last_assistant(data, "b")
    assert new is not None and new["messages"][1]["content"] == "b"
    assert data["messages"][1]["content"] == "a"
    assert replace_last_assistant({"messages": [{"role": "user", "content": "q"}]}, "b") is None


def test_a_correction_replaces_the_answer_and_keeps_or_replaces_the_trace() -> None:
    """The review shows the answer apart from its reasoning: a corrected answer keeps the
    trace; a correction that starts with its own <think> block replaces it (an empty block
    removes it)."""
    reply = {"role": "assistant", "content": "42", "reasoning_content": "6 * 7 = 42"}
    data = {"messages": [{"role": "user", "content": "6 * 7?"}, reply]}
    fixed = replace_last_assistant(data, "42.")
    assert fixed is not None and fixed["messages"][1] == {**reply, "content": "42."}
    fixed = replace_last_assistant(data, "<think>\n6 * 7 is 42.\n</think>\n\n42")
    assert fixed is not None
    assert fixed["messages"][1] == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "6 * 7 is 42.",
    }
    fixed = replace_last_assistant(data, "<think>\n\n</think>\n\n42")
    assert fixed is not None and fixed["messages"][1] == {"role": "assistant", "content": "42"}
    text = "Write `<think>` first."  # a mention, not a trace
    fixed = replace_last_assistant(data, text)
    assert fixed is not None and fixed["messages"][1] == {**reply, "content": text}


# ------------------------------------------------------------------------ apply (no server)
def _write(path: Path, rows: list[Any], extra: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra, encoding="utf-8")


def _ex(i: int, answer_text: str = "A.") -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "messages": [
            {"role": "user", "content": f"Q{i}?"},
            {"role": "assistant", "content": answer_text},
        ],
    }


def test_apply_decisions_accounting_and_audit(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write(src, [_ex(i) for i in range(1, 7)], extra='{"id": "broken"\n')
    decisions = {
        "e1": Decision("e1", "accept", [vote("ana", "accept", quality=5)]),
        "e2": Decision(
            "e2", "reject", [vote("ana", "reject", note="off-topic")], note="ana: off-topic"
        ),
        "e3": Decision("e3", "correct", [vote("bo", "needs_fix")], correction="Fixed."),
        "e4": Decision("e4", "needs_fix", [vote("bo", "needs_fix")]),
        "e5": Decision("e5", "pending"),
    }
    out, rej, audit = tmp_path / "out.jsonl", tmp_path / "rej.jsonl", tmp_path / "audit.jsonl"
    res = apply_decisions(src, decisions, out=out, rejects=rej, audit=audit, dataset="d")
    assert (res.read, res.kept, res.rejected, res.corrected, res.not_reviewed) == (7, 4, 3, 1, 1)
    assert res.read == res.kept + res.rejected
    assert res.not_in_input == 0
    kept = {r["id"]: r for r in read(out)}
    assert sorted(kept) == ["e1", "e3", "e5", "e6"]
    assert kept["e3"]["messages"][1]["content"] == "Fixed."
    assert kept["e1"]["metadata"]["review"] == {
        "decision": "accept",
        "reviewers": ["ana"],
        "at": "2026-01-01T00:00:00",
    }
    assert "metadata" not in kept["e6"]  # never pushed: untouched
    rejected = read(rej)
    assert [(r["reason"], r["source"]["line"]) for r in rejected] == [
        ("review_rejected", 2),
        ("review_needs_fix", 4),
        ("invalid_json", 7),
    ]
    assert rejected[0]["message"] == "rejected in review by ana. Notes: ana: off-topic"
    assert rejected[2]["record"] == '{"id": "broken"'
    lines = read(audit)
    assert [(a["id"], a["decision"], a["action"]) for a in lines] == [
        ("e1", "accept", "kept"),
        ("e2", "reject", "rejected"),
        ("e3", "correct", "corrected"),
        ("e4", "needs_fix", "rejected"),
        ("e5", "pending", "kept"),
    ]
    e3 = lines[2]
    assert e3["old_hash"] == content_id(_ex(3))
    assert e3["new_hash"] == content_id(kept["e3"]) != e3["old_hash"]
    assert (e3["reviewer"], e3["timestamp"]) == ("bo", "2026-01-01T00:00:00")
    assert lines[0]["quality"] == 5
    # the audit trail accumulates across pulls
    apply_decisions(src, decisions, out=out, rejects=rej, audit=audit)
    assert len(read(audit)) == 10


def test_apply_pending_policies(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write(src, [_ex(1), _ex(2)])
    decisions = {"e1": Decision("e1", "pending"), "e2": Decision("e2", "conflict")}
    out, rej = tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
    more = {**decisions, "elsewhere": Decision("elsewhere", "accept")}
    res = apply_decisions(src, more, out=out, rejects=rej, audit=None, pending="drop")
    assert (res.kept, res.rejected, res.not_in_input) == (0, 2, 1)
    assert [r["reason"] for r in read(rej)] == ["review_pending", "review_conflict"]
    out.unlink()
    rej.unlink()
    with pytest.raises(CurateError, match=r"2 reviewed records have no decision yet: e1 \(pending"):
        apply_decisions(src, decisions, out=out, rejects=rej, audit=None, pending="fail")
    assert not out.exists() and not rej.exists()  # nothing half-written
    with pytest.raises(CurateError, match="--pending must be one of keep, drop, fail"):
        apply_decisions(src, decisions, out=out, rejects=rej, audit=None, pending="skip")


def test_correction_without_assistant_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write(src, [{"id": "u", "messages": [{"role": "user", "content": "hi"}]}])
    d = {"u": Decision("u", "correct", [vote("a", "needs_fix")], correction="Hello!")}
    res = apply_decisions(
        src, d, out=tmp_path / "o.jsonl", rejects=tmp_path / "r.jsonl", audit=None
    )
    assert res.rejected == 1
    assert read(tmp_path / "r.jsonl")[0]["reason"] == "review_correction_not_applicable"


def test_default_rejects_path() -> None:
    assert default_rejects_path("a/b.jsonl") == "a/b.rejected.jsonl"
    assert default_rejects_path("a/b.txt") == "a/b.txt.rejected.jsonl"


# ------------------------------------------------------------------------------ agreement
def test_kappas_match_hand_computed_values() -> None:
    # 4 records, 2 reviewers: 3 agree (accept, reject, accept), 1 disagrees (accept/reject).
    # Fleiss: p_accept = 5/8, p_reject = 3/8 -> chance 34/64; (3/4 - 34/64) / (1 - 34/64) = 7/15
    # Cohen: ana 3 accept 1 reject, bo 2 and 2 -> chance (3*2 + 1*2)/16 = 1/2; (3/4-1/2)/(1/2)
    items = [["accept", "accept"], ["reject", "reject"], ["accept", "accept"]]
    items.append(["accept", "reject"])
    assert fleiss_kappa(items) == pytest.approx(7 / 15)
    assert cohen_kappa([(a, b) for a, b in items]) == pytest.approx(0.5)
    # Fleiss' kappa with three raters on one item: P_i = (2*2 + 1 - 3) / 6 = 1/3
    assert fleiss_kappa([["accept", "accept", "reject"], ["reject", "reject", "reject"]]) == (
        pytest.approx((((1 / 3) + 1) / 2 - ((2 / 6) ** 2 + (4 / 6) ** 2)) / (1 - 5 / 9))
    )
    assert fleiss_kappa([["accept", "accept"]]) is None  # one label only: chance is 1
    assert fleiss_kappa([["accept"]]) is None and cohen_kappa([]) is None


def test_agreement_and_reviewer_counts_of_decisions() -> None:
    d = {
        "r1": resolve("r1", [vote("ana", "accept"), vote("bo", "accept")]),
        "r2": resolve("r2", [vote("ana", "reject"), vote("bo", "reject")]),
        "r3": resolve("r3", [vote("ana", "accept"), vote("bo", "accept")]),
        "r4": resolve("r4", [vote("ana", "accept"), vote("bo", "reject")]),
        "r5": resolve("r5", [vote("ana", "needs_fix")]),  # one answer: not compared
    }
    ag = agreement(d)
    assert ag == {
        "records": 4,
        "unanimous": 3,
        "percent_agreement": 75.0,
        "fleiss_kappa": 0.467,
        "cohen_kappa": {"ana ~ bo": 0.5},
    }
    assert reviewer_counts(d) == {
        "ana": {"answered": 5, "accept": 3, "reject": 1, "needs_fix": 1},
        "bo": {"answered": 4, "accept": 2, "reject": 2, "needs_fix": 0},
    }


# --------------------------------------------------------- outputs that would destroy data
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--audit", "{src}"], "the audit output is also an input"),
        (["--rejects", "{src}"], "the rejects output is also an input"),
        (["-o", "{src}"], "the out output is also an input"),
        (["-o", "{dir}/x.jsonl", "--rejects", "{dir}/x.jsonl"], "given for both the out and"),
        (["--audit", "{dir}/clean.jsonl"], "given for both the out and the audit output"),
    ],
)
def test_pull_refuses_outputs_that_are_the_input_or_each_other(
    tmp_path: Path, args: list[str], says: str
) -> None:
    """Refused with exit 2 before anything is fetched or written (no server needed)."""
    import subprocess

    src = tmp_path / "in.jsonl"
    _write(src, [_ex(1), _ex(2)])
    before = src.read_bytes()
    argv = ["curate", "review", "pull", "--dataset", "d", "-i", str(src)]
    if "-o" not in args:
        argv += ["-o", str(tmp_path / "clean.jsonl")]
    argv += [a.format(src=src, dir=tmp_path) for a in args]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert says in res.stderr and "Traceback" not in res.stderr
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


# -------------------------------------------------------------------- real server round trip
def test_round_trip_push_review_pull(
    client: Any,
    chat_file: Path,
    dataset_name: str,
    reviewers: dict[str, Any],
    answer: Any,
    tmp_path: Path,
) -> None:
    res = push(chat_file, dataset=dataset_name, client=client)
    assert res.pushed == 9
    ds = client.datasets(dataset_name)
    ana, bo = reviewers["ana"], reviewers["bo"]
    answer(ds, "rv-01", ana, decision="accept", quality=5)
    answer(ds, "rv-04", ana, decision="reject", note="duplicate of rv-03")
    answer(ds, "rv-09", ana, decision="needs_fix", corrected_reply="The forint (HUF).")
    answer(ds, "rv-02", ana, decision="accept")
    answer(ds, "rv-02", bo, decision="reject", note="too vague")
    answer(ds, "rv-05", ana, decision="reject", status="draft")  # not submitted

    out, audit = tmp_path / "clean.jsonl", tmp_path / "audit.jsonl"
    result = pull(chat_file, client=client, dataset=dataset_name, out=out, audit=audit)
    assert result.read == 10  # 9 examples + the invalid line
    assert result.read == result.kept + result.rejected
    assert result.outcomes == {"accept": 1, "reject": 1, "correct": 1, "conflict": 1, "pending": 5}
    kept = {r["id"]: r for r in read(out)}
    assert "rv-04" not in kept
    assert kept["rv-09"]["messages"][-1]["content"] == "The forint (HUF)."
    assert kept["rv-02"]["messages"][-1]["content"].startswith("Late November")  # conflict kept
    rejects = read(tmp_path / "clean.rejected.jsonl")
    assert [r["reason"] for r in rejects] == ["review_rejected", "invalid_json"]
    assert rejects[0]["record"]["id"] == "rv-04"
    assert rejects[1]["record"] == '{"id": "rv-broken", "messages": ['
    assert rejects[0]["message"] == (
        f"rejected in review by {ana.username}. Notes: {ana.username}: duplicate of rv-03"
    )
    trail = {a["id"]: a for a in read(audit)}
    assert trail["rv-09"]["decision"] == "correct"
    assert trail["rv-09"]["reviewer"] == ana.username
    assert trail["rv-09"]["timestamp"].endswith("+00:00")
    assert trail["rv-09"]["old_hash"] != trail["rv-09"]["new_hash"]
    assert trail["rv-02"]["votes"] == ["accept", "reject"]
    assert trail["rv-05"]["decision"] == "pending"

    # strict conflicts + dropping the undecided: only unanimous decisions survive
    out2 = tmp_path / "strict.jsonl"
    strict = pull(
        chat_file, client=client, dataset=dataset_name, out=out2, pending="drop", conflicts="strict"
    )
    assert sorted(r["id"] for r in read(out2)) == ["rv-01", "rv-09"]
    assert strict.rejected == 8

    # re-pushing keeps the reviewers' answers and adds no record
    again = push(chat_file, dataset=dataset_name, client=client)
    assert again.pushed == 9
    records = list(client.datasets(dataset_name).records(with_responses=True))
    assert len(records) == 9
    by_id = {r.id: r for r in records}
    assert {r.value for r in by_id["rv-02"].responses if r.question_name == "decision"} == {
        "accept",
        "reject",
    }


def test_pull_unknown_dataset_says_what_exists(
    client: Any, chat_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(CurateError, match=r"Argilla dataset 'no-such-dataset' not found \(have: "):
        pull(chat_file, client=client, dataset="no-such-dataset", out=tmp_path / "o.jsonl")


def test_two_reviewers_disagree_and_pull_reports_agreement(
    argilla_state: dict[str, Any], client: Any, dataset_name: str, tmp_path: Path
) -> None:
    """Two reviewer accounts answer with their own API keys through the SDK; one record gets
    different decisions. Pull reports each reviewer's counts and the agreement (3 of 4
    records unanimous: Cohen's kappa 0.5, Fleiss' kappa 7/15, as computed by hand in
    test_kappas_match_hand_computed_values), applies --conflicts and lists both reviewers on
    the audit line."""
    import argilla as rg

    from curate.review import server

    src = tmp_path / "four.jsonl"
    _write(src, [_ex(i) for i in range(1, 6)])
    res = push(src, dataset=dataset_name, client=client, duplicates=False, reviewers_per_record=2)
    assert res.pushed == 5
    suffix = dataset_name[-6:]
    names = [f"ana-{suffix}", f"bo-{suffix}"]
    creds = server.add_users(names, Path(argilla_state["data_dir"]))
    assert sorted(server.status(Path(argilla_state["data_dir"]))["reviewers"]) >= names
    owner_ds = client.datasets(dataset_name)
    records = {r.id: r for r in owner_ds.records}
    plan = {"e1": ("accept", "accept"), "e2": ("reject", "reject"), "e3": ("accept", "accept")}
    plan["e4"] = ("accept", "reject")
    for who, name in enumerate(names):
        reviewer = rg.Argilla(api_url=argilla_state["url"], api_key=creds[name]["api_key"])
        assert reviewer.me.username == name and reviewer.me.role == "annotator"
        for rid, labels in plan.items():
            answer = rg.UserResponse(
                [rg.Response("decision", labels[who], user_id=reviewer.me.id, status="submitted")],
                _record=records[rid],
            )
            reviewer.api.records.create_record_response(records[rid]._server_id, answer.api_model())
    statuses = {r.id: r.status for r in client.datasets(dataset_name).records}
    assert statuses == {"e1": "completed", "e2": "completed", "e3": "completed",
                        "e4": "completed", "e5": "pending"}  # fmt: skip

    out, audit = tmp_path / "clean.jsonl", tmp_path / "audit.jsonl"
    pulled = pull(src, client=client, dataset=dataset_name, out=out, audit=audit)
    assert pulled.reviewers == {
        names[0]: {"answered": 4, "accept": 3, "reject": 1, "needs_fix": 0},
        names[1]: {"answered": 4, "accept": 2, "reject": 2, "needs_fix": 0},
    }
    assert pulled.agreement == {
        "records": 4,
        "unanimous": 3,
        "percent_agreement": 75.0,
        "fleiss_kappa": 0.467,
        "cohen_kappa": {f"{names[0]} ~ {names[1]}": 0.5},
    }
    assert pulled.outcomes == {"accept": 2, "reject": 1, "conflict": 1, "pending": 1}
    trail = {a["id"]: a for a in read(audit)}
    assert trail["e4"]["reviewers"] == names
    assert sorted((a["reviewer"], a["decision"]) for a in trail["e4"]["answers"]) == [
        (names[0], "accept"),
        (names[1], "reject"),
    ]
    strict = pull(
        src, client=client, dataset=dataset_name, out=tmp_path / "s.jsonl", pending="drop",
        conflicts="strict",
    )  # fmt: skip
    assert sorted(r["id"] for r in read(tmp_path / "s.jsonl")) == ["e1", "e3"]
    assert strict.rejected == 3
