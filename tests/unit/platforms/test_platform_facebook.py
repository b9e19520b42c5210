"""The Facebook Pages adapter over real HTTP against the fake Graph API: feed and photo posts,
outcomes for Graph errors (a lost answer is Unknown: feed posts have no idempotency key), and
connect producing one account per Page."""

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
from postforge.platforms.facebook import FacebookAdapter
from postforge.settings import Settings
from tests.fakes.meta_graph_api import FacebookPage, FakeMetaGraph
from tests.fakes.server import serve
from tests.support.checkpoints import Checkpoints
from tests.support.media import media

PHOTOS = tuple(
    MediaItem(url=f"https://media.postforge.example/cake-{n}.jpg", mime_type="image/jpeg") for n in range(3)
)


@pytest.fixture
def meta() -> FakeMetaGraph:
    return FakeMetaGraph()


@pytest.fixture
def base_url(meta: FakeMetaGraph) -> Iterator[str]:
    with serve(meta.app) as url:
        yield url


@pytest.fixture
def adapter(meta: FakeMetaGraph, base_url: str) -> FacebookAdapter:
    return FacebookAdapter(meta.settings(base_url))


def page_account(meta: FakeMetaGraph, token: str | None = None) -> AccountCredentials:
    page = meta.pages[0]
    return AccountCredentials(
        platform_account_id=page.id, access_token=token or meta.page_token(page.id), handle=page.name
    )


def request_for(
    meta: FakeMetaGraph,
    *,
    token: str | None = None,
    text: str = "Cake of the day: lemon drizzle.",
    media: tuple[MediaItem, ...] = (),
    checkpoints: Checkpoints | None = None,
) -> PublishRequest:
    checkpoints = checkpoints if checkpoints is not None else Checkpoints()
    return PublishRequest(
        text=text,
        idempotency_key="d" * 32,
        account=page_account(meta, token),
        media=media,
        state=checkpoints.state,
        checkpoint=checkpoints,
    )


# -- publishing -------------------------------------------------------------------------------


def test_a_text_post_goes_on_the_pages_feed(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    outcome = adapter.publish(request_for(meta))

    [post] = meta.posts_on("facebook")
    assert outcome == Published(post.id, url=f"https://www.facebook.com/{post.id}")
    assert post.id.startswith(f"{meta.pages[0].id}_")
    assert (post.owner, post.text, post.media_urls) == (
        meta.pages[0].id,
        "Cake of the day: lemon drizzle.",
        (),
    )


def test_one_photo_is_posted_with_its_message(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    outcome = adapter.publish(request_for(meta, media=PHOTOS[:1]))

    [post] = meta.posts_on("facebook")
    assert outcome == Published(post.id, url=f"https://www.facebook.com/{post.id}")
    assert post.media_urls == (PHOTOS[0].url,)


def test_several_photos_are_attached_to_one_feed_post(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    outcome = adapter.publish(request_for(meta, media=PHOTOS))

    [post] = meta.posts_on("facebook")
    assert isinstance(outcome, Published) and outcome.platform_post_id == post.id
    assert post.media_urls == tuple(photo.url for photo in PHOTOS)
    assert meta.unpublished_photos == {}  # every upload was attached


def test_a_post_whose_answer_was_lost_is_unknown_not_retried(
    meta: FakeMetaGraph, adapter: FacebookAdapter
) -> None:
    meta.faults.drop_next("feed")

    outcome = adapter.publish(request_for(meta))

    assert isinstance(outcome, Unknown)
    assert len(meta.posts_on("facebook")) == 1  # it did land: only a person can tell
    assert FacebookAdapter.idempotent is False


def test_graphs_unknown_error_on_a_post_is_unknown(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    meta.graph_error_next("feed", code=1, message="An unknown error has occurred.", status=500)

    outcome = adapter.publish(request_for(meta))

    assert isinstance(outcome, Unknown) and "unknown error" in outcome.error


def test_service_unavailable_is_transient(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    meta.graph_error_next("feed", code=2, message="Service temporarily unavailable", status=503)

    assert isinstance(adapter.publish(request_for(meta)), Transient)


def test_an_expired_page_token_is_auth_expired(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    token = meta.page_token(meta.pages[0].id)
    meta.expire(token)

    outcome = adapter.publish(request_for(meta, token=token))

    assert isinstance(outcome, AuthExpired) and outcome.http_status == 400


def test_a_missing_page_permission_asks_for_a_reconnect(
    meta: FakeMetaGraph, adapter: FacebookAdapter
) -> None:
    user_token = meta.issue_token("user_long", meta.facebook_user_id)

    outcome = adapter.publish(request_for(meta, token=user_token))

    assert isinstance(outcome, AuthExpired)
    assert "pages_manage_posts" in outcome.error
    assert meta.posts_on("facebook") == []


def test_page_throttling_waits_the_estimated_minutes(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    meta.throttle_next("feed", code=32, regain_minutes=7)

    outcome = adapter.publish(request_for(meta))

    assert isinstance(outcome, RateLimited)
    assert timedelta(minutes=6) < outcome.retry_at - datetime.now(UTC) <= timedelta(minutes=7)


def test_a_refused_post_is_rejected_with_metas_message(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    meta.graph_error_next("feed", code=506, message="Duplicate status message")

    outcome = adapter.publish(request_for(meta))

    assert outcome == Rejected("Duplicate status message", http_status=400)


def test_a_video_with_photos_is_refused_with_a_clear_reason(
    meta: FakeMetaGraph, adapter: FacebookAdapter
) -> None:
    outcome = adapter.publish(request_for(meta, media=(media("video"), media("image"))))

    assert isinstance(outcome, Rejected) and "one video, or photos" in outcome.reason
    assert meta.posts_on("facebook") == [] and meta.videos == {}


# -- media: alt text, videos, checkpointed photos ------------------------------------------------------


@pytest.fixture
def media_adapter(adapter: FacebookAdapter) -> FacebookAdapter:
    adapter.media_poll_interval = 0
    return adapter


def test_photos_carry_their_alt_text(meta: FakeMetaGraph, media_adapter: FacebookAdapter) -> None:
    outcome = media_adapter.publish(request_for(meta, media=(media("image", alt="Lemon drizzle cake"),)))

    assert isinstance(outcome, Published)
    assert meta.photo_requests[0]["alt_text_custom"] == "Lemon drizzle cake"


def test_a_video_is_fetched_by_url_processed_and_published(
    meta: FakeMetaGraph, media_adapter: FacebookAdapter
) -> None:
    meta.video_polls_before_ready = 2
    clip = media("video")
    checkpoints = Checkpoints()

    outcome = media_adapter.publish(request_for(meta, media=(clip,), checkpoints=checkpoints))

    [video] = meta.videos.values()
    [post] = meta.posts_on("facebook")
    assert outcome == Published(video.id, url=f"https://www.facebook.com/{video.page_id}/videos/{video.id}")
    assert (
        video.params["file_url"] == clip.url
        and video.params["description"] == "Cake of the day: lemon drizzle."
    )
    assert post.media_urls == (clip.url,)
    assert checkpoints.state == {"video_id": video.id}


def test_failed_video_processing_is_rejected_with_facebooks_message(
    meta: FakeMetaGraph, media_adapter: FacebookAdapter
) -> None:
    clip = media("video")
    meta.fail_urls.add(clip.url)

    outcome = media_adapter.publish(request_for(meta, media=(clip,)))

    assert outcome == Rejected(
        "Facebook could not process the video: The video file you uploaded is in a format we don't support."
    )
    assert meta.posts_on("facebook") == []


def test_a_video_still_processing_is_transient_and_the_retry_waits_for_the_same_video(
    meta: FakeMetaGraph, media_adapter: FacebookAdapter
) -> None:
    meta.video_polls_before_ready = 3
    media_adapter.media_polls = 2
    clip = media("video")
    checkpoints = Checkpoints()

    first = media_adapter.publish(request_for(meta, media=(clip,), checkpoints=checkpoints))
    second = media_adapter.publish(request_for(meta, media=(clip,), checkpoints=checkpoints))

    assert isinstance(first, Transient) and "still processing" in first.error
    assert isinstance(second, Published)
    assert len(meta.videos) == 1 and len(meta.posts_on("facebook")) == 1


def test_a_lost_video_answer_is_unknown_never_a_blind_retry(
    meta: FakeMetaGraph, media_adapter: FacebookAdapter
) -> None:
    meta.faults.drop_next("videos")

    outcome = media_adapter.publish(request_for(meta, media=(media("video"),)))

    assert isinstance(outcome, Unknown)
    assert FacebookAdapter.idempotent is False  # the engine asks a person (needs_review)


def test_a_multi_photo_retry_reuses_the_uploaded_photos_and_posts_once(
    meta: FakeMetaGraph, media_adapter: FacebookAdapter
) -> None:
    photos = (media("image", alt="one"), media("image"), media("image"))
    checkpoints = Checkpoints()
    meta.faults.fail_next("feed", status=503)

    first = media_adapter.publish(request_for(meta, media=photos, checkpoints=checkpoints))
    second = media_adapter.publish(request_for(meta, media=photos, checkpoints=checkpoints))

    [post] = meta.posts_on("facebook")
    assert isinstance(first, Transient) and isinstance(second, Published)
    assert len(meta.photo_requests) == 3  # each photo uploaded once
    assert post.media_urls == tuple(item.url for item in photos)


def test_metrics_read_reactions_comments_and_shares(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    published = adapter.publish(request_for(meta))
    assert isinstance(published, Published)

    metrics = adapter.fetch_metrics(page_account(meta), published.platform_post_id)

    assert metrics == PostMetricsSnapshot(likes=7, comments=3, shares=2)


# -- connecting -------------------------------------------------------------------------------


def test_connect_gives_one_account_per_page_with_a_non_expiring_page_token(
    meta: FakeMetaGraph, adapter: FacebookAdapter
) -> None:
    meta.pages.append(FacebookPage(id="110000000000003", name="Ada's Cafe", username="adascafe"))
    meta.accounts_page_size = 2  # three Pages over two `/me/accounts` pages
    config = adapter.oauth_client(redirect_uri="https://postforge.example/connect/callback")

    accounts = adapter.complete_oauth(meta.run_oauth(config))

    assert meta.authorize_requests[-1]["scope"] == "pages_manage_posts,pages_read_engagement,pages_show_list"
    assert [(a.profile.platform_account_id, a.profile.handle, a.profile.display_name) for a in accounts] == [
        ("110000000000001", "@adasbakery", "Ada's Bakery"),
        ("110000000000002", "Ada's Book Club", "Ada's Book Club"),
        ("110000000000003", "@adascafe", "Ada's Cafe"),
    ]
    assert accounts[0].profile.avatar_url == "https://cdn.facebook.example/bakery.jpg"
    for account in accounts:
        assert account.tokens.expires_at is None
        assert meta.tokens[account.tokens.access_token].kind == "page"
        assert (
            meta.tokens[account.tokens.access_token].expires_at is None
        )  # read with a long-lived user token
    assert not adapter.can_refresh(page_account(meta))
    # Each Page publishes with its own stored token.
    third = AccountCredentials(
        platform_account_id="110000000000003", access_token=accounts[2].tokens.access_token
    )
    outcome = adapter.publish(
        PublishRequest(text="Open late tonight", idempotency_key="e" * 32, account=third)
    )
    assert isinstance(outcome, Published) and outcome.platform_post_id.startswith("110000000000003_")


def test_connect_without_any_page_says_to_share_one(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    meta.pages.clear()
    token = meta.run_oauth(adapter.oauth_client(redirect_uri="https://postforge.example/cb"))

    with pytest.raises(ConnectFailed, match="tick at least one Page"):
        adapter.complete_oauth(token)


def test_connect_reports_a_failed_page_listing(meta: FakeMetaGraph, adapter: FacebookAdapter) -> None:
    token = meta.run_oauth(adapter.oauth_client(redirect_uri="https://postforge.example/cb"))
    meta.graph_error_next("accounts", code=2, message="Service temporarily unavailable", status=503)

    with pytest.raises(ConnectFailed, match="Service temporarily unavailable"):
        adapter.complete_oauth(token)


def test_an_unconfigured_server_names_the_settings_to_set() -> None:
    adapter = FacebookAdapter(Settings(_env_file=None, facebook_app_id="", facebook_app_secret=""))

    with pytest.raises(ConnectFailed, match="FACEBOOK_APP_ID and FACEBOOK_APP_SECRET"):
        adapter.oauth_client(redirect_uri="https://postforge.example/cb")


def test_the_adapter_declares_its_publishing_contract() -> None:
    assert FacebookAdapter.connect_kind == "oauth"
    assert (FacebookAdapter.rate_limit.capacity, FacebookAdapter.rate_limit.per_seconds) == (100, 86400)
