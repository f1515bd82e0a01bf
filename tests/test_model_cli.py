"""The trainer's doors: train, models list, card show/diff, compare, evaluate/analyze --model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from signaal.cli import app

from .test_artifacts import SECRET, tiny_corpus, write_jsonl

runner = CliRunner()


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    train = write_jsonl(root / "train.jsonl", tiny_corpus(240, seed=1))
    heldout = write_jsonl(root / "heldout.jsonl", tiny_corpus(60, seed=9))
    tuning = write_jsonl(root / "tuning.jsonl", tiny_corpus(80, seed=5))
    root.joinpath("n_tuning").write_text(str(len(tiny_corpus(80, seed=5))))
    for name, seed, extra in (("a", 3, []), ("b", 4, ["--tune", str(tuning)])):
        result = runner.invoke(app, ["train", "--data", str(train), "--out", str(root / name),
                                     "--seed", str(seed), "--eval", str(heldout), *extra])
        assert result.exit_code == 0, result.output
    return root, heldout


def test_fusion_thresholds_chosen_on_tuning_data_are_recorded_without_names(two_models):
    root, _ = two_models
    untuned = json.loads((root / "a" / "manifest.json").read_text())["fusion"]
    fusion = json.loads((root / "b" / "manifest.json").read_text())["fusion"]
    assert "tuned_on" not in untuned
    (source,) = fusion["tuned_on"]
    assert set(source) == {"sha256", "records"}  # hash and count, no file name
    assert source["records"] == int((root / "n_tuning").read_text())
    assert fusion["tuned_labels"], "the tiny corpus has enough positives for some labels"
    for label, t in fusion["thresholds"].items():
        if label in fusion["tuned_labels"]:
            assert t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
                         0.95, 1.01)
        else:
            assert t == fusion["cv_thresholds"][label]
    assert "tuning data" in (root / "b" / "card.md").read_text()


def test_train_prints_summary_and_writes_a_verified_folder(two_models):
    root, _ = two_models
    assert {p.name for p in (root / "a").iterdir()} == {"model.joblib", "manifest.json", "card.md",
                                                        "card.json"}
    card = (root / "a" / "card.md").read_text()
    for section in ("## Model details", "## Intended use", "## Out-of-scope uses", "## Factors",
                    "## Metrics", "## Evaluation data", "## Training data",
                    "## Quantitative analyses", "## Ethical considerations",
                    "## Caveats and recommendations", "age_group", "length"):
        assert section in card
    meta = json.loads((root / "a" / "card.json").read_text())
    result = meta["model-index"][0]["results"][0]
    assert result["task"]["type"] == "text-classification"
    assert {"type", "value"} <= set(result["metrics"][0])
    assert SECRET not in card and SECRET not in json.dumps(meta)


def test_models_list_and_card_commands(two_models):
    root, _ = two_models
    listed = runner.invoke(app, ["models", "list", "--path", str(root)])
    assert listed.exit_code == 0, listed.output
    assert "ok" in listed.output
    shown = runner.invoke(app, ["card", "show", str(root / "a")])
    assert shown.exit_code == 0 and "Model card: a" in shown.output
    diff = runner.invoke(app, ["card", "diff", str(root / "a"), str(root / "b")])
    assert diff.exit_code == 0, diff.output
    assert "verschillen" in diff.output


def test_card_show_refuses_a_tampered_model(two_models, tmp_path):
    import shutil

    root, _ = two_models
    shutil.copytree(root / "a", tmp_path / "t")
    with (tmp_path / "t" / "card.md").open("a") as f:
        f.write("x")
    shown = runner.invoke(app, ["card", "show", str(tmp_path / "t")])
    assert shown.exit_code == 2
    assert "SHA-256" in shown.output


def test_compare_prints_paired_tests(two_models):
    root, heldout = two_models
    out_json = root / "compare.json"
    result = runner.invoke(app, ["compare", "rules", str(root / "a"), "--data", str(heldout),
                                 "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert "McNemar" in result.output
    assert "macro-F1" in result.output and "macro-F2" in result.output
    test = json.loads(out_json.read_text())[heldout.name]["paired_bootstrap"]
    for name in ("macro_f1", "macro_f2"):
        assert test[name]["diff"] == pytest.approx(test[name]["b"] - test[name]["a"])


def test_evaluate_with_model_intervals_and_plots(two_models, tmp_path):
    root, heldout = two_models
    out_json = tmp_path / "fig.json"
    result = runner.invoke(app, ["evaluate", "--model", str(root / "a"), "--data", str(heldout),
                                 "--json", str(out_json), "--plots", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    figures = json.loads(out_json.read_text())[str(heldout)]
    assert figures["model"] == "a"
    assert figures["macro"]["f1_ci"][0] <= figures["macro"]["f1"] <= figures["macro"]["f1_ci"][1]
    assert (tmp_path / "plots" / "heldout" / "pr_all.png").is_file()


def test_analyze_with_model_marks_raised_by(two_models):
    root, _ = two_models
    result = runner.invoke(app, ["analyze", "--model", str(root / "a"), "--format", "json",
                                 "mijn moeder regelt mannen voor mij"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    flags = json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)["flags"]
    assert flags and all(f["raised_by"] in ("rules", "model", "both") for f in flags)


def test_unknown_model_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["analyze", "--model", str(tmp_path / "nope"), "hoi"])
    assert result.exit_code == 2
    assert "cannot load model" in result.output


def test_models_sign_then_key_is_required(two_models, tmp_path, monkeypatch):
    import shutil

    from signaal.models.artifacts import ArtifactError, load_artifact

    root, _ = two_models
    shutil.copytree(root / "a", tmp_path / "s")
    key_file = tmp_path / "key"
    key_file.write_text("operator secret\n")
    result = runner.invoke(app, ["models", "sign", str(tmp_path / "s"), "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("SIGNAAL_MODEL_KEY", "operator secret")
    assert load_artifact(tmp_path / "s").name == "a"
    with pytest.raises(ArtifactError, match="unsigned"):
        load_artifact(root / "b")
    monkeypatch.setenv("SIGNAAL_MODEL_KEY", "another key")
    with pytest.raises(ArtifactError, match="signature"):
        load_artifact(tmp_path / "s")


def test_train_on_the_generated_corpus(tmp_path):
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "gen"), "--messages", "600",
                                 "--conversations", "60", "--seed", "7"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "gen" / "manifest.json").read_text())
    source = manifest["training_data"]["sources"][0]
    assert source["generator"] == "signaal.training.generate" and source["seed"] == 7
    assert manifest["training_data"]["n_records"] == 660
    assert manifest["training"]["cv_grouping"] == "template family"


def test_own_data_with_the_generated_corpus_keeps_copies_in_one_fold(tmp_path):
    from signaal.models.train import cv_groups

    own = write_jsonl(tmp_path / "own.jsonl", tiny_corpus(30, seed=2))
    result = runner.invoke(app, ["train", "--data", str(own), "--with-generated", "--repeat-data",
                                 "3", "--out", str(tmp_path / "mix"), "--messages", "300",
                                 "--conversations", "30", "--seed", "7"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    sources = manifest["training_data"]["sources"]
    assert sources[0]["records"] == len(tiny_corpus(30, seed=2))
    assert sources[1]["generator"] == "signaal.training.generate"
    assert manifest["training_data"]["n_records"] == 3 * sources[0]["records"] + 330
    groups = cv_groups([{"text": "a", "group": "data:0"}, {"text": "a", "group": "data:0"},
                        {"text": "b", "family": "se.x+addon"}, {"messages": [], "family": "c"}])
    assert groups == ["data:0", "data:0", "se.x", "record:3"]


def test_a_folder_of_jsonl_files_is_a_data_set(two_models, tmp_path):
    root, heldout = two_models
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "messages.jsonl").write_bytes(heldout.read_bytes())
    (folder / "notes.txt").write_text("not data")
    out_json = tmp_path / "fig.json"
    result = runner.invoke(app, ["evaluate", "--model", "rules", "--data", str(folder), "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert list(json.loads(out_json.read_text())) == [str(folder / "messages.jsonl")]
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (["evaluate", "--data", str(empty)], ["compare", "rules", "rules", "--data", str(empty)],
                    ["train", "--data", str(empty), "--out", str(tmp_path / "m")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "no *.jsonl" in result.output, command
