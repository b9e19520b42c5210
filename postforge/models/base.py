"""Column types and helpers shared by every table.

* `UTCDateTime` is `timestamptz` on PostgreSQL and always hands back an aware UTC datetime,
  also on SQLite (which stores no zone), so no naive timestamp ever reaches a service.
* `enum_type` stores a `StrEnum` as its value in a VARCHAR guarded by a named CHECK
  constraint: portable across SQLite and PostgreSQL and migratable without `ALTER TYPE`.
* `JSONType` is JSONB on PostgreSQL, JSON elsewhere.
"""

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# Named constraints keep migrations deterministic on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where an aware UTC time is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def enum_type(enum_cls: type[enum.StrEnum], name: str) -> sa.Enum:
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


def time_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def fk(target: str, *, ondelete: str, nullable: bool = False, index: bool = True) -> Any:
    """An integer foreign key with an explicit ON DELETE rule."""
    return Field(default=None, foreign_key=target, ondelete=ondelete, nullable=nullable, index=index)


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=JSONType, nullable=False)


def enum_field(enum_cls: type[enum.StrEnum], name: str, default: enum.StrEnum, *, index: bool = False) -> Any:
    return Field(default=default, sa_type=enum_type(enum_cls, name), nullable=False, index=index)


def exists_on(item: Any, dialect_name: str) -> bool:
    """False for schema items declared for another database only (`Index(...).ddl_if(dialect=...)`).

    Alembic's autogenerate ignores `ddl_if`, so env.py and the schema tests filter with this.
    """
    condition = getattr(item, "_ddl_if", None)
    if condition is None or condition.dialect is None:
        return True
    wanted = condition.dialect
    return dialect_name in ((wanted,) if isinstance(wanted, str) else tuple(wanted))
