"""Age and school-year extraction for `minor` and `under_16`.

Only the *current* age of the client or of the person written about counts: "toen ik 13
was" or "sinds mijn 12e" say nothing about now, and an adult perpetrator's age ("een man
van 40", "hij is 28") is not the victim's.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from spacy.tokens import Doc

from signaal.signals.concepts import ConceptHits
from signaal.signals.detectors import Detector, Hit, register_detector

DATA_DIR = Path(__file__).parent / "data"


@cache
def _tables():
    data = tomllib.loads((DATA_DIR / "ages.toml").read_text(encoding="utf-8"))
    return data["number_words"], data["school_years"]


def _num() -> str:
    words = "|".join(_tables()[0])
    return rf"(?P<n>\d{{1,2}}|{words})"


def _to_int(value: str) -> int | None:
    if value.isdigit():
        return int(value)
    return _tables()[0].get(value)


@dataclass(frozen=True)
class AgeMention:
    age: int
    start: int
    end: int
    rule: str
    exact: bool  # False for ages inferred from a school year


@cache
def _patterns() -> list[tuple[str, re.Pattern, int]]:
    n = _num()
    # with compounds: "pleegmeisje", "buurjongen", "kleinkind", "stiefdochter"
    person = (r"(?:\w*(?:meisje|jongen|kind|dochter|zoon)|dochtertje|zoontje|zusje|zus|broertje|"
              r"broer|vriendin|vriendinnetje|leerling|nichtje|neefje|cliënt|client|pupil|tweeling|"
              r"jongere|kleine zusje|kleine broertje|bewoonster|bewoner|patiënte|patiënt|cliënte|"
              r"leerlinge|speler|speelster|stiefzus|stiefbroer|halfzus|halfbroer|nicht|neef)")
    persons = (r"(?:dochters|zoons|kinderen|kids|zusjes|zussen|broertjes|broers|meisjes|meiden|"
               r"jongens|leerlingen|kleinkinderen|kleindochters|nichtjes|neefjes|pleegkinderen|stiefkinderen)")
    n2 = n.replace("?P<n>", "?P<n2>")
    # (rule id, pattern, age adjustment): "bijna 16" / "ik word 16" mean 15 now
    return [
        ("age.not_yet_18", re.compile(r"\b(?:(?:nog\s+)?(?:geen|niet|nie|ni)\s+(?:eens\s+)?18|onder\s+de\s+18|minderjarig|(?:als|ben|is)\s+(?:een\s+)?minderjarige)\b"), 0),
        ("age.sex_age", re.compile(r"\b[mvf]\s?(?P<n>\d{2})\b"), 0),
        ("age.almost", re.compile(rf"\b(?:ik ben|ben|kben|ik|ze is|zij is)\s+(?:nu\s+)?bijna\s+{n}\b"), -1),
        ("age.almost_bare", re.compile(rf"\bbijna\s+{n}\b(?!\s*(?:euro|uur|keer|min|minuten|mannen|man|klanten|km|kilo))"), -1),
        ("age.turning", re.compile(rf"\b(?:ik word|word|wordt|ze wordt|zij wordt|hij wordt)\s+(?:straks\s+|binnenkort\s+|bijna\s+|volgende\s+(?:maand|week)\s+|deze\s+(?:maand|week)\s+|over\s+\w+\s+(?:maand|maanden|weken)\s+|in\s+\w+\s+)?{n}\b"), -1),
        ("age.i_am", re.compile(rf"\b(?:ik ben|ben|kben|ik zen|ik|ikke|ze is|zij is|ze zijn|wij zijn|we zijn)\s+(?:nu\s+|net\s+|pas\s+|al\s+|zelf\s+|ook\s+)?{n}(?:\s*(?:jaar|jr|j)\b(?:\s*(?:oud|jong))?)?(?![\d:,.]\d|\s*(?:euro|uur|keer|min|mannen|man|klanten|x)\b)"), 0),
        ("age.persons_of", re.compile(rf"\b{persons}\s+(?:zijn\s+|van\s+|\()(?:pas\s+|nog\s+maar\s+)?{n}\s*(?:en|,|&)\s*{n2}\b(?:\s*(?:jaar|jr|j)\b)?(?![\d:.]\d)"), 0),
        ("age.person_of", re.compile(rf"\b{person}(?:\s+is\s+|\s+van\s+|\s*\(|\s*,\s*)(?:pas\s+|net\s+|nog\s+maar\s+)?{n}(?:\s*(?:jaar|jr|j)\b)?(?![\d:.]\d)"), 0),
        ("age.n_years", re.compile(rf"(?<![\w:.,€-]){n}\s*(?:jaar|jr|j|yo|y/o)\b(?:\s*(?:oud|jong))?(?!\s*(?:geleden|lang|later|terug|ouder))"), 0),
        ("age.bare", re.compile(rf"^\W*(?:allebei\s+|alle twee\s+|beide\s+|ook\s+|ik\s+ook\s+)?{n}(?:\s*(?:jaar|jr))?(?:\s+(?:ook|allebei|net als ik|net als zij|net als hij))?\W*$"), 0),
        ("age.trailing", re.compile(rf"[.,!]\s*{n}\s*(?:jr|jaar)?\W*$"), 0),
        ("age.after_person", re.compile(rf"\b(?:jongen|jongens|meisje|meiden|meid|jongere)\s*,?\s*{n}\b(?!\s*(?:euro|uur|min|keer))"), 0),
        ("age.sentence_start", re.compile(rf"(?:^|[.!?]\s+){n}\s*(?:jr|jaar)?\s*,"), 0),
        ("age.message_start", re.compile(rf"^\W*{n}\s*(?:jr|jaar)?\s*\.\s+\D"), 0),  # "15. en hij ..."
        ("age.youngest", re.compile(rf"\b(?:de jongste|de oudste|jongste|oudste)\s*,?\s*{n}\b"), 0),
    ]


_PAST = re.compile(r"\b(toen|vroeger|was|sinds|vanaf|op mijn|op mn|op m'n|tot mijn|tot mn|"
                   r"geleden|begon|begonnen)\b")
_ADULT_CONTEXT = re.compile(r"\b(man|vent|kerel|meneer|hij is|dader|pooier|baas)\s*(?:van|is)?\s*$")


def _lower(text: str) -> str:
    """Lowercase without changing length (offsets must stay valid)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else "".join(
        c.lower() if len(c.lower()) == 1 else c for c in text)


def find_ages(text: str) -> list[AgeMention]:
    """Current ages stated in the text (exact or inferred from a school year)."""
    low = _lower(text)
    found: list[AgeMention] = []
    taken: list[tuple[int, int]] = []
    for rule, pattern, adjust in _patterns():
        for m in pattern.finditer(low):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if rule == "age.not_yet_18":
                found.append(AgeMention(17, m.start(), m.end(), rule, False))
                taken.append((m.start(), m.end()))
                continue
            age = _to_int(m.group("n"))
            if age is None:
                continue
            before = re.split(r"[.!?;]", low[max(0, m.start() - 25):m.start()])[-1]
            if _PAST.search(before[-12:]) or re.search(r"\b(toen|was)\b", low[m.end():m.end() + 8]):
                continue  # "toen ik 13 was", "op mijn 13e": not the current age
            if rule in ("age.n_years", "age.trailing") and _ADULT_CONTEXT.search(before):
                continue
            found.append(AgeMention(age + adjust, m.start(), m.end(), rule, True))
            if m.groupdict().get("n2") and (second := _to_int(m.group("n2"))) is not None:
                found.append(AgeMention(second, m.start(), m.end(), rule, True))  # "van 11 en 14"
            taken.append((m.start(), m.end()))
    for pattern_text, value in _tables()[1].items():
        for m in re.finditer(pattern_text, low):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if _PAST.search(low[max(0, m.start() - 12):m.start()]):
                continue
            if value == "group":
                age = int(m.group(1)) + 4
            elif value == "year":
                age = int(m.group(1)) + 11
            elif value == "year_after":
                age = int(m.group(2)) + 11
            else:
                age = int(value)
            found.append(AgeMention(age, m.start(), m.end(), "age.school_year", False))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda a: a.start)


# a number alone, or opening the message ("12. hij ..."), is an age only when age was asked
BARE_AGE_RULES = frozenset({"age.bare", "age.message_start"})
THIRD_PERSON = frozenset({"age.person_of", "age.persons_of", "age.after_person", "age.youngest"})


@register_detector("age")
class AgeDetector(Detector):
    """Flags `minor` for a current age 9-17 and `under_16` for 9-15. Explicit ages beat
    school-year estimates, except an adult's age stated about someone else ("een jongen
    van 19"): that is usually the perpetrator, not the pupil."""

    label = "minor"

    def rule_ids(self):
        return [("age.i_am", "Noemt een leeftijd onder de 18"),
                ("age.school_year", "Noemt een schooljaar (leeftijd geschat)"),
                ("age.not_yet_18", "Zegt nog geen 18 te zijn")]

    def __call__(self, doc: Doc, concepts: ConceptHits, prior: list[Hit] | None = None,
                 seen: frozenset[str] = frozenset(), touch_from: int | None = None) -> list[Hit]:
        mentions = ages_in(doc)
        exact = [m for m in mentions if m.exact and not (m.age >= 18 and m.rule in THIRD_PERSON)]
        use = exact or [m for m in mentions if not m.exact]  # left out: adults' ages only
        hits = []
        minors = [m for m in use if 9 <= m.age <= 17]
        for m in minors:
            span = doc.char_span(m.start, m.end, alignment_mode="expand")
            if span is None:
                continue
            explain = f"Leeftijd {m.age}" + ("" if m.exact else " (geschat uit schooljaar)")
            # an age is a fact about the person even in a lesson question or a joke
            hits.append(Hit("minor", m.rule, explain, span.start, span.end, m.start, m.end, 0.95,
                            ignore_qualifiers=("Mode",)))
            # a school year spans two ages (4 havo: 15 turning 16): 15 or younger only when
            # the pupil is under 16 for the whole year, so an estimate counts one year older
            oldest = m.age if m.exact else m.age + 1
            if oldest <= 15 and m.rule != "age.not_yet_18":
                hits.append(Hit("under_16", m.rule, explain, span.start, span.end, m.start, m.end,
                                0.95 if m.exact else 0.8, ignore_qualifiers=("Mode",)))
        return hits


def ages_in(doc: Doc) -> list[AgeMention]:
    """find_ages for a doc, computed once per doc (age and duration detectors share it)."""
    if "signaal_ages" not in doc.user_data:
        doc.user_data["signaal_ages"] = find_ages(doc.text)
    return doc.user_data["signaal_ages"]


def current_age(mentions: list[AgeMention]) -> int | None:
    """The youngest current age stated, for duration arithmetic ("sinds mijn 12e")."""
    ages = [m.age for m in mentions if m.exact]
    return min(ages) if ages else None
