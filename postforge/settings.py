"""One typed settings object, read from the environment (and an optional `.env`).

Every default is the embedded mode: a SQLite file under `data/`, a Celery broker that needs
no server, the offline AI provider, the sandbox platform and the sandbox checkout. Production
sets `DATABASE_URL`, `REDIS_URL` and the API keys. A missing or malformed value stops the
process at start-up with a message naming the variable (`SettingsError`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Placeholders that must never reach production (copied from examples or left empty).
_PLACEHOLDER_SECRETS = {"", "changethis", "change-me", "secret", "dev-secret-key-not-for-production"}
DEV_SECRET_KEY = "dev-secret-key-not-for-production"  # noqa: S105 — refused in production


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    environment: Literal["embedded", "production", "test"] = Field(
        "embedded", description="embedded (laptop, no servers), production, or test."
    )
    data_dir: Path = Field(
        PROJECT_ROOT / "data", description="Where embedded mode keeps its SQLite files, outbox and media."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty: SQLite under DATA_DIR. Production: postgresql+psycopg://…"
    )
    redis_url: str = Field(
        "",
        description="redis://… Celery broker, Reflex state, rate limits. Empty: embedded broker.",
    )
    secret_key: str = Field(
        DEV_SECRET_KEY, description="Signs sessions and internal requests. Required in production."
    )
    app_url: str = Field(
        "http://localhost:3000", description="Public URL of the web app (links in emails, OAuth redirects)."
    )
    host: str = Field("127.0.0.1", description="Address the web app binds to (0.0.0.0 to serve a network).")
    port: int = Field(3000, ge=1, le=65535, description="Port the web app listens on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    # Worker
    worker_concurrency: int = Field(2, ge=1, le=256, description="Celery worker processes/threads.")
    heartbeat_interval_seconds: float = Field(
        5.0, gt=0, le=300, description="How often beat asks a worker to record its heartbeat."
    )
    heartbeat_stale_seconds: float = Field(
        60.0, gt=0, description="A worker heartbeat older than this is reported as dead."
    )

    # AI
    anthropic_api_key: str = Field("", description="Claude API key. Empty: the offline sample generator.")
    anthropic_base_url: str = Field("", description="Override the Anthropic API base URL (tests, proxies).")
    anthropic_model: str = Field("claude-sonnet-4-6", description="Claude model id used for generation.")
    anthropic_max_tokens: int = Field(1024, ge=64, le=64000, description="Max tokens per generation.")
    anthropic_timeout_seconds: float = Field(60.0, gt=0, le=600, description="Timeout per Claude request.")

    # Billing
    stripe_secret_key: str = Field("", description="Stripe secret key. Empty: the sandbox checkout.")
    stripe_webhook_secret: str = Field("", description="whsec_… secret that signs Stripe webhooks.")
    stripe_api_base: str = Field("", description="Override the Stripe API base URL (tests).")
    stripe_webhook_tolerance_seconds: int = Field(
        300, ge=1, le=86400, description="Max webhook age (at least 1: 0 would switch the age check off)."
    )

    # Social platforms
    token_encryption_keys: str = Field(
        "",
        description="Comma-separated Fernet keys, newest first, for tokens at rest. Required in production.",
    )
    sandbox_platform_enabled: bool = Field(True, description="Offer the built-in sandbox social platform.")
    platform_http_timeout_seconds: float = Field(
        20.0,
        gt=0,
        le=300,
        description="Total time one request to a social platform may take, connect to last byte.",
    )
    platform_rate_limits: str = Field(
        "",
        description=(
            "Per-account publish buckets overriding the platform defaults: "
            "'x=100/900,mastodon=300/300' (publishes per seconds)."
        ),
    )
    bluesky_service_url: str = Field("https://bsky.social", description="Bluesky PDS / entryway URL.")
    bluesky_video_url: str = Field(
        "https://video.bsky.app", description="Bluesky's video service (uploads and processes post videos)."
    )
    linkedin_client_id: str = Field("", description="LinkedIn app client id. Empty: LinkedIn is not offered.")
    linkedin_client_secret: str = Field("", description="LinkedIn app client secret.")
    linkedin_api_base: str = Field("https://api.linkedin.com", description="LinkedIn REST API URL.")
    linkedin_auth_base: str = Field("https://www.linkedin.com", description="LinkedIn OAuth URL.")
    linkedin_version: str = Field("202610", description="LinkedIn-Version header (YYYYMM).")
    x_client_id: str = Field("", description="X (Twitter) OAuth 2 client id. Empty: X is not offered.")
    x_client_secret: str = Field("", description="X OAuth 2 client secret (confidential clients).")
    x_api_base: str = Field("https://api.x.com", description="X API URL.")
    x_auth_base: str = Field("https://x.com", description="X authorization page URL.")
    threads_app_id: str = Field("", description="Threads app id. Empty: Threads is not offered.")
    threads_app_secret: str = Field("", description="Threads app secret.")
    threads_api_base: str = Field("https://graph.threads.net", description="Threads Graph API URL.")
    threads_auth_base: str = Field("https://threads.net", description="Threads authorization page URL.")
    facebook_app_id: str = Field(
        "", description="Meta app id for Facebook Pages and Instagram. Empty: neither is offered."
    )
    facebook_app_secret: str = Field("", description="Meta app secret.")
    facebook_graph_base: str = Field("https://graph.facebook.com", description="Facebook Graph API URL.")
    facebook_auth_base: str = Field("https://www.facebook.com", description="Facebook login dialog URL.")
    facebook_graph_version: str = Field("v24.0", description="Graph API version for Facebook and Instagram.")
    youtube_client_id: str = Field(
        "", description="Google OAuth client id for YouTube uploads. Empty: YouTube is not offered."
    )
    youtube_client_secret: str = Field("", description="Google OAuth client secret.")
    youtube_api_base: str = Field(
        "https://www.googleapis.com", description="YouTube Data API and upload URL."
    )
    youtube_auth_base: str = Field("https://accounts.google.com", description="Google consent page URL.")
    youtube_oauth_base: str = Field("https://oauth2.googleapis.com", description="Google token endpoint URL.")
    tiktok_client_key: str = Field("", description="TikTok app client key. Empty: TikTok is not offered.")
    tiktok_client_secret: str = Field("", description="TikTok app client secret.")
    tiktok_api_base: str = Field("https://open.tiktokapis.com", description="TikTok Open API URL.")
    tiktok_auth_base: str = Field("https://www.tiktok.com", description="TikTok authorization page URL.")

    # Outbound HTTP policy (postforge/outbound.py)
    outbound_allow_private_hosts: bool | None = Field(
        None,
        description=(
            "Let user-named servers (Mastodon instance, Bluesky PDS) be this machine or a private "
            "network, over http:// too. Empty: on in embedded and test, off in production."
        ),
    )
    outbound_max_response_bytes: int = Field(
        1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest answer read from another server."
    )

    @property
    def outbound_private_hosts_allowed(self) -> bool:
        if self.outbound_allow_private_hosts is not None:
            return self.outbound_allow_private_hosts
        return self.environment != "production"

    # Publishing engine
    publish_max_attempts: int = Field(
        6, ge=1, le=50, description="Tries per destination before it is marked failed (waits don't count)."
    )
    publish_backoff_base_seconds: float = Field(
        15.0, gt=0, le=3600, description="First retry delay after a transient failure; doubles each try."
    )
    publish_backoff_max_seconds: float = Field(
        1800.0, gt=0, le=86400, description="Longest delay between two tries."
    )
    publish_lease_seconds: float = Field(
        120.0, ge=5, le=3600, description="How long a claimed destination is held before the reaper frees it."
    )
    dispatch_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="How often beat looks for due destinations."
    )
    dispatch_batch_size: int = Field(500, ge=1, le=10000, description="Most destinations claimed per look.")
    metrics_interval_minutes: float = Field(
        60.0, ge=1, le=1440, description="How often a fresh post's likes, comments and shares are read again."
    )
    metrics_window_days: int = Field(
        7, ge=0, le=90, description="How long after publishing a post's numbers are collected (0: never)."
    )
    metrics_batch_size: int = Field(
        200, ge=1, le=5000, description="Most posts whose numbers are read per run."
    )

    # Media library: files in a folder under DATA_DIR, or in an S3-compatible bucket
    media_s3_bucket: str = Field("", description="S3 bucket for media files. Empty: a folder under DATA_DIR.")
    media_s3_endpoint_url: str = Field(
        "", description="S3-compatible endpoint (MinIO, R2, Ceph…). Empty: AWS S3 for MEDIA_S3_REGION."
    )
    media_s3_region: str = Field("us-east-1", description="Region of the media bucket.")
    media_s3_access_key_id: str = Field(
        "", description="Access key for the media bucket. Empty: boto3's usual sources (role, profile)."
    )
    media_s3_secret_access_key: str = Field("", description="Secret key for the media bucket.")
    media_public_base_url: str = Field(
        "",
        description=(
            "Public URL prefix the media files are served under (a CDN before the bucket). "
            "Empty: short-lived signed links."
        ),
    )
    media_max_image_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest image file accepted, in bytes."
    )
    media_max_video_bytes: int = Field(
        2 * 1024 * 1024 * 1024, ge=1024, description="Largest video file accepted, in bytes."
    )
    media_max_image_pixels: int = Field(
        50_000_000,
        ge=1_000_000,
        description="Most pixels (width x height) an image may have; more is refused as a decompression bomb.",
    )
    media_url_ttl_seconds: int = Field(
        3600, ge=60, le=7 * 86400, description="How long a signed upload or download link works."
    )
    media_unconfirmed_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="Uploads never confirmed are removed after this many hours."
    )
    media_deleted_grace_hours: float = Field(
        72.0,
        ge=0,
        le=24 * 365,
        description="Deleted media no scheduled post uses is purged from storage after this many hours.",
    )

    # Sign-in with external providers and identity webhooks
    api_url: str = Field(
        "", description="Public URL of the backend (OAuth callbacks, webhooks). Empty: APP_URL. Dev: :8000."
    )
    oidc_issuer: str = Field("", description="Issuer URL of a generic OpenID Connect provider. Empty: off.")
    oidc_client_id: str = Field("", description="Client id registered at the OIDC provider.")
    oidc_client_secret: str = Field("", description="Client secret registered at the OIDC provider.")
    oidc_label: str = Field("Single sign-on", description="Button label for the generic OIDC provider.")
    google_client_id: str = Field("", description="Google OAuth client id. Empty: no Google sign-in.")
    google_client_secret: str = Field("", description="Google OAuth client secret.")
    github_client_id: str = Field("", description="GitHub OAuth app client id. Empty: no GitHub sign-in.")
    github_client_secret: str = Field("", description="GitHub OAuth app client secret.")
    github_web_base: str = Field(
        "https://github.com", description="GitHub web URL (GitHub Enterprise, tests)."
    )
    github_api_base: str = Field("https://api.github.com", description="GitHub API URL (Enterprise, tests).")
    clerk_webhook_secret: str = Field(
        "", description="whsec_… secret of the Clerk webhook endpoint. Empty: the endpoint answers 503."
    )

    # Mail
    smtp_url: str = Field("", description="smtp://user:pass@host:port for outgoing mail. Empty: dev outbox.")
    mail_from: str = Field("PostForge <noreply@localhost>", description="From address of outgoing mail.")

    # Network edge: the reverse proxies in front of the web app, and the browsers allowed to call it
    trusted_proxies: str = Field(
        "",
        description=(
            "Reverse proxies whose X-Forwarded-For is believed: a hop count (1) or CIDRs "
            "(10.0.0.0/8,fd00::/8). Empty: the header is ignored."
        ),
    )

    cors_extra_origins: str = Field(
        "",
        description=(
            "More browser origins (https://host[:port], comma-separated) whose pages may call the "
            "backend with credentials, beside APP_URL and API_URL."
        ),
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        from postforge.services.infra.client_address import parse_trusted_proxies

        parse_trusted_proxies(value)  # raises ValueError naming the bad part
        return value.strip()

    @field_validator("cors_extra_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        return ",".join(web_origin(part, exact=True) for part in value.split(",") if part.strip())

    @property
    def cors_allowed_origins(self) -> tuple[str, ...]:
        """Origins whose pages may call the backend with credentials (Reflex's CORS, the websocket)."""
        app = urlsplit(self.app_url)
        origins = [web_origin(self.app_url)]
        if app.hostname in _LOOPBACK_HOSTS:
            # On a laptop the same server answers at each loopback spelling; no other site can.
            origins += [
                web_origin(app._replace(netloc=_netloc(host, app.port)).geturl()) for host in _LOOPBACK_HOSTS
            ]
        if self.api_url:
            origins.append(web_origin(self.api_url))
        origins += [part for part in self.cors_extra_origins.split(",") if part]
        return tuple(dict.fromkeys(origins))

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        scheme, separator, rest = value.partition("://")
        if scheme in {"postgres", "postgresql"}:
            # Hosting providers hand out postgres:// URLs; psycopg 3 is the driver we ship.
            scheme = "postgresql+psycopg"
        if scheme.startswith("postgresql+") and scheme != "postgresql+psycopg":
            raise ValueError("PostgreSQL URLs must use the psycopg 3 driver: postgresql+psycopg://…")
        if not separator or scheme not in {"sqlite", "postgresql+psycopg"}:
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        url = f"{scheme}://{rest}"
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            raise ValueError("is not a valid database URL (check host, port and credentials)") from None
        if scheme == "postgresql+psycopg" and not (parsed.host or parsed.database):
            raise ValueError("a postgresql+psycopg:// URL needs a host or a database name")
        return url

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Web app, worker and beat must agree on one folder whatever directory each starts in.
        return value.expanduser().resolve()

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str) -> str:
        value = value.strip()
        if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator(
        "app_url",
        "anthropic_base_url",
        "stripe_api_base",
        "api_url",
        "oidc_issuer",
        "github_web_base",
        "github_api_base",
        "bluesky_service_url",
        "bluesky_video_url",
        "linkedin_api_base",
        "linkedin_auth_base",
        "x_api_base",
        "x_auth_base",
        "threads_api_base",
        "threads_auth_base",
        "facebook_graph_base",
        "facebook_auth_base",
        "media_s3_endpoint_url",
        "media_public_base_url",
        "youtube_api_base",
        "youtube_auth_base",
        "youtube_oauth_base",
        "tiktok_api_base",
        "tiktok_auth_base",
    )
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        value = value.strip()
        if value and urlsplit(value).scheme not in {"smtp", "smtps"}:
            raise ValueError("must be an smtp:// or smtps:// URL")
        return value

    @field_validator("token_encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: str) -> str:
        from cryptography.fernet import Fernet

        for key in filter(None, (k.strip() for k in value.split(","))):
            try:
                Fernet(key)
            except Exception:
                raise ValueError("each key must be a 32-byte url-safe base64 Fernet key") from None
        return value

    @field_validator("platform_rate_limits")
    @classmethod
    def _rate_limit_overrides(cls, value: str) -> str:
        parse_rate_limits(value)  # raises ValueError naming the bad part
        return value.strip()

    @model_validator(mode="after")
    def _production_needs_real_servers_and_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        missing = []
        if not self.database_url.startswith("postgresql"):
            missing.append(("DATABASE_URL", "production needs a postgresql+psycopg:// URL"))
        if not self.redis_url:
            missing.append(("REDIS_URL", "production needs a Redis URL"))
        if self.secret_key.strip().lower() in _PLACEHOLDER_SECRETS or len(self.secret_key) < 32:
            missing.append(("SECRET_KEY", "production needs a random secret of at least 32 characters"))
        if not self.token_encryption_keys.strip():
            missing.append(("TOKEN_ENCRYPTION_KEYS", "production needs at least one Fernet key"))
        if missing:
            raise ValueError("; ".join(f"{name}: {why}" for name, why in missing))
        return self

    # Derived values -----------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        return not self.redis_url

    @property
    def sync_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'postforge.db'}"

    @property
    def async_database_url(self) -> str:
        url = self.sync_database_url
        if url.startswith("sqlite:"):
            return "sqlite+aiosqlite:" + url[len("sqlite:") :]
        return url  # psycopg 3 serves both sync and async engines

    @property
    def celery_broker_url(self) -> str:
        return self.redis_url or f"sqla+sqlite:///{self.data_dir / 'broker.db'}"

    @property
    def celery_result_backend(self) -> str:
        return self.redis_url or f"db+sqlite:///{self.data_dir / 'celery-results.db'}"

    @property
    def encryption_keys(self) -> list[str]:
        return [k.strip() for k in self.token_encryption_keys.split(",") if k.strip()]

    @property
    def rate_limit_overrides(self) -> dict[str, tuple[int, float]]:
        """platform → (publishes, per seconds) from `PLATFORM_RATE_LIMITS`."""
        return parse_rate_limits(self.platform_rate_limits)

    @property
    def ai_provider(self) -> str:
        return "anthropic" if self.anthropic_api_key else "offline"

    @property
    def checkout_mode(self) -> str:
        """stripe, sandbox (no key: the in-app checkout) or disabled (no key in production)."""
        if self.stripe_secret_key:
            return "stripe"
        return "disabled" if self.environment == "production" else "sandbox"


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _netloc(host: str, port: int | None) -> str:
    return (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")


def web_origin(url: str, *, exact: bool = False) -> str:
    """The origin a browser sends for pages at `url`: scheme://host[:port], lower-case, no default port.

    `exact`: `url` must be an origin already (no path, query or credentials); ValueError otherwise.
    """
    url = url.strip()
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port == -1 or parts.username:
        raise ValueError(f"{url!r} is not an http(s)://host[:port] origin")
    if exact and (parts.path.strip("/") or parts.query or parts.fragment):
        raise ValueError(f"{url!r} is an origin without a path: scheme://host[:port]")
    return (
        f"{parts.scheme}://{_netloc(parts.hostname, None if port == _DEFAULT_PORTS[parts.scheme] else port)}"
    )


def parse_rate_limits(value: str) -> dict[str, tuple[int, float]]:
    """'x=100/900,mastodon=300/300' → {"x": (100, 900.0), "mastodon": (300, 300.0)}."""
    limits: dict[str, tuple[int, float]] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        platform, _, rate = part.partition("=")
        count, _, seconds = rate.partition("/")
        try:
            parsed = (int(count), float(seconds))
        except ValueError:
            parsed = (0, 0.0)
        if not platform.strip() or parsed[0] < 1 or parsed[1] <= 0:
            raise ValueError(f"{part!r} is not platform=publishes/seconds, e.g. x=100/900")
        limits[platform.strip().lower()] = parsed
    return limits


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item.get("loc", ()) if part != "__root__")
        message = item.get("msg", "invalid value").removeprefix("Value error, ")
        if field:
            lines.append(f"{field.upper()}: {message}")
        else:
            lines.append(message)
    return "Invalid configuration — " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, raising `SettingsError` that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
