"""LinkedIn: member posts through the versioned Posts API (`POST /rest/posts`).

Connecting is OAuth 2 (authorization code, confidential web app) with the OpenID scopes plus
`w_member_social`; the member's OpenID `sub` names the author, `urn:li:person:<sub>`.

What makes LinkedIn different from the other platforms:

* **No idempotency key.** A post whose answer never arrived may exist; the engine turns that
  `Unknown` into needs_review. Posting the same text again is refused with 422 "Content is a
  duplicate of urn:li:share:…", which we surface (with a link) instead of posting twice.
* **"little" text.** `commentary` is LinkedIn's little text format, where
  `\\ | { } @ [ ] ( ) < > # * _ ~` are markup. An unescaped one makes LinkedIn cut the post
  there and still answer 201, so `little_text` escapes every reserved character — except the
  `#` of a hashtag, which is a little HashtagElement and so stays clickable.
* **Tokens** live 60 days. Refresh tokens exist only for apps in LinkedIn's Marketing Developer
  Platform; everyone else reconnects, so `can_refresh` is true only when a refresh token was given.
* **Throttling** is daily (members and apps), unpublished, and reset at midnight UTC; a 429 carries
  no reset header, so we wait until the next midnight UTC.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from postforge.models.social import Platform
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    AuthExpired,
    ConnectedAccount,
    ConnectFailed,
    OAuthClientConfig,
    Outcome,
    PlatformAdapter,
    PostMetricsSnapshot,
    Published,
    PublishRequest,
    RateLimited,
    RateLimitPolicy,
    RefreshRevoked,
    RefreshUnavailable,
    Rejected,
    TokenSet,
    Unknown,
    classify_http_error,
    error_message,
    retry_at_from_headers,
    send,
)
from postforge.platforms.rules import text_problems

SCOPES = ("openid", "profile", "email", "w_member_social")
RESTLI_PROTOCOL_VERSION = "2.0.0"
POST_URL = "https://www.linkedin.com/feed/update/{urn}/"

# The characters little text reserves for its elements and templates.
LITTLE_RESERVED = frozenset("\\|{}@[]()<>#*_~")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# A hashtag: `#` not glued to a preceding letter or digit (`C#` is not one), then letters and
# digits with at least one letter (LinkedIn does not make `#2024` a hashtag). `_` is reserved in
# little text, so a hashtag ends before it; the rest is escaped and reads the same.
_HASHTAG = re.compile(r"(?<![^\W_])#(?=[^\W_]*[^\W\d_])[^\W_]+")
_DUPLICATE = re.compile(r"duplicate of (urn:li:(?:share|ugcPost|activity):\d+)", re.IGNORECASE)
_JAVA_EXCEPTION_PREFIX = re.compile(r"^(?:[\w$]+\.)+[\w$]*Exception:\s*")


def little_text(text: str) -> str:
    """`text` as little-format commentary that LinkedIn shows exactly as written.

    Every reserved character is backslash-escaped, so nothing is read as markup and nothing is
    truncated. Hashtags are the exception: `#word` is written as a HashtagElement so it stays a
    hashtag. Inside a URL everything is escaped (a `#fragment` is not a hashtag); LinkedIn shows
    the unescaped URL text.
    """
    pieces: list[str] = []
    position = 0
    for url in _URL.finditer(text):
        pieces.append(_escape_keeping_hashtags(text[position : url.start()]))
        pieces.append(_escape(url.group()))
        position = url.end()
    pieces.append(_escape_keeping_hashtags(text[position:]))
    return "".join(pieces)


def _escape_keeping_hashtags(segment: str) -> str:
    pieces: list[str] = []
    position = 0
    for hashtag in _HASHTAG.finditer(segment):
        pieces.append(_escape(segment[position : hashtag.start()]))
        pieces.append(hashtag.group())  # `#` + letters and digits: nothing in it needs escaping
        position = hashtag.end()
    pieces.append(_escape(segment[position:]))
    return "".join(pieces)


def _escape(segment: str) -> str:
    return "".join(f"\\{char}" if char in LITTLE_RESERVED else char for char in segment)


class LinkedInAdapter(PlatformAdapter):
    platform = Platform.LINKEDIN
    label = "LinkedIn"
    idempotent = False
    connect_kind = "oauth"
    # LinkedIn's member posting limits are daily and unpublished (about 150 a day is reported);
    # 100 a day keeps us under that with room for what the member posts by hand.
    rate_limit = RateLimitPolicy(capacity=100, per_seconds=86400)
    # Tokens last 60 days; refreshing (partners only) a day early is plenty.
    refresh_margin = timedelta(days=1)

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        if request.media:
            return Rejected(
                "PostForge posts text only to LinkedIn for now; remove the media or post it on LinkedIn.",
                http_status=None,
            )
        problems = text_problems(Platform.LINKEDIN, request.text)
        if problems:
            return Rejected("; ".join(problems), http_status=422)
        with self.http() as client:
            response = send(
                client,
                "POST",
                f"{self.settings.linkedin_api_base}/rest/posts",
                json=_post_body(request.account.platform_account_id, request.text),
                headers=self._rest_headers(request.account.access_token),
            )
        if not isinstance(response, httpx.Response):
            return response
        return self._publish_outcome(response)

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """Likes and comments of a post (`GET /rest/socialActions/{urn}`); None when LinkedIn
        won't say now. Reading them needs `r_member_social`, which LinkedIn grants to approved
        apps only: for everyone else this is a 403 and so None."""
        if not platform_post_id.startswith("urn:li:"):
            return None
        with self.http() as client:
            response = send(
                client,
                "GET",
                # Rest.li 2.0 wants the URN percent-encoded as one path segment (its colons too).
                f"{self.settings.linkedin_api_base}/rest/socialActions/{quote(platform_post_id, safe='')}",
                headers=self._rest_headers(account.access_token),
            )
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            return None
        body = _json(response)
        likes = body.get("likesSummary")
        comments = body.get("commentsSummary")
        if not isinstance(likes, dict) and not isinstance(comments, dict):
            return None  # not a social actions answer
        comments = comments if isinstance(comments, dict) else {}
        comment_count = _count(comments.get("aggregatedTotalComments"))
        if comment_count is None:
            comment_count = _count(comments.get("totalFirstLevelComments"))
        return PostMetricsSnapshot(
            likes=_count(likes.get("totalLikes")) if isinstance(likes, dict) else None,
            comments=comment_count,
        )

    def _rest_headers(self, access_token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {access_token}",
            "LinkedIn-Version": self.settings.linkedin_version,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION,
        }

    def _publish_outcome(self, response: httpx.Response) -> Outcome:
        status = response.status_code
        if status == 201:
            urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
            if not urn:  # created, but we cannot say which post it is: a person must look
                return Unknown("LinkedIn accepted the post but did not say which post it made.", status)
            return Published(urn, url=POST_URL.format(urn=urn))
        message = _linkedin_message(response)
        if status == 429:
            return RateLimited(
                _daily_reset(response.headers), error=f"LinkedIn's daily limit is reached. {message}"
            )
        if status == 401:
            return AuthExpired(
                f"LinkedIn no longer accepts this account's token: {message}", http_status=status
            )
        if status == 426:
            return Rejected(
                f"LinkedIn refused API version {self.settings.linkedin_version}: {message} "
                "Set LINKEDIN_VERSION to a current YYYYMM version.",
                http_status=status,
            )
        duplicate = _DUPLICATE.search(message)
        if status == 422 and duplicate:
            urn = duplicate.group(1)
            return Rejected(
                "LinkedIn reports an identical post already exists on this account "
                f"({POST_URL.format(urn=urn)}) — probably this one was published already.",
                http_status=status,
            )
        return classify_http_error(response, message)

    # -- tokens ---------------------------------------------------------------------------------

    def can_refresh(self, account: AccountCredentials) -> bool:
        return bool(account.refresh_token)

    def refresh(self, account: AccountCredentials) -> TokenSet:
        if not account.refresh_token:
            raise RefreshRevoked(
                "LinkedIn only renews access for partner apps; reconnect the account (every 60 days)."
            )
        client_id, client_secret = self.settings.linkedin_client_id, self.settings.linkedin_client_secret
        if not (client_id and client_secret):
            raise RefreshUnavailable(_NOT_CONFIGURED)
        with self.http() as client:
            response = send(
                client,
                "POST",
                self._token_url(),
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": account.refresh_token,
                    "client_id": client_id,
                    "client_secret": client_secret,
                },
                headers={"Accept": "application/json"},
            )
        if not isinstance(response, httpx.Response):
            raise RefreshUnavailable(f"Could not reach LinkedIn to renew access: {response.error}")
        if response.status_code == 429 or response.status_code >= 500:
            raise RefreshUnavailable(f"LinkedIn could not renew access now ({response.status_code}).")
        if response.status_code != 200:
            raise RefreshRevoked(
                f"LinkedIn refused to renew access: {error_message(response)}. Reconnect the account.",
                http_status=response.status_code,
            )
        body = _json(response)
        if not body.get("access_token"):
            raise RefreshUnavailable("LinkedIn's renewal answer carried no access token.")
        return token_set(body)

    # -- connecting -----------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        settings = self.settings
        if not (settings.linkedin_client_id and settings.linkedin_client_secret):
            raise ConnectFailed(_NOT_CONFIGURED)
        return OAuthClientConfig(
            authorize_url=f"{settings.linkedin_auth_base}/oauth/v2/authorization",
            token_url=self._token_url(),
            client_id=settings.linkedin_client_id,
            client_secret=settings.linkedin_client_secret,
            scopes=SCOPES,
            # LinkedIn offers PKCE only to native apps; a web app authenticates with its secret.
            pkce=False,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 — a method name
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        access_token = token.get("access_token")
        if not access_token:
            raise ConnectFailed("LinkedIn sent no access token; try connecting again.")
        with self.http() as client:
            response = send(
                client,
                "GET",
                f"{self.settings.linkedin_api_base}/v2/userinfo",
                headers={"Authorization": f"Bearer {access_token}"},
            )
        if not isinstance(response, httpx.Response):
            raise ConnectFailed(f"Could not reach LinkedIn to read your profile: {response.error}")
        if response.status_code != 200:
            raise ConnectFailed(
                f"LinkedIn did not share your profile: {_linkedin_message(response)}",
                http_status=response.status_code,
            )
        member = _json(response)
        sub = str(member.get("sub") or "")
        if not sub:
            raise ConnectFailed("LinkedIn's profile answer did not say who you are; try connecting again.")
        name = str(
            member.get("name")
            or " ".join(filter(None, (member.get("given_name"), member.get("family_name"))))
        )
        profile = AccountProfile(
            platform_account_id=f"urn:li:person:{sub}",
            handle=name or sub,
            display_name=name,
            avatar_url=str(member.get("picture") or ""),
        )
        return [ConnectedAccount(profile=profile, tokens=token_set(token))]

    def _token_url(self) -> str:
        return f"{self.settings.linkedin_auth_base}/oauth/v2/accessToken"


_NOT_CONFIGURED = "LinkedIn is not configured: set LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET"


def _post_body(author: str, text: str) -> dict[str, Any]:
    return {
        "author": author,
        "commentary": little_text(text),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


def _linkedin_message(response: httpx.Response) -> str:
    """LinkedIn's `message`, without the Java exception class it sometimes starts with."""
    return (
        _JAVA_EXCEPTION_PREFIX.sub("", error_message(response))
        or f"LinkedIn answered {response.status_code}."
    )


def _daily_reset(headers: Mapping[str, str], *, now: datetime | None = None) -> datetime:
    """A 429 from LinkedIn means a daily limit, reset at midnight UTC; it sends no reset header,
    but if one ever comes, it wins."""
    now = now or datetime.now(UTC)
    lowered = {key.lower() for key in headers}
    if lowered & {"retry-after", "x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"}:
        return retry_at_from_headers(headers, now=now)
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def token_set(token: Mapping[str, Any]) -> TokenSet:
    """A token endpoint's answer (or authlib's token dict) as a TokenSet. LinkedIn lists scopes
    with commas; they are stored space-separated like every other platform's."""
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
        expires_at=_expires_at(token),
        scopes=" ".join(part for part in re.split(r"[,\s]+", str(token.get("scope") or "")) if part),
    )


def _expires_at(token: Mapping[str, Any]) -> datetime | None:
    if token.get("expires_at"):  # authlib computes it when it fetched the token
        return datetime.fromtimestamp(float(token["expires_at"]), UTC)
    if token.get("expires_in"):
        return datetime.fromtimestamp(time.time() + float(token["expires_in"]), UTC)
    return None
