"""Facebook Pages: posts on a Page's feed through the Graph API.

A text post is `POST /{page-id}/feed` (`message`); one image is `POST /{page-id}/photos` (`url`,
`message`, `alt_text_custom`); several images are uploaded unpublished (each photo id
checkpointed, so a retry attaches the same photos) and attached to one feed post
(`attached_media`). A video is `POST /{page-id}/videos` with its public `file_url`: Meta fetches
and processes it, and the post appears once `GET /{video-id}?fields=status` says ready (error →
Rejected). The video id is checkpointed as soon as Meta answers, so a retry after a timeout waits
for the same video and never posts it twice. Every call uses the Page's own token.

Feed posts have no idempotency key: a post whose answer was lost may exist, so such a publish
ends `Unknown` and the engine asks a person to check (`needs_review`) instead of posting twice.

Connecting is Facebook Login: the short-lived user token is traded for a long-lived one, whose
Page tokens (`/me/accounts`) never expire. Each granted Page becomes one account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from postforge.models.social import Platform
from postforge.platforms import media_upload, meta_graph
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
    RateLimited,
    RateLimitPolicy,
    Rejected,
    TokenSet,
    Transient,
    Unknown,
)

SCOPES = ("pages_manage_posts", "pages_read_engagement", "pages_show_list")
PAGE_FIELDS = "id,name,username,access_token,picture{url}"


class FacebookAdapter(PlatformAdapter):
    platform = Platform.FACEBOOK
    label = "Facebook"
    idempotent = False
    connect_kind = "oauth"
    # Meta publishes no per-Page post cap (Page calls share a large per-Page usage budget), but a
    # burst of posts gets a Page flagged as spam (code 368). 100 a day is far above any human
    # schedule and still stops a runaway loop from flooding a Page.
    rate_limit = RateLimitPolicy(capacity=100, per_seconds=86400)
    # The bounded wait for Meta to fetch and process a video.
    media_polls = 20
    media_poll_interval = 5.0

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        videos = [item for item in request.media if item.mime_type.startswith("video/")]
        if videos and len(request.media) > 1:
            return Rejected("A Facebook post carries one video, or photos: not both.", http_status=422)
        page_id, token = request.account.platform_account_id, request.account.access_token
        graph = meta_graph.facebook_graph(self.settings)
        with self.http() as client:
            if videos:
                return self._publish_video(client, graph, request, videos[0])
            if len(request.media) == 1:
                answer = meta_graph.graph_request(
                    client,
                    "POST",
                    f"{graph}/{page_id}/photos",
                    token,
                    _photo_params(request.media[0], message=request.text),
                    not_idempotent=True,
                )
                return _published(answer, post_key="post_id")
            progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
            params: dict[str, Any] = {"message": request.text}
            for index, item in enumerate(request.media):
                saved = progress.uploaded(item, index + 1)
                photo = saved.get("photo") if isinstance(saved, dict) else None
                if not photo:
                    photo = _unpublished_photo(client, graph, page_id, token, item)
                    if not isinstance(photo, str):
                        return photo  # nothing is on the Page yet: safe to try again
                    progress.remember(item, index + 1, {"photo": photo})
                params[f"attached_media[{index}]"] = f'{{"media_fbid":"{photo}"}}'
            return _published(
                meta_graph.graph_request(
                    client, "POST", f"{graph}/{page_id}/feed", token, params, not_idempotent=True
                )
            )

    def _publish_video(
        self, client: httpx.Client, graph: str, request: PublishRequest, item: MediaItem
    ) -> Outcome:
        page_id, token = request.account.platform_account_id, request.account.access_token
        progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
        video_id = str(progress.state.get("video_id") or "")
        if not video_id:
            # This call makes the post (once processed): a lost answer is Unknown, never retried blindly.
            answer = meta_graph.graph_request(
                client,
                "POST",
                f"{graph}/{page_id}/videos",
                token,
                {"file_url": item.url, "description": request.text},
                not_idempotent=True,
            )
            if not isinstance(answer, dict):
                return answer
            video_id = str(answer.get("id") or "")
            if not video_id:
                return Unknown(
                    "Facebook answered without the video's id; check the Page before posting again."
                )
            progress.update({"video_id": video_id})

        def check() -> Outcome | None:
            body = meta_graph.graph_request(client, "GET", f"{graph}/{video_id}", token, {"fields": "status"})
            if not isinstance(body, dict):
                # The video exists (its id is saved): a failed read never means "post again".
                return body if isinstance(body, AuthExpired | RateLimited) else None
            status = body.get("status") if isinstance(body.get("status"), dict) else {}
            state = str(status.get("video_status") or "")
            if state == "ready":
                return Published(video_id, url=f"https://www.facebook.com/{page_id}/videos/{video_id}")
            if state in ("error", "expired"):
                return Rejected(f"Facebook could not process the video: {_video_error(status)}")
            return None

        found = media_upload.wait_for(
            check, polls=self.media_polls, interval=self.media_poll_interval, deadline=progress.deadline
        )
        return found if found is not None else media_upload.still_processing(self.label)

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        graph = meta_graph.facebook_graph(self.settings)
        with self.http() as client:
            body = meta_graph.graph_request(
                client,
                "GET",
                f"{graph}/{platform_post_id}",
                account.access_token,
                {
                    "fields": "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
                },
            )
        if not isinstance(body, dict):
            return None
        return PostMetricsSnapshot(
            likes=_summary_count(body, "reactions"),
            comments=_summary_count(body, "comments"),
            shares=(body.get("shares") or {}).get("count", 0),
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
            _page_account(page, scopes) for page in pages if page.get("id") and page.get("access_token")
        ]
        if not accounts:
            raise ConnectFailed(
                "No Facebook Page was shared with PostForge. Connect again and tick at least one Page "
                "you manage."
            )
        return accounts


def _page_account(page: Mapping[str, Any], scopes: str) -> ConnectedAccount:
    name = str(page.get("name") or page["id"])
    username = str(page.get("username") or "")
    picture = ((page.get("picture") or {}).get("data") or {}).get("url", "")
    profile = AccountProfile(
        platform_account_id=str(page["id"]),
        handle=f"@{username}" if username else name,
        display_name=name,
        avatar_url=str(picture),
    )
    # A Page token read with a long-lived user token does not expire: nothing to refresh.
    return ConnectedAccount(
        profile=profile, tokens=TokenSet(access_token=str(page["access_token"]), scopes=scopes)
    )


def _photo_params(item: MediaItem, **extra: str) -> dict[str, str]:
    params = {"url": item.url, **extra}
    if item.alt_text:
        params["alt_text_custom"] = item.alt_text
    return params


def _video_error(status: Mapping[str, Any]) -> str:
    phase = status.get("processing_phase") if isinstance(status.get("processing_phase"), dict) else {}
    errors = phase.get("errors") if isinstance(phase.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return str(first.get("message") or "the video could not be processed")


def _unpublished_photo(
    client: httpx.Client, graph: str, page_id: str, token: str, item: MediaItem
) -> str | Outcome:
    answer = meta_graph.graph_request(
        client, "POST", f"{graph}/{page_id}/photos", token, _photo_params(item, published="false")
    )
    if isinstance(answer, dict):
        return str(answer.get("id") or "") or Transient("Facebook did not return the uploaded photo's id.")
    if isinstance(answer, Unknown):  # an unpublished photo shows nowhere: uploading again is harmless
        return Transient(answer.error, http_status=answer.http_status)
    return answer


def _published(answer: dict[str, Any] | Outcome, *, post_key: str = "id") -> Outcome:
    if isinstance(answer, dict):
        post_id = str(answer.get(post_key) or answer.get("id") or "")
        if not post_id:
            return Unknown("Facebook answered without the post's id; check the Page before posting again.")
        return Published(post_id, url=f"https://www.facebook.com/{post_id}")
    return answer


def _summary_count(body: Mapping[str, Any], edge: str) -> int | None:
    count = ((body.get(edge) or {}).get("summary") or {}).get("total_count")
    return int(count) if isinstance(count, int) else None
