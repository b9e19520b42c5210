"""Tenancy: no service lets a user reach a workspace they are not a member of.

Every public function of every `postforge.services` module that takes a workspace is found by
its signature and called by an outsider — a user who is admin of a workspace of their own but no
member of the target one. Functions that know who is acting must refuse with PermissionDenied
and change nothing. Read services that take only a workspace id must be listed below with the
`authorize` action their callers check first. A new workspace-taking function that fits none of
these fails `test_every_workspace_function_is_covered`, so it cannot slip in untested.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

import pytest
from sqlmodel import Session, SQLModel, select

import postforge.services
from postforge.models import (
    DestinationStatus,
    MediaAsset,
    MediaStatus,
    Notification,
    NotificationKind,
    PaymentStatus,
    PostingSlot,
    Role,
    User,
    UserSession,
    Workspace,
    utcnow,
)
from postforge.services.content import brands
from postforge.services.identity import accounts_auth
from postforge.services.kernel.errors import PermissionDenied
from postforge.services.tenancy import workspaces
from tests.support.factories import (
    make_credit_transaction,
    make_destination,
    make_membership,
    make_payment,
    make_post,
    make_social_account,
    make_subscription,
    make_user,
    make_workspace,
)

WORKSPACE_PARAMETERS = {"workspace", "workspace_id"}
IDENTITY_PARAMETERS = {"user_id", "actor_id", "user", "token"}

# Read services without a user: the caller (Reflex state, API) must `authorize` this action first.
AUTHORIZED_BY_CALLER = {
    "billing.workspace_tier": "read",
    "credits.ledger_page": "read",
    "dashboard.dashboard_figures": "read",
    "posts.search_posts": "read",
    "calendar.month_events": "read",
    "notifications.latest_id": "read",
}


def read_arguments(name: str) -> dict[str, Any]:
    """What a read service needs besides the workspace (e.g. the calendar's visible range)."""
    if name == "calendar.month_events":
        start = (utcnow() - timedelta(days=1)).replace(tzinfo=None)
        return {"start_local": start, "end_local": start + timedelta(days=30), "timezone": "UTC"}
    return {}


# Functions that answer for the user's own workspaces and fall back instead of refusing.
FALLS_BACK = {"workspaces.current_workspace_for"}
# Functions that take a workspace but are never reached with a workspace a user chose.
NOT_USER_FACING = {
    "onboarding.grant_welcome_bonus": "a step of the first sign-in on the user's own new workspace",
    "credits.grant": "adds credits for onboarding or a verified payment webhook, never a user's choice",
    "credits.take_back": "removes credits for a verified refund webhook, never a user's choice",
    "credits.check_invariant": "a consistency check for tests, benchmarks and system administrators",
    "workspaces.summarize": "formats a Workspace row the caller already loaded; reads and writes nothing",
    "posts.insert_checked_post": "inserts for a caller that authorized write_posts once for many posts (CSV import)",
    "quota.quota_bytes": "read by the media library after it authorized the member",
    "quota.used_bytes": "read by the media library after it authorized the member",
    "post_media.checked_media_ids": "checks media ids for a post service that authorized write_posts",
    "storage.new_key": "names a storage key; reads and writes nothing",
    "storage.workspace_prefix": "names a storage folder; reads and writes nothing",
    "credits.adjust": "reached only through admin_console.workspaces.adjust_credits, which authorizes a system admin",
    "audit.record": "writes the audit row of a change its caller (a console service) authorized",
}


def _takes_a_workspace(function: Callable) -> bool:
    names = inspect.signature(function).parameters
    return any(name in WORKSPACE_PARAMETERS or name.endswith("_workspace_id") for name in names)


def discover() -> dict[str, Callable]:
    found: dict[str, Callable] = {}
    for info in pkgutil.walk_packages(postforge.services.__path__, prefix="postforge.services."):
        if info.ispkg:
            continue
        module = importlib.import_module(info.name)
        short = info.name.rsplit(".", 1)[1]
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            if _takes_a_workspace(function):
                found[f"{short}.{name}"] = function
    return found


FUNCTIONS = discover()


@dataclass
class World:
    target: int  # the workspace the outsider reaches for
    own: int  # the outsider's own workspace (they are its admin)
    empty: int  # a workspace with nothing in it, to compare read results against
    member: int
    outsider: int
    outsider_browser: int
    outsider_token: str
    invite_id: int
    post_id: int  # a post inside the target workspace
    account_id: int  # a connected account of the target workspace
    brand_id: int  # a brand inside the target workspace
    slot_id: int = 0  # a posting slot of the target workspace
    destination_id: int = 0  # the post's destination, waiting for a person's review
    media_id: int = 0  # a media file of the target workspace


@pytest.fixture
def world(engine) -> World:
    with Session(engine, expire_on_commit=False) as session:
        member = make_user(session, name="Member")
        outsider = make_user(session, name="Outsider")
        target = make_workspace(session, owner=member, name="Target", credits=25)
        own = make_workspace(session, owner=outsider, name="Own")
        empty = make_workspace(session, name="Empty")
        make_membership(session, target, member, role=Role.ADMIN)
        make_membership(session, own, outsider, role=Role.ADMIN)
        post = make_post(
            session,
            target,
            author=member,
            content="Target's secret launch plan",
            scheduled_at=utcnow() + timedelta(days=1),  # so it shows on the target's calendar
        )
        slot = PostingSlot(workspace_id=target.id, weekday=0, local_time=time(9, 0))
        session.add(slot)
        account = make_social_account(session, target, handle="@target")
        make_credit_transaction(session, target, amount=25, balance_after=25)
        make_subscription(session, target, plan_code="tier-pro")
        make_payment(session, target, status=PaymentStatus.PAID, checkout_completed_at=utcnow())
        token = accounts_auth.create_session(session, outsider, workspace_id=own.id)
        browser = session.exec(select(UserSession).where(UserSession.user_id == outsider.id)).one()
        # Invitations are rate-limited in a transaction of the limiter's own, which on SQLite waits
        # for this one's write lock: commit first, as every caller in the app does.
        session.commit()
        workspaces.invite_member(
            session, actor_id=member.id, workspace_id=target.id, email="newcomer@example.com", role="viewer"
        )
        invite_id = workspaces.list_invites(session, actor_id=member.id, workspace_id=target.id)[0].id
        brand = brands.create_brand(session, actor_id=member.id, workspace_id=target.id, name="Target brand")
        session.add(
            Notification(workspace_id=target.id, kind=NotificationKind.FAILED, title="Target's notice")
        )
        destination = make_destination(session, post, account, status=DestinationStatus.NEEDS_REVIEW)
        media = MediaAsset(
            workspace_id=target.id,
            storage_key=f"media/{target.id}/target-photo.jpg",
            mime_type="image/jpeg",
            size_bytes=1000,
            status=MediaStatus.PENDING,
        )
        session.add(media)
        session.flush()
        session.commit()
        return World(
            target.id,
            own.id,
            empty.id,
            member.id,
            outsider.id,
            browser.id,
            token,
            invite_id,
            post.id,
            account.id,
            brand.id,
            slot.id,
            destination.id,
            media.id,
        )


def outsider_arguments(session: Session, world: World) -> dict[str, Any]:
    """What an outsider would pass: themselves, the target workspace and things inside it."""
    return {
        "session": session,
        "user_id": world.outsider,
        "actor_id": world.outsider,
        "user": session.get(User, world.outsider),
        "token": world.outsider_token,
        "session_id": world.outsider_browser,
        "workspace_id": world.target,
        "preferred_workspace_id": world.target,
        "workspace": session.get(Workspace, world.target),
        "member_user_id": world.member,
        "invite_id": world.invite_id,
        "email": "outsider@example.com",
        "role": Role.ADMIN,
        "action": "read",
        "name": "Hijacked",
        "amount": 1,
        "reason": "Outsider's adjustment",
        "post_id": world.post_id,
        "post_ids": [world.post_id],
        "expected_version": 1,
        "content": "Hijacked post",
        "scheduled_at": utcnow() + timedelta(days=1),
        "timezone": "UTC",
        "account_ids": [world.account_id],
        "overrides": {world.account_id: "Hijacked version"},
        "brand_id": world.brand_id,
        "request_id": "outsider-request-1",
        "topic": "Outsider's topic",
        "tone": "Witty",
        "language": "en",
        "platform": "sandbox",
        "data": b"content,local_datetime,accounts\nHijacked,,@target\n",
        "confirmed_rows": [2],
        "plan_code": "pack-popular",
        "new_local_start": "2030-01-07T09:00",
        "weekdays": [0, 1],
        "local_time": "10:00",
        "slot_id": world.slot_id,
        "slots": [(2, "11:00")],
        "destination_id": world.destination_id,
        "answer": "not_published",
        "redirect_uri": "https://postforge.example/api/accounts/connect/sandbox/callback",
        "reconnect_account_id": world.account_id,
        "handle": "@hijacked",
        "identifier": "hijacked.bsky.social",
        "app_password": "abcd-efgh-ijkl-mnop",
        "attempt_id": 1,
        "media_id": world.media_id,
        "filename": "hijack.jpg",
        "content_type": "image/jpeg",
        "size_bytes": 1000,
        "alt_text": "Hijacked",
    }


def call_as_outsider(function: Callable, session: Session, world: World) -> Any:
    known = outsider_arguments(session, world)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if name not in known:
            if parameter.default is inspect.Parameter.empty:
                pytest.fail(
                    f"the tenancy test does not know how to call {function.__module__}.{function.__name__}: "
                    f"add a value for its parameter {name!r} to outsider_arguments()"
                )
            continue
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            args.append(known[name])
        else:
            kwargs[name] = known[name]
    return function(*args, **kwargs)


def database_dump(session: Session) -> dict[str, list[str]]:
    """Every row of every table, as this session sees it (pending changes flushed first)."""
    session.flush()
    return {
        table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)).all())
        for table in SQLModel.metadata.sorted_tables
    }


def _has_identity(function: Callable) -> bool:
    return bool(IDENTITY_PARAMETERS & set(inspect.signature(function).parameters))


def test_discovery_finds_the_workspace_services():
    expected = {
        "workspaces.authorize",
        "workspaces.invite_member",
        "workspaces.change_role",
        "workspaces.remove_member",
        "workspaces.leave_workspace",
        "workspaces.list_members",
        "workspaces.list_invites",
        "workspaces.revoke_invite",
        "workspaces.switch_workspace",
        *AUTHORIZED_BY_CALLER,
        *FALLS_BACK,
    }
    assert expected <= set(FUNCTIONS)


def uncovered(functions: dict[str, Callable]) -> list[str]:
    """Workspace-taking functions this test would not know how to check."""
    return sorted(
        name
        for name, function in functions.items()
        if not _has_identity(function)
        and name not in AUTHORIZED_BY_CALLER
        and name not in FALLS_BACK
        and name not in NOT_USER_FACING
    )


def stale_entries(functions: dict[str, Callable]) -> list[str]:
    """Listed functions that are gone, or have gained a user and should refuse by themselves."""
    return sorted(
        name
        for name in {*AUTHORIZED_BY_CALLER, *FALLS_BACK, *NOT_USER_FACING}
        if name not in functions or (name in AUTHORIZED_BY_CALLER and _has_identity(functions[name]))
    )


def test_every_workspace_function_is_covered():
    missing = uncovered(FUNCTIONS)
    assert not missing, (
        f"{missing} take a workspace but no user: give them an actor parameter and authorize inside, "
        "or list them in AUTHORIZED_BY_CALLER with the action their callers check"
    )
    stale = stale_entries(FUNCTIONS)
    assert not stale, f"{stale} changed: update the lists in this test"


def test_a_new_workspace_function_without_a_user_is_reported():
    def export_posts(session, workspace_id): ...

    def search_posts(session, *, actor_id, workspace_id): ...

    assert uncovered({**FUNCTIONS, "posts.export_posts": export_posts}) == ["posts.export_posts"]
    assert stale_entries({**FUNCTIONS, "posts.search_posts": search_posts}) == ["posts.search_posts"]


def test_a_parameter_the_test_cannot_fill_fails_loudly(engine, world):
    def schedule_post(session, *, actor_id, workspace_id, gadget): ...

    with Session(engine) as session, pytest.raises(pytest.fail.Exception, match="parameter 'gadget'"):
        call_as_outsider(schedule_post, session, world)


REFUSING = sorted(
    name
    for name, function in FUNCTIONS.items()
    if _has_identity(function) and name not in FALLS_BACK and name not in NOT_USER_FACING
)


@pytest.mark.parametrize("name", REFUSING)
def test_an_outsider_is_refused_and_nothing_changes(engine, world, name):
    with Session(engine) as session:
        before = database_dump(session)
    with Session(engine) as session:
        with pytest.raises(PermissionDenied) as refusal:
            call_as_outsider(FUNCTIONS[name], session, world)
        assert database_dump(session) == before
        session.commit()  # even a caller that commits after catching the refusal writes nothing
    with Session(engine) as session:
        assert database_dump(session) == before
    assert refusal.value.message


@pytest.mark.parametrize("name", sorted(FALLS_BACK))
def test_a_falling_back_function_never_answers_with_the_foreign_workspace(engine, world, name):
    with Session(engine) as session:
        result = call_as_outsider(FUNCTIONS[name], session, world)
    assert result.id == world.own


@pytest.mark.parametrize("name", sorted(AUTHORIZED_BY_CALLER))
def test_a_read_service_is_guarded_by_authorize_and_reads_one_workspace_only(engine, world, name):
    read = FUNCTIONS[name]
    action = AUTHORIZED_BY_CALLER[name]
    with Session(engine) as session:
        with pytest.raises(PermissionDenied):
            workspaces.authorize(session, user_id=world.outsider, workspace_id=world.target, action=action)
        workspaces.authorize(session, user_id=world.member, workspace_id=world.target, action=action)
        workspaces.authorize(session, user_id=world.outsider, workspace_id=world.own, action=action)
        # What the outsider may read (their own workspace) holds nothing of the target's.
        extra = read_arguments(name)
        assert read(session, workspace_id=world.own, **extra) == read(
            session, workspace_id=world.empty, **extra
        )
        assert read(session, workspace_id=world.target, **extra) != read(
            session, workspace_id=world.empty, **extra
        )


def test_the_outsider_really_is_an_admin_elsewhere_and_the_target_is_populated(engine, world):
    # Guards the fixture: refusals above must come from tenancy, not from a powerless user.
    with Session(engine) as session:
        workspaces.authorize(session, user_id=world.outsider, workspace_id=world.own, action="manage_members")
        assert [
            m.user_id
            for m in workspaces.list_members(session, actor_id=world.member, workspace_id=world.target)
        ] == [world.member]
        assert len(workspaces.list_invites(session, actor_id=world.member, workspace_id=world.target)) == 1
