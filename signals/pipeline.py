"""The one path a message takes: normalise -> spaCy doc -> concepts -> detectors ->
qualifiers -> (model scores -> fusion) -> policy -> result with redacted evidence.

The CLI, the service and the spaCy component are thin doors onto `Analyzer`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spacy.lang.nl.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc

# importing registers the age, duration and ongoing detectors
import signaal.signals.age  # noqa: F401
import signaal.signals.component  # noqa: F401  (registers the "signaal" spaCy factory)
import signaal.signals.duration  # noqa: F401
import signaal.signals.ongoing  # noqa: F401
from signaal.signals.age import BARE_AGE_RULES
from signaal.signals.anaphora import Mention
from signaal.signals.concepts import ConceptTagger
from signaal.signals.detectors import DETECTORS, Detector, Hit
from signaal.signals.fusion import fuse, model_threshold, vetoes
from signaal.signals.io import clean_text
from signaal.signals.language import PipelineInfo, build_nlp
from signaal.signals.normalize import normalize_word, typed_words
from signaal.signals.policy import Policy
from signaal.signals.qualifiers import Qualifiers, counts
from signaal.signals.result import Evidence, Flag, Result, Veto

MAX_CHUNK = 5_000  # characters analysed as one doc; longer texts are cut at sentence ends
# client messages the model scores together (the whole chat for most conversations); a
# message leaving the window keeps its labels' scores through a running max
MODEL_WINDOW = 12
MODEL_SNIPPET = 120  # characters of redacted message shown when no phrase can be pointed at
MODEL_PHRASES = 2  # phrases shown as the evidence of a model-only flag
MODEL_PHRASE_WORDS = 4  # words per phrase at most
STATE_VERSION = 2  # 2: a list of model evidence per label (version 1 states still load)
_AFFIRMATIVE = re.compile(r"^\W*(ja+|jep|jap|jah|yes|ye|klopt|zeker|inderdaad|soms|vaak|"
                          r"helaas wel|wel|ja klopt|ja soms|ja zeker)\b", re.I)
# "Gaat het om jou?" "ja": what the client asked as "stel dat ..." or "voor een vriendin" is theirs
_ABOUT_CLIENT = re.compile(r"\b(gaat (het|dit|dat) (om|over) (jou|jezelf|je zelf|jouzelf)|ben jij (dat|het)|"
                           r"is (dit|dat|het) bij jou|gebeurt (dit|dat|het) (bij|met) jou|heb je dit zelf|"
                           r"overkomt (dit|dat|het) jou|is dit jouw situatie)\b", re.I)
MAX_UNCERTAIN = 20  # possibilities kept per conversation (the state stays small)
_AGE_QUESTION = re.compile(r"\b(hoe oud|leeftijd|welke klas|in welke groep)\b", re.I)


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split very long text at sentence or line ends so no doc exceeds MAX_CHUNK chars."""
    if len(text) <= MAX_CHUNK:
        return [(0, text)]
    out, start = [], 0
    while start < len(text):
        end = min(start + MAX_CHUNK, len(text))
        if end < len(text):
            cut = max(text.rfind(c, start + MAX_CHUNK // 2, end) for c in ".!?\n")
            end = cut + 1 if cut > start else end
        out.append((start, text[start:end]))
        start = end
    return out


@dataclass
class MessageAnalysis:
    """Accepted hits of one message, offsets into that message."""

    hits: list[Hit] = field(default_factory=list)
    pending: list[Hit] = field(default_factory=list)  # waiting for a `requires` label
    concepts: frozenset[str] = frozenset()  # concept names found (no text)
    set_aside: list[Hit] = field(default_factory=list)  # negated, hypothetical, informational
    mentions: tuple = ()  # the last people named (gender, parent or not; no text): anaphora.py

    @property
    def labels(self) -> set[str]:
        return {h.label for h in self.hits}


class Analyzer:
    """Analyses single messages and conversations. Thread-safe for reading once built."""

    def __init__(self, nlp: Language | None = None, policy: Policy | None = None,
                 model: Any = None, redactor: Any = None, pipeline_info: PipelineInfo | None = None):
        if nlp is None:
            nlp, pipeline_info = build_nlp()
        self.nlp = nlp
        self.pipeline_info = pipeline_info
        self.policy = policy or Policy.load()
        self.model = model
        self.redactor = redactor or _default_redactor()
        self.concepts = ConceptTagger(nlp)
        self.qualifiers = Qualifiers(nlp)
        self.detectors: list[Detector] = [factory() for factory in DETECTORS.values()]
        self._derived = [d for d in self.detectors if getattr(d, "needs_prior", False)]
        self._direct = [d for d in self.detectors if d not in self._derived]

    @classmethod
    def load(cls, model: str | None = "default", **kwargs: Any) -> Analyzer:
        """An Analyzer with a verified model: "default" (the shipped one; rules only when it
        is not installed), a model name or folder, or None/"rules" for rules only."""
        from signaal.models.registry import load_default_model, load_model

        if model in (None, "rules", "none"):
            return cls(model=None, **kwargs)
        loaded = load_default_model() if model == "default" else load_model(model)
        analyzer = cls(model=loaded, **kwargs)
        if loaded is not None:
            from signaal.models.classifier import share_feature_analyzer

            share_feature_analyzer(analyzer)  # rule features from this pipeline, not a second one
        return analyzer

    # --- rule layer ------------------------------------------------------------------
    def rule_hits(self, doc: Doc, context_labels: Iterable[str] = (), keep_bare_age: bool = True,
                  seen: frozenset[str] = frozenset(), touch_from: int | None = None,
                  antecedents: tuple = ()) -> tuple[list[Hit], list[Hit]]:
        """(accepted hits, hits still waiting for a label they require). `seen`: concept
        names from earlier client messages (a photo named before the threat); `antecedents`:
        people named in them, for the pronoun resolver (MessageAnalysis.mentions)."""
        doc.user_data["signaal_antecedents"] = antecedents
        concepts = self.concepts(doc)
        doc.user_data["signaal_concepts"] = frozenset(concepts)
        raw: list[Hit] = []
        for detector in self._direct:
            raw.extend(detector(doc, concepts, seen=seen, touch_from=touch_from))
        if not keep_bare_age:
            raw = [h for h in raw if h.rule not in BARE_AGE_RULES]
        self.qualifiers(doc, raw)
        counted = [counts(h) for h in raw]
        hits = [h for h, c in zip(raw, counted, strict=True) if c]
        doc.user_data["signaal_set_aside"] = [h for h, c in zip(raw, counted, strict=True) if not c]
        hits, pending = _apply_requires(hits, set(context_labels))
        for detector in self._derived:
            derived, waiting = _apply_requires(detector(doc, concepts, hits),
                                               set(context_labels) | {h.label for h in hits})
            hits.extend(derived)
            pending.extend(waiting)
        return hits, pending

    def analyze_text(self, text: str, context_labels: Iterable[str] = (), keep_bare_age: bool = True,
                     seen: frozenset[str] = frozenset(), antecedents: tuple = ()) -> MessageAnalysis:
        """`antecedents`: people named in earlier client messages (MessageAnalysis.mentions)."""
        analysis = MessageAnalysis(mentions=antecedents)
        for offset, chunk in _chunks(text):
            doc = self.nlp(chunk)
            hits, pending = self.rule_hits(doc, context_labels, keep_bare_age, seen,
                                           antecedents=analysis.mentions)
            analysis.mentions = doc.user_data.get("signaal_mentions", analysis.mentions)
            analysis.concepts |= doc.user_data["signaal_concepts"]
            analysis.set_aside.extend(doc.user_data["signaal_set_aside"])
            for h in hits + pending:
                h.start_char += offset
                h.end_char += offset
            analysis.hits.extend(hits)
            analysis.pending.extend(pending)
        return analysis

    # --- doors -------------------------------------------------------------------------
    def analyze(self, text: str, id: str | None = None) -> Result:
        """One client message."""
        conversation = self.conversation(id)
        conversation.add("client", text)
        return conversation.result()

    def analyze_conversation(self, messages: list[dict], id: str | None = None) -> Result:
        conversation = self.conversation(id)
        for message in messages:
            conversation.add(message.get("role", "client"), message.get("text", ""))
        return conversation.result()

    def analyze_record(self, record: dict) -> Result:
        """A message or conversation object in the formats of LABELS.md."""
        if "messages" in record:
            return self.analyze_conversation(record["messages"], record.get("id"))
        return self.analyze(record.get("text", ""), record.get("id"))

    def conversation(self, id: str | None = None) -> Conversation:
        return Conversation(self, id)

    def rule_features(self, text: str) -> dict[str, float]:
        """The rule layer's reading of one message as model features (see rule_features)."""
        analysis = self.analyze_text(text)
        return rule_features(analysis.hits, analysis.set_aside, analysis.concepts)


# Key prefixes of rule_features (a bare label id is an accepted hit's score).
SET_ASIDE_KEY = "~"
CONCEPT_KEY = "@"


def rule_features(hits: Iterable[Hit], set_aside: Iterable[Hit] = (),
                  concepts: Iterable[str] = ()) -> dict[str, float]:
    """What the model learns from the rule layer for one message: label ids, "~" + label id
    and "@" + concept name, never text. `label`: the best score of an accepted hit; "~label":
    of a hit the qualifiers set aside (the words are there, but negated, hypothetical or
    informational); "@concept": 1.0 for each concept found (a generalisation over its
    phrasings, which an n-gram model cannot make on its own)."""
    features: dict[str, float] = {CONCEPT_KEY + name: 1.0 for name in concepts}
    for prefix, group in ((SET_ASIDE_KEY, set_aside), ("", hits)):
        for h in group:
            key = prefix + h.label
            features[key] = max(features.get(key, 0.0), h.score)
    return features


@dataclass
class Update:
    result: Result
    new_flags: list[Flag]


@dataclass
class Step:
    """One message between `Conversation.begin` and `finish` (transient, in memory only)."""

    index: int
    text: str
    labels_before: set[str]
    redaction: Any = None
    model_input: tuple[list[str], list[dict]] | None = None
    model_scores: dict[str, float] | None = None


def score_window(model: Any, texts: list[str], features: list[dict]) -> dict[str, float]:
    """The model's scores for a window of redacted client messages with their rule features."""
    if hasattr(model, "remember_rule_features"):  # the rules ran already: reuse their reading
        for text, message_features in zip(texts, features, strict=True):
            model.remember_rule_features(text, message_features)
    return model.score_conversation(texts)


class Conversation:
    """A conversation fed message by message (role + text). It keeps no raw text: what was
    flagged (labels, scores, offsets, redacted snippets) and, for the model, the last few
    client messages redacted; the counselor's last question only until the next answer."""

    def __init__(self, analyzer: Analyzer, id: str | None = None):
        self.analyzer = analyzer
        self.id = id
        self.roles: list[str] = []
        self._previous_counselor: str | None = None  # kept only until the next client turn
        # the last few client messages, for the model (in memory only, never stored); older
        # windows live on in _model_scores, a running max, so cost per message stays flat
        self._recent_client_texts: list[tuple[str, dict[str, float]]] = []
        self._retired_model_scores: dict[str, float] = {}
        self._model_evidence: dict[str, list[Evidence]] = {}  # where the model first raised a label
        self._evidence: dict[str, list[tuple[float, Evidence]]] = {}
        # hits whose required label is not flagged yet ("mn vriendje" before the
        # exploitation is told): accepted later in the conversation if it comes
        self._pending: list[tuple[Hit, Evidence]] = []
        # hits of "stel dat ..." / "ik vraag het voor een vriendin": counted once the client
        # answers "ja" to "Gaat het om jou?"
        self._uncertain: list[tuple[Hit, Evidence]] = []
        self._seen_concepts: frozenset[str] = frozenset()  # concept names only, never text
        self._mentions: tuple = ()  # people named so far: gender and parent or not, no text
        self._model_scores: dict[str, float] = {}

    def add(self, role: str, text: str) -> Update:
        """Analyse the next message and return the conversation so far plus its new flags."""
        step = self.begin(role, text)
        if step.model_input is not None:
            step.model_scores = score_window(self.analyzer.model, *step.model_input)
        return self.finish(step)

    def begin(self, role: str, text: str) -> Step:
        """The rule layer's part of `add`; the model's part (`step.model_input`, redacted text
        and rule scores only) may run elsewhere, e.g. in a worker process, before `finish`."""
        text = clean_text(text if isinstance(text, str) else "")
        index = len(self.roles)
        role = role if role in ("client", "counselor") else "client"
        self.roles.append(role)
        step = Step(index, text, set(self._evidence))
        if role == "counselor":
            self._previous_counselor = text
            return step
        question, self._previous_counselor = self._previous_counselor, None
        hits, pending, own = self._client_hits(text, question)
        uncertain = [h for h in own.set_aside if _uncertain_disclosure(h)]
        # redaction is needed for evidence snippets and for the model's input
        needs_redaction = hits or pending or uncertain or self.analyzer.model is not None
        step.redaction = self.analyzer.redactor.redact(text) if needs_redaction else None

        def evidence_of(h: Hit) -> Evidence:
            snippet = redact_snippet(text, step.redaction, h.start_char, h.end_char)
            return Evidence(index, h.start_char, h.end_char, snippet, h.rule, h.explain)

        for h in hits:
            self._evidence.setdefault(h.label, []).append((h.score, evidence_of(h)))
        self._pending.extend((h, evidence_of(h)) for h in pending)
        self._uncertain = (self._uncertain + [(h, evidence_of(h)) for h in uncertain])[-MAX_UNCERTAIN:]
        if question and _ABOUT_CLIENT.search(question) and _AFFIRMATIVE.match(text):
            self._pending.extend(self._uncertain)  # theirs after all; requires still apply
            self._uncertain = []
        self._accept_pending()
        if self.analyzer.model is not None:
            step.model_input = self._model_window(
                step.redaction.text, rule_features(hits, own.set_aside, own.concepts))
        return step

    def finish(self, step: Step) -> Update:
        if step.model_scores is not None:
            self._apply_model_scores(step)
        result = self.result()
        new = [f for f in result.flags if f.label not in step.labels_before]
        return Update(result, new)

    def _model_window(self, model_text: str, features: dict[str, float]) -> tuple[list[str], list[dict]]:
        """The model's input: the last MODEL_WINDOW client messages, redacted (the only text
        kept in memory), each with its rule features (labels and concept names, no text)."""
        if len(self._recent_client_texts) == MODEL_WINDOW:  # the oldest message leaves the window
            for label, p in self._model_scores.items():
                self._retired_model_scores[label] = max(p, self._retired_model_scores.get(label, 0.0))
        self._recent_client_texts = (self._recent_client_texts + [(model_text, features)])[-MODEL_WINDOW:]
        return [t for t, _ in self._recent_client_texts], [r for _, r in self._recent_client_texts]

    def _apply_model_scores(self, step: Step) -> None:
        model, current = self.analyzer.model, step.model_scores
        self._model_scores = {label: max(p, self._retired_model_scores.get(label, 0.0))
                              for label, p in current.items()}
        for label, p in current.items():
            # a label the rules raised is shown with their words: the model's are not needed
            if (p >= model_threshold(model, label, has_rule=False) and label not in self._evidence
                    and label not in self._model_evidence):
                self._model_evidence[label] = self._model_evidence_of(step, label)

    def _model_evidence_of(self, step: Step, label: str) -> list[Evidence]:
        """What a counselor sees for a flag the model raised alone: the phrases of this
        message that weigh most for the label (redacted), else the message itself."""
        model, text, redaction = self.analyzer.model, step.text, step.redaction
        explain = getattr(model, "word_weights", None)
        weights = explain(redaction.text, label) if explain else {}
        phrases = model_phrases(text, weights, redaction.spans)
        if phrases:
            return [Evidence(step.index, start, end, redact_snippet(text, redaction, start, end),
                             model.name, "Woorden die het model het zwaarst weegt")
                    for start, end in phrases]
        snippet = redact_snippet(text, redaction, 0, min(len(text), MODEL_SNIPPET))
        snippet += "…" if len(text) > MODEL_SNIPPET else ""
        return [Evidence(step.index, 0, len(text), snippet, model.name, "Het model herkent dit bericht")]

    # --- text-free state, for a service that keeps conversations across restarts -------
    def to_state(self, max_evidence: int = 20) -> dict:
        """Everything that shapes later results, without any text: labels, scores, offsets,
        rule ids, model scores, concept names seen, hits waiting for a label, roles."""
        evidence = {}
        for label, items in self._evidence.items():
            top = sorted(items, key=lambda x: -x[0])[:max_evidence]
            evidence[label] = [[round(score, 4), e.message, e.start, e.end, e.source] for score, e in top]
        return {
            "v": STATE_VERSION,
            "n": len(self.roles),
            "roles": "".join("c" if r == "client" else "h" for r in self.roles),
            "evidence": evidence,
            "model_scores": {k: round(v, 4) for k, v in self._model_scores.items()},
            "model_evidence": {label: [[e.message, e.start, e.end, e.source] for e in items]
                               for label, items in self._model_evidence.items()},
            "seen": sorted(self._seen_concepts),
            "mentions": [m.code for m in self._mentions],
            "pending": _hit_rows(self._pending),
            "uncertain": _hit_rows(self._uncertain),
        }

    @classmethod
    def from_state(cls, analyzer: Analyzer, id: str | None, state: dict,
                   placeholder: str = "[niet bewaard]") -> Conversation:
        """The inverse of to_state; evidence snippets (shown live only) become `placeholder`."""
        conv = cls(analyzer, id)
        conv.roles = ["client" if r == "c" else "counselor" for r in state.get("roles", "")]
        conv._evidence = {
            label: [(score, Evidence(m, s, e, placeholder, src)) for score, m, s, e, src in items]
            for label, items in state.get("evidence", {}).items()}
        conv._model_scores = dict(state.get("model_scores", {}))
        # scores of messages no longer in memory live on as the retired running max
        conv._retired_model_scores = dict(conv._model_scores)
        conv._model_evidence = {
            label: [Evidence(m, s, e, placeholder, src)
                    for m, s, e, src in (items if isinstance(items[0], list) else [items])]  # v1: one
            for label, items in state.get("model_evidence", {}).items() if items}
        conv._seen_concepts = frozenset(state.get("seen", ()))
        conv._mentions = tuple(Mention.from_code(code) for code in state.get("mentions", ()))
        conv._pending = _hit_items(state.get("pending", []), placeholder)
        conv._uncertain = _hit_items(state.get("uncertain", []), placeholder)
        return conv

    def sources(self, label: str) -> list[str]:
        """Rule ids (and model name) behind a label's flag, for feedback records."""
        flag = self.result().flag(label)
        return sorted({e.source for e in flag.evidence}) if flag else []

    def _accept_pending(self) -> None:
        changed = True
        while changed and self._pending:
            labels = set(self._evidence)
            ready = [(h, e) for h, e in self._pending
                     if all(any(x in labels for x in slot) for slot in h.requires)]
            for h, e in ready:
                self._evidence.setdefault(h.label, []).append((h.score, e))
            self._pending = [p for p in self._pending if p not in ready]
            changed = bool(ready)

    def _client_hits(self, text: str, question: str | None) -> tuple[list[Hit], list[Hit], MessageAnalysis]:
        context = set(self._evidence)
        asked_age = bool(question and _AGE_QUESTION.search(question))
        own = self.analyzer.analyze_text(text, context, keep_bare_age=question is None or asked_age,
                                         seen=self._seen_concepts, antecedents=self._mentions)
        self._seen_concepts |= own.concepts
        hits, pending = list(own.hits), list(own.pending)
        if question and "?" in question and len(text) <= 160:
            more, waiting = self._inherited_hits(text, question, context | own.labels)
            hits.extend(more)
            pending.extend(waiting)
        self._mentions = own.mentions
        return hits, pending, own

    def _inherited_hits(self, answer: str, question: str,
                        context: set[str]) -> tuple[list[Hit], list[Hit]]:
        """A short client answer to a counselor question inherits its subject: analyse
        question + answer together and keep what the answer adds."""
        q = question.strip()
        sentences = re.split(r"(?<=[.!?])\s+", q)
        asked = next((s for s in reversed(sentences) if s.endswith("?")), sentences[-1])
        prefix = asked + " "
        combined = prefix + answer
        doc = self.analyzer.nlp(combined)
        cut = next((t.i for t in doc if t.idx >= len(prefix)), len(doc))
        if cut < len(doc):
            doc[cut].is_sent_start = False  # one sentence: question and answer belong together
        affirmative = bool(_AFFIRMATIVE.match(answer))
        inherited: list[Hit] = []
        hits, pending = self.analyzer.rule_hits(doc, context, seen=self._seen_concepts,
                                                touch_from=None if affirmative else cut,
                                                antecedents=self._mentions)
        waiting = set(map(id, pending))
        for h in hits + pending:
            if h.label in ("minor", "under_16"):
                continue  # ages come from the answer's own text
            if h.end_char <= len(prefix) and not affirmative:
                continue  # only in the question, and not confirmed
            h.start_char = max(0, h.start_char - len(prefix))
            h.end_char = max(h.start_char, h.end_char - len(prefix)) or len(answer)
            if h.end_char <= h.start_char:
                h.start_char, h.end_char = 0, len(answer)
            h.rule = h.rule + "+vraag"
            inherited.append(h)
        return ([h for h in inherited if id(h) not in waiting],
                [h for h in inherited if id(h) in waiting])

    def layer_scores(self) -> tuple[dict[str, float], dict[str, float]]:
        """(rule score, model probability) per label so far: what fusion combines."""
        rules = {label: max(s for s, _ in ev) for label, ev in self._evidence.items()}
        return rules, dict(self._model_scores)

    def result(self) -> Result:
        model = self.analyzer.model
        rule_scores, model_scores = self.layer_scores()
        fused = fuse(rule_scores, model_scores, model)
        flags = []
        for label, (score, raised_by) in fused.items():
            evidence = [e for _, e in sorted(self._evidence.get(label, []), key=lambda x: -x[0])]
            if raised_by == "model" and label in self._model_evidence:  # rules explain "both"
                evidence.extend(self._model_evidence[label])
            flags.append(Flag(label, score, _dedupe(evidence), raised_by))
        labels = {f.label for f in flags}
        triage = self.analyzer.policy.triage(labels)
        flags.sort(key=lambda f: (-f.score, f.label))
        vetoed = [Veto(label, p, sorted({e.source for _, e in self._evidence[label]}))
                  for label, p in sorted(vetoes(rule_scores, model_scores, model).items())]
        return Result(self.id, flags, triage.priority, triage.reason, triage.rule, vetoed)


def _uncertain_disclosure(hit: Hit) -> bool:
    """Set aside only because it was asked as a possibility ("stel dat", "voor een vriendin")."""
    return (hit.qualifiers.get("Presence") == "Uncertain"
            and hit.qualifiers.get("Mode", "Disclosure") == "Disclosure")


def _hit_rows(items: list[tuple[Hit, Evidence]]) -> list[list]:
    """Hits kept for later, text-free, for a stored conversation state."""
    return [[h.label, h.rule, round(h.score, 4), e.message, e.start, e.end,
             [list(slot) for slot in h.requires]] for h, e in items]


def _hit_items(rows: list[list], placeholder: str) -> list[tuple[Hit, Evidence]]:
    return [(Hit(label, rule, "", 0, 0, start, end, score, requires=tuple(map(tuple, requires))),
             Evidence(m, start, end, placeholder, rule))
            for label, rule, score, m, start, end, requires in rows]


def _dedupe(evidence: list[Evidence]) -> list[Evidence]:
    """Best first; a span that overlaps one already kept in the same message adds nothing."""
    kept: list[Evidence] = []
    for e in evidence:
        if not any(k.message == e.message and k.start < e.end and e.start < k.end for k in kept):
            kept.append(e)
    return kept[:5]


def _apply_requires(hits: list[Hit], context: set[str]) -> list[Hit]:
    """Split hits into those whose `requires` labels are flagged (in this message or the
    conversation) and those still waiting."""
    kept = [h for h in hits if not h.requires]
    pending = [h for h in hits if h.requires]
    changed = True
    while pending and changed:
        labels = context | {h.label for h in kept}
        ready = [h for h in pending if all(any(x in labels for x in slot) for slot in h.requires)]
        changed = bool(ready)
        kept.extend(ready)
        pending = [h for h in pending if h not in ready]
    return kept, pending


def model_phrases(text: str, weights: dict[str, float], redacted: Iterable[Any] = (),
                  n: int = MODEL_PHRASES, max_words: int = MODEL_PHRASE_WORDS) -> list[tuple[int, int]]:
    """Character spans of the (at most `n`) runs of up to `max_words` typed words with the
    largest summed weight (`weights` by lowercased word, from the model), not starting or
    ending on a Dutch stop word and not touching a redacted stretch: a readable "moet
    werken voor hem" rather than the words "voor" and "hem"."""
    def stop(word: str) -> bool:  # chat-speak too: "mn" is "mijn"
        return word in STOP_WORDS or normalize_word(word) in STOP_WORDS

    blocked = [(s.start, s.end) for s in redacted]
    tokens = [(start, end, word) for start, end, word in typed_words(text)
              if not any(s < end and start < e for s, e in blocked)]
    is_stop = [stop(word) for _, _, word in tokens]
    # a run holds adjacent words only: punctuation, or a redacted word, in between ends it
    joined = [not text[tokens[k][1]:tokens[k + 1][0]].strip() for k in range(len(tokens) - 1)]
    weight = [weights.get(word, 0.0) for _, _, word in tokens]
    candidates = []
    for i in range(len(tokens)):
        if is_stop[i]:
            continue
        total = 0.0
        for j in range(i, min(i + max_words, len(tokens))):
            if j > i and not joined[j - 1]:
                break
            total += weight[j]
            if not is_stop[j] and total > 0:
                candidates.append((total, i, j))
    chosen: list[tuple[int, int]] = []
    for _, i, j in sorted(candidates, reverse=True):
        if len(chosen) == n:
            break
        if all(j < a or i > b for a, b in chosen):
            chosen.append((i, j))
    return sorted((tokens[i][0], tokens[j][1]) for i, j in chosen)


def redact_snippet(text: str, redaction: Any, start: int, end: int) -> str:
    from signaal.signals.redact import redact_slice

    return redact_slice(text, redaction.spans, start, end)


def _default_redactor():
    from signaal.signals.redact import get_redactor

    return get_redactor()
