"""PII scrubbing for training data: typed, numbered placeholders, consistent within one example.

Placeholders look like `<EMAIL_1>`, `<PHONE_2>`, `<CARD_1>`, `<IBAN_1>`, `<IP_1>`, `<URL_1>`,
`<SECRET_1>`, `<NAME_1>` (and `<CUSTOM_1>` for a configured pattern named CUSTOM). The number is
per example: the same address written twice in a ticket and in its reply becomes the same
placeholder, so a model still learns "answer to the address the customer gave" without ever seeing
it. Numbering restarts for every example, so placeholders carry no identity across examples.

Detection favours recall over precision: a false positive costs a little training signal, a miss
leaks a customer's data into a model. Numbers are checked where a checksum exists (Luhn for cards,
ISO 7064 mod 97 for IBANs) because an unchecked 16-digit rule would eat order and tracking numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from finetune.pii_detectors import BUILTIN_DETECTORS, PLACEHOLDER, Detector, Span

#: Built-in types in the order their detectors run; an earlier type wins an overlapping span.
PII_TYPES: tuple[str, ...] = ("URL", "SECRET", "EMAIL", "IBAN", "CARD", "IP", "PHONE", "NAME")
_PATTERN_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


# --- names in greetings and signatures ----------------------------------------------------------

_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\wÀ-ÿ'’\-]*\.?"
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|M|Monsieur|Madame|Sr|Sra|Don|Doña)\.?"
_GREETING = re.compile(
    r"(?im)^[ \t]*(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening)|hallo|moin|servus|"
    r"guten (?:morgen|tag|abend)|liebe[rs]?|sehr geehrte[rs]?|bonjour|salut|cher|chère|hola|estimad[oa]|"
    r"buenos días|ciao|gentile|hej|hoi)"
    rf"[ \t]+(?:{_TITLES}[ \t]+)?(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})[ \t]*[,!:;]"
)
# `[ \t]*+` (possessive) where two blank runs meet: with plain `*` a line of spaces ending in a
# non-blank is split every way between them, quadratic in the run.
_SIGNOFF = (
    r"(?:best(?: regards| wishes)?|kind regards|warm regards|regards|many thanks|thanks(?: again| and regards)?|"
    r"thank you|cheers|sincerely|yours(?: sincerely| truly)?|respectfully|all the best|talk soon|"
    r"mit freundlichen grüßen|freundliche grüße|viele grüße|beste grüße|liebe grüße|lg|mfg|gruß|"
    r"cordialement|bien cordialement|bien à vous|merci|saludos|un saludo|atentamente|gracias|cordiali saluti|"
    r"met vriendelijke groet|groeten|hälsningar|--)"
)
_SIGNATURE_BLOCK = re.compile(
    rf"(?im)^[ \t]*{_SIGNOFF}[ \t]*+[,!.]?[ \t]*\n(?:[ \t]*\n)?[ \t]*"
    rf"(?:{_TITLES}[ \t]+)?(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})[ \t]*$"
)
_SIGNATURE_INLINE = re.compile(
    rf"(?im)^[ \t]*{_SIGNOFF}[ \t]*[,!.][ \t]*(?:{_TITLES}[ \t]+)?(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})"
    r"[ \t]*+\.?[ \t]*$"
)
_INTRODUCTION = re.compile(
    rf"(?i:\bmy name is|\bmein name ist|\bich heiße|\bje m'appelle|\bje suis|\bme llamo|\bmi nombre es)[ \t]+"
    rf"(?:{_TITLES}[ \t]+)?(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})"
)
# Capitalised words that follow "Dear"/"Regards" but are not people (German capitalises all nouns).
_NOT_NAMES = frozenset(
    {
        "team", "support", "service", "services", "customer", "customers", "client", "clients", "sir", "madam",
        "madame", "sirs", "all", "everyone", "there", "colleagues", "friends", "folks", "everybody", "hello",
        "thanks", "thank", "you", "admin", "administrator", "manager", "helpdesk", "kundenservice", "kundendienst",
        "damen", "herren", "kollegen", "kolleginnen", "zusammen", "equipe", "équipe", "monsieur", "sales",
        "billing", "it", "hr", "the", "a", "an", "your", "our", "company", "department", "technical", "tech",
        "staff", "user", "users", "vielen", "dank", "danke", "merci", "gracias", "regards", "best", "kind",
        "sincerely", "cheers", "valued", "kunde", "kundin",
    }
)  # fmt: skip


_NOT_NAME_PARTS = (
    "team",
    "support",
    "service",
    "abteilung",
    "kund",
    "client",
    "valued",
    "department",
    "desk",
    "[",
    "<",
)


def _clean_name(name: str) -> str | None:
    words = [w.strip(".'’-") for w in name.split()]
    kept: list[str] = []
    for position, word in enumerate(words):
        lower = word.lower()
        # Compound nouns ("Kundenservice-Abteilung") only disqualify a greeting's first word: later ones may
        # be surnames that happen to contain such a part ("Kundenberg") and must still be scrubbed.
        compound = position == 0 and any(part in lower for part in _NOT_NAME_PARTS)
        if lower in _NOT_NAMES or len(word) < 2 or compound:
            break
        kept.append(word)
    return " ".join(kept) or None


def find_names(text: str) -> list[str]:
    """Person names named in greetings, signatures and self-introductions."""
    names: list[str] = []
    for pattern in (_GREETING, _SIGNATURE_BLOCK, _SIGNATURE_INLINE, _INTRODUCTION):
        for m in pattern.finditer(text):
            name = _clean_name(m.group("name"))
            if name and not PLACEHOLDER.search(name):
                names.append(name)
    return names


def _name_detector(names: Iterable[str]) -> Detector:
    # Longest first, so "Anna Schmidt" is replaced whole before "Anna" alone could match inside it.
    keys: dict[str, str] = {}
    # Longer names first, so "Anna" alone maps onto the placeholder of "Anna Schmidt" when both occur.
    for name in sorted(set(names), key=lambda n: (-len(n.split()), n)):
        full = " ".join(name.split())
        keys.setdefault(full.casefold(), full.casefold())
        for part in full.split():
            if len(part) >= 3 and part.casefold() not in _NOT_NAMES:
                keys.setdefault(part.casefold(), full.casefold())
    if not keys:
        return lambda text: iter(())
    alternatives = sorted(keys, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w<])(?:" + "|".join(re.escape(a) for a in alternatives) + r")(?![\w>])", re.I)

    def detect(text: str) -> Iterator[Span]:
        for m in pattern.finditer(text):
            yield Span(m.start(), m.end(), "NAME", keys[m.group(0).casefold()])

    return detect


# --- the scrubber -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PiiPattern:
    """A configured extra pattern: matches become `<NAME_n>` (only the group `pii`, when it has one)."""

    name: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, spec: str) -> PiiPattern:
        """`NAME=REGEX` as given to `--pii-pattern`; raises ValueError saying what is wrong."""
        name, sep, regex = spec.partition("=")
        name = name.strip().upper()
        if not sep or not name or not regex:
            raise ValueError(f"pii pattern {spec!r}: expected NAME=REGEX, e.g. ORDER=ORD-\\d{{6}}")
        if not _PATTERN_NAME.match(name):
            raise ValueError(f"pii pattern {spec!r}: name must be letters, digits or _, starting with a letter")
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            raise ValueError(f"pii pattern {spec!r}: invalid regular expression: {exc}") from exc
        if compiled.search(""):
            raise ValueError(f"pii pattern {spec!r}: matches the empty string")
        return cls(name, compiled)

    def detect(self, text: str) -> Iterator[Span]:
        group = "pii" if "pii" in self.regex.groupindex else 0
        for m in self.regex.finditer(text):
            if m.start(group) < m.end(group):
                yield Span(m.start(group), m.end(group), self.name, m.group(group).casefold())


@dataclass
class Scrubber:
    """Scrubs examples; `counts` accumulates the placeholders written, by type."""

    extra_patterns: Sequence[PiiPattern] = ()
    counts: Counter[str] = field(default_factory=Counter)

    def session(self, texts: Iterable[str] = (), known_names: Iterable[str] = ()) -> ScrubSession:
        """A session for one example: names found in `texts` (and `known_names`) are scrubbed everywhere
        in it, and each value keeps one placeholder number across every text the session scrubs."""
        names = [n for n in known_names if n and n.strip()]
        for text in texts:
            names.extend(find_names(text))
        detectors: list[Detector] = [p.detect for p in self.extra_patterns]
        detectors.extend(BUILTIN_DETECTORS)
        detectors.append(_name_detector(names))
        return ScrubSession(detectors, self.counts)

    def scrub_example(self, texts: Sequence[str], known_names: Iterable[str] = ()) -> list[str]:
        """Scrub the texts of one example together, so each value gets one placeholder throughout."""
        session = self.session(texts, known_names)
        return [session.scrub(text) for text in texts]

    def scrub(self, text: str) -> str:
        return self.scrub_example([text])[0]


@dataclass
class ScrubSession:
    detectors: Sequence[Detector]
    counts: Counter[str]
    numbers: dict[tuple[str, str], int] = field(default_factory=dict)

    def scrub(self, text: str) -> str:
        taken: list[Span] = []
        for detect in self.detectors:
            for span in sorted(detect(text), key=lambda s: (s.start, -(s.end - s.start))):
                if span.end > span.start and not any(span.start < t.end and t.start < span.end for t in taken):
                    taken.append(span)
        taken.sort(key=lambda s: s.start)
        out: list[str] = []
        position = 0
        for span in taken:
            key = (span.kind, span.key)
            if key not in self.numbers:
                self.numbers[key] = 1 + sum(1 for kind, _ in self.numbers if kind == span.kind)
            out.append(text[position : span.start])
            out.append(f"<{span.kind}_{self.numbers[key]}>")
            self.counts[span.kind] += 1
            position = span.end
        out.append(text[position:])
        return "".join(out)
