"""``dedup --against`` and ``--decontaminate-only`` on the Ray engine give the local
engine's outputs, line for line (kept, rejects, clusters, summary).

The training inputs are the Ray fixture (``data/mixed_*.jsonl``: exact and near copies,
contained conversations, unreadable lines). The two reference files are made here from
its lines, each line one case (:func:`references`). Runs on the CI's two-node Ray
cluster (``.ci/services/ray.sh``), skipped without it, as ``test_ray.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.engine import dedup
from tests.engine.test_ray import DATA, INPUTS, _cli, outputs, ray_address  # noqa: F401

M1 = (DATA / "mixed_1.jsonl").read_text(encoding="utf-8").splitlines()


def _rec(line: int) -> dict:
    return json.loads(M1[line - 1])


def _edit(line: int, *words: tuple[int, str]) -> dict:
    """mixed_1.jsonl's ``line`` with words of its last turn replaced (a near copy)."""
    rec = _rec(line)
    last = rec["messages"][-1]
    text = last["content"].split()
    for at, word in words:
        text[at] = word
    last["content"] = " ".join(text)
    return rec


def _turns(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def references(folder: Path) -> list[str]:
    """Two reference files over mixed_1.jsonl (the comments name its lines)."""
    longer = _rec(2)  # a 2-turn conversation, held whole inside a 4-turn reference
    longer["messages"] += _turns("and what about the night sky?", "light green blue over the city")
    run = {"messages": _rec(13)["messages"][2:4]}  # a run inside an 8-turn conversation
    a = [
        json.dumps(_rec(17)),  # an exact copy of 14 and 17 (17 is an exact copy of 14)
        json.dumps(_edit(57, (-1, "zebra"), (-3, "yak"))),  # near 57, two words changed
        json.dumps(longer),
        '{"messages": [broken json',
        "",
        json.dumps(run),
        json.dumps(_edit(16, (-2, "zebra"))),  # near 16 (33 is its exact copy): a tie...
        json.dumps({"messages": _turns("an unrelated question", "an unrelated answer")}),
    ]
    b = [
        json.dumps(_edit(16, (-2, "walrus"))),  # ... with this one: the earlier one wins
        b"\xff\xfe not utf-8",
        json.dumps(_edit(57, (-1, "zebra"))),  # one word: better than the file before's
        json.dumps(_rec(17)),  # an exact copy of a reference of the file before
    ]
    paths = []
    for name, lines in (("ref_a.jsonl", a), ("ref_b.jsonl", b)):
        p = folder / name
        p.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
        paths.append(str(p))
    return paths


def both_engines(tmp_path: Path, address: str, **options) -> dict[str, tuple[dict, dict]]:
    """Summary and output files of one dedup run per engine (names made alike)."""
    refs = references(tmp_path)
    got = {}
    for engine in ("local", "ray"):
        folder = tmp_path / engine
        folder.mkdir()
        s = dedup(INPUTS, folder / "out.jsonl", against=refs, engine=engine,
                  ray_address=address, **options).to_dict()  # fmt: skip
        for key in ("output", "rejects", "clusters_file"):
            s.pop(key)
        for f in s["findings"]:
            f["message"] = f["message"].replace(f"/{engine}/", "/x/")
        got[engine] = (s, outputs(folder, {f"/{engine}/": "/x/"}))
    return got


def _rows(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines()]


def _contaminated(files: dict[str, str]) -> dict[int, tuple[str, int, str, float]]:
    """mixed_1.jsonl line -> (reference file, line, match, similarity) of its rejects."""
    out = {}
    for r in _rows(files["out.rejected.jsonl"]):
        if r["reason"] == "contaminated" and r["source"]["file"].endswith("mixed_1.jsonl"):
            d = r["findings"][0]["data"]
            src = d["duplicate_of"]["source"]
            out[r["source"]["line"]] = (Path(src["file"]).name, src["line"], d["match"],
                                        d["similarity"])  # fmt: skip
    return out


def test_against_same_outputs(ray_address, tmp_path):  # noqa: F811
    got = both_engines(tmp_path, ray_address)
    (local, lf), (on_ray, rf) = got["local"], got["ray"]
    assert set(lf) == {"out.jsonl", "out.rejected.jsonl", "out.clusters.jsonl"}
    for name in lf:
        assert rf[name].splitlines() == lf[name].splitlines(), name
    assert on_ray == local
    # the fixture holds every case, as the local engine decides them
    c = _contaminated(lf)
    assert c[14] == c[17] == ("ref_a.jsonl", 1, "text", 1.0)  # 17: a duplicate of 14 too
    assert c[57][:3] == ("ref_b.jsonl", 3, "text")  # the best of two near references
    assert c[2] == ("ref_a.jsonl", 3, "containment", 0.5)  # held in a reference
    assert c[13] == ("ref_a.jsonl", 6, "containment", 0.25)  # holds a reference
    assert c[16][:3] == c[33][:3] == ("ref_a.jsonl", 7, "text")  # a tie; and 16's copy
    assert local["reference_read"] == 9 and local["reference_invalid"] == 2
    assert local["removed_contaminated"] >= 6 and local["removed_invalid"] == 9
    assert local["removed_exact"] and local["removed_near"] and local["removed_contained"]
    assert local["first_invalid"].endswith("mixed_1.jsonl:6")


@pytest.mark.parametrize(
    "options",
    [{"dedup": False}, {"containment": False}, {"near": False}, {"scope": "user", "keep": "first"}],
    ids=["decontaminate-only", "no-containment", "exact-only", "user-first"],
)
def test_against_options_same_outputs(ray_address, tmp_path, options):  # noqa: F811
    got = both_engines(tmp_path, ray_address, **options)
    (local, lf), (on_ray, rf) = got["local"], got["ray"]
    for name in lf:
        assert rf[name].splitlines() == lf[name].splitlines(), name
    assert on_ray == local
    c = _contaminated(lf)
    assert c[14] == c[17] == ("ref_a.jsonl", 1, "text", 1.0)
    if options.get("near", True) and "scope" not in options:
        # a conversation held in a reference, or holding one, leaks it even when
        # --no-containment keeps contained conversations within the inputs
        assert c[2][2] == c[13][2] == "containment"
    if options == {"dedup": False}:
        assert local["removed_exact"] == local["removed_near"] == local["clusters"] == 0
        assert lf["out.clusters.jsonl"] == ""


def test_cli_against_on_ray(ray_address, tmp_path):  # noqa: F811
    """``curate dedup X --against R --engine ray --json``: the local summary; exit 1 for
    unreadable reference lines (the first one named), 0 with --allow-invalid, 2 when an
    output is a reference file."""
    refs = references(tmp_path)
    clean = str(Path(__file__).parents[2] / "fixtures" / "dedup" / "turns.jsonl")
    got = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "kept.jsonl"
        out.parent.mkdir()
        args = ["dedup", clean, "-o", str(out), "--json", "--engine", engine,
                "--ray-address", ray_address]  # fmt: skip
        r = _cli(*args, "--against", refs[0], "--against", refs[1])
        assert r.returncode == 1, r.stderr  # the references have unreadable lines
        s = json.loads(r.stdout)
        assert s["first_invalid"] == f"{refs[0]}:4" and s["reference_invalid"] == 2
        assert f"{refs[0]}:4" in r.stderr
        r = _cli(*args, "--against", refs[0], "--decontaminate-only", "--allow-invalid")
        assert r.returncode == 0, r.stderr
        got[engine] = (s, json.loads(r.stdout), out.read_text())
        for summary in got[engine][:2]:
            for key in ("output", "rejects", "clusters_file"):
                summary.pop(key)
    assert got["ray"] == got["local"]
    r = _cli("dedup", clean, "-o", refs[1], "--against", refs[1], "--engine", "ray",
             "--ray-address", ray_address)  # fmt: skip
    assert r.returncode == 2 and "also an input" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_against_crowded_buckets_as_local(ray_address, tmp_path):  # noqa: F811
    """300 training answers that differ only in their last two words, and two references
    of the same family: every band bucket holds more than 128 documents, so the local
    engine pairs each bucket's members as a star from the first and a chain (not all
    pairs), and finds a reference match for a few of them only. The Ray engine looks
    among the same bucket members and removes the same few: a per-document lookup in
    the references would remove all 300."""
    import random

    rng = random.Random(5)
    base = " ".join(f"w{rng.randrange(400)}" for _ in range(40))
    train, ref = tmp_path / "train.jsonl", tmp_path / "ref.jsonl"
    for path, tails in ((train, [f"t{i} u{i}" for i in range(300)]), (ref, ["r0 s0", "r1 s1"])):
        rows = [{"messages": _turns("tell me", f"{base} {tail}")} for tail in tails]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "out.jsonl"
        out.parent.mkdir()
        s = dedup([train], out, against=[ref], engine=engine, ray_address=ray_address)
        got[engine] = (s.kept, s.removed_near, s.removed_contaminated,
                       out.with_name("out.rejected.jsonl").read_text())  # fmt: skip
    assert got["ray"] == got["local"]
    assert 0 < got["local"][2] < 300  # every one is at Jaccard 0.91 of both references


def test_cli_reasoning_include_on_ray(ray_address):  # noqa: F811
    """``--reasoning include --engine ray`` runs (it was refused as local-only while the
    Ray engine already took the option): the docs' seven kept lines."""
    src = str(Path(__file__).parents[2] / "fixtures" / "dedup" / "reasoning.jsonl")
    r = _cli("dedup", src, "--reasoning", "include", "--json", "--engine", "ray",
             "--ray-address", ray_address)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kept"] == 7


def test_decontaminate_only_counts_conflicts_among_what_it_keeps():
    """Lines 2 and 7 of fixtures/dedup/train.jsonl share a prompt with two answers: with
    ``--scope user`` a dedup removes 7 as a copy of 2 (no conflict left), and
    ``--decontaminate-only`` keeps both: one prompt with conflicting answers (the count
    was the full dedup's, whatever it kept; the Ray engine counts what it keeps)."""
    from curate.dedup.run import dedup_paths

    folder = Path(__file__).parents[2] / "fixtures" / "dedup"
    train, ref = folder / "train.jsonl", folder / "eval.jsonl"
    full = dedup_paths([train], None, against=[ref], scope="user")
    only = dedup_paths([train], None, against=[ref], scope="user", dedup=False)
    assert (full.conflicting_answers, only.conflicting_answers) == (0, 1)
