"""Pronouns that point back to a parent: "mijn stiefmoeder ... ze laat mannen betalen voor mij".

Victims name the exploiter once and then say "hij" or "ze". Rules that need a parent beside
the act ("parent_exploiter.arranges_men") then miss it. A third-person pronoun here refers
to the most recent person named before it in the message whose gender and number fit. That
is the recency heuristic at the core of the classic rule-based resolvers; it needs no parser,
and the fallback pipeline has none. A resolved pronoun is a mention in its turn, so "hij ...
hij" chains, also into the next client messages of a chat ("mn stiefmoeder" / "ze laat
mannen betalen"). A pronoun with no fitting person before it refers to someone unnamed,
not to a parent.

Pronouns resolved to a parent become the concept `parent_pronoun` ("voor hem": `for_parent`),
which parent_exploiter rules accept where they accept a named parent. The word lists are
data (data/anaphora.toml).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import Doc

DATA_PATH = Path(__file__).parent / "data" / "anaphora.toml"
ANY = "x"
KEEP_MENTIONS = 6  # people carried to the next client message of a conversation


@dataclass(frozen=True)
class Mention:
    gender: str  # m, f, p or x (fits any pronoun)
    parent: bool

    @property
    def code(self) -> str:
        """Compact, text-free form for a stored conversation state: "f+" is a mother."""
        return self.gender + ("+" if self.parent else "")

    @classmethod
    def from_code(cls, code: str) -> Mention:
        return cls(code[:1], code.endswith("+"))


class PronounResolver:
    CONCEPTS = ("parent_pronoun", "for_parent")  # the concepts it adds

    def __init__(self, path: Path | None = None):
        data = tomllib.loads((path or DATA_PATH).read_text(encoding="utf-8"))
        self.plural_after = frozenset(data["plural_after"])
        self.pronouns = {word: frozenset(genders.split()) for word, genders in data["pronouns"].items()}
        self.persons = {word: gender for gender, words in data["persons"].items() for word in words}

    def __call__(self, doc: Doc, concepts: dict[str, set[tuple[int, int]]]) -> None:
        """Adds `parent_pronoun` and `for_parent` spans to `concepts` (in place). People named
        in earlier client messages come in as doc.user_data["signaal_antecedents"]; the last
        few mentions of this doc go out as doc.user_data["signaal_mentions"] (no text)."""
        # a parent phrase is one mention, of its first person word ("vriend van mijn moeder"
        # is the mother's boyfriend: male, not the mother)
        parent_head: set[int] = set()
        inside_parent: set[int] = set()
        # a parent told, threatened or unaware ("naar mijn moeder", "mijn moeder weet van
        # niks") is a person a pronoun can point to, but not one who acts
        not_acting = {i for start, end in concepts.get("parent_target", ()) for i in range(start, end)}
        for start, _ in concepts.get("parent_unaware", ()):
            sentence = doc[start].sent
            not_acting.update(range(sentence.start, sentence.end))
        for start, end in concepts.get("parent", ()):
            inside_parent.update(range(start, end))
            head = next((i for i in range(start, end) if doc[i].norm_ in self.persons), None)
            if head is not None:
                parent_head.add(head)
        mentions: list[Mention] = list(doc.user_data.get("signaal_antecedents", ()))
        for token in doc:
            gender = self.persons.get(token.norm_)
            if gender and (token.i in parent_head or token.i not in inside_parent):
                mentions.append(Mention(gender, token.i in parent_head and token.i not in not_acting))
                continue
            fits = self.pronouns.get(token.norm_)
            if not fits:
                continue
            if token.i > 0 and doc[token.i - 1].norm_ in self.plural_after:
                fits = fits & {"p"} or fits
            antecedent = next((m for m in reversed(mentions) if m.gender in fits or m.gender == ANY), None)
            if antecedent is None:  # someone not named in this message
                mentions.append(Mention(min(fits), False))
                continue
            gender = antecedent.gender if antecedent.gender != ANY else min(fits)
            mentions.append(Mention(gender, antecedent.parent))
            if antecedent.parent:
                concepts.setdefault("parent_pronoun", set()).add((token.i, token.i + 1))
                if token.i > 0 and doc[token.i - 1].norm_ == "voor":
                    concepts.setdefault("for_parent", set()).add((token.i - 1, token.i + 1))
        doc.user_data["signaal_mentions"] = tuple(mentions[-KEEP_MENTIONS:])
