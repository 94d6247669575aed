"""Counts and masks equal what the real libraries give, example by example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curate.records import CurateError
from curate.tokens import Counter, count_examples
from curate.trainer import Rendered, TemplateFailure, load_tokenizer
from curate.trainer.backends import MISTRAL_FILES, _mask_span, _require

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "fixtures" / "trainer" / "chat.jsonl"


def chats() -> list[list[dict[str, Any]]]:
    return [json.loads(line)["messages"] for line in CHAT.read_text().splitlines()]


def rendered(items: list[Rendered | TemplateFailure]) -> list[Rendered]:
    assert all(isinstance(r, Rendered) for r in items), items
    return items  # type: ignore[return-value]


def test_counts_and_mask_equal_apply_chat_template_with_generation_markers(
    tok_dirs: dict[str, Path], hf: Any
) -> None:
    tok = load_tokenizer(str(tok_dirs["chatml_gen"]))
    ref = hf.from_pretrained(str(tok_dirs["chatml_gen"]))
    data = chats()
    got = rendered(tok.render_batch([(m, None) for m in data]))
    for msgs, r in zip(data, got, strict=True):
        out = ref.apply_chat_template(
            msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        mask = [0] * len(out["input_ids"])
        for s, e, _ in r.spans:
            mask[s:e] = [1] * (e - s)
        assert r.n_tokens == len(out["input_ids"])
        assert mask == list(out["assistant_masks"])
        assert r.mask_source == "generation"
    # every assistant turn's span is tied to its message
    assert [mi for _, _, mi in got[0].spans] == [2, 4]


def test_truncation_saved_in_tokenizer_json_is_ignored_like_transformers_does(
    tok_dirs: dict[str, Path], hf: Any, tmp_path: Path
) -> None:
    # curate calls the Rust tokenizer directly; a tokenizer.json saved with truncation and
    # padding on must still count what apply_chat_template counts (transformers turns
    # both off before encoding)
    src = hf.from_pretrained(str(tok_dirs["chatml_gen"]))
    src.backend_tokenizer.enable_truncation(max_length=8)
    src.backend_tokenizer.enable_padding(length=64)
    src.save_pretrained(str(tmp_path))
    assert json.loads((tmp_path / "tokenizer.json").read_text())["truncation"] is not None
    tok = load_tokenizer(str(tmp_path))
    ref = hf.from_pretrained(str(tmp_path))
    data = chats()
    got = rendered(tok.render_batch([(m, None) for m in data]))
    expected = [len(ref.apply_chat_template(m, tokenize=True)["input_ids"]) for m in data]
    assert [r.n_tokens for r in got] == expected
    assert max(expected) > 64


def test_prefix_mask_is_what_each_assistant_turn_adds(tok_dirs: dict[str, Path], hf: Any) -> None:
    tok = load_tokenizer(str(tok_dirs["chatml"]))
    ref = hf.from_pretrained(str(tok_dirs["chatml"]))
    data = chats()
    got = rendered(tok.render_batch([(m, None) for m in data]))
    for msgs, r in zip(data, got, strict=True):
        assert r.n_tokens == len(ref.apply_chat_template(msgs, tokenize=True)["input_ids"])
        assert r.mask_source == "prefix"
        added = 0
        for i, m in enumerate(msgs):
            if m["role"] != "assistant":
                continue
            prompt = ref.apply_chat_template(msgs[:i], tokenize=True, add_generation_prompt=True)
            full = ref.apply_chat_template(msgs[: i + 1], tokenize=True)
            added += len(full["input_ids"]) - len(prompt["input_ids"])
        assert r.trainable == added
    # the same conversations with generation markers learn the same text minus the final "\n"
    gen = rendered(load_tokenizer(str(tok_dirs["chatml_gen"])).render_batch([(data[0], None)]))
    assert got[0].trainable == gen[0].trainable + 2  # one "\n" token per assistant turn


def test_weight_zero_turn_is_not_trainable(tok_dirs: dict[str, Path]) -> None:
    msgs = chats()[0]
    weighted = [dict(m) for m in msgs]
    weighted[2]["weight"] = 0
    for name in ("chatml", "chatml_gen"):
        tok = load_tokenizer(str(tok_dirs[name]))
        full, part = rendered(tok.render_batch([(msgs, None), (weighted, None)]))
        assert [mi for *_, mi in part.spans] == [4]
        assert part.untrained == [2]
        assert part.trainable == full.spans[1][1] - full.spans[1][0]


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v3-tekken", "tekken", "v7"])
def test_mistral_counts_equal_encode_chat_completion(version: str) -> None:
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.base import SpecialTokenPolicy
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    tok = load_tokenizer(f"mistral:{version}")
    import importlib.resources

    path = importlib.resources.files("mistral_common") / "data" / MISTRAL_FILES[version]
    ref = MistralTokenizer.from_file(str(path), mode=ValidationMode.finetuning)
    data = chats()
    got = rendered(tok.render_batch([(m, None) for m in data]))
    for msgs, r in zip(data, got, strict=True):
        tokens = ref.encode_chat_completion(ChatCompletionRequest(messages=msgs)).tokens
        assert r.n_tokens == len(tokens)
        # the text the checks read: the tokens decoded by mistral-common, control tokens out
        assert r.text == ref.decode(tokens, special_token_policy=SpecialTokenPolicy.IGNORE)
        # each assistant span ends with the end-of-sequence token, as mistral-finetune trains it
        assert [tokens[e - 1] for _, e, _ in r.spans] == [
            ref.instruct_tokenizer.tokenizer.eos_id
        ] * len(r.spans)
        assert [mi for *_, mi in r.spans] == [
            i for i, m in enumerate(msgs) if m["role"] == "assistant"
        ]


def test_mistral_decode_keeps_its_policy_outside_render_batch() -> None:
    from mistral_common.tokens.tokenizers.base import SpecialTokenPolicy

    tok = load_tokenizer("mistral:v3")
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    (r,) = rendered(tok.render_batch([(msgs, None)]))
    assert r.text == "Hi Hello."
    ids = tok.tok.encode_chat_completion(tok._request(messages=msgs)).tokens  # type: ignore[attr-defined]
    keep = tok.tok.decode(ids, special_token_policy=SpecialTokenPolicy.KEEP)  # type: ignore[attr-defined]
    assert keep.startswith("<s>[INST]") and "[/INST]" in keep


def test_mistral_versions_place_the_system_prompt_differently() -> None:
    msgs = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "De rien"},
    ]
    texts = {}
    for v in ("v1", "v3", "v7"):
        (r,) = rendered(load_tokenizer(f"mistral:{v}").render_batch([(msgs, None)]))
        texts[v] = r.text
    assert texts["v1"].index("Answer in French") < texts["v1"].index("Hello")  # first user turn
    assert texts["v3"].index("Answer in French") > texts["v3"].index("Bonjour")  # last user turn
    assert texts["v7"].startswith("Answer in French")  # its own [SYSTEM_PROMPT] block


def test_tiktoken_totals_equal_the_cookbook_count() -> None:
    tok = load_tokenizer("tiktoken:cl100k_base")
    data = chats()
    got = rendered(tok.render_batch([(m, None) for m in data]))
    ref = count_examples([(m, None) for m in data], Counter("cl100k_base"))
    assert [r.n_tokens for r in got] == [c.total for c in ref]
    assert [r.trainable for r in got] == [c.assistant for c in ref]


def test_mask_span_uses_the_transformers_overlap_rule() -> None:
    offsets = [(0, 3), (3, 5), (5, 5), (5, 9), (9, 12)]
    n = len(offsets)
    assert _mask_span(offsets.__getitem__, n, 4, 9) == (1, 4)  # tokens straddling the start
    assert _mask_span(offsets.__getitem__, n, 5, 9) == (3, 4)  # the empty token is not included
    assert _mask_span(offsets.__getitem__, n, 12, 20) == (5, 5)  # past the end: nothing


def test_load_errors_say_what_to_do(tmp_path: Path, tok_dirs: dict[str, Path]) -> None:
    with pytest.raises(CurateError, match=r"no such folder \(.*\)\. Pass a tokenizer folder"):
        load_tokenizer(str(tmp_path / "missing" / "x y"))
    with pytest.raises(CurateError, match="not in the local Hugging Face cache"):
        load_tokenizer("nobody-here/NoSuchModel-0.1B")
    with pytest.raises(CurateError, match="is a file; pass the folder"):
        load_tokenizer(str(tok_dirs["chatml"] / "tokenizer.json"))
    with pytest.raises(CurateError, match=r"no tokenizer\.json or tokenizer_config\.json"):
        load_tokenizer(str(tmp_path))
    with pytest.raises(
        CurateError, match=r"unknown Mistral tokenizer 'v9'\. Use one of mistral:v1"
    ):
        load_tokenizer("mistral:v9")
    with pytest.raises(CurateError, match="unknown or unavailable tiktoken encoding 'nope'"):
        load_tokenizer("tiktoken:nope")
    with pytest.raises(
        CurateError, match=r"Install the trainer extra: pip install 'curate\[trainer\]'"
    ):
        _require("curate_no_such_module")


def test_tokenizer_without_chat_template_is_refused(
    tmp_path: Path, tok_dirs: dict[str, Path], hf: Any
) -> None:
    base = hf.from_pretrained(str(tok_dirs["chatml"]))
    base.chat_template = None
    base.save_pretrained(str(tmp_path / "base"))
    (tmp_path / "base" / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(CurateError, match="has no chat_template"):
        load_tokenizer(str(tmp_path / "base"))


def _mixed_batch() -> list[list[dict[str, Any]]]:
    """The fixture chats plus the cases a batched render must isolate: a weight-0 turn,
    a null content (dropped before rendering, as apply_chat_template does), a null
    optional key, two user turns in a row, a lone system turn."""
    data = chats()
    weighted = [dict(m) for m in data[0]]
    weighted[2]["weight"] = 0
    return [
        *data[:6],
        weighted,
        [{"role": "user", "content": None}, {"role": "assistant", "content": "ok"}],
        [{"role": "user", "content": "hi", "name": None}, {"role": "assistant", "content": "yo"}],
        [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
        [{"role": "system", "content": "Be brief."}],
        *data[6:12],
    ]


def _as_tuple(r: Rendered | TemplateFailure) -> tuple[Any, ...]:
    if isinstance(r, TemplateFailure):
        return ("failure", r.message, r.message_index)
    return (r.n_tokens, r.spans, r.text, r.mask_source, r.untrained)


@pytest.mark.parametrize("name", ["chatml", "chatml_gen", "no_system", "drops_system"])
def test_batched_render_equals_one_conversation_at_a_time_and_apply_chat_template(
    name: str, tok_dirs: dict[str, Path], hf: Any
) -> None:
    from curate.trainer.backends import error_text

    tok = load_tokenizer(str(tok_dirs[name]))
    ref = hf.from_pretrained(str(tok_dirs[name]))
    data = _mixed_batch()
    batched = tok.render_batch([(m, None) for m in data])
    alone = [tok.render_batch([(m, None)])[0] for m in data]
    assert [_as_tuple(r) for r in batched] == [_as_tuple(r) for r in alone]
    failures = []
    for k, (msgs, r) in enumerate(zip(data, batched, strict=True)):
        try:
            ids = ref.apply_chat_template(msgs, tokenize=True)["input_ids"]
        except Exception as e:  # the template's own error, quoted the same way
            assert isinstance(r, TemplateFailure), (name, msgs)
            assert r.message == error_text(e)
            failures.append(k)
            continue
        assert isinstance(r, Rendered), (name, msgs, r)
        assert r.n_tokens == len(ids)
        assert r.text == ref.apply_chat_template(msgs, tokenize=False)
    # the null content (7) fails in ChatML and Zephyr; Gemma's template renders it empty
    # (`| trim`) but rejects every conversation opening on a system turn and the two user
    # turns in a row (9)
    expected = [7]
    if name == "no_system":
        expected = sorted([9, *(k for k, m in enumerate(data) if m[0]["role"] == "system")])
    assert failures == expected
    # without the failing ones the batch renders in one call: still the same results
    ok = [k for k in range(len(data)) if k not in failures]
    fast = tok.render_batch([(data[k], None) for k in ok])
    assert [_as_tuple(r) for r in fast] == [_as_tuple(alone[k]) for k in ok]
    if name == "chatml_gen":
        weighted = batched[6]
        assert isinstance(weighted, Rendered) and weighted.untrained == [2]
        assert [mi for *_, mi in weighted.spans] == [4]


def test_null_content_fails_with_the_error_apply_chat_template_raises(
    tok_dirs: dict[str, Path],
) -> None:
    tok = load_tokenizer(str(tok_dirs["chatml"]))
    msgs = [{"role": "user", "content": None}, {"role": "assistant", "content": "ok"}]
    (r,) = tok.render_batch([(msgs, None)])
    assert r == TemplateFailure("UndefinedError: 'dict object' has no attribute 'content'", 0)


@pytest.mark.parametrize("name", ["chatml_gen", "no_system", "mistral:v3"])
def test_batched_checks_equal_one_conversation_at_a_time_with_truncation(
    name: str, tok_dirs: dict[str, Path]
) -> None:
    from curate.records import Location
    from curate.trainer.view import check_batch

    tok = load_tokenizer(name if ":" in name else str(tok_dirs[name]))
    items = [(Location("d.jsonl", i + 1), m, None) for i, m in enumerate(_mixed_batch())]
    batched = check_batch(tok, items, 40)
    alone = [check_batch(tok, [it], 40)[0] for it in items]
    assert batched == alone
    codes = {f.code for c in batched for f in c.findings}
    assert {"truncated_by_trainer", "template_error"} <= codes


def test_mistral_never_downloads_a_remote_image(tmp_path: Path) -> None:
    """mistral-common's Pixtral tokenizer (mistral:tekken) downloads an http(s) image to
    encode it; curate refuses the conversation instead, saying why."""
    from curate.trainer import trainer_view

    part = {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}}
    row = {
        "messages": [
            {"role": "user", "content": [part, {"type": "text", "text": "What is this?"}]},
            {"role": "assistant", "content": "A cat."},
        ]
    }
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps(row) + "\n")
    (f,) = trainer_view([str(p)], tokenizer="mistral:tekken")[0]
    assert f.code == "template_error"
    assert "remote URL (https://example.invalid/cat.png)" in f.message
    assert "curate never downloads" in f.message
