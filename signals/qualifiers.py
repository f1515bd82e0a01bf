"""ConText qualifiers (negation, hypothetical/question, informational/joke, historical),
using clinlp's ContextAlgorithm with chat-specific Dutch trigger rules in
data/context_rules.json (matched on normalised tokens)."""

from __future__ import annotations

import warnings
from pathlib import Path

from clinlp.ie.qualifier.context_algorithm import ContextAlgorithm
from clinlp.ie.qualifier.qualifier import get_qualifiers
from spacy.language import Language
from spacy.tokens import Doc, Span

from signaal.signals.detectors import Hit

RULES_PATH = Path(__file__).parent / "data" / "context_rules.json"
SPANS_KEY = "signaal_hits"
# A hit counts as a disclosure only with these values (unless its indicator ignores the class).
COUNTING = {"Presence": "Present", "Mode": "Disclosure"}


class Qualifiers:
    def __init__(self, nlp: Language, rules_path: Path = RULES_PATH):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._context = ContextAlgorithm(nlp=nlp, phrase_matcher_attr="NORM",
                                             rules=str(rules_path), spans_key=SPANS_KEY)

    def __call__(self, doc: Doc, hits: list[Hit]) -> None:
        """Set `hit.qualifiers` ({class: value}) for every hit."""
        if not hits:
            return
        doc.spans[SPANS_KEY] = [Span(doc, *(h.core or (h.start, h.end)), label=h.label) for h in hits]
        self._context(doc)
        for hit, span in zip(hits, doc.spans[SPANS_KEY]):
            hit.qualifiers = {q.name: q.value for q in get_qualifiers(span) or ()}


def counts(hit: Hit) -> bool:
    """Whether a qualified hit is a real disclosure (not negated, hypothetical, lesson, joke)."""
    return all(hit.qualifiers.get(name, value) == value
               for name, value in COUNTING.items() if name not in hit.ignore_qualifiers)
