from __future__ import annotations

from tests.ingest.helpers import FIXTURES, reasons, run


def test_language_modelling_rows_are_rejected_as_not_chat_and_kept() -> None:
    good, bad = run(FIXTURES / "text" / "lm.jsonl")
    assert good == []
    assert reasons(bad) == [(1, "not_chat"), (2, "not_chat")]
    assert bad[0].record == {
        "text": "The sky is blue. It has been blue for as long as anyone remembers."
    }
    assert bad[0].source.format == "text"


def test_text_next_to_messages_is_chat(tmp_path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text(
        '{"text": "<s>[INST] hi [/INST] hello</s>", "messages": [{"role": "user", "content": "hi"},'
        ' {"role": "assistant", "content": "hello"}]}\n'
    )
    good, bad = run(p)
    assert bad == [] and good[0]["source"]["format"] == "openai"
    assert good[0]["metadata"] == {"text": "<s>[INST] hi [/INST] hello</s>"}
