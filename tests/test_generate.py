"""The synthetic corpus generator: determinism, counts, label logic, non-graphic guard, speed."""

from __future__ import annotations

import json
import re
import time

import pytest

from signaal.signals.labels import LABEL_IDS
from signaal.training.generate import (
    CorpusConfig,
    Generator,
    age_group,
    age_labels,
    generate_corpus,
    load_data,
    main,
)

# Mild guard list: explicit words that must never appear in the non-graphic corpus.
BLOCKLIST = (
    "neuk", "geneukt", "pijp", "beffen", "kut", "lul", "piemel", "tieten", "borsten", "vagina",
    "penis", "orgasme", "klaarkomen", "sperma", "naakt lichaam", "verkracht", "porno", "anaal", "oraal",
)
_BLOCK_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLOCKLIST) + r")", re.IGNORECASE)


@pytest.fixture(scope="module")
def corpus():
    return generate_corpus(CorpusConfig(n_messages=6000, n_conversations=600, seed=13))


def _texts(msgs, convs):
    yield from (m["text"] for m in msgs)
    yield from (t["text"] for c in convs for t in c["messages"])


def test_same_seed_same_output_different_seed_different(tmp_path):
    cfg = CorpusConfig(n_messages=800, n_conversations=80, seed=7)
    for name in ("a", "b"):
        assert main(["--out", str(tmp_path / name), "--seed", "7", "--messages", "800",
                     "--conversations", "80"]) == 0
    for f in ("messages.jsonl", "conversations.jsonl", "stats.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert generate_corpus(cfg) == generate_corpus(cfg)
    other = generate_corpus(CorpusConfig(n_messages=800, n_conversations=80, seed=8))
    assert [m["text"] for m in other[0]] != [m["text"] for m in generate_corpus(cfg)[0]]


def test_counts_ids_and_schema(corpus):
    msgs, convs = corpus
    assert len(msgs) == 6000 and len(convs) == 600
    assert msgs[0]["id"] == "g-m000001" and msgs[-1]["id"] == "g-m006000"
    assert convs[0]["id"] == "g-c00001" and len({c["id"] for c in convs}) == 600
    for m in msgs:
        assert set(m) == {"id", "text", "labels", "family", "age_group"}
        assert m["text"].strip() and m["family"]
        assert m["age_group"] in ("<=15", "16-17", "adult", "unknown")
    for c in convs:
        assert c["messages"] and {t["role"] for t in c["messages"]} <= {"client", "counselor"}
        assert any(t["role"] == "client" for t in c["messages"])


def test_labels_valid_sorted_and_consistent(corpus):
    msgs, convs = corpus
    for r in msgs + convs:
        assert r["labels"] == sorted(set(r["labels"]))
        assert set(r["labels"]) <= set(LABEL_IDS)
        if "under_16" in r["labels"]:
            assert "minor" in r["labels"]
        if "loverboy" in r["labels"] or "parent_exploiter" in r["labels"]:
            assert {"sexual_exploitation", "forced_crime"} & set(r["labels"])
    for m in msgs:  # age labels follow the age group of the stated current age
        group = m["age_group"]
        assert ("under_16" in m["labels"]) == (group == "<=15")
        if group in ("<=15", "16-17"):
            assert "minor" in m["labels"]
        if group == "adult":
            assert "minor" not in m["labels"]


def test_every_label_is_well_represented(corpus):
    msgs, convs = corpus
    for records, share in ((msgs, 0.02), (convs, 0.02)):
        for lab in LABEL_IDS:
            n = sum(lab in r["labels"] for r in records)
            assert n >= share * len(records), (lab, n)


def test_negative_share_and_variety(corpus):
    msgs, convs = corpus
    empty = sum(not m["labels"] for m in msgs) / len(msgs)
    assert 0.4 <= empty <= 0.6
    assert 0.1 <= sum(not c["labels"] for c in convs) / len(convs) <= 0.5
    assert len({m["text"] for m in msgs}) >= 0.97 * len(msgs)
    families = {m["family"].split("+")[0] for m in msgs}
    assert len(families) >= 60


def test_past_ages_and_adults_get_no_age_label():
    assert age_labels((13, 13)) == ["minor", "under_16"]
    assert age_labels((16, 17)) == ["minor"]
    assert age_labels((9, 17)) == ["minor"]
    assert age_labels((18, 18)) == [] and age_labels(None) == []
    assert age_group((15, 17)) == "unknown"
    data = load_data()
    past = [t for f in data.addons["age_past"] for t in f.options("self")]
    assert past and all("{age}" not in t for t in past)


def test_conversations_disclose_late(corpus):
    _, convs = corpus
    for c in convs:
        assert c["messages"][1]["role"] == "counselor"
        assert len(c["messages"]) >= 8


def test_non_graphic_guard(corpus):
    msgs, convs = corpus
    for text in _texts(msgs, convs):
        assert not _BLOCK_RE.search(text), "explicit word in the synthetic corpus"


def test_templates_have_no_unknown_slots():
    gen = Generator(CorpusConfig(n_messages=1, n_conversations=1, seed=1))
    data = gen.data
    known = set(data.slots) | {
        "poss", "me", "mij", "mezelf", "ik", "ik_woon", "ze", "haar", "haar_obj", "hij", "hem", "zij", "age_word",
        "parent_obj", "parent_poss", "age", "age_next", "adult_age", "past_age", "since", "victim",
    }
    fams = data.core + data.negatives + tuple(f for fs in data.addons.values() for f in fs)
    texts = [t for f in fams for ts in f.texts.values() for t in ts]
    texts += [f.t for fs in data.slots.values() for f in fs]
    used = {m for t in texts for m in re.findall(r"\{(\w+)\}", t)}
    assert used <= known, used - known


def test_stats_file_has_counts_not_text(tmp_path):
    main(["--out", str(tmp_path), "--messages", "300", "--conversations", "30"])
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert stats["messages"]["count"] == 300
    assert set(stats["messages"]["labels"]) == set(LABEL_IDS)
    assert "text" not in json.dumps(stats).replace("context", "")


def test_speed():
    start = time.perf_counter()
    generate_corpus(CorpusConfig(n_messages=20000, n_conversations=0, seed=3))
    elapsed = time.perf_counter() - start
    print(f"20k messages in {elapsed:.2f} s")
    assert elapsed < 60  # generous: a few seconds on one core


# Every indicator label must come from a piece that states it (family ids name the pieces).
SOURCES = {
    "reprisal_fear": ("rf.", "reprisal.", "q.fear"),
    "siblings_at_risk": ("sib.", "sibling.", "q.siblings"),
    "first_disclosure": ("first.", "q.told_anyone"),
    "acute_danger": ("ad.", "acute.", "q.safe_now"),
    "loverboy": ("lb.", "q.boyfriend"),
    "sextortion": ("sx.",),
    "parent_exploiter": ("pe.", "q.parent_knows"),
}


def test_labels_come_from_pieces_that_state_them(corpus):
    msgs, convs = corpus
    for r in msgs + convs:
        parts = r["family"].split("+")
        for lab, prefixes in SOURCES.items():
            if lab in r["labels"]:
                assert any(p.startswith(prefixes) for p in parts), (lab, r["family"])


def test_parent_exploiter_is_not_online_recruitment(corpus):
    msgs, _ = corpus
    for m in msgs:
        if m["family"].startswith("pe."):
            assert "online_recruitment" not in m["labels"]
        if "online_recruitment" in m["labels"]:
            assert not any(p.startswith("met_offline.") for p in m["family"].split("+"))


def test_contrast_clauses_add_no_label(corpus):
    msgs, _ = corpus
    contrast = ("channel.", "met_offline.", "parent_other.", "sibling_safe.", "fear_other.", "not_acute.")
    seen = 0
    for m in msgs:
        parts = m["family"].split("+")
        if any(p.startswith(contrast) for p in parts):
            seen += 1
            if not any(p.startswith(("acute.", "ad.")) for p in parts):
                assert "acute_danger" not in m["labels"]
    assert seen > 100


def test_acute_conversation_is_not_answered_with_safe(corpus):
    _, convs = corpus
    for c in convs:
        if "acute_danger" in c["labels"]:
            turns = c["messages"]
            for i, t in enumerate(turns[:-1]):
                if t["role"] == "counselor" and "veilig" in t["text"] and turns[i + 1]["role"] == "client":
                    answer = turns[i + 1]["text"].lower()
                    assert not re.match(r"ja\b", answer) or "nee" in answer, answer
