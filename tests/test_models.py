"""The classifier (scikit-learn contract), thresholds, conversation scoring, fusion, metrics."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from signaal.models.classifier import (
    RuleFeatures,
    SignaalClassifier,
    SignaalModel,
    fbeta_threshold,
    history_texts,
)
from signaal.models.metrics import mcnemar, paired_bootstrap, scores_with_intervals, to_matrix
from signaal.signals.fusion import fuse
from signaal.signals.labels import LABEL_IDS

from .test_artifacts import tiny_corpus


@pytest.fixture(scope="module")
def fitted():
    records = [r for r in tiny_corpus(240) if "text" in r]
    X = [r["text"] for r in records]
    Y = to_matrix([r["labels"] for r in records])
    return SignaalClassifier(random_state=5).fit(X, Y), X, Y


def test_rule_features_follow_the_sklearn_contract():
    rf = RuleFeatures(evidence=0)
    assert clone(rf).get_params() == {"labels": None, "evidence": 0}
    m = rf.fit(["x"]).transform(["mijn moeder regelt mannen voor mij", "hallo"])
    assert m.shape == (2, len(LABEL_IDS))
    row = m.toarray()[0]
    assert row[LABEL_IDS.index("parent_exploiter")] > 0
    assert m.toarray()[1].sum() == 0
    assert len(rf.get_feature_names_out()) == len(LABEL_IDS)


def test_rule_evidence_features_see_set_aside_hits_and_concepts():
    rf = RuleFeatures(evidence=1.0).fit(["x"])
    names = list(rf.get_feature_names_out())
    assert len(names) == len(set(names)) > 2 * len(LABEL_IDS)
    rows = rf.transform(["mijn moeder regelt mannen voor mij",
                         "mijn moeder regelt nooit mannen voor mij",
                         "hallo"]).toarray()
    disclosed, negated, hello = (dict(zip(names, row, strict=True)) for row in rows)
    # told: a rule score; negated: no score, but the set-aside hit and the concepts remain
    assert disclosed["rule__parent_exploiter"] > 0 and disclosed["set_aside__parent_exploiter"] == 0
    assert negated["rule__parent_exploiter"] == 0 and negated["set_aside__parent_exploiter"] > 0
    assert disclosed["concept__parent"] == negated["concept__parent"] == 1.0
    assert sum(hello.values()) == 0
    # a history takes each column's max over its messages
    joined = rf.transform(["hallo\nmijn moeder regelt mannen voor mij"]).toarray()[0]
    assert list(joined) == list(rows[0])


def test_classifier_contract_and_outputs(fitted):
    clf, X, Y = fitted
    assert clone(clf).get_params()["alpha"] == clf.alpha
    proba = clf.predict_proba(X[:10])
    assert proba.shape == (10, len(LABEL_IDS))
    assert ((proba >= 0) & (proba <= 1)).all()
    assert clf.predict(X[:10]).shape == (10, len(LABEL_IDS))
    assert ((clf.thresholds_ >= 0.05) & (clf.thresholds_ <= 0.95)).all()
    assert clf.oof_proba_.shape == Y.shape
    j = LABEL_IDS.index("parent_exploiter")
    assert clf.predict_proba(["mijn moeder regelt mannen voor mij"])[0, j] > 0.5


def test_pickled_state_holds_no_analyzer_and_no_training_scores(fitted):
    clf, _, _ = fitted
    clf = pickle.loads(pickle.dumps(clf)).strip_training_state()
    assert not hasattr(clf, "oof_proba_")
    blob = pickle.dumps(clf)
    assert b"Analyzer" not in blob and b"spacy" not in blob
    for _, part in clf.features_.transformer_list:
        assert not hasattr(part, "stop_words_")  # hash-ordered set: not reproducible


def test_fbeta_threshold_prefers_recall_and_middle_of_plateau():
    y = np.array([1, 1, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.1, 0.1])
    t, score = fbeta_threshold(y, p, beta=2)
    assert 0.2 < t <= 0.3 and score == 1.0
    separable = fbeta_threshold(np.array([1, 0]), np.array([0.99, 0.01]))[0]
    assert 0.4 < separable < 0.6  # the middle of the plateau, not its edge
    t_rules, _ = fbeta_threshold(y, p, beta=2, always=np.array([1, 1, 1, 0, 0, 0]))
    assert t_rules > 0.2  # rules already catch all: the model needs more confidence


def test_history_texts_joins_client_turns():
    assert history_texts([]) == []
    assert history_texts(["a"]) == ["a"]
    assert history_texts(["ik ben 15", " ", "b"]) == ["ik ben 15\nb", "b"]


def test_conversation_scoring_uses_the_history(fitted):
    clf, _, _ = fitted
    model = SignaalModel(clf, {"name": "t", "fusion": {"thresholds": dict.fromkeys(LABEL_IDS, 0.5)}})
    scores = model.score_conversation(["ik ben 16", "ik moet pakketjes met drugs rondbrengen"])
    last_only = model.score_conversation(["ik moet pakketjes met drugs rondbrengen"])
    assert scores["minor"] > last_only["minor"]
    assert scores["forced_crime"] >= last_only["forced_crime"] - 1e-9


class _M:
    thresholds = {"sextortion": 0.6, "loverboy": 0.5}
    rule_floor = {"loverboy": 0.1}


def test_fusion_says_who_raised_each_flag():
    fused = fuse({"sextortion": 0.9, "forced_crime": 0.8}, {"sextortion": 0.7, "forced_crime": 0.2,
                                                             "loverboy": 0.55}, _M())
    assert fused["sextortion"] == (0.9, "both")
    assert fused["forced_crime"] == (0.8, "rules")  # rule flag stands, no floor set
    assert fused["loverboy"] == (0.55, "model")
    assert "loverboy" not in fuse({"loverboy": 0.8}, {"loverboy": 0.05}, _M())  # under the floor
    assert fuse({"loverboy": 0.8}, {"loverboy": 0.2}, _M())["loverboy"] == (0.8, "rules")
    assert fuse({"under_16": 0.9}, {}, None)["minor"] == (0.9, "rules")
    assert fuse({"minor": 0.9}, {}, None) == {"minor": (0.9, "rules")}


def test_analyzer_with_model_marks_raised_by(analyzer, fitted):
    clf, _, _ = fitted
    model = SignaalModel(clf, {"name": "t", "fusion": {"thresholds": dict.fromkeys(LABEL_IDS, 0.5)}})
    analyzer.model = model
    try:
        result = analyzer.analyze("mijn moeder regelt mannen voor mij")
    finally:
        analyzer.model = None
    flag = result.flag("parent_exploiter")
    assert flag is not None and flag.raised_by in ("both", "model", "rules")
    assert all(f.raised_by in ("rules", "model", "both") for f in result.flags)


def test_word_weights_share_the_linear_score_over_the_typed_words(fitted):
    clf, _, _ = fitted
    text = "ik moet pakketjes met drugs rondbrengen, zegt hij."
    weights = clf.word_weights(text, "forced_crime")
    assert set(weights) == {"ik", "moet", "pakketjes", "met", "drugs", "rondbrengen", "zegt", "hij"}
    j = clf.labels_.index("forced_crime")
    # every n-gram column is shared out in full: the words' sum is the score without the
    # intercept and the rule columns
    rules_part = clf.features_.transformer_list[-1][1]
    n_rules = len(rules_part.columns_)
    row = clf._features([text]).tocsr()
    text_columns = row.indices < row.shape[1] - n_rules
    expected = float(row.data[text_columns] @ clf.coef_[j, row.indices[text_columns]])
    assert sum(weights.values()) == pytest.approx(expected, rel=1e-5)
    assert max(weights, key=weights.get) in ("pakketjes", "drugs", "rondbrengen")


def test_model_phrases_pick_the_heaviest_runs_without_stop_words_or_redacted_words():
    from types import SimpleNamespace

    from signaal.signals.pipeline import model_phrases

    text = "hij zegt dat ik weer moet werken in een hotel-kamer, bel Kevin."
    weights = {"werken": 2.0, "hotel-kamer": 1.0, "kevin": 5.0, "zegt": -1.0, "bel": 0.1}
    kevin = text.index("Kevin")
    name = [SimpleNamespace(start=kevin, end=kevin + 5)]
    spans = model_phrases(text, weights, name)
    # a run of up to four words may hold stop words ("in een") but not begin or end on one
    # ("moet"); punctuation ends a run; a redacted name is never shown, however heavy
    assert [text[s:e] for s, e in spans] == ["werken in een hotel-kamer", "bel"]
    assert model_phrases(text, weights, name, n=1) == spans[:1]
    assert [text[s:e] for s, e in model_phrases(text, weights, name, max_words=1)] == ["werken", "hotel-kamer"]
    assert model_phrases(text, {}) == [] and model_phrases("", weights) == []


class _StubModel:
    """The model interface the live pipeline uses, with fixed scores and word weights."""
    name = "stub"
    thresholds = dict.fromkeys(LABEL_IDS, 0.5)
    rule_floor: dict = {}

    def remember_rule_features(self, text, features):
        pass

    def score_conversation(self, client_texts):
        return {"loverboy": 0.9}

    def word_weights(self, text, label):
        return {"vriendje": 1.5, "ronselt": 1.0, "meisjes": 0.8}


def test_a_model_only_flag_shows_its_heaviest_phrases_redacted(analyzer):
    from signaal.signals.pipeline import Conversation

    analyzer.model = _StubModel()
    try:
        conv = analyzer.conversation("c1")
        text = "mijn vriendje Kevin ronselt meisjes, bel 0612345678"
        result = conv.add("client", text).result
        state = conv.to_state()
        again = Conversation.from_state(analyzer, "c1", state).result()
    finally:
        analyzer.model = None
    flag = result.flag("loverboy")
    assert flag.raised_by == "model"
    assert [text[e.start:e.end] for e in flag.evidence] == ["vriendje", "ronselt meisjes"]
    assert all(e.source == "stub" and "Kevin" not in e.text for e in flag.evidence)
    # the state keeps offsets and the source, never the words
    assert [(e.start, e.end) for e in again.flag("loverboy").evidence] == [(e.start, e.end) for e in flag.evidence]
    assert "vriendje" not in str(state) and "Kevin" not in str(state)


def test_conversation_state_of_version_1_with_one_model_evidence_still_loads(analyzer):
    from signaal.signals.pipeline import Conversation

    state = {"v": 1, "n": 1, "roles": "c", "evidence": {}, "model_scores": {"loverboy": 0.9},
             "model_evidence": {"loverboy": [0, 0, 12, "stub"]}, "seen": [], "pending": []}
    analyzer.model = _StubModel()
    try:
        flag = Conversation.from_state(analyzer, "c1", state).result().flag("loverboy")
    finally:
        analyzer.model = None
    assert [(e.message, e.start, e.end, e.source) for e in flag.evidence] == [(0, 0, 12, "stub")]


def test_bootstrap_intervals_contain_the_point_estimate():
    rng = np.random.default_rng(0)
    gold = rng.random((200, len(LABEL_IDS))) < 0.3
    pred = gold ^ (rng.random(gold.shape) < 0.1)
    s = scores_with_intervals(gold, pred, n_boot=200)
    for label in LABEL_IDS:
        row = s["labels"][label]
        assert row["f1_ci"][0] <= row["f1"] <= row["f1_ci"][1]
    assert s["macro"]["f1_ci"][0] <= s["macro"]["f1"] <= s["macro"]["f1_ci"][1]


def test_paired_tests_detect_a_clear_difference():
    rng = np.random.default_rng(1)
    gold = rng.random((300, len(LABEL_IDS))) < 0.3
    good = gold.copy()
    bad = gold & (rng.random(gold.shape) < 0.5)
    test = paired_bootstrap(gold, bad, good, n_boot=300)
    assert test["macro_f1"]["diff"] > 0 and test["macro_f1"]["p"] < 0.05
    assert mcnemar(gold, bad, good)["p"] < 0.05
    assert mcnemar(gold, good, good)["p"] == 1.0


def test_macro_f2_rewards_recall_that_macro_f1_prices_at_par():
    # B finds every positive and raises almost as many false flags: on F1 that is roughly
    # even with A (half the positives, none false), on the recall-weighted F2 it is better.
    rng = np.random.default_rng(2)
    gold = rng.random((400, len(LABEL_IDS))) < 0.2
    a = gold & (rng.random(gold.shape) < 0.55)
    b = gold | (~gold & (rng.random(gold.shape) < 0.18))
    test = paired_bootstrap(gold, a, b, n_boot=400)
    assert abs(test["macro_f1"]["diff"]) < 0.03
    assert test["macro_f2"]["diff"] > 0.2 and test["macro_f2"]["p"] < 0.05
    assert test["macro_f2"]["ci"][0] <= test["macro_f2"]["diff"] <= test["macro_f2"]["ci"][1]


def test_analyzer_load_uses_the_verified_default_model():
    import warnings

    from signaal.signals.pipeline import Analyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analyzer = Analyzer.load()
        rules_only = Analyzer.load("rules")
    assert analyzer.model is not None and analyzer.model.name == "default"
    assert rules_only.model is None
    result = analyzer.analyze("ik ben 14 en mijn stiefvader stuurt mij naar mannen voor geld")
    assert {"parent_exploiter", "minor", "under_16"} <= set(result.labels)
    assert result.priority == "urgent"


@pytest.mark.slow
def test_default_model_on_the_dev_set(dev_dir, analyzer):
    """Measured only (never trained or tuned on): the fused figures the card reports."""
    import json

    from signaal.models.registry import load_default_model
    from signaal.signals.evaluate import evaluate

    analyzer.model = load_default_model()
    try:
        for name, min_macro in (("messages", 0.88), ("conversations", 0.9)):
            records = [json.loads(line) for line in (dev_dir / f"{name}.jsonl").open()]
            results = [analyzer.analyze_record(r) for r in records]
            figures = evaluate([set(r["labels"]) for r in records], [set(x.labels) for x in results],
                               analyzer.policy, [x.priority for x in results])
            assert figures["triage"]["urgent_as_normal"] == 0, name
            assert figures["macro"]["f1"] >= min_macro, (name, figures["macro"]["f1"])
            for label in ("sexual_exploitation", "sextortion", "forced_crime", "acute_danger"):
                assert figures["labels"][label]["recall"] >= 0.95, (name, label)
    finally:
        analyzer.model = None


def test_model_vetoes_rules_only_outside_the_triage_policy():
    from signaal.models.train import NEVER_VETOED, RULE_VETO_FLOOR, choose_fusion, triage_labels
    from signaal.signals.policy import Policy

    policy = Policy.load()
    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, (60, len(LABEL_IDS)))
    fusion = choose_fusion(Y, rng.random(Y.shape), rng.random(Y.shape).round(), policy)
    vetoable = set(LABEL_IDS) - triage_labels(policy) - NEVER_VETOED
    assert fusion["rule_floor"] == dict.fromkeys(vetoable, RULE_VETO_FLOOR)
    assert {"loverboy", "siblings_at_risk", "reprisal_fear"} <= vetoable
    assert not {"acute_danger", "minor", "under_16", "ongoing", "sextortion"} & vetoable
    # a rule flag the model is nearly sure of being wrong goes; one it doubts stays
    model = type("M", (), {"thresholds": fusion["thresholds"], "rule_floor": fusion["rule_floor"]})()
    assert "loverboy" not in fuse({"loverboy": 0.8}, {"loverboy": RULE_VETO_FLOOR / 2}, model)
    assert "loverboy" in fuse({"loverboy": 0.8}, {"loverboy": RULE_VETO_FLOOR * 2}, model)
    assert "acute_danger" in fuse({"acute_danger": 0.8}, {"acute_danger": 0.0}, model)



def test_vetoed_rule_flags_are_listed_with_their_rules_for_the_audit(analyzer):
    from types import SimpleNamespace

    from signaal.signals.fusion import vetoes

    assert vetoes({"loverboy": 0.8, "minor": 0.9}, {"loverboy": 0.05, "minor": 0.01}, _M()) == {"loverboy": 0.05}
    assert vetoes({"loverboy": 0.8}, {"loverboy": 0.2}, _M()) == {}  # doubted, not vetoed
    assert vetoes({"loverboy": 0.8}, {}, None) == {}  # rules only: nothing to veto with
    conv = analyzer.conversation("c-v")
    conv.add("client", "mijn loverboy stuurt me naar mannen, ik ben 15")
    rules_only = conv.result()
    assert "loverboy" in rules_only.labels and rules_only.vetoed == []
    # the same chat as a model would see it that is nearly sure there is no loverboy
    conv.analyzer = SimpleNamespace(model=_M(), policy=analyzer.policy)
    conv._model_scores = {"loverboy": 0.02}
    result = conv.result()
    assert "loverboy" not in result.labels
    assert [(v.label, v.model_score) for v in result.vetoed] == [("loverboy", 0.02)]
    assert "loverboy.named" in result.to_dict()["vetoed"][0]["sources"]  # rule ids, never text
    assert all(s.startswith("loverboy.") for s in result.vetoed[0].sources)

def test_tune_fusion_picks_the_best_fused_f1_per_label_and_keeps_cv_for_rare_labels():
    from signaal.models.train import TUNE_MIN_POSITIVES, tune_fusion

    n = 40
    Y = np.zeros((n, len(LABEL_IDS)), dtype=int)
    rules = np.zeros_like(Y, dtype=float)
    probs = np.zeros_like(Y, dtype=float)
    se, ad, lb = (LABEL_IDS.index(x) for x in ("sexual_exploitation", "acute_danger", "loverboy"))
    # sexual_exploitation: rules catch 10 of 20; the model adds the other 10 at p=0.8 and
    # is wrong at p=0.6 on 10 negatives -> 0.65 .. 0.8 all best; ties keep the highest
    Y[:20, se] = 1
    rules[:10, se] = 0.9
    probs[10:20, se] = 0.8
    probs[20:30, se] = 0.6
    # acute_danger: the misses sit at 0.35, below the 0.5 floor of model-only flags
    Y[:10, ad] = 1
    probs[:10, ad] = 0.35
    # loverboy: too few positives to tune
    Y[:TUNE_MIN_POSITIVES - 1, lb] = 1
    fusion = {"thresholds": {label: 0.5 for label in LABEL_IDS}, "rule_floor": {}, "beta": {}}
    tuned = tune_fusion(fusion, Y, rules, probs)
    assert tuned["thresholds"]["sexual_exploitation"] == 0.8
    assert tuned["thresholds"]["acute_danger"] >= 0.5  # never below the model-only floor
    assert tuned["thresholds"]["loverboy"] == 0.5 and "loverboy" not in tuned["tuned_labels"]
    assert tuned["cv_thresholds"] == fusion["thresholds"]
