"""curate.split: grouping, stable assignment, stratification, accounting, manifest."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from curate.export import file_sha256
from curate.records import CurateError, InputError
from curate.split import (
    SplitOptions,
    apportion,
    assign_eval,
    group_labels,
    norm_turns,
    split_path,
    turn_keys,
)

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "split"
CHAT = FIX / "chat.jsonl"
BAD = FIX / "bad.jsonl"


def rec(i: int, *, user: str | None = None, lang: str = "en", rid: str | None = None) -> dict:
    return {
        "id": rid or f"ex{i:06d}",
        "messages": [
            {"role": "user", "content": user or f"question number {i}"},
            {"role": "assistant", "content": f"answer number {i}"},
        ],
        "metadata": {"lang": lang},
    }


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sides(outdir: Path) -> dict[int, str]:
    """input line -> split, from the provenance sidecars."""
    out: dict[int, str] = {}
    for s in ("train", "eval"):
        for line in (outdir / f"{s}.provenance.jsonl").read_text(encoding="utf-8").splitlines():
            out[json.loads(line)["line"]] = s
    return out


# -- pure parts --------------------------------------------------------------------------


def test_group_labels_joins_shared_keys_transitively() -> None:
    cluster = np.array([1, 1, 2, 3, 4], dtype=np.uint64)
    prompt = np.array([9, 8, 8, 7, 0], dtype=np.uint64)  # 0 = no key
    labels, n = group_labels(5, [cluster, prompt])
    assert n == 3
    assert labels[0] == labels[1] == labels[2]
    assert len({labels[0], labels[3], labels[4]}) == 3


def test_apportion_is_exact_and_within_one() -> None:
    counts = np.array([333, 333, 334, 7, 1])
    t = apportion(counts, 101)
    assert t.sum() == 101
    assert np.all(np.abs(t - counts * 101 / counts.sum()) < 1)


def test_assign_eval_hits_target_and_keeps_groups_whole() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 300, size=1000)
    _, labels = np.unique(labels, return_inverse=True)
    ids = rng.integers(1, 2**63, size=1000).astype(np.uint64)
    is_eval = assign_eval(labels, ids, 100, seed=3)
    assert abs(int(is_eval.sum()) - 100) <= int(np.bincount(labels).max())
    for g in np.unique(labels):
        assert len(set(is_eval[labels == g].tolist())) == 1


def test_content_keys_match_dedup_normalisation() -> None:
    a = {
        "messages": [
            {"role": "user", "content": "Ｈｉ  there"},
            {"role": "assistant", "content": "x"},
        ]
    }
    b = {
        "messages": [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "y"}]
    }
    ka, kb = turn_keys(norm_turns(a)), turn_keys(norm_turns(b))
    assert ka[1] == kb[1] and ka[0] != kb[0]


# -- split_path ----------------------------------------------------------------------------


def test_same_input_and_seed_give_byte_identical_outputs(tmp_path: Path) -> None:
    import shutil

    opts = SplitOptions(eval_fraction=0.2, seed=7)
    split_path(CHAT, tmp_path / "a", opts)
    shutil.copytree(tmp_path / "a", tmp_path / "first")
    split_path(CHAT, tmp_path / "a", opts)  # a re-run over the same folder
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "first").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "first" / name).read_bytes()
    # another folder: the data files are the same bytes too (only axolotl.yaml names paths)
    split_path(CHAT, tmp_path / "b", opts)
    for name in ("train.jsonl", "eval.jsonl", "rejected.jsonl", "train.provenance.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = split_path(CHAT, tmp_path / "c", SplitOptions(eval_fraction=0.2, seed=8))
    assert sides(tmp_path / "a") != sides(tmp_path / "c")
    assert other["seed"] == 8


def test_duplicates_and_shared_prompts_never_straddle(tmp_path: Path) -> None:
    # fixture rows 61-63 are exact copies of rows 4, 11, 43; rows 64-65 reuse the prompts
    # of rows 6 and 18 with another answer (see fixtures/split/make_fixtures.py)
    pairs = [(4, 61), (11, 62), (43, 63), (6, 64), (18, 65)]
    for seed in range(6):
        out = tmp_path / str(seed)
        m = split_path(CHAT, out, SplitOptions(eval_fraction=0.3, seed=seed))
        where = sides(out)
        for a, b in pairs:
            assert where[a] == where[b], (seed, a, b)
        assert m["leakage"] == {
            "groups_straddling": 0,
            "shared_duplicate_keys": 0,
            "shared_prompts": 0,
        }
    # checked independently on the written files: no prompt (the sequence of normalised
    # system and user turns) and no whole example on both sides
    prompts, whole = {}, {}
    for s in ("train", "eval"):
        rows = [json.loads(x) for x in (out / f"{s}.jsonl").read_text().splitlines()]
        prompts[s] = {
            tuple(
                " ".join(m["content"].casefold().split())
                for m in r["messages"]
                if m["role"] in ("system", "user")
            )
            for r in rows
        }
        whole[s] = {json.dumps(r, sort_keys=True) for r in rows}
    assert not prompts["train"] & prompts["eval"]
    assert not whole["train"] & whole["eval"]


def test_group_by_none_reports_the_leak_it_allows(tmp_path: Path) -> None:
    rows = [rec(i, user="the same question") for i in range(20)]
    src = write(tmp_path / "in.jsonl", rows)
    m = split_path(src, tmp_path / "none", SplitOptions(eval_size=5, group_by="none", near=False))
    assert m["counts"]["eval"] == 5
    assert m["leakage"]["shared_prompts"] == 1
    # grouped by prompt, the 20 examples are one group: eval cannot take part of it
    with pytest.raises(CurateError, match="one group"):
        split_path(src, tmp_path / "both", SplitOptions(eval_size=5, near=False))


def test_near_duplicates_stay_together(tmp_path: Path) -> None:
    text = " ".join(f"word{k}" for k in range(60))
    rows = [rec(i) for i in range(40)]
    rows.append(rec(100, user=text + " first"))
    rows.append(rec(101, user=text + " second"))
    src = write(tmp_path / "in.jsonl", rows)
    near_sides = set()
    for seed in range(8):
        out = tmp_path / f"n{seed}"
        m = split_path(src, out, SplitOptions(eval_fraction=0.5, seed=seed))
        where = sides(out)
        assert where[41] == where[42]
        near_sides.add(where[41])
        assert m["groups"]["total"] == 41
        assert m["groups"]["near_duplicates"].startswith("grouped")
    off = split_path(src, tmp_path / "off", SplitOptions(eval_fraction=0.5, near=False))
    assert off["groups"]["total"] == 42
    assert off["groups"]["near_duplicates"] == "not grouped (near=false)"


def test_near_grouping_never_splits_an_exact_jaccard_cluster(tmp_path: Path) -> None:
    """Every cluster curate dedup finds (exact Jaccard over stored shingles) stays on one
    side, though split keeps only fixed-size signatures."""
    from curate.dedup import DuplicateIndex, Params, featurize

    rnd = random.Random(7)
    words = [f"w{k}" for k in range(400)]
    rows = []
    for i in range(400):
        if i % 4 == 3:  # a near-duplicate of the previous example: one word edited
            prev = rows[-1]["messages"][0]["content"].split()
            prev[rnd.randrange(len(prev))] = "edited"
            rows.append(rec(i, user=" ".join(prev)))
        else:
            rows.append(rec(i, user=" ".join(rnd.choices(words, k=40))))
    src = write(tmp_path / "in.jsonl", rows)
    params = Params()
    index = DuplicateIndex(params)
    index.add(featurize(rows, params))
    clusters = index.solve().clusters()
    assert len(clusters) >= 95
    m = split_path(src, tmp_path / "out", SplitOptions(eval_fraction=0.3))
    where = sides(tmp_path / "out")
    for members in clusters.values():
        assert len({where[i + 1] for i in members}) == 1
    near = m["near_duplicates"]
    assert near["method"] == "minhash_lsh" and near["signature_bits"] == 8
    assert near["estimate_links_from"] == 0.8884
    assert near["exact_jaccard_checked_from"] == 0.65
    assert near["over_budget_links_from"] == 0.7116
    assert near["pairs_linked"] >= len(clusters)
    assert near["verified_exact_jaccard"] + near["decided_by_estimate"] == near["candidates"]
    assert near["verified_exact_jaccard"] > 0
    assert m["groups"]["near_duplicates"] == "grouped (curate.dedup MinHash, Jaccard >= 0.8)"
    assert m["leakage"]["groups_straddling"] == 0


def test_adding_ten_percent_keeps_old_examples_on_their_side(tmp_path: Path) -> None:
    rnd = random.Random(5)
    old = [rec(i) for i in range(3000)]
    new = [rec(10_000 + i) for i in range(300)]
    mixed = old[:]
    for r in new:  # new examples interleaved, not only appended
        mixed.insert(rnd.randrange(len(mixed) + 1), r)
    a = split_path(
        write(tmp_path / "a.jsonl", old), tmp_path / "a", SplitOptions(eval_fraction=0.1)
    )
    b = split_path(
        write(tmp_path / "b.jsonl", mixed), tmp_path / "b", SplitOptions(eval_fraction=0.1)
    )
    assert a["counts"]["eval"] == 300 and b["counts"]["eval"] == 330

    def by_id(out: Path) -> dict[str, str]:
        res = {}
        for s in ("train", "eval"):
            for line in (out / f"{s}.provenance.jsonl").read_text().splitlines():
                res[json.loads(line)["id"]] = s
        return res

    before, after = by_id(tmp_path / "a"), by_id(tmp_path / "b")
    kept = sum(before[i] == after[i] for i in before)
    assert kept / len(before) >= 0.99, kept


@pytest.mark.parametrize("method", ["hash", "sklearn"])
def test_stratified_split_keeps_each_share_within_one(tmp_path: Path, method: str) -> None:
    langs = ["en"] * 523 + ["de"] * 211 + ["fr"] * 97 + ["ja"] * 13
    random.Random(1).shuffle(langs)
    rows = [rec(i, lang=lang) for i, lang in enumerate(langs)]
    src = write(tmp_path / "in.jsonl", rows)
    out = tmp_path / method
    m = split_path(
        src, out, SplitOptions(eval_fraction=0.15, stratify_by="metadata.lang", method=method)
    )
    n_eval = m["counts"]["eval"]
    where = sides(out)
    ev = Counter(langs[line - 1] for line, s in where.items() if s == "eval")
    total = Counter(langs)
    for lang, n in total.items():
        assert abs(ev[lang] - n * n_eval / len(langs)) <= 1, (lang, ev[lang])
        assert m["strata"][lang]["eval"] == ev[lang]
    assert abs(n_eval - 0.15 * len(langs)) <= 1


def test_stratify_by_tokens_and_source_format(tmp_path: Path) -> None:
    m = split_path(CHAT, tmp_path / "tok", SplitOptions(eval_fraction=0.25, stratify_by="tokens"))
    assert set(m["strata"]) <= {"<=128", "<=256", "<=512", "<=1024", "<=2048", "<=4096"}
    assert sum(s["examples"] for s in m["strata"].values()) == 120
    m = split_path(
        CHAT, tmp_path / "fmt", SplitOptions(eval_fraction=0.25, stratify_by="source.format")
    )
    assert set(m["strata"]) == {"alpaca", "sharegpt"}


def test_bad_lines_are_rejected_with_reasons_and_counted(tmp_path: Path) -> None:
    m = split_path(BAD, tmp_path, SplitOptions(eval_size=1))
    c = m["counts"]
    assert c["read"] == 10 and c["blank_lines"] == 1
    assert c["read"] == c["train"] + c["eval"] + c["rejected"]
    assert c["rejected_by_reason"] == {
        "invalid_encoding": 1,
        "invalid_json": 1,
        "invalid_messages": 1,
        "mixed_kinds": 1,
        "not_an_object": 1,
        "not_chat_record": 1,
    }
    rejects = [json.loads(x) for x in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    by_line = {r["source"]["line"]: r for r in rejects}
    assert by_line[2]["reason"] == "invalid_json" and by_line[2]["record"] == '{"messages": ['
    assert by_line[5]["message"].startswith("not a canonical chat record: has chosen, prompt")
    assert "curate ingest" in by_line[5]["message"]
    assert by_line[7]["record"]["preferred_output"][0]["content"] == "y"


def test_manifest_records_hashes_counts_tokens_and_version(tmp_path: Path) -> None:
    import curate

    m = split_path(CHAT, tmp_path, SplitOptions(eval_size=20, seed=3))
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(m))
    assert m["input"]["sha256"] == file_sha256(CHAT)
    assert m["curate_version"] == curate.__version__
    assert m["seed"] == 3 and m["options"]["eval_size"] == 20 and m["options"]["format"] == "openai"
    for name, info in m["files"].items():
        assert info["sha256"] == file_sha256(tmp_path / name)
    assert m["files"]["train.jsonl"]["rows"] == m["counts"]["train"] == 100
    assert m["files"]["eval.jsonl"]["rows"] == m["counts"]["eval"] == 20
    assert m["tokens"]["train"] > 0 and m["tokens"]["eval"] > 0
    assert m["groups"]["train"] + m["groups"]["eval"] == m["groups"]["total"]


def test_usage_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(CurateError, match="one of --eval-fraction or --eval-size, not both"):
        split_path(CHAT, tmp_path, SplitOptions(eval_fraction=0.2, eval_size=3))
    with pytest.raises(CurateError, match="leaves no training data"):
        split_path(CHAT, tmp_path, SplitOptions(eval_size=120))
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="file is empty"):
        split_path(empty, tmp_path / "o", SplitOptions(eval_size=1))
    with pytest.raises(CurateError, match="--stratify-by"):
        split_path(CHAT, tmp_path / "o", SplitOptions(eval_size=5, stratify_by=""))


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from curate.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_cli_split_json_human_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = str(tmp_path / "o")
    code, out, err = cli(
        capsys, "split", str(CHAT), "-o", out_dir, "--eval-fraction", "0.1", "--json"
    )
    assert code == 0, err
    m = json.loads(out)
    assert m["counts"]["train"] + m["counts"]["eval"] == 120
    code, out, _ = cli(capsys, "split", str(BAD), "-o", out_dir, "--eval-size", "1", "--no-near")
    assert code == 0
    assert "read 10: train 3" in out and "eval 1" in out and "rejected 6" in out
    assert "straddling groups 0, shared duplicate keys 0, shared prompts 0" in out
    code, _, err = cli(
        capsys, "split", str(CHAT), "-o", out_dir, "--eval-size", "3", "--group-by", "topic"
    )
    assert code == 2
    assert "--group-by 'topic' is not one of: both, cluster, prompt, none" in err
    assert "Traceback" not in err


def test_token_counts_match_curate_validate(tmp_path: Path) -> None:
    from curate.validate import validate_path

    m = split_path(CHAT, tmp_path, SplitOptions(eval_size=10, model="gpt-3.5-turbo", near=False))
    report = validate_path([CHAT], model="gpt-3.5-turbo")
    assert m["tokens"]["encoding"] == "cl100k_base"
    assert m["tokens"]["train"] + m["tokens"]["eval"] == report.tokens_total


def test_bom_crlf_and_gzip_inputs(tmp_path: Path) -> None:
    import gzip

    lines = [json.dumps(rec(i)) for i in range(10)]
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    m = split_path(crlf, tmp_path / "a", SplitOptions(eval_size=2, near=False))
    assert (m["counts"]["train"], m["counts"]["eval"], m["counts"]["rejected"]) == (8, 2, 0)
    gz = tmp_path / "in.jsonl.gz"
    gz.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    m2 = split_path(gz, tmp_path / "b", SplitOptions(eval_size=2, near=False))
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (
        tmp_path / "b" / "train.jsonl"
    ).read_bytes()
    assert m2["input"]["sha256"] == file_sha256(gz)


@pytest.mark.parametrize(
    "name",
    [
        "train.jsonl",
        "eval.jsonl",
        "train.provenance.jsonl",
        "rejected.jsonl",
        "manifest.json",
        "dataset_info.json",
        "axolotl.yaml",
    ],
)
def test_an_input_named_like_any_output_is_refused(tmp_path: Path, name: str) -> None:
    src = write(tmp_path / name, [rec(i) for i in range(10)])
    before = src.read_bytes()
    with pytest.raises(CurateError, match=rf"{name}: the {name} output is also an input of split"):
        split_path(src, tmp_path, SplitOptions(eval_size=2))
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing else written


def test_output_may_not_overwrite_the_input(tmp_path: Path) -> None:
    src = write(tmp_path / "train.jsonl", [rec(i) for i in range(10)])
    with pytest.raises(CurateError, match=r"the train\.jsonl output is also an input of split"):
        split_path(src, tmp_path, SplitOptions(eval_size=2))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(CurateError, match="exists and is not a folder"):
        split_path(src, tmp_path / "afile", SplitOptions(eval_size=2))
    assert len(src.read_text().splitlines()) == 10


def test_records_without_a_prompt_are_not_one_group(tmp_path: Path) -> None:
    rows = [
        {"id": f"a{i}", "messages": [{"role": "assistant", "content": f"note {i}"}]}
        for i in range(10)
    ]
    m = split_path(write(tmp_path / "in.jsonl", rows), tmp_path / "o", SplitOptions(eval_size=3))
    assert m["groups"]["total"] == 10 and m["counts"]["eval"] == 3
    assert m["leakage"]["shared_prompts"] == 0


def test_mixed_kinds_keep_the_majority(tmp_path: Path) -> None:
    pref = {
        "input": {"messages": [{"role": "user", "content": "Pick one"}]},
        "preferred_output": [{"role": "assistant", "content": "A"}],
        "non_preferred_output": [{"role": "assistant", "content": "B"}],
    }
    chat = [
        {
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ]
        }
        for i in range(9)
    ]
    pref2 = {**pref, "input": {"messages": [{"role": "user", "content": "Pick two"}]}}
    m = split_path(
        write(tmp_path / "mixed.jsonl", [pref, *chat, pref2]),
        tmp_path / "out",
        SplitOptions(eval_size=2),
    )
    assert m["kind"] == "sft"
    assert m["counts"]["train"] + m["counts"]["eval"] == 9
    assert m["counts"]["rejected_by_reason"] == {"mixed_kinds": 2}
    rejected = [
        json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().split("\n") if x
    ]
    assert "--kind preference" in rejected[0]["message"]
    # the minority kind, asked for by name: the two preference pairs, nine chats rejected
    m2 = split_path(
        tmp_path / "mixed.jsonl",
        tmp_path / "pref",
        SplitOptions(eval_size=1, kind="preference", near=False),
    )
    assert m2["kind"] == "preference" and m2["options"]["kind"] == "preference"
    assert m2["counts"]["rejected_by_reason"] == {"mixed_kinds": 9}


def test_eval_takes_a_tenth_when_no_size_is_given(tmp_path: Path) -> None:
    m = split_path(CHAT, tmp_path, SplitOptions(near=False))
    n = m["counts"]["train"] + m["counts"]["eval"]
    assert m["options"]["eval_fraction"] == 0.1
    assert abs(m["counts"]["eval"] - 0.1 * n) <= max(2, 0.05 * n)  # whole groups move together
