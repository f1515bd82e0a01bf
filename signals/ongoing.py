"""`ongoing`: the exploitation is still happening now.

Derived after the other detectors: a sentence with exploitation (or coercion by a
perpetrator) counts as ongoing when its verbs are in the present tense or it has a
now-marker ("elke week", "nog steeds", "vandaag"), and not when it or the message says
it ended ("vroeger", "ik ben weggegaan", "hij zit vast") without a now-marker.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from spacy.tokens import Doc

from signaal.signals.concepts import ConceptHits
from signaal.signals.detectors import Detector, Hit, register_detector, sentence_bounds, span_hit

DATA_DIR = Path(__file__).parent / "data"
SOURCES = {"sexual_exploitation", "parent_exploiter", "forced_crime", "sextortion",
           "siblings_at_risk"}


@cache
def _tense() -> dict[str, frozenset[str]]:
    data = tomllib.loads((DATA_DIR / "tense.toml").read_text(encoding="utf-8"))
    return {key: frozenset(data[key]) for key in ("present", "past", "participle", "ended", "now")}


def _tense_of(token) -> str | None:
    morph = token.morph.get("Tense")
    if morph:
        return "past" if "Past" in morph else "present"
    norm = token.norm_
    tense = _tense()
    if norm in tense["present"]:
        return "present"
    if norm in tense["past"]:
        return "past"
    return None


def _is_participle(token) -> bool:
    if token.morph.get("VerbForm"):
        return "Part" in token.morph.get("VerbForm")
    return token.norm_.startswith("ge") or token.norm_ in _tense()["participle"]


# A present auxiliary with a participle is the perfect tense: "ze hebben de deur op slot
# gedaan", "ik heb net pillen genomen". For acute danger that is now, not over.
_PRESENT_AUX = frozenset({"heb", "hebt", "heeft", "hebben", "ben", "bent", "is", "zijn"})
# "worden" with a participle is the present passive: "ik word gedwongen", "ze worden naar
# mannen gestuurd" happen now; the participle is not a past tense there.
_PRESENT_PASSIVE = frozenset({"word", "wordt", "worden"})
# A reason clause after the acute words tells why, often in the past ("omdat ik weigerde").
_REASON = frozenset({"omdat", "want", "doordat", "aangezien"})
_JUST_NOW = frozenset({"net", "zojuist", "zonet", "daarnet", "daarstraks"})  # single tokens
# What someone said or admitted keeps its own tense: "gisteren gaf hij toe dat hij bolletjes
# moet vervoeren" is happening now, "hij zei dat ik moest helpen" is not. The reported clause
# ends where a new one with its own subject begins ("... en we kwamen ...").
_REPORTING = frozenset({"zei", "zeiden", "zegt", "zeggen", "toe", "vertelde", "vertelden",
                        "vertelt", "schreef", "schrijft", "bekende", "appte", "appt"})
_NEW_CLAUSE = frozenset({"en", "maar", "want"})
_SUBJECTS = frozenset({"ik", "we", "wij", "je", "jij", "hij", "zij", "ze"})


def _reported_clause(doc: Doc, sent_start: int, sent_end: int, start: int) -> tuple[int, int] | None:
    """Bounds of the reported clause ("... zei dat <clause>") that holds token `start`, if any."""
    opening = next((i for i in range(start - 1, sent_start, -1)
                    if doc[i].norm_ == "dat" and doc[i - 1].norm_ in _REPORTING), None)
    if opening is None:
        return None
    end = next((i for i in range(start + 1, sent_end - 1)
                if doc[i].norm_ in _NEW_CLAUSE and doc[i + 1].norm_ in _SUBJECTS), sent_end)
    return opening, end


def sentence_time(doc: Doc, start: int, end: int, perfect_is_now: bool = False) -> str:
    """'now', 'ended' or 'unknown' for the sentence holding tokens [start, end).
    With `perfect_is_now` (acute danger) the perfect tense and "net/zojuist" count as now."""
    tense = _tense()
    sent_start, sent_end = sentence_bounds(doc, start)
    if perfect_is_now:  # "hij heeft me opgesloten omdat ik niet wilde": the reason is older
        sent_end = next((i for i in range(end, sent_end) if doc[i].norm_ in _REASON), sent_end)
    sent = doc[sent_start:sent_end]
    reported = _reported_clause(doc, sent_start, sent_end, start)
    perfect = perfect_is_now and any(token.norm_ in _PRESENT_AUX for token in sent)
    passive = any(token.norm_ in _PRESENT_PASSIVE for token in sent)
    now = ended = present = past = 0
    for token in sent:
        norm = token.norm_
        if norm in tense["now"] or (perfect_is_now and norm in _JUST_NOW):
            now += 1
        if norm in tense["ended"] and not _stuck(token):
            ended += 1
        if reported is not None and not reported[0] <= token.i < reported[1]:
            continue  # the reporting verb's tense is not the reported clause's
        t = _tense_of(token)
        if (perfect or passive) and t == "past" and _is_participle(token):
            t = "present"  # the participle of a perfect tense or a present passive
        present += t == "present"
        past += t == "past"
    if now:
        return "now"
    if ended:
        return "ended"
    if present > past:
        return "now"
    if past:
        return "ended"
    return "unknown"


def _stuck(token) -> bool:
    """"ik zit vast (in een kamer)" is being trapped now, not "hij zit vast" (in prison)."""
    if token.norm_ != "vast" or token.i < 2:
        return False
    before = {token.doc[i].norm_ for i in range(max(0, token.i - 3), token.i)}
    return bool(before & {"zit", "zitten", "zat"}) and bool(before & {"ik", "we", "wij"})


def message_ended(doc: Doc) -> bool:
    """The message says the exploitation stopped ("ik ben weggegaan", "hij zit vast")."""
    ended_words = _tense()["ended"] - {"toen", "geleden"}
    return any(token.norm_ in ended_words and not _stuck(token) for token in doc)


@register_detector("ongoing")
class OngoingDetector(Detector):
    label = "ongoing"
    needs_prior = True

    def rule_ids(self):
        return [("ongoing.present", "Uitbuiting of dwang in de tegenwoordige tijd of 'nu/elke week'"),
                ("ongoing.still_happening", "'Gebeurt het nog?' met ja beantwoord, na een gemelde uitbuiting")]

    @staticmethod
    def _confirmed(doc: Doc, start: int, end: int) -> Hit:
        """"Gebeurt het nu nog?" "ja": the counselor's question, confirmed by the client's
        answer (signals/pipeline.py hands an affirmed question in with its answer), counts
        once exploitation is flagged in the chat."""
        return span_hit(doc, "ongoing", "ongoing.still_happening", "Gebeurt nu nog (bevestigd)",
                        start, end, 0.8, requires=(tuple(sorted(SOURCES)),))

    def __call__(self, doc: Doc, concepts: ConceptHits, prior: list[Hit] | None = None,
                 seen: frozenset[str] = frozenset(), touch_from: int | None = None) -> list[Hit]:
        sources = [h for h in prior or () if h.label in SOURCES
                   and h.qualifiers.get("Temporality", "Current") != "Historical"]
        sources += [_concept_hit(doc, s, e) for s, e in concepts.get("coerced_work", ())]
        ended = message_ended(doc)
        hits = [self._confirmed(doc, s, e) for s, e in concepts.get("still_happening", ())] if not ended else []
        for h in sources:
            when = sentence_time(doc, h.start, h.end)
            if when == "now" or (when == "unknown" and not ended):
                hits.append(Hit("ongoing", "ongoing.present",
                                "Gebeurt nu nog (tegenwoordige tijd of 'nu/elke week')",
                                h.start, h.end, h.start_char, h.end_char, min(h.score, 0.85)))
        return hits


def _concept_hit(doc: Doc, start: int, end: int) -> Hit:
    return span_hit(doc, "coerced_work", "ongoing.coerced_work", "", start, end, 0.75)
