"""Facebook Pages: posts on a Page's feed through the Graph API.

A text post is `POST /{page-id}/feed` (`message`); one image is `POST /{page-id}/photos` (`url`,
`message`); several images are uploaded unpublished and attached to one feed post. Every call uses
the Page's own token.

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
from postforge.platforms import meta_graph
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    ConnectedAccount,
    ConnectFailed,
    OAuthClientConfig,
    Outcome,
    PlatformAdapter,
    PostMetricsSnapshot,
    Published,
    PublishRequest,
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

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        if any(not item.mime_type.startswith("image/") for item in request.media):
            return Rejected("Facebook posts from PostForge carry images only, not videos.", http_status=422)
        page_id, token = request.account.platform_account_id, request.account.access_token
        graph = meta_graph.facebook_graph(self.settings)
        with self.http() as client:
            if len(request.media) == 1:
                answer = meta_graph.graph_request(
                    client,
                    "POST",
                    f"{graph}/{page_id}/photos",
                    token,
                    {"url": request.media[0].url, "message": request.text},
                    not_idempotent=True,
                )
                return _published(answer, post_key="post_id")
            params: dict[str, Any] = {"message": request.text}
            for index, item in enumerate(request.media):
                photo = _unpublished_photo(client, graph, page_id, token, item.url)
                if not isinstance(photo, str):
                    return photo  # nothing is on the Page yet: safe to try again
                params[f"attached_media[{index}]"] = f'{{"media_fbid":"{photo}"}}'
            return _published(
                meta_graph.graph_request(
                    client, "POST", f"{graph}/{page_id}/feed", token, params, not_idempotent=True
                )
            )

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
            user_token = meta_graph.facebook_long_lived_user_token(client, self.settings, token, self.label)
            pages = meta_graph.list_pages(
                client, meta_graph.facebook_graph(self.settings), user_token, PAGE_FIELDS, label=self.label
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


def _unpublished_photo(client: httpx.Client, graph: str, page_id: str, token: str, url: str) -> str | Outcome:
    answer = meta_graph.graph_request(
        client, "POST", f"{graph}/{page_id}/photos", token, {"url": url, "published": "false"}
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
