"""PostgreSQL refuses what would break the data model."""

import pytest
from sqlalchemy import Engine

from tests.support.constraint_checks import ConstraintChecks


class TestPostgresConstraints(ConstraintChecks):
    @pytest.fixture
    def engine(self, postgres_engine: Engine) -> Engine:
        return postgres_engine
