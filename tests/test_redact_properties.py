"""Property tests: the redactor never crashes, and never lets a generated identifier through
when it is embedded in ordinary Dutch chat sentences."""

import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban
from stdnum.nl import bsn as stdnum_bsn

from signaal.signals.redact import get_redactor

R = get_redactor()
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

BEFORE = ["bel me op", "zn nummer is", "hij zei stuur het naar", "mn gegevens:", "ok dus",
          "ik ben 14 en", "hij heeft", "Mama weet niet dat", "stuur maar naar", "via",
          "om 20:00 moet ik naar", "app me op"]
AFTER = ["", ".", "!", " pls", " maar bel nie", ", hij wacht om 22:00", " dan is hij weg",
         " en ik ben bang", "?", " (dat is van hem)"]


def sentence(ident: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(st.sampled_from(BEFORE), ident, st.sampled_from(AFTER)).map(
        lambda t: (f"{t[0]} {t[1]}{t[2]}", t[1]))


@st.composite
def nl_mobile(draw) -> str:
    d = draw(st.text("0123456789", min_size=8, max_size=8))
    spelling = draw(st.sampled_from([
        "06{d}", "06-{d}", "06 {d}", "06-{a} {b} {c} {e}", "06 {a} {b} {c} {e}", "+316{d}",
        "+31 6 {d}", "+31 (0)6 {d}", "0031 6 {d}", "0031-6-{d}", "+31 6 {f} {g}",
    ]))
    return spelling.format(d=d, a=d[:2], b=d[2:4], c=d[4:6], e=d[6:], f=d[:4], g=d[4:])


@st.composite
def nl_iban(draw) -> str:
    bank = draw(st.sampled_from(["ABNA", "RABO", "INGB", "ASNB", "TRIO", "KNAB", "BUNQ", "SNSB"]))
    account = draw(st.text("0123456789", min_size=10, max_size=10))
    bban = bank + account
    check = stdnum_iban.calc_check_digits("NL00" + bban)
    compact = "NL" + check + bban
    if draw(st.booleans()):
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return compact


@st.composite
def valid_bsn(draw) -> str:
    # 8 random digits plus the one last digit (if any) that passes the 11-test
    body = draw(st.text("123456789", min_size=1, max_size=1)) + draw(
        st.text("0123456789", min_size=7, max_size=7))
    valid = [body + d for d in "0123456789" if stdnum_bsn.is_valid(body + d)]
    assume(valid)
    return valid[0]


@st.composite
def email(draw) -> str:
    alnum = string.ascii_lowercase + string.digits
    local = draw(st.text(alnum, min_size=1, max_size=10))
    sep = draw(st.sampled_from(["", ".", "_", "-"]))
    local2 = draw(st.text(alnum, min_size=0, max_size=6))
    domain = draw(st.text(string.ascii_lowercase, min_size=2, max_size=10))
    tld = draw(st.sampled_from(["nl", "com", "be", "net", "org"]))
    return f"{local}{sep}{local2 if sep else ''}@{domain}.{tld}".replace(".@", "@").replace(
        "_@", "@").replace("-@", "@")


@SETTINGS
@given(st.text(max_size=400))
def test_never_crashes_on_arbitrary_text(text):
    red = R.redact(text)
    assert isinstance(red.text, str)
    prev_end = 0
    for s in red.spans:
        assert prev_end <= s.start < s.end <= len(text)
        prev_end = s.end


@SETTINGS
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_never_crashes_on_odd_unicode(text):
    R.redact(text)


@SETTINGS
@given(sentence(nl_mobile()))
def test_phone_numbers_never_survive(case):
    text, ident = case
    assert ident not in R.redact(text).text


@SETTINGS
@given(sentence(nl_iban()))
def test_ibans_never_survive(case):
    text, ident = case
    assert ident not in R.redact(text).text


@SETTINGS
@given(sentence(valid_bsn()))
def test_bsns_never_survive(case):
    text, ident = case
    assert ident not in R.redact(text).text


@SETTINGS
@given(sentence(email()))
def test_emails_never_survive(case):
    text, ident = case
    assert ident not in R.redact(text).text
