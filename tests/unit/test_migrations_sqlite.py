"""The migrations build, match and tear down the embedded SQLite schema (no server needed)."""

import pytest

from tests.support.migration_checks import MigrationChecks


class TestSqliteMigrations(MigrationChecks):
    @pytest.fixture
    def empty_database_url(self, sqlite_url: str) -> str:
        return sqlite_url
