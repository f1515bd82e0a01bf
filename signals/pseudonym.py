"""Keyed pseudonyms for chat-platform conversation ids.

A conversation id becomes `c_` + HMAC-SHA256(key, id) (hex, 40 chars after the prefix): stable
per key, so flag state and audit entries can be joined, yet not reversible or linkable without
the operator's secret key. The key comes from a file or an environment variable; it is never
printed, logged or shown in a repr.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_ENV_VAR = "SIGNAAL_PSEUDONYM_KEY"
PREFIX = "c_"
HEX_CHARS = 40  # 160 bits of the 256-bit HMAC: collision-free at helpline scale
MIN_KEY_BYTES = 16


class MissingKeyError(RuntimeError):
    """No pseudonym key was configured in production mode."""


class PseudonymKey:
    """Holds the secret; its repr and str never show it."""

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, source: str) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"pseudonym key from {source} is too short (< {MIN_KEY_BYTES} bytes)")
        self._secret = bytes(secret)
        self.source = source

    def reveal(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return f"PseudonymKey(source={self.source!r}, secret=<hidden>)"

    __str__ = __repr__

    def __reduce__(self):  # never pickle the secret into a file by accident
        raise TypeError("PseudonymKey cannot be pickled")


class Pseudonymizer:
    """`Pseudonymizer(key).pseudonym("platform-id") -> "c_<40 hex>"`."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes | PseudonymKey) -> None:
        if isinstance(key, PseudonymKey):
            key = key.reveal()
        if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
            raise ValueError(f"pseudonym key must be at least {MIN_KEY_BYTES} bytes")
        self._key = bytes(key)

    def pseudonym(self, platform_id: str) -> str:
        digest = hmac.new(self._key, str(platform_id).encode("utf-8"), hashlib.sha256)
        return PREFIX + digest.hexdigest()[:HEX_CHARS]

    __call__ = pseudonym

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<hidden>)"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("Pseudonymizer cannot be pickled")


def _decode(raw: bytes) -> bytes:
    """Key files/variables may hold raw bytes, hex or text; strip a trailing newline."""
    raw = raw.strip()
    try:
        text = raw.decode("ascii")
        if len(text) >= 2 * MIN_KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in text) \
                and len(text) % 2 == 0:
            return bytes.fromhex(text)
    except UnicodeDecodeError:
        pass
    return raw


def load_key(
    key_file: str | os.PathLike[str] | None = None,
    env_var: str = DEFAULT_ENV_VAR,
    demo: bool = False,
) -> PseudonymKey:
    """The operator's key: from `key_file` if given, else from `env_var`.

    Production (demo=False): a missing key raises MissingKeyError naming where to put one.
    Demo: a random ephemeral key is generated (pseudonyms then change every run) with a warning.
    """
    if key_file:
        path = Path(key_file)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise MissingKeyError(
                f"cannot read pseudonym key file {path}: {exc.strerror or exc}"
            ) from None
        return PseudonymKey(_decode(raw), f"file:{path}")
    value = os.environ.get(env_var)
    if value:
        return PseudonymKey(_decode(value.encode("utf-8")), f"env:{env_var}")
    if demo:
        msg = (
            "no pseudonym key configured: using an ephemeral random key (demo mode); "
            "pseudonyms will not match across runs"
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        log.warning(msg)
        return PseudonymKey(secrets.token_bytes(32), "ephemeral")
    raise MissingKeyError(
        f"no pseudonym key: set the environment variable {env_var} or pass a key file "
        "(32+ random bytes, e.g. `python -c \"import secrets;print(secrets.token_hex(32))\"`); "
        "use demo mode for an ephemeral key"
    )
