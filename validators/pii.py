"""Find personal data in text: e-mail addresses, phone numbers, payment card numbers
(Luhn-checked), public IP addresses and IBANs (mod-97-checked).

Built to be precise on training data, where look-alikes are common. Not reported:

- e-mail at reserved example domains (``example.com``, ``*.test``, ``localhost``...) and
  obvious stand-ins (``you@yourdomain.com``, ``boss@company.com``, ``a@b.com``);
- phone numbers with the fictional US ``555`` area code or exchange, and digit runs without the
  shape of a phone number (dates, ids, prices, versions);
- card numbers that fail the Luhn check or a card network's prefix, and the well-known
  test numbers (``4111 1111 1111 1111``, ``4242 4242 4242 4242``...);
- private, loopback, link-local and documentation IP ranges (``10.0.0.1``,
  ``192.168.1.1``, ``203.0.113.7``), well-known public resolvers (``8.8.8.8``), and
  dotted numbers that follow ``version`` or ``v``;
- IBANs with a wrong length for their country or a failing checksum.

Example:
    >>> [(h.code, h.label) for h in find_pii("Mail jane.doe@gmail.com or call +44 20 7946 0958.")]
    [('pii_email', 'EMAIL'), ('pii_phone', 'PHONE')]
    >>> find_pii("Released 2023-10-05, version 1.2.3.4, build 4111111111111112.")
    []
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from curate.validators.base import Hit, Rule, mask

_EMAIL_RE = re.compile(
    r"(?<![\w.+\-:/%])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w\-])"
)
_RESERVED_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "example.edu",
)
_RESERVED_TLDS = (".example", ".test", ".invalid", ".localhost", ".local")
#: first labels of domains used as stand-ins in docs and synthetic data
_PLACEHOLDER_DOMAINS = frozenset(
    {"domain", "yourdomain", "mydomain", "company", "yourcompany", "mycompany", "email",
     "youremail", "sample", "foo", "bar", "acme", "test", "host", "website", "yourwebsite"}
)  # fmt: skip
_PLACEHOLDER_LOCALS = frozenset(
    {"yourname", "your.name", "your_name", "youremail", "your.email", "your_email", "name",
     "username", "user.name", "firstname.lastname", "first.last", "email", "someone"}
)  # fmt: skip

#: international (+CC ...) or North American ((NXX) NXX-XXXX) shapes only
#: Speed: each alternative opens with its literal first character and checks what precedes
#: it with a lookbehind after it (``\+(?<![\w+\-/.]\+)`` is ``(?<![\w+\-/.])\+``), so the
#: regex engine can skip to candidate characters instead of trying every position.
_PHONE_RE = re.compile(
    r"(?:\+(?<![\w+\-/.]\+)\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]\d{2,5}){1,4}"
    r"|\((?<![\w+\-/.]\()\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}"
    r"|\d(?<![\w+\-/.]\d)\d{2}[.\-]\d{3}[.\-]\d{4}"
    r")(?![\w\-/]|\.\d)"
)
_CARD_RE = re.compile(r"\d(?<![\w\-.]\d)(?:[ \-]?\d){12,18}(?![\w\-]|\.\d)")
_IPV4_RE = re.compile(
    r"(?=\d)(?<![\w.])"
    r"((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})"
    r"(?![\w.]*\d)(?!\.\w)"
)
_VERSION_BEFORE_RE = re.compile(r"(?i)(?:version|ver\.?|v|release|build)\s*$")
_IBAN_RE = re.compile(r"([A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]){11,30})(?![A-Za-z0-9])")
#: every IPv4 address holds a digit, a dot and a digit (a cheap search before the full regex)
_DIGIT_DOT_DIGIT_RE = re.compile(r"\d\.\d")
_DIGITS_RE = re.compile(r"\d[\d \-.()/]{5,}\d")
#: bytes.translate table: digits become "0", the other characters of _DIGITS_RE's class
#: (space - . ( ) /) ".", everything else " ": digits are counted without a regex, and
#: on ASCII text _DIGITS_RE.search(text) is _DIGITS_SHAPE_RE.search(those bytes), whose
#: literal first byte lets the engine jump from digit to digit (a test compares them)
_DIGIT_TABLE = bytes(
    ord("0") if 48 <= c <= 57 else ord(".") if chr(c) in " -.()/" else ord(" ") for c in range(256)
)
_DIGITS_SHAPE_RE = re.compile(rb"0[0.]{5,}0")

#: IBAN length per country (SWIFT IBAN registry)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

#: payment networks' test numbers, published in every payment provider's docs
TEST_CARDS = frozenset(
    {
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4000056655665556",
        "5555555555554444",
        "5105105105105100",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "6011000990139424",
        "3056930009020004",
        "36227206271667",
        "3566002020360505",
    }
)
_PUBLIC_RESOLVERS = frozenset(
    {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222"}
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number passes.

    Example:
        >>> luhn_ok("4539578763621486"), luhn_ok("4539578763621487")
        (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_network(digits: str) -> bool:
    n = len(digits)
    if digits[0] == "4":
        return n in (16, 19)
    two, four = int(digits[:2]), int(digits[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if two in (34, 37):
        return n == 15
    if digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649:
        return 16 <= n <= 19
    if 3528 <= four <= 3589:
        return 16 <= n <= 19
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19
    return digits.startswith("62") and 16 <= n <= 19


def iban_ok(iban: str) -> bool:
    """Country length and ISO 13616 mod-97 check.

    Example:
        >>> iban_ok("GB82 WEST 1234 5698 7654 32"), iban_ok("GB82 WEST 1234 5698 7654 33")
        (True, False)
    """
    s = iban.replace(" ", "")
    if IBAN_LENGTHS.get(s[:2]) != len(s):
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def _emails(text: str) -> Iterator[re.Match[str]]:
    """``_EMAIL_RE.finditer(text)``, faster: every match holds an ``@`` at most 64
    characters after its start (the local part cannot hold one), so each search starts
    64 characters before the next ``@`` instead of scanning the prose before it."""
    pos = 0
    while True:
        at = text.find("@", pos)
        if at < 0:
            return
        m = _EMAIL_RE.search(text, max(pos, at - 64))
        if m is None:
            return
        yield m
        pos = m.end()


def find_pii(text: str) -> list[Hit]:
    """All personal data in ``text``, as :class:`Hit` s in text order.

    Codes: ``pii_email``, ``pii_phone``, ``pii_credit_card``, ``pii_ip_address``,
    ``pii_iban``.
    """
    hits: list[Hit] = []
    if "@" in text:
        for m in _emails(text):
            domain = m.group(1).lower()
            if domain in _RESERVED_DOMAINS or domain.endswith(_RESERVED_TLDS):
                continue
            if any(domain.endswith("." + d) for d in _RESERVED_DOMAINS):
                continue
            first = domain.split(".")[0]
            local = m.group().split("@")[0].lower()
            if (
                first in _PLACEHOLDER_DOMAINS
                or first.startswith("example")
                or len(first) == 1
                or local in _PLACEHOLDER_LOCALS
            ):
                continue
            hits.append(Hit("pii_email", m.start(), m.end(), "email", "EMAIL"))
    shape = text.encode("utf-8", "surrogatepass").translate(_DIGIT_TABLE)
    n_digits = shape.count(b"0")
    if n_digits >= 4 and (
        _DIGITS_SHAPE_RE.search(shape) if text.isascii() else _DIGITS_RE.search(text)
    ):
        # each rule needs this many digits: an IPv4 address 4,
        # a phone 7 (checked below), a card 13 (the regex's shortest match)
        if "." in text and _DIGIT_DOT_DIGIT_RE.search(text) is not None:
            for m in _IPV4_RE.finditer(text):
                ip = m.group(1)
                if ip in _PUBLIC_RESOLVERS or _VERSION_BEFORE_RE.search(text, 0, m.start()):
                    continue
                if not ipaddress.IPv4Address(ip).is_global:
                    continue
                hits.append(Hit("pii_ip_address", m.start(), m.end(), "ipv4", "IP_ADDRESS"))
        for m in _CARD_RE.finditer(text) if n_digits >= 13 else ():
            digits = re.sub(r"[ \-]", "", m.group())
            if digits in TEST_CARDS or not _card_network(digits) or not luhn_ok(digits):
                continue
            hits.append(Hit("pii_credit_card", m.start(), m.end(), "luhn_card", "CREDIT_CARD"))
        for m in _IBAN_RE.finditer(text):
            value = m.group(1).rstrip()
            if iban_ok(value):
                hits.append(Hit("pii_iban", m.start(1), m.start(1) + len(value), "iban", "IBAN"))
        for m in _PHONE_RE.finditer(text) if n_digits >= 7 else ():
            value = m.group()
            n_digits = sum(c.isdigit() for c in value)
            if not 7 <= n_digits <= 15:
                continue
            if not value.startswith("+"):
                local = re.sub(r"\D", "", value)
                if "555" in (local[:3], local[3:6]) or local[0] in "01":
                    continue
            elif re.match(r"\+1\D*\(?\d{3}\)?\D*555", value):
                continue
            hits.append(Hit("pii_phone", m.start(), m.end(), "phone", "PHONE"))
    return _non_overlapping(hits)


def _non_overlapping(hits: list[Hit]) -> list[Hit]:
    if len(hits) <= 1:
        return hits
    order = {"pii_iban": 0, "pii_credit_card": 1, "pii_email": 2, "pii_ip_address": 3}
    kept: list[Hit] = []
    for h in sorted(hits, key=lambda h: (order.get(h.code, 9), h.start)):
        if all(h.end <= k.start or h.start >= k.end for k in kept):
            kept.append(h)
    return sorted(kept, key=lambda h: h.start)


def _find(text: str) -> tuple[Hit, ...]:
    return tuple(find_pii(text))


_LABELS = {
    "email": "e-mail address",
    "phone": "phone number",
    "luhn_card": "card number",
    "ipv4": "IP address",
    "iban": "IBAN",
}


def _report(text: str, hits: tuple[Hit, ...], prompt: str | None) -> Iterator[Any]:
    for h in hits:
        yield h, f"{_LABELS[h.rule]} {mask(text[h.start : h.end], h.code)}", None


def _gate() -> bytes:
    """What find_pii needs: an ``@``, or (it asks for 4 ASCII digits and then a run of
    digits and separators) such a run of ASCII digits, or a non-ASCII decimal digit (the
    run may hold others: ``\\d``). Those digits are listed from ``str.isdecimal`` (~0.3 s:
    this runs only when the prefilter database is built)."""
    points = [c for c in range(128, 0x110000) if chr(c).isdecimal()]
    return rb"@|[0-9][0-9 \-.()/]{5,}[0-9]|" + utf8_alternatives(points)


def utf8_alternatives(points: list[int]) -> bytes:
    """A bytes regex matching the UTF-8 of any of these code points (an alternation)."""
    return b"|".join(re.escape(chr(c).encode()) for c in points)


PII = Rule(
    codes={
        "pii_email": (
            "warning",
            "an e-mail address (not at example.com and other reserved domains)",
        ),
        "pii_phone": ("warning", "a phone number (international or North American shape)"),
        "pii_credit_card": ("error", "a payment card number (Luhn-checked, known network prefix)"),
        "pii_ip_address": ("info", "a public IPv4 address (not private or documentation ranges)"),
        "pii_iban": ("error", "an IBAN (country length and mod-97 checked)"),
    },
    find=_find,
    report=_report,
    hint="mask it (curate redact) or allow the role with pii_allowed_roles",
    group="pii",
    gate=_gate,
    skip_roles="pii_allowed_roles",
)
