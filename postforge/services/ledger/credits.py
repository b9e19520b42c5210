"""The credit ledger of a workspace: every change to a balance is one row here.

The balance lives on `Workspace.credits` (so a spend is one conditional UPDATE that can never
overdraw, whatever the concurrency) and every change writes a `CreditTransaction` carrying the
balance after it, in the same database transaction. The invariant — balance equals the sum of
the ledger and is never negative — is checked by `check_invariant`.

A generation *reserves* a credit before calling the AI provider, then either *commits* the
reservation (the draft was produced) or *refunds* it (the provider failed). Grants (bonus,
purchase, subscription) and admin adjustments add rows the same way. Every writer accepts an
idempotency key: a retried request or replayed webhook finds its first row and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from postforge.models import CreditTransaction, TransactionType, Workspace
from postforge.services.kernel.errors import InsufficientCredits, NotFound, ValidationFailed
from postforge.services.tenancy import workspaces

GENERATION_COST = 1
MAX_PAGE_SIZE = 200
GRANT_TYPES = {TransactionType.BONUS, TransactionType.PURCHASE, TransactionType.SUBSCRIPTION}
# A reservation's state is kept in its row's meta: reserved → committed | refunded.
RESERVED, COMMITTED, REFUNDED = "reserved", "committed", "refunded"


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger row as the caller needs it; `replayed` when an idempotency key matched."""

    id: int
    workspace_id: int
    amount: int
    type: str
    balance_after: int
    replayed: bool = False


@dataclass(frozen=True)
class LedgerRow:
    id: int
    created_at: datetime
    type: str
    amount: int
    balance_after: int
    description: str


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class InvariantReport:
    workspace_id: int
    balance: int
    ledger_sum: int
    negative_rows: int

    @property
    def ok(self) -> bool:
        return self.balance == self.ledger_sum and self.balance >= 0 and self.negative_rows == 0


def _entry(row: CreditTransaction, *, replayed: bool = False) -> LedgerEntry:
    return LedgerEntry(
        id=row.id or 0,
        workspace_id=row.workspace_id,
        amount=row.amount,
        type=str(row.type),
        balance_after=row.balance_after,
        replayed=replayed,
    )


def _by_key(session: Session, key: str | None) -> CreditTransaction | None:
    if not key:
        return None
    return session.exec(select(CreditTransaction).where(CreditTransaction.idempotency_key == key)).first()


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255:
        raise ValidationFailed("An idempotency key must be 1 to 255 characters.", field="idempotency_key")
    return key


def _write(
    session: Session,
    *,
    workspace_id: int,
    amount: int,
    type: TransactionType,
    description: str,
    user_id: int | None,
    idempotency_key: str | None,
    meta: dict[str, Any] | None,
    floor: int | None,
) -> LedgerEntry:
    """Change the balance by `amount` and write its ledger row, atomically and at most once per key.

    `floor`: the balance must stay >= floor after a debit (None: no check beyond the table's own
    CHECK). The UPDATE's WHERE is the guard, so concurrent spends serialize on the workspace row
    and none can overdraw. Runs in a savepoint: a concurrent writer with the same key that commits
    first makes our insert fail, and only the savepoint (balance change included) is undone.
    """
    key = _check_key(idempotency_key)
    existing = _by_key(session, key)
    if existing is not None:
        return _entry(existing, replayed=True)
    condition = [col(Workspace.id) == workspace_id]
    if floor is not None:
        condition.append(col(Workspace.credits) + amount >= floor)
    try:
        with session.begin_nested():
            balance = session.execute(
                sa.update(Workspace)
                .where(*condition)
                .values(credits=Workspace.credits + amount)
                .returning(Workspace.credits)
            ).scalar_one_or_none()
            if balance is None:
                raise _refusal(session, workspace_id, needed=-amount)
            row = CreditTransaction(
                workspace_id=workspace_id,
                user_id=user_id,
                amount=amount,
                type=type,
                description=description[:500],
                balance_after=balance,
                meta=meta or {},
                idempotency_key=key,
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = _by_key(session, key)
        if existing is None:
            raise
        return _entry(existing, replayed=True)
    # The identity map may hold this workspace with its old balance; keep it truthful.
    cached = session.identity_map.get(sa.inspect(Workspace).identity_key_from_primary_key((workspace_id,)))
    if cached is not None:
        sa.orm.attributes.set_committed_value(cached, "credits", balance)
    return _entry(row)


def _refusal(session: Session, workspace_id: int, *, needed: int) -> Exception:
    balance = session.execute(
        sa.select(Workspace.credits).where(col(Workspace.id) == workspace_id)
    ).scalar_one_or_none()
    if balance is None:
        return NotFound("That workspace no longer exists.")
    noun = "credit" if needed == 1 else "credits"
    return InsufficientCredits(
        f"Not enough credits: this needs {needed} {noun} and the workspace has {balance}. "
        "Buy more on the Credits page.",
        balance=balance,
        needed=needed,
    )


def _positive(amount: int, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed("The amount must be a whole number above zero.", field=field)
    return amount


def reserve(
    session: Session,
    *,
    user_id: int,
    workspace_id: int,
    amount: int = GENERATION_COST,
    description: str = "AI generation",
    idempotency_key: str | None = None,
    meta: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Spend `amount` credits now for work about to be done; InsufficientCredits if the balance is short.

    The member must be allowed to write posts. Follow with `commit_reservation` once the work is
    saved, or `refund_reservation` if it failed.
    """
    _positive(amount)
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="write_posts")
    return _write(
        session,
        workspace_id=workspace_id,
        amount=-amount,
        type=TransactionType.GENERATION,
        description=description,
        user_id=user_id,
        idempotency_key=idempotency_key,
        meta={**(meta or {}), "state": RESERVED},
        floor=0,
    )


def _reservation(session: Session, reservation_id: int) -> CreditTransaction:
    row = session.exec(
        select(CreditTransaction).where(CreditTransaction.id == reservation_id).with_for_update()
    ).first()
    if row is None or row.type != TransactionType.GENERATION or row.amount >= 0:
        raise NotFound("That credit reservation does not exist.")
    return row


def _set_state(row: CreditTransaction, state: str, **extra: Any) -> None:
    row.meta = {**(row.meta or {}), "state": state, **extra}  # a new dict so the JSON change is seen


def commit_reservation(session: Session, reservation_id: int, *, post_id: int | None = None) -> None:
    """Mark a reservation as spent for good (the generated draft exists). Idempotent."""
    row = _reservation(session, reservation_id)
    state = (row.meta or {}).get("state", RESERVED)
    if state == COMMITTED:
        return
    if state == REFUNDED:
        raise ValidationFailed("This reservation was already refunded and cannot be committed.")
    _set_state(row, COMMITTED, **({"post_id": post_id} if post_id is not None else {}))
    session.add(row)
    session.flush()


def refund_reservation(session: Session, reservation_id: int, *, reason: str) -> LedgerEntry:
    """Give a reservation's credits back (the work failed). Exactly once, whatever the retries."""
    row = _reservation(session, reservation_id)
    state = (row.meta or {}).get("state", RESERVED)
    if state == COMMITTED:
        raise ValidationFailed("This generation was delivered; its credit is not refundable.")
    entry = _write(
        session,
        workspace_id=row.workspace_id,
        amount=-row.amount,
        type=TransactionType.REFUND,
        description=f"Refund: {reason}"[:500],
        user_id=row.user_id,
        idempotency_key=f"refund:{row.id}",
        meta={"reservation_id": row.id, "reason": reason[:300]},
        floor=None,
    )
    if state != REFUNDED:
        _set_state(row, REFUNDED)
        session.add(row)
        session.flush()
    return entry


def grant(
    session: Session,
    workspace_id: int,
    *,
    amount: int,
    type: TransactionType,
    description: str,
    idempotency_key: str,
    user_id: int | None = None,
    meta: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Add credits from the system (bonus, purchase, subscription allotment), once per key.

    Never reached with a workspace a user chose: the caller is onboarding or a verified webhook.
    """
    _positive(amount)
    if TransactionType(type) not in GRANT_TYPES:
        raise ValueError(f"grant() takes one of {sorted(GRANT_TYPES)}, not {type!r}")
    return _write(
        session,
        workspace_id=workspace_id,
        amount=amount,
        type=TransactionType(type),
        description=description,
        user_id=user_id,
        idempotency_key=_check_key(idempotency_key) or "",
        meta=meta,
        floor=None,
    )


def take_back(
    session: Session,
    workspace_id: int,
    *,
    amount: int,
    description: str,
    idempotency_key: str,
    meta: dict[str, Any] | None = None,
) -> tuple[LedgerEntry | None, int]:
    """Remove up to `amount` credits (a refund or chargeback at the payment provider).

    The balance never goes negative: what it cannot cover is returned as owed (the second value)
    for the caller to record. Returns (None, owed) when the balance was already zero.
    """
    _positive(amount)
    key = _check_key(idempotency_key)
    existing = _by_key(session, key)
    if existing is not None:
        return _entry(existing, replayed=True), int((existing.meta or {}).get("owed", 0))
    balance = session.execute(
        sa.select(Workspace.credits).where(col(Workspace.id) == workspace_id).with_for_update()
    ).scalar_one_or_none()
    if balance is None:
        raise NotFound("That workspace no longer exists.")
    taken = min(balance, amount)
    owed = amount - taken
    if taken == 0:
        return None, owed
    entry = _write(
        session,
        workspace_id=workspace_id,
        amount=-taken,
        type=TransactionType.CHARGEBACK,
        description=description,
        user_id=None,
        idempotency_key=key,
        meta={**(meta or {}), "requested": amount, "owed": owed},
        floor=0,
    )
    return entry, owed


def adjust(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    amount: int,
    reason: str,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """A system admin's correction, up or down; a debit cannot take the balance below zero.

    Reached only through the admin console (`admin_console.workspaces.adjust_credits`), which
    authorizes the actor as a system admin and audits the change in the same transaction.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise ValidationFailed("The adjustment must be a whole number other than zero.", field="amount")
    if abs(amount) > 1_000_000:
        raise ValidationFailed("Adjust by at most 1,000,000 credits at a time.", field="amount")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why the balance is being adjusted.", field="reason")
    return _write(
        session,
        workspace_id=workspace_id,
        amount=amount,
        type=TransactionType.ADJUSTMENT,
        description=f"Adjustment: {reason}",
        user_id=actor_id,
        idempotency_key=idempotency_key,
        meta={"reason": reason[:300]},
        floor=0 if amount < 0 else None,
    )


def check_invariant(session: Session, workspace_id: int) -> InvariantReport:
    """Balance against the ledger: for tests, the admin pages and benchmarks."""
    balance = session.execute(
        sa.select(Workspace.credits).where(col(Workspace.id) == workspace_id)
    ).scalar_one_or_none()
    if balance is None:
        raise NotFound("That workspace no longer exists.")
    ledger_sum, negative = session.execute(
        sa.select(
            func.coalesce(func.sum(CreditTransaction.amount), 0),
            func.count().filter(col(CreditTransaction.balance_after) < 0),
        ).where(col(CreditTransaction.workspace_id) == workspace_id)
    ).one()
    return InvariantReport(workspace_id, int(balance), int(ledger_sum), int(negative))


def _parse_type(value: str | TransactionType | None) -> TransactionType | None:
    if value in (None, "", "all"):
        return None
    try:
        return TransactionType(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(t.value for t in TransactionType)
        raise ValidationFailed(f"Filter by one of: {choices}.", field="type") from None


def ledger_page(
    session: Session,
    workspace_id: int,
    *,
    limit: int = 50,
    offset: int = 0,
    type: str | TransactionType | None = None,
) -> LedgerPage:
    """A page of the workspace's history, newest first, optionally one type only, with the total."""
    wanted = _parse_type(type)
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    offset = max(0, int(offset))
    where = [col(CreditTransaction.workspace_id) == workspace_id]
    if wanted is not None:
        where.append(col(CreditTransaction.type) == wanted)
    total = session.execute(sa.select(func.count()).select_from(CreditTransaction).where(*where)).scalar_one()
    rows = session.exec(
        select(CreditTransaction)
        .where(*where)
        .order_by(col(CreditTransaction.created_at).desc(), col(CreditTransaction.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return LedgerPage(
        rows=[
            LedgerRow(
                id=t.id or 0,
                created_at=t.created_at,
                type=str(t.type),
                amount=t.amount,
                balance_after=t.balance_after,
                description=t.description,
            )
            for t in rows
        ],
        total=int(total),
        limit=limit,
        offset=offset,
    )
