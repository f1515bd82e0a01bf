"""Build the Dutch spaCy pipeline: nl_core_news_sm when installed, else a blank fallback.

The fallback (spacy.blank("nl") + chat tokenizer tweaks + sentencizer + chat normaliser
with lookup lemmas) is what runs where the trained model cannot be installed; the rules
are written so that it is good on its own.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.util import compile_infix_regex

import signaal.signals.normalize  # noqa: F401  (registers the signaal_normalizer factory)

TRAINED_MODEL = "nl_core_news_sm"

# Chat users skip the space after punctuation ("ik ben 14,ik zit"): split there, but not
# inside numbers ("3,50") or URLs/e-mails (dots are left alone).
_CHAT_INFIXES = [r"(?<=[^\W\d_])[,!?;]+(?=[^\W\d_])", r"(?<=\d)[,!?;]+(?=[^\W\d_])",
                 r"(?<=[^\W\d_])[!?]+(?=\d)"]


# spaCy's Dutch tokenizer keeps legal/formal abbreviations with their dot as one token;
# these are also everyday chat words that end a sentence ("hij slaat me.", "mijn ex.", "ik
# kon niet meer, echt niet meer al."), where the dot is punctuation.
_CHAT_WORDS_NOT_ABBREVIATIONS = ("me", "al", "best", "pas", "ex", "bel", "kon", "min", "top",
                                 "vol", "hand", "lit", "red", "get", "not", "volg", "ver")


class FallbackWarning(UserWarning):
    """nl_core_news_sm is not installed; Signaal runs on its blank-pipeline fallback."""


@dataclass(frozen=True)
class PipelineInfo:
    name: str
    mode: str  # "model" or "fallback"
    reason: str
    spacy_version: str


def _tune_tokenizer(nlp: Language) -> None:
    infixes = list(nlp.Defaults.infixes) + _CHAT_INFIXES
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    dotted = {f"{form}." for word in _CHAT_WORDS_NOT_ABBREVIATIONS
              for form in (word, word.capitalize(), word.upper())}
    nlp.tokenizer.rules = {k: v for k, v in nlp.tokenizer.rules.items() if k not in dotted}


def build_nlp(model: str | None = TRAINED_MODEL, warn: bool = True) -> tuple[Language, PipelineInfo]:
    """Return the pipeline and a description of what is in use and why."""
    if model:
        try:
            nlp = spacy.load(model, exclude=["ner"] if False else [])
        except OSError:
            nlp = None
            reason = f"{model} is not installed; using spacy.blank('nl') with lookup lemmas"
        else:
            _tune_tokenizer(nlp)
            nlp.add_pipe("signaal_normalizer", config={"keep_model_lemmas": True})
            info = PipelineInfo(model, "model", f"{model} {nlp.meta.get('version', '')} found",
                                spacy.__version__)
            return nlp, info
    else:
        reason = "fallback requested"
    if warn:
        warnings.warn(
            f"Signaal: {reason}. Rules still work; install {TRAINED_MODEL} from spaCy's "
            "releases for parsed lemmas and entities.", FallbackWarning, stacklevel=2)
    nlp = spacy.blank("nl")
    _tune_tokenizer(nlp)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("signaal_normalizer")
    return nlp, PipelineInfo("blank:nl", "fallback", reason, spacy.__version__)
