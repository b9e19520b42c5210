"""Workspace lookups shared by the pages."""

from dataclasses import dataclass

from sqlmodel import Session, select

from postforge.models import Workspace


@dataclass(frozen=True)
class WorkspaceSummary:
    id: int
    name: str
    credits: int
    timezone: str


def summarize(workspace: Workspace) -> WorkspaceSummary:
    return WorkspaceSummary(
        id=workspace.id or 0, name=workspace.name, credits=workspace.credits, timezone=workspace.timezone
    )


def default_workspace(session: Session) -> WorkspaceSummary | None:
    """The oldest workspace — the seeded demo one in embedded mode.

    Until sign-in exists every visitor works in this workspace; the accounts work replaces this
    with the signed-in member's chosen workspace.
    """
    workspace = session.exec(select(Workspace).order_by(Workspace.id).limit(1)).first()
    return summarize(workspace) if workspace else None
