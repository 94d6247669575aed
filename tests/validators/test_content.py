"""Content validators through the real validate pipeline, on real-looking fixtures."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from curate.records import Example, Location, Severity
from curate.validate import validate_path
from curate.validators.content import (
    RULES,
    content_validators,
    iter_texts,
    mask,
    missing_extras,
    severities,
)
from tests.conftest import write_jsonl

CONTENT_CODES = set(RULES)


def _content(paths: list[Path], config: dict | None = None) -> list:
    rep = validate_path([str(p) for p in paths], validators=content_validators(config))
    return [f for f in rep.findings if f.code in CONTENT_CODES]


def _rows(findings: list) -> list[tuple[int, int | None, str]]:
    return [(f.location.line, f.location.message_index, f.code) for f in findings]


def test_secrets_fixture_every_line_found(fixtures: Path) -> None:
    pytest.importorskip("detect_secrets")  # the [content] extra
    found = _content([fixtures / "content/secrets.jsonl"])
    assert _rows(found) == [
        (1, 0, "secret_token"),
        (2, 1, "secret_token"),
        (3, 1, "secret_token"),
        (4, 0, "secret_private_key"),
        (5, 1, "secret_password_in_url"),
        (6, 1, "secret_token"),
        (7, 0, "secret_token"),
        (8, 0, "secret_high_entropy"),
        (9, 0, "secret_token"),
        (10, 0, "secret_token"),
        (11, 0, "secret_token"),
        (12, 0, "secret_token"),
    ]
    rules = [f.data["rule"] for f in found]
    assert rules == [
        "openai_key",
        "aws_access_key",
        "github_token",
        "private_key",
        "password_in_url",
        "slack_token",
        "stripe_key",
        "keyword_entropy",
        "anthropic_key",
        "google_api_key",
        "huggingface_token",
        "jwt",
    ]
    assert found[1].message == "aws access key AKIA…RT (20 chars) in assistant message"
    assert found[1].severity is Severity.ERROR
    assert found[7].severity is Severity.WARNING


def test_secret_spans_point_at_the_secret_and_messages_mask_it(fixtures: Path) -> None:
    found = _content([fixtures / "content/secrets.jsonl"])
    rows = [ln for ln in (fixtures / "content/secrets.jsonl").read_text().splitlines()]
    import json

    for f in found:
        text = dict((fld, t) for fld, _, _, t in iter_texts(json.loads(rows[f.location.line - 1])))[
            f.data["field"]
        ]
        s, e = f.data["span"]
        secret = text[s:e]
        assert len(secret) >= 10
        assert secret not in f.message  # never the whole secret
    gh = found[2]
    text = json.loads(rows[2])["messages"][1]["content"]
    s, e = gh.data["span"]
    assert text[s:e] == "ghp_R8kLm2QzX4vN7bTc1YwP9dHs6FjA3eGu5KoE"
    pw = found[4]
    text = json.loads(rows[4])["messages"][1]["content"]
    assert text[slice(*pw.data["span"])] == "Tr0ub4dor-x93Q"


def test_look_alikes_of_secrets_are_not_secrets(fixtures: Path) -> None:
    # commit hashes, checksums, AWS's documented example key, os.environ, UUIDs,
    # "username:password@localhost", base64 images, long class names
    assert _content([fixtures / "content/secrets_clean.jsonl"]) == []


def test_pii_fixture(fixtures: Path) -> None:
    found = _content([fixtures / "content/pii.jsonl"])
    assert _rows(found) == [
        (1, 0, "pii_email"),
        (1, 1, "pii_phone"),
        (2, 1, "pii_credit_card"),
        (3, 1, "pii_iban"),
        (4, 0, "pii_ip_address"),
        (5, 1, "pii_phone"),
    ]
    assert [f.message for f in found] == [
        "e-mail address m***@outlook.com in user message",
        "phone number …58 in assistant message",
        "card number …1486 in assistant message",
        "IBAN DE…3000 in assistant message",
        "IP address 52.14.201.x in user message",
        "phone number …09 in assistant message",
    ]
    assert [f.severity.value for f in found] == [
        "warning",
        "warning",
        "error",
        "error",
        "info",
        "warning",
    ]


def test_pii_allowed_in_user_turns_but_not_assistant(fixtures: Path) -> None:
    found = _content([fixtures / "content/pii.jsonl"], {"pii_allowed_roles": ["user"]})
    assert _rows(found) == [
        (1, 1, "pii_phone"),
        (2, 1, "pii_credit_card"),
        (3, 1, "pii_iban"),
        (5, 1, "pii_phone"),
    ]


def test_look_alikes_of_pii_are_not_pii(fixtures: Path) -> None:
    # example.com, versions and dates, Stripe's test card, private IPs and 8.8.8.8,
    # the fictional 555 numbers, a 13-digit sum, an ISBN
    assert _content([fixtures / "content/pii_clean.jsonl"]) == []


def test_text_fixture(fixtures: Path) -> None:
    pytest.importorskip("ftfy")  # the [content] extra
    pytest.importorskip("py3langid")  # the [content] extra
    found = _content([fixtures / "content/text.jsonl"])
    assert _rows(found) == [
        (1, 1, "template_placeholder"),
        (1, 1, "template_placeholder"),
        (2, 1, "template_placeholder"),
        (2, 1, "template_placeholder"),
        (3, 1, "assistant_boilerplate"),
        (4, 1, "assistant_refusal"),
        (5, 1, "prompt_echo"),
        (6, 1, "truncated_reply"),
        (7, 1, "truncated_reply"),
        (8, 1, "truncated_reply"),
        (8, 1, "repetition_loop"),
        (9, 1, "mojibake"),
        (10, 1, "control_characters"),
        (11, 1, "language_mismatch"),
    ]
    msgs = {(f.location.line, f.code): f.message for f in found}
    assert msgs[(1, "template_placeholder")] == (
        "unfilled placeholder '{{author}}' in assistant message"
    )
    assert msgs[(3, "assistant_boilerplate")] == (
        "AI boilerplate 'As an AI language model' in assistant message"
    )
    assert msgs[(7, "truncated_reply")] == "reply cut off (open code block) in assistant message"
    assert msgs[(6, "truncated_reply")] == "reply cut off (ends with 'the') in assistant message"
    assert msgs[(10, "control_characters")] == (
        "1 control character(s), first U+000C at 16 in assistant message"
    )
    assert msgs[(11, "language_mismatch")].startswith("reply in 'es', prompt in 'en' (confidence")
    first = found[0]
    assert first.data == {"span": [12, 20], "rule": "mustache", "field": "messages[1].content"}
    assert first.hint == "fill the template in (or drop the example) before training"


def test_normal_text_has_no_text_findings(fixtures: Path) -> None:
    # f-strings in code, LaTeX, a requested translation, an identity answer, "I cannot
    # stress enough", one-word and list answers, Vue templates, HTML tags, citations,
    # correct French, a markdown table
    assert _content([fixtures / "content/text_clean.jsonl"]) == []


def test_severity_config_changes_and_turns_off(fixtures: Path) -> None:
    cfg = {"pii": "error", "pii_ip_address": "off", "secrets": "off"}
    found = _content([fixtures / "content/pii.jsonl", fixtures / "content/secrets.jsonl"], cfg)
    assert {f.code for f in found} == {"pii_email", "pii_phone", "pii_credit_card", "pii_iban"}
    assert {f.severity for f in found} == {Severity.ERROR}


def test_config_errors_name_valid_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown \[tool.curate.content\] key\(s\) pii_emial"):
        content_validators({"pii_emial": "off"})
    with pytest.raises(ValueError, match=r"valid keys: .*pii_email.*"):
        content_validators({"pii_emial": "off"})
    with pytest.raises(ValueError, match=r"pii = 'fatal': choose one of error, warning, info, off"):
        content_validators({"pii": "fatal"})
    with pytest.raises(ValueError, match="pii_allowed_roles must be a list of role names"):
        content_validators({"pii_allowed_roles": "user"})


def test_a_rules_thresholds_are_set_with_its_severity() -> None:
    loop = "Sure. " + "I will help you. " * 20  # 346 characters, a loop
    ex = Example(
        {
            "messages": [
                {"role": "user", "content": "Help?"},
                {"role": "assistant", "content": loop},
            ]
        },
        Location("t.jsonl", 1),
    )

    def found(config: dict) -> list[tuple[str, str]]:
        return [(f.code, f.severity.value) for v in content_validators(config) for f in v.check(ex)]

    assert found({}) == [("repetition_loop", "warning")]
    assert found({"repetition_loop": {"severity": "error"}}) == [("repetition_loop", "error")]
    assert found({"repetition_loop": {"min_chars": 400}}) == []  # the reply is shorter
    with pytest.raises(
        ValueError, match=r"unknown setting\(s\) min_char \(did you mean min_chars\?\)"
    ):
        content_validators({"repetition_loop": {"min_char": 400}})
    with pytest.raises(ValueError, match=r"min_chars = 'many': must be a number"):
        content_validators({"repetition_loop": {"min_chars": "many"}})
    with pytest.raises(ValueError, match=r"choose one of error, warning, info, off"):
        content_validators({"repetition_loop": {"severity": "loud"}})


def test_everything_off_means_no_validators() -> None:
    assert content_validators({"secrets": "off", "pii": "off", "text": "off"}) == []
    assert severities()["secret_token"] == "error"
    assert severities()["language_mismatch"] == "info"


def test_validators_pickle_for_worker_processes() -> None:
    for v in content_validators({"pii_allowed_roles": ["user"]}):
        clone = pickle.loads(pickle.dumps(v))
        assert clone == v


def test_parallel_run_matches_inline(tmp_path: Path, fixtures: Path) -> None:
    pytest.importorskip("detect_secrets")  # the [content] extra
    src = (fixtures / "content/secrets.jsonl").read_text() + (
        fixtures / "content/text.jsonl"
    ).read_text()
    big = tmp_path / "big.jsonl"
    big.write_text(src * 400)  # small: the parallel threshold is lowered below instead
    inline = validate_path([str(big)], validators=content_validators(), workers=1)
    import curate.validate as cv

    old = cv.PARALLEL_MIN_BYTES
    cv.PARALLEL_MIN_BYTES = 0
    try:
        par = validate_path([str(big)], validators=content_validators(), workers=2)
    finally:
        cv.PARALLEL_MIN_BYTES = old
    assert inline.total.findings_by_code == par.total.findings_by_code
    assert inline.total.findings_by_code["secret_token"] == 400 * 9


def test_preference_and_non_chat_records(tmp_path: Path) -> None:
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": "Who should I email?"}]},
            "preferred_output": [{"role": "assistant", "content": "Write to ops@acme-corp.io."}],
            "non_preferred_output": [
                {"role": "assistant", "content": "As an AI language model, I cannot know."}
            ],
        },
        {"instruction": "Sign the letter", "output": "Kind regards,\n[Your Name]"},
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "key AKIA4QZ7XJ2LKM9NB3RT"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "mail", "arguments": '{"to": "li.wei@qq.com"}'},
                        }
                    ],
                },
            ]
        },
    ]
    p = write_jsonl(tmp_path / "mixed.jsonl", rows)
    found = _content([p])
    got = [(f.location.line, f.code, f.data["field"]) for f in found]
    assert got == [
        (1, "pii_email", "preferred_output[0].content"),
        (1, "assistant_boilerplate", "non_preferred_output[0].content"),
        (2, "template_placeholder", "output"),
        (3, "secret_token", "messages[0].content[0].text"),
        (3, "pii_email", "messages[1].tool_calls[0].function.arguments"),
    ]


def test_odd_records_do_not_crash() -> None:
    vs = content_validators()
    for data in (None, 3, "text", [], {"messages": "x"}, {"messages": [None, 1, {"role": 5}]}):
        ex = Example(data, Location("f.jsonl", 1))
        assert [f for v in vs for f in v.check(ex)] == []


def test_mask_never_shows_a_whole_value() -> None:
    assert mask("AKIA4QZ7XJ2LKM9NB3RT", "secret_token") == "AKIA…RT (20 chars)"
    assert mask("short", "secret_high_entropy") == "*** (5 chars)"
    assert mask("DE89 3704 0044 0532 0130 00", "pii_iban") == "DE…3000"


def test_no_extras_missing_here() -> None:
    pytest.importorskip("detect_secrets")  # the [content] extra
    pytest.importorskip("ftfy")  # the [content] extra
    pytest.importorskip("py3langid")  # the [content] extra
    # the [content] extra is installed in this environment
    assert missing_extras() == []


def test_reduced_rule_set_without_the_extras(fixtures: Path) -> None:
    """Without detect-secrets, ftfy and py3langid validate still runs the content checks
    (built-in secret patterns, a short mojibake list, no language rule) and says so."""
    import subprocess
    import sys

    code = f"""
import sys
for name in ("detect_secrets", "ftfy", "py3langid"):
    sys.modules[name] = None
from curate.validate import validate_path
from curate.validators.content import content_validators, missing_extras
print(len(missing_extras()))
rep = validate_path([{str(fixtures / "content/secrets.jsonl")!r},
                     {str(fixtures / "content/text.jsonl")!r}],
                    validators=content_validators())
codes = rep.total.findings_by_code
print(codes["secret_token"], codes["mojibake"], codes.get("language_mismatch", 0))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    # 3 notes; 8 of the 9 provider tokens (Slack, Stripe, AWS, GitHub, OpenAI, Anthropic,
    # Google, Hugging Face are built in; JWT is detect-secrets only); mojibake still found
    assert out[0] == "3"
    assert int(out[1]) >= 7
    assert out[2] == "1"
    assert out[3] == "0"


# -- speed rewrites keep the same matches ----------------------------------------------


def _plain_forms() -> list[tuple[str, object, object]]:
    """(name, the readable lookbehind-first regex, the shipped fast form) pairs."""
    import re

    from curate.validators import pii, text_quality

    return [
        (
            "phone",
            re.compile(
                r"(?<![\w+\-/.])(?:"
                r"\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]\d{2,5}){1,4}"
                r"|\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}"
                r"|\d{3}[.\-]\d{3}[.\-]\d{4}"
                r")(?![\w\-/]|\.\d)"
            ),
            pii._PHONE_RE,
        ),
        (
            "card",
            re.compile(r"(?<![\w\-.])\d(?:[ \-]?\d){12,18}(?![\w\-]|\.\d)"),
            pii._CARD_RE,
        ),
        (
            "ipv4",
            re.compile(
                r"(?<![\w.])((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                r"(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})(?![\w.]*\d)(?!\.\w)"
            ),
            pii._IPV4_RE,
        ),
        (
            "iban",
            re.compile(r"(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?![A-Za-z0-9])"),
            pii._IBAN_RE,
        ),
        (
            "placeholder",
            re.compile(
                r"(?P<mustache>\{\{\s*[A-Za-z_][\w.\- ]{0,40}?\s*\}\})"
                r"|(?<![\w\\$}^_{])(?P<brace>\{[A-Za-z_][A-Za-z0-9_]{2,40}\})(?![\w{])"
                r"|(?P<angle><[A-Z][A-Z0-9_]*(?: [A-Z0-9_]+)*>)"
                r"|(?<![\w\]!])(?P<bracket>\[(?:(?i:insert|enter|add|your|type|put)\b[^\]\n]{0,60}"
                r"|(?:[A-Z][\w'’]*\s){0,4}(?i:name|date|address|e-?mail|phone(?: number)?|"
                r"company|recipient|title|position|city|organi[sz]ation|website|amount|"
                r"placeholder)(?:\s[A-Z][\w'’]*){0,3})\](?![(\[:]))"
            ),
            text_quality._PLACEHOLDER_RE,
        ),
    ]


def test_fast_regexes_match_exactly_what_the_plain_forms_match(fixtures: Path) -> None:
    import random

    texts = [
        line
        for f in sorted((fixtures / "content").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    rnd = random.Random(3)
    alphabet = "0123456789 .-+()/{}[]<>$\\_!wA Z DEGB\n" + "abcNAME"
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 80))) for _ in range(3000)]
    texts += ["+44 20 7946 0958", "(415) 867-5309", "x{name}", "${name}", "![Your Name]"]
    for name, plain, fast in _plain_forms():
        for t in texts:
            want = [(m.span(), m.groups(), m.lastgroup) for m in plain.finditer(t)]  # type: ignore[attr-defined]
            got = [(m.span(), m.groups(), m.lastgroup) for m in fast.finditer(t)]  # type: ignore[attr-defined]
            assert got == want, (name, t)


def test_shortest_provider_tokens_still_found_past_the_run_gate() -> None:
    pytest.importorskip("detect_secrets")  # the [content] extra
    from curate.validators.secrets import MIN_RUN, find_secrets

    # the shortest values the patterns accept: one character less is not a token
    telegram = "bot = Bot('839201746:" + "A1b2C3d4E5" * 3 + "xY9z0')"
    twilio = "sid = AC" + "a1b2c3d4" * 4
    gitlab = "export GL=glpat-" + "Ab1_Cd2-Ef3Gh4Ij5Kl6"
    assert [h.rule for h in find_secrets(telegram)] == ["telegram_bot_token"]
    assert [h.rule for h in find_secrets(twilio)] == ["twilio_key"]
    assert [h.rule for h in find_secrets(gitlab)] == ["gitlab_token"]
    assert MIN_RUN["telegram_bot_token"] == 35 and MIN_RUN["twilio_key"] == 34
    assert find_secrets(telegram.replace("xY9z0", "xY9z")) == []


def test_string_collection_fast_path_matches_iter_texts() -> None:
    from curate.validators.content import _texts

    records = [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": ""}]},
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "x"}]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
                {"role": 3, "content": "odd role"},
                "not a message",
                {"role": "tool", "content": "42", "tool_calls": "junk"},
            ]
        },
        {"input": {"messages": [{"role": "user", "content": "q"}]},
         "preferred_output": [{"role": "assistant", "content": "a"}]},
        {"instruction": "Say hi", "output": "Hi", "id": "x"},
        ["not", "a", "dict"],
    ]  # fmt: skip
    for rec in records:
        assert _texts(rec) == [t for t in iter_texts(rec) if t[3]]


def test_language_check_on_a_low_confidence_prompt_is_quiet() -> None:
    pytest.importorskip("py3langid")  # the [content] extra
    from curate.validators.text_quality import _classify, language_mismatch

    prompt = "Qué es esto?? ok ok ok 123 456 789 000 lol xd xd xd ???"
    reply = (
        "La capital de Francia es París. Es famosa por su historia, sus museos y la torre "
        "Eiffel, que es uno de los monumentos más visitados del mundo."
    )
    if _classify(prompt[:250])[1] < 0.9:
        assert language_mismatch(prompt, reply) is None
    en = "What is the capital of France and why is it famous? Please explain briefly."
    assert language_mismatch(en, reply)[:2] == ("en", "es")  # type: ignore[index]
    assert _classify.cache_info().hits + _classify.cache_info().misses >= 2


def test_email_search_from_each_at_sign_matches_finditer(fixtures: Path) -> None:
    import random

    from curate.validators.pii import _EMAIL_RE, _emails

    rnd = random.Random(5)
    alphabet = "ab.Z9-_+%:/@ \n" + "x" * 5
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 200))) for _ in range(3000)]
    texts += [
        "x" * 100 + "mail jane.doe@gmail.com, " + "y" * 70 + "@z.org or a@b.co",
        "@@@ " + "a" * 64 + "@b.cc " + "a" * 65 + "@b.cc",
        (fixtures / "content/pii.jsonl").read_text(encoding="utf-8"),
    ]
    for t in texts:
        assert [m.span() for m in _emails(t)] == [m.span() for m in _EMAIL_RE.finditer(t)], t


def test_byte_gates_never_hide_what_the_rules_look_for() -> None:
    import re

    from curate.validators import text_quality as tq

    mojibake = re.compile(tq.MOJIBAKE.gate)
    for cp in [*range(0x80, 0xD800), *range(0xE000, 0x10000), 0x1F600]:
        ch = chr(cp)
        assert (mojibake.search(ch.encode()) is not None) == bool(tq._MOJIBAKE_GATE_RE.search(ch))
    ex = Example(
        {"messages": [{"role": "user", "content": "The cafÃ© is open\x07"}]}, Location("m.jsonl", 1)
    )
    assert sorted(f.code for v in content_validators() for f in v.check(ex)) == [
        "control_characters",
        "mojibake",
    ]


def _slot(check: Any, rule: Any) -> int:
    """The memo slot of a rule in a ContentCheck."""
    return [a for _, a in check._strings].index(check._strings[check.rules.index(rule)][1])


def test_repeated_strings_are_scanned_once_and_reported_every_time() -> None:
    from curate.validators import content as content_mod
    from curate.validators import pii, text_quality

    system = "You are SupportBot for [Company Name]. Escalate to ops@northwind-tools.io."
    reply = "I'm sorry, but I can't help with that. Call +44 20 7946 0958."
    exs = [
        Example(
            {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": f"Question {i}?"},
                    {"role": "assistant", "content": reply},
                ]
            },
            Location("sys.jsonl", i + 1),
        )
        for i in range(3)
    ]
    (check,) = content_validators()
    found = [[(f.code, f.data["span"], f.message) for f in check.check(ex)] for ex in exs]
    assert found[0] == found[1] == found[2]
    assert [c for c, _, _ in found[0]] == [
        "pii_email",
        "template_placeholder",
        "pii_phone",
        "assistant_refusal",
    ]
    # kept from their second sighting on: the system prompt and the reply (each user turn
    # came once so far)
    assert len(check._memo) == 2
    assert [h.code for h in check._memo[system][_slot(check, pii.PII)]] == ["pii_email"]
    assert check._memo[reply][_slot(check, text_quality.REFUSAL)] is not None
    assert [f.location.line for ex in exs for f in check.check(ex)][::4] == [1, 2, 3]
    assert len(check._memo) == 5  # the user turns came back
    new = list(check._blank)
    for i in range(content_mod.MEMO_MAX_ENTRIES + 5):  # bounded by entries...
        check._keep(f"prompt {i}", new, ())
    assert len(check._memo) <= content_mod.MEMO_MAX_ENTRIES
    long_text = "x" * (content_mod.MEMO_MAX_CHARS + 1)
    check._keep(long_text, new, ())  # ...by length...
    assert long_text not in check._memo
    for i in range(content_mod.MEMO_MAX_TOTAL // content_mod.MEMO_MAX_CHARS + 2):  # ...and size
        text = str(i) * (content_mod.MEMO_MAX_CHARS // len(str(i)))
        check._keep(text, new, None)
        check._keep(text, new, None)
    assert sum(map(len, check._memo)) <= content_mod.MEMO_MAX_TOTAL
    check.clear()
    assert not check._memo


def test_cached_results_leave_nothing_for_the_garbage_collector() -> None:
    """Cached results are tuples of plain values, which the collector stops tracking
    (a tracked object per string made every collection walk the whole cache)."""
    import gc

    (check,) = content_validators()
    for i in range(100):  # each example twice: a string is kept when it comes back
        ex = Example(
            {
                "messages": [
                    {"role": "system", "content": f"You are assistant number {i // 2}."},
                    {"role": "user", "content": f"What is {i} plus {i}? Answer in one line."},
                    {"role": "assistant", "content": f"{i} plus {i} is {2 * i}, of course."},
                ]
            },
            Location("gc.jsonl", i + 1),
        )
        list(check.check(ex))
        list(check.check(ex))
    assert len(check._memo) == 250  # 50 system prompts, 100 user turns, 100 replies
    gc.collect()
    gc.collect()  # a tuple is untracked once the tuples in it are
    assert not any(gc.is_tracked(slots) for slots in check._memo.values())


def test_cached_reply_is_judged_again_against_a_new_prompt() -> None:
    """A reply's echo, language and identity-question results depend on its prompt: the
    cache must not hand one prompt's answer to another."""
    pytest.importorskip("py3langid")  # the [content] extra
    reply = "What is the capital of France?"
    es = (
        "La capital de Francia es París. Es famosa por su historia, sus museos y la torre "
        "Eiffel, que es uno de los monumentos más visitados del mundo."
    )
    ai = "I am an AI assistant made to help with questions."
    cases = [
        ("What is the capital of France?", reply, ["prompt_echo"]),
        ("Tell me about the history of Rome, please.", reply, []),
        ("What is the capital of France and why is it famous?", es, ["language_mismatch"]),
        ("Translate to Spanish: the capital of France is Paris, famous.", es, []),
        ("Who are you?", ai, []),
        ("Write a short poem about autumn leaves, please.", ai, ["assistant_boilerplate"]),
        ("Who are you?", ai, []),
    ]
    (check,) = content_validators()
    for i, (prompt, answer, want) in enumerate(cases):
        ex = Example(
            {
                "messages": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": answer},
                ]
            },
            Location("pairs.jsonl", i + 1),
        )
        assert [f.code for f in check.check(ex)] == want, (prompt, answer)


def test_short_password_in_url_without_any_long_key_run(tmp_path: Path) -> None:
    """The per-example secret gate must not skip a short URL password (found in review)."""
    from curate.records import Example, Location
    from curate.validators.content import content_validators

    ex = Example(
        {
            "messages": [
                {"role": "user", "content": "How do I connect?"},
                {"role": "assistant", "content": "Use postgres://bob:Xy7pQ2@db:5432/app"},
            ]
        },
        Location("t.jsonl", 1),
    )
    codes = [f.code for v in content_validators() for f in v.check(ex)]
    assert codes == ["secret_password_in_url"]


def _codes(messages: list[dict[str, str]], config: dict[str, Any] | None = None) -> list[str]:
    (check,) = content_validators(config)
    ex = Example({"messages": messages}, Location("edge.jsonl", 1))
    return [f.code for f in check.check(ex)]


def test_fast_path_edges_non_ascii_control_characters_and_upper_case() -> None:
    pytest.importorskip("ftfy")  # the [content] extra
    user = {"role": "user", "content": "Hi"}
    # non-ASCII text: the gate is str.isprintable, the rule decides
    for text in ("Café ouvert\x07 demain", "naïve \u202etxt.exe", "Grüße\x07"):
        assert _codes([user, {"role": "assistant", "content": text}]) == ["control_characters"]
    for text in ("Grüße\x85", "Ol\x9b"):  # C1 controls: ftfy calls them mojibake too
        assert _codes([user, {"role": "assistant", "content": text}]) == [
            "control_characters",
            "mojibake",
        ]
    # no-break spaces and tabs are not control characters (isprintable rejects NBSP)
    assert _codes([user, {"role": "assistant", "content": "Prix\u00a0: 5\u00a0€\tTTC"}]) == []
    # upper-case refusal and boilerplate
    assert _codes(
        [user, {"role": "assistant", "content": "I'M SORRY, BUT I CAN'T HELP WITH THAT."}]
    ) == ["assistant_refusal"]
    assert _codes(
        [user, {"role": "assistant", "content": "AS AN AI LANGUAGE MODEL, I CAN'T."}]
    ) == ["assistant_boilerplate"]
    # a secret at the very start of a string, and a private key with nothing else
    token = "ghp_" + "a1B2" * 9
    assert _codes([user, {"role": "assistant", "content": token}]) == ["secret_token"]
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"
    assert _codes([user, {"role": "assistant", "content": key}]) == ["secret_private_key"]


def test_cached_string_is_judged_by_its_role_and_the_configuration() -> None:
    """One string, cached once, in a turn whose role allows PII and then in one that does
    not; then under a configuration that had a rule off when it was first seen."""
    text = "Reach me at jane.doe@gmail.com, I am {name}."
    config = {"pii_allowed_roles": ["user"], "template_placeholder": "off"}
    assert _codes([{"role": "user", "content": text}], config) == []
    assert _codes([{"role": "assistant", "content": text}], config) == ["pii_email"]
    assert _codes([{"role": "user", "content": text}]) == ["pii_email", "template_placeholder"]
    assert _codes([{"role": "system", "content": text}], {"pii": "off"}) == ["template_placeholder"]


def test_prepare_loads_the_prefilter_and_the_language_model_once(monkeypatch) -> None:
    from curate.validators import prefilter as pf_mod
    from curate.validators import text_quality as tq

    monkeypatch.setattr(pf_mod, "_BUILT", {})
    tq._identifier.cache_clear()
    (check,) = content_validators()
    check.prepare()
    assert len(pf_mod._BUILT) == 1 and check._pf is not content_mod_todo()
    assert tq._identifier.cache_info().currsize == (1 if tq.LANGID_AVAILABLE else 0)
    (no_lang,) = content_validators({"language_mismatch": "off"})
    tq._identifier.cache_clear()
    no_lang.prepare()
    assert tq._identifier.cache_info().currsize == 0


def content_mod_todo() -> object:
    from curate.validators import content as content_mod

    return content_mod._TODO


def test_check_many_is_check_of_each_example_in_order(fixtures: Path) -> None:
    """The batch form (language checks run together at the end) gives each example the
    findings ``check`` gives it, in the same order: on every content fixture, on
    multi-turn chats with a mismatch in one reply of several, and on replies that repeat
    (the second sighting is served from the cache, language result included)."""
    pytest.importorskip("py3langid")  # the [content] extra
    import json

    es = (
        "La capital de Francia es París. Es famosa por su historia, sus museos y la torre "
        "Eiffel, que es uno de los monumentos más visitados del mundo."
    )
    de = (
        "Die Hauptstadt von Frankreich ist Paris. Sie ist berühmt für ihre Geschichte, ihre "
        "Museen und den Eiffelturm, der zu den meistbesuchten Bauwerken der Welt gehört."
    )
    prompt = "What is the capital of France and why is it famous? Answer in two sentences."
    records = [
        json.loads(line)
        for f in sorted((fixtures / "content").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    chat = {
        "messages": [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": es},
            {"role": "user", "content": "Thanks. Now say it again for me, my friend, please."},
            {"role": "assistant", "content": "As an AI language model, I can say it again."},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": de},
        ]
    }
    records += [chat, chat, {"messages": chat["messages"][:2]}, chat]
    exs = [Example(r, Location("many.jsonl", i + 1)) for i, r in enumerate(records)]

    def rows(fs: list) -> list:
        return [(f.code, f.message, f.location, f.data) for f in fs]

    (check,) = content_validators()
    one_by_one = [rows(list(check.check(ex))) for ex in exs]
    check.clear()
    batch = [rows(fs) for fs in check.check_many(exs)]
    assert batch == one_by_one
    assert [c for c, *_ in one_by_one[-1]].count("language_mismatch") == 2
    again = [rows(fs) for fs in check.check_many(exs)]
    assert again == one_by_one
