"""Deterministic risk signals read from the ticket text, and rule-based estimates for fields the
history never labelled (sentiment, churn risk).

Rules are the floor under the learned model: a security report must escalate even when the
history has never seen one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from agent.risk_signals import CHURN_PHRASES, NOT_COMPETITORS
from knowledge.text import window


class Signal(StrEnum):
    SECURITY = "security"
    LEGAL = "legal"
    DATA_LOSS = "data_loss"
    OUTAGE = "outage"
    INJECTION = "injection"
    # Threats to leave, from the phrase table in agent/risk_signals.py.
    CANCELLATION = "cancellation"
    COMPETITOR = "competitor"
    NON_RENEWAL = "non_renewal"
    REFUND_AND_LEAVE = "refund_and_leave"
    LEGAL_THREAT = "legal_threat"


#: Any of these in the customer's words puts churn risk at high, whatever else the ticket says.
CHURN_THREATS = frozenset(
    {Signal.CANCELLATION, Signal.COMPETITOR, Signal.NON_RENEWAL, Signal.REFUND_AND_LEAVE, Signal.LEGAL_THREAT}
)
_GAP = r"\W+(?:\w+\W+){0,3}"
_NAME = rf"(?!(?:{'|'.join(NOT_COMPETITORS)})\b)(?-i:[A-Z][A-Za-z0-9.-]{{1,30}})"
_UNSPACED_LANGUAGES = frozenset({"ja", "zh", "ko"})


def _phrase(fragment: str) -> str:
    return fragment.replace(" … ", _GAP).replace("<Name>", _NAME).replace(" ?", r"\s*").replace(" ", r"\s+")


def _compile_phrases(by_language: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    spaced = [_phrase(p) for lang, phrases in by_language.items() if lang not in _UNSPACED_LANGUAGES for p in phrases]
    unspaced = [_phrase(p) for lang in _UNSPACED_LANGUAGES for p in by_language.get(lang, ())]
    pattern = rf"(?<!\w)(?:{'|'.join(spaced)})(?!\w)" + "".join(f"|{p}" for p in unspaced)
    return re.compile(pattern, re.IGNORECASE)


_PATTERNS: dict[Signal, re.Pattern[str]] = {
    Signal.SECURITY: re.compile(
        r"\b(vulnerabilit(y|ies)|exploit|xss|cross-site|idor|csrf|sql injection|rce|remote code|cve-\d+|"
        r"security (issue|hole|flaw|report|researcher|incident)|responsible disclosure|bug bounty|"
        r"account (takeover|compromised|hacked)|compromised|hacked|phishing|unauthori[sz]ed (access|login)|"
        r"data breach|breach|leaked (credentials|token|api key)|sicherheitslücke|vulnérabilité)\b",
        re.IGNORECASE,
    ),
    Signal.LEGAL: re.compile(
        r"\b(subpoena|lawyer|attorney|legal (action|counsel|department|request|hold)|lawsuit|sue you|court order|"
        r"law enforcement|gdpr|dsgvo|rgpd|ccpa|right to (erasure|be forgotten)|data subject (access )?request|"
        r"dpa|data processing agreement)\b",
        re.IGNORECASE,
    ),
    Signal.DATA_LOSS: re.compile(
        r"\b(data loss|lost (all|our|my) (data|work|projects?|boards?|tasks?)|(data|projects?|boards?|tasks?) "
        r"(disappeared|vanished|(are|is|got) (gone|deleted|wiped))|wiped out|deleted everything|"
        r"datenverlust|perte de données)\b",
        re.IGNORECASE,
    ),
    Signal.OUTAGE: re.compile(
        r"\b(outage|is down|are down|went down|site down|service down|5\d\d errors?|50[234]\b|"
        r"nobody (in our (org|company|team) )?can|no one can|entire (team|company|org)|all (of our )?users|"
        r"completely (down|unusable|broken)|not loading for anyone|störung|panne|caída)\b",
        re.IGNORECASE,
    ),
    # Text that addresses the triage system rather than support: a prompt-injection attempt or a
    # customer gaming the queue. Either way no automatic action may follow from it.
    Signal.INJECTION: re.compile(
        r"(ignore (all |any |the )?(previous|prior|above|earlier) (instructions|rules|prompts?)|"
        r"disregard (all |any |the )?(previous|prior|above|your) (instructions|rules)|"
        # Blanks but no line break after a line start (`[^\S\n]*`), possessive `\s*+` around "/": a run
        # of blank lines or spaces is crossed once, not rescanned from each of its positions.
        r"(^|\n|>)[^\S\n]*(system|assistant|developer)\s*:|"
        r"<\s*+/?\s*+(system|assistant|im_start|im_end|instructions?)\s*>|"
        r"\[(system|inst)\]|you are now|new instructions|developer mode|jailbreak|"
        r"(mark|set|change|classify) (this|the|my) (ticket|issue|request)? ?(as |to )?(p[0-3]|low|resolved|closed)|"
        r"(close|resolve) this (ticket|issue) (now|immediately|automatically)|auto-?resolve this|"
        r"(print|reveal|show|output|repeat) (your|the) (system )?(prompt|instructions)|"
        r"(data|tickets?|emails?|records?) (of|from|for|belonging to) "
        r"(other|another|all) (customers?|tenants?|users?))",
        re.IGNORECASE,
    ),
    **{Signal(kind): _compile_phrases(by_language) for kind, by_language in CHURN_PHRASES.items()},
}

_NEGATIVE = re.compile(
    r"\b(unacceptable|ridiculous|terrible|awful|worst|furious|angry|frustrat\w*|disappointed|useless|"
    r"again|still (not|broken)|third time|second time|fed up|joke|waste|lost|broken|wrong|fail\w*|"
    r"can'?t|cannot|unable|error|problem|issue|urgent|asap|immediately)\b",
    re.IGNORECASE,
)
_STRONG_NEGATIVE = re.compile(
    r"\b(unacceptable|ridiculous|furious|worst|fed up|disgusted|outrageous|joke|lawyer|cancel\w*)\b|!!+",
    re.IGNORECASE,
)
_SHOUTING = re.compile(r"\b[A-Z]{4,}\b")
_MAX_SHOUTING = 3
_POSITIVE = re.compile(
    r"\b(thanks?|thank you|great|love|awesome|excellent|appreciate\w*|helpful|perfect|amazing|happy|glad)\b",
    re.IGNORECASE,
)


def detect_signals(text: str, raw: str | None = None) -> list[Signal]:
    """Signals in the customer's own words (`text`); an injection counts anywhere in `raw` too,
    since quoted replies and hidden HTML are where one would hide it. Both are read through
    `knowledge.text.window` (head and tail), so the cost is bounded whatever the ticket's length."""
    text = window(text)
    found = [signal for signal, pattern in _PATTERNS.items() if pattern.search(text)]
    if raw is not None and Signal.INJECTION not in found and _PATTERNS[Signal.INJECTION].search(window(raw)):
        found.append(Signal.INJECTION)
    return found


def rule_sentiment(text: str) -> tuple[str, float]:
    """Lexicon estimate on the 5-level scale, with a modest confidence: it is only a fallback."""
    text = window(text)
    negative = len(_NEGATIVE.findall(text))
    strong = len(_STRONG_NEGATIVE.findall(text))
    positive = len(_POSITIVE.findall(text))
    # Capped: a pasted log or SQL is all capitals ("ERROR", "SELECT") and is not the customer shouting.
    shouting = sum(1 for _ in itertools.islice(_SHOUTING.finditer(text), _MAX_SHOUTING))
    score = positive - negative - 2 * strong - shouting
    if strong >= 2 or score <= -6:
        return "very_negative", 0.6
    if score <= -2:
        return "negative", 0.55
    if score >= 3:
        return "very_positive", 0.5
    if score >= 1:
        return "positive", 0.5
    return "neutral", 0.5


@dataclass(frozen=True)
class ChurnFacts:
    """What the churn rule looks at: the text's signals, its sentiment and the account."""

    signals: frozenset[Signal]
    sentiment: str
    #: Tickets from this customer in the 30 days before this one (tools.customer.CustomerContext).
    recent_tickets: int = 0
    high_value: bool = False

    @property
    def unhappy(self) -> bool:
        return self.sentiment in ("negative", "very_negative")


@dataclass(frozen=True)
class ChurnRule:
    why: str
    applies: Callable[[ChurnFacts], bool]
    risk: str
    confidence: float


#: The first row that applies decides. An explicit threat to leave is high on its own; otherwise
#: repeat contact, negative sentiment and the account's value add up.
CHURN_RULES: tuple[ChurnRule, ...] = (
    ChurnRule("threatens to leave", lambda f: bool(f.signals & CHURN_THREATS), "high", 0.8),
    ChurnRule("very negative, repeat contact", lambda f: f.sentiment == "very_negative" and f.recent_tickets >= 1,
              "high", 0.65),
    ChurnRule("unhappy, third contact in 30 days, high-value account",
              lambda f: f.unhappy and f.recent_tickets >= 2 and f.high_value, "high", 0.65),
    ChurnRule("unhappy", lambda f: f.unhappy, "medium", 0.6),
    ChurnRule("repeat contact about an outage", lambda f: f.recent_tickets >= 1 and Signal.OUTAGE in f.signals,
              "medium", 0.6),
    ChurnRule("third contact in 30 days, high-value account", lambda f: f.recent_tickets >= 2 and f.high_value,
              "medium", 0.55),
)  # fmt: skip


def rule_churn_risk(facts: ChurnFacts) -> tuple[str, float]:
    return next(((rule.risk, rule.confidence) for rule in CHURN_RULES if rule.applies(facts)), ("low", 0.6))
