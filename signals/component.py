"""Signaal as a spaCy component: ``nlp.add_pipe("signaal")`` in any pipeline.

The component runs the one analysis path (signals.pipeline.Analyzer, with its own chat
normalisation) on ``doc.text`` and stores the result on the doc: ``doc._.signaal`` (the
result dict of LABELS.md) and ``doc.spans["signaal"]`` (evidence spans labelled by
indicator, aligned to this doc's tokens).
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

if not Doc.has_extension("signaal"):
    Doc.set_extension("signaal", default=None)


class SignaalComponent:
    def __init__(self, model: str | None, policy: str | None):
        from signaal.signals.pipeline import Analyzer
        from signaal.signals.policy import Policy

        loaded = None
        if model:
            from signaal.models.registry import load_model

            loaded = load_model(model)
        self.analyzer = Analyzer(policy=Policy.load(policy), model=loaded)

    def __call__(self, doc: Doc) -> Doc:
        result = self.analyzer.analyze(doc.text)
        spans = []
        for flag in result.flags:
            for e in flag.evidence:
                span = doc.char_span(e.start, e.end, label=flag.label, alignment_mode="expand")
                if span is not None:
                    spans.append(span)
        doc.spans["signaal"] = spans
        doc._.signaal = result.to_dict()
        return doc


@Language.factory("signaal", default_config={"model": None, "policy": None})
def make_signaal(nlp: Language, name: str, model: str | None, policy: str | None) -> SignaalComponent:
    return SignaalComponent(model, policy)
