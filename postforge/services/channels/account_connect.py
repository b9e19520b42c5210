"""Connecting social accounts to a workspace, reconnecting them, and disconnecting them.

Three ways in, one way to store the result (`_upsert`: one row per workspace, platform and
platform account id, so a reconnect updates the same row and keeps its history):

* **OAuth** (Mastodon, LinkedIn, X, Threads, Facebook, Instagram, YouTube, TikTok): `begin_oauth` stores a one-time
  `OAuthAttempt` (purpose "connect") and returns the platform's authorization URL plus a
  *browser state*: a second random secret the browser keeps in a cookie scoped to the callback.
  `complete_oauth` (the callback route) claims the attempt exactly once, checks that cookie
  (so a callback link sent to someone else's browser connects nothing), exchanges the code with
  the PKCE verifier and hands the token to the platform's adapter. Only SHA-256 digests of the
  state and the browser state are stored; the verifier is needed in clear for the exchange.
* **App password** (Bluesky): `connect_bluesky` — the password is sent once, never stored.
* **Built-in** (the sandbox platform): `connect_sandbox`.

Connecting and disconnecting is for editors and admins; viewers see the accounts page read-only.
A workspace's plan caps how many accounts are connected (needs-reconnect ones count, disconnected
ones and reconnects don't).

These functions are synchronous (platform HTTP with httpx): the web app calls them in a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2
import sqlalchemy as sa
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from postforge import outbound, routes
from postforge.models import (
    AccountStatus,
    DestinationStatus,
    OAuthAttempt,
    Platform,
    PlatformApp,
    Post,
    PostDestination,
    SocialAccount,
    utcnow,
)
from postforge.platforms.base import (
    ConnectedAccount,
    ConnectFailed,
    OAuthClientConfig,
    PlatformAdapter,
    ServerUnusable,
)
from postforge.platforms.registry import adapter_class, adapter_for
from postforge.services.channels import account_tokens
from postforge.services.content import post_status, publish_history
from postforge.services.infra import token_crypto
from postforge.services.kernel.errors import NotFound, ServiceError, ValidationFailed
from postforge.services.payments import billing
from postforge.services.tenancy import workspaces

log = logging.getLogger(__name__)

CONNECT = "connect"
ATTEMPT_TTL = timedelta(minutes=10)
ACCOUNTS_PATH = "/accounts"
# Where a callback that cannot be tied to an attempt sends the browser (the page explains).
UNTRACEABLE_PATH = ACCOUNTS_PATH + "?connect=failed"
TOKEN_EXCHANGE_TIMEOUT_SECONDS = 20.0
# Show "access expires in N days" when an account that cannot renew itself gets this close.
EXPIRY_WARNING = timedelta(days=14)
DISCONNECTED_ERROR = "The account {name} was disconnected before this was published. Reconnect it and retry."

# The order the "Connect account" dialog lists platforms in, and what makes each one available.
PLATFORM_ORDER: tuple[Platform, ...] = (
    Platform.SANDBOX,
    Platform.MASTODON,
    Platform.BLUESKY,
    Platform.LINKEDIN,
    Platform.X,
    Platform.THREADS,
    Platform.FACEBOOK,
    Platform.INSTAGRAM,
    Platform.YOUTUBE,
    Platform.TIKTOK,
)
_CLIENT_ID_SETTING: dict[Platform, str] = {
    Platform.LINKEDIN: "linkedin_client_id",
    Platform.X: "x_client_id",
    Platform.THREADS: "threads_app_id",
    Platform.FACEBOOK: "facebook_app_id",
    Platform.INSTAGRAM: "facebook_app_id",
    Platform.YOUTUBE: "youtube_client_id",
    Platform.TIKTOK: "tiktok_client_key",
}
_FALLBACK_LABELS = {platform: platform.value.title() for platform in Platform} | {
    Platform.X: "X",
    Platform.YOUTUBE: "YouTube",
    Platform.TIKTOK: "TikTok",
}
STATUS_LABELS = {
    AccountStatus.CONNECTED: "Connected",
    AccountStatus.NEEDS_RECONNECT: "Needs reconnect",
    AccountStatus.DISCONNECTED: "Disconnected",
}
# Destinations still waiting to go out: a disconnect fails them (see `disconnect`).
WAITING = (DestinationStatus.PENDING, DestinationStatus.QUEUED)

HANDLE_PATTERN = re.compile(r"^@?[A-Za-z0-9_.-]{1,30}$")
BLUESKY_HANDLE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
BLUESKY_DID = re.compile(r"^did:(plc|web):[A-Za-z0-9._:%-]+$")
APP_PASSWORD_SHAPE = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$")
BLUESKY_KEY_HINT = (
    "Bluesky app passwords look like xxxx-xxxx-xxxx-xxxx: create one in Bluesky under "
    "Settings → Privacy and security → App passwords."
)


class ConnectRefused(ServiceError):
    """Connecting did not work; the message says why and what to do. `redirect_path` is where the
    callback route sends the browser (the accounts page, which shows the message)."""

    code = "connect_refused"

    def __init__(self, message: str, *, field: str | None = None, redirect_path: str = ACCOUNTS_PATH):
        super().__init__(message, field=field)
        self.redirect_path = redirect_path


# --- what the pages show ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformOption:
    platform: str
    label: str
    connect_kind: str  # oauth | password | builtin
    needs_instance: bool  # Mastodon: the user types their instance


@dataclass(frozen=True)
class AccountCard:
    id: int
    platform: str
    platform_label: str
    connect_kind: str
    handle: str
    display_name: str
    avatar_url: str
    instance_url: str
    status: str
    status_label: str
    last_error: str
    expiry_hint: str
    scheduled_count: int
    published_count: int


@dataclass(frozen=True)
class ConnectResult:
    account_ids: list[int]
    names: list[str]  # "@ada@mastodon.social" …, for the success toast
    redirect_path: str


@dataclass(frozen=True)
class ConnectOutcome:
    """What a finished OAuth callback left for the accounts page to show."""

    ok: bool
    message: str
    account_ids: list[int]


def available_platforms(settings: Any = None) -> list[PlatformOption]:
    """The platforms this installation can connect: the sandbox when enabled, Mastodon and Bluesky
    always, the others only once their OAuth client id is configured."""
    settings = settings or _settings()
    options = []
    for platform in PLATFORM_ORDER:
        if platform == Platform.SANDBOX and not settings.sandbox_platform_enabled:
            continue
        setting = _CLIENT_ID_SETTING.get(platform)
        if setting and not getattr(settings, setting, ""):
            continue
        adapter = _adapter_class_or_none(platform)
        if adapter is None:
            continue
        options.append(
            PlatformOption(
                platform=platform.value,
                label=adapter.label,
                connect_kind=adapter.connect_kind,
                needs_instance=hasattr(adapter, "register_app"),
            )
        )
    return options


def list_account_cards(session: Session, *, user_id: int, workspace_id: int) -> list[AccountCard]:
    """The workspace's accounts for the accounts page, with what waits to be published on each."""
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    rows = session.exec(
        select(SocialAccount)
        .where(SocialAccount.workspace_id == workspace_id)
        .order_by(col(SocialAccount.platform), col(SocialAccount.handle), col(SocialAccount.id))
    ).all()
    counts = _destination_counts(session, workspace_id)
    now = utcnow()
    return [
        AccountCard(
            id=account.id or 0,
            platform=str(account.platform),
            platform_label=platform_label(account.platform),
            connect_kind=_connect_kind(account.platform),
            handle=account.handle,
            display_name=account.display_name,
            avatar_url=account.avatar_url,
            instance_url=account.instance_url,
            status=str(account.status),
            status_label=STATUS_LABELS[AccountStatus(str(account.status))],
            last_error=account.last_error,
            expiry_hint=expiry_hint(account, now=now),
            scheduled_count=counts.get((account.id or 0, "waiting"), 0),
            published_count=counts.get((account.id or 0, "published"), 0),
        )
        for account in rows
    ]


def expiry_hint(account: SocialAccount, *, now: datetime | None = None) -> str:
    """ "Access expires in 5 days" for a connected account whose token runs out soon and that has
    no refresh token to renew it by itself (LinkedIn's 60-day tokens); "" otherwise."""
    if account.status != AccountStatus.CONNECTED or account.token_expires_at is None:
        return ""
    if account.refresh_token_enc:
        return ""  # the publishing engine renews it before it runs out
    left = account.token_expires_at - (now or utcnow())
    if left <= timedelta(0):
        return "Access has expired: reconnect the account to keep publishing."
    if left > EXPIRY_WARNING:
        return ""
    if left < timedelta(days=1):
        hours = max(1, int(left.total_seconds() // 3600))
        return f"Access expires in {hours} hour{'s' if hours != 1 else ''}: reconnect before then."
    days = left.days
    return f"Access expires in {days} day{'s' if days != 1 else ''}: reconnect before then."


def callback_url(platform: Platform | str, settings: Any = None) -> str:
    """Where the platform sends the browser back: the backend's public URL + the callback route."""
    settings = settings or _settings()
    base = (settings.api_url or settings.app_url).rstrip("/")
    return base + routes.API_ACCOUNT_CONNECT_CALLBACK.format(platform=Platform(str(platform)).value)


def platform_label(platform: Platform | str) -> str:
    adapter = _adapter_class_or_none(platform)
    return adapter.label if adapter else _FALLBACK_LABELS.get(Platform(str(platform)), str(platform))


# --- OAuth ----------------------------------------------------------------------------------------


def begin_oauth(
    session: Session,
    *,
    user_id: int,
    workspace_id: int,
    platform: str,
    instance_url: str = "",
    reconnect_account_id: int | None = None,
    redirect_uri: str,
    settings: Any = None,
) -> tuple[str, str]:
    """Store a connect attempt; returns (the platform's authorization URL, the browser state).

    The caller commits, then keeps the browser state in a cookie the callback route can read, and
    sends the browser to the authorization URL.
    """
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="manage_accounts")
    settings = settings or _settings()
    chosen = _offered(platform, settings, kind="oauth")
    reconnecting = _reconnect_target(session, workspace_id, chosen, reconnect_account_id)
    if reconnecting is None:
        _require_room(session, workspace_id)
    adapter = adapter_for(chosen, settings)
    if hasattr(adapter, "register_app"):
        instance = reconnecting.instance_url if reconnecting else normalize_instance_url(instance_url)
        config = _registered_client(session, adapter, instance, redirect_uri)
    else:
        instance = ""
        config = _client_config(adapter, redirect_uri)
    state, browser_state = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64) if config.pkce else ""
    with _oauth_client(config, redirect_uri, settings) as client:
        url, _ = client.create_authorization_url(
            config.authorize_url,
            state=state,
            code_verifier=verifier or None,
            **dict(config.extra_authorize_params),
        )
    session.add(
        OAuthAttempt(
            provider=chosen.value,
            purpose=CONNECT,
            state=_digest(state),
            nonce=_digest(browser_state),  # the browser's half of the binding
            code_verifier=verifier,
            redirect_to=ACCOUNTS_PATH,
            user_id=user_id,
            workspace_id=workspace_id,
            details={
                "instance_url": instance,
                "reconnect_account_id": reconnecting.id if reconnecting else None,
                "redirect_uri": redirect_uri,
            },
            expires_at=utcnow() + ATTEMPT_TTL,
        )
    )
    session.flush()
    return url, browser_state


def complete_oauth(
    session: Session,
    *,
    state: str,
    code: str,
    browser_state: str,
    error: str | None = None,
    error_description: str = "",
    platform: str = "",
    settings: Any = None,
) -> ConnectResult:
    """Finish a connect round trip: the connected account ids and where to send the browser.

    Commits twice on purpose: the claim before talking to the platform (so a replayed callback
    fails whatever happens next), and the outcome at the end — also when refusing, so the accounts
    page can show the message (`connect_outcome`). Raises ConnectRefused with its `redirect_path`.
    """
    attempt = _claim(session, state, browser_state, platform)
    outcome_path = f"{attempt.redirect_to or ACCOUNTS_PATH}?connect={attempt.id}"
    try:
        result = _finish(session, attempt, code, error, error_description, settings or _settings())
    except ServiceError as refusal:
        session.rollback()
        _record(session, attempt.id or 0, ConnectOutcome(False, refusal.message, []))
        session.commit()
        raise ConnectRefused(refusal.message, redirect_path=outcome_path) from None
    ids = result.account_ids
    _record(session, attempt.id or 0, ConnectOutcome(True, _connected_message(result.names), ids))
    session.commit()
    return ConnectResult(ids, result.names, outcome_path)


def connect_outcome(
    session: Session, *, user_id: int, workspace_id: int, attempt_id: int
) -> ConnectOutcome | None:
    """The result of the user's own connect attempt in this workspace (None for anything else)."""
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    attempt = session.get(OAuthAttempt, attempt_id)
    if (
        attempt is None
        or attempt.purpose != CONNECT
        or attempt.user_id != user_id
        or attempt.workspace_id != workspace_id
    ):
        return None
    stored = (attempt.details or {}).get("outcome")
    if not isinstance(stored, dict):
        return None
    return ConnectOutcome(
        bool(stored.get("ok")), str(stored.get("message", "")), list(stored.get("account_ids", []))
    )


def _claim(session: Session, state: str, browser_state: str, platform: str) -> OAuthAttempt:
    if not state:
        raise _untraceable(
            "The platform sent no state back, so this connection can't be trusted. Start again."
        )
    attempt = session.exec(
        select(OAuthAttempt).where(OAuthAttempt.state == _digest(state), OAuthAttempt.purpose == CONNECT)
    ).first()
    if attempt is None or (platform and attempt.provider != platform):
        raise _untraceable("This connection attempt is unknown (state mismatch). Start connecting again.")
    if not browser_state or not hmac.compare_digest(_digest(browser_state), attempt.nonce):
        raise _untraceable(
            "This connection did not start in this browser, or its link was altered. "
            "Start connecting again from the accounts page."
        )
    now = utcnow()
    if attempt.used_at is not None:
        raise _untraceable("This connection link was already used. Start connecting again.")
    if attempt.expires_at <= now:
        raise _untraceable("This connection attempt expired (after 10 minutes). Start connecting again.")
    claimed = session.execute(
        sa.update(OAuthAttempt)
        .where(col(OAuthAttempt.id) == attempt.id, col(OAuthAttempt.used_at).is_(None))
        .values(used_at=now)
    ).rowcount
    session.commit()
    if claimed != 1:
        raise _untraceable("This connection link was already used. Start connecting again.")
    return attempt


def _untraceable(message: str) -> ConnectRefused:
    return ConnectRefused(message, redirect_path=UNTRACEABLE_PATH)


def _finish(
    session: Session, attempt: OAuthAttempt, code: str, error: str | None, description: str, settings: Any
) -> ConnectResult:
    platform = Platform(attempt.provider)
    label = platform_label(platform)
    if error:
        # Both come from the platform's redirect: shown, but short and plain.
        reason = outbound.foreign_text(description) or outbound.foreign_text(error, 80)
        if error == "access_denied":
            raise ConnectRefused(f"{label} did not connect the account: access was denied ({reason}).")
        raise ConnectRefused(f"{label} did not connect the account ({reason}). You can try again.")
    if not code:
        raise ConnectRefused(f"{label} sent no authorization code. Start connecting again.")
    user_id, workspace_id = attempt.user_id or 0, attempt.workspace_id or 0
    # The role may have changed in the ten minutes the user spent at the platform.
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="manage_accounts")
    details = dict(attempt.details or {})
    redirect_uri, instance = str(details.get("redirect_uri", "")), str(details.get("instance_url", ""))
    adapter = adapter_for(platform, settings)
    if hasattr(adapter, "register_app"):
        config = _stored_client(session, adapter, instance, redirect_uri)
    else:
        config = _client_config(adapter, redirect_uri)
    token = _exchange(config, redirect_uri, code, attempt.code_verifier, label, settings)
    try:
        connected = adapter.complete_oauth(token, instance_url=instance)
    except ConnectFailed as failure:
        raise ConnectRefused(failure.message) from None
    if not connected:
        raise ConnectRefused(f"{label} returned no account to connect.")
    reconnect_id = details.get("reconnect_account_id")
    if reconnect_id:
        connected = [_matching_reconnect(session, workspace_id, int(reconnect_id), connected, label)]
    accounts = [_upsert(session, workspace_id, user_id, platform, account) for account in connected]
    return ConnectResult([a.id or 0 for a in accounts], [_display(a) for a in accounts], ACCOUNTS_PATH)


def _exchange(
    config: OAuthClientConfig, redirect_uri: str, code: str, verifier: str, label: str, settings: Any
) -> dict:
    extra = dict(config.extra_token_params) | ({"code_verifier": verifier} if verifier else {})
    try:
        with _oauth_client(config, redirect_uri, settings) as client:
            return dict(client.fetch_token(config.token_url, code=code, **extra))
    except OAuthError as refusal:
        detail = outbound.foreign_text(refusal.description or refusal.error or "")
        raise ConnectRefused(
            f"{label} refused the authorization code ({detail}); it may have expired. Start connecting again."
        ) from None
    except httpx2.HTTPError as failure:
        refused = outbound.refusal(failure)
        if refused:
            raise ConnectRefused(f"PostForge does not connect to this {label} server: {refused}.") from None
        raise ConnectRefused(
            f"{label} could not be reached to finish connecting. Try again in a moment."
        ) from None
    except (ValueError, KeyError):
        raise ConnectRefused(f"{label} answered the token request with something unexpected.") from None


def _oauth_client(config: OAuthClientConfig, redirect_uri: str, settings: Any) -> OAuth2Client:
    """authlib's client on httpx2, following the outbound policy (a Mastodon instance's token
    endpoint is a user-named host: public addresses only)."""
    policy = outbound.policy_for(
        settings, user_named=config.user_named_host, deadline_seconds=TOKEN_EXCHANGE_TIMEOUT_SECONDS
    )
    return OAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope=config.scope_separator.join(config.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256" if config.pkce else None,
        token_endpoint_auth_method=config.token_endpoint_auth_method,
        headers={"User-Agent": "PostForge", "Accept": "application/json"},
        **outbound.client_options(httpx2, policy),
    )


def _client_config(adapter: PlatformAdapter, redirect_uri: str) -> OAuthClientConfig:
    try:
        return adapter.oauth_client(redirect_uri=redirect_uri)
    except ConnectFailed as failure:
        raise ConnectRefused(failure.message, field="platform") from None


def _registered_client(
    session: Session, adapter: PlatformAdapter, instance_url: str, redirect_uri: str
) -> OAuthClientConfig:
    """The app registered at this instance for this callback URL, registering it the first time."""
    app = _platform_app(session, adapter.platform, instance_url, redirect_uri)
    if app is None:
        try:
            client_id, client_secret = adapter.register_app(instance_url, redirect_uri)  # type: ignore[attr-defined]
        except ConnectFailed as failure:
            raise ValidationFailed(failure.message, field="instance_url") from None
        app = PlatformApp(
            platform=adapter.platform,
            instance_url=instance_url,
            redirect_uri=redirect_uri,
            client_id=client_id,
            client_secret_enc=token_crypto.encrypt(client_secret) or "",
        )
        try:
            with session.begin_nested():
                session.add(app)
        except IntegrityError:  # registered at the same moment by another request: use theirs
            app = _platform_app(session, adapter.platform, instance_url, redirect_uri)
            if app is None:
                raise
    return _app_config(adapter, app)


def _stored_client(
    session: Session, adapter: PlatformAdapter, instance_url: str, redirect_uri: str
) -> OAuthClientConfig:
    app = _platform_app(session, adapter.platform, instance_url, redirect_uri)
    if app is None:
        raise ConnectRefused("The app registration for this instance is gone. Start connecting again.")
    return _app_config(adapter, app)


def _app_config(adapter: PlatformAdapter, app: PlatformApp) -> OAuthClientConfig:
    secret = token_crypto.decrypt(app.client_secret_enc) or ""
    return adapter.oauth_client_for_app(app.instance_url, app.client_id, secret)  # type: ignore[attr-defined]


def _platform_app(
    session: Session, platform: Platform, instance_url: str, redirect_uri: str
) -> PlatformApp | None:
    return session.exec(
        select(PlatformApp).where(
            PlatformApp.platform == platform,
            PlatformApp.instance_url == instance_url,
            PlatformApp.redirect_uri == redirect_uri,
        )
    ).first()


def _matching_reconnect(
    session: Session, workspace_id: int, account_id: int, connected: list[ConnectedAccount], label: str
) -> ConnectedAccount:
    """A reconnect renews the account on the card: the user must sign in to that same account."""
    account = session.get(SocialAccount, account_id)
    if account is None or account.workspace_id != workspace_id:
        raise NotFound("The account to reconnect is no longer in this workspace.")
    for candidate in connected:
        if candidate.profile.platform_account_id == account.platform_account_id:
            return candidate
    other = connected[0].profile.handle or connected[0].profile.platform_account_id
    raise ConnectRefused(
        f"You signed in to {label} as {other}, but this card is {account.handle}. Sign in as "
        f"{account.handle} to reconnect it, or use Connect account to add {other}."
    )


# --- password and built-in accounts -------------------------------------------------------------


def connect_bluesky(
    session: Session,
    *,
    user_id: int,
    workspace_id: int,
    identifier: str,
    app_password: str,
    service_url: str = "",
    settings: Any = None,
) -> ConnectResult:
    """Connect (or reconnect: same DID, same row) a Bluesky account with an app password.

    The password goes to Bluesky once to open a session; only the session's tokens are stored.
    """
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="manage_accounts")
    settings = settings or _settings()
    _offered(Platform.BLUESKY.value, settings, kind="password")
    identifier = normalize_bluesky_identifier(identifier)
    password = app_password.strip()
    if not password:
        raise ValidationFailed("Enter an app password. " + BLUESKY_KEY_HINT, field="app_password")
    service = normalize_service_url(service_url) if service_url.strip() else ""
    adapter = adapter_for(Platform.BLUESKY, settings)
    try:
        connected = adapter.connect_with_password(identifier, password, instance_url=service)
    except ServerUnusable as failure:  # the address, not the password, is what to fix
        raise ConnectRefused(failure.message, field="service_url" if service else None) from None
    except ConnectFailed as failure:
        hint = "" if APP_PASSWORD_SHAPE.match(password) else " " + BLUESKY_KEY_HINT
        field = "app_password" if failure.http_status in (400, 401) else None
        raise ConnectRefused(failure.message + hint, field=field) from None
    if not connected.instance_url and service:
        connected = ConnectedAccount(connected.profile, connected.tokens, instance_url=service)
    account = _upsert(session, workspace_id, user_id, Platform.BLUESKY, connected)
    return ConnectResult([account.id or 0], [_display(account)], ACCOUNTS_PATH)


def connect_sandbox(
    session: Session, *, user_id: int, workspace_id: int, name: str, handle: str, settings: Any = None
) -> ConnectResult:
    """The built-in sandbox account: posts land on PostForge's own sandbox feed."""
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="manage_accounts")
    _offered(Platform.SANDBOX.value, settings or _settings(), kind="builtin")
    name = name.strip()
    if not name:
        raise ValidationFailed("Give the sandbox account a display name.", field="name")
    if len(name) > 80:
        raise ValidationFailed("Keep the display name to 80 characters.", field="name")
    handle = handle.strip()
    if not HANDLE_PATTERN.match(handle):
        raise ValidationFailed(
            "A handle is 1 to 30 letters, digits, dots, dashes or underscores, like @acme.", field="handle"
        )
    handle = "@" + handle.lstrip("@")
    connected = adapter_for(Platform.SANDBOX).connect_builtin(name, handle)  # type: ignore[attr-defined]
    account = _upsert(session, workspace_id, user_id, Platform.SANDBOX, connected)
    return ConnectResult([account.id or 0], [_display(account)], ACCOUNTS_PATH)


def normalize_bluesky_identifier(identifier: str) -> str:
    """A handle (ada.bsky.social), a DID or the account's email, as Bluesky's createSession takes."""
    value = identifier.strip()
    if value.startswith("@"):
        value = value[1:]
    if not value:
        raise ValidationFailed("Enter your Bluesky handle, like ada.bsky.social.", field="identifier")
    if "@" in value:
        local, _, domain = value.partition("@")
        if local and "." in domain:
            return value  # the account's email address
        raise ValidationFailed("That is not an email address or a Bluesky handle.", field="identifier")
    if value.startswith("did:"):
        if BLUESKY_DID.match(value):
            return value
        raise ValidationFailed("A Bluesky DID looks like did:plc:abc123…", field="identifier")
    lowered = value.lower()
    if not BLUESKY_HANDLE.match(lowered):
        raise ValidationFailed(
            "A Bluesky handle is a domain name, like ada.bsky.social or ada.example.com.", field="identifier"
        )
    return lowered


def normalize_instance_url(value: str) -> str:
    """ "mastodon.social", "https://mastodon.social/", "@ada@mastodon.social" → https://mastodon.social."""
    text = value.strip()
    if not text:
        raise ValidationFailed("Enter your Mastodon server, like mastodon.social.", field="instance_url")
    if "://" not in text and "@" in text:
        text = text.rsplit("@", 1)[-1]  # a full handle: the server is after the last @
    return _base_url(text, field="instance_url", what="Mastodon server")


def normalize_service_url(value: str) -> str:
    return _base_url(value.strip(), field="service_url", what="PDS")


def _base_url(text: str, *, field: str, what: str) -> str:
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = (parts.hostname or "").lower()
    problem = ""
    if parts.scheme not in ("https", "http") or not host:
        problem = f"That is not a {what} address. Enter it like mastodon.social."
    elif parts.scheme == "http" and not _is_local(host):
        problem = f"The {what} must use https://."
    elif "." not in host and not _is_local(host):
        problem = f"That is not a {what} address. Enter it like mastodon.social."
    elif parts.username or parts.password or parts.query or parts.fragment:
        problem = f"Enter only the {what}'s address, without a user name, query or #."
    if problem:
        raise ValidationFailed(problem, field=field)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _is_local(host: str) -> bool:
    """Plain http is allowed only for a server on this machine (development, tests)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- disconnecting --------------------------------------------------------------------------------


def disconnect(session: Session, *, user_id: int, account_id: int) -> int:
    """Disconnect an account: its tokens are erased (the only place that erases tokens), its row
    and published history stay, and posts still waiting to go out on it fail with a message.

    Waiting destinations *fail* rather than being cancelled: the user meant them to be published,
    so they show up as failed with the reason, and "Retry" publishes them once the account is
    reconnected. A destination being published right now is left to finish. One waiting to be
    tried again after an unconfirmed try may already be live: it goes to review instead, never
    to failed (see `publish_history`). Returns how many destinations were stopped.
    """
    account = session.get(SocialAccount, account_id)
    if account is None:
        raise NotFound("This account does not exist.")
    workspaces.authorize(
        session, user_id=user_id, workspace_id=account.workspace_id, action="manage_accounts"
    )
    now = utcnow()
    account.status = AccountStatus.DISCONNECTED
    account.access_token_enc = account.refresh_token_enc = None
    account.token_expires_at = None
    account.last_error = ""
    account.updated_at = now
    session.add(account)
    message = DISCONNECTED_ERROR.format(name=_display(account))
    waiting = session.exec(
        select(PostDestination).where(
            PostDestination.social_account_id == account_id, col(PostDestination.status).in_(WAITING)
        )
    ).all()
    maybe_live = publish_history.unconfirmed(session, waiting)
    for destination in waiting:
        if destination.id in maybe_live:
            destination.status = DestinationStatus.NEEDS_REVIEW
            destination.last_error = publish_history.review_message(
                f"the account {_display(account)} was disconnected; reconnect it before posting again."
            )
        else:
            destination.status = DestinationStatus.FAILED
            destination.last_error = message
        destination.next_attempt_at = None
        destination.lease_until = None
        session.add(destination)
    session.flush()
    _rederive_posts(session, {d.post_id for d in waiting}, now)
    return len(waiting)


def _rederive_posts(session: Session, post_ids: set[int], now: datetime) -> None:
    for post_id in post_ids:
        post = session.get(Post, post_id)
        if post is None:
            continue
        statuses = session.exec(
            select(PostDestination.status).where(PostDestination.post_id == post_id)
        ).all()
        derived = post_status.derive_post_status(statuses)
        if derived is not None and derived != post.status:
            post.status = derived
            post.updated_at = now
            session.add(post)
    session.flush()


# --- shared steps ---------------------------------------------------------------------------------


def _upsert(
    session: Session, workspace_id: int, user_id: int, platform: Platform, connected: ConnectedAccount
) -> SocialAccount:
    """One row per workspace, platform and platform account: a reconnect refreshes the same row."""
    profile = connected.profile
    account = _existing(session, workspace_id, platform, profile.platform_account_id)
    if account is None:
        _require_room(session, workspace_id)
        account = SocialAccount(
            workspace_id=workspace_id,
            connected_by_id=user_id,
            platform=platform,
            platform_account_id=profile.platform_account_id,
        )
    elif account.status == AccountStatus.DISCONNECTED:
        _require_room(session, workspace_id)  # coming back from disconnected takes a place again
    account.handle = profile.handle[:255]
    account.display_name = (profile.display_name or "")[:255]
    account.avatar_url = (profile.avatar_url or "")[:1024]
    account.instance_url = connected.instance_url or account.instance_url
    account.settings = {**(account.settings or {}), **dict(profile.settings)}
    account_tokens.store_tokens(account, connected.tokens)
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:  # the same account connected at the same moment: update that row
        existing = _existing(session, workspace_id, platform, profile.platform_account_id)
        if existing is None:
            raise
        return _upsert(session, workspace_id, user_id, platform, connected)
    return account


def _existing(
    session: Session, workspace_id: int, platform: Platform, platform_account_id: str
) -> SocialAccount | None:
    return session.exec(
        select(SocialAccount).where(
            SocialAccount.workspace_id == workspace_id,
            SocialAccount.platform == platform,
            SocialAccount.platform_account_id == platform_account_id,
        )
    ).first()


def _require_room(session: Session, workspace_id: int) -> None:
    tier = billing.workspace_tier(session, workspace_id)
    limit = tier.limit("max_accounts", default=0)
    if limit <= 0:
        return  # no limit configured for this plan
    used = session.exec(
        select(func.count())
        .select_from(SocialAccount)
        .where(
            SocialAccount.workspace_id == workspace_id,
            col(SocialAccount.status).in_((AccountStatus.CONNECTED, AccountStatus.NEEDS_RECONNECT)),
        )
    ).one()
    if used >= limit:
        raise ConnectRefused(
            f"The {tier.plan.name} plan connects up to {limit} account{'s' if limit != 1 else ''} and this "
            f"workspace has {used}. Disconnect one, or upgrade on the Billing page."
        )


def _offered(platform: str, settings: Any, *, kind: str) -> Platform:
    options = {option.platform: option for option in available_platforms(settings)}
    option = options.get(str(platform).strip().lower())
    if option is None:
        raise ValidationFailed("That platform can't be connected on this installation.", field="platform")
    if option.connect_kind != kind:
        raise ValidationFailed(f"{option.label} accounts are connected another way.", field="platform")
    return Platform(option.platform)


def _reconnect_target(
    session: Session, workspace_id: int, platform: Platform, account_id: int | None
) -> SocialAccount | None:
    if not account_id:
        return None
    account = session.get(SocialAccount, account_id)
    if account is None or account.workspace_id != workspace_id or account.platform != platform:
        raise NotFound("The account to reconnect is not in this workspace.")
    return account


def _destination_counts(session: Session, workspace_id: int) -> dict[tuple[int, str], int]:
    bucket = sa.case(
        (col(PostDestination.status).in_((*WAITING, DestinationStatus.PUBLISHING)), "waiting"),
        (PostDestination.status == DestinationStatus.PUBLISHED, "published"),
        else_="other",
    )
    rows = session.exec(
        select(PostDestination.social_account_id, bucket, func.count())
        .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
        .where(SocialAccount.workspace_id == workspace_id)
        .group_by(PostDestination.social_account_id, bucket)
    ).all()
    return {(account_id, kind): count for account_id, kind, count in rows}


def _record(session: Session, attempt_id: int, outcome: ConnectOutcome) -> None:
    attempt = session.get(OAuthAttempt, attempt_id)
    if attempt is None:
        return
    attempt.details = {
        **(attempt.details or {}),
        "outcome": {"ok": outcome.ok, "message": outcome.message, "account_ids": outcome.account_ids},
    }
    session.add(attempt)
    session.flush()


def _connected_message(names: list[str]) -> str:
    return f"Connected {', '.join(names)}." if names else "Connected."


def _display(account: SocialAccount) -> str:
    return account.handle or account.display_name or account.platform_account_id


def _connect_kind(platform: Platform | str) -> str:
    adapter = _adapter_class_or_none(platform)
    return adapter.connect_kind if adapter else "oauth"


def _adapter_class_or_none(platform: Platform | str) -> type[PlatformAdapter] | None:
    """The adapter class, or None while a platform's module is not part of this installation."""
    try:
        return adapter_class(platform)
    except ModuleNotFoundError as missing:
        if missing.name and missing.name.startswith("postforge.platforms."):
            return None
        raise


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _settings() -> Any:
    from postforge.settings import get_settings

    return get_settings()
