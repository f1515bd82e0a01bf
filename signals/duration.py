"""Duration extraction for `long_duration`: one year or longer.

"al 2 jaar", "jarenlang", "sinds mijn 12e" (with a current age at least a year later),
"van mijn 13e tot mijn 17e", "sinds de zomer van 2 jaar terug", "sinds groep 7"; not "een half jaar", "bijna een jaar", "een paar maanden".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from spacy.tokens import Doc

from signaal.signals.age import _lower, _to_int, ages_in, current_age, find_ages
from signaal.signals.concepts import ConceptHits
from signaal.signals.detectors import Detector, Hit, register_detector
from signaal.signals.ongoing import sentence_time

_COUNT = r"(?:\d{1,2}|een|één|1|twee|drie|vier|vijf|zes|zeven|acht|anderhalf|anderhalve|paar)"
_UNDER_A_YEAR = re.compile(r"\b(bijna|half|halve|ruim een half|paar maanden|maanden)\s*(een\s+)?jaar\b")
_WORD_COUNTS = {"een": 1, "één": 1, "anderhalf": 1, "anderhalve": 1, "twee": 2, "drie": 3, "vier": 4,
                "vijf": 5, "zes": 6, "zeven": 7, "acht": 8, "paar": 2}
_EXPLOITATION = ("sexual_exploitation", "parent_exploiter", "forced_crime", "sextortion")


@dataclass(frozen=True)
class Duration:
    years: float
    start: int
    end: int
    rule: str


_PATTERNS = [
    ("duration.years", re.compile(rf"\b(?:al\s+|nu\s+al\s+|inmiddels\s+|sinds\s+|ruim\s+|meer dan\s+|langer dan\s+|al\s+ruim\s+|al\s+meer dan\s+|al\s+bijna\s+|bijna\s+|een\s+)*(?P<c>{_COUNT})\s+jaar(?:\s+lang)?\b")),
    ("duration.years_long", re.compile(r"\b(jarenlang|al jaren|jaren lang|sinds jaren|al een paar jaar|al heel lang|al heel wat jaren|"
                                       r"zo ?lang (?:als )?ik me kan herinneren|mijn hele (?:jeugd|leven)|"
                                       r"(?:me|mij|haar|hem|ons|ik|ze|hij|zij)\s+(?:al\s+)?jaren)\b(?!\s+(?:geleden|later|terug|oud|jong))")),
    ("duration.age_span", re.compile(r"\bvan(?:af)?\s+(?:mijn|mn|m'n|haar|zijn)\s+(?P<a>\d{1,2})(?:e|de|ste)?\s+(?:jaar\s+)?tot\s+(?:mijn|mn|m'n|haar|zijn)\s+(?P<b>\d{1,2})(?:e|de|ste)?\b")),
    ("duration.since_ago", re.compile(rf"\bsinds\s+(?:de\s+\w+\s+van\s+|\w+\s+)?(?P<c>{_COUNT})\s+jaar\s+(?:terug|geleden)\b")),
    ("duration.since_age", re.compile(r"\b(?:sinds|vanaf|al sinds|al vanaf|sinds ik)\s+(?:mijn|mn|m'n|ik|hij|zij|ze|zijn|haar)?\s*(?P<a>\d{1,2}|acht|negen|tien|elf|twaalf|dertien|veertien|vijftien|zestien)(?:e|de|ste)?\b(?:\s*jaar)?")),
    ("duration.since_school", re.compile(r"\b(?:sinds|vanaf|al sinds)\s+(?:de\s+)?(?:groep\s*(?P<g>[5-8])|de brugklas|brugklas|de basisschool|basisschool)\b")),
    ("duration.since_year", re.compile(r"\b(?:sinds|vanaf|al sinds)\s+(?P<y>20[0-2]\d)\b")),
    ("duration.began_at_age", re.compile(r"\b(?:begon|begonnen|startte|is begonnen|is het begonnen|begon het)\s+(?:al\s+)?(?:toen|op|vanaf)\s+(?:ik|ze|hij|zij|mijn|mn|m'n|haar|zijn)\s*(?P<a>\d{1,2})(?:e|de|ste)?\b")),
    ("duration.ago", re.compile(rf"\b(?P<c>{_COUNT})\s+jaar\s+geleden\s+(?:begon|begonnen|is het begonnen|startte)")),
]


def find_durations(text: str, this_year: int | None = None, age_now: int | None = None) -> list[Duration]:
    """Durations of a year or more; `age_now` (else read from the text) dates "sinds mijn 12e"."""
    low = _lower(text)
    found = []
    this_year = this_year or date.today().year
    if age_now is None:
        age_now = current_age(find_ages(text))
    for rule, pattern in _PATTERNS:
        for m in pattern.finditer(low):
            years: float | None = None
            if "c" in pattern.groupindex and m.group("c"):
                if _UNDER_A_YEAR.search(low[max(0, m.start() - 12):m.end()]):
                    continue
                if (rule == "duration.years" and not re.search(
                        r"\b(al|sinds|lang|ruim|meer dan|langer dan|geleden|inmiddels|anderhalf|anderhalve)\b", m.group(0))
                        and not re.match(r"\s*(geduurd|duurt|aan de gang|bezig)", low[m.end():])):
                    continue  # "15 jaar" is an age, "al 2 jaar" a duration
                c = m.group("c")
                years = _to_int(c) if c.isdigit() else _WORD_COUNTS.get(c)
            elif rule == "duration.years_long":
                years = 2
            elif rule == "duration.age_span":  # "van mijn 13e tot mijn 17e"
                years = int(m.group("b")) - int(m.group("a"))
            elif rule in ("duration.since_age", "duration.began_at_age"):
                since = _to_int(m.group("a"))
                if since is None or not 3 <= since <= 25:
                    continue
                years = (age_now - since) if age_now is not None else None  # unknown: no flag
            elif rule == "duration.since_school":
                group = m.group("g")
                since = int(group) + 4 if group else 12
                years = (age_now - since) if age_now is not None else 1
            elif rule == "duration.since_year":
                years = this_year - int(m.group("y"))
            if years is not None and years >= 1:
                found.append(Duration(float(years), m.start(), m.end(), rule))
    return found


# "vanaf mijn 12e" measures until now only when the sentence is not in the past; "het begon
# toen ik 15 was" names the start in the past tense anyway, so it is not checked
_UNTIL_NOW = frozenset({"duration.since_age"})
# "sinds ik 18 werd" is a clause of its own, whose past tense dates the start
_SINCE_CLAUSE = re.compile(r"\b(?:ik|hij|zij|ze)\b")


@register_detector("long_duration")
class DurationDetector(Detector):
    label = "long_duration"

    def rule_ids(self):
        return [("duration.years", "Duurt al een jaar of langer"),
                ("duration.since_age", "Begon op jongere leeftijd, minstens een jaar geleden")]

    def __call__(self, doc: Doc, concepts: ConceptHits, prior: list[Hit] | None = None,
                 seen: frozenset[str] = frozenset(), touch_from: int | None = None) -> list[Hit]:
        hits = []
        for d in find_durations(doc.text, age_now=current_age(ages_in(doc))):
            span = doc.char_span(d.start, d.end, alignment_mode="expand")
            if span is None:
                continue
            if d.rule in _UNTIL_NOW and not _SINCE_CLAUSE.search(span.text.lower()) \
                    and sentence_time(doc, span.start, span.end) == "ended":
                continue  # "nam me vanaf mijn 12e mee ... ik ben nu 31": how long it lasted is not said
            hits.append(Hit("long_duration", d.rule, f"Duurt al {d.years:g} jaar of langer",
                            span.start, span.end, d.start, d.end, 0.85,
                            requires=(_EXPLOITATION + ("ongoing", "reprisal_fear", "multiple_perpetrators"),)))
        return hits
