"""The engine under concurrency on PostgreSQL: dispatchers never claim a row twice, a message
delivered twice publishes once, and two workers refresh an account's token only once.

PostgreSQL only (row locks and SKIP LOCKED are what is being tested); with CI=true a missing
server fails these tests instead of skipping them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from sqlmodel import Session

from postforge.models import (
    DestinationStatus,
    Platform,
    Post,
    PostDestination,
    PostStatus,
    Role,
    SocialAccount,
    Workspace,
    utcnow,
)
from postforge.platforms.base import Outcome, Published, PublishRequest, TokenSet
from postforge.services.channels import account_tokens, publishing
from postforge.settings import load_settings
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)
from tests.unit.services.channels.test_publishing import SETTINGS, FixedLimits, ScriptedAdapter


def setup_account(engine, *, expires_in: timedelta | None = None) -> tuple[int, int]:
    with Session(engine) as session:
        user = make_user(session, email=None)
        workspace = make_workspace(session, owner=user)
        make_membership(session, workspace, user, role=Role.EDITOR)
        account = make_social_account(session, workspace, platform=Platform.MASTODON)
        account_tokens.store_tokens(
            account,
            TokenSet(
                "access-1",
                refresh_token="refresh-1",
                expires_at=utcnow() + expires_in if expires_in else None,
            ),
        )
        session.add(account)
        session.commit()
        return workspace.id, account.id


def due_destinations(engine, workspace_id: int, account_id: int, count: int) -> list[int]:
    now = utcnow()
    with Session(engine) as session:
        workspace = session.get(Workspace, workspace_id)
        account = session.get(SocialAccount, account_id)
        ids = []
        for n in range(count):
            post = make_post(
                session, workspace, status=PostStatus.SCHEDULED, scheduled_at=now, content=f"Post {n}"
            )
            ids.append(
                make_destination(session, post, account, next_attempt_at=now - timedelta(seconds=n % 7)).id
            )
        session.commit()
        return ids


def run_together(*targets) -> None:
    start = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrapped(target):
        try:
            start.wait()
            target()
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=wrapped, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_two_dispatchers_claim_every_row_exactly_once(postgres_engine):
    workspace_id, account_id = setup_account(postgres_engine)
    ids = due_destinations(postgres_engine, workspace_id, account_id, 300)
    small_batches = load_settings(dispatch_batch_size=40, dispatch_interval_seconds=1)
    claimed: list[int] = []
    lock = threading.Lock()

    def dispatcher():
        while True:
            batch = publishing.dispatch_due(postgres_engine, settings=small_batches)
            if not batch:
                return
            with lock:
                claimed.extend(destination_id for destination_id, _ in batch)

    run_together(dispatcher, dispatcher)
    counts = Counter(claimed)
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}
    with Session(postgres_engine) as session:
        statuses = {session.get(PostDestination, i).status for i in ids}
        posts = {session.get(Post, session.get(PostDestination, i).post_id).status for i in ids}
    assert statuses == {DestinationStatus.QUEUED}
    assert posts == {PostStatus.PUBLISHING}


def test_a_message_delivered_twice_at_once_publishes_once(postgres_engine):
    workspace_id, account_id = setup_account(postgres_engine)
    [destination_id] = due_destinations(postgres_engine, workspace_id, account_id, 1)
    publishing.dispatch_due(postgres_engine, settings=SETTINGS)

    def slow_publish(request: PublishRequest) -> Outcome:
        time.sleep(0.2)
        return Published("only-one")

    adapter = ScriptedAdapter(slow_publish, slow_publish)
    results: list[str] = []

    def worker():
        result = publishing.publish_destination(
            postgres_engine,
            destination_id,
            adapter_factory=lambda platform, settings: adapter,
            limits=FixedLimits(),
            settings=SETTINGS,
        )
        results.append(result.status)

    run_together(worker, worker)
    assert sorted(results) == ["published", "skipped"]
    assert len(adapter.calls) == 1


def test_two_workers_refresh_an_expiring_token_once_and_both_use_it(postgres_engine):
    workspace_id, account_id = setup_account(postgres_engine, expires_in=timedelta(minutes=1))
    first, second = due_destinations(postgres_engine, workspace_id, account_id, 2)
    publishing.dispatch_due(postgres_engine, settings=SETTINGS)

    adapter = ScriptedAdapter(
        lambda request: Published(request.idempotency_key), lambda r: Published(r.idempotency_key)
    )
    refreshes: list[str] = []
    real_refresh = adapter.refresh

    def slow_refresh(account):
        refreshes.append(account.refresh_token)
        time.sleep(0.3)  # the second worker reaches the lock meanwhile
        return real_refresh(account)

    adapter.refresh = slow_refresh  # type: ignore[method-assign]
    adapter.refresh_answer = TokenSet(
        "access-2", refresh_token="refresh-2", expires_at=utcnow() + timedelta(hours=2)
    )

    def publish(destination_id: int):
        return lambda: publishing.publish_destination(
            postgres_engine,
            destination_id,
            adapter_factory=lambda platform, settings: adapter,
            limits=FixedLimits(),
            settings=SETTINGS,
        )

    run_together(publish(first), publish(second))
    assert refreshes == ["refresh-1"]
    assert [call.account.access_token for call in adapter.calls] == ["access-2", "access-2"]
    with Session(postgres_engine) as session:
        stored = account_tokens.credentials_for(session.get(SocialAccount, account_id))
    assert (stored.access_token, stored.refresh_token) == ("access-2", "refresh-2")
