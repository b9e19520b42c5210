"""The publishing engine end to end: publishes per second and lag behind the scheduled time.

Real processes throughout: a throw-away PostgreSQL database (TEST_POSTGRES_URL, as the tests
do), a Redis database number of its own (flushed before and after), Celery worker processes
(threads pool) and one beat, and the local fake Mastodon (`FakeMastodon(rate_limits=False)`)
served over HTTP on 127.0.0.1. The destinations are spread over many Mastodon accounts so that
no account's publish bucket (Mastodon: 300 per 3 hours) holds anything back.

Scenarios, in one run:

A. burst: `--count` destinations all due at the same instant, a few seconds after the workers
   and beat are ready: publishes per second (first receipt to last) and lag p50/p95/p99/max;
B. steady: `--rate` destinations due per second for `--seconds` seconds (due times spread
   evenly): lag p50/p95/p99/max (target: p99 within 1 s at 100 due per second);
C. Celery's own ceiling: `--pings` ping tasks through the same broker and workers, tasks/s;
D. `--profile` publishes one after another in this process: statements sent to PostgreSQL
   per publish, milliseconds per publish and where they go (cProfile).

Lag is the fake's receipt time minus the destination's scheduled time. Every scenario checks
that each destination ended published and reached the platform exactly once (one status per
idempotency key, no more, no fewer).

    .venv/bin/python bench/publish.py [--count 5000] [--rate 100 --seconds 30] [--workers 2]
        [--concurrency 8] [--accounts 100] [--pings 2000]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import cProfile
import os
import pstats
import re
import statistics
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from postforge.models import (
    DestinationStatus,
    Platform,
    Post,
    PostDestination,
    PostStatus,
    PublishAttempt,
    Role,
    utcnow,
)
from postforge.services.channels import publishing
from postforge.services.infra import token_crypto
from postforge.settings import Settings, get_settings, load_settings
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.server import serve
from tests.support.db import make_test_engine, migrate
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace
from tests.support.services import (
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    redis_base_url,
)
from tests.support.worker import CeleryProcess, celery_env, running_beat, running_worker, wait_for
from worker.celery_app import PING_TASK, create_celery_app

FAR_FUTURE = timedelta(days=1)  # rows wait here until a scenario arms them
TASK_LINE = re.compile(r"Task postforge\.publish\.destination\[[^\]]*\] succeeded in ([\d.]+)s: '(\w+)'")
TICK_LINE = re.compile(r"Task postforge\.publish\.dispatch\[[^\]]*\] succeeded in ([\d.]+)s: (\d+)")
LEAD_SECONDS = 3.0  # from arming to the first due time: the next beat tick must see them


@dataclass
class Bench:
    engine: Engine
    fake: FakeMastodon
    workspace_id: int
    account_ids: list[int]
    workers: list[CeleryProcess] = field(default_factory=list)
    log_marks: list[int] = field(default_factory=list)

    def mark_logs(self) -> None:
        self.log_marks = [len(worker.output()) for worker in self.workers]

    def publish_tasks(self) -> str:
        """What the publish tasks did since `mark_logs`, from the workers' logs."""
        runs: list[float] = []
        results: Counter[str] = Counter()
        for worker, mark in zip(self.workers, self.log_marks, strict=True):
            for seconds, status in TASK_LINE.findall(worker.output()[mark:]):
                runs.append(float(seconds))
                results[status] += 1
        ticks: list[int] = []
        for worker, mark in zip(self.workers, self.log_marks, strict=True):
            ticks += [int(claimed) for _, claimed in TICK_LINE.findall(worker.output()[mark:])]
        if not runs:
            return "publish tasks: none logged"
        return (
            f"publish tasks: {dict(results)}; run time per task p50 {statistics.median(runs) * 1000:.0f} ms, "
            f"p95 {percentile(runs, 0.95) * 1000:.0f} ms; dispatch ticks run: {len(ticks)}, "
            f"{sum(1 for n in ticks if n)} claiming rows (at most {max(ticks, default=0)} in one)"
        )


# --- Setup ------------------------------------------------------------------------------------


def free_redis_db(base: str, wanted: int | None) -> str:
    """A Redis database number nobody uses now (15 down to 1), or the one asked for."""
    for number in [wanted] if wanted is not None else range(15, 0, -1):
        url = f"{base.rstrip('/')}/{number}"
        client = redis.Redis.from_url(url)
        try:
            if wanted is not None or client.dbsize() == 0:
                client.flushdb()
                return url
        finally:
            client.close()
    raise SystemExit("no empty Redis database between 1 and 15; pass --redis-db")


def make_accounts(engine: Engine, fake: FakeMastodon, url: str, cipher: MultiFernet, count: int) -> Bench:
    with Session(engine) as session:
        author = make_user(session, name="Bench")
        workspace = make_workspace(session, owner=author)
        make_membership(session, workspace, author, role=Role.ADMIN)
        ids = []
        for index in range(count):
            account = make_social_account(
                session,
                workspace,
                platform=Platform.MASTODON,
                platform_account_id=f"1093480000{index:08d}",
                handle=f"@bench{index}@mastodon.test",
                instance_url=url,
                access_token_enc=token_crypto.encrypt(fake.issue_token(), using=cipher),
            )
            ids.append(account.id)
        session.commit()
        return Bench(engine, fake, workspace.id, ids)


def create_destinations(bench: Bench, count: int, label: str) -> list[int]:
    """`count` scheduled posts with one destination each, round-robin over the accounts; parked
    a day ahead so nothing is due until `arm` gives them their times."""
    parked = utcnow() + FAR_FUTURE
    ids: list[int] = []
    with Session(bench.engine) as session:
        for start in range(0, count, 1000):
            chunk = range(start, min(count, start + 1000))
            posts = [
                Post(
                    workspace_id=bench.workspace_id,
                    content=f"Bench {label} post {index}",
                    status=PostStatus.SCHEDULED,
                    scheduled_at=parked,
                )
                for index in chunk
            ]
            session.add_all(posts)
            session.flush()
            destinations = [
                PostDestination(
                    post_id=post.id,
                    social_account_id=bench.account_ids[index % len(bench.account_ids)],
                    idempotency_key=uuid.uuid4().hex,
                    next_attempt_at=parked,
                )
                for index, post in zip(chunk, posts, strict=True)
            ]
            session.add_all(destinations)
            session.flush()
            ids.extend(d.id for d in destinations)
        session.commit()
    return ids


def arm(bench: Bench, ids: list[int], dues: list[datetime]) -> dict[str, float]:
    """Give each destination (and its post) its due time; returns idempotency key → due (epoch)."""
    table = PostDestination.__table__
    posts = Post.__table__
    rows = [{"b_id": id_, "b_due": due} for id_, due in zip(ids, dues, strict=True)]
    with bench.engine.begin() as connection:
        connection.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(next_attempt_at=sa.bindparam("b_due")),
            rows,
        )
        connection.execute(
            sa.update(posts)
            .where(
                posts.c.id
                == sa.select(table.c.post_id).where(table.c.id == sa.bindparam("b_id")).scalar_subquery()
            )
            .values(scheduled_at=sa.bindparam("b_due")),
            rows,
        )
        keys = connection.execute(
            sa.select(table.c.id, table.c.idempotency_key).where(table.c.id.in_(ids))
        ).all()
    due_of = dict(zip(ids, dues, strict=True))
    return {key: due_of[id_].timestamp() for id_, key in keys}


# --- Measuring ----------------------------------------------------------------------------------


def wait_published(bench: Bench, due_by_key: dict[str, float], timeout: float) -> list[tuple[str, float]]:
    """Wait until every key reached the fake; [(key, receipt time)] for this scenario's keys."""

    def received() -> list[tuple[str, float]]:
        return [
            (p.idempotency_key, p.received_at)
            for p in list(bench.fake.posts)
            if p.idempotency_key in due_by_key
        ]

    def probe() -> list[tuple[str, float]] | None:
        got = received()
        return got if len({key for key, _ in got}) >= len(due_by_key) else None

    try:
        got = wait_for(probe, timeout=timeout, what="every destination to reach the fake", interval=0.5)
    except AssertionError:
        got = received()
        print(f"  !! timed out: {len({k for k, _ in got})} of {len(due_by_key)} reached the fake")
    time.sleep(2.0)  # let the last outcomes be written (and any duplicate arrive) before checking
    return received()


def check_exactly_once(bench: Bench, ids: list[int], receipts: list[tuple[str, float]], expected: int) -> str:
    per_key = Counter(key for key, _ in receipts)
    duplicates = sum(n - 1 for n in per_key.values() if n > 1)
    with Session(bench.engine) as session:
        statuses = Counter(
            session.exec(select(PostDestination.status).where(col(PostDestination.id).in_(ids))).all()
        )
        # The fake answers a replayed Idempotency-Key without a second status: the attempts
        # show whether any destination was sent twice all the same.
        attempts = session.exec(
            select(sa.func.count())
            .select_from(PublishAttempt)
            .where(col(PublishAttempt.destination_id).in_(ids))
        ).one()
    published = statuses.get(DestinationStatus.PUBLISHED, 0)
    once = len(per_key) == expected and duplicates == 0 and published == expected and attempts == expected
    return (
        f"exactly once: {'OK' if once else 'FAILED'} — fake statuses {len(receipts)}, distinct keys "
        f"{len(per_key)} of {expected}, duplicates {duplicates}; attempts {attempts}; "
        f"destinations {dict((getattr(k, 'value', k), n) for k, n in statuses.items())}"
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def lag_line(receipts: list[tuple[str, float]], due_by_key: dict[str, float]) -> str:
    first_receipt: dict[str, float] = {}
    for key, at in receipts:
        first_receipt[key] = min(at, first_receipt.get(key, at))
    lags = [at - due_by_key[key] for key, at in first_receipt.items()]
    if not lags:
        return "lag: nothing arrived"
    return (
        f"lag s: p50 {statistics.median(lags):.3f}, p95 {percentile(lags, 0.95):.3f}, "
        f"p99 {percentile(lags, 0.99):.3f}, max {max(lags):.3f}, min {min(lags):.3f}"
    )


def burst(bench: Bench, count: int) -> None:
    ids = create_destinations(bench, count, "burst")
    bench.mark_logs()
    due = utcnow() + timedelta(seconds=LEAD_SECONDS)
    due_by_key = arm(bench, ids, [due] * count)
    receipts = wait_published(bench, due_by_key, timeout=120 + count / 10)
    times = sorted(at for _, at in receipts)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    print(f"A. burst: {count} destinations due at one instant")
    print(
        f"  {len(times)} receipts in {span:.2f} s (first → last) = {len(times) / span:.0f} publishes/s; "
        f"first {times[0] - due.timestamp():.3f} s after due, last {times[-1] - due.timestamp():.2f} s after due"
    )
    print(f"  {lag_line(receipts, due_by_key)}")
    print(f"  {check_exactly_once(bench, ids, receipts, count)}")
    print(f"  {bench.publish_tasks()}")


def steady(bench: Bench, rate: int, seconds: int) -> None:
    count = rate * seconds
    ids = create_destinations(bench, count, "steady")
    bench.mark_logs()
    start = utcnow() + timedelta(seconds=LEAD_SECONDS)
    dues = [start + timedelta(seconds=index / rate) for index in range(count)]
    due_by_key = arm(bench, ids, dues)
    receipts = wait_published(bench, due_by_key, timeout=seconds + 120 + count / 10)
    print(f"B. steady: {rate} due per second for {seconds} s ({count} destinations)")
    print(f"  {lag_line(receipts, due_by_key)}")
    late = sorted(at - due_by_key[key] for key, at in receipts)
    over = sum(1 for lag in late if lag > 1.0)
    print(f"  {over} of {len(late)} more than 1 s late")
    print(f"  {check_exactly_once(bench, ids, receipts, count)}")
    print(f"  {bench.publish_tasks()}")


def pings(redis_url: str, count: int) -> None:
    settings = load_settings(environment="test", redis_url=redis_url)
    app = create_celery_app(settings)
    app.send_task(PING_TASK).get(timeout=30)  # warm: connections, queues
    started = time.perf_counter()
    results = [app.send_task(PING_TASK) for _ in range(count)]
    sent = time.perf_counter() - started
    for result in results:
        result.get(timeout=120)
    elapsed = time.perf_counter() - started
    workers = Counter(result.result["worker"].split("@")[0] for result in results)
    print(f"C. Celery no-op ceiling: {count} ping tasks (each stores a result)")
    print(
        f"  sent in {sent:.2f} s ({count / sent:.0f}/s), all answered in {elapsed:.2f} s = "
        f"{count / elapsed:.0f} tasks/s; per worker {dict(workers)}"
    )
    app.close()


def profile_publishes(bench: Bench, env: dict[str, str], count: int) -> None:
    """Publishes one after another in this process: SQL statements per publish, wall time per
    publish and where a single thread spends it."""
    # Token decryption reads the process settings (the environment), as it does in a worker.
    for name in ("ENVIRONMENT", "DATABASE_URL", "REDIS_URL", "TOKEN_ENCRYPTION_KEYS"):
        os.environ[name] = env[name]
    get_settings.cache_clear()
    settings = get_settings()
    print(f"D. {count} publishes one after another in this process (one thread; no workers running)")
    profiler = cProfile.Profile()
    elapsed, statements, dispatch_statements = publish_in_process(bench, settings, count, profiler=profiler)
    kinds = {kind: round(n / count, 1) for kind, n in Counter(statements).items()}
    print(
        f"  dispatch_due: {dispatch_statements} statements for {count} rows; per publish: "
        f"{len(statements) / count:.1f} statements {kinds}"
    )
    stats = pstats.Stats(profiler)
    print(f"  profiled: {elapsed / count * 1000:.1f} ms per publish, of which (cumulative)")
    for label, where in PROFILE_SPOTS.items():
        seconds = sum(
            row[3] for func, row in stats.stats.items() if where[0] in func[0] and func[2] == where[1]
        )
        print(f"    {label}: {seconds / count * 1000:.1f} ms")
    elapsed, _, _ = publish_in_process(bench, settings, count)
    print(
        f"  not profiled: {elapsed / count * 1000:.1f} ms per publish (the adapter's per-thread HTTP client)"
    )


def publish_in_process(
    bench: Bench,
    settings: Settings,
    count: int,
    *,
    profiler: cProfile.Profile | None = None,
) -> tuple[float, list[str], int]:
    """Dispatch and publish `count` new destinations here; (seconds publishing, statements of the
    publishes, statements of the dispatch)."""
    ids = create_destinations(bench, count, "profile")
    arm(bench, ids, [utcnow()] * count)
    statements: list[str] = []

    def count_statement(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(bench.engine, "before_cursor_execute", count_statement)
    try:
        claimed = publishing.dispatch_due(bench.engine, settings=settings)
        dispatch_statements = len(statements)
        statements.clear()
        run = profiler.runcall if profiler else (lambda function, *args, **kwargs: function(*args, **kwargs))
        started = time.perf_counter()
        results = [
            run(publishing.publish_destination, bench.engine, id_, settings=settings) for id_, _ in claimed
        ]
        elapsed = time.perf_counter() - started
    finally:
        event.remove(bench.engine, "before_cursor_execute", count_statement)
    outcomes = Counter(result.status for result in results)
    assert outcomes == {"published": count}, [r.detail for r in results if r.status != "published"][:3]
    return elapsed, statements, dispatch_statements


# (file fragment, function name) → what the time is spent on
PROFILE_SPOTS = {
    "httpx.Client() set-up and close (TLS context, certificates)": ("httpx/_client.py", "__init__"),
    "HTTP request to the fake": ("httpx/_client.py", "request"),
    "PostgreSQL statements (psycopg execute)": ("psycopg/cursor.py", "execute"),
    "commits": ("psycopg/connection.py", "commit"),
    "account bucket (Redis)": ("publish_limits.py", "take"),
    "token decryption": ("token_crypto.py", "decrypt"),
}


# --- Main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=5000, help="destinations in the burst")
    parser.add_argument("--rate", type=int, default=100, help="steady: destinations due per second")
    parser.add_argument("--seconds", type=int, default=30, help="steady: for how long")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker process")
    parser.add_argument("--accounts", type=int, default=100, help="Mastodon accounts to spread over")
    parser.add_argument("--pings", type=int, default=2000, help="no-op tasks for Celery's ceiling")
    parser.add_argument(
        "--redis-db", type=int, default=None, help="Redis database number (default: an empty one)"
    )
    parser.add_argument("--profile", type=int, default=200, help="D: publishes profiled in this process")
    parser.add_argument("--skip", default="", help="scenarios to leave out, e.g. 'B' or 'AC'")
    args = parser.parse_args()

    key = Fernet.generate_key().decode()
    cipher = MultiFernet([Fernet(key)])
    admin = postgres_admin_url()
    name = f"postforge_bench_{uuid.uuid4().hex[:8]}"
    redis_url = free_redis_db(redis_base_url(), args.redis_db)
    url = create_postgres_database(admin, name)
    engine_settings = {
        "token_encryption_keys": key,
        "dispatch_interval_seconds": os.environ.get("DISPATCH_INTERVAL_SECONDS", "1"),
        "dispatch_batch_size": os.environ.get("DISPATCH_BATCH_SIZE", "500"),
    }
    print(
        f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"settings: {args.workers} worker processes x {args.concurrency} threads, 1 beat, "
        f"{args.accounts} Mastodon accounts, dispatch every {engine_settings['dispatch_interval_seconds']} s, "
        f"batch {engine_settings['dispatch_batch_size']}, Redis {redis_url}, fake Mastodon in this process"
    )
    try:
        migrate(url)
        engine = make_test_engine(url)
        fake = FakeMastodon(rate_limits=False)
        with ExitStack() as servers, tempfile.TemporaryDirectory(prefix="postforge-bench-") as tmp:
            fake_url = servers.enter_context(serve(fake.app))
            bench = make_accounts(engine, fake, fake_url, cipher, args.accounts)
            env = celery_env(database_url=url, redis_url=redis_url, data_dir=Path(tmp), **engine_settings)
            with ExitStack() as processes:
                for index in range(args.workers):
                    bench.workers.append(
                        processes.enter_context(
                            running_worker(
                                env,
                                Path(tmp),
                                name=f"bench{index}",
                                pool="threads",
                                concurrency=args.concurrency,
                            )
                        )
                    )
                processes.enter_context(running_beat(env, Path(tmp)))
                if "A" not in args.skip.upper():
                    burst(bench, args.count)
                if "B" not in args.skip.upper():
                    steady(bench, args.rate, args.seconds)
                if "C" not in args.skip.upper():
                    pings(redis_url, args.pings)
            # Workers and beat are stopped: the in-process publish has the database to itself.
            if "D" not in args.skip.upper():
                profile_publishes(bench, env, args.profile)
        engine.dispose()
    finally:
        drop_postgres_database(admin, name)
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        client.close()


if __name__ == "__main__":
    main()
