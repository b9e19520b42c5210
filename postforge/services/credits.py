"""The credit ledger of a workspace."""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from postforge.models import CreditTransaction


@dataclass(frozen=True)
class LedgerRow:
    id: int
    created_at: datetime
    type: str
    amount: int
    balance_after: int
    description: str


def ledger_page(session: Session, workspace_id: int, *, limit: int = 50, offset: int = 0) -> list[LedgerRow]:
    rows = session.exec(
        select(CreditTransaction)
        .where(CreditTransaction.workspace_id == workspace_id)
        .order_by(CreditTransaction.created_at.desc(), CreditTransaction.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(max(1, min(limit, 200)))
        .offset(max(0, offset))
    ).all()
    return [
        LedgerRow(
            id=t.id or 0,
            created_at=t.created_at,
            type=str(t.type),
            amount=t.amount,
            balance_after=t.balance_after,
            description=t.description,
        )
        for t in rows
    ]
