"""A real Celery worker (and beat) in a subprocess, over Redis and over the embedded broker.

Nothing runs eagerly here: messages go through the broker to another process, results come
back through the result backend, and heartbeats land in the database the health check reads.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from celery import Celery
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from postforge.models import WorkerHeartbeat
from postforge.models.base import utcnow
from postforge.services.infra.heartbeat import latest_heartbeat, record_heartbeat
from postforge.services.operations.health import check_health
from postforge.settings import load_settings
from tests.support.worker import CeleryProcess, celery_env, running_beat, running_worker, wait_for
from worker.celery_app import HEARTBEAT_TASK, PING_TASK, create_celery_app

TASK_TIMEOUT_SECONDS = 30
STALE_SECONDS = 60


@contextmanager
def celery_client(database_url: str, redis_url: str, data_dir: Path) -> Iterator[Celery]:
    """A producer app in the test process, pointed at the same broker as the worker."""
    settings = load_settings(database_url=database_url, redis_url=redis_url, data_dir=data_dir)
    app = create_celery_app(settings)
    try:
        yield app
    finally:
        app.close()


def assert_worker_round_trip(client: Celery, worker: CeleryProcess, engine: Engine, broker_url: str) -> None:
    reply = client.send_task(PING_TASK).get(timeout=TASK_TIMEOUT_SECONDS)
    assert reply["pong"] is True
    assert reply["worker"].startswith(f"{worker.name}@")

    assert latest_heartbeat(engine) is None
    client.send_task(HEARTBEAT_TASK)
    beat = wait_for(lambda: latest_heartbeat(engine), timeout=TASK_TIMEOUT_SECONDS, what="the heartbeat row")
    assert beat.worker == reply["worker"]
    assert beat.pid == worker.process.pid  # solo pool: the task ran in the worker process itself

    report = check_health(engine, broker_url=broker_url, stale_seconds=STALE_SECONDS)
    assert report.ok, report.as_dict()
    assert report.worker.last_beat_at == beat.beat_at


def test_worker_over_redis_answers_ping_and_records_heartbeat(
    redis_url: str, migrated_postgres_url: str, postgres_engine: Engine, tmp_path: Path
) -> None:
    env = celery_env(database_url=migrated_postgres_url, redis_url=redis_url, data_dir=tmp_path)
    with (
        celery_client(migrated_postgres_url, redis_url, tmp_path) as client,
        running_worker(env, tmp_path) as worker,
    ):
        assert_worker_round_trip(client, worker, postgres_engine, broker_url=redis_url)
    assert "Redis" in check_health(postgres_engine, broker_url=redis_url).broker.detail


def test_worker_over_embedded_broker_needs_no_server(
    sqlite_url: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    env = celery_env(database_url=sqlite_url, redis_url="", data_dir=tmp_path)
    broker_url = load_settings(database_url=sqlite_url, redis_url="", data_dir=tmp_path).celery_broker_url
    assert broker_url.startswith("sqla+sqlite:")
    with celery_client(sqlite_url, "", tmp_path) as client, running_worker(env, tmp_path) as worker:
        assert_worker_round_trip(client, worker, sqlite_engine, broker_url=broker_url)
    assert (tmp_path / "broker.db").exists()


def test_beat_makes_the_worker_record_heartbeats_unasked(
    sqlite_url: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    env = celery_env(database_url=sqlite_url, redis_url="", data_dir=tmp_path, heartbeat_interval_seconds="1")
    broker_url = load_settings(database_url=sqlite_url, redis_url="", data_dir=tmp_path).celery_broker_url
    with running_worker(env, tmp_path) as worker:
        assert latest_heartbeat(sqlite_engine) is None
        with running_beat(env, tmp_path):
            beat = wait_for(
                lambda: latest_heartbeat(sqlite_engine),
                timeout=TASK_TIMEOUT_SECONDS,
                what="a beat-driven heartbeat",
            )
        assert beat.worker.startswith(f"{worker.name}@")
        assert check_health(sqlite_engine, broker_url=broker_url, stale_seconds=STALE_SECONDS).ok
    assert any(tmp_path.glob("celerybeat-schedule*")), "beat kept its schedule outside tmp_path"


def test_record_heartbeat_upserts_one_row_per_worker_on_postgres(postgres_engine: Engine) -> None:
    first = utcnow() - timedelta(minutes=5)
    record_heartbeat(postgres_engine, "default@host-a", "host-a", 10, at=first)
    record_heartbeat(postgres_engine, "default@host-a", "host-a", 11, at=first + timedelta(minutes=1))
    record_heartbeat(postgres_engine, "default@host-b", "host-b", 20, at=first - timedelta(minutes=1))

    with Session(postgres_engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 2
    latest = latest_heartbeat(postgres_engine)
    assert (latest.worker, latest.pid, latest.beat_at) == ("default@host-a", 11, first + timedelta(minutes=1))
