"""Admin console user search on PostgreSQL at 100,000 users (target p95 < 200 ms).

Creates a throw-away database, migrates it, writes 100,000 users (one in 1,000 with a rare word in
the name, each with a browser session), then times `admin_console.users.search_users` (the page
query, its count and the page's last-activity lookup) as a system admin: a rare email fragment, a
common one, a name, an exact id, and the unfiltered first page. Prints median and p95 of 30 runs
each, then the rare search again after dropping the trigram indexes.

    .venv/bin/python bench/admin.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session

from postforge.services.admin_console import users
from tests.support.db import make_test_engine, migrate
from tests.support.factories import make_user
from tests.support.services import (
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
)

ROWS = int(os.environ.get("BENCH_USERS", "100000"))
RUNS = 30


def timed(engine, admin_id: int, query: str) -> tuple[float, float, int]:
    samples = []
    total = 0
    for _ in range(RUNS):
        with Session(engine) as session:
            start = time.perf_counter()
            page = users.search_users(session, actor_id=admin_id, query=query)
            samples.append((time.perf_counter() - start) * 1000)
            total = page.total
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], total


def main() -> None:
    admin_url = postgres_admin_url()
    name = f"pf_bench_admin_{uuid.uuid4().hex[:8]}"
    url = create_postgres_database(admin_url, name)
    engine = None
    try:
        migrate(url)
        engine = make_test_engine(url)
        with Session(engine) as session:
            admin = make_user(session, email="root@example.com", is_admin=True)
            session.commit()
            admin_id = admin.id
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO users (email, name, timezone, is_admin, is_active, created_at, updated_at) "
                "SELECT 'user' || i || '.' || substr(md5(i::text), 1, 8) || '@example.org', "
                "CASE WHEN i %% 1000 = 0 THEN 'Zebulon ' ELSE 'Person ' END || md5((i * 7)::text), "
                "'UTC', false, true, now() - (i || ' seconds')::interval, now() "
                "FROM generate_series(1, %(rows)s) AS i",
                {"rows": ROWS},
            )
            connection.exec_driver_sql(
                "INSERT INTO sessions (user_id, token_hash, user_agent, ip_address, created_at, last_seen_at, "
                "expires_at) SELECT id, md5(id::text) || md5((id * 3)::text), '', '', now(), now(), "
                "now() + interval '30 days' FROM users"
            )
            connection.exec_driver_sql("ANALYZE users")
            connection.exec_driver_sql("ANALYZE sessions")
            some_id = connection.exec_driver_sql("SELECT id FROM users ORDER BY id DESC LIMIT 1").scalar_one()
        print(f"{ROWS:,} users, each with a session; {RUNS} runs each (ms)")
        cases = [
            ("first page, no query", ""),
            ("rare name (Zebulon)", "zebulon"),
            ("email fragment (1 hit)", "user4242."),
            ("common (example.org)", "example.org"),
            ("exact id", str(some_id)),
        ]
        for label, query in cases:
            median, p95, total = timed(engine, admin_id, query)
            print(f"  {label:<24} median {median:7.1f}  p95 {p95:7.1f}  (matches {total:,})")
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_users_email_trgm")
            connection.exec_driver_sql("DROP INDEX ix_users_name_trgm")
        median, p95, total = timed(engine, admin_id, "zebulon")
        print(f"  {'rare name, no trigram':<24} median {median:7.1f}  p95 {p95:7.1f}  (matches {total:,})")
    finally:
        if engine is not None:
            engine.dispose()
        drop_postgres_database(admin_url, name)


if __name__ == "__main__":
    main()
