"""A connected account's tokens: decrypted only to be handed to its adapter, stored only encrypted.

The one rule every connect, reconnect and refresh keeps: **a refresh token is never erased**.
Platforms often answer a refresh without a new refresh token (meaning "keep using the old
one"); writing that absence over the stored token is the bug that forces people to reconnect
every day. `store_tokens` keeps the stored refresh token unless a new one arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from postforge.models import AccountStatus, SocialAccount, utcnow
from postforge.platforms.base import (
    AccountCredentials,
    PlatformAdapter,
    RefreshRevoked,
    RefreshUnavailable,
    TokenSet,
    Transient,
)
from postforge.services.infra import token_crypto
from postforge.services.kernel.errors import NotFound


def credentials_for(account: SocialAccount) -> AccountCredentials:
    """What the adapter needs, tokens decrypted. Raises `token_crypto.TokenUnreadable` when no
    configured key can read them (the account must then be reconnected)."""
    return AccountCredentials(
        platform_account_id=account.platform_account_id,
        access_token=token_crypto.decrypt(account.access_token_enc) or "",
        refresh_token=token_crypto.decrypt(account.refresh_token_enc),
        token_expires_at=account.token_expires_at,
        handle=account.handle,
        instance_url=account.instance_url,
        settings=dict(account.settings or {}),
        account_id=account.id,
    )


def store_tokens(account: SocialAccount, tokens: TokenSet) -> None:
    """Write fresh tokens onto `account` (the caller commits). Marks it connected again."""
    if not tokens.access_token:
        raise ValueError("an access token is required")
    account.access_token_enc = token_crypto.encrypt(tokens.access_token)
    if tokens.refresh_token:
        account.refresh_token_enc = token_crypto.encrypt(tokens.refresh_token)
    account.token_expires_at = tokens.expires_at
    if tokens.scopes:
        account.scopes = tokens.scopes
    account.status = AccountStatus.CONNECTED
    account.last_error = ""
    account.updated_at = utcnow()


def mark_needs_reconnect(account: SocialAccount, reason: str) -> None:
    """The platform refuses the account's tokens for good; nothing stored is deleted."""
    account.status = AccountStatus.NEEDS_RECONNECT
    account.last_error = reason[:2000]
    account.updated_at = utcnow()


def expiring(credentials: AccountCredentials, adapter: PlatformAdapter, now: datetime) -> bool:
    """Whether the access token expires within the adapter's refresh margin."""
    expires = credentials.token_expires_at
    return expires is not None and expires - adapter.refresh_margin <= now


@dataclass(frozen=True)
class Reconnect:
    """The platform refused the refresh token: only the user reconnecting helps."""

    error: str


def refresh_locked(
    engine: Engine,
    account_id: int,
    adapter: PlatformAdapter,
    *,
    used_token: str | None,
    now: datetime | None = None,
) -> AccountCredentials | Reconnect | Transient:
    """Refresh the account's tokens, one refresh per account at a time.

    The account row is locked (PostgreSQL `FOR UPDATE`; on SQLite the write lock a no-op
    UPDATE takes) and read again inside the lock: whoever waited finds the tokens the first
    one stored and uses them instead of refreshing a second time (rotating refresh tokens
    break under two concurrent refreshes). `used_token` is the access token the platform just
    refused (None: a refresh ahead of expiry).
    """
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        account = _lock_account(session, account_id)
        current = credentials_for(account)
        if account.status != AccountStatus.CONNECTED:
            return Reconnect(account.last_error or "The account needs reconnecting.")
        if used_token is None and not expiring(current, adapter, now):
            return current  # refreshed by someone else meanwhile
        if used_token is not None and current.access_token != used_token:
            return current
        try:
            tokens = adapter.refresh(current)
        except RefreshRevoked as error:
            mark_needs_reconnect(account, error.message)
            session.add(account)
            return Reconnect(error.message)
        except RefreshUnavailable as error:
            return Transient(f"Could not renew the account's access: {error}")
        store_tokens(account, tokens)
        session.add(account)
        session.flush()
        return credentials_for(account)


def _lock_account(session: Session, account_id: int) -> SocialAccount:
    if session.get_bind().dialect.name == "postgresql":
        return session.exec(
            select(SocialAccount).where(SocialAccount.id == account_id).with_for_update()
        ).one()
    session.execute(
        sa.update(SocialAccount)
        .where(col(SocialAccount.id) == account_id)
        .values(updated_at=SocialAccount.updated_at)
        .execution_options(synchronize_session=False)
    )
    account = session.get(SocialAccount, account_id, populate_existing=True)
    if account is None:
        raise NotFound("The account no longer exists.")
    return account
