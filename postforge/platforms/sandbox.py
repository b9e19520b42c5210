"""The built-in sandbox platform: posts land in PostForge's own database and show on the
sandbox feed page. It needs no account anywhere, so embedded mode publishes for real.

Like Mastodon it honours an idempotency key: a destination's key is unique in the feed, so a
retry after a crash finds the post it already made instead of making a second one.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from postforge.models import Platform, SandboxPost
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    ConnectedAccount,
    Outcome,
    PlatformAdapter,
    Published,
    PublishRequest,
    RateLimitPolicy,
    Rejected,
    TokenSet,
    Transient,
)
from postforge.platforms.rules import text_problems

SANDBOX_TOKEN = "sandbox"  # noqa: S105 — the sandbox checks no token; one is stored so every account looks alike


class SandboxAdapter(PlatformAdapter):
    platform = Platform.SANDBOX
    label = "Sandbox"
    idempotent = True
    connect_kind = "builtin"
    rate_limit = RateLimitPolicy(capacity=60, per_seconds=60)

    def publish(self, request: PublishRequest) -> Outcome:
        problems = text_problems(Platform.SANDBOX, request.text, media_count=len(request.media))
        if problems:
            return Rejected("; ".join(problems), http_status=422)
        if request.account.account_id is None:
            return Rejected("The sandbox account is unknown.", http_status=404)
        from postforge.db import get_engine

        try:
            with get_engine().begin() as connection:
                post_id = _existing(connection, request.idempotency_key) or _insert(connection, request)
        except OperationalError as error:  # the database was busy or away: nothing was written
            return Transient(f"The sandbox feed could not be written: {error.orig}")
        return Published(str(post_id), url=f"{self.settings.app_url}/sandbox#post-{post_id}")

    def connect_builtin(self, name: str, handle: str) -> ConnectedAccount:
        profile = AccountProfile(platform_account_id=handle.lstrip("@"), handle=handle, display_name=name)
        return ConnectedAccount(profile=profile, tokens=TokenSet(access_token=SANDBOX_TOKEN))

    def can_refresh(self, account: AccountCredentials) -> bool:
        return True

    def refresh(self, account: AccountCredentials) -> TokenSet:
        return TokenSet(access_token=SANDBOX_TOKEN)


def _existing(connection: sa.Connection, key: str) -> int | None:
    table = SandboxPost.__table__
    return connection.execute(sa.select(table.c.id).where(table.c.idempotency_key == key)).scalar()


def _insert(connection: sa.Connection, request: PublishRequest) -> int:
    table = SandboxPost.__table__
    try:
        with connection.begin_nested():
            return connection.execute(
                sa.insert(table)
                .values(
                    social_account_id=request.account.account_id,
                    idempotency_key=request.idempotency_key,
                    text=request.text,
                    created_at=sa.func.now(),
                )
                .returning(table.c.id)
            ).scalar_one()
    except IntegrityError:  # a concurrent copy of this publish won the race: same post
        return _existing(connection, request.idempotency_key) or 0
