"""CSV import: a report for every row, then the confirmed valid rows imported together or not at all."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from postforge.models import AccountStatus, Platform, Post, PostDestination, Role, utcnow
from postforge.services.content import csv_import, posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import Conflict, PermissionDenied, ValidationFailed
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace

ZONE = "America/New_York"


@pytest.fixture
def team(sqlite_engine):
    with Session(sqlite_engine) as session:
        user = make_user(session)
        viewer = make_user(session)
        workspace = make_workspace(session, owner=user)
        make_membership(session, workspace, user, role=Role.ADMIN)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        make_social_account(session, workspace, platform=Platform.SANDBOX, handle="@demo")
        make_social_account(session, workspace, platform=Platform.X, handle="@brand")
        make_social_account(session, workspace, platform=Platform.MASTODON, handle="@brand")
        make_social_account(
            session,
            workspace,
            platform=Platform.BLUESKY,
            handle="@sleepy",
            status=AccountStatus.NEEDS_RECONNECT,
        )
        session.commit()
        return {"engine": sqlite_engine, "user": user.id, "viewer": viewer.id, "workspace": workspace.id}


def local(days: int = 2, at: str = "09:30") -> str:
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=days)
    return f"{day} {at}"


def spring_forward_day() -> date:
    tz = ZoneInfo(ZONE)
    day = date.today() + timedelta(days=1)
    while datetime.combine(day, time(0), tz).utcoffset() >= datetime.combine(day, time(23), tz).utcoffset():
        day += timedelta(days=1)
    return day


def check(team, text: str | bytes, **kwargs):
    data = text.encode() if isinstance(text, str) else text
    with Session(team["engine"]) as session:
        return csv_import.check_csv(
            session,
            actor_id=kwargs.get("actor", team["user"]),
            workspace_id=team["workspace"],
            data=data,
            timezone=kwargs.get("timezone", ZONE),
        )


def test_every_row_is_reported_with_what_is_wrong(team):
    past = (datetime.now(ZoneInfo(ZONE)) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    text = "\n".join(
        [
            "content,local_datetime,accounts",
            f"Good post,{local()},@demo",
            f"Two accounts,{local(3)},@demo; x:@brand",
            "A draft without a time,,@demo",
            f",{local()},@demo",
            f"Who?,{local()},@nobody",
            f"In the past,{past},@demo",
            f"Skipped hour,{spring_forward_day()} 02:30,@demo",
            f"{'a' * 281},{local()},x:@brand",
            f"Ambiguous,{local()},@brand",
            f"Sleepy,{local()},@sleepy",
            "Bad time,tomorrow morning,@demo",
            "No account,,",
        ]
    )
    report = check(team, text)
    rows = {row.number: row for row in report.rows}
    assert report.valid_rows == (2, 3, 4)
    assert (report.valid_count, report.error_count) == (3, 9)
    assert rows[2].ok and rows[2].scheduled_at == posts.local_to_utc(local(), ZONE)
    assert len(rows[3].account_ids) == 2
    assert rows[4].ok and rows[4].scheduled_at is None
    assert rows[5].messages == ("The content is empty.",)
    assert rows[6].messages == ("Unknown account @nobody: connect it first or check the spelling.",)
    assert "has already passed" in rows[7].messages[0]
    assert "does not exist" in rows[8].messages[0] and "clocks skip" in rows[8].messages[0]
    assert rows[9].messages[0].startswith("@brand: Too long for X: 281 of 280")
    assert rows[10].messages == ("@brand is on several platforms: write x:@brand or mastodon:@brand.",)
    assert rows[11].messages == ("@sleepy needs reconnecting before posts can be scheduled to it.",)
    assert "is not a date and time" in rows[12].messages[0]
    assert rows[13].messages == ("Name at least one account handle, e.g. @demo.",)


def test_nothing_is_written_by_the_check(team):
    check(team, f"content,local_datetime,accounts\nHello,{local()},@demo\n")
    with Session(team["engine"]) as session:
        assert session.exec(select(Post)).all() == []


def test_only_the_confirmed_valid_rows_are_imported_in_one_go(team):
    data = f"content,local_datetime,accounts\nFirst,{local()},@demo\nBad,{local()},@nobody\nThird,,x:@brand\n".encode()
    with Session(team["engine"]) as session:
        report = csv_import.check_csv(
            session, actor_id=team["user"], workspace_id=team["workspace"], data=data, timezone=ZONE
        )
        result = csv_import.import_csv(
            session,
            actor_id=team["user"],
            workspace_id=team["workspace"],
            data=data,
            timezone=ZONE,
            confirmed_rows=report.valid_rows,
        )
        session.commit()
    assert result.created == 2
    with Session(team["engine"]) as session:
        rows = {p.content: p for p in session.exec(select(Post)).all()}
        assert set(rows) == {"First", "Third"}
        assert str(rows["First"].status) == "scheduled"
        assert str(rows["Third"].status) == "draft"
        assert rows["First"].timezone == ZONE
        assert timefmt.to_local(rows["First"].scheduled_at, ZONE).strftime("%Y-%m-%d %H:%M") == local()
        assert len(session.exec(select(PostDestination)).all()) == 2


def test_a_confirmed_row_that_became_invalid_imports_nothing(team):
    data = f"content,local_datetime,accounts\nFirst,{local()},@demo\nSecond,{local()},@demo\n".encode()
    with Session(team["engine"]) as session:
        with pytest.raises(Conflict, match="Row 3 is no longer valid") as refusal:
            csv_import.import_csv(
                session,
                actor_id=team["user"],
                workspace_id=team["workspace"],
                data=data.replace(b"Second", b""),
                timezone=ZONE,
                confirmed_rows=[2, 3],
            )
        assert "Nothing was imported" in refusal.value.message
        session.commit()
        assert session.exec(select(Post)).all() == []


def test_a_failure_while_inserting_rolls_every_row_back(team, monkeypatch):
    data = f"content,local_datetime,accounts\nFirst,{local()},@demo\nSecond,{local()},@demo\n".encode()
    real = posts.insert_checked_post
    calls = []

    def flaky(session, **kwargs):
        calls.append(kwargs["content"])
        if kwargs["content"] == "Second":
            raise ValidationFailed("Simulated failure.")
        return real(session, **kwargs)

    monkeypatch.setattr(posts, "insert_checked_post", flaky)
    with Session(team["engine"]) as session:
        with pytest.raises(Conflict, match=r"Row 3: Simulated failure\. Nothing was imported\."):
            csv_import.import_csv(
                session,
                actor_id=team["user"],
                workspace_id=team["workspace"],
                data=data,
                timezone=ZONE,
                confirmed_rows=[2, 3],
            )
        session.commit()  # a careless caller commits anyway: the savepoint already undid row 2
        assert calls == ["First", "Second"]
        assert session.exec(select(Post)).all() == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"content;when\n", "must name the columns content, local_datetime and accounts"),
        (b"content,local_datetime,accounts\n", "has a header but no rows"),
        ("content,local_datetime,accounts\nCaf\xe9,,@demo\n".encode("latin-1"), "not UTF-8"),
        (b"content,local_datetime,accounts\n" + b"x,,@demo\n" * 1001, "more than 1,000 rows"),
        (b"content,local_datetime,accounts\n" + b"x" * 1_000_001, "at most 1 MB"),
        (b"\x00\x01\x02", "not a CSV text file"),
    ],
)
def test_unreadable_files_are_refused_clearly(team, data, message):
    with pytest.raises(ValidationFailed, match=message) as refusal:
        check(team, data)
    assert refusal.value.field == "file"


def test_a_bom_header_aliases_quotes_and_blank_lines_are_fine(team):
    text = f'\ufeffText, When ,Handles\n"Line one\nline two, with a comma",{local()},"@demo, x:@brand"\n\n'
    report = check(team, text)
    assert report.valid_rows == (2,)
    (row,) = report.rows
    assert row.ok and row.content == "Line one\nline two, with a comma" and len(row.account_ids) == 2


def test_viewers_cannot_import(team):
    with pytest.raises(PermissionDenied):
        check(team, f"content,local_datetime,accounts\nHi,{local()},@demo\n", actor=team["viewer"])


def test_the_row_check_uses_the_clock_now(team):
    soon = (datetime.now(ZoneInfo(ZONE)) + timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M")
    report = check(team, f"content,local_datetime,accounts\nSoon,{soon},@demo\n")
    assert report.rows[0].ok == (posts.local_to_utc(soon, ZONE) > utcnow())
