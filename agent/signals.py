"""Deterministic risk signals read from the ticket text, and rule-based estimates for fields the
history never labelled (sentiment, churn risk).

Rules are the floor under the learned model: a security report must escalate even when the
history has never seen one.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Signal(StrEnum):
    SECURITY = "security"
    LEGAL = "legal"
    DATA_LOSS = "data_loss"
    OUTAGE = "outage"
    CANCELLATION = "cancellation"
    INJECTION = "injection"


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
    Signal.CANCELLATION: re.compile(
        r"\b(cancel+(ing|ation)?( our| my)? (subscription|account|plan|contract)|terminate (our|the) contract|"
        r"switch(ing)? to (a )?competitor|moving to (asana|monday|trello|clickup|jira)|not renew(ing)?|"
        r"churn|kündigen|kündigung|résilier)\b",
        re.IGNORECASE,
    ),
    # Text that addresses the triage system rather than support: a prompt-injection attempt or a
    # customer gaming the queue. Either way no automatic action may follow from it.
    Signal.INJECTION: re.compile(
        r"(ignore (all |any |the )?(previous|prior|above|earlier) (instructions|rules|prompts?)|"
        r"disregard (all |any |the )?(previous|prior|above|your) (instructions|rules)|"
        r"(^|\n|>)\s*(system|assistant|developer)\s*:|<\s*/?\s*(system|assistant|im_start|im_end|instructions?)\s*>|"
        r"\[(system|inst)\]|you are now|new instructions|developer mode|jailbreak|"
        r"(mark|set|change|classify) (this|the|my) (ticket|issue|request)? ?(as |to )?(p[0-3]|low|resolved|closed)|"
        r"(close|resolve) this (ticket|issue) (now|immediately|automatically)|auto-?resolve this|"
        r"(print|reveal|show|output|repeat) (your|the) (system )?(prompt|instructions)|"
        r"(data|tickets?|emails?|records?) (of|from|for|belonging to) "
        r"(other|another|all) (customers?|tenants?|users?))",
        re.IGNORECASE,
    ),
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
_POSITIVE = re.compile(
    r"\b(thanks?|thank you|great|love|awesome|excellent|appreciate\w*|helpful|perfect|amazing|happy|glad)\b",
    re.IGNORECASE,
)


def detect_signals(text: str, raw: str | None = None) -> list[Signal]:
    """Signals in the customer's own words (`text`); an injection counts anywhere in `raw` too,
    since quoted replies and hidden HTML are where one would hide it."""
    found = [signal for signal, pattern in _PATTERNS.items() if pattern.search(text)]
    if raw is not None and Signal.INJECTION not in found and _PATTERNS[Signal.INJECTION].search(raw):
        found.append(Signal.INJECTION)
    return found


def rule_sentiment(text: str) -> tuple[str, float]:
    """Lexicon estimate on the 5-level scale, with a modest confidence: it is only a fallback."""
    negative = len(_NEGATIVE.findall(text))
    strong = len(_STRONG_NEGATIVE.findall(text))
    positive = len(_POSITIVE.findall(text))
    shouting = sum(1 for word in re.findall(r"\b[A-Z]{4,}\b", text))
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


def rule_churn_risk(signals: list[Signal], sentiment: str, repeat_contact: bool) -> tuple[str, float]:
    if Signal.CANCELLATION in signals:
        return "high", 0.8
    if sentiment == "very_negative" and repeat_contact:
        return "high", 0.65
    if sentiment in ("very_negative", "negative") or (repeat_contact and Signal.OUTAGE in signals):
        return "medium", 0.6
    return "low", 0.6
