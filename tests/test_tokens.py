from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.records import CurateError
from curate.tokens import (
    MODELS,
    Counter,
    count_example,
    count_examples,
    default_epochs,
    encoding_for_model,
    get_encoding,
    install_rank_files,
    model_spec,
)


def test_pinned_token_ids() -> None:
    assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_offline_in_a_fresh_process_with_an_empty_cache(tmp_path: Path) -> None:
    """No network, no cache: curate writes verified rank files and tiktoken loads them."""
    code = (
        "import socket\n"
        "def no_net(*a, **k): raise OSError('network disabled in this test')\n"
        "socket.socket.connect = no_net\n"
        "from curate.tokens import get_encoding\n"
        "import tiktoken\n"
        "get_encoding('o200k_base')\n"
        "print(tiktoken.encoding_for_model('gpt-4.1').encode('hello world'),"
        " tiktoken.get_encoding('cl100k_base').encode('hello world'))\n"
    )
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
    }
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[24912, 2375] [15339, 1917]"
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    urls = [
        f"https://openaipublic.blob.core.windows.net/encodings/{n}.tiktoken"
        for n in ("o200k_base", "cl100k_base")
    ]
    rank_files = [hashlib.sha1(u.encode()).hexdigest() for u in urls]
    assert files == sorted(rank_files)  # tiktoken's own files; the parsed ranks: curate's cache
    assert len(list((tmp_path / "xdg" / "curate" / "tokens").iterdir())) == 1


def test_parsed_ranks_cache_loads_the_same_encoding_and_survives_corruption(
    tmp_path: Path,
) -> None:
    """The marshal cache of parsed ranks gives tiktoken's own encoding; a damaged cache
    file is ignored and rewritten."""
    code = (
        "import sys, tiktoken\n"
        "from curate.tokens import get_encoding, _load_parsed_ranks\n"
        "cached = _load_parsed_ranks(sys.argv[1]) is not None\n"
        "e = get_encoding(sys.argv[1])\n"
        "ref = tiktoken.get_encoding(sys.argv[1])\n"
        "text = 'Hello <|endoftext|> wörld  \\n\\n  1234567 ünïcödé 🙂'\n"
        "same = (e.encode_ordinary(text) == ref.encode_ordinary(text)"
        " and e.encode(text, allowed_special='all') == ref.encode(text, allowed_special='all')"
        " and e.n_vocab == ref.n_vocab and e.name == ref.name)\n"
        "print(cached, same)\n"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}

    def run(name: str) -> str:
        r = subprocess.run(
            [sys.executable, "-c", code, name], env=env, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    for name in ("o200k_base", "cl100k_base"):
        assert run(name) == "False True"  # first use: parsed from the rank file, then cached
        assert run(name) == "True True"  # loaded from the marshal cache
        (ranks,) = sorted((tmp_path / "curate" / "tokens").iterdir(), key=os.path.getmtime)[-1:]
        blob = ranks.read_bytes()
        ranks.write_bytes(blob[:32] + b"x" + blob[33:])  # damaged: the sha256 no longer matches
        assert run(name) == "False True"
        assert ranks.read_bytes() == blob  # rewritten


def test_corrupted_cache_file_is_replaced(tmp_path: Path) -> None:
    folder = install_rank_files(tmp_path)
    victim = next(folder.iterdir())
    victim.write_bytes(b"garbage")
    install_rank_files(tmp_path)
    assert hashlib.sha256(victim.read_bytes()).hexdigest() in {
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    }


def test_model_table_uses_tiktokens_mapping() -> None:
    for name, spec in MODELS.items():
        assert encoding_for_model(name) == spec.encoding, name
        assert spec.max_tokens > 0 and spec.price_per_million > 0
    assert model_spec("gpt-4o-mini-2024-07-18").name == "gpt-4o-mini"
    assert model_spec("gpt-3.5-turbo").max_tokens == 16385
    with pytest.raises(CurateError, match=r"unknown model 'llama'\. Known: gpt-4\.1"):
        model_spec("llama")


def test_cookbook_formula() -> None:
    enc = get_encoding("cl100k_base")
    msgs = [
        {"role": "system", "content": "Be brief.", "name": "sys"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there"},
    ]
    expected = 3 + 3 * 3 + 1 + sum(len(enc.encode(v)) for m in msgs for v in m.values())
    c = count_example(msgs, encoding_name="cl100k_base")
    assert (c.total, c.assistant) == (expected, len(enc.encode("hello there")))


def test_special_token_text_counts_as_plain_text() -> None:
    counter = Counter("o200k_base")
    enc = get_encoding("o200k_base")
    assert counter.count("a <|endoftext|> b") == len(
        enc.encode("a <|endoftext|> b", disallowed_special=())
    )


def test_counter_memo_gives_same_counts() -> None:
    counter = Counter("o200k_base")
    texts = ["user", "You are helpful.", "user", "x" * 5000, "You are helpful."]
    first = counter.count_many(texts)
    assert counter.count_many(texts) == first
    assert first[0] == first[2]


@pytest.mark.parametrize(
    ("n", "epochs"),
    [(1, 25), (5, 20), (10, 10), (34, 3), (100, 3), (8333, 3), (8334, 2), (25000, 1), (100000, 1)],
)
def test_default_epochs(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs


# The chunked counter (Counter on o200k_base / cl100k_base) sums the counts of space-led
# chunks; these compare it with tiktoken's own count on text built to stress the split:
# every kind of Unicode whitespace before and after spaces, marks, digits, contractions,
# CJK without spaces, punctuation runs, special-token strings.
_ALPHABET = (
    "aAzZéÉßıİ  \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2003\u2028\u202f\u3000"
    "0123456789²½'’\".,;:!?-_/\\()[]{}<>@#$%^&*=+~`|"
    "\u0301\u0308日本語中文한국어\u0627\u0644\u05d0🙂👍🏽\u200b\u200d"
)


def _assert_counts_as_tiktoken(texts: list[str]) -> None:
    for name in ("o200k_base", "cl100k_base"):
        c = Counter(name, memo_size=0)
        expected = [len(c.enc.encode_ordinary(t)) for t in texts]
        assert c.count_many(texts) == expected
        assert c.count_many(texts) == expected  # warm memo: same counts


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=_ALPHABET, max_size=60), min_size=1, max_size=8))
def test_chunked_counter_equals_tiktoken(texts: list[str]) -> None:
    _assert_counts_as_tiktoken(texts)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_chunked_counter_on_words_with_every_whitespace(name: str) -> None:
    words = ["Hello", "world", "don't", "I'm", "123456", "x²", "日本語", "<|endoftext|>", ""]
    spaces = [" ", "  ", "\n ", " \n", "\t ", "\xa0 ", " \xa0", "\u3000 ", "\r\n "]
    texts = [a + s + b for a in words for s in spaces for b in words]
    texts += [" " + t for t in texts] + [t + " " for t in texts]
    c = Counter(name, memo_size=0)
    assert c.count_many(texts) == [len(c.enc.encode_ordinary(t)) for t in texts]


# Chunks are also cut after a line break followed by neither whitespace nor "/": text
# dense in line breaks, punctuation, slashes and contractions stresses that cut.
_LINES = "ab.Z,/\\n\n\n\n\r \t1'’-\u0301日\u3000\x85"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=_LINES, max_size=40), min_size=1, max_size=8))
def test_chunks_cut_after_line_breaks_count_as_tiktoken(texts: list[str]) -> None:
    _assert_counts_as_tiktoken(texts)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_paragraph_joins_count_as_tiktoken_and_reuse_pieces(name: str) -> None:
    heads = ["end.", "end", "list:", "x)", "1", "'", "a/", "done!\r"]
    breaks = ["\n", "\n\n", "\r\n", "\n\n\n", "\n\r\n", "\n \n"]
    tails = ["Next", "/usr", "1.", "- item", "'s", "\u0301a", "日本", "(x)", " y", "\tz"]
    texts = [f"A {h}{b}{t} B" for h in heads for b in breaks for t in tails]
    c = Counter(name, memo_size=0)
    assert c.count_many(texts) == [len(c.enc.encode_ordinary(t)) for t in texts]
    # "end.\n\nNext" is counted as " end.\n\n" + "Next": pieces, not the joined chunk
    assert c._after_space.pieces.get(" end.\n\n") is not None


def test_chunked_counter_on_real_text(samples: Path) -> None:
    import json

    texts: list[str] = []
    for r in json.loads((samples / "alpaca_en_demo.json").read_text(encoding="utf-8"))[:300]:
        texts += [str(v) for v in r.values() if v]
    c = Counter("o200k_base", memo_size=0)
    assert c.count_many(texts) == [len(c.enc.encode_ordinary(t)) for t in texts]


def _plain_formula(messages: list[object], tools: object, enc: object) -> tuple[int, int]:
    """The cookbook's formula written the plain way, one message at a time."""

    def n(v: object) -> int:
        if v is None:
            return 0
        t = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        return len(enc.encode_ordinary(t))  # type: ignore[attr-defined]

    total, asst = 3, 0
    for m in messages:
        total += 3
        if not isinstance(m, dict):
            continue
        total += sum(n(v) for v in m.values()) + ("name" in m)
        if m.get("role") == "assistant":
            c = m.get("content")
            if isinstance(c, str):
                asst += n(c)
            elif isinstance(c, list):
                parts = [p if isinstance(p, str) else p.get("text") for p in c
                         if isinstance(p, dict | str)]  # fmt: skip
                # the parts one per line, as every stage reads content (records.content_text)
                asst += n("\n".join(p for p in parts if isinstance(p, str)) or None)
    return total + n(tools), asst


_VALUE = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(),
    st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=9)})),
    st.dictionaries(st.text(max_size=3), st.text(max_size=5), max_size=2),
)
_MESSAGE = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system"]), "content": st.text(max_size=30)}
    ),
    st.fixed_dictionaries(
        {"role": st.sampled_from(["assistant", "tool"]), "content": _VALUE},
        optional={"name": st.text(max_size=5), "weight": st.integers(0, 1), "tool_calls": _VALUE},
    ),
    st.dictionaries(st.sampled_from(["role", "content", "name", "x"]), _VALUE, max_size=4),
    st.integers(),
)


@settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.lists(st.tuples(st.lists(_MESSAGE, max_size=5), _VALUE), max_size=4))
def test_count_examples_equals_the_plain_formula(items: list[tuple[list[object], object]]) -> None:
    enc = get_encoding("cl100k_base")
    got = count_examples(items, Counter("cl100k_base"))
    assert [(c.total, c.assistant) for c in got] == [_plain_formula(m, t, enc) for m, t in items]


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
@pytest.mark.parametrize(
    "text",
    [
        "def f(x):\n    if x:\n        return  x\n\n\n    return None  ",
        "a  b   c    d     e\t f\t\t  g\n \n  h\r\n  i\x0b j\x0c k",
        "keeps\x01its own  control\x01character",  # the placeholder itself: cut by regex
        "  leading and trailing  ",
        "x\u00a0 y\u3000  z\u2028 w",  # other whitespace before a space: cut by regex
    ],
)
def test_texts_with_whitespace_before_spaces_count_as_tiktoken(name: str, text: str) -> None:
    counter = Counter(name)
    enc = get_encoding(name)
    for t in (text, text * 3, text.replace("  ", "   ")):
        assert counter.count_many([t]) == [len(enc.encode_ordinary(t))]


def test_whole_text_memo_is_bounded_in_characters() -> None:
    c = Counter("o200k_base", memo_chars=1000)
    texts = [f"unique text number {i} " * 10 for i in range(200)]  # ~230 characters each
    for i in range(0, 200, 10):
        assert c.count_many(texts[i : i + 10]) == [
            len(c.enc.encode_ordinary(t)) for t in texts[i : i + 10]
        ]
    # the batch that crossed the budget was kept, nothing after it
    assert 1000 <= sum(map(len, c._memo)) < 1000 + 10 * 240
    assert c.count_many(texts[-3:]) == [len(c.enc.encode_ordinary(t)) for t in texts[-3:]]


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.text(alphabet=_ALPHABET + _LINES, max_size=300),
        st.text(alphabet="    \n\n\t/.ab'日", max_size=120),  # dense in whitespace runs
    )
)
def test_long_texts_counted_by_segments_count_as_tiktoken(
    monkeypatch_module: pytest.MonkeyPatch, text: str
) -> None:
    # segments of ~8 characters instead of 64K, for texts over 16 instead of 1M
    _assert_counts_as_tiktoken([text, text * 3, "abcdefghi    jk    lm   "])


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    import curate.tokens as tokens

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tokens, "_LONG_TEXT", 16)
        mp.setattr(tokens, "_SEGMENT", 8)
        yield mp


def test_a_long_text_is_cut_into_segments() -> None:
    text = ("A line of words.\n\nAnother one, indented:\n    x = 1  \n" * 40_000)[:1_500_000]
    c = Counter("o200k_base")
    seen: list[int] = []
    segment = c._count_segment
    c._count_segment = lambda t: seen.append(len(t)) or segment(t)  # type: ignore[method-assign]
    assert c.count(text) == len(c.enc.encode_ordinary(text))
    assert len(seen) > 20 and max(seen) < (1 << 16) + 100


# -- issue 22, item 5: any model name with both --max-tokens and --price ----------------------


def test_unknown_model_with_limit_and_price_is_accepted() -> None:
    spec = model_spec("gpt-5", max_tokens=8192, price=5)
    assert (spec.name, spec.encoding, spec.max_tokens, spec.price_per_million) == (
        "gpt-5",
        "o200k_base",  # tiktoken's own mapping for gpt-5
        8192,
        5.0,
    )
    assert model_spec("my-llama-ft", max_tokens=4096, price=0).encoding == "o200k_base"
    assert model_spec("my-llama-ft", max_tokens=4096, priced=False).max_tokens == 4096
    with pytest.raises(CurateError, match=r"give --max-tokens and --price for another\.$"):
        model_spec("gpt-5")
    with pytest.raises(CurateError, match=r"\(you gave --max-tokens; add --price\)"):
        model_spec("gpt-5", max_tokens=8192)
    with pytest.raises(CurateError, match=r"\(you gave --price; add --max-tokens\)"):
        model_spec("gpt-5", price=5)
    # a known model keeps its own table entry
    assert model_spec("gpt-4o-mini", max_tokens=10, price=1).max_tokens == 65536


def test_cli_validate_any_model_with_max_tokens_and_price(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from curate.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            main(["validate", good, "--model", "gpt-5", "--no-content", *args])
        out, err = capsys.readouterr()
        return int(e.value.code or 0), out, err

    good = str(Path(__file__).resolve().parents[1] / "fixtures/openai/good.jsonl")
    code, out, err = run("--max-tokens", "8192", "--price", "5", "--json")
    assert code == 0, err
    billing = json.loads(out)["billing"]
    assert billing["model"] == "gpt-5"
    assert billing["encoding"] == "o200k_base"
    assert billing["max_tokens"] == 8192
    assert billing["price_per_million_tokens"] == 5.0
    n = billing["n_billing_tokens"] * billing["epochs"]
    assert billing["estimated_cost_usd"] == pytest.approx(n * 5 / 1e6)
    code, out, err = run("--price", "5")
    assert code == 2
    assert "(you gave --price; add --max-tokens)" in " ".join(err.split())
