"""Shared fixtures: throw-away databases and Redis key spaces.

Integration tests need PostgreSQL and Redis. With CI=true they must run, so a missing server
is a failure; elsewhere the tests skip with a message that says what to start.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.services import (
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    redis_available,
    redis_base_url,
)

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Browser journeys last: the fast tiers report first, and the browser's event loop never
    # overlaps an asyncio test.
    items.sort(key=lambda item: "e2e" in Path(str(item.fspath)).parts)
    for item in items:
        path = Path(str(item.fspath))
        if "integration" in path.parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in path.parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its production cost takes ~0.1 s a hash; tests use the same algorithm, cheaply.

    Tests marked `real_argon2` keep the production parameters.
    """
    if request.node.get_closest_marker("real_argon2"):
        return
    from argon2 import PasswordHasher

    from postforge.services.identity import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def service_missing(what: str, how: str) -> None:
    """Fail on CI, skip elsewhere, always saying what is missing."""
    message = f"{what} is not reachable ({how})"
    if ON_CI:
        pytest.fail(f"CI=true requires {message}", pytrace=False)
    pytest.skip(f"{message}; start it to run this test")


@contextmanager
def _throwaway_postgres_database() -> Iterator[str]:
    admin = postgres_admin_url()
    name = f"postforge_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        url = create_postgres_database(admin, name)
    except Exception as error:  # any connection error means "not there"
        service_missing("PostgreSQL", f"{admin}: {error.__class__.__name__}: {error}")
    try:
        yield url
    finally:
        drop_postgres_database(admin, name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, dropped at the end."""
    with _throwaway_postgres_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A database of its own for a test that must start from nothing (e.g. migrations)."""
    with _throwaway_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    from tests.support.db import migrate

    migrate(postgres_url)
    return postgres_url


@pytest.fixture
def postgres_engine(migrated_postgres_url: str) -> Iterator[Engine]:
    """An engine on the migrated session database; every table is emptied after the test."""
    from tests.support.db import make_test_engine, truncate_all

    engine = make_test_engine(migrated_postgres_url)
    try:
        yield engine
    finally:
        truncate_all(engine)
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'postforge.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite database in a temporary directory."""
    from tests.support.db import make_test_engine, migrate

    migrate(sqlite_url)
    engine = make_test_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The test runs twice: on SQLite (embedded mode) and on PostgreSQL (production)."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number of its own, flushed before and after the test."""
    import redis

    base = redis_base_url()
    ok, why = redis_available(base)
    if not ok:
        service_missing("Redis", f"{base}: {why}")
    # Databases 1..15 are ours in tests; 0 is left to whatever else runs on the machine.
    db = 1 + (os.getpid() % 15)
    url = f"{base.rstrip('/')}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def app_env() -> dict[str, str]:
    """Settings a test module's app needs besides its database (a module overrides this fixture)."""
    return {}


@pytest.fixture
def app_database(
    sqlite_url: str, sqlite_engine, monkeypatch: pytest.MonkeyPatch, app_env: dict[str, str]
) -> Iterator[str]:
    """Point the app's own engine (what Reflex states use) at a migrated temporary database."""
    from postforge.db import get_engine
    from postforge.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()
    get_engine.cache_clear()
