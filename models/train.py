"""Training run: data -> classifier (3-fold CV inside) -> fusion thresholds -> figures ->
model card -> verified artifact folder.

Training examples: every labelled message, and every labelled conversation as its
joined client history (what ``SignaalModel.score_conversation`` scores); counselor turns
never carry labels and are left out.

Fusion (see signals/fusion.py) is chosen here, on the out-of-fold probabilities of the
training corpus, never on evaluation data: per label the threshold at which the model
alone raises a flag maximises F1 of "rules OR model" (``FUSION_BETA``). Rule floors (the
model vetoing a rule flag) are a fixed ``RULE_VETO_FLOOR``: the model drops a rule's flag only
when it is at least 90% sure the label is absent, and only on labels outside the triage policy
(a veto never lowers a suggested priority) other than ``NEVER_VETOED``. Not chosen by
cross-validation: on the near-separable synthetic folds any floor looks good (the CV search
chose 0.1-0.3); docs/MODELS.md has the figures on hand-written text.

Why F1 for fusion while the model's own thresholds are F2: the recall weighting is already
in the model thresholds and in rule flags, which stand unless the model is nearly sure; a
flag the model adds on its own should be more likely right than wrong. With beta 2 for the
fused decision (the first design) the thresholds sank to 0.05-0.2 on the near-separable
synthetic folds and the model added false positives on realistic text. (That choice among four CV-defined fusion rules —
F2/F1, F1, marginal precision 0.85 or 0.95 — was made after comparing them on the dev set;
all thresholds themselves come from cross-validation only. docs/MODELS.md has the figures.)
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import signaal
from signaal.models.artifacts import data_fingerprint, save_artifact
from signaal.models.classifier import (
    SignaalClassifier,
    SignaalModel,
    feature_analyzer,
    history_texts,
    rule_score_matrix,
)
from signaal.models.metrics import scores_with_intervals, to_matrix
from signaal.signals.labels import LABEL_IDS, label_set_version
from signaal.signals.policy import Policy

ROOT = Path(signaal.__file__).parent
FUSION_BETA = 1.0
# The model vetoes a rule flag below this probability (module doc). multiple_perpetrators is
# never vetoed: who counts as a perpetrator (not the clients) is where the synthetic corpus'
# convention and hand-written text differ most, and the model's low scores there are not
# evidence of absence (on dev a veto cut its recall from 0.81 to 0.65).
RULE_VETO_FLOOR = 0.1
NEVER_VETOED = frozenset({"multiple_perpetrators"})
# fusion thresholds tried on tuning data; 1.01: the model never raises the label alone
TUNE_GRID = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01)
TUNE_MIN_POSITIVES = 8
LENGTH_BUCKETS = (
    (0, 80, "short (<80 chars)"),
    (80, 250, "medium (80-249)"),
    (250, 10**9, "long (250+)"),
)

Progress = Callable[[str, float], None]  # (stage description, fraction done 0..1)


@dataclass
class TrainConfig:
    out: Path
    data: list[Path] = field(default_factory=list)
    seed: int = 13
    n_messages: int = 20_000
    n_conversations: int = 2_000
    name: str | None = None
    reproducible: bool = False
    eval_paths: list[Path] = field(default_factory=list)
    tune_paths: list[Path] = field(default_factory=list)  # hand-labelled: fusion thresholds
    with_generated: bool = False  # with `data`: the synthetic corpus as well
    data_repeat: int = 1  # each record of `data` counts this often (weight vs. the corpus)
    key: bytes | None = None
    params: dict = field(default_factory=dict)  # SignaalClassifier hyper-parameters


@dataclass
class TrainResult:
    model: SignaalModel
    manifest: dict
    report: dict
    seconds: dict


# --- data ---------------------------------------------------------------------------------
def load_records(paths: list[Path]) -> tuple[list[dict], list[dict]]:
    """Trainers' JSONL files, schema-validated by training.dataset; (records, sources)."""
    records, sources = [], []
    for path in paths:
        recs = _read_labelled(Path(path))
        records.extend(recs)
        # the file's hash identifies it; its name is not recorded (names can identify people)
        sources.append({"sha256": _file_sha(Path(path)), "records": len(recs)})
    return records, sources


def _read_labelled(path: Path) -> list[dict]:
    try:
        from signaal.training.dataset import load_jsonl_dataset
    except ImportError:  # the dataset loader not installed: plain JSONL reading
        from signaal.signals.io import LineError, read_jsonl

        records = []
        for _, record in read_jsonl(path):
            if isinstance(record, LineError):
                raise ValueError(str(record)) from None
            records.append(record)
        return records
    records, _report = load_jsonl_dataset(path)
    return list(records)


def generated_records(
    seed: int, n_messages: int, n_conversations: int
) -> tuple[list[dict], list[dict]]:
    from signaal.training.generate import CorpusConfig, generate_corpus

    msgs, convs = generate_corpus(
        CorpusConfig(n_messages=n_messages, n_conversations=n_conversations, seed=seed)
    )
    source = {
        "generator": "signaal.training.generate",
        "seed": seed,
        "n_messages": len(msgs),
        "n_conversations": len(convs),
    }
    return list(msgs) + list(convs), [source]


_IDENTIFIER_LIKE = re.compile(r"\d{6,}|@|\b[a-z]{2}\d{2}[a-z]{4}\d{6,}")


def refuse_identifying_vocabulary(estimator) -> None:
    """Last check before saving: no vocabulary term may look like a phone number, account,
    e-mail or handle (the text was redacted; this catches what redaction missed)."""
    for _, part in estimator.features_.transformer_list:
        vocabulary = getattr(part, "vocabulary_", None) or {}
        bad = sum(1 for term in vocabulary if _IDENTIFIER_LIKE.search(term))
        if bad:
            raise ValueError(f"{bad} vocabulary term(s) look like identifiers; refusing to save the model")


def redact_for_model(text: str) -> str:
    """Text as the model sees it, in training and live: identifiers become placeholders."""
    from signaal.signals.redact import get_redactor

    return get_redactor().redact(text).text


def client_text(record: dict) -> str:
    """The text the model sees for a record (a conversation: its joined client history)."""
    if "messages" in record:
        texts = [
            m.get("text", "") for m in record["messages"] if m.get("role", "client") == "client"
        ]
        joined = history_texts(texts)
        return joined[0] if joined else ""
    return record.get("text", "")


def cv_groups(records: list[dict]) -> list[str] | None:
    """CV groups: a generated message's core template family (its first part), so a
    family's paraphrases never sit on both sides of a fold; conversations and records
    without a family are their own group. None (plain K-fold) when no record has one."""
    if not any(r.get("family") or r.get("group") for r in records):
        return None
    return [r["group"] if r.get("group")
            else str(r["family"]).split("+")[0] if r.get("family") and "messages" not in r
            else f"record:{i}" for i, r in enumerate(records)]


def age_group(labels: set[str]) -> str:
    if "under_16" in labels:
        return "15 or younger"
    if "minor" in labels:
        return "16-17"
    return "adult or not stated"


def length_bucket(n: int) -> str:
    return next(name for lo, hi, name in LENGTH_BUCKETS if lo <= n < hi)


# --- fusion selection -------------------------------------------------------------------
def triage_labels(policy: Policy) -> set[str]:
    return {label for rule in policy.rules for label in rule.all + rule.any}


def _fbeta(y, pred, beta):
    tp = np.sum(pred & y)
    fp = np.sum(pred & ~y)
    fn = np.sum(~pred & y)
    b2 = beta * beta
    d = (1 + b2) * tp + b2 * fn + fp
    return (1 + b2) * tp / d if d else 0.0


def choose_fusion(
    Y: np.ndarray, oof: np.ndarray, rules: np.ndarray, policy: Policy, labels=LABEL_IDS
) -> dict:
    """Fusion thresholds from cross-validated scores, and the fixed rule floors (module doc)."""
    from signaal.models.classifier import fbeta_threshold

    key = triage_labels(policy)
    thresholds, betas = {}, {}
    for j, label in enumerate(labels):
        betas[label] = FUSION_BETA
        thresholds[label], _ = fbeta_threshold(
            Y[:, j].astype(bool), oof[:, j], FUSION_BETA, always=rules[:, j] > 0
        )
    floors = {label: RULE_VETO_FLOOR for label in labels if label not in key | NEVER_VETOED}
    return {"thresholds": thresholds, "rule_floor": floors, "beta": betas}


def pipeline_analyzer(policy: Policy, model: SignaalModel | None = None):
    """A live Analyzer that shares the rule features' spaCy pipeline (loaded once)."""
    from signaal.signals.pipeline import Analyzer

    base = feature_analyzer()
    return Analyzer(nlp=base.nlp, policy=policy, model=model, pipeline_info=base.pipeline_info)


def layer_outputs(model: SignaalModel, records: list[dict], policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """(rule score, model probability) per record and label, computed by the live pipeline
    (a conversation turn by turn, the model over its window with the running max)."""
    analyzer = pipeline_analyzer(policy, model)
    rules = np.zeros((len(records), len(LABEL_IDS)))
    probs = np.zeros((len(records), len(LABEL_IDS)))
    for i, record in enumerate(records):
        conversation = analyzer.conversation(None)
        for message in record.get("messages") or [{"role": "client", "text": record.get("text", "")}]:
            conversation.add(message.get("role", "client"), message.get("text", ""))
        rule_scores, model_scores = conversation.layer_scores()
        for j, label in enumerate(LABEL_IDS):
            rules[i, j] = rule_scores.get(label, 0.0)
            probs[i, j] = model_scores.get(label, 0.0)
    return rules, probs


def tune_fusion(fusion: dict, Y: np.ndarray, rules: np.ndarray, probs: np.ndarray) -> dict:
    """Fusion thresholds chosen on hand-labelled tuning data instead of the synthetic folds.

    Per label, the grid value with the best F1 of "rules OR model" as the pipeline decides
    it (a model-only flag also needs signals/fusion.py's floor); ties go to the higher
    threshold (fewer flags without matched words). A label with fewer than
    TUNE_MIN_POSITIVES positives in the tuning data keeps its cross-validated threshold."""
    from signaal.signals.fusion import MODEL_ONLY_FLOOR

    thresholds, tuned = dict(fusion["thresholds"]), []
    for j, label in enumerate(LABEL_IDS):
        y = Y[:, j].astype(bool)
        if y.sum() < TUNE_MIN_POSITIVES:
            continue
        kept = rule_flags_kept(rules[:, j], probs[:, j], fusion, label)
        best, best_t = -1.0, thresholds[label]
        for t in TUNE_GRID:
            if t < MODEL_ONLY_FLOOR:
                continue
            score = _fbeta(y, kept | (probs[:, j] >= t), FUSION_BETA)
            if score >= best:  # ascending grid: ties keep the higher threshold
                best, best_t = score, t
        thresholds[label] = float(best_t)
        tuned.append(label)
    return {**fusion, "thresholds": thresholds, "cv_thresholds": dict(fusion["thresholds"]),
            "tuned_labels": tuned}


def rule_flags_kept(rules: np.ndarray, probs: np.ndarray, fusion: dict, label: str) -> np.ndarray:
    """signals/fusion.py's veto over arrays of one label: a rule flag stays unless the model
    is below the label's rule floor (where the model itself raises the label, it counts
    anyway, so the threshold part of the veto needs no check here)."""
    return (rules > 0) & (probs >= fusion["rule_floor"].get(label, 0.0))


def fused_predictions(
    oof: np.ndarray, rules: np.ndarray, fusion: dict, labels=LABEL_IDS
) -> np.ndarray:
    pred = np.zeros(oof.shape, dtype=bool)
    for j, label in enumerate(labels):
        by_model = oof[:, j] >= fusion["thresholds"][label]
        pred[:, j] = by_model | rule_flags_kept(rules[:, j], oof[:, j], fusion, label)
    if "under_16" in labels and "minor" in labels:
        pred[:, labels.index("minor")] |= pred[:, labels.index("under_16")]
    return pred


# --- metadata -----------------------------------------------------------------------------
def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_fingerprint() -> str:
    """SHA-256 over the code and data that shape a model: the rule layer (features),
    the classifier and trainer, and the generator."""
    h = hashlib.sha256()
    files = sorted(
        [
            *ROOT.glob("signals/**/*.py"),
            *ROOT.glob("signals/data/**/*"),
            ROOT / "models/classifier.py",
            ROOT / "models/train.py",
            *ROOT.glob("training/**/*.py"),
            *ROOT.glob("training/data/**/*"),
        ]
    )
    for f in files:
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def created_time(reproducible: bool) -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds convention); a reproducible run
    without it uses the epoch 0; otherwise now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None or reproducible:
        stamp = datetime.fromtimestamp(int(epoch or 0), tz=UTC)
    else:
        stamp = datetime.now(tz=UTC).replace(microsecond=0)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def library_versions() -> dict:
    import joblib
    import scipy
    import sklearn
    import spacy

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "spacy": spacy.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


# --- evaluation of the whole pipeline on labelled files --------------------------------------
def evaluate_files(
    model: SignaalModel | None, paths: list[Path], policy: Policy, n_boot: int = 1000
) -> dict:
    """Rules-only and fused figures of the full Analyzer on labelled JSONL files."""
    from signaal.signals.io import LineError, read_jsonl

    analyzer = pipeline_analyzer(policy)
    report = {}
    for path in paths:
        records = [r for _, r in read_jsonl(path) if not isinstance(r, LineError)]
        gold = to_matrix([set(r.get("labels", [])) for r in records])
        entry = {
            "file": Path(path).name,
            "sha256": _file_sha(Path(path)),
            "n": len(records),
            "kind": "conversations" if records and "messages" in records[0] else "messages",
        }
        for mode, m in (("rules", None), ("fused", model)):
            if mode == "fused" and m is None:
                continue
            analyzer.model = m
            results = [analyzer.analyze_record(r) for r in records]
            pred = to_matrix([set(x.labels) for x in results])
            figures = scores_with_intervals(gold, pred, n_boot=n_boot)
            figures["triage"] = _triage(gold, [x.priority for x in results], policy)
            figures["subgroups"] = _subgroups(records, gold, pred)
            figures["raised_by"] = _raised_by(results)
            entry[mode] = figures
        report[entry["file"]] = entry
    analyzer.model = None
    return report


def _triage(gold: np.ndarray, priorities: list[str], policy: Policy) -> dict:
    from signaal.signals.policy import PRIORITIES

    gold_prio = [
        policy.triage({LABEL_IDS[j] for j in np.flatnonzero(row)}).priority for row in gold
    ]
    matrix = {g: {p: 0 for p in PRIORITIES} for g in PRIORITIES}
    for g, p in zip(gold_prio, priorities, strict=True):
        matrix[g][p] += 1
    return {
        "matrix": matrix,
        "urgent_as_normal": matrix["urgent"]["normal"],
        "accuracy": sum(g == p for g, p in zip(gold_prio, priorities, strict=True))
        / max(len(gold), 1),
    }


def _subgroups(records: list[dict], gold: np.ndarray, pred: np.ndarray) -> dict:
    """Micro/macro F1 per age group (from gold labels) and per text length (counts only)."""
    groups: dict[str, dict[str, list[int]]] = {"age_group": {}, "length": {}}
    for i, r in enumerate(records):
        labels = {LABEL_IDS[j] for j in np.flatnonzero(gold[i])}
        groups["age_group"].setdefault(age_group(labels), []).append(i)
        groups["length"].setdefault(length_bucket(len(client_text(r))), []).append(i)
    out: dict = {}
    for factor, buckets in groups.items():
        out[factor] = {}
        for name, idx in sorted(buckets.items()):
            s = scores_with_intervals(gold[idx], pred[idx], n_boot=200)
            out[factor][name] = {
                "n": len(idx),
                "micro_f1": s["micro"]["f1"],
                "micro_f1_ci": s["micro"]["f1_ci"],
                "macro_f1": s["macro"]["f1"],
                "micro_recall": s["micro"]["recall"],
                "micro_precision": s["micro"]["precision"],
            }
    return out


def _raised_by(results) -> dict:
    counts: dict[str, int] = {"rules": 0, "model": 0, "both": 0}
    for r in results:
        for f in r.flags:
            counts[f.raised_by] = counts.get(f.raised_by, 0) + 1
    return counts


# --- the run ------------------------------------------------------------------------------
def train(config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """One training run (see the module doc); rule scores are cached for its duration."""
    from signaal.models.classifier import caching_rule_features

    with caching_rule_features():
        return _train(config, progress)


def _train(config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    from signaal.models.card import build_cards

    say = progress or (lambda stage, frac: None)
    t0 = time.perf_counter()
    policy = Policy.load()
    say("data", 0.0)
    records, sources = [], []
    if config.data:
        own, sources = load_records(config.data)
        # copies of one record share a CV group: never on both sides of a fold
        records = [{**r, "group": f"data:{k}"} for k, r in enumerate(own)
                   for _ in range(max(1, config.data_repeat))]
    if not config.data or config.with_generated:
        generated, generator_source = generated_records(
            config.seed, config.n_messages, config.n_conversations)
        records += generated
        sources += generator_source
    records = [r for r in records if "labels" in r]
    if not records:
        raise ValueError("no labelled records to train on")
    # the model learns from redacted text only: its vocabularies are saved in the artifact,
    # and a trainer's own transcripts may still hold names, numbers or handles
    texts = [redact_for_model(client_text(r)) for r in records]
    Y = to_matrix([set(r["labels"]) for r in records])
    t_data = time.perf_counter()
    say("rule features", 0.15)
    rules = rule_score_matrix(texts, LABEL_IDS)  # cached: the classifier reuses these
    t_rules = time.perf_counter()
    say("model (3-fold CV + final fit)", 0.45)
    params = {"random_state": config.seed, **config.params}
    estimator = SignaalClassifier(labels=LABEL_IDS, **params).fit(texts, Y, groups=cv_groups(records))
    oof = estimator.oof_proba_
    estimator.strip_training_state()
    t_fit = time.perf_counter()
    say("fusion and figures", 0.8)
    fusion = choose_fusion(Y, oof, rules, policy)
    cv = {
        "rules": scores_with_intervals(Y, rules > 0, n_boot=300, seed=config.seed),
        "model": scores_with_intervals(
            Y, oof >= estimator.thresholds_, n_boot=300, seed=config.seed
        ),
        "fused": scores_with_intervals(
            Y, fused_predictions(oof, rules, fusion), n_boot=300, seed=config.seed
        ),
    }
    cv["fused"]["subgroups"] = _subgroups(records, Y, fused_predictions(oof, rules, fusion))
    name = config.name or Path(config.out).name
    fingerprint = data_fingerprint(records)
    manifest = {
        "name": name,
        "created": created_time(config.reproducible),
        "labels": list(LABEL_IDS),
        "label_set_version": label_set_version(),
        "policy": {"version": policy.version, "sha256": policy.sha256},
        "thresholds": {
            lab: float(t) for lab, t in zip(LABEL_IDS, estimator.thresholds_, strict=True)
        },
        "fusion": fusion,
        "training_data": {**fingerprint, "sources": sources},
        "libraries": library_versions(),
        "code": {
            "signaal": signaal.__version__,
            "source_sha256": source_fingerprint(),
            **({} if config.reproducible else {"git_commit": git_commit()}),
        },
        "rule_features": {"pipeline": getattr(feature_analyzer().pipeline_info, "name", None)},
        "hyperparameters": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in estimator.get_params().items()
            if k != "labels"
        },
        "training": {
            "seed": config.seed,
            "cv_folds": estimator.cv,
            "cv_grouping": "template family" if cv_groups(records) else "none",
            "threshold_beta": estimator.beta,
            "reproducible": config.reproducible,
        },
    }
    model = SignaalModel(estimator, manifest, str(config.out))
    if config.tune_paths:
        say("fusion thresholds on the tuning data", 0.82)
        tune_records, tune_sources = load_records(config.tune_paths)
        tune_records = [r for r in tune_records if "labels" in r]
        fusion = tune_fusion(fusion, to_matrix([set(r["labels"]) for r in tune_records]),
                             *layer_outputs(model, tune_records, policy))
        fusion["tuned_on"] = tune_sources  # hashes and counts, never names or text
        manifest["fusion"] = fusion
        model = SignaalModel(estimator, manifest, str(config.out))
    say("evaluation", 0.85)
    evaluation = evaluate_files(model, config.eval_paths, policy) if config.eval_paths else {}
    t_eval = time.perf_counter()
    report = {"cv": cv, "evaluation": evaluation}
    say("card and artifact", 0.95)
    card_md, card_json = build_cards(manifest, report)
    refuse_identifying_vocabulary(estimator)
    manifest = save_artifact(
        config.out,
        estimator,
        manifest,
        {"card.md": card_md.encode("utf-8"), "card.json": card_json.encode("utf-8")},
        key=config.key,
    )
    model.manifest = manifest
    t_end = time.perf_counter()
    say("done", 1.0)
    seconds = {
        "data": t_data - t0,
        "rule_features": t_rules - t_data,
        "fit": t_fit - t_rules,
        "evaluation": t_eval - t_fit,
        "total": t_end - t0,
        "training": t_fit - t_data,
    }
    return TrainResult(model, manifest, report, seconds)
