"""A connected account's tokens: decrypted only to be handed to its adapter, stored only encrypted.

The one rule every connect, reconnect and refresh keeps: **a refresh token is never erased**.
Platforms often answer a refresh without a new refresh token (meaning "keep using the old
one"); writing that absence over the stored token is the bug that forces people to reconnect
every day. `store_tokens` keeps the stored refresh token unless a new one arrives.
"""

from __future__ import annotations

from postforge.models import AccountStatus, SocialAccount, utcnow
from postforge.platforms.base import AccountCredentials, TokenSet
from postforge.services import token_crypto


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
