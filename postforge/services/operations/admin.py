"""System-wide figures for the admin pages."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from postforge.models import DestinationStatus, Payment, Post, PostDestination, StripeEvent, User, Workspace


@dataclass(frozen=True)
class SystemCounts:
    users: int
    workspaces: int
    posts: int
    failed_destinations: int


def system_counts(session: Session) -> SystemCounts:
    def count(statement) -> int:
        return session.exec(statement).one()

    return SystemCounts(
        users=count(select(func.count()).select_from(User)),
        workspaces=count(select(func.count()).select_from(Workspace)),
        posts=count(select(func.count()).select_from(Post).where(Post.deleted_at.is_(None))),  # type: ignore[union-attr]
        failed_destinations=count(
            select(func.count())
            .select_from(PostDestination)
            .where(PostDestination.status == DestinationStatus.FAILED)
        ),
    )


@dataclass(frozen=True)
class OwedCredits:
    """Credits a refund could not take back because the workspace had already spent them."""

    workspace_id: int
    workspace_name: str
    credits_owed: int
    payments: int


def owed_credits(session: Session, *, limit: int = 50) -> list[OwedCredits]:
    """Workspaces owing credits after refunds, largest debt first (one query)."""
    rows = session.exec(
        select(
            Workspace.id,
            Workspace.name,
            func.sum(Payment.credits_owed),
            func.count(Payment.id),  # type: ignore[arg-type]
        )
        .join(Payment, Payment.workspace_id == Workspace.id)  # type: ignore[arg-type]
        .where(Payment.credits_owed > 0)
        .group_by(Workspace.id, Workspace.name)
        .order_by(func.sum(Payment.credits_owed).desc(), Workspace.id)
        .limit(limit)
    ).all()
    return [
        OwedCredits(int(ws_id or 0), name, int(owed or 0), int(count)) for ws_id, name, owed, count in rows
    ]


def stuck_stripe_events(session: Session) -> int:
    """Stripe events stored but still unprocessed (the sweep retries them; a rising count is a fault)."""
    return session.exec(
        select(func.count()).select_from(StripeEvent).where(StripeEvent.processed_at.is_(None))  # type: ignore[union-attr]
    ).one()
