"""Service settings: one dataclass, filled by `signaal serve` or by tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from signaal.service.auth import ROLES

DAY = 86_400.0


class SettingsError(ValueError):
    """A setting or a settings file is wrong; the message says which and how to fix it."""


@dataclass
class Settings:
    tokens: dict[str, str]  # token -> role ("platform" or "counselor")
    key: bytes | object  # the pseudonym key (bytes or signals.pseudonym.PseudonymKey)
    data_dir: Path | None = None  # SQLite file lives here
    store: str = "sqlite"  # "sqlite" or "postgres"
    dsn: str | None = None  # PostgreSQL connection string (store="postgres")
    retention_days_state: float = 1.0  # conversation flag state expires this long after its last message
    audit_retention_days: float = 183.0  # audit trail and verdicts: six months by default
    max_body_bytes: int = 64 * 1024  # larger request bodies -> 413
    max_text_chars: int = 5_000  # longer messages -> 422
    heartbeat_seconds: float = 15.0  # SSE keep-alive comment interval
    cache_size: int = 10_000  # live conversations kept in memory (LRU)
    purge_interval_seconds: float = 3_600.0
    sqlite_synchronous: str = "FULL"  # every acknowledged message survives a crash or power loss
    model: str | None = None  # model name for the analyzer (None: the default; "rules": none)
    model_process: bool = False  # score the model in a second process (uses a second core)
    store_process: bool = False  # run the store's group commit in a process of its own
    demo: bool = False
    ephemeral_data_dir: bool = False  # demo: remove data_dir when the service stops

    @property
    def state_ttl(self) -> float:
        return self.retention_days_state * DAY

    @property
    def audit_ttl(self) -> float:
        return self.audit_retention_days * DAY


def read_tokens(path: str | Path) -> dict[str, str]:
    """Tokens file: one `ROLE TOKEN` per line; blank lines and `#` comments are skipped.
    Errors name the line number, never the token."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SettingsError(f"cannot read tokens file {path}: {exc.strerror or exc}") from None
    tokens: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ROLES:
            raise SettingsError(f"{path}:{number}: expected 'ROLE TOKEN' with ROLE one of "
                                f"{', '.join(ROLES)}")
        role, token = parts
        if len(token) < 16:
            raise SettingsError(f"{path}:{number}: token is too short (use 16+ random characters)")
        tokens[token] = role
    if not tokens:
        raise SettingsError(f"{path}: no tokens (expected lines 'platform TOKEN' / 'counselor TOKEN')")
    return tokens
