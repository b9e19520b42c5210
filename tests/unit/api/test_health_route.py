"""GET /api/health: the public answer is each part's status only; details are for system admins.

Details name hosts (the Redis address), worker host names and ages: a map for an attacker.
A signed-in system admin asks with `Authorization: Bearer <session token>` and gets them all.
"""

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Route

from postforge import routes
from postforge.db import get_engine
from postforge.services.identity import accounts_auth
from postforge.services.operations.health import ComponentHealth, HealthReport, WorkerHealth
from postforge.settings import get_settings
from tests.support.factories import make_user

health_route = importlib.import_module("postforge.api.health")  # the package re-exports its function
BEAT_AT = datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC)
REPORT = HealthReport(
    database=ComponentHealth(True, "postgresql: SELECT 1 answered"),
    broker=ComponentHealth(False, "Redis at redis://cache.internal:6379/0 did not answer PING: TimeoutError"),
    worker=WorkerHealth(
        True, "worker celery@worker-7.internal last beat 1.2 s ago", last_beat_at=BEAT_AT, age_seconds=1.2
    ),
    publishing=ComponentHealth(True, "nothing due is waiting"),
)
SECRETS_OF_THE_HOUSE = ("cache.internal", "worker-7", "celery@", "postgresql", "TimeoutError", "2026-03-29")


@pytest.fixture
def tokens(sqlite_url: str, sqlite_engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    get_engine.cache_clear()

    async def fixed_report():
        return REPORT

    monkeypatch.setattr(health_route, "check_health_async", fixed_report)
    with Session(get_engine()) as session:
        admin = make_user(session, name="Root", is_admin=True)
        member = make_user(session, name="Member")
        found = {
            "admin": accounts_auth.create_session(session, admin),
            "member": accounts_auth.create_session(session, member),
        }
        session.commit()
    yield found
    get_settings.cache_clear()
    get_engine.cache_clear()


async def ask(headers: dict[str, str] | None = None) -> httpx.Response:
    app = Starlette(routes=[Route(routes.API_HEALTH, health_route.health, methods=["GET"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        return await client.get(routes.API_HEALTH, headers=headers or {})


def assert_public(response: httpx.Response) -> None:
    assert response.status_code == 503  # the broker is down: monitors still see that
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "status": "degraded",
        "database": {"ok": True},
        "broker": {"ok": False},
        "worker": {"ok": True},
        "publishing": {"ok": True},
    }
    for secret in SECRETS_OF_THE_HOUSE:
        assert secret not in response.text


async def test_the_public_sees_each_parts_status_and_nothing_else(tokens) -> None:
    assert_public(await ask())


@pytest.mark.parametrize(
    "authorization",
    ["member", "Bearer not-a-session", "Basic cm9vdDpyb290", "Bearer "],
)
async def test_anyone_but_a_system_admin_gets_the_public_answer(tokens, authorization: str) -> None:
    if authorization == "member":
        authorization = f"Bearer {tokens['member']}"
    assert_public(await ask({"Authorization": authorization}))


async def test_a_system_admin_gets_every_detail(tokens) -> None:
    response = await ask({"Authorization": f"Bearer {tokens['admin']}"})

    assert response.status_code == 503
    assert response.json() == REPORT.as_dict()
    assert "cache.internal" in response.text and "worker-7" in response.text


async def test_an_unreachable_database_never_breaks_the_answer(tokens, monkeypatch) -> None:
    """Checking the token needs the database; when that is down the public answer still comes."""

    def broken(*args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(accounts_auth, "resolve_session", broken)
    assert_public(await ask({"Authorization": f"Bearer {tokens['admin']}"}))
