"""The health report: database, broker and worker heartbeat, each failing on its own and never raising."""

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlmodel import Session

from postforge.db import make_engine
from postforge.models import WorkerHeartbeat
from postforge.services.infra.heartbeat import latest_heartbeat, record_heartbeat, worker_alive
from postforge.services.operations.health import check_health, check_health_async

BEAT_AT = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)
STALE_SECONDS = 60.0


@pytest.fixture
def embedded_broker_url(tmp_path: Path) -> str:
    return f"sqla+sqlite:///{tmp_path / 'broker.db'}"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        listener.close()


def health(engine: Engine, broker_url: str, now: datetime | None = None, **options):
    return check_health(engine, broker_url=broker_url, now=now, stale_seconds=STALE_SECONDS, **options)


def test_without_heartbeat_the_worker_is_reported_down(
    sqlite_engine: Engine, embedded_broker_url: str
) -> None:
    report = health(sqlite_engine, embedded_broker_url)

    assert report.database.ok, report.database.detail
    assert report.broker.ok, report.broker.detail
    assert not report.worker.ok
    assert "no worker heartbeat" in report.worker.detail
    assert not report.ok
    body = json.loads(json.dumps(report.as_dict()))
    assert body["status"] == "degraded"
    assert body["worker"] == {
        "ok": False,
        "detail": report.worker.detail,
        "last_beat_at": None,
        "age_seconds": None,
    }


def test_fresh_heartbeat_reports_the_worker_alive(sqlite_engine: Engine, embedded_broker_url: str) -> None:
    record_heartbeat(sqlite_engine, "default@host-a", "host-a", 4242, at=BEAT_AT)

    report = health(sqlite_engine, embedded_broker_url, now=BEAT_AT + timedelta(seconds=10))

    assert report.ok, report.as_dict()
    assert "default@host-a" in report.worker.detail
    body = report.as_dict()
    assert body["status"] == "ok"
    assert body["worker"]["last_beat_at"] == BEAT_AT.isoformat()
    assert body["worker"]["age_seconds"] == 10.0


def test_stale_heartbeat_reports_the_worker_down(sqlite_engine: Engine, embedded_broker_url: str) -> None:
    record_heartbeat(sqlite_engine, "default@host-a", "host-a", 4242, at=BEAT_AT)

    report = health(sqlite_engine, embedded_broker_url, now=BEAT_AT + timedelta(seconds=STALE_SECONDS + 1))

    assert not report.worker.ok
    assert "default@host-a" in report.worker.detail
    assert "60 s limit" in report.worker.detail
    assert report.worker.age_seconds == STALE_SECONDS + 1
    assert report.as_dict()["status"] == "degraded"


def test_the_newest_heartbeat_of_any_worker_counts(sqlite_engine: Engine, embedded_broker_url: str) -> None:
    record_heartbeat(sqlite_engine, "default@host-a", "host-a", 1, at=BEAT_AT - timedelta(hours=1))
    record_heartbeat(sqlite_engine, "default@host-b", "host-b", 2, at=BEAT_AT)

    report = health(sqlite_engine, embedded_broker_url, now=BEAT_AT + timedelta(seconds=1))

    assert report.worker.ok
    assert "default@host-b" in report.worker.detail


def test_unreachable_redis_reports_the_broker_down(sqlite_engine: Engine) -> None:
    report = health(sqlite_engine, "redis://:hunter2@127.0.0.1:1/0")

    assert report.database.ok
    assert not report.broker.ok
    assert "127.0.0.1:1" in report.broker.detail
    assert "hunter2" not in json.dumps(report.as_dict())


def test_a_redis_that_never_answers_is_cut_off_at_the_timeout(
    sqlite_engine: Engine, silent_server: str
) -> None:
    report = health(sqlite_engine, silent_server, time_limit=0.5)

    assert not report.broker.ok
    assert "did not answer PING" in report.broker.detail or "no answer within 0.5 s" in report.broker.detail
    assert report.database.ok


def test_a_hung_database_is_cut_off_at_the_timeout(embedded_broker_url: str) -> None:
    release = threading.Event()

    def hanging_connect():
        release.wait(30)
        raise ConnectionError("released by the test")

    engine = create_engine("sqlite://", creator=hanging_connect)
    try:
        report = health(engine, embedded_broker_url, time_limit=0.3)
    finally:
        release.set()
        engine.dispose()

    assert not report.database.ok
    assert report.database.detail == "database check got no answer within 0.3 s"
    assert not report.worker.ok
    assert report.broker.ok


def test_unreachable_database_reports_database_and_worker_down(embedded_broker_url: str) -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    try:
        report = health(engine, embedded_broker_url)
    finally:
        engine.dispose()

    assert not report.database.ok
    assert report.database.detail.startswith("database unreachable: ")
    assert "127.0.0.1" in report.database.detail
    assert not report.worker.ok
    assert report.worker.detail.startswith("cannot read worker heartbeats: ")
    assert report.broker.ok


def test_embedded_broker_file_that_is_not_a_database_is_reported(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    broker_file = tmp_path / "broker.db"
    broker_file.write_bytes(b"this is not an SQLite database" * 100)

    report = health(sqlite_engine, f"sqla+sqlite:///{broker_file}")

    assert not report.broker.ok
    assert "broker.db cannot be read" in report.broker.detail


def test_embedded_broker_in_a_missing_directory_is_reported(sqlite_engine: Engine, tmp_path: Path) -> None:
    report = health(sqlite_engine, f"sqla+sqlite:///{tmp_path / 'gone' / 'broker.db'}")

    assert not report.broker.ok
    assert "missing or read-only" in report.broker.detail


def test_existing_embedded_broker_file_opens(sqlite_engine: Engine, tmp_path: Path) -> None:
    broker_file = tmp_path / "broker.db"
    engine = make_engine(f"sqlite:///{broker_file}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE kombu_queue (id INTEGER PRIMARY KEY)")
    engine.dispose()

    report = health(sqlite_engine, f"sqla+sqlite:///{broker_file}")

    assert report.broker.ok, report.broker.detail
    assert "opens and reads" in report.broker.detail


def test_unknown_broker_scheme_is_not_claimed_healthy(sqlite_engine: Engine) -> None:
    report = health(sqlite_engine, "amqp://guest@127.0.0.1:5672//")

    assert not report.broker.ok
    assert "amqp" in report.broker.detail


async def test_async_wrapper_returns_the_same_report(sqlite_engine: Engine, embedded_broker_url: str) -> None:
    record_heartbeat(sqlite_engine, "default@host-a", "host-a", 1, at=BEAT_AT)

    report = await check_health_async(
        sqlite_engine, broker_url=embedded_broker_url, now=BEAT_AT, stale_seconds=STALE_SECONDS
    )

    assert report.ok, report.as_dict()


# The heartbeat service the report is built on ------------------------------------------


def test_record_heartbeat_keeps_one_row_per_worker(sqlite_engine: Engine) -> None:
    record_heartbeat(sqlite_engine, "default@host-a", "host-a", 1, at=BEAT_AT)
    with Session(sqlite_engine) as session:
        record_heartbeat(session, "default@host-a", "host-a", 2, at=BEAT_AT + timedelta(seconds=5))
        session.commit()

    with Session(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 1
    latest = latest_heartbeat(sqlite_engine, worker="default@host-a")
    assert (latest.pid, latest.beat_at) == (2, BEAT_AT + timedelta(seconds=5))
    assert latest_heartbeat(sqlite_engine, worker="default@elsewhere") is None


@pytest.mark.parametrize(
    ("worker", "at", "message"),
    [
        ("  ", BEAT_AT, "needs a worker name"),
        ("default@host-a", datetime(2026, 1, 1, 12, 0), "timezone-aware"),
    ],
)
def test_record_heartbeat_refuses_bad_input(
    sqlite_engine: Engine, worker: str, at: datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        record_heartbeat(sqlite_engine, worker, "host-a", 1, at=at)
    assert latest_heartbeat(sqlite_engine) is None


def test_worker_alive_up_to_and_including_the_stale_limit(sqlite_engine: Engine) -> None:
    beat = record_heartbeat(sqlite_engine, "default@host-a", "host-a", 1, at=BEAT_AT)

    assert worker_alive(beat, BEAT_AT + timedelta(seconds=STALE_SECONDS), STALE_SECONDS)
    assert not worker_alive(beat, BEAT_AT + timedelta(seconds=STALE_SECONDS + 0.5), STALE_SECONDS)
    assert not worker_alive(None, BEAT_AT, STALE_SECONDS)
