from __future__ import annotations

from curate.dedup.text import (
    exact_key,
    normalize_text,
    prompt_key,
    raw_turns,
    scope_text,
    scope_turns,
)
from curate.records import Example, Location


def chat(*turns: tuple[str, str]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


def test_normalize_nfkc_case_whitespace() -> None:
    assert normalize_text("Ｆｕｌｌ\u00a0width\r\n\tTEXT ") == "full width text"
    assert normalize_text("ﬁle") == "file"  # NFKC ligature
    assert normalize_text("STRASSE") == normalize_text("straße")  # casefold


def test_scopes_pick_turns() -> None:
    ex = chat(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("tool", "x"))
    assert scope_turns(ex, "user") == [("system", "be brief."), ("user", "hi")]
    assert scope_turns(ex, "assistant") == [("assistant", "hello")]
    assert scope_text(ex) == "be brief.\nhi\nhello\nx"


def test_exact_key_ignores_case_space_and_provenance_but_not_roles() -> None:
    a = chat(("user", "Hi there"), ("assistant", "Hello"))
    b = {**chat(("user", "hi  there "), ("assistant", "HELLO")), "id": "x", "source": "y"}
    assert exact_key(a) == exact_key(b)
    swapped = chat(("assistant", "Hi there"), ("user", "Hello"))
    assert exact_key(a) != exact_key(swapped)


def test_content_parts_tool_calls_and_preference_records() -> None:
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
    assert scope_text(parts) == "hi"
    call = {
        "messages": [
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
        ]
    }
    assert '"name":"f"' in scope_text(call, "assistant")
    pref = {
        "input": {"messages": [{"role": "user", "content": "Q"}]},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}],
    }
    assert raw_turns(pref) == [("user", "Q"), ("assistant", "good"), ("assistant", "bad")]


def test_non_chat_values_compare_on_canonical_json() -> None:
    assert exact_key({"b": 1, "a": 2}) == exact_key({"a": 2, "b": 1})
    assert exact_key([1, 2]) != exact_key([2, 1])
    assert exact_key(None) != exact_key("null ")


def test_prompt_key_accepts_examples_and_ignores_answers() -> None:
    a = Example(chat(("user", "2+2?"), ("assistant", "4")), Location("f", 1))
    b = chat(("user", "2+2?"), ("assistant", "four"))
    c = chat(("system", "Pirate."), ("user", "2+2?"), ("assistant", "4"))
    assert prompt_key(a) == prompt_key(b) != prompt_key(c)
    assert len(prompt_key(a)) == 32


def test_whitespace_collapse_equals_the_regex_on_every_code_point() -> None:
    import re
    import sys
    import unicodedata

    ws = re.compile(r"\s+")
    for cp in range(sys.maxunicode + 1):
        t = f" a{chr(cp)}{chr(cp)}b \t"
        folded = unicodedata.normalize("NFKC", t).casefold()
        assert normalize_text(t) == ws.sub(" ", folded).strip(), hex(cp)
