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
        "parent_obj", "parent_poss", "age", "age_next", "adult_age", "past_age", "since", "victim", "younger_age", "adult_now",
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
    "reprisal_fear": ("rf.", "reprisal.", "q.fear", "sib.threatened"),
    "siblings_at_risk": ("sib.", "sibling.", "q.siblings", "reprisal.sibling_harm"),
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


# ---------------------------------------------------------------- cue words without their usual label

PLATFORM_RE = re.compile(
    r"(?<!ik )(?<!niemand )(?<!je )\b(insta|instagram|ig|snap|snapchat|tiktok|groepsapp|klassenapp|klassengroep|"
    r"discord|roblox|fortnite|minecraft|whatsapp|telegram|facebook|twitch)\b", re.IGNORECASE)
EXPLOITATION = {"sexual_exploitation", "parent_exploiter", "sextortion", "forced_crime"}
IMAGE_RE = re.compile(r"naakt|filmpje|privéfoto|beelden|foto's van (me|mij)\b|mijn foto|foto van mij\b", re.IGNORECASE)


def _client_text(record):
    if "text" in record:
        return record["text"]
    return " ".join(t["text"] for t in record["messages"] if t["role"] == "client")


def _family_texts(fam):
    return [t for ts in fam.texts.values() for t in ts]


def test_platform_mentions_occur_with_and_without_online_recruitment(corpus):
    msgs, convs = corpus
    for records in (msgs, convs):
        plat = [r for r in records if PLATFORM_RE.search(_client_text(r))]
        with_or = [r for r in plat if "online_recruitment" in r["labels"]]
        assert with_or and len(plat) - len(with_or) >= 0.35 * len(plat), (len(plat), len(with_or))
        # also among disclosures: an app as the channel of a threat or of orders is not recruitment
        risk = [r for r in plat if EXPLOITATION & set(r["labels"])]
        no_or = [r for r in risk if "online_recruitment" not in r["labels"]]
        assert len(no_or) >= 0.25 * len(risk), (len(risk), len(no_or))


def test_spread_channel_is_sextortion_not_recruitment():
    data = load_data()
    for fam in data.core + data.negatives + tuple(f for fs in data.addons.values() for f in fs):
        if any("{spread_on}" in t or "{spread_to}" in t for t in _family_texts(fam)):
            assert "sextortion" in fam.labels and "online_recruitment" not in fam.labels, fam.id
        if fam.id.startswith("sx."):
            assert "sextortion" in fam.labels, fam.id


def test_image_threats_are_sextortion_and_other_threats_are_not(corpus):
    data = load_data()
    threat_pieces = [f for f in data.core + tuple(f for fs in data.addons.values() for f in fs)
                     if "reprisal_fear" in f.labels]
    assert len(threat_pieces) >= 10
    for fam in threat_pieces:  # "een foto van ons huis" is fine, an intimate image is sextortion
        for t in _family_texts(fam):
            assert not IMAGE_RE.search(t), (fam.id, t)
    msgs, convs = corpus
    for r in msgs + convs:
        parts = r["family"].split("+")
        assert ("sextortion" in r["labels"]) == any(p.startswith("sx.") for p in parts), r["family"]
    rf_only = [m for m in msgs if "reprisal_fear" in m["labels"] and "sextortion" not in m["labels"]]
    assert len(rf_only) >= 0.03 * len(msgs)


def test_clients_do_not_make_multiple_perpetrators(corpus):
    data = load_data()
    single = [f for f in data.core if f.id in ("se.different_men", "pe.different_men")] + list(data.addons["clients"])
    assert len(single) == 3
    for fam in single:
        assert "multiple_perpetrators" not in fam.labels
    msgs, _ = corpus
    men = re.compile(r"andere mannen|verschillende mannen|klanten", re.IGNORECASE)
    se = [m for m in msgs if men.search(m["text"]) and "sexual_exploitation" in m["labels"]]
    single_perp = [m for m in se if "multiple_perpetrators" not in m["labels"]]
    assert len(single_perp) > 100 and len(single_perp) >= 0.6 * len(se)
    for m in msgs:  # the clients clause adds nothing
        parts = m["family"].split("+")
        if any(p.startswith("clients.") for p in parts):
            assert "sexual_exploitation" in m["labels"]
            if not any(p.startswith(("mp.", "multi.", "se.friends_of_perp", "pe.with_friends", "pe.both_parents",
                                     "lb.prove_love", "q.more_people", "q.only_one")) for p in parts):
                # only a group of exploiters in a slot ("hij en zijn broer") may still add it
                assert "multiple_perpetrators" not in m["labels"] or re.search(
                    r"\b(en|vrienden|broers|gasten|jongens|groep|bende|netwerk|neven|maten|mannen van|twee|drie)\b", m["text"])


def test_siblings_mentioned_innocently_are_not_at_risk(corpus):
    msgs, _ = corpus
    seen = 0
    for m in msgs:
        parts = m["family"].split("+")
        at_risk = any(p.startswith(("sib.", "sibling.", "reprisal.sibling_harm")) for p in parts)
        if any(p.startswith(("sibling_safe.", "neg.siblings", "neg.family_duties")) for p in parts) and not at_risk:
            seen += 1
            assert "siblings_at_risk" not in m["labels"], m["family"]
    assert seen > 200


def test_negatives_carry_only_age_labels(corpus):
    msgs, _ = corpus
    for m in msgs:
        if m["family"].startswith("neg."):
            assert set(m["labels"]) <= {"minor", "under_16"}, m["family"]


_PAST_AGE = re.compile(r"toen (?:ik|ze|hij) (\d+) was|ik was (\d+) toen|op (?:mijn|haar|zijn) (\d+)e\b")
_NOW_AGE = re.compile(r"(?<![(\w])(?:ik ben|ben ik|ze is|hij is|is ze|is hij) (?:nu |inmiddels |pas |nog maar )?(\d+)\b")


def test_past_ages_are_below_the_current_age_and_past_is_not_ongoing():
    msgs, _ = generate_corpus(CorpusConfig(n_messages=6000, n_conversations=0, seed=5, noise=0))
    checked = then_now = 0
    for m in msgs:
        parts = m["family"].split("+")
        if any(p.startswith(("age_past.", "over.", "dur.past")) for p in parts):
            assert "ongoing" not in m["labels"], m["family"]  # only after a disclosure that is over
        past = [int(g) for hit in _PAST_AGE.finditer(m["text"]) for g in hit.groups() if g]
        now = [int(x) for x in _NOW_AGE.findall(m["text"])]
        if past and now and "sinds" not in m["text"]:
            checked += 1
            assert max(past) < min(now), m["text"]
            if "ongoing" not in m["labels"] and not any(p.startswith("dur") for p in parts):
                then_now += 1
                assert "long_duration" not in m["labels"], m["family"]  # no duration stated
    assert checked > 40 and then_now > 20, (checked, then_now)


def test_a_younger_siblings_age_is_not_the_writers():
    data = load_data()
    assert all("{younger_age}" not in f.t for f in data.slots["victim"])
    msgs, _ = generate_corpus(CorpusConfig(n_messages=8000, n_conversations=0, seed=11, noise=0))
    sib_age = re.compile(r"(zusje|broertje)( van|, die is| \(hij is| dat) \d+")
    adults_with_young_sibling = 0
    for m in msgs:
        if not sib_age.search(m["text"]):
            continue
        school_or_minor = any(p in ("age.school", "age.not_yet_18") for p in m["family"].split("+"))
        if m["age_group"] in ("adult", "unknown") and not school_or_minor:
            assert "minor" not in m["labels"], m["text"]
        if m["age_group"] == "adult" and "siblings_at_risk" in m["labels"]:
            adults_with_young_sibling += 1
    assert adults_with_young_sibling >= 3


def test_a_crisis_that_recurs_is_ongoing(corpus):
    msgs, _ = corpus
    recurring = [m for m in msgs if m["family"].startswith("ad.") and "+still." in m["family"]]
    assert recurring and all({"acute_danger", "ongoing"} <= set(m["labels"]) for m in recurring)


def test_a_group_named_by_its_pronoun_only_is_multiple_perpetrators():
    group = load_data().slots["group"]
    bare = [f for f in group if f.t == "ze"]
    assert bare and all(f.g == "pl" and "multiple_perpetrators" in f.labels for f in bare)
