"""Redaction of identifiers in Dutch and Flemish chat text.

Every piece of client text that Signaal shows or stores goes through `Redactor.redact` first.
Identifiers are replaced by typed Dutch placeholders ("bel me op [TELEFOON]"); each replacement
records its type, a stable rule id and a score, so an auditor can see why text was masked
without the original ever being kept.

Detection stands on the field's libraries:
- `phonenumbers` finds phone numbers (NL and BE, all common spellings),
- `python-stdnum` validates IBAN (mod-97), BSN (11-test) and postcodes,
- `deduce` supplies the Dutch first-name, surname, street and place lists (read once, in memory),
- spaCy's Dutch lemma lookup (spacy-lookups-data) says which words are ordinary Dutch words,
- an optional trained spaCy pipeline adds NER entities (`Redactor(nlp=...)`).
Chat specifics (lower-case names after "ik ben"/"heet", handles, school names, side codes,
dates of birth) are context patterns whose word lists live in `signals/data/pii/`.

Nothing here writes to disk or logs text: logs carry counts only.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import threading
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data" / "pii"

PLACEHOLDERS: dict[str, str] = {
    "person": "[NAAM]",
    "city": "[PLAATS]",
    "phone": "[TELEFOON]",
    "address": "[ADRES]",
    "postcode": "[POSTCODE]",
    "email": "[EMAIL]",
    "license_plate": "[KENTEKEN]",
    "iban": "[IBAN]",
    "bsn": "[BSN]",
    "url": "[URL]",
    "social_handle": "[ACCOUNT]",
    "school": "[SCHOOL]",
    "date_of_birth": "[GEBOORTEDATUM]",
}
PII_TYPES = tuple(PLACEHOLDERS)

# Tie-break when two candidates cover the same stretch: validated structure beats word lists.
_PRIORITY = {
    "email": 13, "url": 12, "iban": 11, "bsn": 10, "phone": 9, "license_plate": 8,
    "postcode": 7, "date_of_birth": 6, "address": 5, "social_handle": 4, "school": 3,
    "city": 2, "person": 1,
}
# Types found through word lists: a keep term ("Albert Heijn", "Fier") overrules them.
_LEXICAL_TYPES = {"person", "city", "school"}


@dataclass(frozen=True, slots=True)
class RedactedSpan:
    start: int
    end: int
    type: str
    placeholder: str
    rule: str
    score: float


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str
    spans: list[RedactedSpan]

    def explain(self) -> list[dict[str, Any]]:
        """Why each stretch was masked: offsets, type, rule, score; never the original text."""
        return [
            {"start": s.start, "end": s.end, "type": s.type, "rule": s.rule, "score": s.score}
            for s in self.spans
        ]


class _Tok(NamedTuple):
    start: int
    end: int
    text: str
    low: str
    word: bool  # letters only (hyphen/apostrophe inside allowed)
    cap: bool


_TOKEN_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_SKIP_PUNCT = {".", ",", ":", ";", "-", "|", "(", ")", "'", '"', "’"}
_SENT_END = {".", "!", "?"}


def _tokenize(text: str) -> list[_Tok]:
    toks = []
    for m in _TOKEN_RE.finditer(text):
        t = m.group()
        toks.append(
            _Tok(m.start(), m.end(), t, t.lower(), bool(_WORD_RE.fullmatch(t)), t[:1].isupper())
        )
    return toks


def _read_list(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line.lower())
    return out


def _norm_place(s: str) -> str:
    return " ".join(s.lower().replace("’", "'").lstrip("'").split())


class Lexicon:
    """Word lists, read once per process from deduce, spaCy lookups and signals/data/pii."""

    def __init__(self) -> None:
        import deduce
        import spacy_lookups_data
        import srsly
        from deduce.lookup_structs import load_raw_itemset
        from deduce.utils import optional_load_items

        src = Path(deduce.__file__).parent / "data" / "lookup" / "src"

        def raw(name: str) -> set[str]:
            return {x.lower() for x in load_raw_itemset(src / name)}

        self.first_names = raw("names/lst_first_name")
        self.surnames = raw("names/lst_surname")
        self.places = {_norm_place(p) for p in raw("locations/lst_placename")}
        self.municipalities = {
            _norm_place(p) for p in raw("locations/lst_placename/lst_municipality")
        }
        # deduce's street list with its spelling transforms takes ~30 s to expand; the plain
        # items (plus exceptions removed) are enough because we match lower-cased.
        street_dir = src / "locations" / "lst_street"
        streets = optional_load_items(street_dir / "items.txt") or set()
        streets -= optional_load_items(street_dir / "exceptions.txt") or set()
        self.streets = {" ".join(s.lower().split()) for s in streets}
        deduce_stop = raw("whitelist/lst_stop_word")
        deduce_common = raw("whitelist/lst_common_word")

        # Ordinary Dutch words: a name that is also a word ("roos", "hoop") needs context.
        lk_dir = Path(spacy_lookups_data.__file__).parent / "data"
        lookup = srsly.read_gzip_json(lk_dir / "nl_lemma_lookup.json.gz")
        index = srsly.read_gzip_json(lk_dir / "nl_lemma_index.json.gz")
        self.lexicon: set[str] = set(lookup) | set(lookup.values()) | deduce_common
        for words in index.values():
            self.lexicon.update(words)
        # adjectives and verb forms: "ik ben bang", "mn vriend kwam" are never names
        self.adj_verb: set[str] = set(index.get("adj", [])) | set(index.get("verb", []))
        self.adj_verb |= {k for k, v in lookup.items() if v in self.adj_verb}
        del lookup, index

        keep = _read_list(DATA_DIR / "keep_terms.txt")
        self.keep_words = {k for k in keep if " " not in k}
        self.keep_phrases = [k for k in keep if " " in k]
        self.stop = set(_read_list(DATA_DIR / "stop_words.txt")) | deduce_stop | self.keep_words
        # frequent Dutch words: even capitalised they are no name or place ("Mama", "Hoop")
        self.common = self.stop | (deduce_common - self.first_names - self.places)
        with open(DATA_DIR / "context.toml", "rb") as f:
            self.context = tomllib.load(f)
        log.info(
            "pii lexicon loaded: %d first names, %d surnames, %d places, %d streets",
            len(self.first_names), len(self.surnames), len(self.places), len(self.streets),
        )


def _phrases(words: Iterable[str]) -> dict[int, set[tuple[str, ...]]]:
    """Group trigger phrases by their number of words, as tuples."""
    by_len: dict[int, set[tuple[str, ...]]] = {}
    for w in words:
        t = tuple(w.replace(":", "").split())
        if t:
            by_len.setdefault(len(t), set()).add(t)
    return by_len


def _alt(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_MONTHS = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "jan|feb|mrt|mar|apr|jun|jul|aug|sept|sep|okt|oct|nov|dec"
)


class Redactor:
    """Finds identifiers and replaces them by typed placeholders. Thread-safe after init."""

    def __init__(self, nlp: Any = None, lexicon: Lexicon | None = None) -> None:
        self.nlp = nlp
        self.lex = lexicon or _get_lexicon()
        ctx = self.lex.context
        self._strong = _phrases(ctx["person"]["strong"])
        self._self_intro = _phrases(ctx["person"]["self_intro"])
        self._relation = _phrases(ctx["person"]["relation"])
        self._weak = _phrases(ctx["person"]["weak"])
        self._interfix = _phrases(ctx["person"]["interfix"])
        self._locative = _phrases(ctx["place"]["locative"])
        self._place_strong = _phrases(ctx["place"]["strong"])
        self._school_ctx = _phrases(ctx["school"]["context"])
        self._school_suffixes = tuple(ctx["school"]["suffixes"])
        self._school_prefixes = _phrases(ctx["school"]["prefixes"])
        self._school_generic = set(ctx["school"]["generic"])
        self._street_suffixes = tuple(ctx["address"]["suffixes"])
        self._not_street = set(ctx["address"]["not_street"])
        self._app_domains = set(ctx["url"]["app_domains"])
        self._dob_ctx = re.compile(r"\b(?:%s)\b" % _alt(ctx["dob"]["context"]), re.I)  # noqa: UP031
        self._bsn_ctx = re.compile(r"\b(?:%s)\b" % _alt(ctx["bsn"]["context"]), re.I)  # noqa: UP031
        self._keep_re = (
            re.compile(r"\b(?:%s)\b" % _alt(self.lex.keep_phrases), re.I)  # noqa: UP031
            if self.lex.keep_phrases else None
        )
        tlds = _alt(ctx["url"]["tlds"])
        self._url_re = re.compile(
            r"\bhttps?://[^\s<>\"']+|\bwww\.[^\s<>\"']+"  # noqa: UP031
            r"|(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:%s)\b(?:/[^\s<>\"']*)?" % tlds,
            re.I,
        )
        apps = _alt(ctx["handle"]["apps"])
        self._handle_ctx_re = re.compile(
            r"\b(?:%s)\b(?:\s*(?:naam|name|account|id|username))?"  # noqa: UP031
            r"(?:\s*(?P<sep>is|was|=|:|-|heet|heette|noemt)\s*(?:hij|ze|zij|die)?)?"
            r"(?:\s*:\s*|\s+)(?P<h>@?[\w#-][\w.#-]{1,39})" % apps,
            re.I,
        )
        self._handle_rev_re = re.compile(
            r"(?<![\w@./-])(?P<h>@?[\w.#-]{3,40})\s+(?:op|on|via)\s+(?:%s)\b" % apps, re.I  # noqa: UP031
        )

    # ------------------------------------------------------------------ public API

    def redact(self, text: str) -> Redaction:
        """Redacted text plus the spans masked. Never raises on a str."""
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        try:
            spans = self.find(text)
        except Exception as exc:  # a detector bug must not leak text: mask everything instead
            # the exception's message could quote text: log its type only
            log.error("redactor failed (%s) on a message of %d chars; masking it whole",
                      type(exc).__name__, len(text))
            spans = [RedactedSpan(0, len(text), "person", "[NAAM]", "fallback.error", 0.0)] \
                if text else []
        return Redaction(_apply(text, spans, 0, len(text)), spans)

    def find(self, text: str) -> list[RedactedSpan]:
        if not text:
            return []
        cands: list[RedactedSpan] = []
        add = cands.append
        self._emails(text, add)
        self._urls(text, add)
        self._ibans(text, add)
        self._numbers(text, add)
        self._postcodes(text, add)
        self._plates(text, add)
        self._dates(text, add)
        self._handles(text, add)
        toks = _tokenize(text)
        self._addresses(text, toks, add)
        self._schools(text, toks, add)
        self._places(text, toks, add)
        self._persons(text, toks, add)
        if self.nlp is not None:
            self._ner(text, add)
        return self._resolve(text, cands)

    # ------------------------------------------------------------------ resolution

    def _resolve(self, text: str, cands: list[RedactedSpan]) -> list[RedactedSpan]:
        if not cands:
            return []
        keep: list[tuple[int, int]] = []
        if self._keep_re is not None:
            keep = [m.span() for m in self._keep_re.finditer(text)]
        if keep:
            cands = [
                c for c in cands
                if c.type not in _LEXICAL_TYPES
                or not any(c.start < e and s < c.end for s, e in keep)
            ]
        # longest first, then score, then validated types; greedy non-overlapping
        cands.sort(key=lambda c: (-(c.end - c.start), -c.score, -_PRIORITY[c.type], c.start))
        chosen: list[RedactedSpan] = []
        taken = bytearray(len(text))
        for c in cands:
            if c.end <= c.start or any(taken[c.start:c.end]):
                continue
            chosen.append(c)
            taken[c.start:c.end] = b"\x01" * (c.end - c.start)
        chosen.sort(key=lambda c: c.start)
        return chosen

    # ------------------------------------------------------------------ structured identifiers

    _EMAIL_RE = re.compile(
        r"(?<![\w.+-])[\w.+%-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
    )

    def _emails(self, text: str, add) -> None:
        if "@" not in text:
            return
        for m in self._EMAIL_RE.finditer(text):
            add(_span(m.start(), m.end(), "email", "email.regex", 1.0))

    def _urls(self, text: str, add) -> None:
        if "." not in text:
            return
        for m in self._url_re.finditer(text):
            s, e = m.start(), m.end()
            while e > s and text[e - 1] in ".,;:!?)]}'\"":
                e -= 1
            url = text[s:e]
            low = url.lower()
            bare = not low.startswith(("http", "www."))
            if bare:
                host, _, path = low.partition("/")
                if not path and host in self._app_domains:
                    continue  # "tiktok.com" alone is an app name, a signal
                if re.fullmatch(r"[\d.]+", host.rsplit(".", 1)[0]):
                    continue  # "1.5.nl"-like number artefacts
            add(_span(s, e, "url", "url.regex" if not bare else "url.domain", 0.95))

    _IBAN_RE = re.compile(
        r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,3})?"
        r"(?![A-Za-z0-9])"
    )
    _NL_IBAN_SHAPE = re.compile(r"NL\d{2}[A-Z]{4}\d{10}")

    def _ibans(self, text: str, add) -> None:
        from stdnum import iban

        for m in self._IBAN_RE.finditer(text):
            raw = m.group()
            # try the whole match, then shorter (a number may follow the IBAN)
            pos = [i for i, ch in enumerate(raw) if ch != " "]
            compact = raw.replace(" ", "").upper()
            for n in range(len(compact), 13, -1):
                if iban.is_valid(compact[:n]):
                    add(_span(m.start(), m.start() + pos[n - 1] + 1, "iban", "iban.mod97", 1.0))
                    break
            else:
                # a mistyped Dutch account number still points at a person
                if self._NL_IBAN_SHAPE.fullmatch(compact[:18]):
                    add(_span(m.start(), m.start() + pos[17] + 1, "iban", "iban.nl_shape", 0.6))

    # 9-digit numbers (BSN), and long digit runs that phonenumbers misses (phone fallback)
    _BSN_RE = re.compile(
        r"(?<![\w.,+-])(\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3}[ .]\d{3}[ .]\d{3})(?![\w-]|[.,]\d)"
    )
    _PHONE_HINT = re.compile(r"\d[\d\s().\-/]{6,}\d")
    _PHONE_FALLBACK = re.compile(
        r"(?<![\w+])(?:(?:\+|00)\d{2}|0)[\d\s().\-]{7,16}\d(?![\w])"
    )

    def _numbers(self, text: str, add) -> None:
        if not self._PHONE_HINT.search(text):
            return
        import phonenumbers
        from phonenumbers import Leniency, PhoneNumberMatcher
        from stdnum.nl import bsn

        for m in self._BSN_RE.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if bsn.is_valid(digits):
                add(_span(m.start(), m.end(), "bsn", "bsn.elfproef", 0.95))
            elif self._bsn_ctx.search(text, max(0, m.start() - 40), m.start()):
                add(_span(m.start(), m.end(), "bsn", "bsn.context", 0.8))
        for region, rule in (("NL", "phone.phonenumbers"), ("BE", "phone.phonenumbers_be")):
            try:
                for pm in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
                    add(_span(pm.start, pm.end, "phone", rule, 0.95))
            except phonenumbers.NumberParseException:  # pragma: no cover - defensive
                pass
        for m in self._PHONE_FALLBACK.finditer(text):
            nd = sum(ch.isdigit() for ch in m.group())
            if 10 <= nd <= 13 and not re.search(r"\s{2,}|[.-]{2,}", m.group()):
                add(_span(m.start(), m.end(), "phone", "phone.digits", 0.5))

    _AFTER_POSTCODE = re.compile(r"[ ,]{1,3}([A-Z][\w'’-]+(?: [A-Z][\w'’-]+){0,2})")
    _POSTCODE_RE = re.compile(r"(?<![\w-])([1-9]\d{3})(\s?)([A-Za-z]{2})(?![\w-])")

    def _postcodes(self, text: str, add) -> None:
        from stdnum.nl import postcode

        for m in self._POSTCODE_RE.finditer(text):
            num, space, letters = m.groups()
            if not postcode.is_valid(num + letters.upper()):
                continue
            if not letters.isupper():
                # "2000 en", "1500 ml": lower-case letters after a space need a non-word
                if letters.islower() and space and (
                    letters in self.lex.stop or letters in self.lex.lexicon
                ):
                    continue
            add(_span(m.start(), m.end(), "postcode", "postcode.stdnum", 0.9))
            # "1234 AB Utrecht": the word after a postcode is the place
            c = self._AFTER_POSTCODE.match(text, m.end())
            if c and c.group(1).lower() not in self.lex.common:
                add(_span(c.start(1), c.end(1), "city", "city.after_postcode", 0.85))

    _PLATE_RE = re.compile(
        r"(?<![\w-])([A-Za-z]{1,3}|\d{1,3})-([A-Za-z]{1,3}|\d{1,3})-([A-Za-z]{1,3}|\d{1,3})"
        r"(?![\w-])"
    )
    _PLATE_CTX_RE = re.compile(
        r"\bkenteken(?:nummer|plaat)?\s*(?:is|was|:)?\s*([A-Za-z0-9]{6})\b", re.I
    )

    def _plates(self, text: str, add) -> None:
        if "-" in text:
            for m in self._PLATE_RE.finditer(text):
                body = "".join(m.groups())
                if len(body) == 6 and re.search(r"\d", body) and re.search(r"[A-Za-z]", body):
                    add(_span(m.start(), m.end(), "license_plate", "plate.sidecode", 0.9))
        for m in self._PLATE_CTX_RE.finditer(text):
            body = m.group(1)
            if re.search(r"\d", body) and re.search(r"[A-Za-z]", body):
                add(_span(m.start(1), m.end(1), "license_plate", "plate.context", 0.8))

    _DATE_NUM_RE = re.compile(r"(?<![\w/.-])(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?![\w/-])")
    _DATE_TXT_RE = re.compile(
        r"(?<!\w)(\d{1,2})(?:e|ste|de)?\s+(%s)\.?(?:\s+(\d{4}))?(?!\w)" % _MONTHS, re.I  # noqa: UP031
    )

    def _dates(self, text: str, add) -> None:
        this_year = _dt.date.today().year
        for rx in (self._DATE_NUM_RE, self._DATE_TXT_RE):
            for m in rx.finditer(text):
                day, mid, year = m.groups()
                if not 1 <= int(day) <= 31:
                    continue
                if rx is self._DATE_NUM_RE and not 1 <= int(mid) <= 12:
                    continue
                ctx = self._dob_ctx.search(text, max(0, m.start() - 30), m.start()) is not None
                if ctx:
                    add(_span(m.start(), m.end(), "date_of_birth", "dob.context", 1.0))
                elif year and len(year) == 4 and 1900 <= int(year) <= this_year - 6:
                    # a full date with a birth-year-like year; recent event dates stay
                    add(_span(m.start(), m.end(), "date_of_birth", "dob.full_date", 0.7))

    _AT_RE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,38}[A-Za-z0-9_])?")
    _DISCORD_RE = re.compile(r"(?<![\w#])[A-Za-z0-9_.]{2,32}#\d{4}(?!\w)")

    def _handles(self, text: str, add) -> None:
        if "@" in text:
            for m in self._AT_RE.finditer(text):
                add(_span(m.start(), m.end(), "social_handle", "handle.at", 0.9))
        if "#" in text:
            for m in self._DISCORD_RE.finditer(text):
                add(_span(m.start(), m.end(), "social_handle", "handle.discord", 0.9))
        for rx, rule in ((self._handle_ctx_re, "handle.context_app"),
                         (self._handle_rev_re, "handle.context_op_app")):
            for m in rx.finditer(text):
                s, e = m.span("h")
                while e > s and text[e - 1] in ".-#":
                    e -= 1
                h = text[s:e].lstrip("@")
                if len(h) < 2 or not re.search(r"[A-Za-z]", h):
                    continue
                marked = bool(re.search(r"[\d_.#]", h)) or text[s] == "@"
                low = h.lower()
                plain_word = low in self.lex.stop or low in self.lex.lexicon
                if rule == "handle.context_op_app":
                    ok = marked and not plain_word
                else:
                    ok = marked or (m.group("sep") is not None and not plain_word and len(h) >= 3)
                if ok:
                    add(_span(s, e, "social_handle", rule, 0.85))

    # ------------------------------------------------------------------ word-list identifiers

    @staticmethod
    def _prev_words(toks: Sequence[_Tok], i: int, n: int = 3) -> list[str]:
        """Up to n lower-cased tokens before i, nearest last, skipping light punctuation."""
        out: list[str] = []
        j = i - 1
        while j >= 0 and len(out) < n:
            t = toks[j]
            if t.text in _SKIP_PUNCT:
                j -= 1
                continue
            if not t.word:
                break
            out.append(t.low)
            j -= 1
        out.reverse()
        return out

    @staticmethod
    def _match_before(prev: list[str], phrases: dict[int, set[tuple[str, ...]]]) -> bool:
        for n, group in phrases.items():
            if len(prev) >= n and tuple(prev[-n:]) in group:
                return True
        return False

    @staticmethod
    def _sentence_start(text: str, toks: Sequence[_Tok], i: int) -> bool:
        if i == 0:
            return True
        p = toks[i - 1]
        return p.text in _SENT_END or "\n" in text[p.end:toks[i].start]

    def _addresses(self, text: str, toks: Sequence[_Tok], add) -> None:
        lex = self.lex
        n = len(toks)
        for i, t in enumerate(toks):
            if not t.word:
                continue
            # street + house number: "Parkweg 14a", "Laan van Meerdervoort 301", "Kanaalstraat 3-II"
            m = _HOUSENUM_RE.match(text, toks[i + 1].start) if i + 1 < n else None
            if m is None or text[t.end:toks[i + 1].start] not in (" ", "  "):
                if t.cap and _strong_street(t.low, self._street_suffixes) \
                        and t.low not in lex.common and (
                            t.low not in lex.lexicon or not self._sentence_start(text, toks, i)):
                    add(_span(t.start, t.end, "address", "address.street_name", 0.6))
                continue
            if t.low in self._not_street or t.low in lex.stop:
                continue
            start = None
            rule = ""
            # longest gazetteer street ending at token i
            for k in range(min(5, i + 1), 0, -1):
                words = toks[i - k + 1:i + 1]
                if not all(w.word for w in words):
                    continue
                phrase = " ".join(w.low for w in words)
                if phrase in lex.streets:
                    if k == 1 and (t.low in lex.lexicon and not t.cap):
                        continue
                    if k > 1 or t.low not in lex.lexicon or t.cap:
                        start, rule = words[0].start, "address.street_gazetteer"
                        break
            if start is None and (_strong_street(t.low, self._street_suffixes) or (
                _ends_with_suffix(t.low, self._street_suffixes)
                and (t.cap or t.low not in lex.lexicon)
            )):
                start, rule = t.start, "address.street_suffix"
            if start is not None:
                add(_span(start, m.end(), "address", rule, 0.9))

    def _schools(self, text: str, toks: Sequence[_Tok], add) -> None:
        lex = self.lex
        n = len(toks)

        def name_word(t: _Tok) -> bool:
            return t.word and t.cap and t.low not in lex.stop

        for i, t in enumerate(toks):
            if not t.word:
                continue
            low = t.low
            # "Montessorischool", "Sint-Janslyceum", "Prinses Julianaschool"
            suf = _ends_with_suffix(low, self._school_suffixes)
            if suf and t.cap and low not in self._school_generic and (
                low not in lex.lexicon or not self._sentence_start(text, toks, i)
            ):
                j = i
                while j > 0 and name_word(toks[j - 1]) and toks[j - 1].low not in lex.common \
                        and not self._sentence_start(text, toks, j - 1):
                    j -= 1
                add(_span(toks[j].start, t.end, "school", "school.compound", 0.85))
                continue
            # "Lorentz Lyceum", "Da Vinci College", "Graafschap College"
            if low in self._school_suffixes and i > 0 and name_word(toks[i - 1]):
                j = i - 1
                while j > 0 and (name_word(toks[j - 1]) or toks[j - 1].low in {"da", "van", "de"}
                                 and j - 1 > 0 and name_word(toks[j - 2])):
                    j -= 1
                if toks[j].low not in lex.lexicon or j < i - 1 or t.cap:
                    add(_span(toks[j].start, t.end, "school", "school.name_suffix", 0.85))
                continue
            # "basisschool De Regenboog", "OSG Piter Jelles", "ROC van Amsterdam"
            for k in (2, 1):
                if i + k >= n:
                    continue
                key = tuple(x.low for x in toks[i:i + k])
                if key not in self._school_prefixes.get(k, ()):
                    continue
                j = i + k
                article = j < n and toks[j].low in {"de", "het", "'t", "van"}
                if article:
                    j += 1
                if low in {"school", "college"} and not article:
                    break
                e = j
                while e < n and e - j < 4 and name_word(toks[e]):
                    e += 1
                if e > j:
                    add(_span(t.start, toks[e - 1].end, "school", "school.prefix", 0.85))
                break
            # "ik zit op het Noordik"
            if t.cap and low not in lex.common:
                prev = self._prev_words(toks, i, 4)
                bare = prev[:-1] if prev and prev[-1] in {"het", "de", "'t"} else prev
                # "op het X" alone is weak: X must be no Dutch word; after "zit op" it may be
                weak_only = prev[-2:] in (["op", "het"], ["op", "'t"]) and not \
                    self._match_before(bare, self._school_ctx)
                if weak_only and low in lex.lexicon or low in self._school_generic:
                    continue
                if self._match_before(prev, self._school_ctx) or \
                        self._match_before(bare, self._school_ctx):
                    e = i + 1
                    while e < n and e - i < 3 and name_word(toks[e]):
                        e += 1
                    add(_span(t.start, toks[e - 1].end, "school", "school.context", 0.75))

    def _places(self, text: str, toks: Sequence[_Tok], add) -> None:
        lex = self.lex
        n = len(toks)
        for i, t in enumerate(toks):
            if not t.word:
                continue
            for k in (4, 3, 2, 1):
                if i + k > n:
                    continue
                words = toks[i:i + k]
                if not all(w.word for w in words):
                    continue
                pairs = zip(words, words[1:], strict=False)
                if k > 1 and any(text[a.end:b.start] != " " for a, b in pairs):
                    continue
                key = _norm_place(" ".join(w.low for w in words))
                if key not in lex.places:
                    # "Almere-Buiten", "Rotterdam-Zuid": a district of a known place
                    head = key.split("-", 1)[0]
                    if k == 1 and "-" in key and t.cap and head in lex.places \
                            and head not in lex.common and len(head) >= 4:
                        add(_span(t.start, t.end, "city", "city.place_compound", 0.75))
                        break
                    continue
                if self._place_ok(text, toks, i, words, key):
                    add(_span(t.start, words[-1].end, "city", "city.gazetteer", 0.8))
                    break

    def _place_ok(self, text: str, toks: Sequence[_Tok], i: int, words: Sequence[_Tok],
                  key: str) -> bool:
        lex = self.lex
        if len(words) > 1:
            # "Den Haag", "Ter Apel", "den haag"; not "de wijk"
            return any(w.low not in lex.lexicon and w.low not in lex.stop for w in words) \
                or words[0].cap and not self._sentence_start(text, toks, i)
        t = words[0]
        if t.low in lex.common or len(t.low) < 3:
            return False
        prev = self._prev_words(toks, i, 3)
        # a capitalised place name inside a sentence is a place, even if also a word ("Emmen")
        if t.cap and not self._sentence_start(text, toks, i) and not t.text.isupper():
            return True
        if t.low not in lex.lexicon and t.low not in lex.first_names:
            if t.cap:
                return True
            # lower-case chat: "uit rotterdam"; small villages with word-like names need context
            if key in lex.municipalities and len(key) >= 4 or len(key) >= 6:
                return True
            return self._match_before(prev, self._place_strong)
        # the place name is also a Dutch word or a first name ("Best", "Hoorn", "Emmen"?)
        if self._match_before(prev, self._place_strong):
            return True
        return t.cap and self._match_before(prev, self._locative) \
            and not self._sentence_start(text, toks, i)

    def _persons(self, text: str, toks: Sequence[_Tok], add) -> None:
        lex = self.lex
        n = len(toks)
        i = 0
        while i < n:
            t = toks[i]
            if not t.word:
                i += 1
                continue
            if t.low in lex.stop:
                # "mevrouw de Jong", "heet van Dijk": a particle starts the surname
                if (t.low,) in self._interfix.get(1, ()) and i + 1 < n and toks[i + 1].cap \
                        and toks[i + 1].word and toks[i + 1].low not in lex.common:
                    prev = self._prev_words(toks, i, 4)
                    if self._match_before(prev, self._relation) or \
                            self._match_before(prev, self._strong):
                        end_i = self._extend_name(toks, i + 1)
                        add(_span(t.start, toks[end_i].end, "person",
                                  "person.context_relation", 0.85))
                        i = end_i + 1
                        continue
                i += 1
                continue
            rule, score = self._person_start(text, toks, i)
            if rule is None:
                i += 1
                continue
            # "R. Latuheru": take a preceding initial along
            start = t.start
            if i >= 2 and toks[i - 1].text == "." and len(toks[i - 2].text) == 1 \
                    and toks[i - 2].text.isupper():
                start = toks[i - 2].start
            end_i = self._extend_name(toks, i)
            add(_span(start, toks[end_i].end, "person", rule, score))
            i = end_i + 1

    def _person_start(self, text: str, toks: Sequence[_Tok], i: int) -> tuple[str | None, float]:
        lex = self.lex
        t = toks[i]
        low = t.low
        is_first = low in lex.first_names
        is_sur = low in lex.surnames
        amb = low in lex.lexicon
        adjverb = low in lex.adj_verb
        common = low in lex.common
        initial = i >= 2 and toks[i - 1].text == "." and len(toks[i - 2].text) == 1 \
            and toks[i - 2].text.isupper()
        # "op naam van R. Latuheru": the context sits before the initial
        prev = self._prev_words(toks, i - 2 if initial else i, 4)
        if self._match_before(prev, self._strong):
            if t.cap or is_first or is_sur or not amb:
                return "person.context_heet", 0.95
            return None, 0.0
        if self._match_before(prev, self._self_intro):
            if (is_first and not adjverb) or (t.cap and not amb):
                return "person.context_ik_ben", 0.9
            return None, 0.0
        if self._match_before(prev, self._relation):
            if ((is_first or is_sur) and not adjverb) or (t.cap and not common):
                return "person.context_relation", 0.9
        if common:
            return None, 0.0
        if is_first and self._extend_name(toks, i) > i and not adjverb:
            # "jan de vries", "daan jansen": a first name followed by a surname
            nxt = toks[self._extend_name(toks, i)]
            if nxt.low in lex.surnames or nxt.cap:
                return "person.full_name", 0.75
        if initial and t.cap:
            return "person.initial", 0.75
        sent_start = self._sentence_start(text, toks, i)
        if is_first and not amb and len(low) >= 3:
            return "person.first_name", 0.7
        if is_first and t.cap and not sent_start and not t.text.isupper():
            # "Daan", "Fleur" inside a sentence: capitalised, so a name rather than the word
            rule = "person.context_weak" if self._match_before(prev, self._weak) else \
                "person.first_name_cap"
            return rule, 0.65
        if t.cap and not amb and not sent_start and is_sur and low not in lex.places:
            return "person.surname", 0.6
        # "Rignald Maduro": two capitalised words, no frequent words or places, one a known
        # name or neither a Dutch word
        if t.cap and low not in lex.places and i + 1 < len(toks):
            nxt = toks[i + 1]
            if nxt.word and nxt.cap and nxt.start == t.end + 1 and nxt.low not in lex.common \
                    and nxt.low not in lex.places and (not amb or is_first or is_sur) \
                    and (nxt.low not in lex.lexicon or nxt.low in lex.surnames):
                return "person.capitalised_pair", 0.6
        return None, 0.0

    def _extend_name(self, toks: Sequence[_Tok], i: int) -> int:
        """Index of the last token of a name starting at i: particles and surnames."""
        lex = self.lex
        n = len(toks)
        end = i
        j = i + 1
        while j < n and j - i <= 5:
            # particle(s) then a surname: "van den Heuvel", "El Amrani", "de vries"
            matched = False
            for k in (2, 1):
                key = tuple(x.low for x in toks[j:j + k])
                if len(key) == k and key in self._interfix.get(k, ()) and j + k < n:
                    nxt = toks[j + k]
                    if nxt.word and (
                        nxt.cap and nxt.low not in lex.keep_words
                        or nxt.low in lex.surnames and nxt.low not in lex.stop
                    ) and toks[j].start - toks[j - 1].end <= 1:
                        end = j + k
                        j = j + k + 1
                        matched = True
                        break
            if matched:
                continue
            t = toks[j]
            if not t.word or t.start - toks[j - 1].end != 1 or t.low in lex.stop:
                break
            if (t.cap and t.low not in lex.lexicon) or (t.cap and t.low in lex.surnames) or (
                t.low in lex.surnames and t.low not in lex.lexicon
            ):
                end = j
                j += 1
                continue
            break
        return end

    def _ner(self, text: str, add) -> None:
        doc = self.nlp(text)
        for ent in doc.ents:
            low = ent.text.lower()
            if low in self.lex.stop or low in self.lex.keep_words:
                continue
            if ent.label_ in {"PER", "PERSON"}:
                add(_span(ent.start_char, ent.end_char, "person", "person.spacy_ner", 0.8))
            elif ent.label_ in {"LOC", "GPE"}:
                add(_span(ent.start_char, ent.end_char, "city", "city.spacy_ner", 0.75))


_HOUSENUM_RE = re.compile(
    r"\d{1,5}(?:[a-zA-Z]{1,2}(?![\w])|\s[A-Z](?![\w]))?(?:-(?:\d{1,4}|[IVX]{1,4}|hs|bis|[a-zA-Z]))?"
    r"(?![\w:/]|[.,]\d)"
)


def _ends_with_suffix(low: str, suffixes: tuple[str, ...]) -> str | None:
    for s in suffixes:
        if low.endswith(s) and len(low) >= len(s) + 3:
            return s
    return None


_STRONG_STREET = ("straat", "laan", "gracht", "kade", "singel", "dreef", "steeg", "plein", "weg")


def _strong_street(low: str, _suffixes: tuple[str, ...]) -> bool:
    return _ends_with_suffix(low, _STRONG_STREET) is not None


def _span(start: int, end: int, type_: str, rule: str, score: float) -> RedactedSpan:
    return RedactedSpan(start, end, type_, PLACEHOLDERS[type_], rule, score)


def _apply(text: str, spans: Sequence[RedactedSpan], start: int, end: int) -> str:
    """text[start:end] with every overlapping span replaced by its placeholder."""
    out = []
    pos = start
    for s in spans:
        if s.end <= start or s.start >= end:
            continue
        if s.start > pos:
            out.append(text[pos:s.start])
        out.append(s.placeholder)
        pos = max(pos, s.end)
    if pos < end:
        out.append(text[pos:end])
    return "".join(out)


def redact_slice(text: str, spans: Sequence[RedactedSpan], start: int, end: int) -> str:
    """Redacted text[start:end] given the spans of the whole text (for evidence snippets).

    A span that crosses the slice edge becomes its whole placeholder, so no part of an
    identifier shows at the edge.
    """
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    return _apply(text, sorted(spans, key=lambda s: s.start), start, end)


_LEXICON: Lexicon | None = None
_REDACTOR: Redactor | None = None
_LOCK = threading.Lock()


def _get_lexicon() -> Lexicon:
    global _LEXICON
    with _LOCK:
        if _LEXICON is None:
            _LEXICON = Lexicon()
        return _LEXICON


def get_redactor() -> Redactor:
    """The process-wide redactor (word lists load once, about a second)."""
    global _REDACTOR
    if _REDACTOR is None:
        lex = _get_lexicon()
        with _LOCK:
            if _REDACTOR is None:
                _REDACTOR = Redactor(lexicon=lex)
    return _REDACTOR


def redact_text(text: str) -> str:
    """Shortcut: the redacted text only."""
    return get_redactor().redact(text).text


def redact_records(
    in_path: str | Path, write: Any, on_error: Any = None
) -> tuple[int, int]:
    """Redact a JSONL file line by line: `write(obj)` gets one object per non-blank line, in order.

    A message `{"id", "text", ...}` becomes `{"id", "text": redacted}` (other fields dropped);
    a conversation `{"id", "messages": [...]}` becomes `{"id", "messages": [{"role", "text"}]}`.
    A line that cannot be read (bad JSON, no text, not UTF-8, binary) becomes an error record
    `{"id": null, "line": n, "error": problem}` so no line is silently lost, and
    `on_error(LineError)` is called; neither ever holds the line's content.
    Returns (records written, errors).
    """
    from signaal.signals.io import LineError, read_jsonl

    red = get_redactor()
    n = errors = 0
    for number, record in read_jsonl(in_path):
        n += 1
        if isinstance(record, LineError):
            errors += 1
            if on_error is not None:
                on_error(record)
            write({"id": None, "line": number, "error": record.problem})
            continue
        rid = record.get("id")
        if "messages" in record:
            write({"id": rid, "messages": [
                {"role": m.get("role"), "text": red.redact(m["text"]).text}
                for m in record["messages"]
            ]})
        else:
            write({"id": rid, "text": red.redact(record["text"]).text})
    return n, errors
