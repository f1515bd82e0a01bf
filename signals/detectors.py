"""The rule layer: one detector per indicator, collected in a registry.

Most indicators are a `PatternDetector` over data/indicators/<label>.toml: each rule names
concept slots that must co-occur within a window of one sentence. Indicators that need
numbers or tense (age, duration, ongoing) have their own detector class. Every hit carries
its rule id and a one-line Dutch explanation, so evidence explains itself.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spacy.tokens import Doc

from signaal.signals.concepts import ConceptHits

DATA_DIR = Path(__file__).parent / "data"
INDICATOR_DIR = DATA_DIR / "indicators"


@dataclass
class Hit:
    """One rule firing: a label, why, and where (token and character offsets)."""

    label: str
    rule: str
    explain: str
    start: int
    end: int
    start_char: int
    end_char: int
    score: float
    requires: tuple[tuple[str, ...], ...] = ()
    ignore_qualifiers: tuple[str, ...] = ()
    qualifiers: dict[str, str] = field(default_factory=dict)
    core: tuple[int, int] | None = None  # token span the qualifiers look at (rule's first slot)


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    explain: str
    slots: tuple[tuple[str, ...], ...]
    window: int
    score: float
    requires: tuple[tuple[str, ...], ...] = ()
    anywhere: tuple[tuple[str, ...], ...] = ()  # slots that may be anywhere in the text
    none: tuple[str, ...] = ()  # concepts that cancel a hit when they are in its sentence
    # concepts whose matches a slot may not use: "moeder" inside "naar mijn moeder" (the
    # parent is whom something is sent to) does not fill the `parent` slot, while another
    # mention of a parent in the same sentence still can
    exclude: tuple[str, ...] = ()


def _slots(raw: list[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(part.strip() for part in slot.split("|")) for slot in raw)


class Detector:
    """Interface: find hits for one indicator in a doc whose concepts are tagged."""

    label: str = ""

    def __call__(self, doc: Doc, concepts: ConceptHits, prior: list[Hit] | None = None,
                 seen: frozenset[str] = frozenset(), touch_from: int | None = None) -> list[Hit]:
        """`prior`: hits accepted so far (for derived detectors); `seen`: concept names
        found in earlier client messages of the conversation; `touch_from`: only hits
        reaching this token (a client's answer after the counselor's question)."""
        raise NotImplementedError

    def rule_ids(self) -> list[tuple[str, str]]:
        """(rule id, explanation) pairs, for `signaal labels` and the model card."""
        return []


def span_hit(doc: Doc, label: str, rule: str, explain: str, start: int, end: int,
              score: float, **kw) -> Hit:
    span = doc[start:end]
    return Hit(label, rule, explain, start, end, span.start_char, span.end_char, score, **kw)


class PatternDetector(Detector):
    def __init__(self, label: str, path: Path | None = None):
        data = tomllib.loads((path or INDICATOR_DIR / f"{label}.toml").read_text(encoding="utf-8"))
        self.label = data["label"]
        self.ignore_qualifiers = tuple(data.get("ignore_qualifiers", ()))
        self.now_only = bool(data.get("now_only", False))
        self.rules = [
            Rule(
                id=entry["id"],
                label=self.label,
                explain=entry["explain"],
                slots=_slots(entry["all"]),
                window=int(entry.get("window", 10)),
                score=float(entry.get("score", 0.8)),
                requires=_slots(entry.get("requires", [])),
                anywhere=_slots(entry.get("anywhere", [])),
                none=tuple(data_none for data_none in entry.get("none", [])),
                exclude=tuple(entry.get("exclude", [])),
            )
            for entry in data["rule"]
        ]

    def rule_ids(self) -> list[tuple[str, str]]:
        return [(rule.id, rule.explain) for rule in self.rules]

    def __call__(self, doc: Doc, concepts: ConceptHits, prior: list[Hit] | None = None,
                 seen: frozenset[str] = frozenset(), touch_from: int | None = None) -> list[Hit]:
        hits = []
        for rule in self.rules:
            if any(not any(concepts.get(c) or c in seen for c in slot) for slot in rule.anywhere):
                continue
            slot_concepts = _without(concepts, rule.exclude) if rule.exclude else concepts
            for start, end, core in _cooccurrences(doc, slot_concepts, rule.slots, rule.window, touch_from):
                if rule.none and _in_sentence(doc, start, rule.none, concepts):
                    continue
                hits.append(span_hit(doc, self.label, rule.id, rule.explain, start, end,
                                      rule.score, requires=rule.requires, core=core,
                                      ignore_qualifiers=self.ignore_qualifiers))
        if self.now_only:
            hits = [h for h in hits if happening_now(doc, h, concepts)]
        return hits


def _cooccurrences(doc: Doc, concepts: ConceptHits, slots, window: int, touch_from: int | None = None):
    """(start, end, core) token extents where every slot has a match, all within `window`
    tokens and one sentence; core is the first slot's match. Anchored on the rarest slot
    (on every slot when the extent must reach token `touch_from`); other slots take their
    nearest match."""
    candidates = []
    for slot in slots:
        spans = sorted({span for concept in slot for span in concepts.get(concept, ())})
        if not spans:
            return []
        candidates.append(spans)
    sentence_of = _sentence_index(doc)
    position = _positions(doc)
    found: list[tuple[int, int, tuple[int, int]]] = []
    if touch_from is None:
        anchors = [min(range(len(candidates)), key=lambda i: len(candidates[i]))]
    else:
        anchors = list(range(len(candidates)))
    for anchor_index, anchor in ((i, a) for i in anchors for a in candidates[i]
                                 if touch_from is None or a[1] > touch_from):
        sent = sentence_of[anchor[0]]
        others = [i for i in range(len(candidates)) if i != anchor_index]
        # each other slot's matches in the anchor's sentence, nearest first
        options = [sorted((s for s in candidates[i] if sentence_of[s[0]] == sent),
                          key=lambda s: max(s[1], anchor[1]) - min(s[0], anchor[0]))
                   for i in others]
        chosen = _assign(anchor, options, window if len(slots) > 1 else None, position)
        if chosen is None:
            continue
        start = min(s for s, _ in chosen)
        end = max(e for _, e in chosen)
        by_slot = dict(zip([anchor_index] + others, chosen))
        if touch_from is not None and end <= touch_from:
            continue
        if all(f[:2] != (start, end) for f in found):
            found.append((start, end, by_slot[0]))
    return found


def _assign(anchor: tuple[int, int], options: list[list[tuple[int, int]]],
            window: int | None, position: list[int], budget: int = 200) -> list[tuple[int, int]] | None:
    """One match per slot, no two overlapping, the whole extent within `window` tokens
    (counted by `position`, which skips parenthetical asides):
    nearest matches first, trying the next one only where the nearest is already taken by
    another slot (a word can belong to two concepts: "meegaan" is both `arrange` and
    `go_along`). Returns [anchor, *one span per option list] or None."""
    chosen = [anchor]
    tries = [budget]

    def extend(k: int) -> bool:
        if k == len(options):
            return True
        for span in options[k]:
            tries[0] -= 1
            if tries[0] < 0:
                return False
            if any(_overlap(span, c) for c in chosen):
                continue
            if window is not None and (position[max(span[1], *(e for _, e in chosen))]
                                       - position[min(span[0], *(s for s, _ in chosen))]) > window:
                continue
            chosen.append(span)
            if extend(k + 1):
                return True
            chosen.pop()
        return False

    return chosen if extend(0) else None


def _without(concepts: ConceptHits, exclude: tuple[str, ...]) -> ConceptHits:
    """Concept matches minus those lying inside a match of an `exclude` concept."""
    blocked = [span for name in exclude for span in concepts.get(name, ())]
    if not blocked:
        return concepts
    return {name: [s for s in spans if not any(b[0] <= s[0] and s[1] <= b[1] for b in blocked)]
            for name, spans in concepts.items()}


def _in_sentence(doc: Doc, token: int, names: tuple[str, ...], concepts: ConceptHits) -> bool:
    sentence_of = _sentence_index(doc)
    return any(sentence_of[s] == sentence_of[token] for c in names for s, _ in concepts.get(c, ()))


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _sentences(doc: Doc) -> tuple[list[int], list[tuple[int, int]]]:
    """(sentence number of every token, token bounds of every sentence), computed once per doc."""
    cached = doc.user_data.get("signaal_sentences")
    if cached is None:
        bounds = [(sent.start, sent.end) for sent in doc.sents]
        index = [0] * len(doc)
        for i, (start, end) in enumerate(bounds):
            index[start:end] = [i] * (end - start)
        cached = doc.user_data["signaal_sentences"] = (index, bounds)
    return cached


MAX_ASIDE = 10  # tokens inside parentheses that a window may skip


def _positions(doc: Doc) -> list[int]:
    """Token offsets for window widths, not counting parenthetical asides: "mijn ouders laten
    mij en mijn zusje (we zijn 16 en 14) elke zaterdag zakkenrollen" is as close as without
    the aside. position[end] - position[start] is the width of tokens start..end-1."""
    cached = doc.user_data.get("signaal_positions")
    if cached is None:
        aside = [False] * len(doc)
        for token in doc:
            if token.text != "(":
                continue
            # only a short aside that closes: a lone "(" (a smiley) hides nothing after it
            close = next((k for k in range(token.i + 1, min(token.i + MAX_ASIDE + 2, len(doc)))
                          if doc[k].text in ("(", ")")), None)
            if close is not None and doc[close].text == ")":
                aside[token.i:close + 1] = [True] * (close + 1 - token.i)
        cached = [0]
        for hidden in aside:
            cached.append(cached[-1] + (not hidden))
        doc.user_data["signaal_positions"] = cached
    return cached


def _sentence_index(doc: Doc) -> list[int]:
    return _sentences(doc)[0]


def sentence_bounds(doc: Doc, token: int) -> tuple[int, int]:
    """Token bounds of the sentence holding `token`."""
    index, bounds = _sentences(doc)
    return bounds[index[token]]


_CLAUSE_BREAKS = frozenset({",", ";", ":"})


def clause_bounds(doc: Doc, token: int) -> tuple[int, int]:
    """Token bounds of the comma/semicolon clause holding `token`, within its sentence."""
    sent_start, sent_end = sentence_bounds(doc, token)
    start, end = token, token + 1
    while start > sent_start and doc[start - 1].text not in _CLAUSE_BREAKS:
        start -= 1
    while end < sent_end and doc[end].text not in _CLAUSE_BREAKS:
        end += 1
    return start, end


def happening_now(doc: Doc, hit: Hit, concepts: ConceptHits) -> bool:
    """For labels about now (acute danger): not when the hit's clause names a past moment
    ("vorig jaar hebben ze me opgesloten, nu woon ik ...") or its sentence says it ended."""
    from signaal.signals.ongoing import sentence_time  # late: ongoing imports this module

    start, end = clause_bounds(doc, hit.start)
    if any(start <= s and e <= end for s, e in concepts.get("past_moment", ())):
        return False
    return sentence_time(doc, hit.start, hit.end, perfect_is_now=True) != "ended"


# --- the registry -------------------------------------------------------------------

DETECTORS: dict[str, Callable[[], Detector]] = {}


def register_detector(name: str):
    """Register a detector factory under a name (a label id, or a name for a detector
    that serves several labels, like age)."""

    def wrap(factory):
        DETECTORS[name] = factory
        return factory

    return wrap


for _path in sorted(INDICATOR_DIR.glob("*.toml")):
    register_detector(_path.stem)(lambda label=_path.stem: PatternDetector(label))
