# ruff: noqa: E402 — the import path is fixed up before the imports (see below)
"""Calendar at 50,000 posts on PostgreSQL: loading a busy month and rescheduling in it.

Creates a throw-away database, migrates it, and writes one workspace with 50,000 posts, 5,000 of
them in one month (the "busy month", two months ahead, in Europe/Berlin), each post on one or two
accounts. Then:

* month load: `calendar.month_events` for the month grid's visible range (42 days, as FullCalendar
  asks) = the one query + building the plain dicts the Reflex state holds; plus `json.dumps` of
  that list (what the state sends to the browser) and its size. 30 runs, median and p95.
* reschedule: `calendar.move_post` (authorize, wall-clock -> UTC, `posts.reschedule`, commit) of
  200 random posts of the month to another day at the same local time. Median and p95.

    .venv/bin/python bench/calendar_month.py

The same data generator (`populate`) feeds bench/calendar_browser.py, which measures the month
in a real browser.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `calendar`: take its folder off the import path
# (Python puts it first when the script runs) so `import calendar` elsewhere finds the real one.
_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent))

import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select
from sqlmodel import Session

from postforge.models import Post, PostDestination, PostStatus, Role, utcnow
from postforge.services.content import calendar
from postforge.services.kernel import timefmt
from tests.support.db import make_test_engine, migrate
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace
from tests.support.services import create_postgres_database, drop_postgres_database, postgres_admin_url

TOTAL = int(os.environ.get("BENCH_POSTS", "50000"))
IN_MONTH = int(os.environ.get("BENCH_MONTH_POSTS", "5000"))
ZONE = "Europe/Berlin"
LOAD_RUNS = 30
MOVES = 200
WORDS = [
    "launch",
    "webinar",
    "recap",
    "tips",
    "thread",
    "behind-the-scenes",
    "product",
    "update",
    "customer",
    "story",
    "hiring",
    "roadmap",
    "release",
    "notes",
    "survey",
    "giveaway",
    "event",
    "reminder",
    "case",
    "study",
    "tutorial",
]


def busy_month(today: date | None = None) -> date:
    """The first day of the month two months from now (always wholly in the future)."""
    today = today or timefmt.to_local(utcnow(), ZONE).date()
    month = today.month + 2
    return date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def month_grid(first: date) -> tuple[str, str]:
    """The 6-week range FullCalendar's month view shows (Monday first), as naive local strings."""
    start = first - timedelta(days=first.weekday())
    return f"{start}T00:00:00", f"{start + timedelta(days=42)}T00:00:00"


def populate(
    engine: Engine,
    *,
    total: int = TOTAL,
    in_month: int = IN_MONTH,
    zone: str = ZONE,
    email: str | None = None,
) -> dict:
    """One workspace with `total` posts, `in_month` of them in the busy month; returns ids and the month.

    With `email`, posts go to that existing user's first workspace (the browser bench's demo user).
    """
    rng = random.Random(7)
    with Session(engine) as session:
        if email is None:
            user = make_user(session, name="Bench", timezone=zone)
            workspace = make_workspace(session, owner=user, name="Bench", timezone=zone)
            make_membership(session, workspace, user, role=Role.ADMIN)
        else:
            from postforge.models import Membership, User, Workspace

            user = session.exec(select(User).where(User.email == email)).one()[0]
            membership = session.exec(select(Membership).where(Membership.user_id == user.id)).first()[0]
            workspace = session.get(Workspace, membership.workspace_id)
        accounts = [
            make_social_account(session, workspace, handle="@bench-sandbox").id,
            make_social_account(session, workspace, platform="mastodon", handle="@bench@mastodon").id,
        ]
        session.commit()
        user_id, workspace_id = user.id, workspace.id

    first = busy_month()
    next_first = (first + timedelta(days=32)).replace(day=1)
    tz = timefmt.zone(zone)
    month_start = datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC)
    month_end = datetime(next_first.year, next_first.month, next_first.day, tzinfo=tz).astimezone(UTC)
    keep_out = (month_start - timedelta(days=8), month_end + timedelta(days=8))  # the grid's edges
    now = utcnow()

    rows = []
    for i in range(total):
        if i < in_month:
            minutes = rng.randrange(int((month_end - month_start).total_seconds() // 60))
            at = month_start + timedelta(minutes=minutes)
            status = PostStatus.SCHEDULED
        else:
            while True:
                at = now + timedelta(minutes=rng.randrange(-730 * 1440, 730 * 1440))
                if not keep_out[0] <= at < keep_out[1]:
                    break
            status = (
                PostStatus.SCHEDULED if at > now else rng.choice([PostStatus.PUBLISHED, PostStatus.FAILED])
            )
            if rng.random() < 0.1:
                status, at = PostStatus.DRAFT, None
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40)))
        rows.append(
            {
                "workspace_id": workspace_id,
                "author_id": user_id,
                "content": f"{words.capitalize()}. #post{i}",
                "status": status,
                "scheduled_at": at,
                "timezone": zone,
                "meta": {},
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    with engine.begin() as connection:
        for chunk in range(0, len(rows), 5000):
            connection.execute(insert(Post), rows[chunk : chunk + 5000])
        ids = connection.execute(
            select(Post.id, Post.scheduled_at).where(Post.workspace_id == workspace_id).order_by(Post.id)
        ).all()
        statuses = dict(
            connection.execute(select(Post.id, Post.status).where(Post.workspace_id == workspace_id)).all()
        )
        destinations = []
        for post_id, at in ids:
            status = str(statuses[post_id])
            for account in accounts[: 1 + (post_id % 3 == 0)]:
                destinations.append(
                    {
                        "post_id": post_id,
                        "social_account_id": account,
                        "status": status if status in ("published", "failed") else "pending",
                        "attempts": 0,
                        "last_error": "",
                        "idempotency_key": uuid.uuid4().hex,
                        "platform_state": {},
                        "next_attempt_at": at,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        for chunk in range(0, len(destinations), 5000):
            connection.execute(insert(PostDestination), destinations[chunk : chunk + 5000])
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE posts")
            connection.exec_driver_sql("ANALYZE post_destinations")
    return {
        "user_id": user_id,
        "workspace_id": workspace_id,
        "month": first,
        "destinations": len(destinations),
    }


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def bench_load(engine: Engine, world: dict) -> list:
    start, end = month_grid(world["month"])
    query_ms, json_ms = [], []
    events: list = []
    payload = b""
    for _ in range(LOAD_RUNS):
        with Session(engine) as session:
            began = time.perf_counter()
            events = calendar.month_events(
                session, world["workspace_id"], start_local=start, end_local=end, timezone=ZONE
            )
            query_ms.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        payload = json.dumps(events, separators=(",", ":")).encode()
        json_ms.append((time.perf_counter() - began) * 1000)
    in_month = sum(1 for e in events if e["start"].startswith(world["month"].strftime("%Y-%m")))
    print(f"Month grid {start[:10]} .. {end[:10]}: {len(events):,} events ({in_month:,} in the month)")
    print(
        f"  month_events (query + dicts)  median {statistics.median(query_ms):7.1f} ms  "
        f"p95 {percentile(query_ms, 0.95):7.1f} ms"
    )
    print(
        f"  json.dumps for the browser    median {statistics.median(json_ms):7.1f} ms  "
        f"p95 {percentile(json_ms, 0.95):7.1f} ms  ({len(payload) / 1024:,.0f} KiB, "
        f"{len(payload) / max(1, len(events)):.0f} bytes per event)"
    )
    return events


def bench_moves(engine: Engine, world: dict, events: list) -> None:
    rng = random.Random(11)
    first = world["month"]
    current = {e["id"]: e for e in events if e["start"].startswith(first.strftime("%Y-%m"))}
    samples: list[float] = []
    for post_id in rng.sample(sorted(current), MOVES):
        event = current[post_id]
        local = datetime.fromisoformat(event["start"])
        shift = rng.choice([-3, -2, -1, 1, 2, 3])
        target = local + timedelta(days=shift)
        if target.month != first.month:
            target = local - timedelta(days=shift)
        with Session(engine) as session:
            began = time.perf_counter()
            try:
                result = calendar.move_post(
                    session,
                    actor_id=world["user_id"],
                    workspace_id=world["workspace_id"],
                    post_id=post_id,
                    new_local_start=target.strftime("%Y-%m-%dT%H:%M:%S"),
                    timezone=ZONE,
                    expected_version=event["version"],
                )
                session.commit()
            except Exception as error:  # a time in a DST gap is refused: counted, not timed
                print(f"  refused move of {post_id}: {getattr(error, 'message', error)}")
                continue
            samples.append((time.perf_counter() - began) * 1000)
        current[post_id] = result.event
    print(
        f"  move_post x{len(samples)} (authorize + reschedule + commit)  median {statistics.median(samples):6.1f} ms"
        f"  p95 {percentile(samples, 0.95):6.1f} ms  max {max(samples):6.1f} ms"
    )


def main() -> None:
    admin = postgres_admin_url()
    name = f"pf_bench_calendar_{uuid.uuid4().hex[:8]}"
    url = create_postgres_database(admin, name)
    engine = None
    try:
        migrate(url)
        engine = make_test_engine(url)
        began = time.perf_counter()
        world = populate(engine)
        print(
            f"{TOTAL:,} posts ({IN_MONTH:,} in {world['month']:%B %Y}, {ZONE}), {world['destinations']:,} "
            f"destinations written in {time.perf_counter() - began:.1f} s"
        )
        events = bench_load(engine, world)
        bench_moves(engine, world, events)
    finally:
        if engine is not None:
            engine.dispose()
        drop_postgres_database(admin, name)


if __name__ == "__main__":
    main()
