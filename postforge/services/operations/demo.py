"""The demo account for embedded mode: a user with a workspace, credits, a brand, a sandbox feed and posts.

`seed_demo` is idempotent: when the demo user exists it changes nothing (unless asked to set a
new password), so `postforge run` can call it on every start.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from postforge.models import (
    AccountStatus,
    AttemptOutcome,
    Brand,
    DestinationStatus,
    Membership,
    Platform,
    Post,
    PostDestination,
    PostStatus,
    PublishAttempt,
    SocialAccount,
    User,
    Workspace,
    utcnow,
)
from postforge.services.identity.onboarding import create_personal_workspace
from postforge.services.identity.passwords import generate_password, hash_password

DEMO_EMAIL = "demo@postforge.local"
DEMO_NAME = "Demo User"
DEMO_TIMEZONE = "Europe/Berlin"
DEMO_WORKSPACE_NAME = "Demo workspace"
DEMO_BRAND_NAME = "PostForge Demo"
SANDBOX_ACCOUNT_ID = "sandbox-demo"


@dataclass(frozen=True)
class DemoResult:
    email: str
    user_id: int
    workspace_id: int
    created: bool  # False: the user was already there and nothing else was added
    password: str | None  # set (and so printable) only when this run stored a new password


def seed_demo(
    session: Session,
    *,
    email: str = DEMO_EMAIL,
    password: str | None = None,
    reset_password: bool = False,
) -> DemoResult:
    """Create the demo user and its data once; the caller commits.

    On a later run nothing changes and no password is returned — unless `reset_password`
    asks for a new one (`password`, or a generated one).
    """
    email = email.strip().casefold()
    if "@" not in email:
        raise ValueError(f"not an email address: {email!r}")
    if password is not None and not password.strip():
        raise ValueError("the demo password must not be blank")

    existing = session.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        return _existing_demo(session, existing, password if reset_password else None, reset_password)

    password = password or generate_password()
    user = User(
        email=email,
        password_hash=hash_password(password),
        name=DEMO_NAME,
        timezone=DEMO_TIMEZONE,
        # The demo runs on a laptop for people prototyping: it sees the admin pages too.
        is_admin=True,
        email_verified_at=utcnow(),
    )
    session.add(user)
    session.flush()
    # The same personal workspace and welcome bonus every new account gets, under a demo name.
    workspace = create_personal_workspace(session, user)
    workspace.name = DEMO_WORKSPACE_NAME
    session.add(workspace)
    brand = _create_brand(session, workspace)
    account = _create_sandbox_account(session, workspace, user)
    _create_example_posts(session, workspace, user, brand, account)
    session.flush()
    return DemoResult(
        email=email, user_id=user.id or 0, workspace_id=workspace.id or 0, created=True, password=password
    )


def _existing_demo(session: Session, user: User, password: str | None, reset_password: bool) -> DemoResult:
    new_password = None
    if reset_password:
        new_password = password or generate_password()
        user.password_hash = hash_password(new_password)
        session.add(user)
        session.flush()
    membership = session.exec(
        select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)  # type: ignore[arg-type]
    ).first()
    return DemoResult(
        email=user.email,
        user_id=user.id or 0,
        workspace_id=membership.workspace_id if membership else 0,
        created=False,
        password=new_password,
    )


def _create_brand(session: Session, workspace: Workspace) -> Brand:
    brand = Brand(
        workspace_id=workspace.id,
        name=DEMO_BRAND_NAME,
        tone_of_voice=(
            "Friendly and practical. Short sentences, one idea per post, no hype. "
            "Show how something works instead of saying it is great."
        ),
        target_audience=(
            "Freelancers, small marketing teams and founders who post on several networks "
            "and want to plan a week of posts in one sitting."
        ),
        sample_posts=[
            "Plan on Monday, post all week: write five posts in one sitting, let the calendar do the rest.",
            "One draft, three networks. Adjust the wording per platform before it goes out.",
        ],
    )
    session.add(brand)
    session.flush()
    return brand


def _create_sandbox_account(session: Session, workspace: Workspace, user: User) -> SocialAccount:
    account = SocialAccount(
        workspace_id=workspace.id,
        connected_by_id=user.id,
        platform=Platform.SANDBOX,
        platform_account_id=SANDBOX_ACCOUNT_ID,
        handle="@demo",
        display_name="Sandbox feed",
        status=AccountStatus.CONNECTED,
    )
    session.add(account)
    session.flush()
    return account


def _create_example_posts(
    session: Session, workspace: Workspace, user: User, brand: Brand, account: SocialAccount
) -> None:
    now = utcnow()
    common = {
        "workspace_id": workspace.id,
        "author_id": user.id,
        "brand_id": brand.id,
        "timezone": user.timezone,
    }

    session.add(
        Post(
            **common,
            status=PostStatus.DRAFT,
            content=(
                "Writer's block before a launch? Give PostForge your topic and your brand voice, "
                "and it drafts a post with hashtags and a suggested time to publish. "
                "You edit, it schedules."
            ),
            meta={
                "hashtags": ["#contentmarketing", "#socialmedia"],
                "ai_generated": True,
                "tone": "friendly",
            },
        )
    )

    scheduled = [
        (
            _local_time(now, user.timezone, days_ahead=1, at=time(9, 0)),
            "New this week: drag a post to another day in the calendar and PostForge moves every "
            "network it is scheduled for. Your local time stays the same, even across a clock change.",
            ["#productupdate", "#scheduling"],
        ),
        (
            _local_time(now, user.timezone, days_ahead=3, at=time(14, 30)),
            "Tip: connect the sandbox feed first. It behaves like a real network, so you can watch "
            "a post go from scheduled to published without touching your real accounts.",
            ["#tips", "#postforge"],
        ),
    ]
    for scheduled_at, content, hashtags in scheduled:
        post = Post(
            **common,
            status=PostStatus.SCHEDULED,
            scheduled_at=scheduled_at,
            first_scheduled_at=now,
            content=content,
            meta={"hashtags": hashtags, "ai_generated": False},
        )
        session.add(post)
        session.flush()
        session.add(
            PostDestination(
                post_id=post.id,
                social_account_id=account.id,
                status=DestinationStatus.PENDING,
                next_attempt_at=scheduled_at,
                idempotency_key=uuid.uuid4().hex,
            )
        )

    _create_published_post(session, common, account, published_at=now - timedelta(days=2, hours=3))


def _create_published_post(
    session: Session, common: dict, account: SocialAccount, *, published_at: datetime
) -> None:
    post = Post(
        **common,
        status=PostStatus.PUBLISHED,
        scheduled_at=published_at,
        first_scheduled_at=published_at - timedelta(days=1),
        published_at=published_at,
        content=(
            "We moved our whole posting routine into PostForge: ideas in the morning, drafts by lunch, "
            "the week scheduled before Friday. Ten free credits to try the AI writer."
        ),
        meta={"hashtags": ["#workflow", "#socialmedia"], "ai_generated": True, "tone": "friendly"},
    )
    session.add(post)
    session.flush()
    destination = PostDestination(
        post_id=post.id,
        social_account_id=account.id,
        status=DestinationStatus.PUBLISHED,
        platform_post_id=f"sandbox-{uuid.uuid4().hex[:12]}",
        attempts=1,
        idempotency_key=uuid.uuid4().hex,
        published_at=published_at,
    )
    session.add(destination)
    session.flush()
    session.add(
        PublishAttempt(
            destination_id=destination.id,
            attempt_number=1,
            started_at=published_at,
            finished_at=published_at + timedelta(seconds=1),
            outcome=AttemptOutcome.PUBLISHED,
            http_status=200,
        )
    )


def _local_time(now: datetime, zone_name: str, *, days_ahead: int, at: time) -> datetime:
    """`at` o'clock in `zone_name`, `days_ahead` days from now, as an aware UTC datetime."""
    try:
        zone = ZoneInfo(zone_name)
    except ZoneInfoNotFoundError:
        zone = UTC  # type: ignore[assignment] — a system without tz data still gets a demo
    day = now.astimezone(zone).date() + timedelta(days=days_ahead)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
