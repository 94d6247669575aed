"""Text that is well-formed but bad training data.

- :func:`find_placeholders`: template slots left unfilled (``{{name}}``, ``{name}``,
  ``<PLACEHOLDER>``, ``[INSERT ...]``, ``[Your Name]``), outside code.
- :func:`boilerplate_hits`: "As an AI language model" disclaimers.
- :func:`find_refusal`: a reply that opens by refusing ("I'm sorry, but I can't...").
- :func:`is_echo`: a reply that merely repeats its prompt.
- :func:`find_truncation`: a reply cut off mid-sentence or inside an open code block.
- :func:`find_repetition`: a degenerate loop (the same words over and over).
- :func:`find_mojibake`: text decoded with the wrong encoding (``Ã©``), via ``ftfy``.
- :func:`find_control_chars`: control and invisible bidirectional characters.
- :func:`language_mismatch`: a reply in another language than its prompt, via the
  offline ``py3langid`` model.

``ftfy`` and ``py3langid`` are optional (the ``[content]`` extra): without them mojibake
falls back to a short list of typical sequences and the language rule does not run.

Example:
    >>> [h.rule for h in find_placeholders("I am {{name}}, made by {{author}}.")]
    ['mustache', 'mustache']
    >>> find_truncation("Here is the code:\\n```python\\nprint(1)\\n" * 3)[0].rule
    'open_code_block'
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from curate.validators.base import FOLDS_TO_ASCII, Hit, Rule


def _installed(name: str) -> bool:
    """Whether module ``name`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # pragma: no cover - a broken installation
        return False


#: ftfy is imported when a text first needs it (~0.05 s: most runs never do)
FTFY_AVAILABLE = _installed("ftfy")

try:
    import py3langid.langid as _langid

    LANGID_AVAILABLE = True
except ImportError:  # pragma: no cover - only without the [content] extra
    _langid = None
    LANGID_AVAILABLE = False


# -- code spans (placeholders are only looked for in prose) ------------------------------

_CODE_RE = re.compile(r"```[\s\S]*?(?:```|\Z)|`[^`\n]+`")


def _code_spans(text: str) -> list[tuple[int, int]]:
    if "`" not in text:
        return []
    return [m.span() for m in _CODE_RE.finditer(text)]


def _in_spans(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in spans)


# -- placeholders ---------------------------------------------------------------------

#: the placeholders ``curate redact`` writes: not reported as unfilled templates
REDACTION_LABELS = frozenset(
    {"EMAIL", "PHONE", "CREDIT_CARD", "IP_ADDRESS", "IBAN", "SECRET", "PRIVATE_KEY", "PASSWORD"}
)
_MODEL_TOKENS = frozenset({"EOS", "BOS", "UNK", "PAD", "SEP", "CLS", "MASK", "START", "END"})
#: every alternative opens with its bracket and checks the character before it with a
#: lookbehind placed after it (same matches as a leading lookbehind), so the regex engine
#: skips straight to ``{``, ``<`` and ``[`` instead of trying every position
_PLACEHOLDER_RE = re.compile(
    r"(?P<mustache>\{\{\s*[A-Za-z_][\w.\- ]{0,40}?\s*\}\})"
    r"|(?P<brace>\{(?<![\w\\$}^_{]\{)[A-Za-z_][A-Za-z0-9_]{2,40}\})(?![\w{])"
    r"|(?P<angle><[A-Z][A-Z0-9_]*(?: [A-Z0-9_]+)*>)"
    r"|(?P<bracket>\[(?<![\w\]!]\[)(?:(?i:insert|enter|add|your|type|put)\b[^\]\n]{0,60}"
    r"|(?:[A-Z][\w'’]*\s){0,4}(?i:name|date|address|e-?mail|phone(?: number)?|company|"
    r"recipient|title|position|city|organi[sz]ation|website|amount|placeholder)"
    r"(?:\s[A-Z][\w'’]*){0,3})\](?![(\[:]))"
)


#: the same regex without the named groups: same matches, but the engine can then skip
#: straight to the brackets (named groups around the alternatives turn that off and made
#: the scan ~8x slower); the kind of a match is read from _PLACEHOLDER_RE at its start
_PLACEHOLDER_SCAN_RE = re.compile(re.sub(r"\(\?P<\w+>", "(?:", _PLACEHOLDER_RE.pattern))


_CODE_LINE_RE = re.compile(r"""f["']|[=;$%]|\w\(|\breturn\b|\bprint\b|</?[a-z]|\{%|=>""")
_CODE_TEXT_RE = re.compile(
    r"(?m)^\s*(?:import |from \S+ import |def |class |#include|function |const |let |var |"
    r"public |package |using |SELECT |<\?php|<template|<div)"
)


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)]


def _kind(text: str, pos: int) -> str:
    m = _PLACEHOLDER_RE.match(text, pos)
    return (m.lastgroup if m else None) or "placeholder"


def find_placeholders(text: str) -> list[Hit]:
    """Unfilled template slots outside code blocks and inline code.

    ``{name}`` needs 3+ characters and no letter, backslash or ``$`` before it (LaTeX
    and shell are not templates); ``<NAME>`` must be upper case (HTML is lower case) and
    not a model token (``<EOS>``) or a ``curate redact`` placeholder; square brackets
    need a slot word (``[Your Name]``, ``[Insert date]``, ``[Company Name]``).

    Example:
        >>> texts = ("Dear [Recipient's Name],", "use `{name}` in f-strings", "$\\\\frac{a}{b}$")
        >>> [t for t in texts if find_placeholders(t)]
        ["Dear [Recipient's Name],"]
    """
    if "{" not in text and "<" not in text and "[" not in text:
        return []
    code: list[tuple[int, int]] | None = None  # worked out at the first candidate
    hits = []
    looks_like_code: bool | None = None
    for m in _PLACEHOLDER_SCAN_RE.finditer(text):
        if code is None:
            code = _code_spans(text)
        if code and _in_spans(m.start(), code):
            continue
        kind = _kind(text, m.start())
        if kind in ("brace", "mustache"):
            # unfenced code: f-strings, str.format, Jinja/Vue templates
            if looks_like_code is None:
                looks_like_code = len(_CODE_TEXT_RE.findall(text)) >= 2
            line = _line_of(text, m.start()).replace(m.group(), "")
            if looks_like_code or _CODE_LINE_RE.search(line):
                continue
        if kind == "angle":
            inner = m.group()[1:-1]
            if len(inner) < 3 or inner in REDACTION_LABELS or inner in _MODEL_TOKENS:
                continue
        hits.append(Hit("template_placeholder", m.start(), m.end(), kind, "PLACEHOLDER"))
    return hits


# -- boilerplate and refusals ---------------------------------------------------------

_BOILERPLATE_RE = re.compile(
    r"(?i)\bas an? (?:ai|artificial intelligence)(?: (?:language )?model| assistant| chatbot)?\b"
    r"|\bI(?:'m| am) (?:just |only )?an? (?:ai|artificial intelligence)(?: language model)?\b"
    r"|\bas a (?:large )?language model\b"
    r"|\bI(?:'m| am) a (?:large )?language model\b"
    r"|\bmy (?:knowledge cutoff|training data (?:only )?goes up to)\b"
    r"|\bI (?:do not|don't) have (?:personal )?(?:opinions|feelings|emotions|beliefs)\b"
)
_BOILERPLATE_LOWER_RE = re.compile(
    _BOILERPLATE_RE.pattern.replace("(?i)", "", 1).replace("\\bI", "\\bi")
)
_REFUSAL_RE = re.compile(
    r"(?i)^\W*(?:(?:I'm|I am) (?:sorry|afraid)|(?:my )?apologies|I apologi[sz]e|sorry)?[,.!]?\s*"
    r"(?:but\s+)?(?:I|we)\s+(?:cannot|can't|can ?not|won't|will not|am unable to|'m unable to|"
    r"am not able to|'m not able to|must decline to|must refuse to)\s+"
    r"(?:help|assist|provide|comply|fulfil|fulfill|do that|answer|create|write|generate|"
    r"complete|engage|support|share|give)\b"
    r"|^\W*(?:I'm|I am) sorry,? but (?:that|this) (?:request|is something I)"
)


_IDENTITY_QUESTION_RE = re.compile(
    r"(?i)\b(?:who|what) (?:are|r) (?:you|u)\b|\byour name\b|\bwhat (?:model|llm)\b|"
    r"\bare you\s+(?:(?:a|an)\s+)?(?:human|real|person|robot|bot|machine|ai|sentient|conscious|"
    r"alive|based on|trained|made|created|developed|(?-i:[A-Z])[\w\-.]*\s*\?)|"
    r"\byourself\b|\babout you\b|\b(?:who|what) you are\b|"
    r"\bwho (?:made|created|trained|built|developed) you\b|"
    r"你是谁|你叫什么|你是什么"
)


#: _IDENTITY_QUESTION_RE for lower-cased text, matched case-sensitively (several times
#: faster than re.IGNORECASE), less its one case-sensitive branch ("are you" + a name with
#: a capital letter), which _ARE_YOU_NAME_RE checks on the text itself
_IDENTITY_LOWER_RE = re.compile(
    r"\b(?:who|what) (?:are|r) (?:you|u)\b|\byour name\b|\bwhat (?:model|llm)\b|"
    r"\bare you\s+(?:(?:a|an)\s+)?(?:human|real|person|robot|bot|machine|ai|sentient|conscious|"
    r"alive|based on|trained|made|created|developed)|"
    r"\byourself\b|\babout you\b|\b(?:who|what) you are\b|"
    r"\bwho (?:made|created|trained|built|developed) you\b|"
    r"你是谁|你叫什么|你是什么"
)
_ARE_YOU_NAME_RE = re.compile(r"(?i:\bare you\s+(?:(?:a|an)\s+)?)[A-Z][\w\-.]*\s*\?")
#: a prompt holding one of FOLDS_TO_ASCII (İ ı ſ K: case-insensitive matching pairs them
#: with an ASCII letter, str.lower does not turn them into it) is matched with
#: _IDENTITY_QUESTION_RE itself

_ABOUT_YOU_RE = re.compile(r"(?i)\b(?:you|your|yourself)\b")
_REQUEST_RE = re.compile(r"(?i)\b(?:can|could|would|will|please|help)\b")


def _about_you(prompt: str) -> bool:
    """A short question to the assistant about itself that is not a request ("Are you
    davinci?", "Who programmed you?")."""
    return (
        len(prompt) <= 60 and bool(_ABOUT_YOU_RE.search(prompt)) and not _REQUEST_RE.search(prompt)
    )


#: substrings one of which every boilerplate match contains (checked on the lower-cased
#: text before the regex runs): "as an ai" / "i'm just an ai" hold "an ai" or "a ai" (or
#: spell out "artificial intelligence"), and so on for each alternative of the regex.
#: Precise rather than few: merging them into " ai" and "t have " saves two scans but let
#: "aim", "air" and "doesn't have" through to the regex, which costs more (measured)
_BOILERPLATE_GATES = (
    "an ai",
    "a ai",
    "artificial intelligence",
    "language model",
    "my knowledge cutoff",
    "my training data",
    "i do not have ",
    "i don't have ",
)


#: the longest match _BOILERPLATE_LOWER_RE can make ("as an artificial intelligence
#: language model": a test checks it against every alternative)
_BOILERPLATE_WIDTH = 51


def asks_about_assistant(prompt: str) -> tuple[bool, bool]:
    """``(identity question, short question about "you")`` for a prompt: what
    a disclaimer in the reply is judged by (the first silences every disclaimer, the
    second those that open with "I").

    Example:
        >>> asks_about_assistant("Who are you?"), asks_about_assistant("Are you there?")
        ((True, True), (False, True))
    """
    low = prompt.lower()
    # every match holds "you", "who", "what" or "你" (no alternative needs a letter that
    # case-insensitive matching pairs with a non-ASCII one: i, k, s), so a prompt with
    # none of them skips the case-insensitive scan
    if "you" not in low and "who" not in low and "what" not in low and "你" not in prompt:
        return False, _about_you(prompt)
    if any(c in prompt for c in FOLDS_TO_ASCII):
        named = _IDENTITY_QUESTION_RE.search(prompt) is not None
    else:  # the same answer (a test compares them), trying only where a match can start
        named = _identity_lower(low) or (
            "are you" in low and _ARE_YOU_NAME_RE.search(prompt) is not None
        )
    return named, _about_you(prompt)


#: every match of _IDENTITY_LOWER_RE starts with one of these
_IDENTITY_STARTS = ("who", "what", "your", "are you", "about you", "你")


def _identity_lower(low: str) -> bool:
    """``_IDENTITY_LOWER_RE.search(low) is not None``, with the regex tried only at the
    places where one of its alternatives can start (each opens with one of
    :data:`_IDENTITY_STARTS`), instead of at every position of the prompt (~11 us for
    135 characters)."""
    match = _IDENTITY_LOWER_RE.match
    for start in _IDENTITY_STARTS:
        i = low.find(start)
        while i >= 0:
            if match(low, i):
                return True
            i = low.find(start, i + 1)
    return False


def boilerplate_hits(text: str) -> tuple[Hit | None, Hit | None]:
    """The first disclaimer in ``text``, and the first that does not open with "I" (what
    a reply to a short question about "you" is judged by); both depend on the text alone,
    so they can be cached per string.

    Example:
        >>> a, b = boilerplate_hits("I am an AI. As an AI model, I think so.")
        >>> (a.start, a.end), (b.start, b.end)
        ((0, 10), (12, 26))
    """
    low = text.lower()
    if not (  # _BOILERPLATE_GATES, unrolled: a generator costs more than these scans
        "an ai" in low
        or "a ai" in low
        or "language model" in low
        or "artificial intelligence" in low
        or "my knowledge cutoff" in low
        or "my training data" in low
        or "i do not have " in low
        or "i don't have " in low
    ):
        return None, None
    # case-sensitive scan of the lower-cased text: re.IGNORECASE is several times slower.
    # Every match holds one of the gate substrings, so none starts before the first gate
    # less the regex's widest match: the scan starts there (the text before it still
    # decides the leading \b), instead of trying every position of a long reply
    finder: Iterable[re.Match[str]]
    if len(low) == len(text):
        first_gate = min(i for i in (low.find(g) for g in _BOILERPLATE_GATES) if i >= 0)
        start = max(0, first_gate - _BOILERPLATE_WIDTH)
        finder = _matches_at_starts(low, start)
    else:
        finder = _BOILERPLATE_RE.finditer(text)
    first: Hit | None = None
    for m in finder:
        h = Hit("assistant_boilerplate", m.start(), m.end(), "ai_disclaimer", "")
        if first is None:
            first = h
        if m.group()[:1] not in "Ii":
            return first, h
    return first, None


#: every match of _BOILERPLATE_LOWER_RE starts with one of these (one per alternative:
#: "as a(n) ...", "i'm ..."/"i am ...", "my ...", "i do(n't) ...")
_BOILERPLATE_STARTS = ("as a", "i'm ", "i am ", "my ", "i do")


def _matches_at_starts(low: str, start: int) -> Iterator[re.Match[str]]:
    """``_BOILERPLATE_LOWER_RE.finditer(low, start)``, with the regex tried only where a
    match can start (:data:`_BOILERPLATE_STARTS`) instead of at every position: the same
    matches in the same order (the leftmost match, then the leftmost from its end on),
    several times faster on a long reply."""
    starts: set[int] = set()
    for s in _BOILERPLATE_STARTS:
        i = low.find(s, start)
        while i >= 0:
            starts.add(i)
            i = low.find(s, i + 1)
    match = _BOILERPLATE_LOWER_RE.match
    end = start
    for i in sorted(starts):
        if i >= end and (m := match(low, i)) is not None:
            yield m
            end = m.end()


def find_refusal(text: str) -> Hit | None:
    """A reply that starts by refusing (only the opening 300 characters are looked at:
    "I cannot stress enough" deep inside a helpful answer is not a refusal).

    Example:
        >>> find_refusal("I'm sorry, but I can't help with that request.").rule
        'refusal_opening'
        >>> find_refusal("Sure! I can help with that.") is None
        True
    """
    head = text[:300].lstrip(" \t\r\n\"'*_#>-")
    m = _REFUSAL_RE.match(head)
    if m is None:
        return None
    off = text.find(head[:40])
    return Hit("assistant_refusal", off + m.start(), off + m.end(), "refusal_opening", "")


# -- echo ------------------------------------------------------------------------------

_NON_WORD_RE = re.compile(r"[\W_]+")
_WORD_RUN_RE = re.compile(r"[^\W_]+")  # what _norm keeps: a word between its spaces
#: bytes.translate arguments: ASCII upper to lower case; every byte but ASCII letters and
#: digits (the bytes of non-ASCII characters too)
_LOWER_BYTES = bytes(c + 32 if 65 <= c <= 90 else c for c in range(256))
_NON_ALNUM_BYTES = bytes(c for c in range(256) if not chr(c).isascii() or not chr(c).isalnum())
#: the only non-ASCII characters whose ``str.lower`` holds an ASCII letter or digit
#: (U+0130 -> "i" + U+0307, U+212A -> "k"; a test checks every code point)
_LOWER_TO_ASCII = ("\u0130", "\u212a")


def _norm(text: str) -> str:
    return _NON_WORD_RE.sub(" ", text.lower()).strip()


def _ascii_alnum(text: str) -> bytes:
    """The ASCII letters (lower-cased) and digits of ``text``, in order: what is left of
    :func:`_norm` when its spaces and non-ASCII characters are dropped, for a text with
    none of :data:`_LOWER_TO_ASCII`."""
    return text.encode("utf-8", "surrogatepass").translate(_LOWER_BYTES, _NON_ALNUM_BYTES)


def _run_inside(low: str, other_low: str) -> bool:
    """Whether the first word of the lower-cased text ``low`` (as :func:`_norm` has it; at
    most its first 12 characters) occurs in ``other_low``; true for a text with no word."""
    m = _WORD_RUN_RE.search(low)
    return m is None or low[m.start() : min(m.end(), m.start() + 12)] in other_low


def is_echo(prompt: str, reply: str, *, min_chars: int = 12) -> bool:
    """True when ``reply`` is the prompt again (same words, ignoring case and
    punctuation), or the prompt with at most 10% added or removed.

    Example:
        >>> is_echo("What is the capital of France?", "What is the capital of France")
        True
        >>> is_echo("Fix the grammar: she go home.", "She goes home.")
        False
    """
    if len(reply) < min_chars or not 0.6 * len(prompt) <= len(reply) <= 1.7 * len(prompt):
        return False
    # necessary: the shorter normalised text inside the longer one, so also their ASCII
    # letters and digits alone (dropping characters keeps a substring a substring), and
    # first the opening 16 of those: two C-speed byte passes and a short search instead
    # of two regex substitutions and a long one (a long needle costs ~10 us to set up)
    a, b = _ascii_alnum(reply), _ascii_alnum(prompt)
    if len(a) > len(b):
        a, b = b, a
    if (a[:16] not in b or a not in b) and (
        (prompt.isascii() and reply.isascii())
        or not any(c in t for t in (prompt, reply) for c in _LOWER_TO_ASCII)
    ):
        return False
    if len(a) < 16:
        # too few ASCII letters to tell (another script): every word of the shorter
        # normalised text lies inside a word of the longer one, so its first word (of
        # either text: which is shorter is not known yet) is in the other, lower-cased
        r_low, p_low = reply.lower(), prompt.lower()
        if not (_run_inside(r_low, p_low) or _run_inside(p_low, r_low)):
            return False
    r = _norm(reply)
    if len(r) < min_chars:
        return False
    p = _norm(prompt)
    if r == p:
        return True
    short, long_ = (r, p) if len(r) < len(p) else (p, r)
    return len(short) >= 0.9 * len(long_) and short in long_


# -- truncation -----------------------------------------------------------------------

_DANGLING_WORDS = frozenset(
    "the a an and or but of to with for in on at by from that which who is are was were "
    "be as if than then because while when into onto its their our your my his her this "
    "these those such".split()
)
_LAST_WORD_RE = re.compile(r"([A-Za-z]+)\s*$")
#: last characters after which find_truncation reports nothing when the text holds no
#: code fence: not whitespace, a letter, "-" or one of its dangling punctuation marks
_SAFE_ENDS = frozenset(".!?)\"'*0123456789。！？]}>|;%”’»…")


def find_truncation(text: str, *, min_chars: int = 80) -> list[Hit]:
    """A reply cut off: an odd number of code fences (a code block left open), or a
    reply of ``min_chars`` or more ending in a comma, a colon, an open bracket, or a
    word that cannot end a sentence ("the", "and", "of"...).

    Example:
        >>> find_truncation("There are three reasons to move. First, the rent in the city "
        ...                 "has doubled since last year. Second, the cost of the")[0].rule
        'dangling_word'
        >>> find_truncation("Paris is the capital of France.")
        []
    """
    if text[-1:] in _SAFE_ENDS and "`" not in text:
        return []  # (the test below finds nothing after such a character, fast)
    hits = []
    if text.count("```") % 2 == 1:
        pos = text.rfind("```")
        hits.append(Hit("truncated_reply", pos, len(text), "open_code_block", ""))
        return hits
    stripped = text.rstrip()
    if len(stripped) < min_chars:
        return hits
    last = stripped[-1]
    end = len(stripped)
    if last in ",:([{（，、：" or (last == "-" and stripped[-2:-1].isalpha()):
        hits.append(Hit("truncated_reply", end - 1, end, "dangling_punctuation", ""))
    elif last.isalpha():
        m = _LAST_WORD_RE.search(stripped[-30:])
        if m and m.group(1).lower() in _DANGLING_WORDS:
            hits.append(Hit("truncated_reply", end - len(m.group(1)), end, "dangling_word", ""))
    return hits


# -- repetition -----------------------------------------------------------------------


def find_repetition(
    text: str, *, min_chars: int = 200, max_ratio: float = 0.2, min_repeats: int = 4
) -> Hit | None:
    """A degenerate loop: the text compresses to under ``max_ratio`` of its size (a cheap
    zlib test that normal prose, code and tables stay well above) and one n-gram of
    words (or characters, for text without spaces) repeats ``min_repeats`` times or
    more back to back. The span covers the loop.

    Example:
        >>> t = "Sure, here it is. " + "I will help you. " * 20
        >>> h = find_repetition(t); h.rule, t[h.start:h.start + 16]
        ('repeated_ngram', 'I will help you.')
        >>> find_repetition("The quick brown fox jumps over the lazy dog. " * 2) is None
        True
    """
    if len(text) < min_chars:
        return None
    hit = _periodic_run(text, min_repeats)
    if hit is None:
        return None
    raw = text.encode("utf-8", "surrogatepass")
    if len(zlib.compress(raw, 1)) > max_ratio * len(raw):
        return None
    return hit


def _extend_left(text: str, start: int, period: int) -> int:
    """The first index of the run ending at ``start`` where each character equals the one
    ``period`` after it: compared in slices of 256, 64, 16, 4 and 1 characters (a slice
    comparison is that per-character test on all of them at once) instead of one
    character per step, which took ~10 us on a table's line of dashes."""
    step = 256
    while step:
        while (
            start - step >= 0
            and text[start - step : start] == text[start - step + period : start + period]
        ):
            start -= step
        step >>= 2
    return start


def _extend_right(text: str, end: int, period: int, n: int) -> int:
    """The end of the run from ``end`` on where each character equals the one ``period``
    before it (see :func:`_extend_left`)."""
    step = 256
    while step:
        while (
            end + step <= n and text[end : end + step] == text[end - period : end - period + step]
        ):
            end += step
        step >>= 2
    return end


def _periodic_run(text: str, min_repeats: int) -> Hit | None:
    """The longest run where a unit of 1..200 characters repeats back to back."""
    n = len(text)
    best: tuple[int, int, int] | None = None  # (length, start, period)
    # ascending, as sorted({...}) gave (n >= 200: n - 60 > n // 2); a repeated probe finds
    # the same run again, which never replaces the first (strictly longer only)
    q3, last = (3 * n) // 4, n - 60
    a, b = n // 4, n // 2
    find = text.find
    if (  # the loop below, for the common case where no probe's text comes back
        find(text[a : a + 24], a + 1, a + 424) < 0
        and find(text[b : b + 24], b + 1, b + 424) < 0
        and find(text[q3 : q3 + 24], q3 + 1, q3 + 424) < 0
        and find(text[last : last + 24], last + 1, last + 424) < 0
    ):
        return None
    probe_points = (a, b, q3, last) if q3 <= last else (a, b, last, q3)
    for probe in probe_points:
        chunk = text[probe : probe + 24]
        if len(chunk) < 8:
            continue
        # the next copy must start within 400 characters: search no further than that
        nxt = text.find(chunk, probe + 1, probe + 400 + len(chunk))
        if nxt < 0:
            continue
        period = nxt - probe
        start = _extend_left(text, probe, period)
        end = _extend_right(text, probe + period, period, n)
        length = end - start
        if length >= min_repeats * period and length >= 40 and (best is None or length > best[0]):
            best = (length, start, period)
    if best is None:
        return None
    length, start, period = best
    # start the span at a word boundary of the unit
    unit = text[start : start + period]
    ws = unit.find(" ")
    if 0 <= ws < period - 1 and not unit[0].isupper():
        start += ws + 1
    return Hit("repetition_loop", start, start + length, "repeated_ngram", "")


# -- encoding damage ------------------------------------------------------------------

_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]"
)
#: characters every common mojibake holds: UTF-8 lead bytes read as Latin-1/Windows-1252
#: (Â Ã â Ð Ñ ...), as Windows-1251 (Р С), C1 controls, and the replacement character
_MOJIBAKE_GATE_RE = re.compile("[\u0080-\u009f\u00c2-\u00f4\u0420\u0421\u0432\ufffd]")
_MOJIBAKE_FALLBACK_RE = re.compile("Ã[\u0080-\u00bf]|â€[\u0080-\u00bf™œ“”˜]|Â[\u00a0-\u00bf]|ï»¿")


def find_control_chars(text: str) -> Hit | None:
    """The first control character (other than tab and newlines) or invisible
    bidirectional override (the "Trojan Source" characters).

    Example:
        >>> find_control_chars("ok\\x00bad").start
        2
    """
    m = _CONTROL_RE.search(text)
    if m is None:
        return None
    return Hit("control_characters", m.start(), m.end(), f"U+{ord(m.group()):04X}", "")


def _badness_anchors(pattern: re.Pattern[str]) -> tuple[str, int] | None:
    """``(characters, width)`` for ftfy's BADNESS_RE: every match holds one of the
    characters and is at most ``width`` long, so the regex need only run around them
    (see :func:`_is_bad`). Worked out from the pattern with the ``re`` module's own
    parser: per alternative, its smallest required class of non-ASCII characters. None
    when the pattern has a shape this cannot judge (then the whole text is searched)."""
    try:
        try:
            from re import _constants as c
            from re import _parser as sp
        except ImportError:  # Python 3.10
            import sre_constants as c  # type: ignore[no-redef]
            import sre_parse as sp  # type: ignore[no-redef]

        tree = sp.parse(pattern.pattern, pattern.flags)
        width = tree.getwidth()[1]
        if len(tree) != 1 or tree[0][0] is not c.BRANCH or width > 32:
            return None
        anchors: set[str] = set()
        for branch in tree[0][1][1]:
            best: set[str] | None = None
            for op, av in branch:
                chars: set[str] = set()
                if op is c.LITERAL:
                    chars.add(chr(av))
                elif op is c.IN:
                    for o, a in av:
                        if o is c.LITERAL:
                            chars.add(chr(a))
                        elif o is c.RANGE:
                            chars.update(map(chr, range(a[0], a[1] + 1)))
                        else:
                            chars = set()
                            break
                if chars and not any(ch.isascii() for ch in chars):
                    if best is None or len(chars) < len(best):
                        best = chars
            if best is None:
                return None
            anchors |= best
        return "".join(sorted(anchors)), width
    except Exception:  # pragma: no cover - another Python's or ftfy's internals
        return None


def _badness_module() -> Any:
    """``ftfy.badness``, the one ftfy module the mojibake rule uses. Loaded from its file
    alone when ftfy is not imported yet: it needs only ``re`` and ``warnings``, while
    importing it the usual way runs the package's ``__init__`` (its character tables,
    fixers and codecs: ~30 ms of every ``curate validate`` run, against ~6 ms). Any other
    layout (a relative import, a missing attribute) gets the usual import.

    Example:
        >>> _badness_module().is_bad("The cafÃ© is open")
        True
    """
    if "ftfy" not in sys.modules:
        with contextlib.suppress(Exception):
            spec = importlib.util.find_spec("ftfy")
            folders = list(spec.submodule_search_locations or ()) if spec else []
            alone = importlib.util.spec_from_file_location(
                "curate._ftfy_badness", Path(folders[0]) / "badness.py"
            )
            if alone is not None and alone.loader is not None:
                module = importlib.util.module_from_spec(alone)
                alone.loader.exec_module(module)
                if isinstance(getattr(module, "BADNESS_RE", None), re.Pattern) and callable(
                    getattr(module, "is_bad", None)
                ):
                    return module
    from ftfy import badness

    return badness


@lru_cache(maxsize=1)
def _ftfy() -> tuple[Any, tuple[str, int] | None, re.Pattern[str] | None]:
    """``(ftfy.badness, its anchors, a regex of the anchor characters)``, loaded on first
    use (:func:`_badness_module`); ``(None, None, None)`` without ftfy."""
    try:
        badness = _badness_module()
    except ImportError:  # pragma: no cover - only without the [content] extra
        return None, None, None
    anchors = _badness_anchors(badness.BADNESS_RE)
    return badness, anchors, re.compile(f"[{re.escape(anchors[0])}]+") if anchors else None


def _is_bad(text: str) -> bool:
    """``ftfy.badness.is_bad(text)``, faster: the big regex runs only in windows around
    the characters one of which each of its matches holds (the anchors), instead of at
    every position of the text (~100 us per 1,000 characters). The same answer
    (tests/validators/test_content_gates.py compares them)."""
    badness, anchors, anchor_re = _ftfy()
    assert badness is not None
    if anchors is None or anchor_re is None:
        return bool(badness.is_bad(text))
    bad = badness.BADNESS_RE
    w = anchors[1] - 1
    n = len(text)
    lo = hi = -1
    for m in anchor_re.finditer(text):
        s, e = max(0, m.start() - w), min(n, m.end() + w)
        if s > hi:
            if hi >= 0 and bad.search(text, lo, hi):
                return True
            lo = s
        hi = e
    return hi >= 0 and bad.search(text, lo, hi) is not None


def find_mojibake(text: str) -> Hit | None:
    """Text that was decoded with the wrong encoding (UTF-8 read as Windows-1252...),
    as ``ftfy`` judges it. Only non-ASCII text can be mojibake, so ASCII is skipped.

    Example:
        >>> find_mojibake("The cafÃ© is open").rule
        'ftfy_badness'
        >>> find_mojibake("Le café est ouvert — « bienvenue »") is None
        True
    """
    if text.isascii() or _MOJIBAKE_GATE_RE.search(text) is None:
        return None
    badness = _ftfy()[0] if FTFY_AVAILABLE else None
    if badness is not None:
        if not _is_bad(text):
            return None
        m = badness.BADNESS_RE.search(text)
        s, e = m.span() if m else (0, len(text))
        return Hit("mojibake", s, e, "ftfy_badness", "")
    m = _MOJIBAKE_FALLBACK_RE.search(text)
    return Hit("mojibake", m.start(), m.end(), "common_sequences", "") if m else None


# -- language -------------------------------------------------------------------------

_TRANSLATE_RE = re.compile(
    r"(?i)translat|tradu[ci]|übersetz|翻译|翻譯|翻訳|перевод|переве|\blanguage\b|\bidioma\b|"
    r"\bsprache\b|\blangue\b|语言|"
    r"\b(?:in|into|to) (?:english|french|spanish|german|italian|portuguese|chinese|japanese|"
    r"korean|russian|arabic|hindi|dutch|polish|turkish|swedish|greek|hebrew|latin|"
    r"vietnamese|indonesian|thai)\b"
)
#: language names by ISO 639-1 code: a prompt naming the reply's language asked for it
LANGUAGE_NAMES = {
    "en": ("english", "inglés", "anglais", "englisch", "英语", "英文"),
    "es": ("spanish", "español", "espagnol", "spanisch", "castellano", "西班牙"),
    "fr": ("french", "français", "francés", "französisch", "法语", "法文"),
    "de": ("german", "deutsch", "alemán", "allemand", "德语"),
    "it": ("italian", "italiano", "italien", "意大利"),
    "pt": ("portuguese", "português", "portugués", "葡萄牙"),
    "nl": ("dutch", "nederlands", "holländisch"),
    "ru": ("russian", "русск", "ruso", "俄语"),
    "zh": ("chinese", "mandarin", "中文", "汉语", "chino", "chinois"),
    "ja": ("japanese", "日本語", "日语", "japonés"),
    "ko": ("korean", "한국어", "韩语"),
    "ar": ("arabic", "العربية", "árabe"),
    "hi": ("hindi", "हिन्दी"),
    "tr": ("turkish", "türkçe"),
    "pl": ("polish", "polski"),
    "sv": ("swedish", "svenska"),
    "el": ("greek", "ελληνικά"),
    "he": ("hebrew", "עברית"),
    "la": ("latin",),
    "vi": ("vietnamese", "tiếng việt"),
    "id": ("indonesian", "bahasa"),
    "th": ("thai", "ภาษาไทย"),
}
_EN_STOP = (
    " the ", " and ", " is ", " of ", " to ", " you ", " that ", " in ", " a ", " for ",
    " it ", " with ", " are ", " this ", " what ", " how ", " can ", " my ", " your ",
)  # fmt: skip


#: the same words, the most used first: the count stops as soon as it is reached
_EN_STOP_BY_USE = (
    " a ", " to ", " and ", " of ", " is ", " in ", " you ", " for ", " it ", " that ",
    " with ", " the ", " are ", " this ", " can ", " your ", " my ", " what ", " how ",
)  # fmt: skip


@lru_cache(maxsize=1)
def _identifier() -> Any:
    assert _langid is not None
    from curate.validators.langid_cache import load_identifier

    # the library's model, its arrays read from an uncompressed cache (~0.05 s instead
    # of ~0.45 s of LZMA per process)
    return load_identifier()


#: py3langid's label for text with no linguistic content (ISO 639-2 "zxx": shell
#: commands, keys, numbers, identifiers): not a language, so never one side of a mismatch
#: (an API key as the prompt was reported as "prompt in 'zxx'")
NO_LANG = "zxx"


@lru_cache(maxsize=4096)
def _classify(head: str) -> tuple[str, float]:
    """py3langid's ``(language, probability)`` for a text's first 250 characters. Cached
    (bounded: 4,096 heads of 250 characters at most): a prompt answered by several replies
    (preference data) or a repeated template is classified once per process."""
    lang, conf = _identifier().classify(head)
    return str(lang), float(conf)


#: the scripts of letters by code-point range, ``[lo, hi)`` (the ranges do not overlap)
_SCRIPT_RANGES = (
    (0x0000, 0x0250, "latin"),
    (0x0400, 0x0530, "cyrillic"),
    (0x0590, 0x0600, "hebrew"),
    (0x0600, 0x0700, "arabic"),
    (0x0900, 0x0E00, "indic"),
    (0x0E00, 0x0E80, "thai"),
    (0x3040, 0x3100, "kana"),
    (0xAC00, 0xD7B0, "hangul"),
    (0x1100, 0x1200, "hangul"),
    (0x4E00, 0xA000, "han"),
    (0x3400, 0x4DC0, "han"),
    (0x0370, 0x0400, "greek"),
)


def _char_script(ch: str) -> str | None:
    """The script of one character by code-point range; ``None`` for a non-letter."""
    if not ch.isalpha():
        return None
    o = ord(ch)
    for lo, hi, name in _SCRIPT_RANGES:
        if lo <= o < hi:
            return name
    return "other"


class _ScriptTable(dict[str, "str | None"]):
    """character -> :func:`_char_script`, filled on first sight. Real text has a few
    thousand distinct characters; input crafted to hold every code point would have
    grown it to ~1.1 million entries (~100 MB), so it is emptied when it reaches
    :data:`_SCRIPT_TABLE_MAX` (the answers never depend on what it holds)."""

    def __missing__(self, ch: str) -> str | None:
        if len(self) >= _SCRIPT_TABLE_MAX:
            self.clear()
        s = self[ch] = _char_script(ch)
        return s


#: characters :data:`_SCRIPT_OF` holds at most (~6 MB)
_SCRIPT_TABLE_MAX = 65_536


_SCRIPT_OF = _ScriptTable()


def _script(text: str) -> str:
    """The dominant script among the first 200 letters (of the first 400 characters;
    cheap: code-point ranges, looked up per distinct character once per process and
    counted at C speed). Ties go to the script seen first; Japanese is "kana" when kana
    are a tenth of the letters (kanji alone would count as han)."""
    if text.isascii():
        return "latin" if any(c.isalpha() for c in text[:200]) else ""
    letters = list(filter(None, map(_SCRIPT_OF.__getitem__, text[:400])))[:200]
    if not letters:
        return ""
    counts = Counter(letters)  # keys in order of first sight, as max() breaks ties
    if counts.get("kana", 0) * 10 >= len(letters):
        return "kana"
    return max(counts, key=counts.__getitem__)


def _english_like(text: str) -> bool:
    head = text[:300]
    if " the " in head and (" and " in head or " to " in head or " of " in head or len(head) < 120):
        return True  # the common case, without lower-casing
    low = f" {head.lower()} "
    need = 1 if len(low) < 120 else 2
    hits = 0
    for w in _EN_STOP_BY_USE:
        if w in low:
            hits += 1
            if hits >= need:
                return True
    return False


#: function words of the common Latin-script languages besides English, chosen to be
#: words of no other language here (no "de", "la", "que", "con", "il", "du", "des"), so
#: that a text full of them is in that language
_LATIN_STOP: dict[str, tuple[str, ...]] = {
    "es": (" el ", " los ", " las ", " y ", " más ", " pero ", " muy ", " también ", " hay ",
           " cuando ", " sus ", " qué ", " cuál ", " tan ", " puede "),
    "pt": (" não ", " uma ", " com ", " os ", " dos ", " em ", " é ", " ao ", " são ", " também ",
           " você ", " isso ", " muito ", " pela ", " pelo ", " pelos ", " ela ", " ele "),
    "fr": (" les ", " et ", " est ", " une ", " pour ", " dans ", " avec ", " pas ", " vous ",
           " sur ", " nous ", " être ", " ce ", " qui ", " elle ", " sont ", " aux ", " ses "),
    "it": (" gli ", " di ", " che ", " è ", " della ", " sono ", " anche ", " questo ", " nel ",
           " alla ", " degli ", " perché ", " per ", " ogni ", " così "),
    "de": (" der ", " die ", " das ", " und ", " ist ", " nicht ", " ein ", " eine ", " mit ",
           " zu ", " für ", " auf ", " ich ", " sich ", " auch ", " von ", " sie ", " wird "),
    "nl": (" het ", " een ", " van ", " niet ", " op ", " voor ", " zijn ", " ook ", " wordt ",
           " naar ", " maar ", " wat ", " waarom ", " deze ", " bij ", " aan ", " hij ", " heeft "),
}  # fmt: skip
_WORD_RE = re.compile(r"[^\W\d_]+")
_ASCII_WORD_RE = re.compile(r"[a-z]+")
#: function word -> its language (English: _EN_STOP), for one dict look-up per word
_WORD_LANG = {w.strip(): lang for lang, ws in (("en", _EN_STOP), *_LATIN_STOP.items()) for w in ws}
_LANGS = ("en", *_LATIN_STOP)


def latin_language(text: str) -> str | None:
    """The language of a Latin-script text judged by its function words alone, or ``None``
    when they do not say: English, Spanish, Portuguese, French, Italian, German or Dutch
    when one's function words occur 3 or more times in the first 300 characters and at
    least twice as often as any other's; also English for ASCII text with English function
    words (one under 120 characters, else two, as :func:`_english_like` asks) and none of
    the others (lists, tables and short answers in English say little more than that).
    Used only to skip language identification when prompt and reply agree.

    Example:
        >>> latin_language("¿Cuál es la capital de Francia y por qué es tan famosa?")
        'es'
        >>> latin_language("Paris, Lyon, Marseille") is None
        True
        >>> latin_language("Die Hauptstadt von Frankreich ist Paris und sie ist berühmt.")
        'de'
        >>> latin_language("Ingredients:\\n- 1 cup of flour\\n- 2 eggs")
        'en'
    """
    head = text[:300]
    counts = dict.fromkeys(_LANGS, 0)
    get = _WORD_LANG.get
    low = head.lower()
    # on ASCII, the letters are [a-z] after lower-casing: a class without the Unicode
    # look-ups \W and \d make per character (the same words)
    for w in (_ASCII_WORD_RE if low.isascii() else _WORD_RE).findall(low):
        lang = get(w)
        if lang is not None:
            counts[lang] += 1
    best = max(counts, key=counts.__getitem__)
    top = counts[best]
    rest = max(c for lang, c in counts.items() if lang != best)
    if top >= 3 and top >= 2 * rest:
        return best
    if best == "en" and top >= (1 if len(head) < 120 else 2) and rest == 0 and head.isascii():
        return "en"
    return None


def _opens_markup(text: str) -> bool:
    """``text.lstrip()[:1] in "{[<"`` (true for a blank text too), without copying a text
    that does not open with whitespace."""
    first = text[:1]
    if first and not first.isspace():
        return first in "{[<"
    return text.lstrip()[:1] in "{[<"


def language_mismatch(
    prompt: str,
    reply: str,
    *,
    min_chars: int = 40,
    min_confidence: float = 0.9,
    min_confidence_script: float = 0.5,
) -> tuple[str, str, float] | None:
    """``(prompt_lang, reply_lang, confidence)`` when a reply is in another language than
    its prompt, else ``None``. Skipped: texts under ``min_chars`` letters after code is
    removed, prompts that ask for a translation or name the reply's language, and pairs where
    either side's language is identified with less than ``min_confidence``. A reply in
    another script than its prompt, and not in Latin letters (an English question answered
    in Chinese), needs only ``min_confidence_script`` for its own language: the script
    already says it differs, and the model spreads Chinese text over zh and its neighbours
    (0.8-0.9 for whole paragraphs).
    A text the model finds no language in (``zxx``: keys, hex, identifiers) is no side
    of a mismatch.
    The model (a pure-Python n-gram scorer, ~100 us per text) runs only when cheap gates
    cannot decide: both texts looking English (common function words), both in one script
    that (nearly) one language writes (Han, Hangul, kana, Thai, Greek, Hebrew...), or both
    Latin-script texts in the same language by their function words
    (:func:`latin_language`) skip it.

    Example:
        >>> language_mismatch("What is the capital of France and why is it famous?",
        ...     "La capital de Francia es París. Es famosa por su historia, sus museos y "
        ...     "la torre Eiffel, que es uno de los monumentos más visitados del mundo.")[:2]
        ('en', 'es')
    """
    if _langid is None:
        return None
    if len(prompt) < min_chars or len(reply) < min_chars:
        return None
    if _opens_markup(reply) or _opens_markup(prompt):
        return None  # JSON, markup: not prose
    if _english_like(prompt) and _english_like(reply):
        return None
    p = _CODE_RE.sub(" ", prompt) if "`" in prompt else prompt
    r = _CODE_RE.sub(" ", reply) if "`" in reply else reply
    if len(p) < min_chars or len(r) < min_chars:
        return None
    sp, sr = _script(p), _script(r)
    if not sp or not sr:
        return None
    if sp == sr and sp not in ("latin", "cyrillic", "arabic"):
        return None  # one script that (nearly) one language writes: han, hangul, kana...
    if sp == sr == "latin":
        lang_p, lang_r = latin_language(p), latin_language(r)
        if lang_p is not None and lang_p == lang_r:
            return None  # the same language by its function words
        # one side judged by its function words, the other not: the model judges that
        # one first, and the pair is done when it agrees (one call instead of two)
        # (and the pair is done when the model finds no language in that one: code,
        # numbers, identifiers; see NO_LANG)
        if lang_p is not None and lang_r is None and _classify(r[:250])[0] in (lang_p, NO_LANG):
            return None
        if lang_r is not None and lang_p is None and _classify(p[:250])[0] in (lang_r, NO_LANG):
            return None
    if _TRANSLATE_RE.search(prompt):
        return None
    lp, cp = _classify(p[:250])
    if cp < min_confidence or lp == NO_LANG:
        return None  # the reply's language cannot make this a confident mismatch
    lr, cr = _classify(r[:250])
    if lr == NO_LANG:
        return None
    need = min_confidence if sr == sp or sr == "latin" else min_confidence_script
    if lp == lr or cr < need:
        return None
    low = prompt.lower()
    if any(name in low for name in LANGUAGE_NAMES.get(lr, ())):
        return None
    return lp, lr, float(min(cp, cr))


# -- the rules (see curate.validators.base.Rule) ------------------------------------


def _placeholders(text: str) -> tuple[Hit, ...]:
    return tuple(find_placeholders(text))


def _report_placeholders(text: str, hits: tuple[Hit, ...], prompt: str | None) -> Iterator[Any]:
    for h in hits:
        yield h, f"unfilled placeholder {text[h.start : h.end]!r}", None


def _report_control(text: str, h: Hit | None, prompt: str | None) -> Iterator[Any]:
    if h is not None:
        n = len(_CONTROL_RE.findall(text))
        yield h, f"{n} control character(s), first {h.rule} at {h.start}", None


def _report_mojibake(text: str, h: Hit | None, prompt: str | None) -> Iterator[Any]:
    if h is not None:
        yield h, f"mojibake {text[h.start : h.end][:20]!r}", None


@lru_cache(maxsize=4096)
def _asks(prompt: str) -> tuple[bool, bool]:
    return asks_about_assistant(prompt)


def _report_boilerplate(
    text: str, hits: tuple[Hit | None, Hit | None], prompt: str | None
) -> Iterator[Any]:
    """The first disclaimer; none in reply to an identity question ("Who are you?"), and
    to another short question about "you" only one that does not open with "I"."""
    h = hits[0]
    if h is not None and prompt is not None:
        named, about_you = _asks(prompt)
        h = None if named else hits[1] if about_you else h
    if h is not None:
        yield h, f"AI boilerplate {text[h.start : h.end]!r}", None


def _report_refusal(text: str, h: Hit | None, prompt: str | None) -> Iterator[Any]:
    if h is not None:
        yield h, f"refusal {text[h.start : h.end][:60]!r}", None


def _truncation(text: str, *, min_chars: int = 80) -> tuple[Hit, ...]:
    return tuple(find_truncation(text, min_chars=min_chars))


def _report_truncation(text: str, hits: tuple[Hit, ...], prompt: str | None) -> Iterator[Any]:
    for h in hits:
        why = (
            "open code block"
            if h.rule == "open_code_block"
            else f"ends with {text[h.start : h.end]!r}"
        )
        yield h, f"reply cut off ({why})", None


def _report_repetition(text: str, h: Hit | None, prompt: str | None) -> Iterator[Any]:
    if h is not None:
        n = h.end - h.start
        what = (
            f"loop of {n} chars ({n * 100 // len(text)}% of the reply), "
            f"starting {text[h.start : h.start + 30]!r}"
        )
        yield h, what, None


def _report_echo(text: str, echo: bool, prompt: str | None) -> Iterator[Any]:
    if echo:
        yield Hit("prompt_echo", 0, len(text), "same_words", ""), "reply repeats the prompt", None


def language_may_differ(prompt: str, reply: str, *, min_chars: int = 40) -> bool:
    """False where :func:`language_mismatch` finds nothing for sure (cheap: lengths and
    a few substring tests, true for most pairs): without the model, a side under
    ``min_chars``, or both looking English."""
    return (
        LANGID_AVAILABLE
        and len(prompt) >= min_chars
        and len(reply) >= min_chars
        and not (_english_like(prompt) and _english_like(reply))
    )


def _report_language(
    text: str, mm: tuple[str, str, float] | None, prompt: str | None
) -> Iterator[Any]:
    if mm is not None:
        what = f"reply in {mm[1]!r}, prompt in {mm[0]!r} (confidence {mm[2]:.2f})"
        yield (
            Hit("language_mismatch", 0, len(text), "py3langid", ""),
            what,
            {"languages": list(mm[:2])},
        )


W = "warning"

#: the text rules, in the order their findings are listed for a string
PLACEHOLDERS = Rule(
    codes={"template_placeholder": (W, "an unfilled template slot: {{name}}, {name}, <NAME>...")},
    find=_placeholders,
    report=_report_placeholders,
    hint="fill the template in (or drop the example) before training",
    # every match opens with {{, a {word}, <A or [ and a letter
    gate=rb"\{\{|\{[A-Za-z_][A-Za-z0-9_]{2,40}\}|<[A-Z]|\[[A-Za-z]",
    skip_roles="placeholder_allowed_roles",
)
CONTROL = Rule(
    codes={"control_characters": (W, "control or invisible bidirectional characters")},
    find=find_control_chars,
    report=_report_control,
    hint="strip the control characters",
    # exactly _CONTROL_RE's characters, in UTF-8
    gate=rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]"
    rb"|\xe2\x81[\xa6-\xa9]|\xef\xbf[\xbe\xbf]",
    empty=None,
)
MOJIBAKE = Rule(
    codes={"mojibake": (W, "text decoded with the wrong encoding (Ã© for é), per ftfy")},
    find=find_mojibake,
    report=_report_mojibake,
    hint="repair the text with ftfy.fix_text, or re-read the source with the right encoding",
    # exactly _MOJIBAKE_GATE_RE's characters, in UTF-8
    gate=rb"\xc2[\x80-\x9f]|\xc3[\x82-\xb4]|\xd0[\xa0\xa1\xb2]|\xef\xbf\xbd",
    empty=None,
    prepare=lambda: FTFY_AVAILABLE and _ftfy(),
)
BOILERPLATE = Rule(
    codes={"assistant_boilerplate": (W, "an 'As an AI language model' disclaimer in a reply")},
    find=boilerplate_hits,
    report=_report_boilerplate,
    hint="rewrite the reply without the disclaimer, or drop the example",
    scope="reply",
    gate=rb"(?i)an ai|a ai|language model|artificial intelligence|my knowledge cutoff"
    rb"|my training data|i do not have |i don't have ",  # boilerplate_hits' own gates
    empty=(None, None),
)
REFUSAL = Rule(
    codes={"assistant_refusal": (W, "a reply that opens by refusing ('I'm sorry, but I can't')")},
    find=find_refusal,
    report=_report_refusal,
    hint="drop the example unless teaching refusals is intended",
    scope="reply",
    # every match of _REFUSAL_RE holds one of its verbs, or "sorry, but th..."
    gate=rb"(?i)can ?not|can't|won't|will not|unable to|not able to|must decline to"
    rb"|must refuse to|sorry,? but th",
    empty=None,
)
TRUNCATION = Rule(
    codes={"truncated_reply": (W, "a reply cut off mid-sentence or inside an open code block")},
    find=_truncation,
    report=_report_truncation,
    hint="complete the reply or drop the example",
    scope="reply",
)
REPETITION = Rule(
    codes={"repetition_loop": (W, "a degenerate loop: the same words repeated back to back")},
    find=find_repetition,
    report=_report_repetition,
    hint="cut the loop or drop the example",
    scope="reply",
    empty=None,
)
ECHO = Rule(
    codes={"prompt_echo": (W, "a reply that repeats its prompt")},
    find=is_echo,
    report=_report_echo,
    hint="write a real answer or drop the example",
    scope="pair",
    empty=False,
)
LANGUAGE = Rule(
    codes={
        "language_mismatch": ("info", "a reply in another language than its prompt (py3langid)")
    },
    find=language_mismatch,
    report=_report_language,
    hint="check the reply answers in the prompt's language",
    scope="pair",
    empty=None,
    needs=language_may_differ,
    prepare=lambda: LANGID_AVAILABLE and _identifier(),
)
