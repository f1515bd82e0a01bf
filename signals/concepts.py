"""Concept tagging: PhraseMatchers over normalised forms and lemmas (data/concepts.toml)."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

DATA_DIR = Path(__file__).parent / "data"

# concept -> list of (start, end) token spans
ConceptHits = dict[str, list[tuple[int, int]]]


def load_concepts(path: Path | None = None) -> dict[str, list[str]]:
    data = tomllib.loads((path or DATA_DIR / "concepts.toml").read_text(encoding="utf-8"))
    return data["concepts"]


class ConceptTagger:
    """Finds every concept phrase in a doc, matching on NORM and on LEMMA."""

    def __init__(self, nlp: Language, concepts: dict[str, list[str]] | None = None):
        self.concepts = concepts or load_concepts()
        self._by_norm = PhraseMatcher(nlp.vocab, attr="NORM")
        self._by_lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        normalizer = nlp.get_pipe("signaal_normalizer")
        for concept, phrases in self.concepts.items():
            docs = [normalizer(nlp.make_doc(phrase)) for phrase in set(phrases)]
            self._by_norm.add(concept, docs)
            self._by_lemma.add(concept, docs)
        self._names = {nlp.vocab.strings[c]: c for c in self.concepts}

    def __call__(self, doc: Doc) -> ConceptHits:
        hits: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for matcher in (self._by_norm, self._by_lemma):
            for match_id, start, end in matcher(doc):
                hits[self._names[match_id]].add((start, end))
        return {concept: sorted(spans) for concept, spans in hits.items()}
