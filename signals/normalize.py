"""Chat-text normalisation as a spaCy component.

The original text and its offsets are never changed: each token gets a normalised form in
``token.norm_`` (lowercase, repeated letters folded, chat-speak and Flemish/slang variants
mapped to standard Dutch, emoji to words) and a lemma in ``token.lemma_`` (domain table,
then spacy-lookups-data's Dutch lookup table). Rules match on NORM and LEMMA, so evidence
offsets point straight into what the client typed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Token

DATA_DIR = Path(__file__).parent / "data"
_REPEATS = re.compile(r"(\w)\1{2,}")  # 3+ identical letters: "helppp", "sooo"
_TRAILING_PUNCT = re.compile(r"^(\w[\w'-]*?)[!?.,;:]+$")
# scare quotes around a euphemism ('vrienden', "werk", ‘uitgeleend’): merged into the word
QUOTES = "'\"‘’“”`´"
_HAS_QUOTE = re.compile(f"[{re.escape(QUOTES)}]")


@cache
def chatspeak_table() -> dict[str, str]:
    data = tomllib.loads((DATA_DIR / "chatspeak.toml").read_text(encoding="utf-8"))
    return {**data["variants"], **data["emoji"]}


@cache
def domain_lemmas() -> dict[str, str]:
    data = tomllib.loads((DATA_DIR / "lemmas.toml").read_text(encoding="utf-8"))
    return data["lemmas"]


@cache
def lookup_lemmas() -> Mapping[str, str]:
    """Dutch lookup lemmas from spacy-lookups-data (empty, with a warning, if absent).

    The spaCy Table itself: it is keyed by string hashes, and its ``get`` and ``in``
    hash a string key first (a plain dict copy of it would never match a word)."""
    try:
        from spacy.lookups import load_lookups

        return load_lookups("nl", ["lemma_lookup"]).get_table("lemma_lookup")
    except Exception:  # package missing or table renamed: rules still run on norms
        import warnings

        warnings.warn("spacy-lookups-data is not installed: no Dutch lookup lemmas", stacklevel=2)
        return {}


def normalize_word(word: str) -> str:
    """The normalised form of one typed word (no context needed)."""
    table = chatspeak_table()
    lower = word.lower()
    if lower in table:
        return table[lower]
    folded = _REPEATS.sub(r"\1\1", lower)
    if folded in table:
        return table[folded]
    if folded != lower:
        single = _REPEATS.sub(r"\1", lower)
        if single in table or single in lookup_lemmas() or single in domain_lemmas():
            return table.get(single, single)
    return folded


def lemma_of(norm: str) -> str:
    """The domain table's lemma, else the lookup table's for verb forms only: rules use
    LEMMA to cover a verb's tenses (regelt, regelde, geregeld: regelen), while a noun's
    number and diminutive carry meaning (loverboys: several; telefoons afpakken: robbing;
    vriendje: a boyfriend, filmpje: a clip)."""
    domain = domain_lemmas().get(norm)
    if domain is not None:
        return domain
    lemma = lookup_lemmas().get(norm)
    if lemma is None or not lemma.endswith("en") or norm in (lemma + "s", lemma + "'s"):
        return norm
    return lemma


class ChatNormalizer:
    """Sets ``norm_`` and ``lemma_`` on every token; keeps a trained model's lemmas
    unless chat-speak changed the word or the domain table knows it better."""

    def __init__(self, keep_model_lemmas: bool = False):
        self.keep_model_lemmas = keep_model_lemmas
        self._cache: dict[str, tuple[str, str]] = {}

    def __call__(self, doc: Doc) -> Doc:
        if _HAS_QUOTE.search(doc.text):  # doc.text is built anew on every access: read it once
            merge_scare_quotes(doc)
        cache_ = self._cache
        for token in doc:
            text = _unquoted(token.text)
            hit = cache_.get(text)
            if hit is None:
                norm = normalize_word(text)
                hit = (norm, lemma_of(norm))
                if len(cache_) < 200_000:  # bounded: huge inputs must not grow memory
                    cache_[text] = hit
            norm, lemma = hit
            token.norm_ = norm
            if not (self.keep_model_lemmas and token.lemma_ and norm == text.lower()
                    and norm not in domain_lemmas()):
                token.lemma_ = lemma
        return doc


_TYPED_WORD = re.compile(r"\S+")
_WORD_CORE = re.compile(r"\w(?:.*\w)?")  # a typed word without the punctuation around it


def typed_words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, lowercased word) of each word as typed (split on white space), the
    punctuation around it left out: the unit in which the model's weights are shown."""
    words = []
    for m in _TYPED_WORD.finditer(text):
        core = _WORD_CORE.search(m.group())
        if core is not None:
            words.append((m.start() + core.start(), m.start() + core.end(), core.group().lower()))
    return words


def _unquoted(text: str) -> str:
    """A word without the quote marks merged into it; contractions keep theirs ('s, 't, 'k)."""
    core = text.strip(QUOTES)
    return core if len(core) >= 3 and core != text else text


def _is_quoted(token: Token) -> bool:
    return _unquoted(token.text) != token.text


# the quotes themselves can mean something ('vriend': a pretend boyfriend); token patterns
# ask for them as {"_": {"signaal_quoted": true}}
if not Token.has_extension("signaal_quoted"):
    Token.set_extension("signaal_quoted", getter=_is_quoted)


def merge_scare_quotes(doc: Doc) -> None:
    """Merges quote marks into the word they are typed against ('vrienden' -> one token,
    normalised as vrienden), so that a euphemism in quotes matches the same rules as the
    bare word: victims often quote the words their exploiter uses. A quoted phrase keeps
    its words apart ("‘vriend van de familie’": the first and last word take the marks)."""
    spans = []
    taken = -1
    for token in doc:
        if not token.is_alpha or len(token.text) < 3:  # "'k", "'t": contractions, not quotes
            continue
        start, end = token.i, token.i + 1
        before = doc[token.i - 1] if token.i > 0 else None
        if (before is not None and before.i > taken and before.text in QUOTES
                and not before.whitespace_):
            start = before.i
        after = doc[token.i + 1] if token.i + 1 < len(doc) else None
        if (after is not None and after.text in QUOTES and not token.whitespace_
                and (after.whitespace_ or after.i + 1 == len(doc) or doc[after.i + 1].is_punct)):
            end = after.i + 1
        if (start, end) != (token.i, token.i + 1):
            spans.append(doc[start:end])
            taken = end - 1
    if spans:
        with doc.retokenize() as retokenizer:
            for span in spans:
                retokenizer.merge(span)


@Language.factory("signaal_normalizer", default_config={"keep_model_lemmas": False})
def make_chat_normalizer(nlp: Language, name: str, keep_model_lemmas: bool) -> ChatNormalizer:
    return ChatNormalizer(keep_model_lemmas=keep_model_lemmas)
