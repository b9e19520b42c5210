"""The embedded SQLite database refuses what would break the data model."""

import pytest
from sqlalchemy import Engine

from tests.support.constraint_checks import ConstraintChecks


class TestSqliteConstraints(ConstraintChecks):
    @pytest.fixture
    def engine(self, sqlite_engine: Engine) -> Engine:
        return sqlite_engine
