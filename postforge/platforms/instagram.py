"""Instagram professional accounts (Business/Creator linked to a Facebook Page), via the Graph API.

Publishing is two-step: `POST /{ig-user-id}/media` (`image_url` or `video_url`, `caption`) makes
a container, which Meta processes (`status_code` until `FINISHED`), then
`POST /{ig-user-id}/media_publish` publishes it. The container id is saved before it can be
published and a container publishes only once, so a retry is safe (`idempotent`); see
`meta_graph.publish_container`. Instagram has no text-only posts: every post needs an image or
a video, reachable at a public URL (Meta fetches it). One image (with its `alt_text`) or one
video (a reel) is one container; several files make a carousel: one item container per file
(`is_carousel_item`), each checkpointed and waited for, then a CAROUSEL container naming them.

Connecting is Facebook Login: each Facebook Page the user shared that has an Instagram
professional account linked gives one account, used with that Page's (non-expiring) token.
"""

from __future__ import annotations

from collections.abc import Mapping
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
)

# `instagram_manage_insights` lets PostForge read a post's reach, views and interactions.
SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
)
# `views` replaced `impressions` for media in Graph API v22.0; asking for the old one is an error.
INSIGHT_METRICS = ("reach", "likes", "comments", "shares", "saved", "views")
PAGE_FIELDS = "id,name,access_token,instagram_business_account{id,username,profile_picture_url}"


class InstagramAdapter(PlatformAdapter):
    platform = Platform.INSTAGRAM
    label = "Instagram"
    idempotent = True
    connect_kind = "oauth"
    # The content publishing docs allow 50 API-published posts per account in a rolling 24 hours.
    rate_limit = RateLimitPolicy(capacity=50, per_seconds=86400)
    # Bounded wait while Meta fetches and processes the media.
    container_polls = 5
    container_poll_interval = 2.0

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        if not request.media:
            return Rejected(
                "Instagram posts need an image or a video; this post has none. Attach one, or "
                "remove Instagram from the post.",
                http_status=422,
            )
        api = self._container_api(request.account)
        progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
        with self.http() as client:
            if len(request.media) == 1:
                params = _container_params(request.text, request.media[0])
            else:
                children = meta_graph.carousel_children(client, api, request, progress, _carousel_item_params)
                if not isinstance(children, list):
                    return children
                params = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": request.text}
            if isinstance(params, Rejected):
                return params
            return meta_graph.publish_container(
                client, api, progress.request(request), params, needs_processing=True
            )

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """The media's lifetime insights; None when Instagram won't say now."""
        with self.http() as client:
            numbers = meta_graph.fetch_insights(
                client,
                meta_graph.facebook_graph(self.settings),
                platform_post_id,
                account.access_token,
                INSIGHT_METRICS,
            )
        if numbers is None:
            return None
        return PostMetricsSnapshot(
            impressions=numbers.get("views"),
            reach=numbers.get("reach"),
            likes=numbers.get("likes"),
            comments=numbers.get("comments"),
            shares=numbers.get("shares"),
        )

    def _container_api(self, account: AccountCredentials) -> meta_graph.ContainerApi:
        return meta_graph.ContainerApi(
            graph=meta_graph.facebook_graph(self.settings),
            user_id=account.platform_account_id,
            token=account.access_token,
            create_edge="media",
            publish_edge="media_publish",
            status_field="status_code",
            text_field="caption",
            profile_url=f"https://www.instagram.com/{account.handle.lstrip('@')}/",
            polls=self.container_polls,
            poll_interval=self.container_poll_interval,
        )

    # -- connecting ---------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        return meta_graph.facebook_oauth_client(self.settings, self.label, SCOPES)

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        scopes = meta_graph.granted_scopes(token, SCOPES)
        with self.http() as client:
            pages = meta_graph.facebook_login_pages(
                client, self.settings, token, PAGE_FIELDS, label=self.label
            )
        accounts = [
            _instagram_account(page, scopes)
            for page in pages
            if page.get("access_token") and (page.get("instagram_business_account") or {}).get("id")
        ]
        if not accounts:
            raise ConnectFailed(
                "None of the Facebook Pages you shared has an Instagram professional account linked. "
                "Link one in the Page's settings (Linked accounts), then connect again and tick that Page."
            )
        return accounts


def _instagram_account(page: Mapping[str, Any], scopes: str) -> ConnectedAccount:
    instagram = page["instagram_business_account"]
    username = str(instagram.get("username") or instagram["id"])
    profile = AccountProfile(
        platform_account_id=str(instagram["id"]),
        handle=f"@{username}",
        display_name=username,
        avatar_url=str(instagram.get("profile_picture_url") or ""),
        settings={
            "facebook_page_id": str(page.get("id") or ""),
            "facebook_page_name": str(page.get("name") or ""),
        },
    )
    # Publishing uses the linked Page's token, which does not expire when read with a
    # long-lived user token.
    return ConnectedAccount(
        profile=profile, tokens=TokenSet(access_token=str(page["access_token"]), scopes=scopes)
    )


def _container_params(caption: str, media: MediaItem) -> dict[str, str] | Rejected:
    if media.mime_type.startswith("image/"):
        params = {"image_url": media.url, "caption": caption}
        if media.alt_text:  # image posts only: reels take no alt text
            params["alt_text"] = media.alt_text
        return params
    if media.mime_type.startswith("video/"):
        return {"media_type": "REELS", "video_url": media.url, "caption": caption}
    return _not_postable(media)


def _carousel_item_params(media: MediaItem) -> dict[str, str] | Rejected:
    if media.mime_type.startswith("image/"):
        params = {"image_url": media.url, "is_carousel_item": "true"}
        if media.alt_text:
            params["alt_text"] = media.alt_text
        return params
    if media.mime_type.startswith("video/"):
        return {"media_type": "VIDEO", "video_url": media.url, "is_carousel_item": "true"}
    return _not_postable(media)


def _not_postable(media: MediaItem) -> Rejected:
    return Rejected(
        f"Instagram can't post a {media.mime_type} file; attach an image or a video.", http_status=422
    )
