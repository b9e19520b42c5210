"""Credit reservations per second on PostgreSQL with 1, 8 and 32 concurrent workers.

Each reservation is what a generation does first: its own transaction running
`credits.reserve` (membership check, idempotency-key lookup, one conditional UPDATE of the
balance, one ledger row) and a commit. Workers are threads with a session each, hammering
either one shared workspace (every spend queues on the same row: the worst case) or a
workspace of their own. At the end the ledger of every workspace must sum to its balance.

    .venv/bin/python bench/credits.py [--seconds 5] [--workers 1 8 32]

The database is a throw-away one created on the server named by TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test), migrated, and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from postforge.models import CreditTransaction, Role, TransactionType  # noqa: E402
from postforge.services.ledger import credits  # noqa: E402
from tests.support.db import migrate  # noqa: E402
from tests.support.factories import make_membership, make_user, make_workspace  # noqa: E402
from tests.support.services import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
)

START_BALANCE = 10_000_000


@dataclass
class Result:
    scenario: str
    workers: int
    reservations: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.reservations / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def make_workspaces(engine: Engine, count: int) -> list[tuple[int, int]]:
    """(workspace id, editor id) pairs, each workspace funded through the ledger."""
    pairs = []
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(count):
            editor = make_user(session)
            workspace = make_workspace(session, owner=editor)
            make_membership(session, workspace, editor, role=Role.EDITOR)
            credits.grant(
                session,
                workspace.id,
                amount=START_BALANCE,
                type=TransactionType.PURCHASE,
                description="Benchmark balance",
                idempotency_key=f"bench-{uuid.uuid4().hex}",
            )
            pairs.append((workspace.id, editor.id))
        session.commit()
    return pairs


def hammer(engine: Engine, scenario: str, workers: int, seconds: float) -> Result:
    targets = make_workspaces(engine, 1 if scenario == "one workspace" else workers)
    latencies: list[list[float]] = [[] for _ in range(workers)]
    barrier = threading.Barrier(workers + 1)
    stop_at = [0.0]

    def work(index: int) -> None:
        workspace_id, user_id = targets[index % len(targets)]
        mine = latencies[index]
        barrier.wait()
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            with Session(engine) as session:
                credits.reserve(
                    session,
                    user_id=user_id,
                    workspace_id=workspace_id,
                    idempotency_key=f"generation:{workspace_id}:{uuid.uuid4().hex}",
                )
                session.commit()
            mine.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [value for part in latencies for value in part]

    with Session(engine) as session:
        for workspace_id, _ in targets:
            report = credits.check_invariant(session, workspace_id)
            if not report.ok:
                raise SystemExit(f"INVARIANT BROKEN for workspace {workspace_id}: {report}")
        ids = [workspace_id for workspace_id, _ in targets]
        spent = session.exec(
            select(func.count())
            .select_from(CreditTransaction)
            .where(CreditTransaction.type == TransactionType.GENERATION)
            .where(CreditTransaction.workspace_id.in_(ids))  # type: ignore[attr-defined]
        ).one()
    if spent != len(flat):
        raise SystemExit(f"LEDGER MISMATCH: {len(flat)} reservations timed, {spent} ledger rows")
    return Result(scenario, workers, len(flat), elapsed, flat)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each run hammers (default 5)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()

    admin = postgres_admin_url()
    name = f"postforge_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_postgres_database(admin, name)
    try:
        migrate(url)
        engine = create_engine(url, pool_size=max(args.workers) + 2, max_overflow=0, pool_pre_ping=False)
        with engine.connect() as conn:
            server = conn.exec_driver_sql("SHOW server_version").scalar()
        print(
            f"PostgreSQL {server}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{args.seconds:g} s per run, threads with a session each"
        )
        print(
            f"{'scenario':<22}{'workers':>8}{'reservations':>14}{'per second':>12}{'p50 ms':>9}{'p99 ms':>9}"
        )
        for scenario in ("one workspace", "workspace per worker"):
            for workers in args.workers:
                result = hammer(engine, scenario, workers, args.seconds)
                print(
                    f"{result.scenario:<22}{result.workers:>8}{result.reservations:>14}"
                    f"{result.per_second:>12.0f}{result.percentile(50):>9.2f}{result.percentile(99):>9.2f}"
                )
        print("invariant: balance == sum(ledger) and nothing negative, in every workspace — ok")
        engine.dispose()
    finally:
        drop_postgres_database(admin, name)


if __name__ == "__main__":
    main()
