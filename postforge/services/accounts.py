"""Connected social accounts of a workspace."""

from dataclasses import dataclass

from sqlmodel import Session, select

from postforge.models import SocialAccount


@dataclass(frozen=True)
class AccountCard:
    id: int
    platform: str
    handle: str
    display_name: str
    status: str
    last_error: str


def list_accounts(session: Session, workspace_id: int) -> list[AccountCard]:
    rows = session.exec(
        select(SocialAccount)
        .where(SocialAccount.workspace_id == workspace_id)
        .order_by(SocialAccount.platform, SocialAccount.handle)
    ).all()
    return [
        AccountCard(
            id=a.id or 0,
            platform=str(a.platform),
            handle=a.handle,
            display_name=a.display_name,
            status=str(a.status),
            last_error=a.last_error,
        )
        for a in rows
    ]
