"""The credit ledger: every change to a workspace balance is one row here."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, enum_field, fk, json_field


class TransactionType(enum.StrEnum):
    BONUS = "bonus"
    GENERATION = "generation"
    REFUND = "refund"
    PURCHASE = "purchase"
    SUBSCRIPTION = "subscription"
    ADJUSTMENT = "adjustment"
    CHARGEBACK = "chargeback"


class CreditTransaction(SQLModel, table=True):
    __tablename__ = "credit_transactions"
    __table_args__ = (
        # The credits page: a workspace's history, newest first.
        sa.Index("ix_credit_transactions_workspace_id_created_at", "workspace_id", "created_at"),
        sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
        sa.CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE", index=False)
    user_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    amount: int = Field(nullable=False)
    type: TransactionType = enum_field(TransactionType, "credit_transaction_type", TransactionType.ADJUSTMENT)
    description: str = Field(default="", max_length=500, nullable=False)
    balance_after: int = Field(nullable=False)
    meta: dict[str, Any] = json_field()
    # A retried request (or a replayed webhook) carries the same key and so writes nothing new.
    idempotency_key: str | None = Field(default=None, max_length=255, unique=True)
    created_at: datetime = created_at_field()
