"""Concept tagging: PhraseMatchers over normalised forms and lemmas (data/concepts.toml)."""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from pathlib import Path

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

DATA_DIR = Path(__file__).parent / "data"

# concept -> list of (start, end) token spans
ConceptHits = dict[str, list[tuple[int, int]]]


def load_concepts(path: Path | None = None) -> tuple[dict[str, list[str]], dict[str, list], set[str]]:
    """(phrase lists, token patterns) by concept name, and the concepts matched on NORM only."""
    data = tomllib.loads((path or DATA_DIR / "concepts.toml").read_text(encoding="utf-8"))
    patterns = json.loads((DATA_DIR / "concept_patterns.json").read_text(encoding="utf-8"))
    patterns.pop("_comment", None)
    norm_only = set(data.get("norm_only", ()))
    return data["concepts"], patterns, norm_only


class ConceptTagger:
    """Finds every concept phrase in a doc, matching on NORM and on LEMMA."""

    def __init__(self, nlp: Language, path: Path | None = None):
        self.concepts, patterns, norm_only = load_concepts(path)
        self._by_pattern = Matcher(nlp.vocab)
        for concept, token_patterns in patterns.items():
            self._by_pattern.add(concept, token_patterns)
        self._by_norm = PhraseMatcher(nlp.vocab, attr="NORM")
        self._by_lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        normalizer = nlp.get_pipe("signaal_normalizer")
        for concept, phrases in self.concepts.items():
            docs = [normalizer(nlp.make_doc(phrase)) for phrase in set(phrases)]
            self._by_norm.add(concept, docs)
            if concept not in norm_only:
                self._by_lemma.add(concept, docs)
        self._names = {nlp.vocab.strings[c]: c for c in [*self.concepts, *patterns]}

    def __call__(self, doc: Doc) -> ConceptHits:
        hits: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for matcher in (self._by_norm, self._by_lemma, self._by_pattern):
            for match_id, start, end in matcher(doc):
                hits[self._names[match_id]].add((start, end))
        return {concept: sorted(spans) for concept, spans in hits.items()}
