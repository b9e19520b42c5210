"""Threads (Meta): text, image, video and carousel posts through the two-step container publish.

Publishing is `POST /v1.0/{user-id}/threads` (a container) then `POST /{user-id}/threads_publish`
with its id. The container id is saved before the second call, and a container can be published
only once: that makes a retry safe (`idempotent`), see `meta_graph.publish_container`. Media are
pulled by Meta from their public URL (`image_url` / `video_url`, with `alt_text`); several files
make a carousel: one item container each (checkpointed, waited for until FINISHED), then a
CAROUSEL container naming them.

Connecting is Threads' own OAuth (Threads app id and secret, not the Facebook app): the code gives
a one-hour token, traded at once for a 60-day one (`th_exchange_token`). There is no refresh
token; a still-valid long-lived token renews itself (`th_refresh_token`) for another 60 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from postforge.models.social import Platform
from postforge.platforms import media_upload, meta_graph
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    ConnectedAccount,
    ConnectFailed,
    MediaItem,
    OAuthClientConfig,
    Outcome,
    PlatformAdapter,
    PostMetricsSnapshot,
    PublishRequest,
    RateLimitPolicy,
    Rejected,
    TokenSet,
    metric_sum,
)

API_VERSION = "v1.0"
# `threads_manage_insights` lets PostForge read a post's views, likes, replies and reposts.
SCOPES = ("threads_basic", "threads_content_publish", "threads_manage_insights")
INSIGHT_METRICS = ("views", "likes", "replies", "reposts", "quotes")
PROFILE_FIELDS = "id,username,name,threads_profile_picture_url"


class ThreadsAdapter(PlatformAdapter):
    platform = Platform.THREADS
    label = "Threads"
    idempotent = True
    connect_kind = "oauth"
    # Threads allows 250 API-published posts per account in a rolling 24 hours.
    rate_limit = RateLimitPolicy(capacity=250, per_seconds=86400)
    # 60-day tokens: renew a week ahead, well clear of the 24-hour minimum age Meta requires.
    refresh_margin = timedelta(days=7)
    # Bounded wait for image containers (Meta fetches the image from its URL first).
    container_polls = 5
    container_poll_interval = 2.0

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        api = self._container_api(request.account)
        progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
        with self.http() as client:
            if len(request.media) <= 1:
                params = _container_params(request.text, request.media[0] if request.media else None)
            else:
                children = meta_graph.carousel_children(client, api, request, progress, _carousel_item_params)
                if not isinstance(children, list):
                    return children
                params = {"media_type": "CAROUSEL", "children": ",".join(children), "text": request.text}
            if isinstance(params, Rejected):
                return params
            return meta_graph.publish_container(
                client, api, progress.request(request), params, needs_processing=bool(request.media)
            )

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """The post's lifetime insights (Threads Insights API); None when Threads won't say now."""
        with self.http() as client:
            numbers = meta_graph.fetch_insights(
                client,
                f"{self._api_base}/{API_VERSION}",
                platform_post_id,
                account.access_token,
                INSIGHT_METRICS,
            )
        if numbers is None:
            return None
        return PostMetricsSnapshot(
            impressions=numbers.get("views"),
            likes=numbers.get("likes"),
            comments=numbers.get("replies"),
            shares=metric_sum(numbers.get("reposts"), numbers.get("quotes")),
        )

    def _container_api(self, account: AccountCredentials) -> meta_graph.ContainerApi:
        return meta_graph.ContainerApi(
            graph=f"{self._api_base}/{API_VERSION}",
            user_id=account.platform_account_id,
            token=account.access_token,
            create_edge="threads",
            publish_edge="threads_publish",
            status_field="status",
            text_field="text",
            profile_url=f"https://www.threads.net/@{account.handle.lstrip('@')}",
            polls=self.container_polls,
            poll_interval=self.container_poll_interval,
        )

    # -- tokens -------------------------------------------------------------------------------

    def can_refresh(self, account: AccountCredentials) -> bool:
        # Only an unexpired long-lived token can be renewed; an expired one needs a reconnect.
        expires_at = account.token_expires_at
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return bool(account.access_token) and (expires_at is None or expires_at > datetime.now(UTC))

    def refresh(self, account: AccountCredentials) -> TokenSet:
        with self.http() as client:
            return meta_graph.refresh_token(
                client,
                f"{self._api_base}/refresh_access_token",
                {"grant_type": "th_refresh_token", "access_token": account.access_token},
                label=self.label,
            )

    # -- connecting ---------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        app_id, secret = self._app_credentials()
        return OAuthClientConfig(
            authorize_url=f"{self.settings.threads_auth_base}/oauth/authorize",
            token_url=f"{self._api_base}/oauth/access_token",
            client_id=app_id,
            client_secret=secret,
            scopes=SCOPES,
            pkce=False,  # the Threads authorization window takes no code challenge
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 — a method name
            scope_separator=",",
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        _, secret = self._app_credentials()
        short_lived = str(token.get("access_token") or "")
        if not short_lived:
            raise ConnectFailed("Threads did not return an access token; try connecting again.")
        with self.http() as client:
            tokens = meta_graph.exchange_token(
                client,
                f"{self._api_base}/access_token",
                {"grant_type": "th_exchange_token", "client_secret": secret, "access_token": short_lived},
                label=self.label,
                scopes=meta_graph.granted_scopes(token, SCOPES),
            )
            me = meta_graph.fetch_for_connect(
                client,
                f"{self._api_base}/{API_VERSION}/me",
                tokens.access_token,
                {"fields": PROFILE_FIELDS},
                label=self.label,
            )
        if not me.get("id"):
            raise ConnectFailed("Threads did not say which account this is; try connecting again.")
        username = str(me.get("username") or me["id"])
        profile = AccountProfile(
            platform_account_id=str(me["id"]),
            handle=f"@{username}",
            display_name=str(me.get("name") or username),
            avatar_url=str(me.get("threads_profile_picture_url") or ""),
        )
        return [ConnectedAccount(profile=profile, tokens=tokens)]

    @property
    def _api_base(self) -> str:
        return self.settings.threads_api_base.rstrip("/")

    def _app_credentials(self) -> tuple[str, str]:
        app_id, secret = self.settings.threads_app_id, self.settings.threads_app_secret
        if not (app_id and secret):
            raise ConnectFailed(
                "Threads is not configured on this server: set THREADS_APP_ID and THREADS_APP_SECRET "
                "(the Threads app id and secret from the Meta app dashboard)."
            )
        return app_id, secret


def _container_params(text: str, media: MediaItem | None) -> dict[str, str] | Rejected:
    if media is None:
        return {"media_type": "TEXT", "text": text}
    params = _media_params(media)
    return params if isinstance(params, Rejected) else {**params, "text": text}


def _carousel_item_params(media: MediaItem) -> dict[str, str] | Rejected:
    params = _media_params(media)
    return params if isinstance(params, Rejected) else {**params, "is_carousel_item": "true"}


def _media_params(media: MediaItem) -> dict[str, str] | Rejected:
    if media.mime_type.startswith("image/"):
        params = {"media_type": "IMAGE", "image_url": media.url}
    elif media.mime_type.startswith("video/"):
        params = {"media_type": "VIDEO", "video_url": media.url}
    else:
        return Rejected(
            f"Threads can't post a {media.mime_type} file; attach an image or a video.", http_status=422
        )
    if media.alt_text:
        params["alt_text"] = media.alt_text
    return params
