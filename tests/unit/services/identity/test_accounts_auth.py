"""Email + password accounts: every rule, and every refusal leaves the database as it was."""

import hashlib
import re
import sqlite3
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, func, select

from postforge.models import (
    CreditTransaction,
    Membership,
    OutboxMessage,
    PasswordResetToken,
    Role,
    TransactionType,
    User,
    UserSession,
    Workspace,
    utcnow,
)
from postforge.services.identity import accounts_auth as auth
from postforge.services.identity import passwords
from postforge.services.kernel.errors import (
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceError,
    ValidationFailed,
)
from postforge.settings import get_settings
from tests.support import factories as make
from tests.support.db import make_test_engine, migrate

PASSWORD = "tulip-Orbit-93"
OTHER_PASSWORD = "Harbor-lamp-27"


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "postforge.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_engine(migrated_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """The shared fixture's migrated SQLite database, copied from one migration per module (fast)."""
    target = tmp_path / "postforge.db"
    source, copy = sqlite3.connect(migrated_template), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    engine = make_test_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def embedded_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The table rate limiter, the outbox without SMTP, and a known app URL."""
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("SMTP_URL", "")
    monkeypatch.setenv("APP_URL", "https://postforge.test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Production argon2 parameters cost ~0.15 s a hash; the rules under test do not depend on them.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    auth._dummy_hash.cache_clear()


# Helpers ----------------------------------------------------------------------------------

# Counters are written by design even when an attempt is refused; everything else must stay.
_UNCHANGED_TABLES = [t for t in SQLModel.metadata.sorted_tables if t.name != "rate_limit_counters"]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: sorted(connection.execute(table.select()).all(), key=repr)
            for table in _UNCHANGED_TABLES
        }


def refused(engine: Engine, call: Callable[[Session], Any], error: type[ServiceError]) -> ServiceError:
    """`call` must refuse with `error` and change nothing — even if the caller commits afterwards."""
    before = snapshot(engine)
    with Session(engine) as session:
        with pytest.raises(error) as caught:
            call(session)
        session.commit()
    assert snapshot(engine) == before
    assert caught.value.message
    return caught.value


def run(engine: Engine, call: Callable[[Session], Any]) -> Any:
    with Session(engine, expire_on_commit=False) as session:
        result = call(session)
        session.commit()
        return result


def register(engine: Engine, email: str = "ada@example.com", **fields: Any) -> User:
    fields.setdefault("password", PASSWORD)
    fields.setdefault("name", "Ada Lovelace")
    return run(engine, lambda s: auth.register(s, email=email, **fields))


def count(engine: Engine, model: type[SQLModel], *where: Any) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def reset_link_token(engine: Engine, to: str) -> str:
    with Session(engine) as session:
        message = session.exec(
            select(OutboxMessage).where(OutboxMessage.to_address == to).order_by(OutboxMessage.id.desc())
        ).first()
    assert message is not None
    match = re.search(r"https://postforge\.test/reset-password\?token=([A-Za-z0-9_-]+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def resolve(engine: Engine, token: str, **kwargs: Any) -> auth.AuthContext | None:
    return run(engine, lambda s: auth.resolve_session(s, token, **kwargs))


def sign_in(engine: Engine, user: User, **kwargs: Any) -> str:
    return run(engine, lambda s: auth.create_session(s, s.get(User, user.id), **kwargs))


# Email ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("grace.hopper+news@navy.example.org", "grace.hopper+news@navy.example.org"),
        ("STRASSE@Example.de", "strasse@example.de"),
    ],
)
def test_emails_are_trimmed_and_case_folded(raw: str, stored: str) -> None:
    assert auth.normalize_email(raw) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        None,
        42,
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada smith@example.com",
        "ada@exa\nmple.com",
        "a..b@example.com",
        ".ada@example.com",
        "ada.@example.com",
        "ada@example..com",
        "ada@-example.com",
        "<ada>@example.com",
        "ada@example.com,eve@example.com",
        "a" * 65 + "@example.com",
        "ada@" + "b" * 320 + ".com",
    ],
)
def test_what_cannot_be_an_address_is_refused(bad: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        auth.normalize_email(bad)
    assert caught.value.field == "email"
    assert caught.value.code == "invalid"


# Password policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("", "Enter a password"),
        (None, "Enter a password"),
        ("Sh0rt!pw", "at least 10 characters"),
        ("Ab1" + "x" * 1022, "at most 1024 characters"),
        ("correcthorsebattery", "two kinds of characters"),
        ("CORRECTHORSEBATTERY", "two kinds of characters"),
        ("84736291047", "two kinds of characters"),
        ("!@#$%^&*()_+", "two kinds of characters"),
        ("aaaaaaaaaaA1", "repeats the same few characters"),
        ("abababab1212", "repeats the same few characters"),
        ("Password123!", "too common"),
        ("p@ssw0rd2024!", "too common"),
        ("Qwerty2024!!", "too common"),
        ("iloveyou!!12", "too common"),
        ("1q2w3e4r5t6y", "too common"),
        ("Abcdefghijk", "simple sequence"),
        ("1234567890!", "simple sequence"),
        ("Sdfghjkl;1", "simple sequence"),
        ("Zyxwvutsrqp", "simple sequence"),
    ],
)
def test_weak_passwords_are_refused_with_a_message_saying_why(password: Any, says: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        auth.check_password_policy(password)
    assert caught.value.field == "password"
    assert says in caught.value.message


def test_a_password_containing_the_email_name_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="email address") as caught:
        auth.check_password_policy("My-Ada.Lovelace-1815", email="ada.lovelace@example.com")
    assert caught.value.field == "password"
    # The same password is fine for somebody else.
    auth.check_password_policy("My-Ada.Lovelace-1815", email="grace@example.com")


@pytest.mark.parametrize(
    "strong",
    [
        PASSWORD,
        "k7mpx-4qa9t-rzw2h-n8bcd",
        "Zürich fondue 42",
        "日本語のパスワード123",
        "correct horse battery 7",
    ],
)
def test_reasonable_passwords_pass(strong: str) -> None:
    auth.check_password_policy(strong, email="someone@example.com")


# Register ---------------------------------------------------------------------------------


def test_register_creates_user_personal_workspace_admin_membership_and_welcome_bonus(
    sqlite_engine: Engine,
) -> None:
    user = register(sqlite_engine, " Ada@Example.com ", name="  Ada   Lovelace ", timezone="Europe/London")

    with Session(sqlite_engine) as session:
        stored = session.get(User, user.id)
        assert stored.email == "ada@example.com"
        assert stored.name == "Ada Lovelace"
        assert stored.timezone == "Europe/London"
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        assert passwords.verify_password(stored.password_hash, PASSWORD)
        [membership] = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
        assert membership.role == Role.ADMIN
        workspace = session.get(Workspace, membership.workspace_id)
        assert workspace.is_personal and workspace.credits == 10
        [bonus] = session.exec(
            select(CreditTransaction).where(CreditTransaction.workspace_id == workspace.id)
        ).all()
        assert (bonus.amount, bonus.type, bonus.balance_after) == (10, TransactionType.BONUS, 10)


def test_registering_a_taken_email_answers_like_a_new_one_and_mails_the_owner(sqlite_engine: Engine) -> None:
    owner = register(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        owners_hash = session.get(User, owner.id).password_hash
    before = count(sqlite_engine, OutboxMessage)

    again = run(
        sqlite_engine,
        lambda s: auth.register(s, email="ADA@Example.COM", password=OTHER_PASSWORD, name="Impostor"),
    )

    assert again is None  # nothing for the caller to act on: it answers REGISTRATION_SENT either way
    assert count(sqlite_engine, User) == 1
    with Session(sqlite_engine) as session:
        assert session.get(User, owner.id).password_hash == owners_hash
        mail = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert count(sqlite_engine, OutboxMessage) == before + 1
    assert mail.to_address == "ada@example.com"
    assert "tried to create" in mail.body_text and "/forgot-password" in mail.body_text
    assert "verify-email" not in mail.body_text and "token=" not in mail.body_text


def test_the_registration_answer_names_the_address_but_not_whether_it_was_taken() -> None:
    assert auth.registration_sent("ada@example.com") == (
        "We sent a link to ada@example.com. Open it to finish signing up."
    )


def test_registering_a_taken_email_hashes_the_password_like_a_new_registration(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slow part of a registration (argon2) runs either way, so its time says nothing."""
    register(sqlite_engine, "ada@example.com")
    hashed: list[str] = []
    real_hash = passwords.hash_password
    monkeypatch.setattr(passwords, "hash_password", lambda p: hashed.append(p) or real_hash(p))

    run(sqlite_engine, lambda s: auth.register(s, email="ada@example.com", password=OTHER_PASSWORD, name="X"))
    run(sqlite_engine, lambda s: auth.register(s, email="new@example.com", password=OTHER_PASSWORD, name="Y"))

    assert hashed == [OTHER_PASSWORD, OTHER_PASSWORD]


def test_a_concurrent_duplicate_that_slips_past_the_check_still_gets_the_same_answer(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(sqlite_engine, "ada@example.com")
    real_lookup = auth._user_by_email
    calls: list[str] = []

    def stale_first_lookup(session, email):  # the check ran before the other sign-up committed
        calls.append(email)
        return None if len(calls) == 1 else real_lookup(session, email)

    monkeypatch.setattr(auth, "_user_by_email", stale_first_lookup)

    again = run(
        sqlite_engine,
        lambda s: auth.register(s, email="ada@example.com", password=OTHER_PASSWORD, name="Racer"),
    )

    assert again is None and count(sqlite_engine, User) == 1
    with Session(sqlite_engine) as session:
        mail = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert "tried to create" in mail.body_text


def test_register_is_rate_limited_per_email_known_or_not(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "REGISTER_PER_EMAIL", (2, 3600))
    register(sqlite_engine, "ada@example.com")
    run(sqlite_engine, lambda s: auth.register(s, email="ada@example.com", password=PASSWORD, name="Ada"))
    run(sqlite_engine, lambda s: auth.register(s, email="new@example.com", password=PASSWORD, name="New"))
    run(sqlite_engine, lambda s: auth.register(s, email="new@example.com", password=PASSWORD, name="New"))

    for address in ("ada@example.com", "new@example.com"):
        error = refused(
            sqlite_engine,
            lambda s, a=address: auth.register(s, email=a, password=PASSWORD, name="Again"),
            RateLimited,
        )
        assert re.fullmatch(
            r"Too many sign-ups for this email address\. Try again in \d+ (s|min)\.", error.message
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short1!"}, "password"),
        ({"password": "Password123!"}, "password"),
        ({"password": "ada-Example-99", "email": "ada-example@example.com"}, "password"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Ada\x00Lovelace"}, "name"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
    ],
)
def test_register_refuses_bad_input_and_creates_nothing(
    sqlite_engine: Engine, fields: dict[str, str], field: str
) -> None:
    arguments = {"email": "new@example.com", "password": PASSWORD, "name": "New Person", **fields}

    error = refused(sqlite_engine, lambda s: auth.register(s, **arguments), ValidationFailed)

    assert error.field == field
    assert count(sqlite_engine, User) == 0


def test_register_is_rate_limited_per_client_address(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "REGISTER_PER_IP", (2, 3600))
    register(sqlite_engine, "one@example.com", ip="203.0.113.7")
    register(sqlite_engine, "two@example.com", ip="203.0.113.7")

    error = refused(
        sqlite_engine,
        lambda s: auth.register(
            s, email="three@example.com", password=PASSWORD, name="Three", ip="203.0.113.7"
        ),
        RateLimited,
    )

    assert re.fullmatch(r"Too many sign-ups from your network\. Try again in \d+ (s|min)\.", error.message)
    assert 0 < error.retry_after <= 3600
    register(sqlite_engine, "four@example.com", ip="198.51.100.1")
    assert count(sqlite_engine, User) == 3


# Sign in ----------------------------------------------------------------------------------


def test_sign_in_with_the_right_password_in_any_case_of_email(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)

    signed_in = run(
        sqlite_engine, lambda s: auth.authenticate(s, email=" ADA@example.com", password=PASSWORD)
    )

    assert signed_in.id == user.id


def test_wrong_password_and_unknown_email_get_the_same_answer(sqlite_engine: Engine) -> None:
    register(sqlite_engine)

    wrong_password = refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="ada@example.com", password=OTHER_PASSWORD),
        ValidationFailed,
    )
    unknown_email = refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="nobody@example.com", password=PASSWORD),
        ValidationFailed,
    )

    assert wrong_password.message == unknown_email.message == "Email or password is incorrect."
    assert wrong_password.field == unknown_email.field
    assert type(wrong_password) is type(unknown_email)


def test_an_account_without_password_cannot_sign_in_with_one(sqlite_engine: Engine) -> None:
    run(sqlite_engine, lambda s: make.make_user(s, email="oauth@example.com", password_hash=None))

    error = refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="oauth@example.com", password=PASSWORD),
        ValidationFailed,
    )

    assert error.message == "Email or password is incorrect."


def test_a_disabled_account_cannot_sign_in(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    run(sqlite_engine, lambda s: setattr(s.get(User, user.id), "is_active", False))

    error = refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD),
        PermissionDenied,
    )

    assert "disabled" in error.message


def test_sign_in_is_rate_limited_per_account_whatever_the_address(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "SIGN_IN_PER_ACCOUNT", (3, 900))
    register(sqlite_engine)
    for number in range(3):
        refused(
            sqlite_engine,
            lambda s, n=number: auth.authenticate(
                s, email="ada@example.com", password="Wrong-guess-1", ip=f"198.51.100.{n}"
            ),
            ValidationFailed,
        )

    # Even the right password from a fresh address is refused until the window closes.
    error = refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD, ip="203.0.113.99"),
        RateLimited,
    )

    assert re.fullmatch(r"Too many sign-in attempts\. Try again in \d+ (s|min)\.", error.message)
    assert 0 < error.retry_after <= 900
    # Another account is not affected.
    register(sqlite_engine, "grace@example.com")
    run(sqlite_engine, lambda s: auth.authenticate(s, email="grace@example.com", password=PASSWORD))


def test_unknown_emails_are_rate_limited_like_known_ones(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "SIGN_IN_PER_ACCOUNT", (1, 900))
    refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="nobody@example.com", password="x"),
        ValidationFailed,
    )

    refused(
        sqlite_engine, lambda s: auth.authenticate(s, email="nobody@example.com", password="x"), RateLimited
    )


def test_sign_in_is_rate_limited_per_client_address_across_accounts(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "SIGN_IN_PER_IP", (3, 900))
    register(sqlite_engine)
    for number in range(3):
        refused(
            sqlite_engine,
            lambda s, n=number: auth.authenticate(
                s, email=f"guess{n}@example.com", password=PASSWORD, ip="203.0.113.7"
            ),
            ValidationFailed,
        )

    error = refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD, ip="203.0.113.7"),
        RateLimited,
    )

    assert "Try again in" in error.message
    run(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD, ip="198.51.100.2"),
    )


def test_a_successful_sign_in_clears_the_account_counter(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "SIGN_IN_PER_ACCOUNT", (3, 900))
    register(sqlite_engine)
    wrong = lambda s: auth.authenticate(s, email="ada@example.com", password="Wrong-guess-1")  # noqa: E731
    refused(sqlite_engine, wrong, ValidationFailed)
    refused(sqlite_engine, wrong, ValidationFailed)
    run(sqlite_engine, lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD))

    for _ in range(2):
        refused(sqlite_engine, wrong, ValidationFailed)
    run(sqlite_engine, lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD))


def test_sign_in_upgrades_a_hash_made_with_older_parameters(sqlite_engine: Engine) -> None:
    old_hash = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    user = run(sqlite_engine, lambda s: make.make_user(s, email="ada@example.com", password_hash=old_hash))

    run(sqlite_engine, lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD))

    with Session(sqlite_engine) as session:
        new_hash = session.get(User, user.id).password_hash
    assert new_hash != old_hash
    assert passwords.verify_password(new_hash, PASSWORD)
    assert not passwords.needs_rehash(new_hash)


# Sessions ---------------------------------------------------------------------------------


def test_a_session_token_resolves_to_the_user_and_only_its_hash_is_stored(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine, timezone="Asia/Tokyo")

    token = sign_in(sqlite_engine, user, user_agent="Firefox", ip="203.0.113.5")
    context = resolve(sqlite_engine, token)

    assert context is not None
    assert (context.user_id, context.email, context.name, context.timezone, context.is_admin) == (
        user.id,
        "ada@example.com",
        "Ada Lovelace",
        "Asia/Tokyo",
        False,
    )
    with Session(sqlite_engine) as session:
        row = session.get(UserSession, context.session_id)
        personal = session.exec(select(Workspace).where(Workspace.created_by_id == user.id)).one()
    assert context.workspace_id == personal.id
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    assert (row.user_agent, row.ip_address) == ("Firefox", "203.0.113.5")
    assert row.expires_at - row.created_at == auth.SESSION_LIFETIME


def test_two_sessions_get_different_tokens(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)

    assert sign_in(sqlite_engine, user) != sign_in(sqlite_engine, user)


@pytest.mark.parametrize("position", [0, 10, -1])
def test_a_token_with_one_character_changed_resolves_to_nobody(sqlite_engine: Engine, position: int) -> None:
    user = register(sqlite_engine)
    token = sign_in(sqlite_engine, user)
    original = token[position]
    tampered = list(token)
    tampered[position] = "A" if original != "A" else "B"

    assert resolve(sqlite_engine, "".join(tampered)) is None
    assert resolve(sqlite_engine, token) is not None


@pytest.mark.parametrize("junk", ["", None, 123, "short", "x" * 500, "token with spaces and symbols!!!"])
def test_junk_tokens_resolve_to_nobody(sqlite_engine: Engine, junk: Any) -> None:
    assert resolve(sqlite_engine, junk) is None


def test_an_expired_session_resolves_to_nobody(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    token = sign_in(sqlite_engine, user)
    expiry = utcnow() + auth.SESSION_LIFETIME

    assert resolve(sqlite_engine, token, now=expiry - timedelta(minutes=5)) is not None
    assert resolve(sqlite_engine, token, now=expiry + timedelta(seconds=1)) is None


def test_a_session_of_a_disabled_user_resolves_to_nobody(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    token = sign_in(sqlite_engine, user)
    run(sqlite_engine, lambda s: setattr(s.get(User, user.id), "is_active", False))

    assert resolve(sqlite_engine, token) is None


def test_last_seen_is_touched_at_most_once_a_minute(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    token = sign_in(sqlite_engine, user)
    context = resolve(sqlite_engine, token)
    with Session(sqlite_engine) as session:
        created = session.get(UserSession, context.session_id).last_seen_at

    def last_seen() -> Any:
        with Session(sqlite_engine) as session:
            return session.get(UserSession, context.session_id).last_seen_at

    resolve(sqlite_engine, token, now=created + timedelta(seconds=59))
    assert last_seen() == created
    resolve(sqlite_engine, token, now=created + timedelta(seconds=61))
    assert last_seen() == created + timedelta(seconds=61)


def test_sign_out_ends_only_this_browser(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    laptop, phone = sign_in(sqlite_engine, user), sign_in(sqlite_engine, user)

    run(sqlite_engine, lambda s: auth.sign_out(s, laptop))

    assert resolve(sqlite_engine, laptop) is None
    assert resolve(sqlite_engine, phone) is not None
    # Signing out twice, or with a token nobody holds, is not an error.
    run(sqlite_engine, lambda s: auth.sign_out(s, laptop))
    run(sqlite_engine, lambda s: auth.sign_out(s, "never-issued-token-xxxxxxxx"))


def test_sign_out_everywhere_ends_every_session_of_that_user_only(sqlite_engine: Engine) -> None:
    ada, grace = register(sqlite_engine), register(sqlite_engine, "grace@example.com", name="Grace")
    ada_tokens = [sign_in(sqlite_engine, ada) for _ in range(3)]
    grace_token = sign_in(sqlite_engine, grace)

    ended = run(sqlite_engine, lambda s: auth.sign_out_everywhere(s, ada.id))

    assert ended == 3
    assert all(resolve(sqlite_engine, token) is None for token in ada_tokens)
    assert resolve(sqlite_engine, grace_token) is not None


def test_list_sessions_shows_only_open_sessions_of_the_user_and_marks_this_one(sqlite_engine: Engine) -> None:
    ada, grace = register(sqlite_engine), register(sqlite_engine, "grace@example.com", name="Grace")
    current = sign_in(sqlite_engine, ada, user_agent="Laptop")
    sign_in(sqlite_engine, ada, user_agent="Phone")
    ended = sign_in(sqlite_engine, ada, user_agent="Old tablet")
    run(sqlite_engine, lambda s: auth.sign_out(s, ended))
    expired = resolve(sqlite_engine, sign_in(sqlite_engine, ada, user_agent="Expired"))
    run(sqlite_engine, lambda s: setattr(s.get(UserSession, expired.session_id), "expires_at", utcnow()))
    sign_in(sqlite_engine, grace, user_agent="Grace's")

    listed = run(sqlite_engine, lambda s: auth.list_sessions(s, ada.id, current_token=current))

    assert sorted((item.user_agent, item.current) for item in listed) == [("Laptop", True), ("Phone", False)]


def test_revoke_session_ends_an_own_session_but_never_someone_elses(sqlite_engine: Engine) -> None:
    ada, grace = register(sqlite_engine), register(sqlite_engine, "grace@example.com", name="Grace")
    ada_token, grace_token = sign_in(sqlite_engine, ada), sign_in(sqlite_engine, grace)
    ada_session = resolve(sqlite_engine, ada_token).session_id
    grace_session = resolve(sqlite_engine, grace_token).session_id

    refused(sqlite_engine, lambda s: auth.revoke_session(s, ada.id, grace_session), NotFound)
    refused(sqlite_engine, lambda s: auth.revoke_session(s, ada.id, 999_999), NotFound)
    assert resolve(sqlite_engine, grace_token) is not None

    run(sqlite_engine, lambda s: auth.revoke_session(s, ada.id, ada_session))
    assert resolve(sqlite_engine, ada_token) is None


def test_a_session_starts_only_in_a_workspace_the_user_belongs_to(sqlite_engine: Engine) -> None:
    ada = register(sqlite_engine)
    team, foreign = run(
        sqlite_engine,
        lambda s: (make.make_workspace(s, name="Team"), make.make_workspace(s, name="Foreign")),
    )
    run(sqlite_engine, lambda s: make.make_membership(s, s.get(Workspace, team.id), s.get(User, ada.id)))

    refused(
        sqlite_engine,
        lambda s: auth.create_session(s, s.get(User, ada.id), workspace_id=foreign.id),
        PermissionDenied,
    )
    token = sign_in(sqlite_engine, ada, workspace_id=team.id)

    assert resolve(sqlite_engine, token).workspace_id == team.id


def test_a_member_removed_from_the_chosen_workspace_falls_back_to_the_personal_one(
    sqlite_engine: Engine,
) -> None:
    ada = register(sqlite_engine)
    team = run(sqlite_engine, lambda s: make.make_workspace(s, name="Team"))
    membership = run(
        sqlite_engine, lambda s: make.make_membership(s, s.get(Workspace, team.id), s.get(User, ada.id))
    )
    token = sign_in(sqlite_engine, ada, workspace_id=team.id)
    assert resolve(sqlite_engine, token).workspace_id == team.id

    run(sqlite_engine, lambda s: s.delete(s.get(Membership, membership.id)))

    with Session(sqlite_engine) as session:
        personal = session.exec(select(Workspace).where(Workspace.created_by_id == ada.id)).one()
    assert resolve(sqlite_engine, token).workspace_id == personal.id


# Change password --------------------------------------------------------------------------


def test_change_password_ends_every_session_and_returns_a_fresh_one(sqlite_engine: Engine) -> None:
    ada, grace = register(sqlite_engine), register(sqlite_engine, "grace@example.com", name="Grace")
    current = sign_in(sqlite_engine, ada, user_agent="Laptop")
    other = sign_in(sqlite_engine, ada, user_agent="Phone")
    grace_token = sign_in(sqlite_engine, grace)

    fresh = run(
        sqlite_engine,
        lambda s: auth.change_password(
            s, ada.id, current=PASSWORD, new=OTHER_PASSWORD, current_token=current
        ),
    )

    assert resolve(sqlite_engine, current) is None
    assert resolve(sqlite_engine, other) is None
    assert resolve(sqlite_engine, grace_token) is not None
    context = resolve(sqlite_engine, fresh)
    assert context is not None and context.user_id == ada.id
    [listed] = run(sqlite_engine, lambda s: auth.list_sessions(s, ada.id))
    assert listed.user_agent == "Laptop"
    run(sqlite_engine, lambda s: auth.authenticate(s, email="ada@example.com", password=OTHER_PASSWORD))
    refused(
        sqlite_engine,
        lambda s: auth.authenticate(s, email="ada@example.com", password=PASSWORD),
        ValidationFailed,
    )


@pytest.mark.parametrize(
    ("current", "new", "field", "says"),
    [
        ("Not-my-password-1", OTHER_PASSWORD, "current_password", "current password is not correct"),
        ("", OTHER_PASSWORD, "current_password", "current password is not correct"),
        (PASSWORD, PASSWORD, "password", "differs from the current one"),
        (PASSWORD, "short1!", "password", "at least 10 characters"),
        (PASSWORD, "Password123!", "password", "too common"),
    ],
)
def test_change_password_refusals_change_nothing(
    sqlite_engine: Engine, current: str, new: str, field: str, says: str
) -> None:
    ada = register(sqlite_engine)
    token = sign_in(sqlite_engine, ada)

    error = refused(
        sqlite_engine, lambda s: auth.change_password(s, ada.id, current=current, new=new), ValidationFailed
    )

    assert error.field == field
    assert says in error.message
    assert resolve(sqlite_engine, token) is not None


def test_change_password_guesses_are_rate_limited(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "PASSWORD_CHANGE_PER_USER", (2, 900))
    ada = register(sqlite_engine)
    guess = lambda s: auth.change_password(s, ada.id, current="Wrong-guess-1", new=OTHER_PASSWORD)  # noqa: E731
    refused(sqlite_engine, guess, ValidationFailed)
    refused(sqlite_engine, guess, ValidationFailed)

    error = refused(
        sqlite_engine,
        lambda s: auth.change_password(s, ada.id, current=PASSWORD, new=OTHER_PASSWORD),
        RateLimited,
    )

    assert "Try again in" in error.message


def test_an_account_without_password_sets_its_first_one(sqlite_engine: Engine) -> None:
    user = run(sqlite_engine, lambda s: make.make_user(s, email="oauth@example.com", password_hash=None))

    token = run(sqlite_engine, lambda s: auth.change_password(s, user.id, current="", new=OTHER_PASSWORD))

    assert resolve(sqlite_engine, token).user_id == user.id
    run(sqlite_engine, lambda s: auth.authenticate(s, email="oauth@example.com", password=OTHER_PASSWORD))


def test_change_password_of_an_unknown_user_is_not_found(sqlite_engine: Engine) -> None:
    refused(
        sqlite_engine,
        lambda s: auth.change_password(s, 12345, current=PASSWORD, new=OTHER_PASSWORD),
        NotFound,
    )


# Password reset ---------------------------------------------------------------------------


def test_reset_request_mails_a_one_hour_link_and_stores_only_its_hash(sqlite_engine: Engine) -> None:
    register(sqlite_engine)

    answer = run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ADA@example.com"))

    token = reset_link_token(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        [row] = session.exec(select(PasswordResetToken)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.expires_at - row.created_at == pytest.approx(timedelta(hours=1), abs=timedelta(seconds=5))
    assert answer == auth.RESET_REQUESTED


def test_reset_request_for_an_unknown_email_answers_the_same_and_mails_nobody(sqlite_engine: Engine) -> None:
    register(sqlite_engine)
    known = run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))
    before = count(sqlite_engine, OutboxMessage), count(sqlite_engine, PasswordResetToken)

    unknown = run(sqlite_engine, lambda s: auth.request_password_reset(s, email="nobody@example.com"))

    assert unknown == known
    assert (count(sqlite_engine, OutboxMessage), count(sqlite_engine, PasswordResetToken)) == before


def test_reset_request_for_a_disabled_account_mails_nobody(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    run(sqlite_engine, lambda s: setattr(s.get(User, user.id), "is_active", False))
    before = count(sqlite_engine, OutboxMessage)

    answer = run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))

    assert answer == auth.RESET_REQUESTED
    assert count(sqlite_engine, OutboxMessage) == before


def test_reset_request_with_a_malformed_email_is_refused(sqlite_engine: Engine) -> None:
    error = refused(
        sqlite_engine, lambda s: auth.request_password_reset(s, email="not an email"), ValidationFailed
    )

    assert error.field == "email"


def test_reset_sets_the_password_ends_sessions_and_burns_every_open_link(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    session_token = sign_in(sqlite_engine, user)
    run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))
    first_link = reset_link_token(sqlite_engine, "ada@example.com")
    run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))
    second_link = reset_link_token(sqlite_engine, "ada@example.com")

    reset_user = run(
        sqlite_engine, lambda s: auth.reset_password(s, token=second_link, new_password=OTHER_PASSWORD)
    )

    assert reset_user.id == user.id
    assert resolve(sqlite_engine, session_token) is None
    run(sqlite_engine, lambda s: auth.authenticate(s, email="ada@example.com", password=OTHER_PASSWORD))
    with Session(sqlite_engine) as session:
        assert session.get(User, user.id).email_verified_at is not None
    for used in (second_link, first_link):
        error = refused(
            sqlite_engine,
            lambda s, t=used: auth.reset_password(s, token=t, new_password="Third-pass-word-3"),
            ValidationFailed,
        )
        assert "already been used" in error.message and error.field == "token"


def personal_workspace_with_a_guest(engine: Engine, user: User) -> tuple[int, int]:
    with Session(engine) as session:
        workspace = session.exec(select(Workspace).where(Workspace.created_by_id == user.id)).one()
        guest = make.make_user(session, email="mallory@example.net")
        make.make_membership(session, workspace, guest, role=Role.ADMIN)
        session.commit()
        return workspace.id, guest.id


def members_of(engine: Engine, workspace_id: int) -> set[int]:
    with Session(engine) as session:
        return set(
            session.exec(select(Membership.user_id).where(Membership.workspace_id == workspace_id)).all()
        )


@pytest.mark.parametrize("verified", [False, True])
def test_a_reset_of_an_unverified_account_drops_whoever_its_registrant_let_in(
    sqlite_engine: Engine, verified: bool
) -> None:
    user = register(sqlite_engine)
    if verified:
        run(sqlite_engine, lambda s: setattr(s.get(User, user.id), "email_verified_at", utcnow()))
    workspace_id, guest_id = personal_workspace_with_a_guest(sqlite_engine, user)
    run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))

    run(
        sqlite_engine,
        lambda s: auth.reset_password(
            s, token=reset_link_token(sqlite_engine, "ada@example.com"), new_password=OTHER_PASSWORD
        ),
    )

    # Unverified: whoever registered the address may not be the person who owns the mailbox.
    expected = {user.id, guest_id} if verified else {user.id}
    assert members_of(sqlite_engine, workspace_id) == expected


def test_an_expired_reset_link_is_refused(sqlite_engine: Engine) -> None:
    register(sqlite_engine)
    run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))
    token = reset_link_token(sqlite_engine, "ada@example.com")
    later = utcnow() + timedelta(hours=1, seconds=5)

    error = refused(
        sqlite_engine,
        lambda s: auth.reset_password(s, token=token, new_password=OTHER_PASSWORD, now=later),
        ValidationFailed,
    )

    assert "expired" in error.message and error.field == "token"


@pytest.mark.parametrize("token", ["", None, "never-issued-token-abcdefghijklmnop", "bad token!", "x" * 400])
def test_an_unknown_reset_link_is_refused(sqlite_engine: Engine, token: Any) -> None:
    error = refused(
        sqlite_engine,
        lambda s: auth.reset_password(s, token=token, new_password=OTHER_PASSWORD),
        ValidationFailed,
    )

    assert "not valid" in error.message and error.field == "token"


def test_a_tampered_reset_link_is_refused(sqlite_engine: Engine) -> None:
    register(sqlite_engine)
    run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))
    token = reset_link_token(sqlite_engine, "ada@example.com")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    error = refused(
        sqlite_engine,
        lambda s: auth.reset_password(s, token=tampered, new_password=OTHER_PASSWORD),
        ValidationFailed,
    )

    assert "not valid" in error.message


def test_a_weak_new_password_keeps_the_link_usable(sqlite_engine: Engine) -> None:
    register(sqlite_engine)
    run(sqlite_engine, lambda s: auth.request_password_reset(s, email="ada@example.com"))
    token = reset_link_token(sqlite_engine, "ada@example.com")

    error = refused(
        sqlite_engine,
        lambda s: auth.reset_password(s, token=token, new_password="password"),
        ValidationFailed,
    )

    assert error.field == "password"
    run(sqlite_engine, lambda s: auth.reset_password(s, token=token, new_password=OTHER_PASSWORD))


def test_reset_requests_are_rate_limited_per_account_known_or_not(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "RESET_PER_ACCOUNT", (2, 3600))
    register(sqlite_engine)
    before = count(sqlite_engine, OutboxMessage)  # the registration's confirmation mail
    for email in ("ada@example.com", "nobody@example.com"):
        for number in range(2):
            run(
                sqlite_engine,
                lambda s, e=email, n=number: auth.request_password_reset(s, email=e, ip=f"198.51.100.{n}"),
            )

        error = refused(
            sqlite_engine,
            lambda s, e=email: auth.request_password_reset(s, email=e, ip="203.0.113.50"),
            RateLimited,
        )

        assert re.fullmatch(r"Too many password reset requests\. Try again in \d+ (s|min)\.", error.message)
    assert count(sqlite_engine, OutboxMessage) == before + 2


def test_reset_requests_are_rate_limited_per_client_address(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "RESET_PER_IP", (2, 3600))
    for number in range(2):
        run(
            sqlite_engine,
            lambda s, n=number: auth.request_password_reset(s, email=f"u{n}@example.com", ip="203.0.113.7"),
        )

    error = refused(
        sqlite_engine,
        lambda s: auth.request_password_reset(s, email="u9@example.com", ip="203.0.113.7"),
        RateLimited,
    )

    assert 0 < error.retry_after <= 3600
    run(sqlite_engine, lambda s: auth.request_password_reset(s, email="u9@example.com", ip="198.51.100.7"))


# Profile ----------------------------------------------------------------------------------


def test_update_profile_changes_name_and_time_zone(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)

    run(
        sqlite_engine,
        lambda s: auth.update_profile(s, user.id, name=" Countess  Lovelace ", timezone="America/New_York"),
    )

    with Session(sqlite_engine) as session:
        stored = session.get(User, user.id)
    assert (stored.name, stored.timezone) == ("Countess Lovelace", "America/New_York")


@pytest.mark.parametrize(
    ("name", "timezone", "field"),
    [
        ("Ada", "Mars/Olympus_Mons", "timezone"),
        ("Ada", "", "timezone"),
        ("Ada", "europe/berlin", "timezone"),
        ("Ada", "localtime", "timezone"),
        ("Ada", "../../etc/passwd", "timezone"),
        ("Ada", None, "timezone"),
        ("", "UTC", "name"),
        ("x" * 121, "UTC", "name"),
    ],
)
def test_update_profile_refuses_bad_input_and_changes_nothing(
    sqlite_engine: Engine, name: str, timezone: str, field: str
) -> None:
    user = register(sqlite_engine)

    error = refused(
        sqlite_engine,
        lambda s: auth.update_profile(s, user.id, name=name, timezone=timezone),
        ValidationFailed,
    )

    assert error.field == field


def test_update_profile_of_an_unknown_user_is_not_found(sqlite_engine: Engine) -> None:
    refused(sqlite_engine, lambda s: auth.update_profile(s, 12345, name="Ada", timezone="UTC"), NotFound)


def test_the_time_zone_list_offers_real_zones_that_profiles_accept() -> None:
    zones = auth.list_timezones()

    assert zones[0] == "UTC"
    assert zones[1:] == sorted(zones[1:])
    assert {"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"} <= set(zones)
    assert not {"localtime", "posixrules", "Factory"} & set(zones)
    for name in zones:
        zoneinfo.ZoneInfo(name)
        auth._checked_timezone(name)


def test_timezone_search_finds_zones_by_city_words_and_ignores_blank_queries() -> None:
    from postforge.services.identity.accounts_auth import search_timezones

    assert "America/New_York" in search_timezones("new york")
    assert "Europe/Berlin" in search_timezones("  BERLIN ")
    assert search_timezones("   ") == []
    assert search_timezones("zzzz-no-such-place") == []
    assert len(search_timezones("a", limit=5)) == 5
