"""INSERT … ON CONFLICT for the two databases PostgreSQL and SQLite, chosen by the connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

_INSERT_BY_DIALECT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(bind: Any) -> Any:
    """The `insert` construct with `on_conflict_do_*` for this engine, connection or session's bind."""
    engine = bind.get_bind() if hasattr(bind, "get_bind") else bind
    name = engine.dialect.name
    try:
        return _INSERT_BY_DIALECT[name]
    except KeyError:
        raise RuntimeError(f"upserts support PostgreSQL and SQLite, not {name!r}") from None


def insert_once(session: Any, model: type, values: dict[str, Any], key: str = "id") -> Any:
    """Insert a row unless one with the same `key` exists, and return the stored row either way.

    For deliveries that may arrive twice (webhooks): the first copy wins, later ones change nothing.
    """
    insert = dialect_insert(session)
    session.execute(insert(model).values(**values).on_conflict_do_nothing(index_elements=[key]))
    row = session.get(model, values[key])
    assert row is not None  # just inserted, or already there
    return row
