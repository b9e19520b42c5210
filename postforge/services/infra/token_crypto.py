"""Platform tokens at rest: encrypted with MultiFernet, rotatable without downtime.

Keys come from `TOKEN_ENCRYPTION_KEYS` (comma-separated, newest first): the first encrypts, all
decrypt. Rotation: put a new key first, deploy, run `postforge rotate-token-keys` (re-encrypts
every stored token under the newest key, keeping Fernet's timestamps), then drop the old key.

Embedded mode without configured keys keeps one generated key in `DATA_DIR/token-encryption.key`
(mode 0600) so a laptop needs no setup; production refuses to start without keys (settings).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlmodel import Session, col, select

from postforge.models import SocialAccount
from postforge.services.infra.local_secrets import stored_secret
from postforge.settings import Settings, get_settings

EMBEDDED_KEY_FILE = "token-encryption.key"
TOKEN_COLUMNS = ("access_token_enc", "refresh_token_enc")


class TokenUnreadable(Exception):
    """A stored token cannot be decrypted with the configured keys (a key was removed too early)."""

    def __init__(self) -> None:
        super().__init__(
            "A stored account token cannot be decrypted with the configured encryption keys. "
            "Restore the previous key in TOKEN_ENCRYPTION_KEYS, or reconnect the account."
        )


def keys(settings: Settings | None = None) -> list[str]:
    settings = settings or get_settings()
    if settings.encryption_keys:
        return settings.encryption_keys
    if settings.environment == "production":
        raise RuntimeError("TOKEN_ENCRYPTION_KEYS is required in production")  # settings refuse earlier
    return [stored_secret(settings.data_dir, EMBEDDED_KEY_FILE, lambda: Fernet.generate_key().decode())]


def cipher(settings: Settings | None = None) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys(settings)])


def encrypt(plaintext: str | None, *, using: MultiFernet | None = None) -> str | None:
    if plaintext is None or plaintext == "":
        return None
    return (using or cipher()).encrypt(plaintext.encode()).decode()


def decrypt(token: str | None, *, using: MultiFernet | None = None) -> str | None:
    if not token:
        return None
    try:
        return (using or cipher()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise TokenUnreadable() from None


@dataclass(frozen=True)
class RotationReport:
    accounts: int
    tokens: int
    unreadable_account_ids: list[int]


def rotate_all(
    session: Session, *, using: MultiFernet | None = None, batch_size: int = 500
) -> RotationReport:
    """Re-encrypt every stored token under the newest key. Safe to run again; resumable by batch.

    Tokens that no configured key can read are left untouched and reported: deleting them would
    make a recoverable mistake (a key dropped too early) permanent.
    """
    fernet = using or cipher()
    accounts = tokens = 0
    unreadable: list[int] = []
    last_id = 0
    while True:
        rows = session.exec(
            select(SocialAccount)
            .where(col(SocialAccount.id) > last_id)
            .order_by(col(SocialAccount.id))
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for account in rows:
            last_id = account.id or last_id
            changed = 0
            for column in TOKEN_COLUMNS:
                value = getattr(account, column)
                if not value:
                    continue
                try:
                    setattr(account, column, fernet.rotate(value.encode()).decode())
                except InvalidToken:
                    unreadable.append(account.id or 0)
                    break
                changed += 1
            if changed:
                accounts += 1
                tokens += changed
                session.add(account)
        session.flush()
    return RotationReport(accounts, tokens, sorted(set(unreadable)))
