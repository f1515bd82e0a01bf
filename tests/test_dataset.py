"""Loading trainers' JSONL data: schema problems name file+line, never the text."""

from __future__ import annotations

import json

import pytest

from signaal.training.dataset import DatasetError, DatasetReport, load_jsonl_dataset
from signaal.training.generate import CorpusConfig, generate_corpus, write_corpus

SECRET = "geheimewoordjes"  # stands in for real chat words that must never be echoed


def _write(tmp_path, lines, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _problems(path):
    with pytest.raises(DatasetError) as exc:
        load_jsonl_dataset(path)
    return exc.value


def test_valid_messages_and_conversations(tmp_path):
    path = _write(tmp_path, [
        json.dumps({"id": "m1", "text": "ik moet met mannen mee", "labels": ["sexual_exploitation", "ongoing"]}),
        "",
        json.dumps({"id": "c1", "labels": ["parent_exploiter"], "messages": [
            {"role": "counselor", "text": "Weet je moeder hiervan?"}, {"role": "client", "text": "zij regelt het"}]}),
        json.dumps({"id": "m2", "text": "hoi", "labels": []}),
    ])
    records, report = load_jsonl_dataset(path)
    assert [r["id"] for r in records] == ["m1", "c1", "m2"]
    assert records[0]["labels"] == ["ongoing", "sexual_exploitation"] and records[1]["line"] == 3
    assert isinstance(report, DatasetReport)
    assert (report.n_messages, report.n_conversations, report.n_records) == (2, 1, 3)
    assert report.label_counts["parent_exploiter"] == 1 and not report.duplicates


@pytest.mark.parametrize("line, expected", [
    (f'{{"id": "m1", "text": "{SECRET}" ', "not valid JSON"),
    (json.dumps([SECRET]), "not a JSON object"),
    (json.dumps({"text": SECRET, "labels": []}), "missing field id"),
    (json.dumps({"id": "", "text": SECRET, "labels": []}), "field id is empty"),
    (json.dumps({"id": "m1", "labels": []}), "missing field text"),
    (json.dumps({"id": "m1", "text": "   ", "labels": []}), "field text is empty"),
    (json.dumps({"id": "m1", "text": SECRET, "labels": "minor"}), "field labels is not a list"),
    (json.dumps({"id": "m1", "text": SECRET, "labels": [3]}), "labels[0] is not a string"),
    (json.dumps({"id": "m1", "text": SECRET, "labels": ["loverbooy"]}), "unknown label id 'loverbooy'"),
    (json.dumps({"id": "m1", "text": SECRET}), "missing field labels"),
    (json.dumps({"id": "c1", "labels": [], "messages": [{"role": "client", "text": SECRET},
                                                         {"role": "mother", "text": SECRET}]}),
     "messages[1].role"),
    (json.dumps({"id": "c1", "labels": [], "messages": [{"role": "counselor", "text": SECRET}]}),
     "only counselor messages"),
    (json.dumps({"id": "c1", "labels": [], "messages": []}), "messages is not a non-empty list"),
    (json.dumps({"id": "c1", "labels": [], "messages": [{"role": "client", "text": ""}]}), "messages[0].text"),
])
def test_each_problem_names_file_and_line_never_text(tmp_path, line, expected):
    path = _write(tmp_path, [json.dumps({"id": "ok", "text": "hallo", "labels": []}), line])
    err = _problems(path)
    message = str(err)
    assert f"{path}:2: " in message and expected in message
    assert SECRET not in message
    assert err.problems and err.problems[0][0] == 2


def test_unknown_label_that_looks_like_text_is_not_echoed(tmp_path):
    path = _write(tmp_path, [json.dumps({"id": "m1", "text": "x", "labels": [f"Hij zei {SECRET}!"]})])
    message = str(_problems(path))
    assert "unknown label id" in message and SECRET not in message


def test_all_problems_listed_capped_with_count(tmp_path):
    lines = [json.dumps({"id": f"m{i}", "text": SECRET, "labels": ["nope"]}) for i in range(30)]
    err = _problems(_write(tmp_path, lines))
    assert len(err.problems) == 30
    message = str(err)
    assert "30 problem(s)" in message and "and 10 more" in message and SECRET not in message


def test_duplicate_ids_refused(tmp_path):
    line = json.dumps({"id": "m1", "text": "a", "labels": []})
    assert "id already used on line 1" in str(_problems(_write(tmp_path, [line, line.replace('"a"', '"b"')])))


def test_empty_binary_and_non_utf8(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    assert "empty" in str(_problems(empty))
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(bytes(range(256)) * 10)
    assert "binary" in str(_problems(binary))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps({"id": "m1", "text": "x", "labels": []}).encode() + b"\n"
                      + '{"id": "m2", "text": "café", "labels": []}'.encode("latin-1") + b"\n")
    err = _problems(latin)
    assert f"{latin}:2: not valid UTF-8" in str(err) and "caf" not in str(err)
    missing = tmp_path / "missing.jsonl"
    assert "cannot read" in str(_problems(missing))


def test_duplicates_and_conflicts_reported_by_line(tmp_path):
    path = _write(tmp_path, [
        json.dumps({"id": "m1", "text": "Ik moet met mannen mee", "labels": ["sexual_exploitation"]}),
        json.dumps({"id": "m2", "text": "ik  moet met MANNEN mee", "labels": ["sexual_exploitation"]}),
        json.dumps({"id": "m3", "text": "ik moet met mannen mee", "labels": []}),
        json.dumps({"id": "m4", "text": "hoi", "labels": []}),
        json.dumps({"id": "m5", "text": "hoi", "labels": []}),
    ])
    _, report = load_jsonl_dataset(path)
    assert report.duplicates == [[1, 2, 3], [4, 5]]
    assert report.n_duplicate_lines == 3
    assert report.conflicts == [{"lines": [1, 2, 3], "label_sets": [[], ["sexual_exploitation"]]}]
    summary = report.summary()
    assert "mannen" not in summary and "hoi" not in summary and "[1, 2, 3]" in summary


def test_unlabelled_allowed_when_not_required(tmp_path):
    records, report = load_jsonl_dataset(_write(tmp_path, [json.dumps({"id": 1, "text": "x"})]),
                                         require_labels=False)
    assert report.n_unlabelled == 1 and "labels" not in records[0]


def test_generated_corpus_loads(tmp_path):
    msgs, convs = generate_corpus(CorpusConfig(n_messages=400, n_conversations=40, seed=5))
    write_corpus(tmp_path, msgs, convs, CorpusConfig(n_messages=400, n_conversations=40, seed=5))
    records, report = load_jsonl_dataset(tmp_path / "messages.jsonl")
    assert report.n_messages == 400 and not report.conflicts
    records, report = load_jsonl_dataset(tmp_path / "conversations.jsonl")
    assert report.n_conversations == 40
