"""Migration tests shared by SQLite and PostgreSQL.

A test module subclasses `MigrationChecks` and provides `empty_database_url`: the URL of a
database nothing has touched yet. The bodies below then run unchanged on either engine.
"""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

import postforge.models  # noqa: F401 — every table on SQLModel.metadata
from postforge.models.base import exists_on
from postforge.settings import get_settings
from tests.support.db import alembic_config, make_test_engine, migrate

VERSION_TABLE = "alembic_version"
IDENTITIES_BY_PROVIDER_NAME = "0007"  # the last revision before identities were keyed by issuer

# The queries the product runs most, and the index each one needs (table, leading columns).
HOT_QUERY_INDEXES = [
    ("post_destinations", ("status", "next_attempt_at")),  # dispatcher: due destinations
    ("posts", ("workspace_id", "scheduled_at")),  # calendar and posts list
    ("credit_transactions", ("workspace_id", "created_at")),  # credits history
    ("users", ("created_at",)),  # the admin console's user list, newest first
    ("workspaces", ("created_at",)),  # the admin console's workspace list
    ("audit_log", ("created_at",)),  # the audit log page
    ("audit_log", ("target_type", "target_id", "created_at")),  # what was done to one target
]


def model_tables() -> set[str]:
    return set(SQLModel.metadata.tables)


def database_tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {VERSION_TABLE}


def schema_differences(engine: Engine) -> list:
    """What autogenerate would write to make the database match the models (empty when in step)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "target_metadata": SQLModel.metadata,
                "include_object": lambda obj, name, type_, reflected, compare_to: exists_on(
                    obj if compare_to is None else compare_to, engine.dialect.name
                ),
            },
        )
        return compare_metadata(context, SQLModel.metadata)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def index_columns(engine: Engine, table: str) -> list[tuple[str, ...]]:
    return [tuple(index["column_names"]) for index in sa.inspect(engine).get_indexes(table)]


def model_check_constraints() -> dict[str, set[str]]:
    return {
        table.name: {
            str(constraint.name)
            for constraint in table.constraints
            if isinstance(constraint, sa.CheckConstraint)
        }
        for table in SQLModel.metadata.sorted_tables
    }


def database_check_constraints(engine: Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {
        table: {constraint["name"] for constraint in inspector.get_check_constraints(table)}
        for table in model_tables()
    }


class MigrationChecks:
    """Upgrade, compare with the models, downgrade and upgrade again: the same on every database."""

    @pytest.fixture
    def empty_database_url(self) -> str:
        raise NotImplementedError("a subclass provides the URL of an empty database")

    @pytest.fixture
    def engine(self, empty_database_url: str) -> Iterator[Engine]:
        engine = make_test_engine(empty_database_url)
        yield engine
        engine.dispose()

    def test_the_database_starts_empty(self, engine: Engine) -> None:
        assert database_tables(engine) == set()

    def test_upgrade_head_creates_every_model_table(self, empty_database_url: str, engine: Engine) -> None:
        migrate(empty_database_url)

        assert database_tables(engine) == model_tables()

    def test_migrated_schema_matches_the_models(self, empty_database_url: str, engine: Engine) -> None:
        migrate(empty_database_url)

        assert schema_differences(engine) == []

    def test_check_constraints_carry_the_model_names(self, empty_database_url: str, engine: Engine) -> None:
        # Autogenerate ignores CHECK constraints, and later migrations drop them by name.
        migrate(empty_database_url)

        assert database_check_constraints(engine) == model_check_constraints()

    def test_hot_queries_have_their_indexes(self, empty_database_url: str, engine: Engine) -> None:
        migrate(empty_database_url)

        for table, columns in HOT_QUERY_INDEXES:
            assert columns in index_columns(engine, table), f"{table} has no index on {columns}"

    def test_downgrade_base_drops_everything_and_upgrade_works_again(
        self, empty_database_url: str, engine: Engine
    ) -> None:
        migrate(empty_database_url)

        downgrade(empty_database_url)
        engine.dispose()  # forget cached reflection and pooled connections that saw the old tables
        assert database_tables(engine) == set()

        migrate(empty_database_url)
        assert database_tables(engine) == model_tables()
        assert schema_differences(engine) == []

    @pytest.mark.parametrize(
        ("configured_issuer", "oidc_issuer"),
        [
            ("https://login.example.com/", "https://login.example.com"),
            ("", "urn:postforge:unknown-issuer:oidc"),
        ],
    )
    def test_existing_identities_get_the_issuer_of_their_provider(
        self,
        empty_database_url: str,
        engine: Engine,
        monkeypatch: pytest.MonkeyPatch,
        configured_issuer: str,
        oidc_issuer: str,
    ) -> None:
        # Identities were keyed by the provider's name until revision 0008.
        monkeypatch.setenv("OIDC_ISSUER", configured_issuer)
        monkeypatch.setenv("GITHUB_WEB_BASE", "https://github.example.com/")
        get_settings.cache_clear()
        try:
            migrate(empty_database_url, IDENTITIES_BY_PROVIDER_NAME)
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO users (id, email, name, timezone, is_admin, is_active, created_at, updated_at)"
                        " VALUES (1, 'ada@example.com', 'Ada', 'UTC', false, true, :now, :now)"
                    ),
                    {"now": "2026-11-01 00:00:00+00:00"},
                )
                for provider in ("oidc", "google", "github", "clerk", "keycloak"):
                    connection.execute(
                        sa.text(
                            "INSERT INTO auth_identities (user_id, provider, subject, created_at)"
                            " VALUES (1, :provider, '42', :now)"
                        ),
                        {"provider": provider, "now": "2026-11-01 00:00:00+00:00"},
                    )

            migrate(empty_database_url)
        finally:
            get_settings.cache_clear()

        with engine.connect() as connection:
            issuers = dict(connection.execute(sa.text("SELECT provider, issuer FROM auth_identities")).all())
        assert issuers == {
            "oidc": oidc_issuer,
            "google": "https://accounts.google.com",
            "github": "https://github.example.com",
            "clerk": "clerk",
            "keycloak": "urn:postforge:unknown-issuer:keycloak",
        }

    def test_failed_destinations_with_an_unconfirmed_try_move_to_review(
        self, empty_database_url: str, engine: Engine
    ) -> None:
        """0009: a destination failed after an `unknown` try may be live; it is asked about instead."""
        from sqlmodel import Session

        from postforge.models import DestinationStatus, PostDestination, PublishAttempt
        from tests.support.factories import make_post, make_social_account, make_workspace

        migrate(empty_database_url, "0008")
        with Session(engine) as session:
            workspace = make_workspace(session)
            first, second = make_social_account(session, workspace), make_social_account(session, workspace)
            post = make_post(session, workspace, status="failed")
            session.commit()
            # Written with the table as it was at 0008: later revisions add destination columns.
            maybe_live = _old_destination(session, post.id, first.id, last_error="Gave up.")
            plain = _old_destination(session, post.id, second.id, last_error="Too long.")
            for row_id, outcomes in ((maybe_live, ("unknown", "transient")), (plain, ("rejected",))):
                for number, outcome in enumerate(outcomes, start=1):
                    session.add(PublishAttempt(destination_id=row_id, attempt_number=number, outcome=outcome))
            session.commit()
            ids = (maybe_live, plain)
        migrate(empty_database_url)
        with Session(engine) as session:
            moved, kept = (session.get(PostDestination, i) for i in ids)
            assert moved.status == DestinationStatus.NEEDS_REVIEW
            assert moved.last_error.startswith("An earlier try may already have published this post")
            assert moved.last_error.endswith("Since then: Gave up.")
            assert (kept.status, kept.last_error) == (DestinationStatus.FAILED, "Too long.")

    def test_posts_that_may_be_live_read_needs_review_and_keep_their_rows(
        self, empty_database_url: str, engine: Engine
    ) -> None:
        """0010: a settled post with a destination needing review gets its own status, and back.

        Upgrading from 0008 runs 0009's update first, so 0010 starts inside an open transaction
        (where SQLite ignores a foreign-keys switch); rebuilding `posts` must still lose no row
        that hangs off it."""
        from sqlmodel import Session

        from postforge.models import Notification, PublishAttempt
        from tests.support.factories import make_post, make_social_account, make_workspace

        migrate(empty_database_url, "0008")
        expected: dict[int, tuple[str, str, str]] = {}  # post id: (before, after upgrade, after downgrade)
        with Session(engine) as session:
            workspace = make_workspace(session)
            one, two = make_social_account(session, workspace), make_social_account(session, workspace)

            def post_with(status: str, *destinations: str, upgraded: str = "", downgraded: str = "") -> None:
                post = make_post(session, workspace, status=status)
                session.flush()
                for account, state in zip((one, two), destinations, strict=False):
                    # Written with the table as it was at 0008: later revisions add destination columns.
                    row_id = _old_destination(session, post.id, account.id, status=state)
                    session.add(PublishAttempt(destination_id=row_id, attempt_number=1, outcome="transient"))
                    session.add(
                        Notification(
                            workspace_id=workspace.id, title="t", post_id=post.id, destination_id=row_id
                        )
                    )
                expected[post.id] = (status, upgraded or status, downgraded or status)

            post_with("failed", "needs_review", "failed", upgraded="needs_review", downgraded="failed")
            post_with(
                "partially_published",
                "published",
                "needs_review",
                upgraded="needs_review",
                downgraded="partially_published",
            )
            post_with("failed", "failed", "failed")
            post_with("publishing", "needs_review", "pending")  # a retry is on its way: still publishing
            post_with("cancelled", "needs_review", "cancelled")  # the author's choice stands
            # 0009 moves this one's destination to review (an unconfirmed try, then a failure).
            post = make_post(session, workspace, status="failed")
            session.flush()
            moved_id = _old_destination(session, post.id, one.id)
            session.add(PublishAttempt(destination_id=moved_id, attempt_number=1, outcome="unknown"))
            expected[post.id] = ("failed", "needs_review", "failed")
            session.commit()

        def rows() -> dict[str, int]:
            with engine.connect() as connection:
                return {
                    table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                    for table in ("posts", "post_destinations", "publish_attempts", "notifications")
                }

        def statuses() -> dict[int, str]:
            with engine.connect() as connection:
                return dict(connection.execute(sa.text("SELECT id, status FROM posts")).all())

        def accepts_needs_review() -> bool:
            try:
                with engine.begin() as connection:
                    connection.execute(sa.text("UPDATE posts SET status = 'needs_review'"))
                    raise LookupError("accepted; undo it")
            except LookupError:
                return True
            except sa.exc.IntegrityError:
                return False

        before = rows()
        assert not accepts_needs_review()

        migrate(empty_database_url)
        engine.dispose()
        assert rows() == before
        assert statuses() == {ident: after for ident, (_, after, _) in expected.items()}
        assert accepts_needs_review()
        assert schema_differences(engine) == []
        assert database_check_constraints(engine) == model_check_constraints()

        downgrade(empty_database_url, "0009")
        engine.dispose()
        assert rows() == before
        assert statuses() == {ident: back for ident, (_, _, back) in expected.items()}
        assert not accepts_needs_review()
        # The destinations still reference the rebuilt table: deleting a post takes its own along.
        gone = next(iter(expected))
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM posts WHERE id = :id"), {"id": gone})
        with engine.connect() as connection:
            left = connection.execute(
                sa.text("SELECT count(*) FROM post_destinations WHERE post_id = :id"), {"id": gone}
            ).scalar_one()
        assert (left, rows()["post_destinations"]) == (0, before["post_destinations"] - 2)

    def test_youtube_and_tiktok_accounts_fit_and_rebuilt_tables_keep_what_points_at_them(
        self, empty_database_url: str, engine: Engine
    ) -> None:
        """0012 rebuilds the accounts table on SQLite: the destinations referencing its rows stay."""
        from sqlmodel import Session

        from postforge.models import Platform, PostDestination, Workspace
        from tests.support.factories import make_post, make_social_account, make_workspace

        migrate(empty_database_url, "0009")
        with Session(engine) as session:
            workspace = make_workspace(session)
            account = make_social_account(session, workspace)
            post = make_post(session, workspace, status="failed")
            session.commit()
            kept = _old_destination(session, post.id, account.id, last_error="Kept.")
            session.commit()
            workspace_id = workspace.id
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.execute(
                sa.text(
                    "INSERT INTO social_accounts (workspace_id, platform, platform_account_id, handle, "
                    "display_name, avatar_url, instance_url, scopes, status, last_error, settings, "
                    "created_at, updated_at) VALUES (:w, 'youtube', 'UC1', '', '', '', '', '', "
                    "'connected', '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"w": workspace_id},
            )
        migrate(empty_database_url)
        engine.dispose()
        with Session(engine) as session:
            row = session.get(PostDestination, kept)
            assert (row.last_error, row.options) == ("Kept.", {})
            for platform in (Platform.YOUTUBE, Platform.TIKTOK):
                make_social_account(session, session.get(Workspace, workspace_id), platform=platform)
            session.commit()


def _old_destination(
    session, post_id: int, account_id: int, *, last_error: str = "", status: str = "failed"
) -> int:
    """A failed destination inserted through the table the database has now (not the model's)."""
    import uuid

    from postforge.models import utcnow

    table = sa.Table("post_destinations", sa.MetaData(), autoload_with=session.connection())
    now = utcnow()
    values = {
        "post_id": post_id,
        "social_account_id": account_id,
        "status": status,
        "attempts": 0,
        "last_error": last_error,
        "idempotency_key": uuid.uuid4().hex,
        "platform_state": {},
        "created_at": now,
        "updated_at": now,
    }
    return session.connection().execute(table.insert().values(**values)).inserted_primary_key[0]
