"""Dedup with or without reasoning traces (issue 21): ``--reasoning exclude`` (default)
compares prompt and final answer only; ``include`` compares the traces too; either way the
copy with more reasoning is the one kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.dedup.core import DuplicateIndex, Params, featurize
from curate.dedup.run import dedup_paths, featurize_lines
from curate.dedup.text import exact_key, raw_turns, reasoning_chars, split_trace
from tests.conftest import FIXTURES
from tests.conftest import run_cli as run

# lines 1-3: one question and answer, without a trace, with a short reasoning_content, with
# a longer inline <think> block; 4-5: another question, a long and a short trace (5 also
# differs in case and spacing); 6-7: a DPO record whose preferred output has a short and a
# longer trace
FILE = FIXTURES / "dedup/reasoning.jsonl"


def lines() -> list[dict]:
    return [json.loads(x) for x in FILE.read_text(encoding="utf-8").splitlines()]


def test_traces_are_left_out_of_the_key_by_default() -> None:
    a, b, c = lines()[:3]
    assert exact_key(a) == exact_key(b) == exact_key(c)
    assert exact_key(b, reasoning="include") != exact_key(c, reasoning="include")
    assert exact_key(a, reasoning="include") != exact_key(b, reasoning="include")
    # the inline block is split off like ingest does; the answer alone is compared
    assert raw_turns(c)[1] == ("assistant", "There are 10,080 minutes in a week.")
    assert raw_turns(b, "include")[1][1].startswith("7 days * 24 hours")


def test_reasoning_counts_as_information() -> None:
    recs = lines()
    assert reasoning_chars(recs[0]) == 0
    assert 0 < reasoning_chars(recs[1]) < reasoning_chars(recs[2])
    assert reasoning_chars(recs[6]) > reasoning_chars(recs[5]) > 0  # preference outputs
    trace, content = split_trace({"role": "assistant", "thinking": "t", "content": "a"})
    assert (trace, content) == ("t", "a")
    # as ingest splits: <thinking> blocks, DeepSeek-R1's trace</think>answer, Qwen3's empty
    # block; a block inside the answer, a mention or an ambiguous shape stays answer text
    assert split_trace({"content": "<thinking>t</thinking>a"}) == ("t", "a")
    assert split_trace({"content": "t\n</think>\n\na"}) == ("t", "a")
    assert split_trace({"content": "<think>\n\n</think>\n\na"}) == ("", "a")
    assert split_trace({"content": "x <think>y</think>"}) == ("", "x <think>y</think>")
    assert split_trace({"content": "use `</think>`"}) == ("", "use `</think>`")
    assert split_trace({"content": "a</think>b</think>"}) == ("", "a</think>b</think>")
    assert split_trace({"reasoning": "r", "content": "a"}) == ("r", "a")


def test_default_keeps_the_copy_with_the_longest_trace(tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    s = dedup_paths([FILE], out)
    assert (s.read, s.kept, s.removed_exact, s.reasoning) == (7, 3, 4, "exclude")
    assert s.conflicting_answers == 0
    kept = [json.loads(x) for x in out.read_text().splitlines()]
    # the inline-<think> copy (line 3), the long trace (line 4), the longer DPO trace (line 7)
    assert kept == [lines()[2], lines()[3], lines()[6]]
    rejects = [json.loads(x) for x in s.rejects and Path(s.rejects).read_text().splitlines()]
    assert [(r["source"]["line"], r["reason"]) for r in rejects] == [
        (1, "exact_duplicate"), (2, "exact_duplicate"), (5, "exact_duplicate"),
        (6, "exact_duplicate"),
    ]  # fmt: skip
    assert "reasoning.jsonl:3" in rejects[0]["message"]


def test_keep_first_ignores_the_traces(tmp_path: Path) -> None:
    s = dedup_paths([FILE], tmp_path / "k.jsonl", keep="first")
    kept = [json.loads(x) for x in (tmp_path / "k.jsonl").read_text().splitlines()]
    assert s.kept == 3 and kept == [lines()[0], lines()[3], lines()[5]]


def test_include_compares_the_traces(tmp_path: Path) -> None:
    s = dedup_paths([FILE], tmp_path / "k.jsonl", reasoning="include")
    assert (s.kept, s.removed_exact, s.removed_near, s.reasoning) == (7, 0, 0, "include")
    # conflicting answers are about the final answers: the same one with other traces is not
    assert s.conflicting_answers == 0
    # a true copy (trace included) is still a duplicate
    dup = tmp_path / "dup.jsonl"
    text = FILE.read_text(encoding="utf-8")
    dup.write_text(text + text.splitlines()[1] + "\n", encoding="utf-8")
    s2 = dedup_paths([dup], tmp_path / "k2.jsonl", reasoning="include")
    assert (s2.read, s2.kept, s2.removed_exact) == (8, 7, 1)


def test_the_option_reaches_the_shared_feature_function() -> None:
    """Both engines featurize through featurize_lines(file, lines, params): the mode is a
    field of Params, so the signature stays and the Ray engine agrees by passing Params."""
    raw = [(i + 1, line.encode()) for i, line in enumerate(FILE.read_text().splitlines())]
    ex = featurize_lines(str(FILE), raw, Params()).features
    inc = featurize_lines(str(FILE), raw, Params(reasoning="include")).features
    assert ex.exact[0] == ex.exact[1] == ex.exact[2]
    assert len(set(inc.exact[:3].tolist())) == 3
    # the answer key ignores traces in both modes; the information measure counts them
    assert (ex.answer == inc.answer).all()
    assert ex.answer_chars[2] > ex.answer_chars[1] > ex.answer_chars[0]
    assert inc.answer_chars[2] > inc.answer_chars[1] > inc.answer_chars[0]
    idx = DuplicateIndex(Params())
    idx.add(featurize(lines(), idx.params))
    assert idx.solve().status.tolist().count(0) == 3
    with pytest.raises(ValueError, match="unknown reasoning mode 'both'"):
        Params(reasoning="both")


def test_cli_option_and_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["dedup", str(FILE), "--json"], capsys)
    assert code == 0 and json.loads(out)["kept"] == 3
    code, out, _ = run(["dedup", str(FILE), "--reasoning", "include", "--json"], capsys)
    assert code == 0 and json.loads(out)["kept"] == 7 and json.loads(out)["reasoning"] == "include"
    code, _, err = run(["dedup", str(FILE), "--reasoning", "both"], capsys)
    assert code == 2 and "both" in err
    # [tool.curate.dedup] reasoning = "include" is read; a wrong value exits 2 naming it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.curate.dedup]\nreasoning = "include"\n')
    code, out, _ = run(["dedup", str(FILE), "--json"], capsys)
    assert code == 0 and json.loads(out)["kept"] == 7
    code, out, _ = run(["dedup", str(FILE), "--reasoning", "exclude", "--json"], capsys)
    assert code == 0 and json.loads(out)["kept"] == 3  # the command line wins
    (tmp_path / "pyproject.toml").write_text('[tool.curate.dedup]\nreasoning = "yes"\n')
    code, _, err = run(["dedup", str(FILE), "--json"], capsys)
    assert code == 2
    assert "[tool.curate.dedup] reasoning: expected one of exclude, include" in err


def test_run_config_and_engine_keywords(tmp_path: Path) -> None:
    """``[dedup] reasoning`` of a ``curate run`` config reaches dedup; both engines take the
    keyword (the default needs none); an unknown mode is refused with a clear message."""
    from curate.dedup.run import reasoning_kwargs
    from curate.pipeline import run_config
    from curate.records import CurateError

    assert reasoning_kwargs("exclude", "ray") == {}
    assert reasoning_kwargs("include") == {"reasoning": "include"}
    assert reasoning_kwargs("include", "ray") == {"reasoning": "include"}  # Ray takes it too
    with pytest.raises(CurateError, match="unknown reasoning mode 'x'"):
        reasoning_kwargs("x")
    chat = FILE.read_text(encoding="utf-8").splitlines()[:5]  # the DPO lines are another format
    (tmp_path / "raw.jsonl").write_text("\n".join(chat) + "\n")
    kept = {}
    for mode in ("exclude", "include"):
        cfg = tmp_path / f"{mode}.toml"
        cfg.write_text(
            f'[run]\nworkdir = "build-{mode}"\nfail_on = "never"\n'
            f'[ingest]\ninputs = ["raw.jsonl"]\n[dedup]\nreasoning = "{mode}"\n'
            "[split]\neval_size = 1\n"
        )
        s = run_config(str(cfg))
        (ded,) = [st for st in s["stages"] if st["name"] == "dedup"]
        kept[mode] = ded["counts"]["kept"]
    assert kept == {"exclude": 2, "include": 5}
