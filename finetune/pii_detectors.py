"""The pattern- and checksum-based PII detectors (secrets, URLs with credentials, e-mails, IBANs, cards,
IPs, phones). Each yields `Span`s over the text it is given; `finetune.pii` resolves overlaps and writes
the placeholders. Person names live in `finetune.pii` because they need the whole example.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import phonenumbers

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    key: str  # normalised value: the same key within an example gets the same placeholder number


Detector = Callable[[str], Iterator[Span]]


# --- checksums ----------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# Lengths from the SWIFT IBAN registry for the countries a European/US helpdesk meets most; any
# other country code still passes when its checksum holds and the length is plausible (15–34).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25,
    "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}  # fmt: skip


def iban_valid(compact: str) -> bool:
    compact = compact.upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


# --- detectors ----------------------------------------------------------------------------------

# A PEM block is found by its BEGIN line and then the END line searched once (`_pem_blocks`): a
# lazy `[\s\S]+?` between them rescans to the end of the text from every unmatched BEGIN.
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]{0,40}PRIVATE KEY-----")
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"\bsk-(?:proj-|live-|test-|ant-)?[A-Za-z0-9_-]{20,}",
        r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
        r"\bwhsec_[A-Za-z0-9]{16,}",
        r"\bgh[pousr]_[A-Za-z0-9]{30,}",
        r"\bgithub_pat_[A-Za-z0-9_]{22,}",
        r"\bglpat-[A-Za-z0-9_-]{20,}",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bAIza[0-9A-Za-z_-]{35}",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    )
)
# "password: X", "api_key=X", "Passwort ist X": only the value is replaced, the label is useful context.
_ASSIGNED_SECRET = re.compile(
    r"(?i)\b(?:password|passwd|pwd|passcode|passwort|kennwort|mot de passe|contraseña|api[ _-]?key|"
    r"api[ _-]?token|access[ _-]?(?:key|token)|auth[ _-]?token|secret(?:[ _-]?key)?|client[ _-]?secret|"
    r"private[ _-]?key|token|bearer)"
    # Possessive `\s*+`: the blank runs around "is"/":" are taken whole, never split between the
    # quantifiers (quadratic on a long run); the lookahead keeps "at least a blank, a word or a sign".
    r"(?=[\s:=]|is|ist|est|es|was|lautet)\s*+(?:(?:is|ist|est|es|was|lautet)\s*+:?|[:=])?\s*+"
    r"[\"'`]?(?P<value>[^\s\"'`,;<>]{6,})"
)
# A long token mixing upper case, lower case and digits reads as a key even without a known prefix.
_OPAQUE_TOKEN = re.compile(r"(?<![\w/.-])[A-Za-z0-9_\-]{32,}(?![\w/.-])")


def _looks_like_password(value: str) -> bool:
    value = value.rstrip(".!?)")
    if len(value) < 6 or PLACEHOLDER.fullmatch(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_symbol = any(not c.isalnum() for c in value)
    inner_upper = any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)
    return has_digit or has_symbol or inner_upper


def _mixed(token: str) -> bool:
    return any(c.isupper() for c in token) and any(c.islower() for c in token) and any(c.isdigit() for c in token)


def _pem_blocks(text: str) -> Iterator[Span]:
    pos = 0
    while begin := _PEM_BEGIN.search(text, pos):
        end = _PEM_END.search(text, begin.end())
        if end is None:
            return  # no END after this BEGIN means none after any later one either
        if end.start() > begin.end():
            yield Span(begin.start(), end.end(), "SECRET", text[begin.start() : end.end()])
        pos = end.end()


def detect_secrets(text: str) -> Iterator[Span]:
    yield from _pem_blocks(text)
    for pattern in _SECRET_PATTERNS:
        for m in pattern.finditer(text):
            yield Span(m.start(), m.end(), "SECRET", m.group(0))
    for m in _ASSIGNED_SECRET.finditer(text):
        value = m.group("value")
        stripped = value.rstrip(".!?)")
        if _looks_like_password(stripped):
            start = m.start("value")
            yield Span(start, start + len(stripped), "SECRET", stripped)
    for m in _OPAQUE_TOKEN.finditer(text):
        if _mixed(m.group(0)):
            yield Span(m.start(), m.end(), "SECRET", m.group(0))


_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`)\]}]+", re.IGNORECASE)
# Query or fragment parameters whose name holds one of these words carry a credential. Checked per
# parameter name (`_sensitive_query`): one pattern searching for the word inside `[\w.-]*` runs
# backtracked quadratically on a long name.
_SENSITIVE_PARAM_WORDS = (
    "token", "secret", "password", "passwd", "pwd", "signature", "sig", "auth", "apikey", "api_key", "api-key",
    "key", "session", "sessionid", "sid", "code", "otp", "credential",
)  # fmt: skip
_PARAM_SEPARATORS = re.compile(r"[?&;#]")
_PARAM_NAME = re.compile(r"[\w.-]*")
_PATH_TOKEN = re.compile(r"/[A-Za-z0-9_\-]{20,}(?=/|$|\?)")


def detect_urls(text: str) -> Iterator[Span]:
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        rest = url.split("://", 1)[1]
        authority, _, tail = rest.partition("/")
        has_userinfo = "@" in authority
        query = url[url.find("?") :] if "?" in url else ""
        fragment = url[url.find("#") :] if "#" in url else ""
        path_token = any(_mixed(t.strip("/")) or _hexish(t.strip("/")) for t in _PATH_TOKEN.findall("/" + tail))
        if has_userinfo or _sensitive_query(query) or _sensitive_query(fragment) or path_token:
            yield Span(m.start(), m.start() + len(url), "URL", url)


def _sensitive_query(query: str) -> bool:
    """Whether any `name=` parameter (after ?, &, ; or #) names a credential."""
    for part in _PARAM_SEPARATORS.split(query):
        name, equals, _ = part.partition("=")
        if equals and _PARAM_NAME.fullmatch(name) and any(word in name.lower() for word in _SENSITIVE_PARAM_WORDS):
            return True
    return False


def _hexish(token: str) -> bool:
    return len(token) >= 24 and bool(re.fullmatch(r"[0-9a-fA-F-]+", token)) and any(c.isdigit() for c in token)


# The lookbehind excludes every character the local part may hold, so a run is tried from its
# start only (with `%` missing, a long run of "%" was rescanned from each position).
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}\b")


def detect_emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield Span(m.start(), m.end(), "EMAIL", m.group(0).lower())


_IBAN_CANDIDATE = re.compile(r"(?i)\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){11,30}\b")
_IBAN_LAYOUT = re.compile(r"(?i)[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?:[ \-][A-Z0-9]{4}){2,7}(?:[ \-][A-Z0-9]{1,3})?)")


def detect_ibans(text: str) -> Iterator[Span]:
    for m in _IBAN_CANDIDATE.finditer(text):
        raw = m.group(0)
        # The candidate may run into a following word ("... 3000 AND"): try the registry length first.
        positions = [i for i, ch in enumerate(raw) if ch not in " -"]
        compact = "".join(raw[i] for i in positions).upper()
        lengths = [IBAN_LENGTHS[compact[:2]]] if compact[:2] in IBAN_LENGTHS else range(len(compact), 14, -1)
        for length in lengths:
            if length > len(compact) or not iban_valid(compact[:length]):
                continue
            end = m.start() + positions[length - 1] + 1
            # Written compact or in blocks of four, ending at a word boundary: "MX500 1TB SSD and Ev..."
            # can pass mod 97 by chance, but it is not laid out like an IBAN.
            if _IBAN_LAYOUT.fullmatch(text[m.start() : end]) and not (end < len(text) and text[end].isalnum()):
                yield Span(m.start(), end, "IBAN", compact[:length])
            break


_CARD_CANDIDATE = re.compile(r"(?<![\d.,])\d(?:[ \-]?\d){12,18}(?![\d])")


def detect_cards(text: str) -> Iterator[Span]:
    for m in _CARD_CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if luhn_valid(digits) and digits[0] in "23456":
            yield Span(m.start(), m.end(), "CARD", digits)


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\d]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)(?:%\w+)?(?![\w:])")


def detect_ips(text: str) -> Iterator[Span]:
    for m in _IPV4.finditer(text):
        yield Span(m.start(), m.end(), "IP", m.group(0))
    for m in _IPV6.finditer(text):
        candidate = m.group(0).split("%", 1)[0]
        if candidate.count(":") < 2:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield Span(m.start(), m.end(), "IP", candidate.lower())


_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+/.\-])"
    r"(?:(?:\+|00)\d{1,3}[\s.\-]?(?:\(0\)[\s.\-]?)?|\(\+\d{1,3}\)[\s.\-]?)?"  # country code; British "(0)"
    r"(?:\(\d{1,5}\)[\s.\-]?)?"  # area code in brackets
    r"\d{1,15}(?:[\s.\-/]\d{1,8}){0,5}"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?"
    r"(?![\w\-]|\.\d)"
)
_PHONE_CONTEXT = re.compile(
    r"(?i)(?:phone|tel|telephone|call|mobile|cell|fax|whatsapp|sms|reach me|contact|number|nummer|"
    r"telefon|handy|rufnummer|téléphone|portable|teléfono|móvil)(?:\W+\w{1,6}){0,3}\W{0,5}$"
)
_PHONE_AFTER = re.compile(
    r"(?i)^\W{0,5}(?:\w{1,6}\W+){0,3}(?:phone|mobile|cell|number|tel|telefon|handy|nummer|whatsapp)\b"
)
_RANGE = re.compile(r"\d{1,5}\s?-\s?\d{1,5}")
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:([ .,])\d{3})(?:\1\d{3})+")
_DATE_LIKE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "AT", "CH", "IE", "AU", "IN", "CA")


@cache
def _possible_phone(candidate: str) -> bool:
    regions: Sequence[str | None] = (None,) if candidate.startswith("+") else PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return True
    return False


def detect_phones(text: str) -> Iterator[Span]:
    for m in _PHONE_CANDIDATE.finditer(text):
        raw = m.group(0).strip()
        digits = re.sub(r"\D", "", re.split(r"(?i)\s?(?:x|ext)", raw)[0])
        if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(raw):
            continue
        international = raw.startswith(("+", "00", "(+"))
        separated = bool(re.search(r"[\s.\-/()]", raw))
        in_context = bool(
            _PHONE_CONTEXT.search(text[max(0, m.start() - 40) : m.start()])
            or _PHONE_AFTER.search(text[m.end() : m.end() + 30])
        )
        # A bare run of digits is usually an order or account number unless the sentence says "call".
        if not (international or separated or in_context):
            continue
        # "4500-9000 kbps": a range of two numbers, unless the text says it is a number to call.
        if not international and not in_context and _RANGE.fullmatch(raw):
            continue
        # "1 000 000" / "2.500.000": amounts in thousands groups, not numbers to dial.
        if not international and not in_context and _THOUSANDS.fullmatch(raw):
            continue
        # "1.2.3.4567"-style version strings: dotted groups that are mostly short.
        if "." in raw and not international and not in_context and len(re.findall(r"\d+", raw)) > 3:
            continue
        # A leading "+" or "00" with 7+ digits is a phone number even when the country code is unknown
        # to the metadata (placeholder numbers like "+123 456-7890" are written by people too).
        if international or in_context or _possible_phone(raw):
            yield Span(m.start(), m.start() + len(raw), "PHONE", digits)


BUILTIN_DETECTORS: tuple[Detector, ...] = (
    detect_urls,
    detect_secrets,
    detect_emails,
    detect_ibans,
    detect_cards,
    detect_ips,
    detect_phones,
)
