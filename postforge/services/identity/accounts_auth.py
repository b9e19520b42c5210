"""Email + password accounts: register, sign in, browser sessions, password change and reset, profile.

Tokens (sessions, reset links) are random strings handed to the browser once; only their
SHA-256 is stored, so a copy of the database signs nobody in. Every function works in the
caller's session and never commits. Rate limits are counted first, before any write of the
caller's transaction (see rate_limit: on SQLite its own transaction waits for the caller's).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select, update

from postforge.models import (
    ApiKey,
    Invite,
    Membership,
    PasswordResetToken,
    User,
    UserSession,
    Workspace,
    utcnow,
)
from postforge.services.identity import email_verification, onboarding, passwords
from postforge.services.infra import mail, rate_limit
from postforge.services.kernel.emails import normalize_email
from postforge.services.kernel.errors import NotFound, PermissionDenied, ValidationFailed
from postforge.settings import get_settings

SESSION_LIFETIME = timedelta(days=30)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # touch last_seen_at at most this often
RESET_LINK_LIFETIME = timedelta(hours=1)

# (attempts, window in seconds). Sign-in and reset count per account and per client address.
SIGN_IN_PER_ACCOUNT = (10, 15 * 60)
SIGN_IN_PER_IP = (50, 15 * 60)
RESET_PER_ACCOUNT = (3, 60 * 60)
RESET_PER_IP = (10, 60 * 60)
REGISTER_PER_IP = (20, 60 * 60)
REGISTER_PER_EMAIL = (5, 60 * 60)  # each sign-up mails the address: no flooding anyone's inbox
PASSWORD_CHANGE_PER_USER = (10, 15 * 60)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes anything; this only bounds the work per request
MIN_DISTINCT_CHARACTERS = 5
MAX_NAME_LENGTH = 120
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,128}")

SIGN_IN_FAILED = "Email or password is incorrect."
RESET_REQUESTED = "If an account uses that email, a reset link is on its way. It is valid for one hour."

# Words that make a password guessable whatever digits or symbols surround them ("Password123!").
_COMMON_WORDS = frozenset(
    [
        "password",
        "passwort",
        "passw0rd",
        "p@ssword",
        "p@ssw0rd",
        "motdepasse",
        "contraseña",
        "qwerty",
        "qwertz",
        "azerty",
        "qwertyuiop",
        "asdfgh",
        "asdfghjkl",
        "zxcvbn",
        "zxcvbnm",
        "qazwsx",
        "qazwsxedc",
        "zaq1xsw2",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "letmein",
        "welcome",
        "admin",
        "administrator",
        "root",
        "login",
        "changeme",
        "secret",
        "iloveyou",
        "monkey",
        "dragon",
        "football",
        "baseball",
        "soccer",
        "hockey",
        "sunshine",
        "princess",
        "shadow",
        "master",
        "superman",
        "batman",
        "trustno1",
        "starwars",
        "pokemon",
        "whatever",
        "freedom",
        "michael",
        "jennifer",
        "jordan",
        "hunter",
        "ranger",
        "buster",
        "thomas",
        "charlie",
        "computer",
        "internet",
        "access",
        "default",
        "summer",
        "winter",
        "spring",
        "autumn",
        "january",
        "december",
        "hello123",
        "abc123",
        "postforge",
        "test",
        "testing",
        "guest",
    ]
)

# Whole passwords too common to allow even though they pass the other rules.
_COMMON_PASSWORDS = frozenset(
    [
        "1234567890",
        "0987654321",
        "123456789a",
        "a123456789",
        "1qaz2wsx3edc",
        "1q2w3e4r5t6y",
        "1qazxsw23edc",
        "qwerty123456",
        "qwerty12345",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou123",
        "abcd1234efgh",
    ]
)

_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "azertyuiop",
    "1q2w3e4r5t6y7u8i9o0p",
)

_AFFIXES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@dataclass(frozen=True)
class AuthContext:
    """Who is signed in on a browser, and in which workspace."""

    user_id: int
    session_id: int
    workspace_id: int | None
    email: str
    name: str
    timezone: str
    is_admin: bool
    email_verified: bool = False


@dataclass(frozen=True)
class SessionInfo:
    """One signed-in browser, as listed in settings."""

    id: int
    user_agent: str
    ip_address: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool


# Input rules ------------------------------------------------------------------------------


def check_password_policy(password: str, *, email: str = "") -> None:
    """Refuse the obviously weak, with a message that says what to change."""

    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(message, field="password")

    if not isinstance(password, str) or not password:
        raise refuse("Enter a password.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise refuse(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise refuse(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if len(_character_kinds(password)) < 2:
        raise refuse("Mix at least two kinds of characters: lowercase, uppercase, digits or symbols.")
    if len(set(password.casefold())) < MIN_DISTINCT_CHARACTERS:
        raise refuse("This password repeats the same few characters; use more different ones.")
    lowered = password.casefold()
    if _is_common(lowered):
        raise refuse("This password is too common and easy to guess; choose a less obvious one.")
    if _is_sequence(lowered):
        raise refuse(
            "This password is a simple sequence (like abcdef or 123456); choose something less obvious."
        )
    local_part = email.casefold().partition("@")[0] if isinstance(email, str) else ""
    if len(local_part) >= 3 and local_part in lowered:
        raise refuse("Do not put your email address in your password.")


def _character_kinds(password: str) -> set[str]:
    kinds = set()
    for ch in password:
        if ch.isdigit():
            kinds.add("digit")
        elif ch.isalpha():
            kinds.add("upper" if ch.isupper() else "lower" if ch.islower() else "letter")
        else:
            kinds.add("symbol")
    return kinds


def _is_common(lowered: str) -> bool:
    return lowered in _COMMON_PASSWORDS or lowered in _COMMON_WORDS or _core(lowered) in _COMMON_WORDS


def _is_sequence(lowered: str) -> bool:
    alphanumeric = "".join(ch for ch in lowered if ch.isalnum())
    for candidate in (alphanumeric, _core(lowered)):
        # Only when the sequence is (nearly) the whole password: "Abcdef-93817264" is not weak.
        if len(candidate) >= max(6, len(lowered) - 3) and any(
            candidate in run or candidate in run[::-1] for run in _SEQUENCES
        ):
            return True
    return False


def _core(lowered: str) -> str:
    """The password without the digits and symbols people tack on before and after a word."""
    return _AFFIXES.sub("", lowered)


def _checked_name(name: str) -> str:
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise ValidationFailed("Enter your name.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"A name has at most {MAX_NAME_LENGTH} characters.", field="name")
    if any(not ch.isprintable() for ch in name):
        raise ValidationFailed("A name cannot contain control characters.", field="name")
    return name


def _checked_timezone(timezone: str) -> str:
    timezone = timezone.strip() if isinstance(timezone, str) else ""
    if timezone not in _valid_timezones():
        raise ValidationFailed(
            "Choose a time zone from the list (for example Europe/Berlin or America/New_York).",
            field="timezone",
        )
    return timezone


@functools.cache
def _valid_timezones() -> frozenset[str]:
    # zoneinfo lists whatever files the tz database holds, including a few that are no zones.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"}) | {"UTC"}


_PICKER_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


def list_timezones() -> list[str]:
    """The zones offered by the picker: UTC and the canonical Region/City names, sorted."""
    return ["UTC", *sorted(name for name in _valid_timezones() if name.startswith(_PICKER_REGIONS))]


def search_timezones(query: str, *, limit: int = 12) -> list[str]:
    """Picker matches for what a person types: "new york" finds America/New_York."""
    needle = query.strip().casefold().replace(" ", "_")
    if not needle:
        return []
    return [zone for zone in list_timezones() if needle in zone.casefold()][: max(1, limit)]


# Register and sign in ----------------------------------------------------------------------


def register(
    session: Session, *, email: str, password: str, name: str, timezone: str = "UTC", ip: str = ""
) -> User | None:
    """Start a sign-up; the answer to show is `registration_sent(email)` whatever happens here.

    A new address gets an unverified user with a personal workspace, admin membership and the
    welcome bonus, and a confirmation link by mail (the link signs them in); that user is
    returned. An address that already has an account gets no new account and no change: its
    owner is mailed that someone tried to sign up with it, and None is returned. So neither the
    answer nor what the visitor can do next says whether the address was known, and both paths
    do the same slow work (the argon2 hash) so the time taken says nothing either.
    """
    email = normalize_email(email)
    check_password_policy(password, email=email)
    name, timezone = _checked_name(name), _checked_timezone(timezone)
    if ip:
        _limit("register:ip", ip, REGISTER_PER_IP, session, "Too many sign-ups from your network.")
    _limit("register:email", email, REGISTER_PER_EMAIL, session, "Too many sign-ups for this email address.")
    password_hash = passwords.hash_password(password)
    existing = _user_by_email(session, email)
    if existing is None:
        user = User(email=email, password_hash=password_hash, name=name, timezone=timezone)
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            # Another sign-up with the same email committed between the check and the insert.
            existing = _user_by_email(session, email)
        else:
            onboarding.create_personal_workspace(session, user)
            email_verification.send_link(session, user)
            return user
    if existing is not None and existing.is_active:
        mail.send_mail(
            session, to=existing.email, subject="Someone tried to sign up with your email", body=_taken_body()
        )
    return None


def registration_sent(email: str) -> str:
    """What a sign-up answers, for a new address and a known one alike."""
    return f"We sent a link to {normalize_email(email)}. Open it to finish signing up."


def _taken_body() -> str:
    base = get_settings().app_url.rstrip("/")
    return (
        "Someone tried to create a PostForge account with this email address, which already has one.\n\n"
        f"If it was you, sign in: {base}/sign-in\n"
        f"Forgot your password? Choose a new one: {base}/forgot-password\n\n"
        "If it was not you, ignore this mail: nothing about your account changed.\n"
    )


def authenticate(session: Session, *, email: str, password: str, ip: str = "") -> User:
    """The user with this email and password; one message for every mismatch, so no account is revealed."""
    email = normalize_email(email)
    _limit("signin:account", email, SIGN_IN_PER_ACCOUNT, session, "Too many sign-in attempts.")
    if ip:
        _limit("signin:ip", ip, SIGN_IN_PER_IP, session, "Too many sign-in attempts.")
    user = _user_by_email(session, email)
    if user is None or not user.password_hash:
        passwords.verify_password(_dummy_hash(), password)  # same work as a real check: no timing hint
        raise ValidationFailed(SIGN_IN_FAILED)
    if not passwords.verify_password(user.password_hash, password):
        raise ValidationFailed(SIGN_IN_FAILED)
    if not user.is_active:
        raise PermissionDenied(inactive_message(user))
    rate_limit.reset(rate_limit.key_for("signin:account", email), engine=session.get_bind())
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        session.add(user)
        session.flush()
    return user


def inactive_message(user: User) -> str:
    """Why an account that proved who it is still cannot sign in (password or single sign-on)."""
    if user.suspended_at is not None:
        return "This account is suspended. Contact support to have it restored."
    return "This account is disabled. Contact your administrator."


@functools.cache
def _dummy_hash() -> str:
    return passwords.hash_password(secrets.token_urlsafe(16))


# Sessions ----------------------------------------------------------------------------------


def create_session(
    session: Session, user: User, *, user_agent: str = "", ip: str = "", workspace_id: int | None = None
) -> str:
    """Sign `user` in on one browser; returns the token the browser keeps (shown only this once)."""
    if user.id is None:
        raise ValueError("the user must be saved before a session is created")
    if workspace_id is not None and not _is_member(session, user.id, workspace_id):
        raise PermissionDenied("You are not a member of that workspace.")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=_token_hash(token),
            workspace_id=workspace_id,
            user_agent=(user_agent or "")[:512],
            ip_address=(ip or "")[:64],
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    return token


def resolve_session(session: Session, token: str, *, now: datetime | None = None) -> AuthContext | None:
    """Who holds `token`; None when it is unknown, tampered with, expired, revoked or the user is disabled."""
    row = _live_session(session, token, now=now)
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    now = now or utcnow()
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
        session.add(row)
        session.flush()
    return AuthContext(
        user_id=user.id or 0,
        session_id=row.id or 0,
        workspace_id=_current_workspace_id(session, user.id or 0, row.workspace_id),
        email=user.email,
        name=user.name,
        timezone=user.timezone,
        is_admin=user.is_admin,
        email_verified=email_verification.is_verified(user),
    )


def sign_out(session: Session, token: str) -> None:
    """End the session of this browser; an unknown or ended token is not an error."""
    row = _live_session(session, token)
    if row is not None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()


def sign_out_everywhere(session: Session, user_id: int) -> int:
    """End every session of the user; returns how many were still open."""
    return _revoke_sessions(session, user_id)


def list_sessions(session: Session, user_id: int, *, current_token: str | None = None) -> list[SessionInfo]:
    """The user's open sessions, most recently seen first."""
    now = utcnow()
    current_hash = _token_hash(current_token) if current_token else None
    rows = session.exec(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            col(UserSession.revoked_at).is_(None),
            UserSession.expires_at > now,
        )
        .order_by(col(UserSession.last_seen_at).desc(), col(UserSession.id).desc())
    ).all()
    return [
        SessionInfo(
            id=row.id or 0,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            current=row.token_hash == current_hash,
        )
        for row in rows
    ]


def revoke_session(session: Session, user_id: int, session_id: int) -> None:
    """End one of the user's own sessions (someone else's is "not found", never revoked)."""
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user_id:
        raise NotFound("That session does not exist.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()


def _live_session(session: Session, token: str, *, now: datetime | None = None) -> UserSession | None:
    if not isinstance(token, str) or not _TOKEN_PATTERN.fullmatch(token):
        return None
    row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= (now or utcnow()):
        return None
    return row


def _revoke_sessions(session: Session, user_id: int) -> int:
    result = session.exec(
        update(UserSession)
        .where(UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def _current_workspace_id(session: Session, user_id: int, chosen: int | None) -> int | None:
    """The browser's chosen workspace while the user is still a member, else the personal one."""
    rows = session.exec(
        select(Membership.workspace_id, Workspace.is_personal)
        .join(Workspace, col(Workspace.id) == Membership.workspace_id)
        .where(Membership.user_id == user_id)
        .order_by(col(Workspace.is_personal).desc(), col(Membership.id))
    ).all()
    ids = [workspace_id for workspace_id, _ in rows]
    if chosen in ids:
        return chosen
    return ids[0] if ids else None


def _is_member(session: Session, user_id: int, workspace_id: int) -> bool:
    return (
        session.exec(
            select(Membership.id).where(
                Membership.user_id == user_id, Membership.workspace_id == workspace_id
            )
        ).first()
        is not None
    )


# Passwords ---------------------------------------------------------------------------------


def change_password(
    session: Session,
    user_id: int,
    *,
    current: str,
    new: str,
    current_token: str | None = None,
    user_agent: str = "",
    ip: str = "",
) -> str:
    """Set a new password, end every session and return a fresh token for this browser.

    An account without a password (OAuth only) sets its first one without `current`.
    The new session keeps the workspace (and user agent) of `current_token` when given.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("That account does not exist.")
    _limit("password-change:user", str(user_id), PASSWORD_CHANGE_PER_USER, session, "Too many attempts.")
    if user.password_hash and not passwords.verify_password(user.password_hash, current):
        raise ValidationFailed("Your current password is not correct.", field="current_password")
    if user.password_hash and current == new:
        raise ValidationFailed("Choose a new password that differs from the current one.", field="password")
    check_password_policy(new, email=user.email)
    previous = _live_session(session, current_token) if current_token else None
    if previous is not None and previous.user_id != user_id:
        previous = None
    user.password_hash = passwords.hash_password(new)
    session.add(user)
    _revoke_sessions(session, user_id)
    return create_session(
        session,
        user,
        user_agent=user_agent or (previous.user_agent if previous else ""),
        ip=ip or (previous.ip_address if previous else ""),
        workspace_id=previous.workspace_id if previous else None,
    )


def request_password_reset(session: Session, *, email: str, ip: str = "") -> str:
    """Mail a one-time reset link when the account exists; the answer is the same either way."""
    email = normalize_email(email)
    if ip:
        _limit("reset:ip", ip, RESET_PER_IP, session, "Too many password reset requests.")
    _limit("reset:account", email, RESET_PER_ACCOUNT, session, "Too many password reset requests.")
    user = _user_by_email(session, email)
    if user is not None and user.is_active:
        token = secrets.token_urlsafe(32)
        session.add(
            PasswordResetToken(
                user_id=user.id or 0, token_hash=_token_hash(token), expires_at=utcnow() + RESET_LINK_LIFETIME
            )
        )
        session.flush()
        mail.send_mail(
            session, to=user.email, subject="Reset your PostForge password", body=_reset_body(token)
        )
    return RESET_REQUESTED


def reset_password(session: Session, *, token: str, new_password: str, now: datetime | None = None) -> User:
    """Set a new password from a reset link; the link then stops working and every session ends."""
    now = now or utcnow()
    row = None
    if isinstance(token, str) and _TOKEN_PATTERN.fullmatch(token):
        row = session.exec(
            select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(token))
        ).first()
    if row is None:
        raise ValidationFailed("This reset link is not valid. Ask for a new one.", field="token")
    if row.used_at is not None:
        raise ValidationFailed("This reset link has already been used. Ask for a new one.", field="token")
    if row.expires_at <= now:
        raise ValidationFailed("This reset link has expired. Ask for a new one.", field="token")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise ValidationFailed("This reset link is not valid. Ask for a new one.", field="token")
    check_password_policy(new_password, email=user.email)
    # Following the link proved the address belongs to this person.
    if not email_verification.is_verified(user):
        reclaim_unverified_account(session, user, now=now)
    user.password_hash = passwords.hash_password(new_password)
    session.add(user)
    session.exec(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, col(PasswordResetToken.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    _revoke_sessions(session, user.id or 0)
    session.flush()
    return user


def reclaim_unverified_account(session: Session, user: User, *, now: datetime | None = None) -> None:
    """The owner of the address has just proved it (a provider vouching for it, a reset link)
    while the account was unverified: whoever registered it may have been someone else, so
    nothing they set up keeps working — not the password, not a session, not an API key, not
    the people they let into the personal workspace or the invitations they left pending.
    Then the address counts as verified. Flushes, never commits.
    """
    now = now or utcnow()
    user_id = user.id or 0
    user.password_hash = None
    session.add(user)
    _revoke_sessions(session, user_id)
    session.exec(
        update(ApiKey)
        .where(ApiKey.created_by_id == user_id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    workspace = onboarding.personal_workspace_of(session, user_id)
    if workspace is not None:
        session.exec(
            delete(Membership).where(Membership.workspace_id == workspace.id, Membership.user_id != user_id)
        )
        session.exec(
            update(Invite)
            .where(
                Invite.workspace_id == workspace.id,
                col(Invite.accepted_at).is_(None),
                col(Invite.revoked_at).is_(None),
            )
            .values(revoked_at=now)
            .execution_options(synchronize_session="fetch")
        )
    email_verification.mark_verified(session, user, now=now)


def _reset_body(token: str) -> str:
    link = f"{get_settings().app_url}/reset-password?{urlencode({'token': token})}"
    return (
        "Someone asked to reset the password of your PostForge account.\n\n"
        f"Choose a new password here (the link works once, for one hour):\n{link}\n\n"
        "If it was not you, ignore this mail: your password stays as it is.\n"
    )


# Profile -----------------------------------------------------------------------------------


def update_profile(session: Session, user_id: int, *, name: str, timezone: str) -> User:
    """Change the user's display name and time zone."""
    name, timezone = _checked_name(name), _checked_timezone(timezone)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("That account does not exist.")
    user.name, user.timezone = name, timezone
    session.add(user)
    session.flush()
    return user


# Helpers -----------------------------------------------------------------------------------


def _user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _limit(action: str, subject: str, rule: tuple[int, int], session: Session, what: str) -> None:
    rate_limit.enforce(action, subject, rule, refusal=what, engine=session.get_bind())
