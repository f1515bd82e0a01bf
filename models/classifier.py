"""The learned layer: a scikit-learn multi-label classifier over Dutch chat text.

Features (one ``FeatureUnion``):
  * word 1-2-gram TF-IDF (sublinear tf) — what is said;
  * char_wb 2-5-gram TF-IDF — robust to chat spelling, typos, Flemish and slang;
  * ``RuleFeatures`` — the rule layer's reading (``Analyzer.rule_features``): its max score
    per label, hits its qualifiers set aside, and the concepts it found, so the model learns
    where the rules are right and where they miss, and generalises over the concepts'
    phrasings.
Model: one logistic regression per label (one-vs-rest, log-loss SGD), Platt-calibrated on
out-of-fold decision values (3-fold CV on the training texts); per-label thresholds are
chosen on the same out-of-fold probabilities for F2 (recall counts twice as much as
precision: a missed signal costs more than a counselor reading one extra flag).

The vectorisers are unsupervised, so they are fitted once on all training texts before
the CV (no label leakage); the linear models and calibrators are fitted per fold.

The estimator follows scikit-learn's contract (hyper-parameters in ``__init__``, learned
state ending in ``_``, fit/predict/predict_proba/decision_function). The rule layer's
``Analyzer`` is a module-level lazy singleton, never part of the pickled state, so an
artifact holds only numbers and vocabularies.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import FeatureUnion

from signaal.signals.labels import LABEL_IDS
from signaal.signals.normalize import typed_words

HISTORY_SEPARATOR = "\n"

# --- rule layer as features -------------------------------------------------------------
_ANALYZER = None
_ANALYZER_LOCK = threading.Lock()
# sha1(text) -> rule features, only inside `caching_rule_features()` (a training run, where
# every text is scored several times); never on during serving, where texts do not repeat
# and a cache would only grow. In memory only, keyed by hash, never text.
_RULE_CACHE: dict[tuple, dict[str, float]] | None = None


class _NoRedaction:
    """rule_features never redacts; avoid loading the redactor's lexicons for features."""

    def redact(self, text):  # pragma: no cover - never called for rule features
        raise RuntimeError("the feature analyzer does not redact")


def feature_analyzer():
    """The Analyzer whose rule scores are model features (built once per process)."""
    global _ANALYZER
    if _ANALYZER is None:
        with _ANALYZER_LOCK:
            if _ANALYZER is None:
                from signaal.signals.language import FallbackWarning
                from signaal.signals.pipeline import Analyzer

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FallbackWarning)
                    _ANALYZER = Analyzer(redactor=_NoRedaction())
    return _ANALYZER


def share_feature_analyzer(analyzer) -> None:
    """Use an already built Analyzer for rule features when none is built yet (same rules;
    saves a second spaCy pipeline). Only ``rule_features`` is called on it."""
    global _ANALYZER
    with _ANALYZER_LOCK:
        if _ANALYZER is None:
            _ANALYZER = analyzer


@contextmanager
def caching_rule_features():
    """Cache rule scores by text hash for the duration of a training run."""
    global _RULE_CACHE
    outer = _RULE_CACHE
    _RULE_CACHE = {} if outer is None else outer
    try:
        yield
    finally:
        _RULE_CACHE = outer


class _HashLRU:
    """A bounded, thread-safe cache keyed by a hash of a text (never the text itself)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str, salt: object = b"") -> tuple:
        return (salt, hashlib.sha1(text.encode("utf-8")).digest())

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


_LIVE_RULES = _HashLRU()  # outside training: rule features of recent messages


def _message_features(text: str) -> dict[str, float]:
    """The rule layer's features of one message (``Analyzer.rule_features``), cached by a
    hash of its text (never the text): in a training run a plain dict, live a small LRU
    that the pipeline fills with what it computed already (with the conversation's context)."""
    key = _HashLRU.key(text)
    if _RULE_CACHE is not None:  # a training run: one thread
        features = _RULE_CACHE.get(key)
        if features is None:
            features = _RULE_CACHE[key] = feature_analyzer().rule_features(text)
        return features
    features = _LIVE_RULES.get(key)
    return features if features is not None else _LIVE_RULES.put(key, feature_analyzer().rule_features(text))


def remember_rule_features(text: str, features: dict[str, float]) -> None:
    """Put a message's rule features, already computed by the live pipeline, into the live
    cache, so the model does not run the rules again."""
    _LIVE_RULES.put(_HashLRU.key(text), dict(features))


def rule_score_matrix(texts: Sequence[str], columns: Sequence[str]) -> np.ndarray:
    """(n, len(columns)) rule features (``signals.pipeline.rule_features`` keys: label ids
    for the rules' scores, "~label", "@concept"). A conversation history (messages joined
    by HISTORY_SEPARATOR) takes the max over its messages: each message's rules run once,
    however often it is part of a growing history, in training and live alike."""
    out = np.zeros((len(texts), len(columns)), dtype=np.float64)
    index = {column: j for j, column in enumerate(columns)}
    for i, text in enumerate(texts):
        parts = [p for p in text.split(HISTORY_SEPARATOR) if p.strip()] or [text]
        for part in parts:
            for key, value in _message_features(part).items():
                j = index.get(key)
                if j is not None and value > out[i, j]:
                    out[i, j] = value
    return out


# Weight of the rule layer's evidence columns (set-aside hits, concepts) beside its label
# scores: chosen on the selection sets (docs/MODELS.md); at 1.0 the concepts outvoted the
# n-grams and the rules' qualifiers and the model raised more look-alikes.
EVIDENCE_WEIGHT = 0.15


class RuleFeatures(TransformerMixin, BaseEstimator):
    """The rule layer as dense features (scikit-learn transformer): the max rule score per
    label and, weighted by ``evidence`` (0: left out), per label the best hit the
    qualifiers set aside and one 0/1 column per concept of the rule layer's lexicon (fixed
    at fit time)."""

    def __init__(self, labels: Sequence[str] | None = None, evidence: float = EVIDENCE_WEIGHT):
        self.labels = labels
        self.evidence = evidence

    def fit(self, X: Iterable[str], y=None) -> RuleFeatures:
        self.labels_ = tuple(self.labels or LABEL_IDS)
        from signaal.signals.pipeline import CONCEPT_KEY, SET_ASIDE_KEY

        columns = list(self.labels_)
        if self.evidence:
            columns += [SET_ASIDE_KEY + label for label in self.labels_]
            columns += [CONCEPT_KEY + name for name in feature_analyzer().concepts.names]
        self.columns_ = tuple(columns)
        return self

    def _columns(self) -> tuple[str, ...]:
        return getattr(self, "columns_", None) or self.labels_  # models from before evidence

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        matrix = rule_score_matrix(list(X), self._columns())
        matrix[:, len(self.labels_):] *= getattr(self, "evidence", 0.0)
        return sp.csr_matrix(matrix)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        from signaal.signals.pipeline import CONCEPT_KEY, SET_ASIDE_KEY

        def name(column: str) -> str:
            for key, prefix in ((SET_ASIDE_KEY, "set_aside__"), (CONCEPT_KEY, "concept__")):
                if column.startswith(key):
                    return prefix + column[len(key):]
            return "rule__" + column

        return np.array([name(c) for c in self._columns()], dtype=object)


# --- thresholds -------------------------------------------------------------------------
def fbeta_threshold(
    y: np.ndarray,
    proba: np.ndarray,
    beta: float = 2.0,
    floor: float = 0.05,
    ceiling: float = 0.95,
    always: np.ndarray | None = None,
) -> tuple[float, float]:
    """Threshold on ``proba`` that maximises F-beta of ``always | proba >= t``.

    ``always`` marks items already flagged by something else (the rules, for fusion).
    Ties (a plateau of equally good thresholds, common on clean synthetic data) are
    broken by the middle of the plateau, which keeps the most margin on both sides.
    Returns (threshold, best F-beta).
    """
    y = np.asarray(y).astype(bool)
    always = np.zeros_like(y) if always is None else np.asarray(always).astype(bool)
    grid = np.round(np.arange(floor, ceiling + 1e-9, 0.01), 2)
    b2 = beta * beta
    scores = []
    for t in grid:
        pred = always | (proba >= t)
        tp = np.sum(pred & y)
        fp = np.sum(pred & ~y)
        fn = np.sum(~pred & y)
        denom = (1 + b2) * tp + b2 * fn + fp
        scores.append((1 + b2) * tp / denom if denom else 0.0)
    scores = np.array(scores)
    best = scores.max()
    plateau = grid[np.isclose(scores, best, atol=1e-9)]
    return float(plateau[len(plateau) // 2]), float(best)


def _platt(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a*d + b) fitted on out-of-fold decision values."""
    if y.min() == y.max():  # one class only: a constant, honest probability
        p = (y.sum() + 0.5) / (len(y) + 1.0)
        return 0.0, float(np.log(p / (1 - p)))
    lr = LogisticRegression(C=1e4, solver="lbfgs")
    lr.fit(decision.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


# --- the classifier ---------------------------------------------------------------------
class SignaalClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label classifier: TF-IDF word + char n-grams + rule features -> calibrated
    one-vs-rest logistic regression with CV-chosen F-beta thresholds.

    ``fit(X, Y)``: X a list of texts, Y an (n, n_labels) 0/1 matrix in ``labels`` order.
    After fit, ``oof_proba_`` holds the out-of-fold calibrated probabilities (used by the
    trainer for fusion and the model card; removed before saving).
    """

    def __init__(
        self,
        labels: Sequence[str] | None = None,
        word_ngrams: tuple = (1, 2),
        char_ngrams: tuple = (2, 5),
        min_df: int = 2,
        max_word_features: int = 30_000,
        max_char_features: int = 60_000,
        rule_features: bool = True,
        rule_weight: float = 1.0,
        rule_evidence: float = EVIDENCE_WEIGHT,
        alpha: float = 1e-5,
        class_weight: str | None = "balanced",
        cv: int = 3,
        beta: float = 2.0,
        random_state: int = 13,
    ):
        self.labels = labels
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.rule_features = rule_features
        self.rule_weight = rule_weight
        self.rule_evidence = rule_evidence
        self.alpha = alpha
        self.class_weight = class_weight
        self.cv = cv
        self.beta = beta
        self.random_state = random_state

    # features
    def _make_features(self) -> FeatureUnion:
        parts = [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=tuple(self.word_ngrams),
                    min_df=self.min_df,
                    max_features=self.max_word_features,
                    sublinear_tf=True,
                    lowercase=True,
                    dtype=np.float32,
                    token_pattern=r"(?u)\b\w+\b",
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=tuple(self.char_ngrams),
                    min_df=self.min_df,
                    max_features=self.max_char_features,
                    sublinear_tf=True,
                    lowercase=True,
                    dtype=np.float32,
                ),
            ),
        ]
        weights = {"word": 1.0, "char": 1.0}
        if self.rule_features:
            parts.append(("rules", RuleFeatures(self.labels_, evidence=self.rule_evidence)))
            weights["rules"] = self.rule_weight
        return FeatureUnion(parts, transformer_weights=weights)

    def _linear(self) -> SGDClassifier:
        # log-loss SGD = logistic regression fitted by SGD: ~20x faster than liblinear on
        # these sparse features at the same average precision (benchmarks/bench_train.py)
        return SGDClassifier(
            loss="log_loss",
            alpha=self.alpha,
            class_weight=self.class_weight,
            max_iter=30,
            tol=1e-4,
            random_state=self.random_state,
        )

    def _fit_linear(self, F, y: np.ndarray):
        if y.min() == y.max():
            return float(y[0])  # constant label in this data: no model, a constant score
        with warnings.catch_warnings():  # a fixed epoch budget is part of the speed design;
            warnings.simplefilter("ignore", ConvergenceWarning)  # calibration follows anyway
            return self._linear().fit(F, y)

    @staticmethod
    def _decide(model, F) -> np.ndarray:
        if isinstance(model, float):
            return np.full(F.shape[0], 10.0 if model else -10.0)
        return model.decision_function(F)

    def fit(self, X: Sequence[str], Y, groups: Sequence | None = None) -> SignaalClassifier:
        """``groups`` (optional): items of one group stay in one CV fold (e.g. the template
        family of a generated text), so out-of-fold scores measure generalisation to
        unseen phrasings rather than to unseen fillers of a known template."""
        X = list(X)
        Y = np.asarray(Y).astype(np.int8)
        self.labels_ = tuple(self.labels or LABEL_IDS)
        if Y.shape != (len(X), len(self.labels_)):
            raise ValueError(f"Y has shape {Y.shape}, expected {(len(X), len(self.labels_))}")
        self.features_ = self._make_features().fit(X)
        for _, part in self.features_.transformer_list:  # sets of pruned terms: big and
            if hasattr(part, "stop_words_"):  # hash-ordered (not reproducible); not needed
                del part.stop_words_
        F = self.features_.transform(X).tocsr()
        n, L = Y.shape
        oof = np.zeros((n, L))
        if groups is not None and len(set(groups)) >= self.cv > 1:
            folds = GroupKFold(self.cv, shuffle=True, random_state=self.random_state)
            splits = list(folds.split(F, groups=list(groups)))
        elif self.cv > 1 and n >= self.cv * 2:
            splits = list(KFold(self.cv, shuffle=True, random_state=self.random_state).split(F))
        else:
            splits = []
        if splits:
            for train, test in splits:
                F_train, F_test = F[train], F[test]  # sliced once per fold, not per label
                for j in range(L):
                    oof[test, j] = self._decide(self._fit_linear(F_train, Y[train, j]), F_test)
        else:
            for j in range(L):
                oof[:, j] = self._decide(self._fit_linear(F, Y[:, j]), F)
        self.calibration_ = np.array([_platt(oof[:, j], Y[:, j]) for j in range(L)])
        self.oof_proba_ = _sigmoid(oof * self.calibration_[:, 0] + self.calibration_[:, 1])
        self.thresholds_ = np.array(
            [fbeta_threshold(Y[:, j], self.oof_proba_[:, j], self.beta)[0] for j in range(L)]
        )
        # the final one-vs-rest models, stacked into one (labels x features) float32 matrix:
        # one sparse product scores all labels (fast per message, half the artifact size)
        finals = [self._fit_linear(F, Y[:, j]) for j in range(L)]
        self.coef_ = np.zeros((L, F.shape[1]), dtype=np.float32)
        self.intercept_ = np.zeros(L)
        for j, model in enumerate(finals):
            if isinstance(model, float):  # constant label: a constant, decisive score
                self.intercept_[j] = 10.0 if model else -10.0
            else:
                self.coef_[j] = model.coef_[0]
                self.intercept_[j] = model.intercept_[0]
        self.classes_ = np.arange(L)
        return self

    def _features(self, X: Sequence[str]) -> sp.csr_matrix:
        """FeatureUnion.transform without its parallel machinery (per-message latency). A
        history's TF-IDF comes from the n-gram counts of its messages, each counted once
        (cached by hash), so a growing chat costs the same per turn: identical numbers for
        character n-grams (they stay inside words); only word pairs that span two messages
        are not counted."""
        weights = self.features_.transformer_weights or {}
        parts = []
        for name, t in self.features_.transformer_list:
            matrix = _history_tfidf(t, X) if isinstance(t, TfidfVectorizer) else t.transform(X)
            weight = weights.get(name, 1.0)
            parts.append(matrix if weight == 1.0 else matrix * weight)
        return sp.hstack(parts, format="csr")

    def decision_function(self, X: Sequence[str]) -> np.ndarray:
        # our own feature matrices need no input validation: skipping it is most of the
        # per-message cost of a live call (scikit-learn's config, scoped to this call)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            F = self._features(list(X))
        # F @ W with W (features x labels) contiguous: a sparse row times a dense matrix
        return np.asarray(F @ self._coef_by_feature()) + self.intercept_

    def _coef_by_feature(self) -> np.ndarray:
        cached = self.__dict__.get("_coef_t")
        if cached is None or cached.shape[0] != self.coef_.shape[1]:
            # float64 like the features: a float32 W would be converted on every call
            cached = self.__dict__["_coef_t"] = np.ascontiguousarray(self.coef_.T, dtype=np.float64)
        return cached

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """(n, n_labels) calibrated probability per label (independent, not summing to 1)."""
        d = self.decision_function(X)
        return _sigmoid(d * self.calibration_[:, 0] + self.calibration_[:, 1])

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int8)

    def word_weights(self, text: str, label: str) -> dict[str, float]:
        """How much each word of `text` pushes the linear model towards `label`: weight times
        TF-IDF value of every word n-gram and character n-gram, shared out over the words it
        covers (a word pair half to each; a character n-gram over the words holding it).
        Keys are lowercased words as typed; the rule columns are left out (their words are
        the rule layer's own evidence). For showing why the model alone raised a flag."""
        j = self.labels_.index(label)
        weights: dict[str, float] = dict.fromkeys([word for _, _, word in typed_words(text)], 0.0)
        factors = self.features_.transformer_weights or {}
        offset = 0
        for name, part in self.features_.transformer_list:
            if not isinstance(part, TfidfVectorizer):
                offset += len(part.columns_)
                continue
            row = _history_tfidf(part, [text]).tocsr()
            terms = self._terms(name, part)
            pushes = row.data * factors.get(name, 1.0) * self.coef_[j, offset + row.indices]
            holders_of: dict[str, list[str]] = {}  # char n-gram -> the words that hold it
            if name != "word":
                ngrams = part.build_analyzer()  # the vectoriser's own char_wb n-grams
                for word in weights:
                    for gram in set(ngrams(word)):
                        holders_of.setdefault(gram, []).append(word)
            for column, push in zip(row.indices.tolist(), pushes.tolist(), strict=True):
                term = terms[column]
                holders = term.split() if name == "word" else holders_of.get(term, ())
                for word in holders:
                    if word in weights:
                        weights[word] += push / len(holders)
            offset += len(part.vocabulary_)
        return weights

    def _terms(self, name: str, vectorizer: TfidfVectorizer) -> np.ndarray:
        """Column -> term of one vectoriser, by inverting its vocabulary once (a run-time
        cache like _coef_t: get_feature_names_out takes seconds)."""
        cache = self.__dict__.setdefault("_terms_by_part", {})
        if name not in cache:
            terms = np.empty(len(vectorizer.vocabulary_), dtype=object)
            for term, column in vectorizer.vocabulary_.items():
                terms[column] = term
            cache[name] = terms
        return cache[name]

    def strip_training_state(self) -> SignaalClassifier:
        """Drop what must not be saved: out-of-fold scores of training items and run-time
        caches (called again right before every save)."""
        if hasattr(self, "oof_proba_"):
            del self.oof_proba_
        self.__dict__.pop("_coef_t", None)  # a run-time copy of coef_.T
        self.__dict__.pop("_terms_by_part", None)  # run-time term tables (word_weights)
        for _, part in getattr(self, "features_", FeatureUnion([])).transformer_list:
            if hasattr(part, "_stop_words_id"):  # id() of a list, set again by every
                del part._stop_words_id  # transform: a memory address, not reproducible
        return self


_MESSAGE_COUNTS = _HashLRU()  # n-gram counts of recent messages, per vectorizer


def _message_counts(vectorizer: TfidfVectorizer, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw n-gram counts of one message (CountVectorizer.transform) as (columns, counts),
    cached by a hash of the text."""
    key = _HashLRU.key(text, id(vectorizer))
    counts = _MESSAGE_COUNTS.get(key)
    if counts is None:
        row = CountVectorizer.transform(vectorizer, [text])
        counts = _MESSAGE_COUNTS.put(key, (row.indices.astype(np.int64), row.data.astype(np.float64)))
    return counts


def _history_tfidf(vectorizer: TfidfVectorizer, X: Sequence[str]) -> sp.csr_matrix:
    """vectorizer.transform(X) with each text's counts summed over its messages.

    Plain numpy on each row's few hundred non-zeros: scipy's sparse addition and
    element-wise products cost far more in checks than in arithmetic at this size."""
    if vectorizer.norm not in ("l2", None):
        return vectorizer.transform(X)
    indptr, columns, values = [0], [], []
    for text in X:
        messages = [m for m in text.split(HISTORY_SEPARATOR) if m.strip()] or [text]
        counts = [_message_counts(vectorizer, m) for m in messages]
        cols, where = np.unique(np.concatenate([c for c, _ in counts]), return_inverse=True)
        tf = np.bincount(where, weights=np.concatenate([n for _, n in counts]), minlength=len(cols))
        if vectorizer.sublinear_tf:
            tf = np.log(tf) + 1
        if vectorizer.use_idf:
            tf = tf * vectorizer.idf_[cols]
        if vectorizer.norm == "l2":
            norm = np.sqrt(np.dot(tf, tf))
            tf = tf / norm if norm else tf
        columns.append(cols)
        values.append(tf)
        indptr.append(indptr[-1] + len(cols))
    shape = (len(X), len(vectorizer.vocabulary_))
    return sp.csr_matrix((np.concatenate(values), np.concatenate(columns), np.array(indptr)),
                         shape=shape, dtype=vectorizer.dtype)


def history_texts(client_texts: Sequence[str]) -> list[str]:
    """What a conversation (window) is scored on: the joined client texts and the last one."""
    texts = [t for t in client_texts if t and t.strip()]
    if not texts:
        return []
    joined = HISTORY_SEPARATOR.join(texts)
    return [joined] if len(texts) == 1 else [joined, texts[-1]]


# --- the loaded model, as the Analyzer uses it --------------------------------------------
class SignaalModel:
    """A trained classifier plus its verified manifest: what ``Analyzer(model=...)`` uses.

    ``thresholds`` are the fusion thresholds (the probability at which the model alone
    raises a flag, see signals/fusion.py); they come from the manifest, readable JSON.
    """

    def __init__(self, estimator: SignaalClassifier, manifest: dict, path: str | None = None):
        self.estimator = estimator
        self.manifest = manifest
        self.path = path
        self.name = manifest.get("name", "model")
        fusion = manifest.get("fusion", {})
        self.thresholds: dict[str, float] = dict(
            fusion.get("thresholds") or manifest.get("thresholds", {})
        )
        self.rule_floor: dict[str, float] = dict(fusion.get("rule_floor", {}))
        self.labels: tuple[str, ...] = tuple(estimator.labels_)

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        return (
            self.estimator.predict_proba(list(texts)) if texts else np.zeros((0, len(self.labels)))
        )

    def remember_rule_features(self, text: str, features: dict[str, float]) -> None:
        """The live pipeline's rule features for a message: used instead of running the rules."""
        remember_rule_features(text, features)

    def word_weights(self, text: str, label: str) -> dict[str, float]:
        """Per typed word, its push towards `label` (see SignaalClassifier.word_weights)."""
        return self.estimator.word_weights(text, label)

    def score_conversation(self, client_texts: Sequence[str]) -> dict[str, float]:
        """Probability per label for the given client messages (the pipeline passes a window
        of the most recent ones and keeps a running max): the max over the joined texts
        (disclosures spread over turns: age early, exploitation late) and the last message
        on its own (a disclosure not diluted by a long history)."""
        texts = history_texts(client_texts)
        if not texts:
            return {}
        proba = self.score_texts(texts).max(axis=0)
        return {label: float(p) for label, p in zip(self.labels, proba, strict=True)}

    def __repr__(self) -> str:
        return f"SignaalModel(name={self.name!r}, path={self.path!r})"
