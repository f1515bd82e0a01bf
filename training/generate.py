"""Seeded generator of a synthetic Dutch training corpus: client messages and conversations.

The text comes from template families in ``training/data/*.toml`` (written from the label
definitions in ../shared/LABELS.md, never from evaluation sentences), composed with slot
fillers, combined with add-on clauses (age, duration, online contact, fear, siblings, ...)
and roughened with seeded chat noise. Every label follows from the pieces a text is built
from, so the labels are consistent with the definitions by construction.

    python -m signaal.training.generate --out DIR --seed 13 --messages 20000 --conversations 2000

Same seed, same output, byte for byte (one ``random.Random`` drives everything; nothing
iterates over sets or uses the process hash seed).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from signaal.signals.labels import LABEL_IDS

DATA_DIR = Path(__file__).parent / "data"
SLOT_RE = re.compile(r"\{(\w+)\}")
EXPLOITATION = ("sexual_exploitation", "parent_exploiter", "sextortion", "forced_crime")
SE_OR_FC = ("sexual_exploitation", "forced_crime")

# Share of the core (risk) messages per family group (prefix of the family id). Groups are
# weighted, not families, so that adding paraphrase families does not shift the label mix.
CORE_GROUP_WEIGHTS = {
    "se": 0.19, "pe": 0.14, "fc": 0.17, "sx": 0.13, "lb": 0.11, "or": 0.06, "mp": 0.06,
    "ad": 0.07, "rf": 0.05, "sib": 0.03,
}
NEGATIVE_FAMILY_WEIGHTS = {
    "neg.greeting": 0.3, "neg.counselor_like": 0.6,
    # cue-word contrasts (apps, siblings, duties): enough to unlearn the cue, not to crowd out the rest
    "neg.platform_bullying": 0.5, "neg.platform_news": 0.5, "neg.lover_online": 0.5, "neg.gaming": 0.4,
    "neg.approach_refused": 0.6, "neg.persistent_contact": 0.6, "neg.siblings_daily": 0.6, "neg.family_duties": 0.8,
}
NO_AGE_FAMILIES = ("neg.greeting", "neg.counselor_like")  # no "ik ben 14" after "Ben je nu veilig?"

# Add-on groups that may follow a core family, with their weights.
ADDON_WEIGHTS = {
    "dur": 0.22, "dur_past": 0.22, "online": 0.16, "reprisal": 0.15, "first": 0.15,
    "sibling": 0.10, "acute": 0.09, "multi": 0.08, "age_past": 0.15, "still": 0.08, "over": 0.12,
    # contrast clauses without a label: same words, not the indicator
    "channel": 0.08, "met_offline": 0.08, "parent_other": 0.09, "sibling_safe": 0.08,
    "fear_other": 0.07, "not_acute": 0.07, "filler": 0.1,
    "clients": 0.08,  # "het zijn steeds andere mannen": clients are not multiple_perpetrators
}
# Pairs that contradict each other in one message.
EXCLUSIVE = {"online": "met_offline", "met_offline": "online", "sibling": "sibling_safe",
             "sibling_safe": "sibling", "acute": "not_acute", "not_acute": "acute",
             "reprisal": "fear_other", "fear_other": "reprisal"}
PRESENT_ONLY = ("dur", "reprisal", "sibling", "multi", "still", "channel", "clients")  # still going on
# Only after a past disclosure: "het begon toen ik 12 was" next to "ik ben nu 15" and a present
# disclosure would state a duration of years without long_duration.
PAST_ONLY = ("dur_past", "over", "age_past")
# Contrast clauses in the present tense ("mn zusje vraagt waarom ik steeds weg ben"): not after a
# disclosure that is over, where they would say it still happens.
NOT_AFTER_PAST = ("parent_other", "sibling_safe")
AGE_WORDS = {9: "negen", 10: "tien", 11: "elf", 12: "twaalf", 13: "dertien", 14: "veertien",
             15: "vijftien", 16: "zestien", 17: "zeventien", 18: "achttien", 19: "negentien",
             20: "twintig", 21: "eenentwintig", 22: "tweeentwintig", 23: "drieentwintig",
             24: "vierentwintig", 25: "vijfentwintig", 26: "zesentwintig"}
# Current ages 9..25 (age of a client or the person written about) and their weights.
AGE_WEIGHTS = {9: 1, 10: 1, 11: 2, 12: 3, 13: 5, 14: 7, 15: 7, 16: 7, 17: 6,
               18: 3, 19: 3, 20: 2, 21: 2, 22: 2, 23: 1, 24: 1, 25: 1}
ADDON_LABEL = {
    "online": "online_recruitment", "reprisal": "reprisal_fear", "first": "first_disclosure",
    "sibling": "siblings_at_risk", "acute": "acute_danger", "multi": "multiple_perpetrators",
}
SEPARATORS = (". ", ". ", ". ", ", ", ", ", " en ", " ", "!! ", "... ", ". ")


@dataclass(frozen=True)
class CorpusConfig:
    n_messages: int = 20000
    n_conversations: int = 2000
    seed: int = 13
    negative_share: float = 0.66  # messages from hard-negative/ordinary families (some get an age)
    third_person_share: float = 0.18  # parent, teacher, friend or youth worker writing about a child
    past_share: float = 0.2  # core messages about exploitation that is over
    age_share_risk: float = 0.45  # messages that state a current age
    age_share_negative: float = 0.2
    negative_conversation_share: float = 0.3
    noise: float = 1.0  # scales every chat-noise probability (0 = clean text)


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Filler:
    t: str
    g: str = "m"
    labels: tuple[str, ...] = ()
    age: tuple[int, int] | None = None


@dataclass(frozen=True)
class Family:
    id: str
    labels: tuple[str, ...]
    texts: dict[str, tuple[str, ...]]  # self, self_past, third, third_past, any
    ongoing: bool = True
    online: bool = True  # a stranger/partner exploits (not a parent): online/multi add-ons fit
    group: str = ""
    age: tuple[int, int] | None = None

    def options(self, person: str, past: bool = False) -> tuple[str, ...]:
        key = person + ("_past" if past else "")
        return self.texts.get(key, ()) + (() if past else self.texts.get("any", ()))


@dataclass(frozen=True)
class Data:
    slots: dict[str, tuple[Filler, ...]]
    core: tuple[Family, ...]
    negatives: tuple[Family, ...]
    addons: dict[str, tuple[Family, ...]]
    conversation: dict
    noise: dict


def _filler(raw: str | dict) -> Filler:
    if isinstance(raw, str):
        return Filler(raw)
    return Filler(raw["t"], raw.get("g", "m"), tuple(raw.get("labels", ())),
                  tuple(raw["age"]) if "age" in raw else None)


def _family(raw: dict, group: str = "") -> Family:
    texts = {k: tuple(raw[k]) for k in ("self", "self_past", "third", "third_past", "any") if k in raw}
    return Family(raw["id"], tuple(raw.get("labels", ())), texts, raw.get("ongoing", True),
                  raw.get("online", True), raw.get("group", group),
                  tuple(raw["age"]) if "age" in raw else None)


def _toml(name: str) -> dict:
    return tomllib.loads((DATA_DIR / name).read_text(encoding="utf-8"))


@cache
def load_data() -> Data:
    slots = {name: tuple(_filler(f) for f in fillers) for name, fillers in _toml("slots.toml")["slot"].items()}
    core = tuple(_family(f) for f in _toml("core.toml")["family"])
    negatives = tuple(_family(f) for f in _toml("negatives.toml")["family"])
    addons: dict[str, list[Family]] = {}
    for raw in _toml("addons.toml")["addon"]:
        fam = _family(raw)
        addons.setdefault(fam.group, []).append(fam)
    data = Data(slots, core, negatives, {g: tuple(f) for g, f in addons.items()},
                _toml("conversation.toml"), _toml("noise.toml"))
    _check(data)
    return data


def _check(data: Data) -> None:
    """Fail early on a data bug: unknown labels or duplicate family ids."""
    families = data.core + data.negatives + tuple(f for fs in data.addons.values() for f in fs)
    ids = [f.id for f in families]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate family ids: {dupes}")
    labels = [lab for f in families for lab in f.labels]
    labels += [lab for fs in data.slots.values() for f in fs for lab in f.labels]
    unknown = sorted(set(labels) - set(LABEL_IDS))
    if unknown:
        raise ValueError(f"unknown labels in training data: {unknown}")


# ---------------------------------------------------------------------------- rendering


def _weighted(rng: random.Random, items: Sequence, weights: Sequence[float]):
    return rng.choices(items, weights=weights, k=1)[0]


def age_labels(age_range: tuple[int, int] | None) -> list[str]:
    """minor for a current age 9-17, under_16 (always with minor) for 15 or younger."""
    if age_range is None:
        return []
    lo, hi = age_range
    if lo >= 9 and hi <= 17:
        return ["minor", "under_16"] if hi <= 15 else ["minor"]
    return []


def age_group(age_range: tuple[int, int] | None) -> str:
    if age_range is None:
        return "unknown"
    lo, hi = age_range
    if hi <= 15:
        return "<=15"
    if lo >= 16 and hi <= 17:
        return "16-17"
    if lo >= 18:
        return "adult"
    return "unknown"


class _Ctx:
    """State of one message or conversation: who is who, the age, the labels so far."""

    ENTITY = {"perp": "perp", "perp_s": "perp", "group": "perp", "lover": "lover", "parent": "parent"}

    def __init__(self, data: Data, rng: random.Random, person: str, risk: bool):
        self.data, self.rng, self.person, self.risk = data, rng, person, risk
        self.labels: set[str] = set()
        self.age_range: tuple[int, int] | None = None
        self.age_stated = False  # the current age is written somewhere in the text
        self.need_age_statement = False  # "sinds mijn 12e" needs "ik ben nu 15" to mean a duration
        self.past_age: int | None = None  # one age in the past per text, below the current age
        self.entities: dict[str, Filler] = {}
        self.agent: Filler | None = None  # first exploiter mentioned: target of {hij}/{hem}
        self.poss_self = rng.choice(("mijn", "mijn", "mijn", "mn", "m'n"))
        self.victim: Filler | None = None
        self.victim_said = False
        self.parent_g = "f"  # gender of the parent a counselor asks about
        if person == "third":
            self.victim = rng.choice(data.slots["victim"])

    # -- pronouns
    def _vg(self) -> str:
        return self.victim.g if self.victim else "f"

    def _agent_g(self) -> str:
        return self.agent.g if self.agent else "m"

    def render(self, template: str) -> str:
        return SLOT_RE.sub(self._slot, template)

    def _slot(self, m: re.Match) -> str:  # noqa: C901 - one flat dispatch is easiest to read
        name = m.group(1)
        third, vg, ag = self.person == "third", self._vg(), self._agent_g()
        simple = {
            "poss": ("haar" if vg == "f" else "zijn") if third else self.poss_self,
            "me": ("haar" if vg == "f" else "hem") if third else "me",
            "mij": ("haar" if vg == "f" else "hem") if third else "mij",
            "mezelf": "zichzelf" if third else "mezelf",
            "ik": ("ze" if vg == "f" else "hij") if third else "ik",
            "ik_woon": ("ze woont" if vg == "f" else "hij woont") if third else "ik woon",
            "ze": ("ze" if vg == "f" else "hij") if third else "ik",
            "haar": ("haar" if vg == "f" else "zijn") if third else self.poss_self,
            "haar_obj": ("haar" if vg == "f" else "hem") if third else "me",
            "hij": {"f": "ze", "pl": "ze"}.get(ag, "hij"),
            "hem": {"f": "haar", "pl": "hen"}.get(ag, "hem"),
            "zij": "zij" if self.parent_g == "f" else "hij",
        }
        if name in simple:
            return simple[name]
        if name in ("parent_obj", "parent_poss"):
            g = self.entities["parent"].g if "parent" in self.entities else "f"
            return {"parent_obj": {"f": "haar"}.get(g, "hem"), "parent_poss": {"f": "haar"}.get(g, "zijn")}[name]
        if name == "age":
            return str(self._age()[1])
        if name == "age_next":
            return str(self._age()[1] + 1)
        if name == "age_word":
            return AGE_WORDS[self._age()[1]]
        if name == "adult_age":
            return str(self.rng.randint(19, 45))
        if name == "adult_now":  # the writer's own current age, adult ("ik ben nu 22"): no minor
            if not self.age_stated:
                a = self.rng.randint(18, 25)
                self.set_age((a, a))
            return str(self._age()[1])
        if name == "past_age":  # below the current age, stated or not ("toen ik 14 was ... nu ben ik 16")
            if self.past_age is None:
                top = min(16, self._current(12) - 1)
                self.past_age = self.rng.randint(min(9, top), top)
            return str(self.past_age)
        if name == "younger_age":  # a younger sibling's age; never the age of the person written about
            current = self._current(12)
            return str(self.rng.randint(max(4, current - 9), max(4, min(17, current - 1))))
        if name == "since":
            return str(self._since())
        if name == "victim":
            if self.victim_said or self.victim is None:
                return self.render("{ze}")
            self.victim_said = True
            return self.render(self.victim.t)
        if name in self.ENTITY:
            return self._entity(name)
        return self._pool(name)

    def _entity(self, name: str) -> str:
        key = self.ENTITY[name]
        if key in self.entities:  # second mention: a pronoun
            g = self.entities[key].g
            if name == "perp":
                return {"f": "haar", "pl": "hen"}.get(g, "hem")
            return {"f": "ze", "pl": "ze"}.get(g, "hij")
        filler = self.rng.choice(self.data.slots[name])
        self.entities[key] = filler
        if self.agent is None:
            self.agent = filler
        if self.risk:
            self.labels.update(filler.labels)
        return self.render(filler.t)

    def _pool(self, name: str) -> str:
        pool = self.data.slots.get(name)
        if pool is None:
            raise KeyError(f"unknown slot {{{name}}}")
        if not self.since_possible():
            pool = tuple(f for f in pool if "{since}" not in f.t) or pool
        if self.past_age is not None:  # "toen ik 14 was" is not followed by "ik zit in groep 8"
            pool = tuple(f for f in pool if f.age is None or f.age[0] > self.past_age) or pool
        filler = self.rng.choice(pool)
        if filler.age is not None:  # a school year states the current age
            self.age_range, self.age_stated = filler.age, True
        text = self.render(filler.t)
        if self.risk:  # rendered first: "sinds mijn {since}e" must not label a bare duration
            self.labels.update(filler.labels)
        return text

    def _age(self) -> tuple[int, int]:
        if self.age_range is None:
            ages = list(AGE_WEIGHTS)
            a = _weighted(self.rng, ages, [AGE_WEIGHTS[x] for x in ages])
            self.age_range = (a, a)
        self.age_stated = True
        return self.age_range

    def _current(self, minimum: int) -> int:
        """The current age without stating it (a later "ik ben nu 16" then agrees with a past age)."""
        if self.age_range is None:
            ages = [a for a in AGE_WEIGHTS if a >= minimum]
            a = _weighted(self.rng, ages, [AGE_WEIGHTS[x] for x in ages])
            self.age_range = (a, a)
        return self.age_range[0]

    def since_possible(self) -> bool:
        """A start age a year before the current one needs a current age of 10 or more."""
        return self.age_range is None or self.age_range[0] >= 10

    def _since(self) -> int:
        """Start age of "sinds mijn {since}e": at least a year before the current age."""
        if self.age_range is None:
            a = self.rng.randint(12, 22)
            self.age_range = (a, a)
        if not self.age_stated:
            self.need_age_statement = True
        current = self.age_range[0]
        return max(9, current - self.rng.randint(1, 4))

    def set_age(self, age_range: tuple[int, int]) -> None:
        self.age_range, self.age_stated = age_range, True


# ---------------------------------------------------------------------------- messages


class Generator:
    def __init__(self, config: CorpusConfig, data: Data | None = None):
        self.cfg = config
        self.data = data or load_data()
        self.rng = random.Random(config.seed)
        groups: dict[str, list[Family]] = {}
        for fam in self.data.core:
            groups.setdefault(fam.id.split(".")[0], []).append(fam)
        unknown = sorted(set(groups) - set(CORE_GROUP_WEIGHTS))
        if unknown:
            raise ValueError(f"core family groups without a weight: {unknown}")
        self.core_groups = groups
        self.core_group_names = sorted(groups)
        self.core_group_weights = [CORE_GROUP_WEIGHTS[g] for g in self.core_group_names]
        self.neg_weights = [NEGATIVE_FAMILY_WEIGHTS.get(f.id, 1.0) for f in self.data.negatives]
        self.noise = _Noise(self.data.noise, config.noise)

    # -- choosing
    def _core_family(self, person: str) -> Family:
        while True:
            group = _weighted(self.rng, self.core_group_names, self.core_group_weights)
            fam = self.rng.choice(self.core_groups[group])
            if fam.options(person) or person == "self":
                return fam

    def _negative_family(self, person: str) -> Family:
        while True:
            fam = _weighted(self.rng, self.data.negatives, self.neg_weights)
            if fam.options(person):
                return fam

    def _addon_text(self, ctx: _Ctx, group: str) -> tuple[str, Family] | None:
        fams = self.data.addons.get(group, ())
        options = [(t, f) for f in fams for t in f.options(ctx.person)]
        if ctx._agent_g() == "pl":  # "hij staat voor de deur" does not fit a group
            options = [(t, f) for t, f in options if "{hij}" not in t and "{hem}" not in t]
        if not ctx.since_possible():
            options = [(t, f) for t, f in options if "{since}" not in t]
        if ctx.age_stated:  # the age is said once ("nu ben ik {age}" after "toen ik 14 was, nu ben ik 16")
            options = [(t, f) for t, f in options if "{age}" not in t]
        if not options:
            return None
        text, fam = self.rng.choice(options)
        return text, fam

    # -- composing
    def compose(self, ctx: _Ctx, risk: bool, max_addons: int = 3) -> tuple[list[tuple[str, str]], Family]:
        """The clauses of one client message as (text, family id), labels collected in ctx."""
        rng = self.rng
        if risk:
            fam = self._core_family(ctx.person)
            present = bool(fam.options(ctx.person) or fam.options("self"))  # some families are told in the past only
            past = bool(fam.options(ctx.person, past=True)) and (not present or rng.random() < self.cfg.past_share)
            options = fam.options(ctx.person, past) or fam.options("self", past)
            ctx.person = ctx.person if fam.options(ctx.person, past) else "self"
        else:
            fam = self._negative_family(ctx.person)
            past = False
            options = fam.options(ctx.person)
        ctx.risk = risk
        parts = [(ctx.render(rng.choice(options)), fam.id)]
        if risk:
            ctx.labels.update(fam.labels)
            if fam.ongoing and not past:
                ctx.labels.add("ongoing")
            for group in self._addon_groups(ctx, fam, past, max_addons):
                picked = self._addon_text(ctx, group)
                if picked is None:
                    continue
                text, addon = picked
                parts.append((ctx.render(text), addon.id))
                ctx.labels.update(addon.labels)
            first_last = len(parts) > 1 and parts[-1][1].startswith("first.")
            if first_last and ctx.person == "self" and rng.random() < 0.3:
                parts.insert(0, parts.pop())  # "ik heb dit nog nooit verteld maar ..." comes first
        elif fam.id not in NO_AGE_FAMILIES and rng.random() < 0.12:
            picked = self._addon_text(ctx, "filler")
            if picked:
                parts.append((ctx.render(picked[0]), picked[1].id))
        if ctx.person == "third" and rng.random() < 0.3:  # "ik ben mentor op een school, ..."
            picked = self._addon_text(ctx, "narrator")
            if picked:
                parts.insert(0, (ctx.render(picked[0]), picked[1].id))
        self._maybe_age(ctx, parts, risk)
        return parts, fam

    def _addon_groups(self, ctx: _Ctx, fam: Family, past: bool, max_addons: int) -> list[str]:
        exploitation = any(lab in fam.labels for lab in EXPLOITATION)
        n = min(max_addons, _weighted(self.rng, (0, 1, 2, 3), (0.25, 0.38, 0.27, 0.10)))
        if not exploitation:
            n = min(n, 1)
        allowed = []
        for group in sorted(ADDON_WEIGHTS):
            if ADDON_LABEL.get(group) in fam.labels:  # "ik zit opgesloten" + "ik zit opgesloten"
                continue
            # a crisis message may say the exploitation goes on ("ik wil dood, morgen moet ik weer")
            recurring = group == "still" and "acute_danger" in fam.labels
            if group in PRESENT_ONLY and (past or not (exploitation or recurring)):
                continue
            if group in PAST_ONLY and not (past and exploitation):
                continue
            if group in NOT_AFTER_PAST and past:
                continue
            if group == "clients" and "sexual_exploitation" not in fam.labels:
                continue
            if group in ("online", "multi", "met_offline") and not (fam.online and exploitation):
                continue
            if group == "met_offline" and "online_recruitment" in fam.labels:
                continue
            if group == "parent_other" and "parent_exploiter" in fam.labels:
                continue
            if group == "sibling_safe" and "siblings_at_risk" in fam.labels:
                continue
            if group == "not_acute" and "acute_danger" in fam.labels:
                continue
            if group == "channel" and not exploitation:
                continue
            if group == "online" and "online_recruitment" in fam.labels:
                continue
            if group == "multi" and "multiple_perpetrators" in ctx.labels | set(fam.labels):
                continue
            allowed.append(group)
        chosen: list[str] = []
        while len(chosen) < n and allowed:
            group = _weighted(self.rng, allowed, [ADDON_WEIGHTS[g] for g in allowed])
            allowed.remove(group)
            if EXCLUSIVE.get(group) in allowed:
                allowed.remove(EXCLUSIVE[group])
            chosen.append(group)
        return chosen

    def _maybe_age(self, ctx: _Ctx, parts: list[tuple[str, str]], risk: bool) -> None:
        share = self.cfg.age_share_risk if risk else self.cfg.age_share_negative
        no_age = risk is False and parts[0][1] in NO_AGE_FAMILIES
        if ctx.age_stated or no_age or not (ctx.need_age_statement or self.rng.random() < share):
            return
        if ctx.need_age_statement:
            text = "ik ben nu {age}" if ctx.person == "self" else "{ze} is nu {age}"
            fam_id = "age.stated"
        else:
            fams = self.data.addons["age"]
            fam = _weighted(self.rng, fams, [3 if f.id == "age.stated" else 1 for f in fams])
            text = self.rng.choice(fam.options(ctx.person))
            fam_id = fam.id
            if fam.age is not None:
                ctx.set_age(fam.age)
        clause = ctx.render(text)
        if ctx.person == "self" and self.rng.random() < 0.5:  # "ze is 14" needs its antecedent first
            parts.insert(0, (clause, fam_id))
        else:
            parts.append((clause, fam_id))

    def join(self, clauses: list[str]) -> str:
        rng = self.rng
        text = clauses[0]
        for clause in clauses[1:]:
            sep = rng.choice(SEPARATORS)
            if text.endswith(("?", "!")) and sep.strip() in (".", ",", "en", "!!", "..."):
                sep = " "
            text += sep + clause
        if text[-1:].isalnum():
            text += _weighted(rng, (".", "", "!", "?"), (0.5, 0.3, 0.12, 0.08))
        return text

    def message(self) -> dict:
        rng, cfg = self.rng, self.cfg
        risk = rng.random() >= cfg.negative_share
        person = "third" if rng.random() < cfg.third_person_share else "self"
        ctx = _Ctx(self.data, rng, person, risk)
        parts, fam = self.compose(ctx, risk)
        text = self.join([p[0] for p in parts])
        mood = "joke" if fam.id == "neg.jokes" else ("risk" if risk else "neutral")
        text = self.noise.apply(text, rng, mood)
        labels = finalize_labels(ctx.labels | set(age_labels(ctx.age_range if ctx.age_stated else None)))
        return {"text": text, "labels": labels, "family": _family_ids(parts, fam),
                "age_group": age_group(ctx.age_range if ctx.age_stated else None)}

    def messages(self, n: int) -> list[dict]:
        out: list[dict] = []
        seen: set[str] = set()
        while len(out) < n:
            for _ in range(6):  # a few tries to avoid exact duplicates of short texts
                msg = self.message()
                key = " ".join(msg["text"].lower().split())
                if key not in seen:
                    break
            seen.add(key)
            out.append({"id": f"g-m{len(out) + 1:06d}", **msg})
        return out

    # ------------------------------------------------------------------------ conversations

    def conversation(self) -> dict:
        rng, cfg, conv = self.rng, self.cfg, self.data.conversation
        risk = rng.random() >= cfg.negative_conversation_share
        ctx = _Ctx(self.data, rng, "self", risk)
        turns: list[tuple[str, str]] = []
        families: list[str] = []

        def client(text: str, mood: str = "risk" if risk else "neutral") -> None:
            turns.append(("client", self.noise.apply(text, rng, mood)))

        def counselor(text: str) -> None:
            turns.append(("counselor", text))

        client(rng.choice(conv["opening"]["client"]))
        counselor(rng.choice(conv["opening"]["counselor"]))
        questions = {q["id"]: q for q in conv["question"]}
        smalltalk = rng.sample(conv["smalltalk"], k=rng.randint(2, 6))  # 4-12 turns
        for i, st in enumerate(smalltalk):
            if i == 1 and rng.random() < 0.25:
                self._ask(ctx, questions["q.age"], counselor, client, families)
                continue
            client(rng.choice(st["client"]))
            counselor(rng.choice(st["counselor"]))

        if risk and rng.random() < 0.2:  # vague start, the short answer discloses
            vague = rng.choice(conv["vague"])
            client(rng.choice(vague["client"]))
            counselor(rng.choice(vague["counselor"]))
            answer = rng.choice(vague["answers"])
            client(answer["t"])
            ctx.labels.update(answer["labels"])
            families.append(vague["id"])
        else:
            parts, fam = self.compose(ctx, risk, max_addons=1 if risk else 0)
            families.append(_family_ids(parts, fam))
            clauses = [p[0] for p in parts]
            if len(clauses) > 1 and rng.random() < 0.5:  # told in two turns
                client(self.join(clauses[:1]))
                client(self.join(clauses[1:]))
            else:
                client(self.join(clauses))
            if not risk and rng.random() < 0.4:
                more, _ = self.compose(ctx, False, max_addons=0)
                families.append(_family_ids(more, _))
                counselor(rng.choice(questions["q.tell_more"]["counselor"])["t"])
                client(self.join([p[0] for p in more]))
        if risk:
            counselor(rng.choice(conv["after_disclosure"]["counselor"]))

        eligible = [q for q in conv["question"] if self._eligible(ctx, q, risk)]
        for q in rng.sample(eligible, k=min(len(eligible), rng.randint(1, 4))):
            if self._eligible(ctx, q, risk):  # earlier answers may have changed this
                self._ask(ctx, q, counselor, client, families)
        counselor(rng.choice(conv["closing"]["counselor"]))
        if rng.random() < 0.7:
            client(rng.choice(conv["closing"]["client"]))

        stated = ctx.age_range if ctx.age_stated else None
        labels = finalize_labels(ctx.labels | set(age_labels(stated)))
        return {"messages": [{"role": r, "text": t} for r, t in turns], "labels": labels,
                "family": "+".join(families), "age_group": age_group(stated)}

    def _eligible(self, ctx: _Ctx, q: dict, risk: bool) -> bool:
        if q["ask"] == "risk" and not (risk and ctx.labels & set(EXPLOITATION)):
            return False
        needs = q.get("needs", "")
        return {
            "no_parent": "parent_exploiter" not in ctx.labels,
            "ongoing": "ongoing" in ctx.labels,
            "no_multi": "multiple_perpetrators" not in ctx.labels,
            "lover_possible": "loverboy" not in ctx.labels and "parent_exploiter" not in ctx.labels
            and bool(ctx.labels & set(SE_OR_FC)),
            "no_age": not ctx.age_stated,
            "sextortion": "sextortion" in ctx.labels,
            "": True,
        }[needs]

    def _ask(self, ctx: _Ctx, q: dict, counselor, client, families: list[str]) -> None:
        rng = self.rng
        asked = rng.choice(q["counselor"])
        ctx.parent_g = asked.get("g", "f")
        counselor(asked["t"])
        can_disclose = ctx.risk and bool(q["pos"])
        if q["id"] == "q.age":  # the answer states the age
            answer = rng.choice(q["pos"] if rng.random() < 0.85 else q["neg"])
        elif q["id"] == "q.still_happening" and "ongoing" in ctx.labels:
            answer = rng.choice(q["pos"])
        elif q["id"] == "q.safe_now" and "acute_danger" in ctx.labels:
            answer = rng.choice(q["pos"])  # "hij staat voor de deur" is not followed by "ja, veilig"
        elif can_disclose and rng.random() < 0.5 and self._may_disclose(ctx, q):
            answer = rng.choice(q["pos"])
        else:
            answer = rng.choice(q["neg"])
        client(ctx.render(answer["t"]), "risk" if ctx.risk else "neutral")
        if answer.get("labels"):
            ctx.labels.update(answer["labels"])
            families.append(q["id"])

    @staticmethod
    def _may_disclose(ctx: _Ctx, q: dict) -> bool:
        """A parent or a pretended boyfriend is an exploiter only of sexual or criminal exploitation."""
        labels = {lab for a in q["pos"] for lab in a.get("labels", ())}
        if labels & {"parent_exploiter", "loverboy"}:
            return bool(ctx.labels & set(SE_OR_FC)) and not ctx.labels & {"parent_exploiter", "loverboy"}
        return True

    def conversations(self, n: int) -> list[dict]:
        return [{"id": f"g-c{i + 1:05d}", **self.conversation()} for i in range(n)]


def _family_ids(parts: list[tuple[str, str]], main: Family) -> str:
    """Main family first, then the add-ons in text order (for stratified analysis)."""
    return "+".join([main.id] + [p[1] for p in parts if p[1] != main.id])


def finalize_labels(labels: set[str]) -> list[str]:
    """Sorted label ids; under_16 implies minor (the label set guarantees it, this enforces it)."""
    if "under_16" in labels:
        labels = labels | {"minor"}
    return sorted(lab for lab in labels if lab in LABEL_IDS)


# ---------------------------------------------------------------------------- noise


class _Noise:
    """Seeded chat noise: chat-speak, Flemish, street slang, typos, emoji, case, punctuation."""

    def __init__(self, cfg: dict, scale: float):
        self.p = {k: min(1.0, v * scale) for k, v in cfg["prob"].items()}
        self.cfg = cfg
        self.never = tuple(cfg["typo"]["never_produce"])
        self.maps = {name: self._compile(cfg[name]) for name in ("chatspeak", "flemish", "slang")}

    @staticmethod
    def _compile(mapping: dict[str, list[str]]) -> tuple[re.Pattern, dict[str, list[str]]]:
        keys = sorted(mapping, key=len, reverse=True)
        pattern = re.compile(r"(?<![\w'])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w'])")
        return pattern, mapping

    def _replace(self, name: str, text: str, rng: random.Random, p: float) -> str:
        pattern, mapping = self.maps[name]

        def sub(m: re.Match) -> str:
            return rng.choice(mapping[m.group(1)]) if rng.random() < p else m.group(0)

        return pattern.sub(sub, text)

    def apply(self, text: str, rng: random.Random, mood: str = "neutral") -> str:
        p = self.p
        if p["lowercase"] == 0 and p["chatspeak_word"] == 0:
            return text
        lowered = text.lower()
        if rng.random() < p["flemish"]:
            lowered = self._replace("flemish", lowered, rng, 0.8)
            lowered = self._affix(lowered, rng, self.cfg["flemish_interjection"])
        if rng.random() < p["slang"]:
            lowered = self._replace("slang", lowered, rng, 0.6)
            lowered = self._affix(lowered, rng, self.cfg["slang_interjection"])
        lowered = self._replace("chatspeak", lowered, rng, p["chatspeak_word"])
        if rng.random() < p["interjection"]:
            lowered = self._affix(lowered, rng, self.cfg["interjection"])
        words = lowered.split(" ")
        for i, w in enumerate(words):
            if len(w) >= 4 and w.isalpha() and rng.random() < p["typo_word"]:
                typo = _typo(w, rng)
                words[i] = w if typo.startswith(self.never) else typo
        if rng.random() < p["repeat_letters"]:
            idx = [i for i, w in enumerate(words) if w.isalpha()]
            if idx:
                i = rng.choice(idx)
                words[i] += words[i][-1] * rng.randint(2, 4)
        out = " ".join(words)
        if rng.random() < p["drop_final_punct"]:
            out = out.rstrip(".")
        if rng.random() < p["emoji"]:
            emo = self.cfg["emoji"][mood if mood in self.cfg["emoji"] else "neutral"]
            out = out + " " + rng.choice(emo) * _weighted(rng, (1, 2, 3), (0.7, 0.2, 0.1))
        if rng.random() >= p["lowercase"]:
            out = _sentence_case(out)
        return out

    @staticmethod
    def _affix(text: str, rng: random.Random, table: dict) -> str:
        if rng.random() < 0.5:
            return rng.choice(table["prefix"]) + " " + text
        return text.rstrip(".") + " " + rng.choice(table["suffix"])


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1:]  # drop a letter
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # swap two letters


_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")


def _sentence_case(text: str) -> str:
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)


# ---------------------------------------------------------------------------- API and CLI


def generate_corpus(config: CorpusConfig | None = None) -> tuple[list[dict], list[dict]]:
    """Messages and conversations of the synthetic corpus (see the module docstring)."""
    gen = Generator(config or CorpusConfig())
    msgs = gen.messages(gen.cfg.n_messages)
    convs = gen.conversations(gen.cfg.n_conversations)
    return msgs, convs


def corpus_stats(msgs: list[dict], convs: list[dict]) -> dict:
    """Counts only (no text): per label, per main family, per age group."""

    def block(records: list[dict]) -> dict:
        labels = Counter(lab for r in records for lab in r["labels"])
        return {
            "count": len(records),
            "without_labels": sum(1 for r in records if not r["labels"]),
            "labels": {lab: labels.get(lab, 0) for lab in LABEL_IDS},
            "age_group": dict(sorted(Counter(r.get("age_group", "unknown") for r in records).items())),
            "main_family": dict(sorted(Counter(r["family"].split("+")[0] for r in records).items())),
            "family_part": dict(sorted(Counter(f for r in records for f in r["family"].split("+")).items())),
        }

    return {"messages": block(msgs), "conversations": block(convs)}


def write_corpus(out: Path, msgs: list[dict], convs: list[dict], config: CorpusConfig) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for name, records in (("messages.jsonl", msgs), ("conversations.jsonl", convs)):
        with open(out / name, "w", encoding="utf-8", newline="\n") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    stats = {"config": config.__dict__, **corpus_stats(msgs, convs)}
    (out / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                    encoding="utf-8")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signaal.training.generate",
                                     description="Write the synthetic Signaal training corpus.")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--noise", type=float, default=1.0, help="scale of chat noise (0 = clean)")
    args = parser.parse_args(argv)
    config = CorpusConfig(n_messages=args.messages, n_conversations=args.conversations,
                          seed=args.seed, noise=args.noise)
    start = time.perf_counter()
    msgs, convs = generate_corpus(config)
    elapsed = time.perf_counter() - start
    stats = write_corpus(args.out, msgs, convs, config)
    print(f"{len(msgs)} messages, {len(convs)} conversations in {elapsed:.1f} s -> {args.out}")
    print(f"messages without labels: {stats['messages']['without_labels']}")
    for lab, n in stats["messages"]["labels"].items():
        print(f"  {lab:22s} {n:6d} messages {stats['conversations']['labels'][lab]:5d} conversations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
