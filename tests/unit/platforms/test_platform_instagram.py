"""The Instagram adapter over real HTTP against the fake Graph API: media containers, retries that
never post twice, no text-only posts, connect through Facebook Login to linked accounts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from postforge.platforms.base import (
    AccountCredentials,
    AuthExpired,
    ConnectFailed,
    MediaItem,
    PostMetricsSnapshot,
    Published,
    PublishRequest,
    RateLimited,
    Rejected,
    Transient,
    Unknown,
)
from postforge.platforms.instagram import InstagramAdapter
from postforge.settings import Settings
from tests.fakes.meta_graph_api import FacebookPage, FakeMetaGraph, InstagramAccount
from tests.fakes.server import serve
from tests.support.checkpoints import Checkpoints
from tests.support.media import media

IMAGE = MediaItem(url="https://media.postforge.example/croissant.jpg", mime_type="image/jpeg")
VIDEO = MediaItem(url="https://media.postforge.example/oven.mp4", mime_type="video/mp4")


@pytest.fixture
def meta() -> FakeMetaGraph:
    return FakeMetaGraph()


@pytest.fixture
def base_url(meta: FakeMetaGraph) -> Iterator[str]:
    with serve(meta.app) as url:
        yield url


@pytest.fixture
def adapter(meta: FakeMetaGraph, base_url: str) -> InstagramAdapter:
    adapter = InstagramAdapter(meta.settings(base_url))
    adapter.container_poll_interval = 0.01
    return adapter


def linked_page(meta: FakeMetaGraph) -> FacebookPage:
    return next(page for page in meta.pages if page.instagram)


def request_for(
    meta: FakeMetaGraph,
    *,
    token: str | None = None,
    text: str = "Croissants, still warm.",
    media: tuple[MediaItem, ...] = (IMAGE,),
    checkpoints: Checkpoints | None = None,
) -> PublishRequest:
    page = linked_page(meta)
    assert page.instagram is not None
    checkpoints = checkpoints if checkpoints is not None else Checkpoints()
    account = AccountCredentials(
        platform_account_id=page.instagram.id,
        access_token=token or meta.page_token(page.id),
        handle=f"@{page.instagram.username}",
    )
    return PublishRequest(
        text=text,
        idempotency_key="b" * 32,
        account=account,
        state=checkpoints.state,
        media=media,
        checkpoint=checkpoints,
    )


# -- publishing -------------------------------------------------------------------------------


def test_an_image_post_is_published_from_a_saved_container(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    meta.container_polls_before_finished = 1
    checkpoints = Checkpoints()

    outcome = adapter.publish(request_for(meta, checkpoints=checkpoints))

    [post] = meta.posts_on("instagram")
    assert outcome == Published(post.id, url=post.permalink)
    assert post.permalink.startswith("https://www.instagram.com/p/")
    assert (post.text, post.media_urls) == ("Croissants, still warm.", (IMAGE.url,))
    assert checkpoints.saved == [{"container_id": post.container_id}]


def test_a_video_goes_out_as_a_reel(meta: FakeMetaGraph, adapter: InstagramAdapter) -> None:
    outcome = adapter.publish(request_for(meta, media=(VIDEO,)))

    [post] = meta.posts_on("instagram")
    assert isinstance(outcome, Published)
    params = meta.containers[post.container_id].params
    assert (params["media_type"], params["video_url"]) == ("REELS", VIDEO.url)


def test_a_post_without_media_is_rejected_before_calling_instagram(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    outcome = adapter.publish(request_for(meta, media=()))

    assert isinstance(outcome, Rejected)
    assert "need an image or a video" in outcome.reason
    assert meta.containers == {}


def test_a_publish_dropped_after_it_landed_is_found_on_retry(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    checkpoints = Checkpoints()
    token = meta.page_token(linked_page(meta).id)
    meta.faults.drop_next("media_publish")

    assert isinstance(adapter.publish(request_for(meta, token=token, checkpoints=checkpoints)), Unknown)
    outcome = adapter.publish(request_for(meta, token=token, checkpoints=checkpoints))

    [post] = meta.posts_on("instagram")
    assert outcome == Published(post.id, url=post.permalink)
    assert len(meta.publish_requests) == 1 and len(meta.containers) == 1


def test_media_not_ready_is_transient_and_the_retry_publishes_the_same_container(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    checkpoints = Checkpoints()
    token = meta.page_token(linked_page(meta).id)
    meta.graph_error_next("media_publish", code=9007, subcode=2207027, message="Media ID is not available")

    first = adapter.publish(request_for(meta, token=token, checkpoints=checkpoints))
    assert isinstance(first, Transient) and "Media ID is not available" in first.error
    second = adapter.publish(request_for(meta, token=token, checkpoints=checkpoints))

    [post] = meta.posts_on("instagram")
    assert isinstance(second, Published)
    assert [r["creation_id"] for r in meta.publish_requests] == [post.container_id] * 2


def test_an_unreadable_saved_container_is_retried_later_not_replaced(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    checkpoints = Checkpoints()
    token = meta.page_token(linked_page(meta).id)
    meta.faults.drop_next("media_publish")
    adapter.publish(request_for(meta, token=token, checkpoints=checkpoints))
    # Meta sometimes refuses reads of fresh objects (code 100 subcode 33).
    meta.graph_error_next("container", code=100, subcode=33, message="Unsupported get request.")

    outcome = adapter.publish(request_for(meta, token=token, checkpoints=checkpoints))

    assert isinstance(outcome, Transient)
    assert len(meta.containers) == 1 and len(meta.posts_on("instagram")) == 1


def test_a_page_token_that_lost_its_login_is_auth_expired(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    token = meta.page_token(linked_page(meta).id)
    meta.revoke(token)

    assert isinstance(adapter.publish(request_for(meta, token=token)), AuthExpired)


def test_business_use_case_throttling_waits_the_estimated_minutes(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    meta.throttle_next("media", code=80002, regain_minutes=42)

    outcome = adapter.publish(request_for(meta))

    assert isinstance(outcome, RateLimited)
    assert timedelta(minutes=41) < outcome.retry_at - datetime.now(UTC) <= timedelta(minutes=42)


def test_a_server_error_creating_the_container_is_transient(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    meta.faults.fail_next("media", status=500, body="<html>Internal Server Error</html>")

    assert isinstance(adapter.publish(request_for(meta)), Transient)


# -- metrics ----------------------------------------------------------------------------------


def published_media(meta: FakeMetaGraph, adapter: InstagramAdapter, token: str | None = None) -> str:
    outcome = adapter.publish(request_for(meta, token=token))
    assert isinstance(outcome, Published)
    return outcome.platform_post_id


def metrics_account(meta: FakeMetaGraph, token: str | None = None) -> AccountCredentials:
    return request_for(meta, token=token or meta.page_token(linked_page(meta).id)).account


def test_metrics_map_reach_views_likes_comments_and_shares(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    media_id = published_media(meta, adapter)
    [post] = meta.posts_on("instagram")
    post.insights.update(reach=812, views=1304, likes=96, comments=11, shares=7, saved=19)

    metrics = adapter.fetch_metrics(metrics_account(meta), media_id)

    assert metrics == PostMetricsSnapshot(impressions=1304, reach=812, likes=96, comments=11, shares=7)


def test_metrics_asks_for_views_not_the_retired_impressions(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    media_id = published_media(meta, adapter)
    meta.total_value_metrics = {"views", "reach"}  # Meta's other shape
    meta.posts_on("instagram")[0].insights.update(views=5, reach=4)

    metrics = adapter.fetch_metrics(metrics_account(meta), media_id)

    # The fake, like Graph v22+, refuses `impressions` for media: numbers prove it was not asked.
    assert metrics == PostMetricsSnapshot(impressions=5, reach=4, likes=0, comments=0, shares=0)


def test_a_page_token_without_the_insights_permission_reads_no_metrics(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    media_id = published_media(meta, adapter)
    older = meta.page_token(
        linked_page(meta).id, scopes=("instagram_basic", "instagram_content_publish", "pages_show_list")
    )

    assert adapter.fetch_metrics(metrics_account(meta, older), media_id) is None


def test_an_unknown_media_or_another_pages_has_no_metrics(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    media_id = published_media(meta, adapter)
    other_page = next(page for page in meta.pages if not page.instagram)

    assert adapter.fetch_metrics(metrics_account(meta), "17999999999999999") is None
    assert adapter.fetch_metrics(metrics_account(meta, meta.page_token(other_page.id)), media_id) is None


@pytest.mark.parametrize("lose", ["expire", "revoke"])
def test_an_expired_or_revoked_token_reads_no_metrics(
    meta: FakeMetaGraph, adapter: InstagramAdapter, lose: str
) -> None:
    media_id = published_media(meta, adapter)
    token = meta.page_token(linked_page(meta).id)
    getattr(meta, lose)(token)

    assert adapter.fetch_metrics(metrics_account(meta, token), media_id) is None


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_mean_no_metrics(
    meta: FakeMetaGraph, adapter: InstagramAdapter, status: int
) -> None:
    media_id = published_media(meta, adapter)
    if status == 429:
        meta.throttle_next("insights", code=80002, regain_minutes=3, status=429)
    else:
        meta.graph_error_next("insights", code=1, message="An unknown error has occurred.", status=status)

    assert adapter.fetch_metrics(metrics_account(meta), media_id) is None
    assert adapter.fetch_metrics(metrics_account(meta), media_id) is not None  # only that one


@pytest.mark.parametrize(
    "body", ["", {"error": "nope"}, {"data": None}, {"data": []}, {"data": [{"values": [{"value": 3}]}]}]
)
def test_a_malformed_answer_means_no_metrics(
    meta: FakeMetaGraph, adapter: InstagramAdapter, body: object
) -> None:
    media_id = published_media(meta, adapter)
    meta.faults.fail_next("insights", status=200, body=body)

    assert adapter.fetch_metrics(metrics_account(meta), media_id) is None


def test_a_timeout_or_dropped_connection_means_no_metrics(meta: FakeMetaGraph, base_url: str) -> None:
    adapter = InstagramAdapter(meta.settings(base_url, platform_http_timeout_seconds=0.3))
    adapter.container_poll_interval = 0.01
    media_id = published_media(meta, adapter)
    meta.faults.delay_next("insights", 1.5)
    assert adapter.fetch_metrics(metrics_account(meta), media_id) is None

    meta.faults.drop_next("insights")
    assert adapter.fetch_metrics(metrics_account(meta), media_id) is None


# -- connecting -------------------------------------------------------------------------------


def test_connect_gives_one_account_per_page_with_a_linked_instagram_account(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    meta.pages.append(
        FacebookPage(
            id="110000000000003",
            name="Ada's Cafe",
            instagram=InstagramAccount("17841400000000003", "adas.cafe", "https://cdn.ig.example/cafe.jpg"),
        )
    )
    config = adapter.oauth_client(redirect_uri="https://postforge.example/connect/callback")
    assert config.authorize_url.endswith(f"/{meta.version}/dialog/oauth")

    accounts = adapter.complete_oauth(meta.run_oauth(config))

    assert meta.authorize_requests[-1]["scope"] == (
        "instagram_basic,instagram_content_publish,instagram_manage_insights,pages_show_list,"
        "pages_read_engagement"
    )
    assert [(a.profile.platform_account_id, a.profile.handle) for a in accounts] == [
        ("17841400000000001", "@adas.bakery"),
        ("17841400000000003", "@adas.cafe"),
    ]
    assert accounts[0].profile.settings == {
        "facebook_page_id": "110000000000001",
        "facebook_page_name": "Ada's Bakery",
    }
    assert accounts[1].profile.avatar_url == "https://cdn.ig.example/cafe.jpg"
    # The user token was made long-lived first, so the Page tokens never expire.
    assert any(r.get("grant_type") == "fb_exchange_token" for r in meta.token_requests)
    for account in accounts:
        assert account.tokens.expires_at is None and account.tokens.refresh_token is None
        assert meta.tokens[account.tokens.access_token].expires_at is None
    assert not adapter.can_refresh(request_for(meta).account)
    # The connected account publishes with what connect stored.
    account = AccountCredentials(
        platform_account_id=accounts[0].profile.platform_account_id,
        access_token=accounts[0].tokens.access_token,
        handle=accounts[0].profile.handle,
    )
    outcome = adapter.publish(
        PublishRequest(text="Hi", idempotency_key="c" * 32, account=account, media=(IMAGE,))
    )
    assert isinstance(outcome, Published)
    # … and reads its insights with it (connect asked for instagram_manage_insights).
    meta.posts_on("instagram")[0].insights["reach"] = 12
    metrics = adapter.fetch_metrics(account, outcome.platform_post_id)
    assert metrics is not None and metrics.reach == 12


def test_connect_without_a_linked_instagram_account_says_how_to_link_one(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    for page in meta.pages:
        page.instagram = None
    token = meta.run_oauth(adapter.oauth_client(redirect_uri="https://postforge.example/cb"))

    with pytest.raises(ConnectFailed, match="Instagram professional account linked"):
        adapter.complete_oauth(token)


def test_an_unconfigured_server_names_the_settings_to_set() -> None:
    adapter = InstagramAdapter(Settings(_env_file=None, facebook_app_id="", facebook_app_secret=""))

    with pytest.raises(ConnectFailed, match="FACEBOOK_APP_ID and FACEBOOK_APP_SECRET"):
        adapter.oauth_client(redirect_uri="https://postforge.example/cb")
    with pytest.raises(ConnectFailed, match="FACEBOOK_APP_ID"):
        adapter.complete_oauth({"access_token": "short"})


def test_the_adapter_declares_its_publishing_contract() -> None:
    assert InstagramAdapter.idempotent is True
    assert (InstagramAdapter.rate_limit.capacity, InstagramAdapter.rate_limit.per_seconds) == (50, 86400)


# -- media: alt text, carousels, processing ----------------------------------------------------------


def test_an_image_carries_its_alt_text(meta: FakeMetaGraph, adapter: InstagramAdapter) -> None:
    image = media("image", alt="A croissant on a plate")

    outcome = adapter.publish(request_for(meta, media=(image,)))

    [post] = meta.posts_on("instagram")
    assert isinstance(outcome, Published)
    assert meta.containers[post.container_id].params["alt_text"] == "A croissant on a plate"


def test_a_carousel_is_item_containers_then_a_carousel_container(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    meta.container_polls_before_finished = 1
    files = (media("image", alt="first"), media("video"), media("image"))
    checkpoints = Checkpoints()

    outcome = adapter.publish(request_for(meta, media=files, checkpoints=checkpoints))

    [post] = meta.posts_on("instagram")
    assert isinstance(outcome, Published) and outcome.platform_post_id == post.id
    assert post.media_urls == tuple(item.url for item in files)
    parent = meta.containers[post.container_id]
    children = [meta.containers[child] for child in parent.params["children"].split(",")]
    assert parent.params["media_type"] == "CAROUSEL" and parent.params["caption"] == "Croissants, still warm."
    assert [child.params.get("is_carousel_item") for child in children] == ["true"] * 3
    assert children[0].params["alt_text"] == "first" and children[1].params["media_type"] == "VIDEO"
    saved = checkpoints.state
    assert saved["container_id"] == parent.id
    assert [saved["media"][str(item.media_id)] for item in files] == [
        {"container": child.id, "ready": True} for child in children
    ]


def test_a_carousel_item_that_fails_processing_is_rejected_with_metas_reason(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    broken = media("video")
    meta.fail_urls.add(broken.url)

    outcome = adapter.publish(request_for(meta, media=(media("image"), broken)))

    assert outcome == Rejected(f"Meta could not prepare the post: {meta.container_error_message}")
    assert meta.posts_on("instagram") == []


def test_a_reel_that_fails_processing_is_rejected(meta: FakeMetaGraph, adapter: InstagramAdapter) -> None:
    reel = media("video")
    meta.fail_urls.add(reel.url)
    meta.container_polls_before_finished = 1

    outcome = adapter.publish(request_for(meta, media=(reel,)))

    assert isinstance(outcome, Rejected) and "Media download has failed" in outcome.reason
    assert meta.posts_on("instagram") == []


def test_a_carousel_still_processing_is_transient_and_the_retry_reuses_every_container(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    meta.container_polls_before_finished = 6
    adapter.container_polls = 2
    files = (media("image"), media("image"))
    checkpoints = Checkpoints()

    first = adapter.publish(request_for(meta, media=files, checkpoints=checkpoints))
    adapter.container_polls = 10
    second = adapter.publish(request_for(meta, media=files, checkpoints=checkpoints))

    assert isinstance(first, Transient) and "still processing" in first.error
    assert isinstance(second, Published)
    assert len(meta.containers) == 3 and len(meta.posts_on("instagram")) == 1


def test_a_retry_after_the_publish_answer_was_lost_posts_the_carousel_once(
    meta: FakeMetaGraph, adapter: InstagramAdapter
) -> None:
    files = (media("image"), media("image"))
    checkpoints = Checkpoints()
    meta.faults.drop_next("media_publish")

    first = adapter.publish(request_for(meta, media=files, checkpoints=checkpoints))
    second = adapter.publish(request_for(meta, media=files, checkpoints=checkpoints))

    [post] = meta.posts_on("instagram")
    assert isinstance(first, Unknown)
    assert isinstance(second, Published) and second.platform_post_id == post.id
    assert len(meta.containers) == 3
