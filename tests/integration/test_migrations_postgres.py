"""The migrations build, match and tear down the PostgreSQL schema."""

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import SQLModel

from postforge.models.base import UTCDateTime
from tests.support.db import migrate
from tests.support.migration_checks import MigrationChecks, downgrade


def utc_datetime_columns() -> set[tuple[str, str]]:
    return {
        (table.name, column.name)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, UTCDateTime)
    }


def columns_of_type(engine: Engine, data_type: str) -> set[tuple[str, str]]:
    query = sa.text(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND data_type = :data_type AND table_name <> 'alembic_version'"
    )
    with engine.connect() as connection:
        return {tuple(row) for row in connection.execute(query, {"data_type": data_type})}


def public_sequences(engine: Engine) -> set[str]:
    query = sa.text("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'")
    with engine.connect() as connection:
        return set(connection.scalars(query))


class TestPostgresMigrations(MigrationChecks):
    @pytest.fixture
    def empty_database_url(self, fresh_postgres_url: str) -> str:
        return fresh_postgres_url

    def test_every_timestamp_is_timestamptz(self, empty_database_url: str, engine: Engine) -> None:
        migrate(empty_database_url)

        assert utc_datetime_columns(), "the models declare no UTCDateTime column"
        assert columns_of_type(engine, "timestamp with time zone") == utc_datetime_columns()
        assert columns_of_type(engine, "timestamp without time zone") == set()

    def test_downgrade_base_leaves_no_sequences(self, empty_database_url: str, engine: Engine) -> None:
        migrate(empty_database_url)
        assert public_sequences(engine), "integer primary keys should own sequences after upgrade"

        downgrade(empty_database_url)

        assert public_sequences(engine) == set()
