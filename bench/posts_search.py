"""Posts page queries on PostgreSQL at 100,000 posts: search with and without the trigram index.

Creates a throw-away database, migrates it, writes 100,000 posts (half in the measured workspace,
one in 997 mentioning a needle), then times `posts.search_posts` (one page query + one count) for a
rare word, a common word, the unfiltered first page and a status filter. Prints median and p95 of
30 runs each, then the same search after dropping the trigram index.

    .venv/bin/python bench/posts_search.py
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

from postforge.services.content import posts
from tests.support.db import make_test_engine, migrate
from tests.support.factories import make_workspace
from tests.support.services import (
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
)

ROWS = int(os.environ.get("BENCH_POSTS", "100000"))
RUNS = 30


def timed(engine, workspace_id: int, **filters) -> tuple[float, float, int]:
    samples = []
    total = 0
    for _ in range(RUNS):
        with Session(engine) as session:
            start = time.perf_counter()
            page = posts.search_posts(session, workspace_id, **filters)
            samples.append((time.perf_counter() - start) * 1000)
            total = page.total
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], total


def main() -> None:
    admin = postgres_admin_url()
    name = f"pf_bench_search_{uuid.uuid4().hex[:8]}"
    url = create_postgres_database(admin, name)
    engine = None
    try:
        migrate(url)
        engine = make_test_engine(url)
        with Session(engine) as session:
            mine, other = make_workspace(session), make_workspace(session)
            session.commit()
            workspace_id, other_id = mine.id, other.id
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO posts (workspace_id, content, status, timezone, meta, version, created_at, updated_at, "
                "scheduled_at) SELECT CASE WHEN i %% 2 = 0 THEN %(mine)s ELSE %(other)s END, "
                "md5(i::text) || ' launch ' || md5((i * 7)::text) || ' ' || md5((i * 13)::text) "
                "|| CASE WHEN i %% 997 = 0 THEN ' needle in the haystack' ELSE '' END, "
                "CASE WHEN i %% 3 = 0 THEN 'scheduled' ELSE 'draft' END, 'UTC', '{}'::jsonb, 1, now(), now(), "
                "CASE WHEN i %% 3 = 0 THEN now() + (i || ' minutes')::interval END "
                "FROM generate_series(1, %(rows)s) AS i",
                {"mine": workspace_id, "other": other_id, "rows": ROWS},
            )
            connection.exec_driver_sql("ANALYZE posts")
        print(f"{ROWS:,} posts, {ROWS // 2:,} in the measured workspace; {RUNS} runs each (ms)")
        cases = [
            ("first page, no filter", {}),
            ("status = scheduled", {"statuses": ["scheduled"]}),
            ("search rare word", {"query": "needle"}),
            ("search common word", {"query": "launch"}),
        ]
        for label, filters in cases:
            median, p95, total = timed(engine, workspace_id, **filters)
            print(f"  {label:<24} median {median:7.1f}  p95 {p95:7.1f}  (matches {total:,})")
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_posts_content_trgm")
        median, p95, total = timed(engine, workspace_id, query="needle")
        print(f"  {'rare word, no trigram':<24} median {median:7.1f}  p95 {p95:7.1f}  (matches {total:,})")
    finally:
        if engine is not None:
            engine.dispose()
        drop_postgres_database(admin, name)


if __name__ == "__main__":
    main()
