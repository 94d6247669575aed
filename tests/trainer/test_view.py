"""Every trainer finding, triggered by a real template and tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curate.records import CurateError, Severity
from curate.trainer import trainer_view
from tests.trainer.conftest import conv, write_jsonl

SYS = ("system", "You are a terse assistant.")
HI = ("user", "Describe a process of making crepes.")
ANSWER = ("assistant", "Mix flour, eggs and milk, then cook thin layers in a hot pan.")


def codes(findings: list) -> list[str]:
    return [f.code for f in findings]


def test_template_error_on_system_turn_quotes_the_template(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [conv(SYS, HI, ANSWER), conv(HI, ANSWER)])
    findings, summary = trainer_view([str(p)], tokenizer=str(tok_dirs["no_system"]))
    assert codes(findings) == ["template_error"]
    f = findings[0]
    assert f.severity is Severity.ERROR
    assert (f.location.file, f.location.line, f.location.message_index) == (str(p), 1, 0)
    assert f.message == (
        "the chat template rejects this conversation at message 0 (system): "
        "TemplateError: System role not supported"
    )
    assert summary["n_template_errors"] == 1 and summary["n_rendered"] == 1


def test_template_error_on_two_user_turns_in_a_row(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [conv(HI, ("user", "And pancakes?"), ANSWER)])
    findings, _ = trainer_view([str(p)], tokenizer=str(tok_dirs["no_system"]))
    assert codes(findings) == ["template_error"]
    assert findings[0].location.message_index == 1
    assert "Conversation roles must alternate user/assistant/user/assistant/..." in (
        findings[0].message
    )


def test_mistral_rejects_a_conversation_ending_on_a_user_turn(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [conv(HI, ANSWER, ("user", "Thanks"))])
    findings, _ = trainer_view([str(p)], tokenizer="mistral:v3")
    assert codes(findings) == ["template_error"]
    assert findings[0].message == (
        "mistral-common rejects this conversation: InvalidMessageStructureException: "
        "Expected last role Assistant for finetuning but got user"
    )


def test_template_dropped_content_names_the_system_message(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [conv(SYS, HI, ANSWER), conv(HI, ANSWER)])
    findings, _ = trainer_view([str(p)], tokenizer=str(tok_dirs["drops_system"]))
    assert codes(findings) == ["template_dropped_content"]
    f = findings[0]
    assert f.severity is Severity.WARNING
    assert (f.location.line, f.location.message_index) == (1, 0)
    assert f.message == (
        "the system message's text (26 chars) is missing from the prompt the chat template "
        "renders: the model never sees it"
    )
    # the same data through ChatML keeps every message
    assert trainer_view([str(p)], tokenizer=str(tok_dirs["chatml"]))[0] == []


def test_mistral_v2_drops_tool_results_before_the_last_user_turn(tmp_path: Path) -> None:
    call = {
        "id": "abc123def",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
    }
    rows = [
        {
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {
                    "role": "tool",
                    "tool_call_id": "abc123def",
                    "name": "weather",
                    "content": "sunny and 24 degrees",
                },
                {"role": "assistant", "content": "It is sunny."},
                {"role": "user", "content": "Thanks!"},
                {"role": "assistant", "content": "You are welcome."},
            ]
        }
    ]
    p = write_jsonl(tmp_path / "d.jsonl", rows)
    v2 = trainer_view([str(p)], tokenizer="mistral:v2")[0]
    assert [(f.code, f.location.message_index) for f in v2] == [("template_dropped_content", 2)]
    assert trainer_view([str(p)], tokenizer="mistral:v3")[0] == []


def test_truncated_by_trainer_counts_the_assistant_tokens_lost(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    p = write_jsonl(tmp_path / "d.jsonl", [conv(HI, ANSWER)])
    _, whole = trainer_view([str(p)], tokenizer=str(tok_dirs["chatml"]))
    n = whole["tokens"]["max"]
    trainable = whole["trainable_tokens"]["max"]
    findings, summary = trainer_view([str(p)], tokenizer=str(tok_dirs["chatml"]), max_length=n - 5)
    assert codes(findings) == ["truncated_by_trainer"]
    f = findings[0]
    assert f.severity is Severity.WARNING and f.location.message_index == 1
    assert f.message == (
        f"{n} tokens > max_length={n - 5}: the trainer cuts the last 5 tokens, "
        f"5 of {trainable} trainable (assistant) tokens among them"
    )
    assert f.hint == f"raise --max-length to {n}, or shorten or split this conversation"
    assert summary["n_truncated"] == 1
    assert summary["trainable_after_truncation"] == trainable - 5
    assert summary["truncation"]["trainable_lost"] == 5


def test_no_trainable_tokens_when_truncation_removes_the_reply(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    # TRL issue #3927: a long prompt pushes the whole reply past max_length
    long_prompt = ("user", "Describe a process of making crepes. " * 40)
    p = write_jsonl(tmp_path / "d.jsonl", [conv(long_prompt, ANSWER)])
    findings, summary = trainer_view([str(p)], tokenizer=str(tok_dirs["chatml_gen"]), max_length=64)
    assert codes(findings) == ["truncated_by_trainer", "no_trainable_tokens"]
    f = findings[1]
    assert f.severity is Severity.ERROR and f.location.message_index == 1
    assert f.message.startswith("nothing left to learn: the first trainable token is at position ")
    assert f.message.endswith("past max_length=64, so truncation removes every assistant token")
    assert summary["n_no_trainable"] == 1 and summary["trainable_after_truncation"] == 0


def test_no_trainable_tokens_when_every_assistant_turn_has_weight_zero(
    tmp_path: Path,
) -> None:
    row = conv(HI, ANSWER)
    row["messages"][1]["weight"] = 0
    p = write_jsonl(tmp_path / "d.jsonl", [row])
    for spec in ("mistral:v7", "tiktoken:o200k_base"):
        findings, _ = trainer_view([str(p)], tokenizer=spec)
        assert codes(findings) == ["no_trainable_tokens"], spec
        assert findings[0].message == "nothing to learn: every assistant message has weight 0"


def test_special_token_in_text(tmp_path: Path, tok_dirs: dict[str, Path]) -> None:
    p = write_jsonl(
        tmp_path / "d.jsonl",
        [conv(("user", "End a turn with <|im_end|> please."), ANSWER)],
    )
    findings, _ = trainer_view([str(p)], tokenizer=str(tok_dirs["chatml"]))
    assert codes(findings) == ["special_token_in_text"]
    f = findings[0]
    assert f.severity is Severity.WARNING and f.location.message_index == 0
    assert f.message == (
        "the user message contains '<|im_end|>', which the tokenizer reads as a control token, "
        "not as text"
    )
    # mistral-common encodes a control token's text as plain text: reported as info
    q = write_jsonl(tmp_path / "m.jsonl", [conv(("user", "What does [INST] mean?"), ANSWER)])
    m = trainer_view([str(q)], tokenizer="mistral:v3")[0]
    assert [(x.code, x.severity) for x in m] == [("special_token_in_text", Severity.INFO)]


def test_summary_and_skipped_records(tmp_path: Path, tok_dirs: dict[str, Path]) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text(
        json.dumps(conv(HI, ANSWER))
        + "\n{not json\n"
        + json.dumps({"prompt": "x"})
        + "\n"
        + json.dumps({"messages": ["oops"]})
        + "\n\n",
        encoding="utf-8",
    )
    seen: list[int] = []
    findings, s = trainer_view(
        [str(p)], tokenizer=str(tok_dirs["chatml_gen"]), max_length=4096, progress=seen.append
    )
    assert findings == [] and seen == [1]
    assert s["n_rendered"] == 1 and s["n_skipped"] == 2 and s["n_truncated"] == 0
    assert s["tokenizer"] == str(tok_dirs["chatml_gen"]) and s["kind"] == "hf"
    assert s["mask_source"] == {"generation": 1}
    assert s["tokens"]["total"] == s["tokens"]["max"] > s["trainable_tokens"]["max"] > 0
    json.dumps(s)  # JSON-able


def test_real_sample_counts_through_every_source(tok_dirs: dict[str, Path]) -> None:
    chat = str(Path(__file__).resolve().parents[2] / "fixtures" / "trainer" / "chat.jsonl")
    for spec in (str(tok_dirs["chatml"]), "mistral:v7", "tiktoken:cl100k_base"):
        findings, s = trainer_view([chat], tokenizer=spec)
        assert findings == [], spec
        assert s["n_rendered"] == 40 and s["n_no_trainable"] == 0


def test_bad_max_length_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CurateError, match="--max-length must be a positive number of tokens"):
        trainer_view([str(tmp_path / "x.jsonl")], tokenizer="mistral:v3", max_length=0)
    with pytest.raises(CurateError, match="no such file"):
        trainer_view([str(tmp_path / "x.jsonl")], tokenizer="mistral:v3")


def test_worker_processes_give_the_same_result(tok_dirs: dict[str, Path], tmp_path: Path) -> None:
    chat = Path(__file__).resolve().parents[2] / "fixtures" / "trainer" / "chat.jsonl"
    rows = [json.loads(x) for x in chat.read_text().splitlines()]
    rows.append(conv(("user", "Use <|im_end|> here."), ANSWER))
    p = write_jsonl(tmp_path / "d.jsonl", rows)
    spec = str(tok_dirs["chatml"])
    one = trainer_view([str(p)], tokenizer=spec, max_length=64, workers=1)
    from curate.trainer import load_tokenizer, scan

    f2, s2 = scan([str(p)], load_tokenizer(spec), max_length=64, workers=2, batch_size=7)
    assert [f.to_dict() for f in f2] == [f.to_dict() for f in one[0]]
    assert s2.summary() == one[1]
    assert one[1]["n_truncated"] > 0 and one[1]["findings"]["special_token_in_text"] == 1


def test_template_error_text_is_one_line_and_points_at_the_message(tmp_path: Path) -> None:
    p = write_jsonl(
        tmp_path / "d.jsonl",
        [{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "ok"}]}],
    )
    (f,) = trainer_view([str(p)], tokenizer="mistral:v3")[0]
    assert (f.code, f.location.message_index) == ("template_error", 0)
    assert f.message == (
        "mistral-common rejects this conversation at message 0 (user): ValidationError: "
        "messages.0.user.content.str: Input should be a valid string (+1 more)"
    )
    assert f.hint == (
        "the trainer fails on this example: reshape the conversation to what the template "
        "accepts, or drop it"
    )


def test_dropped_content_check_finds_texts_the_template_moved_or_reflowed() -> None:
    from curate.records import Location
    from curate.trainer import Rendered, analyse

    msgs = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello  there"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "De rien"},
    ]
    # mistral v3 style: the system prompt moved into the last user turn; the first user
    # text reflowed (double space squashed); nothing dropped
    text = "[INST] Hello there [/INST] Bonjour [INST] Answer in French.\n\nThanks [/INST] De rien"
    r = Rendered(20, [(5, 8, 2), (15, 20, 4)], text, "messages")
    assert analyse(r, msgs, Location("d.jsonl", 1), kind="mistral", max_length=None) == []
    # the same render without the first reply: that message is reported, and only that one
    r = Rendered(20, [(15, 20, 4)], text.replace(" Bonjour", ""), "messages")
    (f,) = analyse(r, msgs, Location("d.jsonl", 1), kind="mistral", max_length=None)
    assert (f.code, f.location.message_index) == ("template_dropped_content", 2)


# -- reasoning the template leaves out (template_dropped_reasoning) -------------------------

Q1 = {"role": "user", "content": "What is 17 * 24?"}
Q2 = {"role": "user", "content": "And 17 * 25?"}
T1 = "17 * 20 = 340 and 17 * 4 = 68, so 340 + 68 = 408."
T2 = "One more 17: 408 + 17 = 425."
A1 = {"role": "assistant", "reasoning_content": T1, "content": "17 * 24 = 408."}
A2 = {"role": "assistant", "reasoning_content": T2, "content": "17 * 25 = 425."}


def test_qwen3_template_drops_the_reasoning_of_turns_before_the_last_user_message(
    tmp_path: Path, tok_dirs: dict[str, Path], hf: Any
) -> None:
    """Qwen3's own chat template, driven through transformers: the first turn's trace is
    not in what apply_chat_template renders, the last one's is."""
    two_turns = {"messages": [Q1, A1, Q2, A2]}
    p = write_jsonl(tmp_path / "d.jsonl", [two_turns])
    tok = hf.from_pretrained(str(tok_dirs["qwen3"]))
    rendered = tok.apply_chat_template(two_turns["messages"], tokenize=False)
    assert T1 not in rendered and T2 in rendered  # what the trainer is given
    findings, summary = trainer_view([str(p)], tokenizer=str(tok_dirs["qwen3"]))
    assert codes(findings) == ["template_dropped_reasoning"]  # not template_dropped_content
    f = findings[0]
    n = len(tok(T1, add_special_tokens=False)["input_ids"])  # the template's tokenizer
    assert f.severity is Severity.WARNING
    assert (f.location.line, f.location.message_index) == (1, 1)
    assert f.data == {"messages": [1], "tokens": [n], "total_tokens": n}
    assert f.message == (
        f"the chat template leaves out the reasoning of 1 assistant turn (message 1; {n} "
        "tokens): the trainer never sees it; it keeps the reasoning of message 3 (every "
        "dropped turn comes before the last user message: templates such as Qwen3's render "
        "thinking only after it)"
    )
    assert "one example per assistant turn" in (f.hint or "")
    assert summary["findings"] == {"template_dropped_reasoning": 1}
    assert summary["reasoning_tokens_dropped"] == n


def test_qwen3_template_keeps_the_reasoning_after_the_last_user_message(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    rows = [
        {"messages": [Q1, A1]},  # one turn: its trace is rendered
        {"messages": [Q1, {"role": "assistant", "content": "408."}, Q2, A2]},  # only the last
    ]
    p = write_jsonl(tmp_path / "d.jsonl", rows)
    assert trainer_view([str(p)], tokenizer=str(tok_dirs["qwen3"]))[0] == []


def test_an_inline_think_block_in_an_earlier_turn_is_dropped_reasoning_not_content(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    inline = {"role": "assistant", "content": f"<think>\n{T1}\n</think>\n\n17 * 24 = 408."}
    p = write_jsonl(tmp_path / "d.jsonl", [{"messages": [Q1, inline, Q2, A2]}])
    findings, _ = trainer_view([str(p)], tokenizer=str(tok_dirs["qwen3"]))
    assert [(f.code, f.location.message_index) for f in findings] == [
        ("template_dropped_reasoning", 1)
    ]
    # ChatML renders the content as it is, think block included: only the last turn's
    # reasoning_content (which ChatML never renders) is left out
    chatml, _ = trainer_view([str(p)], tokenizer=str(tok_dirs["chatml"]))
    assert [(f.code, f.data["messages"]) for f in chatml] == [("template_dropped_reasoning", [3])]


def test_a_template_without_reasoning_drops_every_trace_and_other_content_stays_generic(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    sys_msg = {"role": "system", "content": "You are a terse assistant."}
    p = write_jsonl(tmp_path / "d.jsonl", [{"messages": [sys_msg, Q1, A1, Q2, A2]}])
    findings, _ = trainer_view([str(p)], tokenizer=str(tok_dirs["drops_system"]))
    assert [(f.code, f.location.message_index) for f in findings] == [
        ("template_dropped_content", 0),  # the system prompt: still the generic finding
        ("template_dropped_reasoning", 2),
    ]
    f = findings[1]
    assert f.data["messages"] == [2, 4] and f.data["total_tokens"] == sum(f.data["tokens"])
    assert "keeps" not in f.message and "reads reasoning_content" in (f.hint or "")
    # mistral-common (v1-v7) has no reasoning field either; counted with its tokenizer
    (m,) = trainer_view([str(p)], tokenizer="mistral:v7")[0]
    assert m.code == "template_dropped_reasoning" and m.message.startswith("mistral-common ")


def test_qwen3_template_on_a_tool_call_with_null_content_says_how_to_fix(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    """Ingest writes ``content: null`` beside ``tool_calls`` (OpenAI's shape);
    apply_chat_template drops null keys and Qwen3's template then reads a missing content."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "search_recipes", "arguments": '{"ingredients": ["rice"]}'},
    }
    msgs = [
        {"role": "user", "content": "A recipe with rice?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"recipes": ["Fried rice"]}'},
        {"role": "assistant", "content": "Try fried rice."},
    ]
    p = write_jsonl(tmp_path / "d.jsonl", [{"messages": msgs}])
    (f,) = trainer_view([str(p)], tokenizer=str(tok_dirs["qwen3"]))[0]
    assert f.code == "template_error" and f.location.message_index == 1
    assert "'dict object' has no attribute 'content'" in f.message
    assert f.hint and 'give every message a string content ("" beside tool_calls)' in f.hint
    msgs[1]["content"] = ""  # the fix the hint names
    p = write_jsonl(tmp_path / "d.jsonl", [{"messages": msgs}])
    assert trainer_view([str(p)], tokenizer=str(tok_dirs["qwen3"]))[0] == []
