"""Two people saving the same post at the same moment: exactly one wins, the other is told."""

import threading

from sqlmodel import Session

from postforge.models import Post, Role
from postforge.services.content import posts
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace


def test_concurrent_edits_from_the_same_version_cannot_both_win(postgres_engine):
    with Session(postgres_engine) as session:
        alice = make_user(session, name="Alice")
        bob = make_user(session, name="Bob")
        workspace = make_workspace(session, owner=alice)
        make_membership(session, workspace, alice, role=Role.ADMIN)
        make_membership(session, workspace, bob, role=Role.EDITOR)
        account = make_social_account(session, workspace)
        post = posts.create_post(
            session,
            actor_id=alice.id,
            workspace_id=workspace.id,
            content="Original",
            account_ids=[account.id],
        )
        session.commit()
        workspace_id, account_id, post_id = workspace.id, account.id, post.id
        people = {"Alice": alice.id, "Bob": bob.id}

    both_have_read = threading.Barrier(2, timeout=30)
    outcomes: dict[str, str] = {}

    def save(name: str) -> None:
        with Session(postgres_engine) as session:
            loaded = posts.get_post(
                session, actor_id=people[name], workspace_id=workspace_id, post_id=post_id
            )
            both_have_read.wait()  # both editors start from version 1
            try:
                posts.update_post(
                    session,
                    actor_id=people[name],
                    workspace_id=workspace_id,
                    post_id=post_id,
                    expected_version=loaded.version,
                    content=f"{name}'s text",
                    account_ids=[account_id],
                )
                session.commit()
                outcomes[name] = "saved"
            except posts.PostChanged:
                session.rollback()
                outcomes[name] = "conflict"

    threads = [threading.Thread(target=save, args=(name,)) for name in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes.values()) == ["conflict", "saved"]
    (winner,) = [name for name, outcome in outcomes.items() if outcome == "saved"]
    with Session(postgres_engine) as session:
        row = session.get(Post, post_id)
        assert (row.content, row.version) == (f"{winner}'s text", 2)
