"""UTCDateTime: no naive time gets in, and every time comes out as an aware UTC instant."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from postforge.models import Post, User
from tests.support import factories as make


def stored_text(engine: Engine, user_id: int) -> str:
    """What SQLite holds in the column, bypassing the type's result processing."""
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT email_verified_at FROM users WHERE id = :id"), {"id": user_id}
        ).scalar_one()


def test_a_naive_datetime_is_refused_with_a_clear_error(sqlite_engine: Engine) -> None:
    naive = datetime(2026, 3, 29, 9, 30)

    with Session(sqlite_engine) as session, pytest.raises(StatementError) as caught:
        make.make_user(session, email_verified_at=naive)

    assert isinstance(caught.value.orig, ValueError)
    assert "naive datetime" in str(caught.value)
    assert "aware UTC time is required" in str(caught.value)
    with Session(sqlite_engine) as session:
        assert session.exec(select(User)).all() == []


def test_a_naive_datetime_is_refused_in_a_query_too(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session, pytest.raises(StatementError, match="naive datetime"):
        session.exec(select(Post).where(Post.scheduled_at <= datetime(2026, 1, 1))).all()


@pytest.mark.parametrize(
    "zone",
    [timezone(timedelta(hours=5, minutes=30)), ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")],
    ids=["+05:30", "America/New_York", "Europe/Berlin"],
)
def test_an_aware_time_is_read_back_as_the_same_instant_in_utc(sqlite_engine: Engine, zone) -> None:
    local = datetime(2026, 3, 29, 9, 30, 15, 250000, tzinfo=zone)
    with Session(sqlite_engine) as session:
        user_id = make.make_user(session, email_verified_at=local).id
        session.commit()

    with Session(sqlite_engine) as session:
        read_back = session.get(User, user_id).email_verified_at

    assert read_back == local
    assert read_back.tzinfo is not None
    assert read_back.utcoffset() == timedelta(0)
    assert read_back.replace(tzinfo=None) == local.astimezone(UTC).replace(tzinfo=None)


def test_sqlite_stores_the_utc_wall_time_so_text_order_is_time_order(sqlite_engine: Engine) -> None:
    # 09:00 in Berlin (UTC+1 in January) is earlier than 08:30 in New York (UTC-5).
    berlin = datetime(2026, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    new_york = datetime(2026, 1, 15, 8, 30, tzinfo=ZoneInfo("America/New_York"))
    with Session(sqlite_engine) as session:
        berlin_id = make.make_user(session, email_verified_at=berlin).id
        new_york_id = make.make_user(session, email_verified_at=new_york).id
        session.commit()

    assert stored_text(sqlite_engine, berlin_id).startswith("2026-01-15 08:00:00")
    assert stored_text(sqlite_engine, new_york_id).startswith("2026-01-15 13:30:00")
    with Session(sqlite_engine) as session:
        earliest_first = session.exec(select(User.id).order_by(User.email_verified_at)).all()
    assert earliest_first == [berlin_id, new_york_id]


def test_null_stays_null(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        user_id = make.make_user(session, email_verified_at=None).id
        session.commit()

    with Session(sqlite_engine) as session:
        assert session.get(User, user_id).email_verified_at is None
