"""Migrations run from the models' metadata and the settings URL (never a URL in alembic.ini)."""

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import postforge.models  # noqa: F401 — registers every table on SQLModel.metadata
from postforge.db import make_engine
from postforge.models.base import UTCDateTime, exists_on
from postforge.settings import get_settings

target_metadata = SQLModel.metadata


def _url() -> str:
    return context.config.attributes.get("database_url") or get_settings().sync_database_url


def _render_item(type_: str, obj: object, autogen_context) -> str | bool:
    """Write plain SQLAlchemy types into revisions so they never import application code."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _options(url: str) -> dict:
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    return {
        "target_metadata": target_metadata,
        # Indexes declared for PostgreSQL only (e.g. the trigram search index) are not SQLite's.
        "include_object": lambda obj, name, type_, reflected, compare_to: exists_on(
            obj if compare_to is None else compare_to, dialect
        ),
        "compare_type": True,
        "compare_server_default": False,
        "render_item": _render_item,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
        "render_as_batch": url.startswith("sqlite"),
    }


def run_migrations_offline() -> None:
    url = _url()
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options(url))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection, url: str) -> None:
    context.configure(connection=connection, **_options(url))
    with _foreign_keys_off_on_sqlite(connection), context.begin_transaction():
        context.run_migrations()


@contextmanager
def _foreign_keys_off_on_sqlite(connection: Connection) -> Iterator[None]:
    """Batch mode rebuilds a SQLite table by copying it and dropping the original; with foreign
    keys on, that drop deletes every row referencing it through ON DELETE CASCADE. SQLite takes
    the pragma only outside a transaction, so it is set before the migrations' transaction and
    the references are checked after it."""
    if connection.dialect.name != "sqlite":
        yield
        return
    if connection.in_transaction():
        connection.commit()
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows pointing at missing rows: {broken[:5]}")
    finally:
        if connection.in_transaction():
            connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, str(connection.engine.url))
        return
    url = _url()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection, url)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
