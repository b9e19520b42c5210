"""What the three Meta adapters (Threads, Instagram, Facebook Pages) share: one Graph API dialect.

Not an adapter. It holds the pieces that would otherwise be copied three times:

* the Graph error envelope `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
  and what each code means as an `Outcome` (`outcome_of_graph_error`);
* Meta's usage headers (`X-App-Usage`, `X-Business-Use-Case-Usage`), which say how many minutes
  until a throttled app or Page may call again (`regain_access_at`);
* calling an endpoint with the token as the `access_token` parameter (`graph_request`);
* trading a token at a token endpoint (`exchange_token`) and reading Pages (`list_pages`);
* the two-step container publish of Threads and Instagram (`publish_container`): the container id
  is saved with `checkpoint` before anything can be published, and a container can be published
  only once, so a retry after a crash publishes the saved container or finds the post it made;
* their carousels (`carousel_children`): one item container per file, each checkpointed and
  waited for before the carousel container that names them.

Graph answers most errors with HTTP 400 whatever their cause, so the code decides, not the status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from postforge.platforms import media_upload
from postforge.platforms.base import (
    AuthExpired,
    ConnectFailed,
    MediaItem,
    OAuthClientConfig,
    Outcome,
    Published,
    PublishRequest,
    RateLimited,
    RefreshRevoked,
    RefreshUnavailable,
    Rejected,
    TokenSet,
    Transient,
    Unknown,
    classify_http_error,
    error_message,
    json_object,
    metric_count,
    send,
)

# Throttling: app (4), user (17), Page/custom (32), action (613), business use case (80000 to 80014).
THROTTLE_CODES = frozenset({4, 17, 32, 613}) | frozenset(range(80000, 80015))
# The token is invalid, expired or revoked (190), or the session is (102).
TOKEN_CODES = frozenset({102, 190})
# "An unknown error occurred" (1) and "Service temporarily unavailable" (2).
UNKNOWN_ERROR_CODE = 1
TEMPORARY_CODES = frozenset({1, 2})
# "The media is not ready for publishing" (9007): the container is still being processed.
MEDIA_NOT_READY_CODE = 9007
# Threads: "Media Not Found" for a container created moments ago (a known race; retry later).
CONTAINER_NOT_FOUND_YET = (24, 4279009)
# Without a usage header that says when, a throttled account waits this long.
DEFAULT_THROTTLE_WAIT = timedelta(minutes=15)


@dataclass(frozen=True)
class GraphError:
    message: str
    code: int | None = None
    subcode: int | None = None
    type: str = ""
    user_message: str = ""
    fbtrace_id: str = ""

    def describe(self) -> str:
        """The platform's words, with the user-facing part when Meta sends one."""
        if self.user_message and self.user_message not in self.message:
            return f"{self.message} — {self.user_message}"
        return self.message


def graph_error(response: httpx.Response) -> GraphError | None:
    """The Graph error envelope of an answer, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return GraphError(
        message=str(error.get("message") or "").strip(),
        code=_int_or_none(error.get("code")),
        subcode=_int_or_none(error.get("error_subcode")),
        type=str(error.get("type") or ""),
        user_message=str(error.get("error_user_msg") or "").strip(),
        fbtrace_id=str(error.get("fbtrace_id") or ""),
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def outcome_of_graph_error(
    response: httpx.Response, *, now: datetime | None = None, not_idempotent: bool = False
) -> Outcome:
    """What an unsuccessful Graph answer means for a publish. With `not_idempotent` (a call that
    creates a post and has no idempotency key), Graph's "unknown error" (code 1) is `Unknown`: it
    does not say the post was not made."""
    error = graph_error(response)
    if error is None:
        return classify_http_error(response, error_message(response), now=now)
    message = error.describe() or f"Meta answered {response.status_code}."
    status = response.status_code
    if error.code in TOKEN_CODES:
        return AuthExpired(message, http_status=status)
    if error.code in THROTTLE_CODES or status == 429:
        return RateLimited(regain_access_at(response.headers, now=now), error=message, http_status=status)
    if error.code is not None and 200 <= error.code <= 299:
        # A permission the account did not grant (or took back): reconnecting grants it again.
        return AuthExpired(message, http_status=status)
    if error.code == UNKNOWN_ERROR_CODE and not_idempotent:
        return Unknown(message, http_status=status)
    if error.code in TEMPORARY_CODES or status >= 500:
        return Transient(message, http_status=status)
    if error.code == MEDIA_NOT_READY_CODE or (error.code, error.subcode) == CONTAINER_NOT_FOUND_YET:
        return Transient(message, http_status=status)
    return Rejected(message, http_status=status)


def regain_access_at(headers: Mapping[str, str], *, now: datetime | None = None) -> datetime:
    """When a throttled app or Page may call again: the largest `estimated_time_to_regain_access`
    (minutes) in Meta's usage headers, else `DEFAULT_THROTTLE_WAIT` from now."""
    now = now or datetime.now(UTC)
    minutes = [
        value
        for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage")
        for value in _regain_minutes(headers.get(name, ""))
    ]
    longest = max(minutes, default=0)
    return now + (timedelta(minutes=longest) if longest > 0 else DEFAULT_THROTTLE_WAIT)


def _regain_minutes(header: str) -> Iterator[float]:
    if not header:
        return
    try:
        parsed = json.loads(header)
    except ValueError:
        return
    yield from _values_named(parsed, "estimated_time_to_regain_access")


def _values_named(node: Any, name: str) -> Iterator[float]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == name and isinstance(value, int | float):
                yield float(value)
            else:
                yield from _values_named(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _values_named(item, name)


# ---------------------------------------------------------------------------------------------
# Calling the Graph API


def graph_request(
    client: httpx.Client,
    method: str,
    url: str,
    token: str,
    params: Mapping[str, Any] | None = None,
    *,
    not_idempotent: bool = False,
) -> dict[str, Any] | Outcome:
    """One Graph call with the token as its `access_token` parameter (in the form body for a
    POST, so it never lands in a URL); the answer's JSON object, or the outcome of its failure
    (`not_idempotent`: see `outcome_of_graph_error`)."""
    values = {**(params or {}), "access_token": token}
    if method.upper() == "GET":
        answer = send(client, method, url, params=values)
    else:
        answer = send(client, method, url, data=values)
    if not isinstance(answer, httpx.Response):
        return answer
    if answer.status_code >= 400:
        return outcome_of_graph_error(answer, not_idempotent=not_idempotent)
    try:
        body = answer.json()
    except ValueError:
        return Unknown(f"Meta answered {answer.status_code} without JSON.", http_status=answer.status_code)
    if not isinstance(body, dict):
        return Unknown(
            "Meta answered with something that is not a JSON object.", http_status=answer.status_code
        )
    return body


def fetch_insights(
    client: httpx.Client, graph: str, media_id: str, token: str, metrics: tuple[str, ...]
) -> dict[str, int] | None:
    """`GET /{media-id}/insights` as {metric: number}; None when Meta won't say now (any error,
    a missing permission, an answer without one readable metric)."""
    if not (media_id.isascii() and media_id.isdigit()):
        return None  # Graph media ids are numbers; anything else could change the path
    body = graph_request(client, "GET", f"{graph}/{media_id}/insights", token, {"metric": ",".join(metrics)})
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    numbers: dict[str, int] = {}
    for item in body["data"]:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            value = _insight_value(item)
            if value is not None:
                numbers[item["name"]] = value
    return numbers or None  # not one readable metric: nothing to report, not all zeros


def _insight_value(item: Mapping[str, Any]) -> int | None:
    """Lifetime metrics come as `values: [{"value": N}]`; totals as `total_value: {"value": N}`
    (Meta uses both, depending on the metric and the API version)."""
    total = item.get("total_value")
    if isinstance(total, dict):
        return metric_count(total.get("value"))
    values = item.get("values")
    if isinstance(values, list) and values and isinstance(values[0], dict):
        return metric_count(values[0].get("value"))
    return None


def expires_at_from(body: Mapping[str, Any], *, now: datetime | None = None) -> datetime | None:
    """`expires_in` seconds as a moment; None when the token does not expire (or none is given)."""
    try:
        seconds = int(body.get("expires_in") or 0)
    except (TypeError, ValueError):
        return None
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds) if seconds > 0 else None


def exchange_token(
    client: httpx.Client, url: str, params: Mapping[str, str], *, label: str, scopes: str = ""
) -> TokenSet:
    """GET a token endpoint (long-lived exchange); ConnectFailed with Meta's message on failure."""
    body = _token_call(client, url, params)
    if isinstance(body, str):
        raise ConnectFailed(f"{label} did not give a long-lived token: {body}")
    return TokenSet(access_token=body["access_token"], expires_at=expires_at_from(body), scopes=scopes)


def refresh_token(client: httpx.Client, url: str, params: Mapping[str, str], *, label: str) -> TokenSet:
    """GET a refresh endpoint. RefreshUnavailable when Meta is down, throttling or unreachable;
    RefreshRevoked when it refuses the token (only a reconnect helps then)."""
    answer = send(client, "GET", url, params=params)
    if not isinstance(answer, httpx.Response):
        raise RefreshUnavailable(f"{label} could not be reached to renew the token: {answer.error}")
    if answer.status_code < 400:
        body = json_object(answer)
        if body.get("access_token"):
            return TokenSet(access_token=str(body["access_token"]), expires_at=expires_at_from(body))
        raise RefreshUnavailable(f"{label} answered the token renewal without a token.")
    outcome = outcome_of_graph_error(answer)
    if isinstance(outcome, Transient | RateLimited | Unknown):
        raise RefreshUnavailable(f"{label} could not renew the token now: {_outcome_text(outcome)}")
    raise RefreshRevoked(
        f"{label} refused to renew the token ({_outcome_text(outcome)}); reconnect the account.",
        http_status=answer.status_code,
    )


def _outcome_text(outcome: Outcome) -> str:
    return getattr(outcome, "error", None) or getattr(outcome, "reason", "") or type(outcome).__name__


def _token_call(client: httpx.Client, url: str, params: Mapping[str, str]) -> dict[str, Any] | str:
    answer = send(client, "GET", url, params=params)
    if not isinstance(answer, httpx.Response):
        return answer.error
    body = json_object(answer)
    if answer.status_code >= 400 or not body.get("access_token"):
        error = graph_error(answer)
        return (error.describe() if error else error_message(answer)) or f"HTTP {answer.status_code}"
    return body


def fetch_for_connect(
    client: httpx.Client, url: str, token: str, params: Mapping[str, Any], *, label: str
) -> dict:
    """A GET made while connecting: its JSON, or ConnectFailed naming what Meta said."""
    body = graph_request(client, "GET", url, token, params)
    if isinstance(body, dict):
        return body
    raise ConnectFailed(f"{label} refused to tell us about the account: {_outcome_text(body)}")


def list_pages(client: httpx.Client, graph: str, user_token: str, fields: str, *, label: str) -> list[dict]:
    """Every Page the user granted (`/me/accounts`), following `paging.next` for large lists."""
    pages: list[dict] = []
    body = fetch_for_connect(
        client, f"{graph}/me/accounts", user_token, {"fields": fields, "limit": 100}, label=label
    )
    for _ in range(20):  # 2,000 Pages is more than anyone manages by hand
        pages.extend(item for item in body.get("data", []) if isinstance(item, dict))
        next_url = (body.get("paging") or {}).get("next")
        if not next_url:
            break
        answer = send(client, "GET", next_url)
        if not isinstance(answer, httpx.Response) or answer.status_code >= 400:
            raise ConnectFailed(f"{label} stopped listing your Pages part way; try connecting again.")
        body = json_object(answer)
    return pages


# ---------------------------------------------------------------------------------------------
# Two-step publishing through a container (Threads, Instagram)


@dataclass(frozen=True)
class ContainerApi:
    """Where one platform keeps its containers and how it names their parts."""

    graph: str  # versioned base, e.g. https://graph.threads.net/v1.0
    user_id: str
    token: str
    create_edge: str  # "threads" | "media"
    publish_edge: str  # "threads_publish" | "media_publish"
    status_field: str  # "status" | "status_code"
    text_field: str  # what the platform calls the post's text: "text" | "caption"
    profile_url: str  # where a post whose own link is unknown can be found
    polls: int = 5  # how many status reads a container being processed gets …
    poll_interval: float = 2.0  # … and the pause between them (a bounded wait, never open-ended)


def publish_container(
    client: httpx.Client,
    api: ContainerApi,
    request: PublishRequest,
    create_params: Mapping[str, Any],
    *,
    needs_processing: bool,
) -> Outcome:
    """Create (or reuse) the container, wait for it where media must be fetched, publish it."""
    container_id = str(request.state.get("container_id") or "")
    status = ""
    if container_id:
        read = _container_status(client, api, container_id)
        if not isinstance(read, str):
            return _saved_container_unreadable(read)
        status = read
        if status == "PUBLISHED":
            return find_published(client, api, request.text, container_id)
        if status == "ERROR":
            return Rejected(f"Meta could not prepare the post: {_container_error(client, api, container_id)}")
        if status == "EXPIRED":  # never published, and now unusable: start over with a new one
            container_id, status = "", ""
    if not container_id:
        created = graph_request(
            client, "POST", f"{api.graph}/{api.user_id}/{api.create_edge}", api.token, create_params
        )
        if not isinstance(created, dict):
            return created  # nothing to publish exists yet, so any failure is safe to retry
        container_id = str(created.get("id") or "")
        if not container_id:
            return Transient("Meta did not return the id of the post it was preparing.")
        request.checkpoint({**request.state, "container_id": container_id})
    if needs_processing or status not in ("", "FINISHED"):
        ready = _wait_until_finished(client, api, container_id)
        if ready is not None:
            return ready
    return _publish(client, api, request, container_id)


def _publish(client: httpx.Client, api: ContainerApi, request: PublishRequest, container_id: str) -> Outcome:
    published = graph_request(
        client,
        "POST",
        f"{api.graph}/{api.user_id}/{api.publish_edge}",
        api.token,
        {"creation_id": container_id},
    )
    if isinstance(published, dict) and published.get("id"):
        media_id = str(published["id"])
        return Published(media_id, url=_permalink(client, api, media_id) or api.profile_url)
    if isinstance(published, Rejected):
        # A container publishes once: a concurrent or earlier attempt may have done it already.
        if _container_status(client, api, container_id) == "PUBLISHED":
            return find_published(client, api, request.text, container_id)
        return published
    if isinstance(published, dict):
        return Unknown("Meta answered the publish without the post's id.")
    return published


def _container_status(client: httpx.Client, api: ContainerApi, container_id: str) -> str | Outcome:
    body = graph_request(
        client, "GET", f"{api.graph}/{container_id}", api.token, {"fields": api.status_field}
    )
    if not isinstance(body, dict):
        return body
    return str(body.get(api.status_field) or "").upper()


def _container_error(client: httpx.Client, api: ContainerApi, container_id: str) -> str:
    """Why a container failed: Threads says it in `error_message`, Instagram in `status`
    ("Error: …"); without either, what usually causes it."""
    detail_field = "error_message" if api.status_field == "status" else "status"
    body = graph_request(
        client,
        "GET",
        f"{api.graph}/{container_id}",
        api.token,
        {"fields": f"{api.status_field},{detail_field}"},
    )
    detail = str(body.get(detail_field) or "") if isinstance(body, dict) else ""
    detail = detail.removeprefix("Error:").strip()
    return detail or "the media could not be processed (check that its URL is public and its format allowed)."


def _saved_container_unreadable(outcome: Outcome) -> Outcome:
    """A saved container may already be published: never start over on a read error. Meta
    sometimes refuses reads of fresh objects for a while (code 100 subcode 33), so a refusal
    here means "later", not "never"."""
    if isinstance(outcome, Rejected):
        return Transient(f"Meta would not say whether the prepared post went out yet: {outcome.reason}")
    return outcome


def _wait_until_finished(client: httpx.Client, api: ContainerApi, container_id: str) -> Outcome | None:
    """None once the container is ready (or its status can't be read: the publish call will say);
    an outcome when it failed, expired, or is still processing after the bounded wait."""
    for poll in range(max(api.polls, 1)):
        status = _container_status(client, api, container_id)
        if isinstance(status, AuthExpired | RateLimited):
            return status
        if not isinstance(status, str) or status in ("FINISHED", "PUBLISHED", ""):
            return None
        if status == "ERROR":
            return Rejected(f"Meta could not prepare the post: {_container_error(client, api, container_id)}")
        if status == "EXPIRED":
            return Transient("The prepared post expired before it could be published.")
        if poll + 1 < api.polls:
            time.sleep(api.poll_interval)
    return Transient("Meta is still processing the media; the saved container is published on the next try.")


def carousel_children(
    client: httpx.Client,
    api: ContainerApi,
    request: PublishRequest,
    progress: media_upload.Progress,
    child_params: Callable[[MediaItem], dict[str, str] | Rejected],
) -> list[str] | Outcome:
    """One finished item container per file of a carousel, created once each: every child's
    container id is checkpointed as it is made, and marked ready once Meta finished it, so a
    retry reuses them (children first, then the carousel container itself)."""
    children: list[str] = []
    for position, item in enumerate(request.media, start=1):
        params = child_params(item)
        if isinstance(params, Rejected):
            return params
        saved = progress.uploaded(item, position)
        child_id = str(saved.get("container") or "") if isinstance(saved, dict) else ""
        if not child_id:
            created = graph_request(
                client, "POST", f"{api.graph}/{api.user_id}/{api.create_edge}", api.token, params
            )
            if not isinstance(created, dict):
                return media_upload.upload_outcome(created)  # an unpublished container shows nowhere
            child_id = str(created.get("id") or "")
            if not child_id:
                return Transient("Meta did not return the id of a carousel item it was preparing.")
            progress.remember(item, position, {"container": child_id})
        children.append(child_id)
    for position, (item, child_id) in enumerate(zip(request.media, children, strict=True), start=1):
        saved = progress.uploaded(item, position)
        if isinstance(saved, dict) and saved.get("ready"):
            continue
        if progress.out_of_time():
            return media_upload.still_processing("Meta")
        status = _container_status(client, api, child_id)
        if status == "EXPIRED":  # older than a day: make it again on the next try
            progress.forget(item, position)
            return Transient("A prepared carousel item expired; it is prepared again on the next try.")
        waited = _wait_until_finished(client, api, child_id)
        if waited is not None:
            return waited
        progress.remember(item, position, {"container": child_id, "ready": True})
    return children


def _permalink(client: httpx.Client, api: ContainerApi, media_id: str) -> str:
    """The post's own link. Optional: a failure here never turns a published post into an error."""
    body = graph_request(client, "GET", f"{api.graph}/{media_id}", api.token, {"fields": "permalink"})
    return str(body.get("permalink") or "") if isinstance(body, dict) else ""


def find_published(client: httpx.Client, api: ContainerApi, text: str, container_id: str) -> Published:
    """The post an earlier attempt published from the saved container (its answer was lost).

    Containers don't name the post they became, so look for the newest recent post with the same
    text; failing that, the post is still reported published (it is: the container says so),
    under the container's id, linking to the profile.
    """
    recent = graph_request(
        client,
        "GET",
        f"{api.graph}/{api.user_id}/{api.create_edge}",
        api.token,
        {"fields": f"id,{api.text_field},permalink", "limit": 10},
    )
    if isinstance(recent, dict):
        for item in recent.get("data", []):
            if isinstance(item, dict) and item.get("id") and (item.get(api.text_field) or "") == text:
                return Published(str(item["id"]), url=str(item.get("permalink") or api.profile_url))
    return Published(container_id, url=api.profile_url)


# ---------------------------------------------------------------------------------------------
# Facebook Login (Facebook Pages and Instagram professional accounts connect through it)


def facebook_graph(settings: Any) -> str:
    """The versioned Graph API base, e.g. https://graph.facebook.com/v24.0."""
    return f"{settings.facebook_graph_base.rstrip('/')}/{settings.facebook_graph_version}"


def facebook_app_credentials(settings: Any, label: str) -> tuple[str, str]:
    app_id, secret = settings.facebook_app_id, settings.facebook_app_secret
    if not (app_id and secret):
        raise ConnectFailed(
            f"{label} is not configured on this server: set FACEBOOK_APP_ID and FACEBOOK_APP_SECRET "
            "(the Meta app's id and secret from the app dashboard)."
        )
    return app_id, secret


def facebook_oauth_client(settings: Any, label: str, scopes: tuple[str, ...]) -> OAuthClientConfig:
    app_id, secret = facebook_app_credentials(settings, label)
    version = settings.facebook_graph_version
    return OAuthClientConfig(
        authorize_url=f"{settings.facebook_auth_base.rstrip('/')}/{version}/dialog/oauth",
        token_url=f"{facebook_graph(settings)}/oauth/access_token",
        client_id=app_id,
        client_secret=secret,
        scopes=scopes,
        pkce=False,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 — a method name
        scope_separator=",",
    )


def facebook_long_lived_user_token(
    client: httpx.Client, settings: Any, token: Mapping[str, Any], label: str
) -> str:
    """Trade the login's short-lived user token for a 60-day one: Page tokens read with a
    long-lived user token never expire, those read with a short-lived one die within hours."""
    app_id, secret = facebook_app_credentials(settings, label)
    short_lived = str(token.get("access_token") or "")
    if not short_lived:
        raise ConnectFailed(f"{label}: Facebook did not return an access token; try connecting again.")
    long_lived = exchange_token(
        client,
        f"{facebook_graph(settings)}/oauth/access_token",
        {
            "grant_type": "fb_exchange_token",
            "client_id": app_id,
            "client_secret": secret,
            "fb_exchange_token": short_lived,
        },
        label=label,
    )
    return long_lived.access_token


def facebook_login_pages(
    client: httpx.Client, settings: Any, token: Mapping[str, Any], fields: str, *, label: str
) -> list[dict]:
    """The Pages a Facebook Login granted (`fields` of each), read with the long-lived user token
    so that the Page tokens among them never expire."""
    user_token = facebook_long_lived_user_token(client, settings, token, label)
    return list_pages(client, facebook_graph(settings), user_token, fields, label=label)


def granted_scopes(token: Mapping[str, Any], default: tuple[str, ...]) -> str:
    scope = token.get("scope")
    if isinstance(scope, list | tuple):
        return ",".join(str(item) for item in scope)
    return str(scope or ",".join(default))
