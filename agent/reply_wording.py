"""The person-facing parts of a local-mode reply: who we greet, what we may repeat back, which question
a holding reply asks, and which team follows up. Pure functions over bounded text; the words themselves
are in the phrasebooks under prompts/ (reply_<language>.toml).
"""

from __future__ import annotations

import re

from agent.schemas import FieldPrediction
from prompts.loader import Phrasebook, exists, phrasebook

#: Languages with a phrasebook; any other ticket language gets English greeting and closing lines.
REPLY_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es")

_TAIL_CHARS = 600  # a sign-off lives in the last lines of a body
_SCAN_CHARS = 3000
_MAX_SUBJECT = 80
_MAX_QUESTION = 160

_CLOSINGS = (
    "thanks", "thank you", "many thanks", "thanks again", "thanks in advance", "cheers", "best", "best regards",
    "kind regards", "regards", "warm regards", "all the best", "sincerely", "yours sincerely", "br",
    "mit freundlichen grüßen", "mit freundlichen grüssen", "viele grüße", "beste grüße", "liebe grüße", "grüße",
    "gruß", "danke", "vielen dank", "cordialement", "bien cordialement", "merci", "bien à vous", "saludos",
    "un saludo", "atentamente", "gracias", "saludos cordiales",
)  # fmt: skip
_THANKS = ("thanks", "thank you", "danke", "vielen dank", "merci", "gracias")
_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "herr", "frau", "mme", "m", "sr", "sra", "don"})
#: Words that make a customer name read as an organisation (the account name, not a person's).
_ORG_WORDS = frozenset(
    {
        "inc", "llc", "ltd", "limited", "gmbh", "ag", "kg", "ug", "sa", "sas", "sarl", "srl", "sl", "bv", "nv", "oy",
        "ab", "as", "asa", "plc", "co", "corp", "corporation", "company", "group", "holding", "holdings", "partners",
        "associates", "agency", "studio", "studios", "games", "labs", "lab", "analytics", "collective", "cooperative",
        "coop", "foundation", "trust", "university", "school", "college", "academy", "institute", "club", "society",
        "association", "services", "solutions", "systems", "technologies", "tech", "software", "consulting",
        "logistics", "freight", "research", "legal", "law", "bank", "clinic", "dental", "health", "media", "marketing",
        "design", "team", "support", "office", "department", "surveys", "tutoring", "bookkeeping", "maritime",
        "aerospace", "travel", "writers", "maschinenbau", "söhne", "shop", "store",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.-])*")
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "da", "del", "della", "di", "du", "la", "le", "y", "bin", "al"}
)
_REPLY_PREFIX = re.compile(
    r"^(?:(?:re|aw|fw|fwd|wg|tr|sv|antw|rv)\s*:\s*|\[[^\]]{0,40}\]\s*|(?:p[0-4]|urgent|dringend)\s*[:–—-]\s*)+",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_INVOICE_GIVEN = re.compile(
    r"\b(?:inv|invoice|rechnung|facture|factura)\b[\s#:.-]*(?:no\.?|nr\.?|number)?[\s#:-]*[a-z-]*\d{3,}", re.I
)
_AMOUNT_GIVEN = re.compile(r"[$€£]\s?\d|\d\s?(?:€|eur|usd|gbp)\b", re.I)

#: Question kinds by words in a category or queue name; the first kind whose word appears wins.
QUESTION_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("billing", ("bill", "invoice", "refund", "payment", "charge", "plan", "subscription", "pric")),
    ("product", ("bug", "perform", "mobile", "import", "export", "notification", "outage", "degraded", "technical",
                 "reliab")),
    ("integration", ("api", "webhook", "integration", "sync", "slack", "jira", "github", "google", "microsoft")),
    ("access", ("password", "login", "sso", "2fa", "two_factor", "access", "auth", "account", "member", "user")),
)  # fmt: skip


def phrases_for(language: str | None) -> Phrasebook:
    code = (language or "en").lower()[:2]
    return phrasebook(f"reply_{code}" if code in REPLY_LANGUAGES and exists(f"reply_{code}", ".toml") else "reply_en")


def _given_name(line: str) -> str | None:
    """The first word of a person's name on `line` ("Anna Reyes", "Dr. Ana María López" -> "Ana"), or None
    when the line doesn't read as a name: more than four words, digits, an email, or an organisation word."""
    if "@" in line or any(ch.isdigit() for ch in line):
        return None
    words = line.split()
    if not 1 <= len(words) <= 4 or any(not _WORD.fullmatch(w) for w in words):
        return None
    if len(words) > 1 and any(w[0].islower() and w not in _PARTICLES for w in words):
        return None  # "Sent from my iPhone", "the finance team"
    shouting = all(w.isupper() for w in words)
    if any(
        w.lower().strip(".") in _ORG_WORDS or (len(w.strip(".")) > 1 and w.isupper() and not shouting) for w in words
    ):
        return None
    while words and words[0].lower().strip(".") in _HONORIFICS:
        words = words[1:]
    if not words:
        return None
    name = words[0].strip(".")
    return name.capitalize() if name.islower() or name.isupper() else name


def _signature_name(body: str) -> str | None:
    lines = [ln.strip() for ln in body[-_TAIL_CHARS:].splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(">")][-8:]
    for i, line in enumerate(lines):
        if line.startswith(("--", "—", "– ")):
            rest = line.lstrip("-—– ").split(",")[0].split("|")[0].strip()
            name = (
                _given_name(rest) if rest else (_given_name(lines[i + 1].split("|")[0]) if i + 1 < len(lines) else None)
            )
            if name:
                return name
        head, _, after = line.partition(",")
        head = head.strip().lower().rstrip("!.")
        if head in _CLOSINGS or (head.startswith(_THANKS) and len(head.split()) <= 6):
            candidate = after.strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            name = _given_name(candidate.split(",")[0].split("|")[0].strip())
            if name:
                return name
    return None


def greeting_name(customer_name: str | None, body: str) -> str | None:
    """Who the reply greets: the name the customer signed with, else the given name from the customer's
    name when it reads as a person's ("Last, First" -> First; otherwise the first word after any title, so
    "Ana María López" -> "Ana": splitting given from family names can't be done reliably from the string
    alone). None when neither reads as a person (an account name such as "Two Oaks PTA"): "Hi there"."""
    signed = _signature_name(body)
    if signed:
        return signed
    name = " ".join((customer_name or "").split())[:120]
    if "," in name:
        family, _, given = name.partition(",")
        name = given.strip() if given.strip() and _given_name(family) else name.replace(",", " ")
    return _given_name(name) if name else None


def calm_subject(subject: str) -> str | None:
    """The subject without reply prefixes, when it is fit to repeat back; None when it is empty, long, or
    shouts (an exclamation mark, a word of five capitals, or mostly capitals)."""
    text = _REPLY_PREFIX.sub("", " ".join(subject[:300].split())).strip(" -–—:")
    if not text or len(text) > _MAX_SUBJECT or "!" in text:
        return None
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) >= 8 and sum(ch.isupper() for ch in letters) > len(letters) / 2:
        return None
    if any(len(w) >= 5 and w.isupper() for w in _WORD.findall(text)):
        return None
    return text


def customer_question(text: str) -> str | None:
    """The customer's first question in their own words, when it is short and calm enough to repeat."""
    for sentence in _SENTENCE_END.split(text[:_SCAN_CHARS]):
        sentence = sentence.strip().lstrip("-•* ").strip()
        if sentence.endswith("?") and 12 <= len(sentence) <= _MAX_QUESTION and calm_subject(sentence[:-1]):
            return sentence
    return None


def _confident(prediction: FieldPrediction | None, min_confidence: float) -> str | None:
    return prediction.value if prediction is not None and prediction.confidence >= min_confidence else None


def question_kind(
    category: FieldPrediction | None, queue: FieldPrediction | None, text: str, min_confidence: float
) -> str:
    """Which question a holding reply asks: by the category when it is confident, else by the queue,
    else the generic one; a billing ticket that already names its invoice or amount is asked what it wants."""
    for label in (_confident(category, min_confidence), _confident(queue, min_confidence)):
        if not label:
            continue
        lowered = label.lower()
        kind = next((kind for kind, words in QUESTION_KINDS if any(w in lowered for w in words)), None)
        if kind == "billing":
            scan = text[:_SCAN_CHARS]
            return "billing_outcome" if _INVOICE_GIVEN.search(scan) or _AMOUNT_GIVEN.search(scan) else "billing"
        if kind:
            return kind
    return "generic"


def team_name(queue: FieldPrediction | None, min_confidence: float) -> str | None:
    """The team that follows up, from a confident queue ("technical_support" -> "Technical Support")."""
    label = _confident(queue, min_confidence)
    if not label:
        return None
    return " ".join(part.capitalize() for part in re.split(r"[_\-\s]+", label[:60]) if part) or None
