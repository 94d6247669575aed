"""The cheap gates in front of the content rules: each says "nothing here" only where the
rule itself finds nothing, and the language gates skip the model only when prompt and
reply are in one language (a real switch of language is still found)."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.records import Example, Location
from curate.validators import pii
from curate.validators import text_quality as tq
from curate.validators.content import content_validators
from curate.validators.prefilter import gate_pattern
from tests.conftest import run_python

ftfy_badness = pytest.importorskip("ftfy.badness")
pytest.importorskip("py3langid")


# -- mojibake: ftfy's regex in windows around its anchor characters ----------------------


def test_windowed_badness_search_answers_as_ftfy_does(content_fixture_texts: list[str]) -> None:
    anchors = tq._ftfy()[1]
    assert anchors is not None and anchors[1] == 7  # derived from ftfy's pattern
    rnd = random.Random(3)
    pool = anchors[0] + "ÂÃ\xa0€™’—éüñ°·" + "ВГРСΒΓΞΟβЂ√±∂≈‚Ä" + "\x85\x9d"
    texts = []
    for _ in range(40000):
        n = rnd.randint(0, 40)
        texts.append(
            "".join(
                rnd.choice(pool) if rnd.random() < 0.3 else rnd.choice("abcXYZ .,?!\n")
                for _ in range(n)
            )
        )
    texts += content_fixture_texts
    texts += [
        "The cafÃ© is open",
        "Ã ",  # ^[ÃÂ][ ] at the very start of the text only
        "x Ã ",
        "naïve café — « bienvenue » “quoted”",
        "Ð¿Ñ€Ð¸Ð²ÐµÑ‚",
        "a" * 500 + "â€™" + "b" * 500,
    ]
    bad = 0
    for t in texts:
        want = ftfy_badness.is_bad(t)
        assert tq._is_bad(t) == want, t
        bad += want
    assert 0.2 * len(texts) < bad < 0.9 * len(texts)  # both answers well exercised


def test_badness_loaded_alone_is_ftfys_module_without_the_package() -> None:
    """In a fresh process (ftfy not imported yet) the mojibake rule loads ftfy's badness
    module from its file alone: the same pattern and answers, and the package's __init__
    (character tables, fixers, codecs) never runs."""
    script = (
        "import sys\n"
        "from curate.validators import text_quality as tq\n"
        "mod = tq._ftfy()[0]\n"
        "assert mod.__name__ == 'curate._ftfy_badness', mod.__name__\n"
        "assert 'ftfy' not in sys.modules and 'ftfy.chardata' not in sys.modules\n"
        "import ftfy.badness as pkg\n"
        "assert mod.BADNESS_RE.pattern == pkg.BADNESS_RE.pattern\n"
        "for t in ('The cafÃ© is open', 'naïve café', 'Ð¿Ñ€Ð¸Ð²ÐµÑ‚', 'plain'):\n"
        "    assert mod.is_bad(t) == pkg.is_bad(t), t\n"
        "print('ok')\n"
    )
    assert run_python(script).strip() == "ok"


def test_mojibake_found_and_accented_text_left_alone() -> None:
    assert tq.find_mojibake("Il est allÃ© Ã  la plage, câ€™est gÃ©nial.") is not None
    for ok in (
        "Il est allé à la plage, c’est génial.",
        "Größe: 5 °C — “fine”",
        "Привет, как дела? Всё хорошо.",
    ):
        assert tq.find_mojibake(ok) is None, ok


# -- control characters: the exact gate -------------------------------------------------


def test_control_gate_is_exact_on_every_bmp_character() -> None:
    gate = re.compile(tq.CONTROL.gate)
    for cp in [*range(0, 0xD800), *range(0xE000, 0x10000)]:
        text = f"ab{chr(cp)}cd é"
        want = tq.find_control_chars(text) is not None
        assert (gate.search(text.encode()) is not None) == want, hex(cp)


# -- placeholders: the scan without named groups --------------------------------------


def test_placeholder_scan_matches_the_named_regex(content_fixture_texts: list[str]) -> None:
    rnd = random.Random(9)
    parts = ["{", "}", "{{", "}}", "<", ">", "[", "]", "name", "NAME", "Your Name", "insert ",
             " ", "\n", "$", "\\", "a", "Company", "_x", "`", "EOS", "Date"]  # fmt: skip
    texts = ["".join(rnd.choice(parts) for _ in range(rnd.randint(1, 16))) for _ in range(20000)]
    texts += content_fixture_texts
    for t in texts:
        want = [(m.span(), m.lastgroup) for m in tq._PLACEHOLDER_RE.finditer(t)]
        got = [(m.span(), tq._kind(t, m.start())) for m in tq._PLACEHOLDER_SCAN_RE.finditer(t)]
        assert got == want, t


# -- personal data: the gate ------------------------------------------------------------


def test_pii_gate_says_yes_wherever_find_pii_finds_something(
    content_fixture_texts: list[str],
) -> None:
    gate = re.compile(gate_pattern(pii.PII))
    rnd = random.Random(12)
    pieces = ["Call ", "+44 20 7946 0958", "(415) 867-5309", "4539 5787 6362 1486",
              "GB82 WEST 1234 5698 7654 32", "81.2.69.160", "jane.doe@gmail.com", " in ",
              "2023", "-", ".", " ", "\n", "v1.2", "12345", "é", "٣٤٥", "١٢٣٤٥٦٧",
              "０９"]  # fmt: skip
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 6))) for _ in range(20000)]
    hits = 0
    for text in texts + content_fixture_texts:
        if pii.find_pii(text):
            hits += 1
            assert gate.search(text.encode("utf-8", "surrogatepass")), text
    assert hits > 5000


# -- boilerplate: six scans instead of eight ---------------------------------------------


def test_boilerplate_gates_hold_every_match() -> None:
    rnd = random.Random(6)
    words = ["as", "an", "a", "ai", "AI", "I'm", "I am", "just", "artificial", "intelligence",
             "language", "model", "large", "my", "knowledge", "cutoff", "training", "data",
             "I", "do", "not", "don't", "have", "opinions", "feelings", ","]  # fmt: skip
    for _ in range(30000):
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 10)))
        low = text.lower()
        if tq._BOILERPLATE_RE.search(text):
            assert any(g in low for g in tq._BOILERPLATE_GATES), text
            assert tq.boilerplate_hits(text)[0] is not None, text


def test_boilerplate_width_is_the_longest_match() -> None:
    # every alternative at its longest: no match is longer than _BOILERPLATE_WIDTH
    longest = [
        "as an artificial intelligence language model",
        "i am only an artificial intelligence language model",
        "i'm just an artificial intelligence language model",
        "as a large language model",
        "i am a large language model",
        "my training data only goes up to",
        "i do not have personal opinions",
        "i do not have personal emotions",
    ]
    widths = [tq._BOILERPLATE_LOWER_RE.fullmatch(t).end() for t in longest]
    assert max(widths) == tq._BOILERPLATE_WIDTH


def test_boilerplate_matches_at_their_starts_are_the_regexs_matches() -> None:
    rnd = random.Random(12)
    words = ["as", "an", "a", "ai", "i'm", "i am", "i", "just", "only", "artificial",
             "intelligence", "language", "model", "large", "assistant", "chatbot", "my",
             "knowledge", "cutoff", "training", "data", "goes", "up", "to", "do", "not",
             "don't", "have", "personal", "opinions", "feelings", "beliefs", "aim", "was",
             "has", "as an ai", "i am an ai", "my training data goes up to"]  # fmt: skip
    seps = [" ", " ", " ", ", ", ". ", "\n", "", "-"]
    n_matches = 0
    for _ in range(30000):
        low = "".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(1, 14)))
        start = rnd.randint(0, len(low))
        want = [m.span() for m in tq._BOILERPLATE_LOWER_RE.finditer(low, start)]
        n_matches += len(want)
        assert [m.span() for m in tq._matches_at_starts(low, start)] == want, (low, start)
    assert n_matches > 3000


def test_identity_question_on_lower_cased_text_answers_as_the_regex_does() -> None:
    rnd = random.Random(8)
    words = ["who", "What", "are", "r", "you", "U", "your", "name", "model", "LLM", "Are",
             "YOU", "a", "an", "human", "Real", "bot", "AI", "trained", "made", "based on",
             "yourself", "about", "created", "ChatGPT", "gpt-4", "Claude", "vicuna", "?", "?",
             ",", "你是谁", "你", "is", "the", "İ", "ı", "ſ", "\u212a", "ARE", "Bard",
             "x1"]  # fmt: skip
    seps = [" ", " ", " ", "  ", "\t", "\n", "", "-", "'"]
    n_true = 0
    names = ["ChatGPT", "GPT-4", "Claude", "vicuna", "Bard", "x1", "LLaMA"]
    for _ in range(40000):
        parts = [rnd.choice(words) for _ in range(rnd.randint(1, 7))]
        if rnd.random() < 0.25:  # "are you <name>?", "are your ...", at a random place
            i = rnd.randint(0, len(parts))
            parts[i:i] = [rnd.choice(["are", "Are", "ARE"]), rnd.choice(["you", "your", "you a"]),
                          rnd.choice(names), rnd.choice(["?", " ?", ".", "name?"])]  # fmt: skip
        prompt = "".join(w + rnd.choice(seps) for w in parts)
        if rnd.random() < 0.3:
            prompt = prompt.upper() if rnd.random() < 0.5 else prompt.title()
        want = tq._IDENTITY_QUESTION_RE.search(prompt) is not None
        n_true += want
        assert tq.asks_about_assistant(prompt)[0] == want, prompt
    assert n_true > 5000


# -- echo: the byte-level gate -----------------------------------------------------------


def _echo_reference(prompt: str, reply: str, min_chars: int = 12) -> bool:
    """is_echo as it was before the byte gate (normalise, then compare)."""
    if len(reply) < min_chars or not 0.6 * len(prompt) <= len(reply) <= 1.7 * len(prompt):
        return False
    r, p = tq._norm(reply), tq._norm(prompt)
    if len(r) < min_chars:
        return False
    if r == p:
        return True
    short, long_ = (r, p) if len(r) < len(p) else (p, r)
    return len(short) >= 0.9 * len(long_) and short in long_


def test_echo_gate_never_hides_an_echo() -> None:
    rnd = random.Random(1)
    base = ["What is the capital of France", "Fix the grammar: she go home",
            "List three primes_greater than ten", "Café au lait, s'il vous plaît",
            "请解释什么是机器学习，不要使用“算法”这个词", "Что такое машинное обучение? Кратко.",
            "ΟΔΥΣΣΕΥΣ ΚΑΙ Η ΙΘΑΚΗ, ΤΈΛΟΣ", "İstanbul'da KIŞ ayları 12 ay değil"]  # fmt: skip
    n_echo = 0
    for _ in range(40000):
        p = rnd.choice(base)
        r = p
        for _ in range(rnd.randint(0, 3)):
            i = rnd.randrange(len(r) + 1)
            r = r[:i] + rnd.choice(["?", "!", " ", "  ", "_", "-", "X", "x", "É", ".", "，", "机",
                                    "Σ", "ς", "\u212a"]) + r[i:]  # fmt: skip
        if rnd.random() < 0.5:
            r = r.upper() if rnd.random() < 0.5 else r.lower()
        if rnd.random() < 0.3:
            p, r = r, p
        want = _echo_reference(p, r)
        n_echo += want
        assert tq.is_echo(p, r) == want, (p, r)
    assert n_echo > 10000


# -- language: script and function-word gates ------------------------------------------

EN = "What is the capital of France and why is it famous? Please explain briefly."
REPLIES = {
    "es": "La capital de Francia es París. Es famosa por su historia, sus museos y la torre "
    "Eiffel, que es uno de los monumentos más visitados del mundo.",
    "de": "Die Hauptstadt von Frankreich ist Paris. Sie ist berühmt für ihre Geschichte, die "
    "Museen und den Eiffelturm, der jedes Jahr von Millionen besucht wird.",
    "fr": "La capitale de la France est Paris. Elle est célèbre pour son histoire, ses musées "
    "et la tour Eiffel, qui est visitée par des millions de personnes.",
    "pt": "A capital da França é Paris. Ela é famosa pela sua história, pelos museus e pela "
    "Torre Eiffel, que é visitada por milhões de pessoas todos os anos.",
    "it": "La capitale della Francia è Parigi. È famosa per la sua storia, per i musei e per "
    "la Torre Eiffel, che è visitata da milioni di persone ogni anno.",
    "nl": "De hoofdstad van Frankrijk is Parijs. Het is beroemd om zijn geschiedenis, de musea "
    "en de Eiffeltoren, die elk jaar door miljoenen mensen wordt bezocht.",
    "zh": "法国的首都是巴黎。巴黎以悠久的历史、众多的博物馆和埃菲尔铁塔而闻名，"
    "每年都有数以百万计的游客从世界各地来到这里参观，欣赏塞纳河两岸的美丽风景和建筑。",
}
PROMPTS = {
    "es": "¿Cuál es la capital de Francia y por qué es tan famosa? Explícalo brevemente, por "
    "favor, con algunos detalles.",
    "de": "Was ist die Hauptstadt von Frankreich und warum ist sie so berühmt? Bitte erkläre es "
    "kurz und nenne ein paar Details.",
    "fr": "Quelle est la capitale de la France et pourquoi est-elle si célèbre ? Explique-le "
    "brièvement avec quelques détails.",
    "pt": "Qual é a capital da França e por que ela é tão famosa? Explique brevemente, por "
    "favor, com alguns detalhes.",
    "it": "Qual è la capitale della Francia e perché è così famosa? Spiegalo brevemente, per "
    "favore, con alcuni dettagli.",
    "nl": "Wat is de hoofdstad van Frankrijk en waarom is die zo beroemd? Leg het kort uit en "
    "geef een paar details, alsjeblieft.",
    "zh": "法国的首都是哪里？它为什么这么有名？请简单地解释一下，并给出一些具体的细节和例子。",
}
#: same-language pairs in scripts one language writes: decided without the model
SAME_SCRIPT = {
    "ko": ("대한민국의 수도는 어디이며 왜 유명한가요? 간단하게 설명해 주세요, 자세한 예도 함께요.",
           "대한민국의 수도는 서울입니다. 서울은 오랜 역사와 궁궐, 현대적인 건물과 활기찬 "
           "시장으로 유명하며 매년 많은 관광객이 찾습니다."),
    "ja": ("日本の首都はどこですか？なぜ有名なのか、簡単に説明してください。例もお願いします。",
           "日本の首都は東京です。東京は歴史的な寺院や神社、最新の技術、美味しい料理で知られ、"
           "毎年世界中から多くの観光客が訪れます。"),
    "el": ("Ποια είναι η πρωτεύουσα της Ελλάδας και γιατί είναι τόσο διάσημη; Εξήγησε σύντομα.",
           "Η πρωτεύουσα της Ελλάδας είναι η Αθήνα. Είναι διάσημη για την Ακρόπολη, την ιστορία "
           "της και τα μουσεία της."),
    "he": ("מהי בירת ישראל ולמה היא כל כך מפורסמת? הסבר בקצרה ותן כמה פרטים ודוגמאות.",
           "בירת ישראל היא ירושלים. העיר מפורסמת בזכות ההיסטוריה העתיקה שלה, המקומות הקדושים "
           "והשווקים הצבעוניים."),
    "th": ("เมืองหลวงของประเทศไทยคือที่ไหนและทำไมถึงมีชื่อเสียง กรุณาอธิบายสั้นๆ พร้อมตัวอย่าง",
           "เมืองหลวงของประเทศไทยคือกรุงเทพมหานคร มีชื่อเสียงเรื่องวัดวาอาราม อาหารริมทาง "
           "และตลาดน้ำที่สวยงาม"),
}  # fmt: skip


@pytest.mark.parametrize("lang", sorted(REPLIES))
def test_english_prompt_with_a_reply_in_another_language_is_found(lang: str) -> None:
    found = tq.language_mismatch(EN, REPLIES[lang])
    assert found is not None and found[:2] == ("en", lang)
    codes = [f.code for f in _check(EN, REPLIES[lang])]
    assert codes == ["language_mismatch"]


@pytest.mark.parametrize("lang", sorted(PROMPTS))
def test_same_language_pair_is_quiet_without_the_model(lang: str) -> None:
    tq._classify.cache_clear()
    assert tq.language_mismatch(PROMPTS[lang], REPLIES[lang]) is None
    if lang != "nl":  # Dutch "is" counts for English too: the model decides (and agrees)
        assert tq._classify.cache_info().misses == 0, lang
    assert _check(PROMPTS[lang], REPLIES[lang]) == []


@pytest.mark.parametrize("lang", sorted(SAME_SCRIPT))
def test_same_script_pairs_are_quiet_without_the_model(lang: str) -> None:
    prompt, reply = SAME_SCRIPT[lang]
    tq._classify.cache_clear()
    assert tq.language_mismatch(prompt, reply) is None
    assert tq._classify.cache_info().misses == 0
    assert [f.code for f in _check(prompt, reply)] == []


def test_japanese_counts_as_kana_even_when_kanji_lead() -> None:
    kanji_heavy = "日本国憲法第九条の解釈について、政府見解と学説の対立を概説せよ。"
    assert tq._script(kanji_heavy) == "kana"
    assert tq._script("北京是中华人民共和国的首都，也是全国的政治中心和文化中心。") == "han"


def _script_reference(text: str) -> str:
    """The dominant-script rule as a plain loop over characters (the oracle)."""
    if text.isascii():
        return "latin" if any(c.isalpha() for c in text[:200]) else ""
    counts: dict[str, int] = {}
    seen = 0
    for ch in text[:400]:
        s = tq._char_script(ch)
        if s is None:
            continue
        counts[s] = counts.get(s, 0) + 1
        seen += 1
        if seen >= 200:
            break
    if not counts:
        return ""
    if counts.get("kana", 0) * 10 >= seen:
        return "kana"
    return max(counts, key=counts.__getitem__)


#: one letter of each script range, some non-letters, a letter past U+FFFF
SCRIPT_PIECES = [
    "a", "é", "Ж", "א", "ع", "क", "ก", "か", "한", "中", "Ω", "ᄀ", "㐀", "𠀀", "ꙮ",
    "1", " ", "。", "!", "\n", "\u0301", "ー", "々",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SCRIPT_PIECES) | st.text(max_size=3), max_size=500).map("".join))
def test_script_counts_as_the_plain_loop(text: str) -> None:
    """The C-speed count (map, filter, Counter) gives the loop's answer: the first 200
    letters of the first 400 characters, ties to the script seen first, kana rule."""
    assert tq._script(text) == _script_reference(text)
    tie = "中" * 100 + "a" * 100 + "ж" * 50  # han and latin tie at 100: han came first
    assert tq._script(tie) == _script_reference(tie) == "han"
    assert tq._script("a" * 100 + "中" * 100) == "latin"
    # letters past the 200th are not counted: Cyrillic would win on all 400 characters
    assert tq._script("a" * 150 + "中" * 60 + "ж" * 190) == "latin"


def test_script_table_stays_bounded_on_every_code_point() -> None:
    """Text built to hold every letter of Unicode cannot grow the per-process character
    table past its bound, and the answers stay those of the plain loop."""
    # (to plane 3: Python 3.10's Unicode 13 has fewer letters below U+20000 than the bound)
    letters = [chr(c) for c in range(0x32000) if chr(c).isalpha()]
    assert len(letters) > tq._SCRIPT_TABLE_MAX
    for i in range(0, len(letters), 400):
        text = "".join(letters[i : i + 400])
        assert tq._script(text) == _script_reference(text)
        assert len(tq._SCRIPT_OF) <= tq._SCRIPT_TABLE_MAX


def test_a_reply_switching_between_two_latin_languages_is_still_found() -> None:
    """The function-word gate only skips pairs it judges to be in one language."""
    assert tq.latin_language(PROMPTS["es"]) == "es"
    assert tq.latin_language(REPLIES["de"]) == "de"
    found = tq.language_mismatch(PROMPTS["es"], REPLIES["de"])
    assert found is not None and found[:2] == ("es", "de")
    found = tq.language_mismatch(PROMPTS["fr"], EN + " " + EN)
    assert found is not None and found[:2] == ("fr", "en")


def test_function_words_do_not_decide_lists_tables_and_mixed_text() -> None:
    assert tq.latin_language("| Name | Age |\n|------|-----|\n| Ana | 31 |") is None
    assert tq.latin_language("Ingredients:\n- 1 cup of flour\n- 2 eggs") == "en"
    assert tq.latin_language("Ingrédients :\n- 1 tasse de farine\n- 2 œufs") is None
    # each language's words are its own
    words = [w for ws in tq._LATIN_STOP.values() for w in ws] + list(tq._EN_STOP)
    assert len(words) == len(set(words))


def _check(prompt: str, reply: str) -> list:
    (check,) = content_validators()
    ex = Example(
        {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": reply},
            ]
        },
        Location("lang.jsonl", 1),
    )
    return list(check.check(ex))


# -- secrets on non-ASCII text ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "请使用这个密钥：ghp_" + "a1B2" * 9 + "，不要泄露给别人。",
        "Ключ доступа: AKIA4QZ7XJ2LKM9NB3RT — никому не показывайте.",
        "Clé d’API : sk-proj-" + "Ab1_" * 12 + " (à garder secrète).",
    ],
)
def test_provider_tokens_in_non_ascii_text(text: str) -> None:
    from curate.validators.secrets import find_secrets

    assert [h.code for h in find_secrets(text)] == ["secret_token"]


def test_long_cjk_and_cyrillic_prose_has_no_secret() -> None:
    from curate.validators.secrets import find_secrets

    zh = REPLIES["zh"] * 5
    ru = "Столица России — Москва. Это крупнейший город страны с богатой историей. " * 8
    assert find_secrets(zh) == [] and find_secrets(ru) == []
    assert re.search(r"\d", zh) is None


def test_secret_pregates_hold_every_match_of_their_patterns() -> None:
    """A rule's pre-gate regex (or words) is searched before its patterns: wherever a
    pattern matches, the pre-gate must too (on the secrets tests' token corpus, damaged
    tokens and non-ASCII context included, and on hand-made near misses)."""
    from curate.validators import secrets as S
    from tests.validators.test_secrets import _corpus

    texts = _corpus(4000, seed=21)
    texts += [
        "AP9" + "x1" * 5,
        " AKC" + "a" * 10 + " ",
        "bot12345678:" + "A1b2C3d4E5" * 3 + "xY9z0",
        "M" + "a" * 23 + ".abcdef." + "b" * 27,
        "IBM_CLOUD_IAM_KEY = '" + "Ab1_" * 11 + "'",
        "ibm-cloud-api-token: " + "x9" * 22,
    ]
    checked = 0
    for rule, rx in S.PATTERNS:
        pregate = S._PREGATES.get(rule)
        words = S._PREGATE_WORDS.get(rule)
        if pregate is None and words is None:
            continue
        for t in texts:
            if rx.search(t) is None:
                continue
            checked += 1
            if pregate is not None:
                assert pregate.search(t) is not None, (rule, t)
            if words is not None and t.isascii():
                assert any(w in t.lower() for w in words), (rule, t)
    assert checked >= 50


# -- the reply rules' own first tests ----------------------------------------------------


_ENDINGS = st.sampled_from(sorted(tq._SAFE_ENDS) + list(",:([{-a é\n`"))
_BODY = st.text(alphabet=st.sampled_from(list("ab the,.:-`\n ()[]{}日本語é")), max_size=120)


def test_safe_endings_are_no_ending_find_truncation_reports() -> None:
    # neither whitespace (rstrip would look past it), a letter, "-", nor its punctuation
    for c in tq._SAFE_ENDS:
        assert not c.isspace() and not c.isalpha() and c != "-" and c not in ",:([{（，、："


@settings(max_examples=400, deadline=None)
@given(_BODY, _ENDINGS, st.integers(0, 200))
def test_truncation_shortcut_equals_the_full_rule(body, end, pad) -> None:
    text = "x" * pad + body + end
    hits = tq.find_truncation(text)
    if text[-1] in tq._SAFE_ENDS and "```" not in text:
        assert hits == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .")), max_size=260))
def test_repetition_and_language_length_gates(text: str) -> None:
    if len(text) < 200:
        assert tq.find_repetition(text) is None
    if len(text) < 40:
        assert tq.language_mismatch(text, "Das ist ein deutscher Satz und er ist lang.") is None
        assert tq.language_mismatch("What is the capital of France and why?", text) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=60))
def test_echo_length_gate(prompt: str, reply: str) -> None:
    if len(reply) < 12 or not 0.6 * len(prompt) <= len(reply) <= 1.7 * len(prompt):
        assert not tq.is_echo(prompt, reply)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(" \t\n{[<ab")), max_size=6))
def test_opens_markup_is_lstrip_first_character(text: str) -> None:
    assert tq._opens_markup(text) == (text.lstrip()[:1] in "{[<")


_BOIL_PARTS = ["as an AI", "As an AI language model", "I am an AI", "I'm just an AI",
               "my knowledge cutoff", "I don't have feelings", "a ai", "language", "model",
               "x" * 60, "İ", "and", " ", ", ", "\n", "aI"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_BOIL_PARTS), max_size=12))
def test_boilerplate_search_from_first_gate_finds_what_a_full_search_does(parts) -> None:
    text = "".join(parts)
    low = text.lower()
    # the reference: the lower-cased regex over the whole text, as before the start offset
    finder = tq._BOILERPLATE_LOWER_RE.finditer(low) if len(low) == len(text) else None
    first = not_i = None
    for m in finder or tq._BOILERPLATE_RE.finditer(text):
        first = first or m.span()
        if m.group()[:1] not in "Ii":
            not_i = m.span()
            break
    got = tq.boilerplate_hits(text)
    assert [None if h is None else (h.start, h.end) for h in got] == [first, not_i]


_ASK_PARTS = ["who", "What", "are", "r", "you", "u", "YOUR", "name", "model", "llm", "yourself",
              "about", "made", "trained", "ChatGPT", "?", " ", "\u212a", "\u017f", "\u0130",
              "你是谁", "你叫什么", "x"]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_ASK_PARTS), max_size=8), st.sampled_from([" ", ""]))
def test_identity_question_gate_never_hides_a_match(parts: list[str], sep: str) -> None:
    prompt = sep.join(parts)
    want = tq._IDENTITY_QUESTION_RE.search(prompt) is not None, tq._about_you(prompt)
    assert tq.asks_about_assistant(prompt) == want


def _periodic_run_reference(text: str, min_repeats: int) -> Any:
    """_periodic_run's probe loop without the all-probes-miss shortcut."""
    n = len(text)
    best = None
    q3, last = (3 * n) // 4, n - 60
    probes = (n // 4, n // 2, q3, last) if q3 <= last else (n // 4, n // 2, last, q3)
    for probe in probes:
        chunk = text[probe : probe + 24]
        if len(chunk) < 8:
            continue
        nxt = text.find(chunk, probe + 1, probe + 400 + len(chunk))
        if nxt < 0:
            continue
        period = nxt - probe
        start = tq._extend_left(text, probe, period)
        end = tq._extend_right(text, probe + period, period, n)
        length = end - start
        if length >= min_repeats * period and length >= 40 and (best is None or length > best[0]):
            best = (length, start, period)
    return best


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["ab", "abc ", "the cat ", "x", "\n", "1. ", "-" * 30, "é"]),
                max_size=120), st.integers(1, 6))  # fmt: skip
def test_periodic_run_shortcut_only_skips_texts_without_a_run(parts: list[str], k: int) -> None:
    text = "".join(parts)
    if tq._periodic_run(text, k) is None:
        assert _periodic_run_reference(text, k) is None
    else:
        assert _periodic_run_reference(text, k) is not None


def test_english_words_by_use_are_the_same_words() -> None:
    # _english_like counts distinct words up to a need: the order only decides when it stops
    assert sorted(tq._EN_STOP_BY_USE) == sorted(tq._EN_STOP)
    assert len(set(tq._EN_STOP_BY_USE)) == len(tq._EN_STOP_BY_USE)


def test_text_without_linguistic_content_is_no_side_of_a_mismatch() -> None:
    """py3langid labels keys, hex dumps and identifiers "zxx" (no linguistic content),
    often with high confidence; such a prompt or reply is in no language, so a pair
    with one is never a mismatch (82 of 120 findings on the bench's unique set were
    "prompt in 'zxx'" or "reply in 'zxx'")."""
    key = "export OPENAI_API_KEY=sk-proj-" + "Xk35Lp_Tz15RwKmQ2vN1bY2cH8dJ3fG8aS8eW7uI4o" * 2
    hexes = " ".join(f"0x7f{i:02x}" for i in range(0x3A, 0x46))
    for text in (key, hexes):
        lang, conf = tq._classify(text[:250])
        assert (lang, conf >= 0.9) == (tq.NO_LANG, True)  # a confident "zxx"
    reply = EN + " The client library reads the variable from the environment."
    assert tq.language_mismatch(key, reply) is None
    assert tq.language_mismatch(EN, hexes) is None
    assert tq.language_mismatch(hexes, REPLIES["de"]) is None
    # a real language on both sides is still compared
    assert tq.language_mismatch(EN, REPLIES["de"]) is not None
