import logging
import pickle
import re

import pytest

from signaal.signals.pseudonym import (
    MissingKeyError,
    Pseudonymizer,
    PseudonymKey,
    load_key,
)

KEY_A = b"a" * 32
KEY_B = b"b" * 32


def test_deterministic_per_key():
    assert Pseudonymizer(KEY_A).pseudonym("conv-1") == Pseudonymizer(KEY_A).pseudonym("conv-1")


def test_different_per_key_and_per_id():
    assert Pseudonymizer(KEY_A).pseudonym("conv-1") != Pseudonymizer(KEY_B).pseudonym("conv-1")
    assert Pseudonymizer(KEY_A).pseudonym("conv-1") != Pseudonymizer(KEY_A).pseudonym("conv-2")


def test_format_is_prefixed_hex_of_at_least_32_chars():
    p = Pseudonymizer(KEY_A).pseudonym("conv-1")
    assert re.fullmatch(r"c_[0-9a-f]{32,64}", p)
    assert "conv-1" not in p


def test_short_key_is_refused():
    with pytest.raises(ValueError):
        Pseudonymizer(b"short")


def test_key_never_in_repr_str_or_pickle(tmp_path):
    secret = "0123456789abcdef" * 4
    path = tmp_path / "key"
    path.write_text(secret + "\n")
    key = load_key(path)
    p = Pseudonymizer(key)
    for shown in (repr(key), str(key), repr(p), str(p)):
        assert secret not in shown and bytes.fromhex(secret).hex() not in shown
        assert "hidden" in shown
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        pickle.dumps(p)


def test_key_from_env(monkeypatch):
    monkeypatch.setenv("SIGNAAL_PSEUDONYM_KEY", "x" * 40)
    key = load_key()
    assert key.source == "env:SIGNAAL_PSEUDONYM_KEY"
    assert Pseudonymizer(key).pseudonym("c") == Pseudonymizer(b"x" * 40).pseudonym("c")


def test_file_takes_precedence_over_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SIGNAAL_PSEUDONYM_KEY", "x" * 40)
    path = tmp_path / "k"
    path.write_bytes(b"y" * 40)
    assert Pseudonymizer(load_key(path)).pseudonym("c") == Pseudonymizer(b"y" * 40).pseudonym("c")


def test_missing_key_is_a_clear_error_in_production(monkeypatch):
    monkeypatch.delenv("SIGNAAL_PSEUDONYM_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="SIGNAAL_PSEUDONYM_KEY"):
        load_key(demo=False)


def test_unreadable_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(MissingKeyError, match="cannot read"):
        load_key(tmp_path / "missing")


def test_demo_mode_warns_and_uses_ephemeral_key(monkeypatch, caplog):
    monkeypatch.delenv("SIGNAAL_PSEUDONYM_KEY", raising=False)
    with caplog.at_level(logging.WARNING), pytest.warns(RuntimeWarning, match="ephemeral"):
        k1 = load_key(demo=True)
    with pytest.warns(RuntimeWarning):
        k2 = load_key(demo=True)
    assert k1.source == "ephemeral"
    assert Pseudonymizer(k1).pseudonym("c") != Pseudonymizer(k2).pseudonym("c")
    assert k1.reveal().hex() not in caplog.text and "ephemeral" in caplog.text


def test_key_not_logged_when_loaded(monkeypatch, caplog, tmp_path):
    secret = "s3cr3t-" + "q" * 30
    monkeypatch.setenv("SIGNAAL_PSEUDONYM_KEY", secret)
    with caplog.at_level(logging.DEBUG):
        key = load_key()
        Pseudonymizer(key).pseudonym("conv")
    assert secret not in caplog.text
    assert isinstance(key, PseudonymKey)
