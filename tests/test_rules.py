"""Behaviour of the rule layer: normalisation, ages, durations, qualifiers, conversations."""

import pytest

from signaal.signals.age import find_ages
from signaal.signals.duration import find_durations
from signaal.signals.normalize import lemma_of, normalize_word


@pytest.mark.parametrize("typed,norm", [
    ("mn", "mijn"), ("M'n", "mijn"), ("nie", "niet"), ("ff", "even"), ("sgool", "school"),
    ("helppp", "help"), ("stiefpa", "stiefvader"), ("😭", "huilen"), ("doekoe", "geld"),
])
def test_chatspeak_is_normalised(typed, norm):
    assert normalize_word(typed) == norm


@pytest.mark.parametrize("norm,lemma", [
    # verb forms take the lookup lemma (spacy-lookups-data), so LEMMA rules cover all tenses
    ("gedreigd", "dreigen"), ("weet", "weten"), ("afgepakt", "afpakken"), ("regelt", "regelen"),
    # a noun's number and diminutive mean something: they stay as typed
    ("loverboys", "loverboys"), ("telefoons", "telefoons"), ("vriendje", "vriendje"),
    ("filmpje", "filmpje"), ("tekeningen", "tekeningen"),
])
def test_lemmas(norm, lemma):
    assert lemma_of(norm) == lemma


@pytest.mark.parametrize("text,word,norm,quoted", [
    ("hij noemt ze zijn 'vrienden' en ik moet mee", "'vrienden'", "vrienden", True),
    ('dat is mijn "werk" zegt hij', '"werk"', "werk", True),
    ("een ‘vriend van de familie’ komt", "‘vriend", "vriend", True),  # a phrase keeps its words
    ("'s avonds en 't weekend", "'s", "'s", False),  # contractions are not quotes
    ("ik zei 'ok'", "ok", "oke", False),  # too short to be a quoted euphemism: left alone
])
def test_scare_quotes_merge_into_the_word(analyzer, text, word, norm, quoted):
    doc = analyzer.nlp(text)
    token = next(t for t in doc if t.text == word)
    assert (token.norm_, token._.signaal_quoted) == (norm, quoted)
    assert doc.text == text  # offsets into what the client typed are unchanged


def test_scare_quoted_euphemism_matches_like_the_bare_word(analyzer):
    bare = analyzer.analyze("mn moeder zegt dat ik lief moet zijn voor haar vrienden, die betalen haar")
    quoted = analyzer.analyze("mn moeder zegt dat ik 'lief' moet zijn voor haar 'vrienden', die betalen haar")
    assert {"sexual_exploitation", "parent_exploiter"} <= set(bare.labels) == set(quoted.labels)
    evidence = [e.text for f in quoted.flags for e in f.evidence]
    assert any("'vrienden'" in text for text in evidence)  # the quotes are part of the span


@pytest.mark.parametrize("text,age", [
    ("ik ben 14", 14), ("kben 15 jr", 15), ("ik zit in groep 8", 12), ("3 havo", 14),
    ("bijna 16", 15), ("ik ben bijna 16", 15), ("mn dochter van 13", 13), ("16", 16),
    ("ik zit in de brugklas", 12),
])
def test_current_age(text, age):
    ages = [m.age for m in find_ages(text)]
    assert (ages[0] if ages else None) == age


@pytest.mark.parametrize("text,age", [
    ("een bewoonster van 16 wordt steeds opgehaald", 16), ("mijn speler, 14, vertelde het", 14),
    ("15 ook", 15), ("16 net als ik", 16),
])
def test_ages_of_people_written_about_and_short_answers(text, age):
    assert [m.age for m in find_ages(text)] == [age]


def test_coordinated_ages_of_several_children():
    assert [m.age for m in find_ages("hij heeft twee zusjes van 10 en 13")] == [10, 13]


def test_an_adults_age_about_someone_else_keeps_the_writers_school_year(analyzer):
    labels = analyzer.analyze_record(
        {"text": "ik zit in groep 8 en een jongen van 20 van tiktok stuurt me elke dag"}).labels
    assert {"minor", "under_16"} <= set(labels)
    labels = analyzer.analyze_record({"text": "ik ben 19 en zit in de 2e klas van het mbo"}).labels
    assert "minor" not in labels


@pytest.mark.parametrize("text", ["toen ik 13 was", "een man van 40", "om 14:00", "50 euro",
                                  "sinds mijn 12e", "ik heb 3 klanten"])
def test_not_a_current_age(text):
    assert not [m for m in find_ages(text) if m.age < 18]


@pytest.mark.parametrize("text,long", [
    ("al 2 jaar", True), ("jarenlang", True), ("ik ben 15 en het gaat al sinds mijn 12e", True),
    ("al ruim een jaar", True), ("een half jaar", False), ("bijna een jaar", False),
    ("al een paar maanden", False), ("ik ben 15 jaar", False),
    ("vanaf haar 12e tot haar 14e", True), ("van mijn 15e tot mijn 15e", False),
    ("hij liet me jaren voor hem werken", True), ("jaren geleden", False),
    ("zo lang ik me kan herinneren", True), ("sinds de winter van 3 jaar terug", True),
])
def test_duration(text, long):
    assert bool(find_durations(text)) is long


def labels(analyzer, text):
    return set(analyzer.analyze(text).labels)


def test_core_example(analyzer):
    result = analyzer.analyze("ik ben 14 en mijn stiefvader laat mannen bij mij komen, hij pakt het geld")
    assert {"parent_exploiter", "sexual_exploitation", "minor", "under_16"} <= set(result.labels)
    assert result.priority == "urgent"
    assert result.reason == "urgent: ouder als uitbuiter + minderjarig"


@pytest.mark.parametrize("text", [
    "we hadden op school les over loverboys",
    "wat is een loverboy?",
    "niemand dwingt me om wiet te verkopen, ik doe het zelf",
    "mn moeder regelt altijd mijn afspraken bij de tandarts",
    "stel dat iemand je naaktfoto's zou verspreiden, wat dan?",
])
def test_no_exploitation_flags_for_negated_hypothetical_informational(analyzer, text):
    found = labels(analyzer, text)
    assert not found & {"sexual_exploitation", "parent_exploiter", "sextortion", "forced_crime",
                        "loverboy"}


def test_experiencer_friend_counts(analyzer):
    found = labels(analyzer, "mn vriendin van 16 moet van haar vriendje met mannen mee voor geld")
    assert {"sexual_exploitation", "minor"} <= found


def test_past_exploitation_is_not_ongoing(analyzer):
    found = labels(analyzer, "vroeger moest ik van mn stiefvader met mannen mee. hij zit nu vast.")
    assert "sexual_exploitation" in found and "ongoing" not in found


def test_sextortion(analyzer):
    found = labels(analyzer, "hij dreigt mijn naaktfoto's te verspreiden als ik niet betaal")
    assert "sextortion" in found


def test_counselor_messages_are_never_flagged(analyzer):
    result = analyzer.analyze_conversation([
        {"role": "counselor", "text": "Moet je met mannen mee voor geld? Dreigt hij je foto's te delen?"},
    ])
    assert result.labels == []


def test_short_answer_inherits_question(analyzer):
    conv = analyzer.conversation("c1")
    conv.add("client", "ik moet soms met mannen mee die bij ons thuis komen")
    conv.add("counselor", "Dat klinkt heel naar. Weet je moeder ervan?")
    update = conv.add("client", "zij regelt het juist")
    assert "parent_exploiter" in update.result.labels
    assert [f.label for f in update.new_flags] == ["parent_exploiter"]
    evidence = update.result.flag("parent_exploiter").evidence[0]
    assert evidence.message == 2 and 0 <= evidence.start < evidence.end <= len("zij regelt het juist")
    conv.add("counselor", "Mag ik vragen hoe oud je bent?")
    assert {"minor"} <= set(conv.add("client", "16").result.labels)


@pytest.mark.parametrize("answer, ongoing", [("ja", True), ("ja elke week", True), ("nee, het is voorbij", False)])
def test_an_affirmed_still_happening_question_is_ongoing(analyzer, answer, ongoing):
    conv = analyzer.conversation()
    conv.add("client", "vorig jaar moest ik met zijn vrienden mee naar een kamer en die betaalden hem")
    assert "ongoing" not in conv.result().labels
    conv.add("counselor", "Dank je dat je het vertelt. Gebeurt dit nu nog?")
    assert ("ongoing" in conv.add("client", answer).result.labels) is ongoing


def test_a_still_happening_question_needs_exploitation_first(analyzer):
    conv = analyzer.conversation()
    conv.add("client", "ik ben 15 en ik word gepest")
    conv.add("counselor", "Gebeurt dit nu nog?")
    assert "ongoing" not in conv.add("client", "ja").result.labels


@pytest.mark.parametrize("answer, counted", [("ja", True), ("nee, het is voor een werkstuk", False)])
def test_a_possibility_becomes_a_disclosure_when_the_client_says_it_is_theirs(analyzer, answer, counted):
    import json

    from signaal.signals.pipeline import Conversation

    conv = analyzer.conversation("c-s")
    conv.add("client", "stel dat mijn vriend me met mannen laat meegaan voor geld, is dat dan uitbuiting?")
    assert "sexual_exploitation" not in conv.result().labels  # a possibility, not yet a disclosure
    state = json.loads(json.dumps(conv.to_state()))  # kept across a restart, without text
    assert state["uncertain"] and "mannen" not in json.dumps(state)
    conv = Conversation.from_state(analyzer, "c-s", state)
    conv.add("counselor", "Dank je voor je vraag. Gaat het om jou?")
    assert ("sexual_exploitation" in conv.add("client", answer).result.labels) is counted


def test_bare_number_is_not_an_age_after_other_questions(analyzer):
    conv = analyzer.conversation()
    conv.add("counselor", "Hoeveel mannen waren er?")
    assert "minor" not in conv.add("client", "3").result.labels
    conv.add("counselor", "Hoeveel waren het er?")
    assert "minor" not in conv.add("client", "allebei 16").result.labels
    conv.add("counselor", "Hoeveel keer is dat gebeurd?")
    assert "minor" not in conv.add("client", "12. de laatste keer was gisteren").result.labels
    conv.add("counselor", "En hoe oud ben jij?")
    assert "under_16" in conv.add("client", "14. hij is veel ouder").result.labels


def test_short_age_answer_for_two(analyzer):
    conv = analyzer.conversation()
    conv.add("counselor", "Hoe oud zijn jullie, als ik mag vragen?")
    assert "minor" in conv.add("client", "allebei 16").result.labels


def test_evidence_is_redacted(analyzer):
    result = analyzer.analyze("mn moeder regelt mannen voor mij, bel 0612345678 of mail x.y@example.nl")
    texts = " ".join(e.text for f in result.flags for e in f.evidence)
    assert "0612345678" not in texts and "x.y@example.nl" not in texts


@pytest.mark.parametrize("text", ["", " ", "\x00\x01", "🙂" * 1000, "a" * 200_000,
                                  "This is English text about nothing.", "\ud800"[:0] + "é" * 10])
def test_odd_input_is_safe(analyzer, text):
    result = analyzer.analyze(text)
    assert result.priority in ("urgent", "high", "normal")


def test_huge_text_keeps_offsets(analyzer):
    text = "hallo. " * 2000 + "mijn stiefvader regelt mannen voor mij."
    result = analyzer.analyze(text)
    flag = result.flag("parent_exploiter")
    assert flag is not None
    e = flag.evidence[0]
    assert "stiefvader" in text[e.start:e.end]


def test_conversation_state_roundtrip_holds_no_text(analyzer):
    import json

    from signaal.signals.pipeline import Conversation

    conv = analyzer.conversation("c-x")
    conv.add("client", "een jongen van insta heeft een foto van mij, bel 0612345678")
    conv.add("counselor", "Wat zegt hij dat hij gaat doen?")
    conv.add("client", "anders stuurt hij hem naar iedereen")
    state = conv.to_state()
    dumped = json.dumps(state)
    assert "insta" not in dumped and "0612345678" not in dumped and "iedereen" not in dumped
    restored = Conversation.from_state(analyzer, "c-x", json.loads(dumped))
    assert restored.result().labels == conv.result().labels
    assert restored.result().priority == conv.result().priority
    # the restored conversation goes on where it was: the photo seen earlier still counts
    later = restored.add("client", "en als ik niet betaal zet hij hem online")
    assert "sextortion" in later.result.labels


def test_a_pronoun_points_back_to_a_parent_named_in_an_earlier_message(analyzer):
    import json

    from signaal.signals.pipeline import Conversation

    conv = analyzer.conversation("c-p")
    conv.add("client", "ik ben weggelopen, ik ga niet terug")
    conv.add("client", "mn stiefmoeder")
    state = json.loads(json.dumps(conv.to_state()))
    assert state["mentions"] == ["f+"]  # who was named, never the words
    restored = Conversation.from_state(analyzer, "c-p", state)
    for c in (conv, restored):
        later = c.add("client", "ze laat mannen betalen voor mij")
        assert {"parent_exploiter", "sexual_exploitation"} <= set(later.result.labels)
    # someone else named in between takes the pronoun
    other = analyzer.conversation("c-q")
    other.add("client", "mn stiefmoeder weet van niks")
    other.add("client", "mijn vriendje heeft nu een andere vriendin")
    assert "parent_exploiter" not in other.add("client", "ze laat mannen betalen voor mij").result.labels


def test_pattern_anchors_keep_only_required_words():
    from signaal.signals.concepts import pattern_anchors

    pattern = [{"NORM": {"IN": ["doen", "doet"]}}, {"NORM": "ze", "OP": "?"},
               {"NORM": {"IN": ["me", "mij"]}, "OP": "{0,3}"}, {"LEMMA": "pijn", "OP": "{1,2}"},
               {"IS_PUNCT": True}, {"NORM": {"NOT_IN": ["niet"]}}]
    assert pattern_anchors(pattern) == [("NORM", frozenset({"doen", "doet"})), ("LEMMA", frozenset({"pijn"}))]


def test_anchor_prefilter_finds_what_one_matcher_over_all_patterns_finds(analyzer):
    """The tagger runs a token pattern only when its required words are in the doc; that
    must never lose a match a plain Matcher over every pattern finds."""
    from spacy.matcher import Matcher

    from signaal.signals.concepts import load_concepts
    from signaal.training.generate import CorpusConfig, generate_corpus

    _, patterns, _, _ = load_concepts()
    every_pattern = Matcher(analyzer.nlp.vocab)
    for concept, token_patterns in patterns.items():
        every_pattern.add(concept, token_patterns)
    messages, _ = generate_corpus(CorpusConfig(n_messages=1500, n_conversations=0, seed=5))
    found = 0
    for record in messages:
        doc = analyzer.nlp(record["text"])
        expected = {(analyzer.nlp.vocab.strings[key], start, end) for key, start, end in every_pattern(doc)}
        tagged = {(concept, start, end) for concept, spans in analyzer.concepts(doc).items()
                  for start, end in spans}
        assert expected <= tagged
        found += len(expected)
    assert found > 200  # the sample does exercise the patterns


@pytest.mark.parametrize("text,tokens", [
    ("hij slaat me.", ["hij", "slaat", "me", "."]), ("mijn ex.", ["mijn", "ex", "."]),
    ("bijv. dit", ["bijv.", "dit"]), ("blz. 4", ["blz.", "4"]),
])
def test_chat_words_ending_a_sentence_are_not_abbreviations(analyzer, text, tokens):
    assert [t.text for t in analyzer.nlp.make_doc(text)] == tokens


def test_concept_implications_name_known_concepts_and_apply(analyzer):
    from signaal.signals.concepts import load_concepts

    phrases, patterns, _, implied = load_concepts()
    known = set(phrases) | set(patterns)
    assert implied and all({rule["concept"], rule["from"], rule["when"]} <= known for rule in implied)
    doc = analyzer.nlp("ik woon bij mijn oom en hij laat me pakketjes wegbrengen")
    assert "parent" in analyzer.concepts(doc)
    assert "parent" not in analyzer.concepts(analyzer.nlp("mijn oom laat me pakketjes wegbrengen"))


class _RecordingModel:
    """Stands in for a model: records the rule features the live pipeline hands over."""

    name, thresholds, rule_floor = "recorder", {}, {}

    def __init__(self):
        self.features: list[dict] = []

    def remember_rule_features(self, text, features):
        self.features.append(dict(features))

    def score_conversation(self, texts):
        return {}


def test_live_conversation_hands_the_model_what_training_sees(analyzer):
    from signaal.signals.pipeline import Analyzer

    model = _RecordingModel()
    live = Analyzer(nlp=analyzer.nlp, policy=analyzer.policy, model=model,
                    redactor=analyzer.redactor, pipeline_info=analyzer.pipeline_info)
    told, negated = "mijn moeder regelt mannen voor mij", "mijn moeder regelt nooit mannen voor mij"
    live.conversation().add("client", told)
    first = model.features[-1]
    live.conversation().add("client", negated)
    second = model.features[-1]
    # a chat's first message: the same features a model is trained on (no context yet)
    assert first == analyzer.rule_features(told)
    assert second == analyzer.rule_features(negated)
    assert first["parent_exploiter"] > 0 and "~parent_exploiter" not in first
    assert "parent_exploiter" not in second and second["~parent_exploiter"] > 0
    assert first["@parent"] == second["@parent"] == 1.0
    assert all(isinstance(v, float) for v in first.values())  # names and numbers, no text


def test_token_patterns_take_word_lists_from_concepts():
    """"@name" in a pattern's IN list is concept `name`'s one-word phrases, normalised: the
    word list lives in concepts.toml once."""
    from signaal.signals.concepts import load_concepts

    phrases, patterns, _, _ = load_concepts()
    first = patterns["perp_pair"][0][0]["NORM"]["IN"]
    expected = {normalize_word(w) for w in phrases["parent"] + phrases["relative"] if " " not in w}
    assert set(first) == expected and "@parent" not in first
    sibling_words = patterns["sibling_not_at_risk"][1][0]["NORM"]["IN"]
    assert "broertje" in sibling_words and "kleine broer" not in sibling_words
    assert not any(w.startswith("@") for pats in patterns.values() for pat in pats for token in pat
                   for v in token.values() if isinstance(v, dict) for w in v.get("IN", ()))


def test_rule_windows_skip_short_parenthetical_asides_only(analyzer):
    from signaal.signals.detectors import _positions

    doc = analyzer.nlp("mijn vriend (22 jaar) laat me")
    assert _positions(doc)[len(doc)] == len(doc) - 4  # "(", "22", "jaar", ")" not counted
    unclosed = analyzer.nlp("mijn vriend ( laat me " + "heel " * 20 + "vaak")
    assert _positions(unclosed)[len(unclosed)] == len(unclosed)
