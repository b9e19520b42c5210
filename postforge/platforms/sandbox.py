"""The built-in sandbox platform: posts land in PostForge's own database and show on the
sandbox feed page. It needs no account anywhere, so embedded mode publishes for real.

Like Mastodon it honours an idempotency key: a destination's key is unique in the feed, so a
retry after a crash finds the post it already made instead of making a second one.

Nobody reads the sandbox feed, so its engagement is simulated (`simulated_metrics`): numbers
that follow from the post's id and age alone, growing over its first two days, so the demo's
analytics show something plausible and the same post at the same moment always shows the same.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from postforge.models import Platform, SandboxPost
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    ConnectedAccount,
    Outcome,
    PlatformAdapter,
    PostMetricsSnapshot,
    Published,
    PublishRequest,
    RateLimitPolicy,
    Rejected,
    TokenSet,
    Transient,
)
from postforge.platforms.rules import text_problems

# A simulated post gathers its audience over this many hours, then its numbers stay put.
GROWTH_HOURS = 48
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

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """Simulated engagement of one of this account's sandbox posts; None for any other id."""
        post_id = _row_id(platform_post_id)
        if post_id is None or account.account_id is None:
            return None
        from postforge.db import get_engine

        table = SandboxPost.__table__
        try:
            with get_engine().connect() as connection:
                created_at = connection.execute(
                    sa.select(table.c.created_at).where(
                        table.c.id == post_id, table.c.social_account_id == account.account_id
                    )
                ).scalar()
        except DBAPIError:  # the database is busy, away or not migrated: no numbers this time
            return None
        if created_at is None:
            return None
        return simulated_metrics(post_id, created_at, datetime.now(UTC))

    def connect_builtin(self, name: str, handle: str) -> ConnectedAccount:
        profile = AccountProfile(platform_account_id=handle.lstrip("@"), handle=handle, display_name=name)
        return ConnectedAccount(profile=profile, tokens=TokenSet(access_token=SANDBOX_TOKEN))

    def can_refresh(self, account: AccountCredentials) -> bool:
        return True

    def refresh(self, account: AccountCredentials) -> TokenSet:
        return TokenSet(access_token=SANDBOX_TOKEN)


def _row_id(text: str) -> int | None:
    """A sandbox post id as the database holds it: ASCII digits within a 64-bit integer."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


def simulated_metrics(post_id: int, created_at: datetime, now: datetime) -> PostMetricsSnapshot:
    """Engagement for sandbox post `post_id` at `now`: zero when it is posted, growing (fast at
    first, then slower) for GROWTH_HOURS, then fixed. Every count only ever grows."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    # A hash, not `hash()`: the web app and the workers must agree on a post's numbers.
    seed = hashlib.sha256(f"postforge-sandbox-post:{post_id}".encode()).digest()
    audience = 200 + int.from_bytes(seed[:2], "big") % 1800  # views once fully grown
    hours = min(max((now - created_at).total_seconds() / 3600, 0.0), GROWTH_HOURS)
    progress = 1 - (1 - hours / GROWTH_HOURS) ** 2
    impressions = int(audience * progress)
    likes = impressions * (3 + seed[2] % 8) // 100
    return PostMetricsSnapshot(
        impressions=impressions,
        reach=impressions * (55 + seed[3] % 35) // 100,
        likes=likes,
        comments=likes * (10 + seed[4] % 20) // 100,
        shares=likes * (5 + seed[5] % 20) // 100,
    )


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
