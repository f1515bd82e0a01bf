"""End-to-end tests of the CLI doors, including the dev-set bars of the rule layer."""

import json

import pytest
from typer.testing import CliRunner

from signaal.cli import app

runner = CliRunner()


def test_analyze_text_table():
    result = runner.invoke(app, ["analyze", "--model", "rules",
                                 "ik ben 14 en mijn stiefvader laat mannen bij mij komen, hij pakt het geld"])
    assert result.exit_code == 0, result.output
    assert "URGENT" in result.output
    assert "ouder als uitbuiter + minderjarig" in result.output
    assert "Ouder als" in result.output


def test_analyze_jsonl_keeps_order_and_reports_bad_lines(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"id": "a", "text": "mn moeder regelt mannen voor mij. ik ben 13"}\n'
        b'not json\n'
        b'{"id": "c", "messages": [{"role": "client", "text": "hoi"}]}\n'
        b'\xff\xfe binary\n'
        b'{"id": "e", "text": "hoe laat zijn jullie open?"}\n')
    dst = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["analyze", "--model", "rules", "--input", str(src), "--output", str(dst)])
    assert result.exit_code == 1  # bad lines make the run fail loudly, but nothing is lost
    rows = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", None, "c", None, "e"]
    assert rows[0]["priority"] == "urgent" and "parent_exploiter" in rows[0]["labels"]
    assert rows[1]["error"].startswith("not valid JSON") and rows[1]["line"] == 2
    assert rows[3]["error"].startswith("not UTF-8")
    assert "not json" not in result.output  # errors never quote the line


def _bars(tmp_path, dev_dir, name):
    out = tmp_path / f"{name}.json"
    result = runner.invoke(app, ["evaluate", "--model", "rules", "--data",
                                 str(dev_dir / f"{name}.jsonl"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    return next(iter(json.loads(out.read_text()).values()))


KEY_LABELS = ["sexual_exploitation", "parent_exploiter", "sextortion", "forced_crime", "acute_danger"]


def test_dev_messages_rule_layer_bars(tmp_path, dev_dir):
    figures = _bars(tmp_path, dev_dir, "messages")
    assert figures["macro"]["f1"] >= 0.80
    for label in KEY_LABELS:
        assert figures["labels"][label]["recall"] >= 0.90, label


def test_dev_conversations_no_urgent_as_normal(tmp_path, dev_dir):
    figures = _bars(tmp_path, dev_dir, "conversations")
    assert figures["triage"]["urgent_as_normal"] == 0
    assert figures["macro"]["f1"] >= 0.80


def test_labels_and_doctor():
    result = runner.invoke(app, ["labels"])
    assert result.exit_code == 0 and "sexual_exploitation" in result.output
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0
    assert "fallback" in result.output and "default-v1" in result.output


def test_policy_override(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text('version = "strict"\ndefault = "normal"\n[[rule]]\nid = "u"\npriority = "urgent"\nany = ["minor"]\n')
    result = runner.invoke(app, ["analyze", "--model", "rules", "--policy", str(policy), "--format", "jsonl", "ik ben 15"])
    assert result.exit_code == 0
    assert json.loads(result.stdout.strip().splitlines()[-1])["priority"] == "urgent"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "x"\npriority = "urgent"\nany = ["nope"]\n')
    result = runner.invoke(app, ["analyze", "--policy", str(bad), "hoi"])
    assert result.exit_code == 2 and "unknown labels" in result.output


def test_spacy_component():
    import spacy

    nlp = spacy.blank("nl")
    nlp.add_pipe("signaal")
    doc = nlp("mn stiefvader regelt mannen voor mij en ik ben 14")
    assert doc._.signaal["priority"] == "urgent"
    assert {span.label_ for span in doc.spans["signaal"]} >= {"parent_exploiter", "minor"}


def test_trained_pipeline_path(tmp_path):
    """The nl_core_news_sm path, with a tiny pipeline made here: its morphology (Tense)
    is used for `ongoing` and its lemmas are kept."""
    import spacy

    from signaal.signals.language import build_nlp
    from signaal.signals.pipeline import Analyzer

    tiny = spacy.blank("nl")
    tiny.add_pipe("sentencizer")
    ruler = tiny.add_pipe("attribute_ruler")
    ruler.add([[{"LOWER": "moest"}]], {"MORPH": "Tense=Past"})
    ruler.add([[{"LOWER": "moet"}]], {"MORPH": "Tense=Pres"})
    tiny.to_disk(tmp_path / "tiny")
    nlp, info = build_nlp(str(tmp_path / "tiny"))
    assert info.mode == "model"
    analyzer = Analyzer(nlp=nlp, pipeline_info=info, model=None)
    assert "ongoing" in analyzer.analyze("ik moet met mannen mee van hem").labels
    assert "ongoing" not in analyzer.analyze("ik moest met mannen mee van hem").labels


def test_crash_traceback_never_shows_locals():
    """A crash inside a command must not print local variables such as the chat text."""
    from signaal.cli import app as cli_app

    assert cli_app.pretty_exceptions_show_locals is False


@pytest.mark.parametrize("command", ["analyze", "redact"])
def test_output_may_not_be_the_input(tmp_path, command):
    src = tmp_path / "same.jsonl"
    original = b'{"id": "a", "text": "mn moeder regelt mannen voor mij"}\n'
    src.write_bytes(original)
    args = [command, "--input", str(src), "--output", str(src)] + (["--model", "rules"] if command == "analyze" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "also the input" in result.output
    assert src.read_bytes() == original


@pytest.mark.parametrize("command", ["analyze", "redact"])
def test_hostile_lines_become_error_records_and_later_lines_survive(tmp_path, command):
    src = tmp_path / "odd.jsonl"
    lines = [
        '{"a":' * 100_000,                                   # nested too deeply
        '{"id": "n", "text": "x", "n": ' + "9" * 5000 + "}",  # integer too long to convert
        json.dumps({"id": "s", "text": "ik ben 14 \ud800 help"}),  # lone surrogate (escaped)
        json.dumps({"id": ["not", "an", "id"], "text": "hoi"}),
        json.dumps({"id": "last", "text": "mn stiefvader regelt mannen voor mij"}),
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    args = [command, "--input", str(src), "--output", str(dst)] + (["--model", "rules"] if command == "analyze" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    rows = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5 and rows[-1]["id"] == "last"
    assert rows[0]["error"] == "JSON nested too deeply"
    assert rows[1]["error"] == "JSON value out of range"
    assert rows[2]["id"] == "s" and "error" not in rows[2]
    assert "not a string" in rows[3]["error"]


def test_missing_output_folder_and_markup_in_paths_are_clear_errors(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "hoi"}\n')
    result = runner.invoke(app, ["analyze", "--model", "rules", "--input", str(src),
                                 "--output", str(tmp_path / "nope" / "out.jsonl")])
    assert result.exit_code == 2 and "no such folder" in result.output
    result = runner.invoke(app, ["analyze", "--model", "rules", "--input", str(tmp_path / "x[/].jsonl")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_text_from_stdin_keeps_it_out_of_the_shell_history():
    result = runner.invoke(app, ["analyze", "--model", "rules", "--format", "jsonl", "-"],
                           input="ik ben 14 en mijn stiefvader regelt mannen voor mij")
    assert result.exit_code == 0
    assert json.loads(result.stdout.strip().splitlines()[-1])["priority"] == "urgent"
