"""Model artifacts: manifest, verification before unpickling, signatures, reproducibility."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from signaal.models import artifacts
from signaal.models.artifacts import ArtifactError, load_artifact, verify_artifact
from signaal.models.train import TrainConfig, train

# invented, non-graphic training sentences (never from the dev set)
POS = {
    "sexual_exploitation": [
        "hij stuurt mij naar mannen en houdt het geld",
        "ik moet met zijn vrienden mee voor geld",
    ],
    "parent_exploiter": ["mijn moeder regelt mannen voor mij", "mijn stiefvader laat mij dealen"],
    "sextortion": ["hij dreigt mijn fotos te verspreiden als ik niet betaal"],
    "forced_crime": ["ik moet pakketjes met drugs rondbrengen", "ze dwingen me te stelen"],
    "minor": ["ik ben 16", "ik ben 17 jaar"],
    "acute_danger": ["hij staat nu voor de deur", "ik zit opgesloten in een kamer"],
}
NEG = [
    "wat is een loverboy?",
    "we hadden op school les over sextortion",
    "hoe laat zijn jullie open",
    "ik heb een foto van mijn kat",
    "hallo",
]
SECRET = "geheime zin die nooit in een card mag staan"


def tiny_corpus(n: int = 240, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if rng.random() < 0.35:
            out.append({"id": f"t{i}", "text": rng.choice(NEG + [SECRET]), "labels": []})
            continue
        labels = rng.sample(sorted(POS), rng.choice([1, 2]))
        out.append(
            {
                "id": f"t{i}",
                "text": " en ".join(rng.choice(POS[x]) for x in labels),
                "labels": labels,
            }
        )
    out.append(
        {
            "id": "conv1",
            "labels": ["minor", "forced_crime"],
            "messages": [
                {"role": "client", "text": "ik ben 16"},
                {"role": "counselor", "text": "wat gebeurt er?"},
                {"role": "client", "text": "ik moet pakketjes met drugs rondbrengen"},
            ],
        }
    )
    return out


def write_jsonl(path, records):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    data = write_jsonl(root / "train.jsonl", tiny_corpus())
    result = train(TrainConfig(out=root / "m", data=[data], seed=3, reproducible=True))
    return root, data, result


def copy_model(trained, tmp_path):
    root, _, _ = trained
    target = tmp_path / "m"
    shutil.copytree(root / "m", target)
    return target


def forbid_unpickling(monkeypatch):
    import joblib

    def boom(*a, **k):
        raise AssertionError("joblib.load called before verification refused the folder")

    monkeypatch.setattr(joblib, "load", boom)


def test_manifest_lists_every_file_with_sha256(trained):
    root, _, result = trained
    manifest = json.loads((root / "m" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.joblib", "card.md", "card.json"}
    for name, meta in manifest["files"].items():
        assert meta["sha256"] == artifacts.sha256_file(root / "m" / name)
    for key in (
        "label_set_version",
        "policy",
        "thresholds",
        "fusion",
        "training_data",
        "libraries",
        "code",
        "created",
    ):
        assert key in manifest
    assert manifest["created"] == "1970-01-01T00:00:00Z"  # reproducible run, no SOURCE_DATE_EPOCH
    assert set(manifest["libraries"]) >= {"python", "scikit-learn", "spacy", "numpy"}
    assert manifest["training_data"]["label_counts"]["minor"] > 0


def test_no_text_in_manifest_or_cards(trained):
    root, _, _ = trained
    for name in ("manifest.json", "card.md", "card.json"):
        content = (root / "m" / name).read_text()
        assert SECRET not in content
        assert "pakketjes" not in content and "stiefvader" not in content


def test_roundtrip_loads_verified_model(trained):
    root, _, _ = trained
    model = load_artifact(root / "m")
    scores = model.score_conversation(["mijn moeder regelt mannen voor mij"])
    assert set(scores) == set(model.labels) and all(0 <= p <= 1 for p in scores.values())
    assert model.thresholds.keys() == set(model.labels)


@pytest.mark.parametrize("name", ["model.joblib", "card.md", "card.json"])
def test_one_changed_byte_is_refused_before_unpickling(trained, tmp_path, monkeypatch, name):
    folder = copy_model(trained, tmp_path)
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / name).write_bytes(bytes(data))
    forbid_unpickling(monkeypatch)
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_artifact(folder)


def test_unknown_file_is_refused(trained, tmp_path, monkeypatch):
    folder = copy_model(trained, tmp_path)
    (folder / "extra.pkl").write_bytes(b"not part of the model")
    forbid_unpickling(monkeypatch)
    with pytest.raises(ArtifactError, match="unknown file"):
        load_artifact(folder)


def test_missing_file_and_missing_manifest_are_refused(trained, tmp_path, monkeypatch):
    folder = copy_model(trained, tmp_path)
    (folder / "card.md").unlink()
    forbid_unpickling(monkeypatch)
    with pytest.raises(ArtifactError, match="missing"):
        load_artifact(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no manifest.json"):
        load_artifact(folder)


def test_label_set_mismatch_is_refused(trained, tmp_path, monkeypatch):
    folder = copy_model(trained, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["label_set_version"] = "labels-v0"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    forbid_unpickling(monkeypatch)
    with pytest.raises(ArtifactError, match="label set"):
        load_artifact(folder)


def test_hmac_signature(trained, tmp_path, monkeypatch):
    root, data, _ = trained
    key = b"operator-key-for-tests"
    folder = tmp_path / "signed"
    train(TrainConfig(out=folder, data=[data], seed=3, reproducible=True, key=key))
    assert (folder / "manifest.sig").is_file()
    assert load_artifact(folder, key=key).name == "signed"
    monkeypatch.setenv("SIGNAAL_MODEL_KEY", key.decode())
    verify_artifact(folder)  # key from the environment
    forbid_unpickling(monkeypatch)
    with pytest.raises(ArtifactError, match="signature"):
        load_artifact(folder, key=b"wrong key")
    # an unsigned model is refused when a key is configured
    with pytest.raises(ArtifactError, match="unsigned"):
        load_artifact(root / "m")
    # a changed manifest (e.g. lowered thresholds) no longer matches its signature
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["fusion"]["thresholds"]["sextortion"] = 0.01
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="signature"):
        load_artifact(folder)


def test_refuses_to_overwrite_a_folder_with_foreign_files(trained, tmp_path):
    _, data, _ = trained
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="not part of a model"):
        train(TrainConfig(out=folder, data=[data], seed=3))
    assert (folder / "notes.txt").read_text() == "mine"


def test_reproducible_training_is_bit_for_bit(trained, tmp_path):
    root, data, _ = trained
    train(TrainConfig(out=tmp_path / "again", data=[data], seed=3, reproducible=True, name="m"))
    for name in ("model.joblib", "card.md", "card.json", "manifest.json"):
        assert (tmp_path / "again" / name).read_bytes() == (root / "m" / name).read_bytes(), name


def test_data_fingerprint_is_order_invariant_and_textless():
    records = tiny_corpus(40)
    a = artifacts.data_fingerprint(records)
    b = artifacts.data_fingerprint(list(reversed(records)))
    assert a == b
    assert SECRET not in json.dumps(a)
    changed = [dict(r) for r in records]
    changed[0]["text"] = changed[0].get("text", "") + " extra"
    assert artifacts.data_fingerprint(changed)["sha256"] != a["sha256"]


def test_reproducible_across_processes(trained, tmp_path):
    """Two separate processes (pickle memo depends on object identity) give the same bytes."""
    import subprocess
    import sys

    _, data, _ = trained
    code = ("import sys; from pathlib import Path; from signaal.models.train import TrainConfig, train; "
            "train(TrainConfig(out=Path(sys.argv[1]), data=[Path(sys.argv[2])], seed=3, "
            "reproducible=True, name='m'))")
    for name in ("p1", "p2"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name), str(data)], check=True,
                       capture_output=True, timeout=300)
    for name in ("model.joblib", "manifest.json", "card.md", "card.json"):
        assert (tmp_path / "p1" / name).read_bytes() == (tmp_path / "p2" / name).read_bytes(), name


def test_unsigned_model_from_elsewhere_is_refused_before_unpickling(trained, tmp_path, monkeypatch):
    """A folder whose manifest matches its files but that was neither signed, shipped nor
    trained on this machine could hold any pickle: refused without unpickling."""
    folder = copy_model(trained, tmp_path)
    monkeypatch.setenv("SIGNAAL_TRUST_FILE", str(tmp_path / "empty-trust.json"))
    monkeypatch.delenv("SIGNAAL_MODEL_KEY", raising=False)
    forbid_unpickling(monkeypatch)
    with pytest.raises(ArtifactError, match="unsigned model from elsewhere"):
        load_artifact(folder)


def test_self_consistent_manifest_for_a_foreign_pickle_is_refused(trained, tmp_path, monkeypatch):
    import pickle

    folder = copy_model(trained, tmp_path)
    payload = pickle.dumps({"not": "a model"})
    (folder / "model.joblib").write_bytes(payload)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.joblib"] = {"sha256": artifacts.sha256_bytes(payload), "bytes": len(payload)}
    (folder / "manifest.json").write_bytes(artifacts.canonical_json(manifest))
    monkeypatch.delenv("SIGNAAL_MODEL_KEY", raising=False)
    forbid_unpickling(monkeypatch)
    with pytest.raises(ArtifactError, match="unsigned model from elsewhere"):
        load_artifact(folder)


def test_trainer_identifiers_never_reach_the_artifact(tmp_path):
    """A trainer's own transcripts may hold identifiers: the model learns from redacted
    text, so none of them is in the saved vocabularies."""
    import joblib

    rows = []
    for i in range(40):
        rows.append({"id": f"a{i}", "labels": ["sexual_exploitation"],
                     "text": "Zwanette van den Broek bel 0612345678 mail zwanette.prive@example.nl "
                             "IBAN NL91ABNA0417164300, hij stuurt mij naar mannen"})
        rows.append({"id": f"b{i}", "labels": [], "text": f"hoe laat zijn jullie open vandaag {i}"})
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    train(TrainConfig(out=tmp_path / "m", data=[data], seed=1, reproducible=True))
    estimator = joblib.load(tmp_path / "m" / "model.joblib")
    terms = " ".join(t for _, part in estimator.features_.transformer_list
                     for t in getattr(part, "vocabulary_", {}))
    for secret in ("0612345678", "zwanette", "nl91abna", "prive", "example"):
        assert secret not in terms, secret
