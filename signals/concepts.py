"""Concept tagging: PhraseMatchers over normalised forms and lemmas (data/concepts.toml)."""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from pathlib import Path

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Token

from signaal.signals.anaphora import PronounResolver

DATA_DIR = Path(__file__).parent / "data"

# concept -> list of (start, end) token spans
ConceptHits = dict[str, list[tuple[int, int]]]

# Token attributes whose values a doc lists cheaply; anchors are checked on these.
ANCHOR_ATTRS = {"NORM": "norm_", "LEMMA": "lemma_", "LOWER": "lower_", "ORTH": "text"}
Anchor = tuple[str, frozenset[str]]


def _ends_clause(token: Token) -> bool:
    """The last word of a clause: before punctuation or at the end of the text (chat
    messages often end without a full stop)."""
    following = token.nbor(1) if token.i + 1 < len(token.doc) else None
    return following is None or following.is_punct


# token patterns use it as {"_": {"signaal_clause_end": true}}
if not Token.has_extension("signaal_clause_end"):
    Token.set_extension("signaal_clause_end", getter=_ends_clause)


def pattern_anchors(pattern: list[dict]) -> list[Anchor]:
    """The word sets a doc must contain for `pattern` to match at all: one per token that
    must occur (no optional OP) and names its NORM/LEMMA/LOWER/ORTH value or IN-list.
    Other conditions (REGEX, NOT_IN, flags) do not narrow it, so this never rules out a
    pattern that could match."""
    anchors = []
    for token in pattern:
        op = token.get("OP", "1")
        if op in ("?", "*", "!") or re.fullmatch(r"\{0?,\d*\}", op):
            continue
        for attr, value in token.items():
            if attr not in ANCHOR_ATTRS:
                continue
            if isinstance(value, str):
                anchors.append((attr, frozenset([value])))
            elif isinstance(value, dict) and set(value) == {"IN"}:
                anchors.append((attr, frozenset(value["IN"])))
    return anchors


def load_concepts(path: Path | None = None) -> tuple[dict[str, list[str]], dict[str, list], set[str], list[dict]]:
    """(phrase lists, token patterns) by concept name, the concepts matched on NORM only and
    the implications ({concept, from, when}: `from` matches count as `concept` when `when`
    is in the doc)."""
    data = tomllib.loads((path or DATA_DIR / "concepts.toml").read_text(encoding="utf-8"))
    patterns = json.loads((DATA_DIR / "concept_patterns.json").read_text(encoding="utf-8"))
    patterns.pop("_comment", None)
    norm_only = set(data.get("norm_only", ()))
    return data["concepts"], _with_concept_words(patterns, data["concepts"]), norm_only, data.get("implied", [])


def _with_concept_words(patterns: dict[str, list], concepts: dict[str, list[str]]) -> dict[str, list]:
    """Token patterns with every "@name" in an IN list replaced by the one-word phrases of
    concept `name` (normalised, as NORM compares them): one word list, kept in concepts.toml."""
    from signaal.signals.normalize import normalize_word

    def words(items: list[str]) -> list[str]:
        out: list[str] = []
        for item in items:
            if item.startswith("@"):
                out += sorted({normalize_word(p) for p in concepts[item[1:]] if " " not in p})
            else:
                out.append(item)
        return out

    return {name: [[{attr: {**value, "IN": words(value["IN"])}
                     if isinstance(value, dict) and "IN" in value else value
                     for attr, value in token.items()} for token in pattern] for pattern in token_patterns]
            for name, token_patterns in patterns.items()}


class ConceptTagger:
    """Finds every concept phrase in a doc, matching on NORM and on LEMMA, and every token
    pattern. Each token pattern has its own Matcher, run only when the doc holds the words
    the pattern requires: the Matcher's cost grows with optional tokens times doc length,
    and most patterns cannot match most messages."""

    def __init__(self, nlp: Language, path: Path | None = None):
        self.concepts, patterns, norm_only, self.implied = load_concepts(path)
        self._by_pattern: list[tuple[list[Anchor], Matcher]] = []
        for concept, token_patterns in patterns.items():
            for pattern in token_patterns:
                matcher = Matcher(nlp.vocab)
                matcher.add(concept, [pattern])
                # rarest word set first, so the check usually stops at one lookup
                anchors = sorted(pattern_anchors(pattern), key=lambda anchor: len(anchor[1]))
                self._by_pattern.append((anchors, matcher))
        self._anchor_attrs = sorted({attr for anchors, _ in self._by_pattern for attr, _ in anchors})
        self._by_norm = PhraseMatcher(nlp.vocab, attr="NORM")
        self._by_lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        normalizer = nlp.get_pipe("signaal_normalizer")
        for concept, phrases in self.concepts.items():
            docs = [normalizer(nlp.make_doc(phrase)) for phrase in set(phrases)]
            self._by_norm.add(concept, docs)
            if concept not in norm_only:
                self._by_lemma.add(concept, docs)
        self._names = {nlp.vocab.strings[c]: c for c in [*self.concepts, *patterns]}
        self.resolve_pronouns = PronounResolver()

    @property
    def names(self) -> tuple[str, ...]:
        """Every concept this tagger can find, sorted (the model's concept features)."""
        return tuple(sorted({*self._names.values(), *PronounResolver.CONCEPTS}))

    def __call__(self, doc: Doc) -> ConceptHits:
        hits: dict[str, set[tuple[int, int]]] = defaultdict(set)
        in_doc = {attr: {getattr(token, ANCHOR_ATTRS[attr]) for token in doc} for attr in self._anchor_attrs}
        possible = [matcher for anchors, matcher in self._by_pattern
                    if all(not words.isdisjoint(in_doc[attr]) for attr, words in anchors)]
        for matcher in (self._by_norm, self._by_lemma, *possible):
            for match_id, start, end in matcher(doc):
                hits[self._names[match_id]].add((start, end))
        for rule in self.implied:
            if hits.get(rule["when"]) and hits.get(rule["from"]):
                hits[rule["concept"]] |= hits[rule["from"]]
        self.resolve_pronouns(doc, hits)  # after `implied`: an uncle one lives with is a parent too
        return {concept: sorted(spans) for concept, spans in hits.items()}
