"""The one interface every social platform adapter implements, and the outcomes it returns.

An adapter speaks one platform's API and nothing else: it never touches the database, never
decides about retries and never sleeps. It turns a publish into exactly one `Outcome`:

* `Published(platform_post_id, url)` — the platform confirmed the post and gave its id;
* `RateLimited(retry_at)` — the platform asked us to wait (429 and its reset headers);
* `Transient(error)` — a failure that did not create anything (5xx, connection refused);
* `AuthExpired(error)` — the token is no longer accepted; a refresh may help;
* `Rejected(reason)` — the platform refused this post for good (too long, duplicate, …);
* `Unknown(error)` — the request may have landed (timeout after sending, dropped connection).

The publishing engine (`services/channels/publishing.py`) decides what each outcome means: a wait, a
retry with backoff, a refresh, a reconnect request, a failure shown to the user, or — for
`Unknown` on a platform without an idempotency mechanism — `needs_review`, never a blind retry.

Adapters are synchronous (`httpx.Client`): they run in Celery worker processes; the web app
calls the few connect-time methods through a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import contextvars
import email.utils
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, ClassVar, Literal

import httpx

from postforge import outbound
from postforge.models.social import Platform

# ---------------------------------------------------------------------------------------------
# Outcomes


# Outcome messages reach pages (a destination's last error, an account's): whatever a platform
# put in them is made short and plain (`outbound.foreign_text`) as the outcome is built.
MESSAGE_LIMIT = 500


def _plain(outcome: Any, name: str) -> None:
    object.__setattr__(outcome, name, outbound.foreign_text(getattr(outcome, name), MESSAGE_LIMIT))


@dataclass(frozen=True)
class Published:
    platform_post_id: str
    url: str = ""  # shown as a link: only an http(s) address is kept

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", outbound.web_url(self.url))


@dataclass(frozen=True)
class RateLimited:
    retry_at: datetime
    error: str = "The platform asked us to slow down."
    http_status: int | None = 429

    def __post_init__(self) -> None:
        _plain(self, "error")


@dataclass(frozen=True)
class Transient:
    error: str
    http_status: int | None = None

    def __post_init__(self) -> None:
        _plain(self, "error")


@dataclass(frozen=True)
class AuthExpired:
    error: str = "The platform no longer accepts this account's token."
    http_status: int | None = 401

    def __post_init__(self) -> None:
        _plain(self, "error")


@dataclass(frozen=True)
class Rejected:
    reason: str
    http_status: int | None = None

    def __post_init__(self) -> None:
        _plain(self, "reason")

    @property
    def error(self) -> str:  # every failed outcome has an `error`
        return self.reason


@dataclass(frozen=True)
class Unknown:
    error: str
    http_status: int | None = None

    def __post_init__(self) -> None:
        _plain(self, "error")


Outcome = Published | RateLimited | Transient | AuthExpired | Rejected | Unknown


# ---------------------------------------------------------------------------------------------
# What an adapter is given and gives back


@dataclass(frozen=True)
class AccountCredentials:
    """Everything an adapter may know about a connected account (tokens already decrypted)."""

    platform_account_id: str
    access_token: str
    refresh_token: str | None = None
    token_expires_at: datetime | None = None
    handle: str = ""
    instance_url: str = ""  # Mastodon instance, Bluesky PDS (empty: the platform's default)
    settings: Mapping[str, Any] = field(default_factory=dict)
    account_id: int | None = None  # PostForge's row id (the sandbox feed keys on it)


@dataclass(frozen=True)
class MediaItem:
    """One image or video of a post, as an adapter sees it.

    `url` is publicly fetchable for a short time (Meta's platforms pull media from a URL); `open`
    streams the bytes for platforms that take an upload, chunk by chunk, never the whole file in
    memory. `media_id` is PostForge's id of the file: adapters key their upload checkpoints on it,
    so a retry reuses what the platform already has instead of uploading (and posting) twice.
    """

    url: str
    mime_type: str
    alt_text: str = ""
    size_bytes: int = 0
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    media_id: int = 0
    open: Callable[[], BinaryIO] | None = None


@dataclass(frozen=True)
class PublishRequest:
    """One destination to publish.

    `state` is what earlier attempts of this destination saved with `checkpoint` (a Bluesky
    record key, a Threads/Instagram container id). An adapter that must remember something
    before a second call — so that a retry after a crash can find it — calls `checkpoint`
    with the new state; the engine has stored it durably when `checkpoint` returns.
    """

    text: str
    idempotency_key: str  # stable for the destination's whole life, 32 hex characters
    account: AccountCredentials
    state: Mapping[str, Any] = field(default_factory=dict)
    media: tuple[MediaItem, ...] = ()
    language: str | None = None
    checkpoint: Callable[[dict[str, Any]], None] = lambda state: None
    # The author's choices for this destination (a video's privacy, …): adapters read their own
    # keys and fall back to safe defaults.
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None = None  # None: the platform sent none — keep the stored one
    expires_at: datetime | None = None
    scopes: str = ""


@dataclass(frozen=True)
class AccountProfile:
    platform_account_id: str
    handle: str
    display_name: str = ""
    avatar_url: str = ""  # shown as an image: only an http(s) address is kept
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. Mastodon max_characters

    def __post_init__(self) -> None:
        object.__setattr__(self, "avatar_url", outbound.web_url(self.avatar_url))


@dataclass(frozen=True)
class ConnectedAccount:
    """What a finished connect produced: who the account is and its tokens."""

    profile: AccountProfile
    tokens: TokenSet
    instance_url: str = ""


@dataclass(frozen=True)
class OAuthClientConfig:
    """How to run the authorization-code flow for one platform (or one Mastodon instance)."""

    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    pkce: bool = True
    # How the client authenticates at the token endpoint (authlib's names).
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_post"  # noqa: S105 — a method name, not a secret
    )
    scope_separator: str = " "
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    # Sent with the code exchange besides the standard fields (TikTok names its client `client_key`).
    extra_token_params: Mapping[str, str] = field(default_factory=dict)
    # The token endpoint lives on a server the user named (a Mastodon instance): the outbound
    # policy's address checks apply to the exchange.
    user_named_host: bool = False


@dataclass(frozen=True)
class RateLimitPolicy:
    """A token bucket: `capacity` publishes at once, refilled evenly over `per_seconds`."""

    capacity: int
    per_seconds: float

    @property
    def refill_per_second(self) -> float:
        return self.capacity / self.per_seconds


@dataclass(frozen=True)
class PostMetricsSnapshot:
    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None


def metric_count(value: Any) -> int | None:
    """A count as a platform's answer gave it: a whole number ≥ 0, else None (unknown)."""
    # bool is an int in Python; a count never is one.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def metric_sum(*counts: int | None) -> int | None:
    """Counts that make one figure (reposts and quotes both spread a post); None only when the
    platform reported none of them."""
    known = [count for count in counts if count is not None]
    return sum(known) if known else None


def upload_budget(settings: Any, override: float | None = None) -> float:
    """How long one publish may spend uploading before it stops at a chunk boundary and lets the
    next try continue from its checkpoint: half the publish lease, so a long video never meets the
    task's time limit in the middle of a chunk."""
    if override is not None:
        return override
    return max(float(getattr(settings, "publish_lease_seconds", 120.0)) * 0.5, 1.0)


class ConnectFailed(Exception):
    """Connecting (or refreshing) failed in a way the user must act on; the message says how."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        message = outbound.foreign_text(message, MESSAGE_LIMIT)  # it may quote the platform
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class ServerUnusable(ConnectFailed):
    """The server named for the account (a Mastodon instance, a Bluesky PDS) is not one PostForge
    can use: it does not answer as that platform's server, or the outbound policy refuses it."""


class RefreshRevoked(ConnectFailed):
    """The platform refused the refresh token (revoked, expired): only a reconnect helps."""


class RefreshUnavailable(Exception):
    """A refresh could not be tried right now (5xx, network); the stored tokens stay as they are."""


# ---------------------------------------------------------------------------------------------
# The interface


class PlatformAdapter(ABC):
    """One social platform. Subclasses set the class attributes and implement `publish`."""

    platform: ClassVar[Platform]
    label: ClassVar[str]
    # Can a retry after `Unknown` be made without risking a second post? (Mastodon's
    # Idempotency-Key, Bluesky's record key, Threads/Instagram containers: yes.)
    idempotent: ClassVar[bool] = False
    connect_kind: ClassVar[Literal["oauth", "password", "builtin"]] = "oauth"
    # Platform default for the per-account token bucket (configurable in settings).
    rate_limit: ClassVar[RateLimitPolicy] = RateLimitPolicy(capacity=10, per_seconds=60)
    # Refresh the token when it expires within this window.
    refresh_margin: ClassVar[timedelta] = timedelta(minutes=5)
    # Does this platform live at a server the user names (a Mastodon instance, a Bluesky PDS)?
    # Then its requests go only to public addresses over https (see `postforge.outbound`).
    user_named_hosts: ClassVar[bool] = False

    def __init__(self, settings: Any = None, *, http: httpx.Client | None = None) -> None:
        from postforge.settings import get_settings

        self.settings = settings or get_settings()
        self._http = http

    # -- publishing ---------------------------------------------------------------------------

    @abstractmethod
    def publish(self, request: PublishRequest) -> Outcome:
        """Publish `request.text` on the account; exactly one outcome, never an exception
        for anything the platform or the network does."""

    def can_refresh(self, account: AccountCredentials) -> bool:
        """Whether `refresh` can renew this account's access (Mastodon: never)."""
        return False

    def refresh(self, account: AccountCredentials) -> TokenSet:
        """New tokens for the account. Raises RefreshRevoked (reconnect needed) or
        RefreshUnavailable (try again later)."""
        raise RefreshRevoked(f"{self.label} accounts can't renew their access; reconnect the account.")

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """Engagement numbers for a published post, or None where the platform offers none."""
        return None

    # -- connecting ---------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        """The OAuth client for this platform (Mastodon: registered per instance, see
        `register_app`). Raises ConnectFailed when the platform is not configured."""
        raise ConnectFailed(f"{self.label} accounts are not connected with OAuth.")

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        """Turn the token endpoint's answer into accounts (fetching the profile; Facebook may
        yield one account per Page). Raises ConnectFailed with the platform's message."""
        raise ConnectFailed(f"{self.label} accounts are not connected with OAuth.")

    def connect_with_password(
        self, identifier: str, password: str, *, instance_url: str = ""
    ) -> ConnectedAccount:
        raise ConnectFailed(f"{self.label} accounts are not connected with a password.")

    # -- shared helpers -----------------------------------------------------------------------

    @contextmanager
    def http(self) -> Iterator[httpx.Client]:
        """The adapter's HTTP client: the injected one (tests), else this thread's shared one,
        built by the outbound policy (a total deadline, a size cap, no redirects; public
        addresses only for user-named hosts).

        Building an `httpx.Client` loads the CA bundle into a new TLS context — about half of a
        publish's time in the benchmark — so each worker thread keeps one and reuses its
        connections. It never carries state between accounts: cookies are dropped before each
        use, and adapters pass tokens per request, never on the client.
        """
        if self._http is not None:
            yield self._http
            return
        client = _thread_client(outbound.policy_for(self.settings, user_named=self.user_named_hosts))
        client.cookies.clear()
        yield client


_local = threading.local()


def _thread_client(policy: outbound.Policy) -> httpx.Client:
    clients: dict[outbound.Policy, httpx.Client] = getattr(_local, "clients", None) or {}
    _local.clients = clients
    client = clients.get(policy)
    if client is None or client.is_closed:
        client = clients[policy] = outbound.client(policy)
    return client


# ---------------------------------------------------------------------------------------------
# Mapping transport failures and common HTTP answers into outcomes


def outcome_of_transport_error(error: httpx.HTTPError) -> Transient | Unknown | Rejected:
    """Connection failures before the request left us are Transient; after, we cannot know.
    A server the outbound policy refuses (a private address, plain http) is Rejected: nothing
    was sent, and retrying would not change the answer."""
    refused = outbound.refusal(error)
    if refused:
        return Rejected(f"PostForge does not connect to this server: {refused}.")
    if isinstance(
        error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol
    ):
        return Transient(f"Could not reach the platform: {_describe(error)}")
    return Unknown(f"The connection ended before the platform answered: {_describe(error)}")


def _describe(error: httpx.HTTPError) -> str:
    return str(error) or type(error).__name__


# How many requests the current publish has sent (see `counting_requests`).
_sent: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("requests_sent", default=None)


@contextmanager
def counting_requests() -> Iterator[list[int]]:
    """Count the requests `send` starts inside the block (`[n]`): the engine asks whether a
    publish that was interrupted can have reached the platform at all."""
    counter = [0]
    token = _sent.set(counter)
    try:
        yield counter
    finally:
        _sent.reset(token)


def send(
    client: httpx.Client, method: str, url: str, **kwargs: Any
) -> httpx.Response | Transient | Unknown | Rejected:
    """`client.request(...)` with transport failures mapped; the body is read before returning."""
    counter = _sent.get()
    if counter is not None:
        counter[0] += 1
    try:
        response = client.request(method, url, **kwargs)
        response.read()
        return response
    except httpx.HTTPError as error:
        return outcome_of_transport_error(error)


def retry_at_from_headers(
    headers: Mapping[str, str], *, now: datetime | None = None, default: timedelta = timedelta(seconds=60)
) -> datetime:
    """When a rate-limited request may be retried, from whichever header the platform sends.

    Understands `Retry-After` (seconds or an HTTP date), `x-rate-limit-reset` / `RateLimit-Reset`
    / `X-RateLimit-Reset` as epoch seconds, seconds-from-now (small numbers) or ISO-8601
    (Mastodon). Without any, `default` from now.
    """
    now = now or datetime.now(UTC)
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = lowered.get("retry-after", "").strip()
    if retry_after:
        if retry_after.isdigit():
            return now + timedelta(seconds=int(retry_after))
        try:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (TypeError, ValueError):
            pass
    for name in ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"):
        value = lowered.get(name, "").strip()
        if not value:
            continue
        reset = _reset_time(value, now)
        if reset is not None:
            return max(reset, now)
    return now + default


def _reset_time(value: str, now: datetime) -> datetime | None:
    try:
        number = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number > 1_000_000_000:  # epoch seconds
        return datetime.fromtimestamp(number, UTC)
    return now + timedelta(seconds=number)  # seconds from now (IETF RateLimit-Reset draft)


def classify_http_error(response: httpx.Response, message: str, *, now: datetime | None = None) -> Outcome:
    """The usual meaning of an unsuccessful answer; adapters handle their own special cases first."""
    status = response.status_code
    if status == 429:
        return RateLimited(retry_at_from_headers(response.headers, now=now), error=message or "Rate limited.")
    if status == 401:
        return AuthExpired(message or "The token was not accepted.", http_status=status)
    if status >= 500:
        return Transient(message or f"The platform answered {status}.", http_status=status)
    if status == 408:
        return Unknown(message or "The platform timed out handling the request.", http_status=status)
    return Rejected(message or f"The platform refused the post ({status}).", http_status=status)


def error_message(response: httpx.Response) -> str:
    """The human part of a platform's error body, short and plain; never the whole body, never
    a web page (a proxy's or a stranger's HTML error page says nothing the user can act on)."""
    try:
        body = response.json()
    except ValueError:
        plain = response.headers.get("Content-Type", "").lower().startswith("text/plain")
        return outbound.foreign_text(response.text[:2000]) if plain else ""
    return outbound.foreign_text(_message_in(body))


def _message_in(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        for key in ("message", "error_description", "detail", "error_message", "title", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                found = _message_in(value)
                if found:
                    return found
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return _message_in(errors[0])
    return ""


# ---------------------------------------------------------------------------------------------
# Small pieces of requests and answers


def bearer(token: str) -> dict[str, str]:
    """The header that authenticates a call with `token`."""
    return {"Authorization": f"Bearer {token}"}


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's body when it is a JSON object; {} for anything else (no JSON, a list, …)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def optional_json(response: httpx.Response | Outcome) -> dict[str, Any]:
    """The JSON object of a 200 answer, else {}: for an optional step of a connect (a profile
    picture, an instance's limits), which never makes the connect fail."""
    if not isinstance(response, httpx.Response) or response.status_code != 200:
        return {}
    return json_object(response)


def new_state_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)
