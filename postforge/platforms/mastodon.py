"""Mastodon: one adapter for every instance (the instance URL lives on the account).

Connecting is OAuth, but per instance: PostForge registers itself on each instance once
(`register_app`, `POST /api/v1/apps`; the connect service caches the client credentials) and
then runs the authorization-code flow with PKCE against that instance (`oauth_client_for_app`).
Tokens normally never expire and there is no refresh token: a 401 means "reconnect".

Publishing is `POST /api/v1/statuses` with an `Idempotency-Key` header carrying the destination's
key: Mastodon answers a repeat of the key (within an hour at least) with the status it already
made, so a retry after a dropped connection cannot post twice.

Images and videos go up first, one by one, with `POST /api/v2/media` (`file`, `description` =
alt text): 200 means processed, 202 means the instance is still processing it (`url: null`),
and `GET /api/v1/media/:id` answers 206 until it is done (200), or 422 when it failed. Each
file's id is checkpointed as soon as the instance has it, so a retry polls or reuses it; the
status then names them in `media_ids`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from postforge.models.social import Platform
from postforge.platforms import media_upload
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    AuthExpired,
    ConnectedAccount,
    ConnectFailed,
    MediaItem,
    OAuthClientConfig,
    Outcome,
    PlatformAdapter,
    PostMetricsSnapshot,
    Published,
    PublishRequest,
    RateLimitPolicy,
    Rejected,
    ServerUnusable,
    TokenSet,
    Transient,
    Unknown,
    bearer,
    classify_http_error,
    error_message,
    optional_json,
    send,
)

# `read` covers verify_credentials and reading our statuses back for metrics; `profile` (4.3+)
# is not used because older instances refuse unknown scopes when the app is registered.
SCOPES = ("read", "write:statuses", "write:media")
CLIENT_NAME = "PostForge"
DEFAULT_MAX_CHARACTERS = 500
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_instance_url(text: str) -> str:
    """`https://host[:port]` for whatever a person typed to name their instance.

    Accepts `mastodon.social`, `https://mastodon.social/`, a profile URL
    (`https://mastodon.social/@alice`) or a full handle (`@alice@mastodon.social`). Plain http
    is allowed only for this machine (localhost / 127.0.0.1), where tests and development run.
    Raises ConnectFailed saying what is wrong.
    """
    raw = (text or "").strip()
    if not raw:
        raise ConnectFailed("Enter your Mastodon instance, for example mastodon.social.")
    if len(raw) > 255 or any(character.isspace() for character in raw):
        raise ConnectFailed(f"{raw[:80]!r} is not a Mastodon instance address (e.g. mastodon.social).")
    if "://" not in raw:
        if "@" in raw and "/" not in raw:
            raw = raw.rsplit("@", 1)[-1]  # "@alice@mastodon.social" → its domain
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        raise ConnectFailed(f"{text.strip()[:80]!r} is not a valid web address.") from None
    if parts.scheme not in {"http", "https"}:
        raise ConnectFailed("The instance address must start with https://.")
    if parts.username or parts.password:
        raise ConnectFailed("The instance address must not contain a user name or password.")
    host = _checked_host(host, text)
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ConnectFailed("Mastodon instances are reached over https://; http:// is not allowed.")
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}" + (f":{port}" if port else "")


def _checked_host(host: str, text: str) -> str:
    if host in LOOPBACK_HOSTS:
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        # An instance has a domain name; bare addresses would let anyone aim requests at machines
        # on PostForge's own network.
        raise ConnectFailed("Use the instance's domain name (like mastodon.social), not an IP address.")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ConnectFailed(f"{text.strip()[:80]!r} is not a valid domain name.") from None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ConnectFailed(
            f"{text.strip()[:80]!r} is not a Mastodon instance address (e.g. mastodon.social)."
        )
    return ascii_host


class MastodonAdapter(PlatformAdapter):
    platform = Platform.MASTODON
    label = "Mastodon"
    idempotent = True
    connect_kind = "oauth"
    user_named_hosts = True
    # Mastodon allows 300 API requests per 5 minutes per account, but creating statuses has its
    # own, tighter family: 300 per 3 hours per account (RateLimiter::FAMILIES[:statuses] in
    # mastodon/mastodon app/lib/rate_limiter.rb). The publish bucket follows the tighter one.
    rate_limit = RateLimitPolicy(capacity=300, per_seconds=3 * 3600)
    # The bounded wait for the instance to process an uploaded video.
    media_polls = 20
    media_poll_interval = 3.0

    # -- connecting ---------------------------------------------------------------------------

    def register_app(self, instance_url: str, redirect_uri: str) -> tuple[str, str]:
        """Register PostForge on the instance; (client_id, client_secret) to cache per instance."""
        instance = normalize_instance_url(instance_url)
        payload = {
            "client_name": CLIENT_NAME,
            "redirect_uris": redirect_uri,
            "scopes": " ".join(SCOPES),
            "website": str(getattr(self.settings, "app_url", "") or ""),
        }
        with self.http() as client:
            response = _connect_request(client, "POST", f"{instance}/api/v1/apps", instance, json=payload)
        if response.status_code == 404:
            raise ServerUnusable(_not_mastodon(instance), http_status=404)
        if response.status_code != 200:
            raise ConnectFailed(
                f"{_host(instance)} refused to register PostForge: "
                f"{error_message(response) or f'HTTP {response.status_code}'}",
                http_status=response.status_code,
            )
        body = _json_object(response, instance)
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        if not isinstance(client_id, str) or not client_id or not isinstance(client_secret, str):
            raise ConnectFailed(
                f"{_host(instance)} answered the app registration without client credentials."
            )
        return client_id, client_secret

    def oauth_client_for_app(
        self, instance_url: str, client_id: str, client_secret: str
    ) -> OAuthClientConfig:
        """The authorization-code flow against `instance_url` with the app `register_app` made."""
        instance = normalize_instance_url(instance_url)
        return OAuthClientConfig(
            authorize_url=f"{instance}/oauth/authorize",
            token_url=f"{instance}/oauth/token",
            client_id=client_id,
            client_secret=client_secret,
            scopes=SCOPES,
            pkce=True,  # Mastodon ≥ 4.3 checks S256; older instances ignore the challenge
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 — a method name
            user_named_host=True,
        )

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        raise ConnectFailed(
            "Mastodon apps are registered per instance: call register_app(instance_url, redirect_uri) "
            "and build the client with oauth_client_for_app(instance_url, client_id, client_secret)."
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        instance = normalize_instance_url(instance_url)
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ConnectFailed(f"{_host(instance)} did not send an access token.")
        with self.http() as client:
            response = _connect_request(
                client,
                "GET",
                f"{instance}/api/v1/accounts/verify_credentials",
                instance,
                headers=bearer(access_token),
            )
            if response.status_code != 200:
                raise ConnectFailed(
                    f"{_host(instance)} did not accept the new token: "
                    f"{error_message(response) or f'HTTP {response.status_code}'}",
                    http_status=response.status_code,
                )
            me = _json_object(response, instance)
            info = _instance_info(client, instance)  # optional: never fails the connect
        account_id = str(me.get("id") or "")
        username = str(me.get("username") or "")
        if not account_id or not username:
            raise ConnectFailed(f"{_host(instance)} answered without the account's id or username.")
        domain = str(info.get("domain") or _host(instance))
        profile = AccountProfile(
            platform_account_id=account_id,
            handle=f"@{username}@{domain}",
            display_name=str(me.get("display_name") or username),
            avatar_url=str(me.get("avatar") or ""),
            settings={"max_characters": _max_characters(info)},
        )
        return [ConnectedAccount(profile=profile, tokens=_token_set(token), instance_url=instance)]

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        try:
            instance = normalize_instance_url(request.account.instance_url)
        except ConnectFailed as error:
            return Rejected(f"The account's Mastodon instance is unusable ({error.message}); reconnect it.")
        body: dict[str, Any] = {"status": request.text, "visibility": "public"}
        if request.language:
            body["language"] = request.language
        headers = {**bearer(request.account.access_token), "Idempotency-Key": request.idempotency_key}
        with self.http() as client:
            if request.media:
                media_ids = self._upload_all(client, instance, request)
                if not isinstance(media_ids, list):
                    return media_ids
                body["media_ids"] = media_ids
            response = send(client, "POST", f"{instance}/api/v1/statuses", json=body, headers=headers)
        if not isinstance(response, httpx.Response):
            return response
        if response.status_code == 200:
            return _published(response)
        return _publish_failure(response)

    # -- media --------------------------------------------------------------------------------

    def _upload_all(
        self, client: httpx.Client, instance: str, request: PublishRequest
    ) -> list[str] | Outcome:
        progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
        media_ids: list[str] = []
        for position, item in enumerate(request.media, start=1):
            try:
                media_id = self._uploaded(
                    client, instance, request.account.access_token, progress, item, position
                )
            except media_upload.MediaUnreadable as error:
                return media_upload.unreadable(error)
            if not isinstance(media_id, str):
                return media_upload.upload_outcome(media_id)
            media_ids.append(media_id)
        return media_ids

    def _uploaded(
        self,
        client: httpx.Client,
        instance: str,
        token: str,
        progress: media_upload.Progress,
        item: MediaItem,
        position: int,
    ) -> str | Outcome:
        saved = progress.uploaded(item, position)
        if not (isinstance(saved, dict) and saved.get("id")):
            saved = self._upload(client, instance, token, item)
            if not isinstance(saved, dict):
                return saved
            progress.remember(item, position, saved)
        media_id = str(saved["id"])
        if not saved.get("ready"):
            ready = self._wait_until_processed(client, instance, token, media_id, progress.deadline)
            if ready == "gone":  # the instance dropped it (unattached media expire): upload anew
                progress.forget(item, position)
                return self._uploaded(client, instance, token, progress, item, position)
            if ready is not None:
                return ready
            progress.remember(item, position, {**saved, "ready": True})
        return media_id

    def _upload(
        self, client: httpx.Client, instance: str, token: str, item: MediaItem
    ) -> dict[str, Any] | Outcome:
        stream = media_upload.open_stream(item)
        try:
            response = send(
                client,
                "POST",
                f"{instance}/api/v2/media",
                data={"description": item.alt_text} if item.alt_text else {},
                files={"file": (_file_name(item), stream, item.mime_type)},
                headers=bearer(token),
            )
        finally:
            stream.close()
        if not isinstance(response, httpx.Response):
            return response
        if response.status_code not in (200, 202):
            return _media_failure(response)
        attachment = _json_or_empty(response)
        if not attachment.get("id"):
            return Transient("Mastodon did not return the uploaded file's id.")
        ready = response.status_code == 200 and bool(attachment.get("url"))
        return {"id": str(attachment["id"]), "ready": ready}

    def _wait_until_processed(
        self, client: httpx.Client, instance: str, token: str, media_id: str, deadline: float | None
    ) -> Outcome | str | None:
        """None once processed; "gone" when the instance no longer has the file; Rejected when
        processing failed; Transient when still processing after the bounded wait."""

        def check() -> Outcome | str | None:
            response = send(client, "GET", f"{instance}/api/v1/media/{media_id}", headers=bearer(token))
            if not isinstance(response, httpx.Response):
                return response
            if response.status_code == 206:
                return None
            if response.status_code == 200:
                return "ready" if _json_or_empty(response).get("url") else None
            if response.status_code == 404:
                return "gone"
            if response.status_code == 422:
                message = error_message(response) or "the file could not be processed"
                return Rejected(f"Mastodon could not process the media: {message}", http_status=422)
            return _media_failure(response)

        found = media_upload.wait_for(
            check, polls=self.media_polls, interval=self.media_poll_interval, deadline=deadline
        )
        if found is None:
            return media_upload.still_processing(self.label)
        return None if found == "ready" else found

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """Favourites, boosts and replies of one status; None when they can't be read now."""
        try:
            instance = normalize_instance_url(account.instance_url)
        except ConnectFailed:
            return None
        with self.http() as client:
            response = send(
                client,
                "GET",
                f"{instance}/api/v1/statuses/{platform_post_id}",
                headers=bearer(account.access_token),
            )
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            return None
        try:
            status = response.json()
        except ValueError:
            return None
        if not isinstance(status, dict):
            return None
        return PostMetricsSnapshot(
            likes=_int_or_none(status.get("favourites_count")),
            shares=_int_or_none(status.get("reblogs_count")),
            comments=_int_or_none(status.get("replies_count")),
        )


# ---------------------------------------------------------------------------------------------
# Helpers


def _host(instance: str) -> str:
    return urlsplit(instance).netloc


def _connect_request(
    client: httpx.Client, method: str, url: str, instance: str, **kwargs: Any
) -> httpx.Response:
    """A request made while connecting: a network failure becomes a ConnectFailed that says so."""
    response = send(client, method, url, **kwargs)
    if isinstance(response, Rejected):  # the outbound policy refused the address
        raise ServerUnusable(response.reason)
    if not isinstance(response, httpx.Response):
        raise ServerUnusable(_not_mastodon(instance))
    return response


def _not_mastodon(instance: str) -> str:
    return (
        f"{_host(instance)} does not answer as a Mastodon server. Check the address (like mastodon.social)."
    )


def _json_object(response: httpx.Response, instance: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ConnectFailed(f"{_host(instance)} does not look like a Mastodon instance (unexpected answer).")
    return body


def _instance_info(client: httpx.Client, instance: str) -> dict[str, Any]:
    """`/api/v2/instance`, or {} when the instance can't tell (an optional step of a connect)."""
    return optional_json(send(client, "GET", f"{instance}/api/v2/instance"))


def _max_characters(info: Mapping[str, Any]) -> int:
    configuration = info.get("configuration")
    statuses = configuration.get("statuses") if isinstance(configuration, dict) else None
    value = statuses.get("max_characters") if isinstance(statuses, dict) else None
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_CHARACTERS


def _token_set(token: Mapping[str, Any]) -> TokenSet:
    expires_in = token.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and expires_in > 0:
        expires_at = datetime.now(UTC) + timedelta(seconds=float(expires_in))
    refresh_token = token.get("refresh_token")
    scope = token.get("scope")
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=expires_at,
        scopes=scope if isinstance(scope, str) else " ".join(SCOPES),
    )


def _published(response: httpx.Response) -> Outcome:
    try:
        status = response.json()
    except ValueError:
        status = None
    status_id = status.get("id") if isinstance(status, dict) else None
    if not status_id:
        # The instance said 200 but we can't read the id: the status most likely exists, and a
        # retry with the same Idempotency-Key returns it.
        return Unknown("Mastodon accepted the post but its answer could not be read.", http_status=200)
    return Published(str(status_id), url=str(status.get("url") or status.get("uri") or ""))


def _file_name(item: MediaItem) -> str:
    extension = item.mime_type.rsplit("/", 1)[-1].replace("quicktime", "mov").replace("jpeg", "jpg")
    return f"media-{item.media_id or 'file'}.{extension}"


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _media_failure(response: httpx.Response) -> Outcome:
    """A refused upload: 422 is Mastodon's "this file won't do" (type, size)."""
    if response.status_code == 422:
        message = error_message(response) or "the file was refused"
        return Rejected(f"Mastodon refused the media: {message}", http_status=422)
    return _publish_failure(response)


def _publish_failure(response: httpx.Response) -> Outcome:
    status = response.status_code
    message = error_message(response)
    if status == 422:
        return Rejected(message or "Mastodon refused the post.", http_status=status)
    if status == 403:
        lowered = message.lower()
        if "token" in lowered or "scope" in lowered:
            return AuthExpired(message or "Mastodon refused the token.", http_status=status)
        return Rejected(message or "Mastodon does not let this account post.", http_status=status)
    return classify_http_error(response, message)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None
