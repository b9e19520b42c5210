"""On PostgreSQL the posts page's substring search is served by the trigram index, not a scan."""

import sqlalchemy as sa
from sqlmodel import Session

from postforge.services.content import posts
from tests.support.factories import make_workspace

ROWS = 100_000


def test_search_uses_the_trigram_index(postgres_engine):
    with Session(postgres_engine) as session:
        mine, other = make_workspace(session), make_workspace(session)
        session.commit()
        workspace_id, other_id = mine.id, other.id
    with postgres_engine.begin() as connection:
        # 100,000 posts in two workspaces, written by the server itself; one in 997 mentions a needle.
        connection.exec_driver_sql(
            "INSERT INTO posts (workspace_id, content, status, timezone, meta, version, created_at, updated_at) "
            "SELECT CASE WHEN i %% 2 = 0 THEN %(mine)s ELSE %(other)s END, "
            "md5(i::text) || ' ' || md5((i * 7)::text) || ' ' || md5((i * 13)::text) "
            "|| CASE WHEN i %% 997 = 0 THEN ' needle in the haystack' ELSE '' END, "
            "'draft', 'UTC', '{}'::jsonb, 1, now(), now() FROM generate_series(1, %(rows)s) AS i",
            {"mine": workspace_id, "other": other_id, "rows": ROWS},
        )
        connection.exec_driver_sql("ANALYZE posts")

    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    with postgres_engine.connect() as connection:
        sa.event.listen(postgres_engine, "before_cursor_execute", record)
        try:
            with Session(bind=connection) as session:
                page = posts.search_posts(session, workspace_id, query="NEEDLE")
        finally:
            sa.event.remove(postgres_engine, "before_cursor_execute", record)
        count_sql, params = statements[0]
        plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + count_sql, params).all())

    assert page.total == len([i for i in range(1, ROWS + 1) if i % 997 == 0 and i % 2 == 0])
    assert "count" in count_sql.lower()
    assert "ix_posts_content_trgm" in plan, plan
