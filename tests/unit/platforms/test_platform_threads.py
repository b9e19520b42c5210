"""The Threads adapter over real HTTP against the fake Graph API: container publish, retries that
never post twice, Graph errors as outcomes, connect with the long-lived token, refresh."""

from __future__ import annotations

import time
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
    RefreshRevoked,
    RefreshUnavailable,
    Rejected,
    Transient,
    Unknown,
)
from postforge.platforms.threads import ThreadsAdapter
from postforge.settings import Settings
from tests.fakes.meta_graph_api import FakeMetaGraph
from tests.fakes.server import serve
from tests.support.checkpoints import Checkpoints
from tests.support.media import media


@pytest.fixture
def meta() -> FakeMetaGraph:
    return FakeMetaGraph()


@pytest.fixture
def base_url(meta: FakeMetaGraph) -> Iterator[str]:
    with serve(meta.app) as url:
        yield url


@pytest.fixture
def adapter(meta: FakeMetaGraph, base_url: str) -> ThreadsAdapter:
    adapter = ThreadsAdapter(meta.settings(base_url))
    adapter.container_poll_interval = 0.01
    return adapter


def request_for(
    meta: FakeMetaGraph,
    token: str,
    text: str = "Fresh loaves at 7.",
    *,
    media: tuple[MediaItem, ...] = (),
    checkpoints: Checkpoints | None = None,
    expires_at: datetime | None = None,
) -> PublishRequest:
    checkpoints = checkpoints if checkpoints is not None else Checkpoints()
    account = AccountCredentials(
        platform_account_id=meta.threads_user.id,
        access_token=token,
        token_expires_at=expires_at,
        handle=f"@{meta.threads_user.username}",
    )
    return PublishRequest(
        text=text,
        idempotency_key="a" * 32,
        account=account,
        state=checkpoints.state,
        media=media,
        checkpoint=checkpoints,
    )


IMAGE = MediaItem(url="https://media.postforge.example/bread.jpg", mime_type="image/jpeg")


# -- publishing -------------------------------------------------------------------------------


def test_a_text_post_is_published_from_a_container_saved_first(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    checkpoints = Checkpoints()
    before = time.time()

    outcome = adapter.publish(request_for(meta, meta.threads_token(), checkpoints=checkpoints))

    [post] = meta.posts_on("threads")
    assert outcome == Published(post.id, url=post.permalink)
    assert post.text == "Fresh loaves at 7."
    assert post.received_at >= before
    assert checkpoints.saved == [{"container_id": post.container_id}]
    assert meta.containers[post.container_id].params["media_type"] == "TEXT"


def test_an_image_post_waits_for_its_container_to_finish(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    meta.container_polls_before_finished = 2

    outcome = adapter.publish(request_for(meta, meta.threads_token(), media=(IMAGE,)))

    [post] = meta.posts_on("threads")
    assert isinstance(outcome, Published) and outcome.platform_post_id == post.id
    assert post.media_urls == (IMAGE.url,)
    assert meta.containers[post.container_id].params["media_type"] == "IMAGE"


def test_a_container_still_processing_is_transient_and_the_retry_publishes_that_container(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    meta.container_polls_before_finished = 4
    adapter.container_polls = 2
    checkpoints = Checkpoints()
    token = meta.threads_token()

    first = adapter.publish(request_for(meta, token, media=(IMAGE,), checkpoints=checkpoints))
    assert isinstance(first, Transient)
    assert meta.posts_on("threads") == []

    second = adapter.publish(request_for(meta, token, media=(IMAGE,), checkpoints=checkpoints))

    [post] = meta.posts_on("threads")
    assert isinstance(second, Published) and second.platform_post_id == post.id
    assert len(meta.containers) == 1
    assert post.container_id == checkpoints.state["container_id"]


def test_a_publish_dropped_after_it_landed_is_found_on_retry_and_never_posted_twice(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    checkpoints = Checkpoints()
    token = meta.threads_token()
    meta.faults.drop_next("threads_publish")

    first = adapter.publish(request_for(meta, token, checkpoints=checkpoints))
    assert isinstance(first, Unknown)
    assert checkpoints.state["container_id"]

    second = adapter.publish(request_for(meta, token, checkpoints=checkpoints))

    [post] = meta.posts_on("threads")
    assert second == Published(post.id, url=post.permalink)
    assert len(meta.publish_requests) == 1  # the saved container said PUBLISHED: no second publish
    assert len(meta.containers) == 1


def test_a_failed_publish_retries_the_saved_container_exactly_once(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    checkpoints = Checkpoints()
    token = meta.threads_token()
    meta.graph_error_next("threads_publish", code=2, message="Service temporarily unavailable", status=503)

    assert isinstance(adapter.publish(request_for(meta, token, checkpoints=checkpoints)), Transient)
    outcome = adapter.publish(request_for(meta, token, checkpoints=checkpoints))

    [post] = meta.posts_on("threads")
    assert isinstance(outcome, Published)
    assert len(meta.containers) == 1
    assert [r["creation_id"] for r in meta.publish_requests] == [post.container_id, post.container_id]


def test_a_dropped_container_creation_makes_a_new_container_and_one_post(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    checkpoints = Checkpoints()
    token = meta.threads_token()
    meta.faults.drop_next("threads")

    assert isinstance(adapter.publish(request_for(meta, token, checkpoints=checkpoints)), Unknown)
    assert checkpoints.saved == []  # no id came back, so nothing was saved
    outcome = adapter.publish(request_for(meta, token, checkpoints=checkpoints))

    assert isinstance(outcome, Published)
    assert len(meta.posts_on("threads")) == 1  # the orphan container is never published


def test_an_expired_saved_container_is_replaced(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    checkpoints = Checkpoints()
    token = meta.threads_token()
    meta.graph_error_next("threads_publish", code=2, message="Service temporarily unavailable", status=503)
    adapter.publish(request_for(meta, token, checkpoints=checkpoints))
    expired = checkpoints.state["container_id"]
    meta.expire_container(expired)

    outcome = adapter.publish(request_for(meta, token, checkpoints=checkpoints))

    [post] = meta.posts_on("threads")
    assert isinstance(outcome, Published)
    assert post.container_id != expired == checkpoints.saved[0]["container_id"]
    assert checkpoints.state["container_id"] == post.container_id


def test_a_container_that_failed_processing_is_rejected_with_metas_reason(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    meta.container_final_status = "ERROR"

    outcome = adapter.publish(request_for(meta, meta.threads_token(), media=(IMAGE,)))

    assert isinstance(outcome, Rejected)
    assert "Media download has failed" in outcome.reason
    assert meta.posts_on("threads") == []


def test_an_expired_token_is_auth_expired(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    token = meta.threads_token()
    meta.expire(token)

    outcome = adapter.publish(request_for(meta, token))

    assert isinstance(outcome, AuthExpired)
    assert "Session has expired" in outcome.error


def test_throttling_waits_as_long_as_the_usage_header_says(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    meta.throttle_next("threads", code=4, regain_minutes=30)

    outcome = adapter.publish(request_for(meta, meta.threads_token()))

    assert isinstance(outcome, RateLimited)
    wait = outcome.retry_at - datetime.now(UTC)
    assert timedelta(minutes=29) < wait <= timedelta(minutes=30)
    assert "request limit" in outcome.error


@pytest.mark.parametrize(("code", "status"), [(17, 400), (613, 400), (1, 429)])
def test_throttling_without_a_usage_estimate_waits_fifteen_minutes(
    meta: FakeMetaGraph, adapter: ThreadsAdapter, code: int, status: int
) -> None:
    meta.throttle_next("threads", code=code, status=status)

    outcome = adapter.publish(request_for(meta, meta.threads_token()))

    assert isinstance(outcome, RateLimited)
    assert timedelta(minutes=14) < outcome.retry_at - datetime.now(UTC) <= timedelta(minutes=15)


def test_a_graph_parameter_error_is_rejected_with_its_message(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    outcome = adapter.publish(request_for(meta, meta.threads_token(), text="x" * 501))

    assert isinstance(outcome, Rejected)
    assert "at most 500 characters" in outcome.reason


def test_an_unreachable_platform_is_transient(meta: FakeMetaGraph) -> None:
    with serve(meta.app) as gone:
        pass  # the server stopped: its port now refuses connections
    adapter = ThreadsAdapter(meta.settings(gone))

    assert isinstance(adapter.publish(request_for(meta, "any-token")), Transient)


# -- metrics ----------------------------------------------------------------------------------


def published_post(meta: FakeMetaGraph, adapter: ThreadsAdapter, token: str) -> str:
    outcome = adapter.publish(request_for(meta, token))
    assert isinstance(outcome, Published)
    return outcome.platform_post_id


def metrics_account(meta: FakeMetaGraph, token: str) -> AccountCredentials:
    return request_for(meta, token).account


def test_metrics_map_views_likes_replies_and_reposts_with_quotes(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    token = meta.threads_token()
    media_id = published_post(meta, adapter, token)
    [post] = meta.posts_on("threads")
    post.insights.update(views=980, likes=57, replies=8, reposts=5, quotes=2, shares=30)

    metrics = adapter.fetch_metrics(metrics_account(meta, token), media_id)

    assert metrics == PostMetricsSnapshot(impressions=980, likes=57, comments=8, shares=7)


def test_metrics_read_the_total_value_shape_too(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    token = meta.threads_token()
    media_id = published_post(meta, adapter, token)
    meta.posts_on("threads")[0].insights.update(views=40, likes=6, replies=1, reposts=2, quotes=0)
    meta.total_value_metrics = {"likes", "reposts"}

    metrics = adapter.fetch_metrics(metrics_account(meta, token), media_id)

    assert metrics == PostMetricsSnapshot(impressions=40, likes=6, comments=1, shares=2)


def test_an_account_connected_through_oauth_can_read_its_insights(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    [connected] = adapter.complete_oauth(
        meta.run_oauth(adapter.oauth_client(redirect_uri="https://postforge.example/connect/callback"))
    )
    media_id = published_post(meta, adapter, connected.tokens.access_token)
    meta.posts_on("threads")[0].insights["views"] = 3

    metrics = adapter.fetch_metrics(metrics_account(meta, connected.tokens.access_token), media_id)

    assert metrics is not None and metrics.impressions == 3


def test_a_token_without_the_insights_permission_reads_no_metrics(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    media_id = published_post(meta, adapter, meta.threads_token())
    older = meta.threads_token(scopes=("threads_basic", "threads_content_publish"))

    assert adapter.fetch_metrics(metrics_account(meta, older), media_id) is None


def test_an_unknown_post_or_someone_elses_has_no_metrics(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    token = meta.threads_token()
    media_id = published_post(meta, adapter, token)
    stranger = meta.issue_token(
        "threads_long", "26000000000000099", ttl=3600, scopes=("threads_manage_insights",)
    )

    assert adapter.fetch_metrics(metrics_account(meta, token), "18999999999999999") is None
    assert adapter.fetch_metrics(metrics_account(meta, token), "me") is None
    assert adapter.fetch_metrics(metrics_account(meta, stranger), media_id) is None


@pytest.mark.parametrize("lose", ["expire", "revoke"])
def test_an_expired_or_revoked_token_reads_no_metrics(
    meta: FakeMetaGraph, adapter: ThreadsAdapter, lose: str
) -> None:
    media_id = published_post(meta, adapter, meta.threads_token())
    token = meta.threads_token()
    getattr(meta, lose)(token)

    assert adapter.fetch_metrics(metrics_account(meta, token), media_id) is None


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_mean_no_metrics(
    meta: FakeMetaGraph, adapter: ThreadsAdapter, status: int
) -> None:
    token = meta.threads_token()
    media_id = published_post(meta, adapter, token)
    if status == 429:
        meta.throttle_next("insights", code=4, status=429)
    else:
        meta.graph_error_next("insights", code=2, message="Service temporarily unavailable", status=status)

    assert adapter.fetch_metrics(metrics_account(meta, token), media_id) is None
    assert adapter.fetch_metrics(metrics_account(meta, token), media_id) is not None  # only that one


@pytest.mark.parametrize(
    "body",
    [
        "<html>oops</html>",
        {"id": "1"},
        {"data": "views"},
        [{"name": "views", "values": [{"value": 1}]}],
    ],
)
def test_a_malformed_answer_means_no_metrics(
    meta: FakeMetaGraph, adapter: ThreadsAdapter, body: object
) -> None:
    token = meta.threads_token()
    media_id = published_post(meta, adapter, token)
    meta.faults.fail_next("insights", status=200, body=body)

    assert adapter.fetch_metrics(metrics_account(meta, token), media_id) is None


def test_unreadable_items_are_left_out_not_guessed(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    token = meta.threads_token()
    media_id = published_post(meta, adapter, token)
    body = {
        "data": [
            {"name": "views", "values": [{"value": "many"}]},
            {"name": "likes", "values": []},
            {"name": "replies", "total_value": {"value": 4}},
            "reposts",
        ]
    }
    meta.faults.fail_next("insights", status=200, body=body)

    metrics = adapter.fetch_metrics(metrics_account(meta, token), media_id)

    assert metrics == PostMetricsSnapshot(comments=4)


def test_a_timeout_or_dropped_connection_means_no_metrics(meta: FakeMetaGraph, base_url: str) -> None:
    adapter = ThreadsAdapter(meta.settings(base_url, platform_http_timeout_seconds=0.3))
    token = meta.threads_token()
    media_id = published_post(meta, adapter, token)
    meta.faults.delay_next("insights", 1.5)
    assert adapter.fetch_metrics(metrics_account(meta, token), media_id) is None

    meta.faults.drop_next("insights")
    assert adapter.fetch_metrics(metrics_account(meta, token), media_id) is None


# -- connecting and tokens --------------------------------------------------------------------


def test_connect_trades_the_code_for_a_long_lived_token_and_reads_the_profile(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    config = adapter.oauth_client(redirect_uri="https://postforge.example/connect/callback")
    token = meta.run_oauth(config)

    [account] = adapter.complete_oauth(token)

    assert (
        meta.authorize_requests[-1]["scope"]
        == "threads_basic,threads_content_publish,threads_manage_insights"
    )
    assert meta.authorize_requests[-1]["surface"] == "threads"
    assert account.profile.platform_account_id == meta.threads_user.id
    assert account.profile.handle == "@ada.threads"
    assert account.profile.display_name == "Ada Lovelace"
    assert account.profile.avatar_url == meta.threads_user.picture_url
    stored = meta.tokens[account.tokens.access_token]
    assert stored.kind == "threads_long" and account.tokens.access_token != token["access_token"]
    assert account.tokens.refresh_token is None
    assert account.tokens.expires_at is not None
    assert timedelta(days=59) < account.tokens.expires_at - datetime.now(UTC) <= timedelta(days=60)
    # The connected token publishes.
    assert isinstance(adapter.publish(request_for(meta, account.tokens.access_token)), Published)


def test_connect_reports_metas_message_when_the_exchange_fails(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    token = meta.run_oauth(adapter.oauth_client(redirect_uri="https://postforge.example/cb"))
    meta.graph_error_next("threads_exchange", code=190, message="Error validating access token")

    with pytest.raises(ConnectFailed, match="Error validating access token"):
        adapter.complete_oauth(token)


def test_refresh_renews_an_unexpired_token_for_sixty_days(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    token = meta.threads_token(ttl=3 * 86400)
    account = request_for(meta, token, expires_at=datetime.now(UTC) + timedelta(days=3)).account

    assert adapter.can_refresh(account)
    renewed = adapter.refresh(account)

    assert renewed.access_token != token and meta.tokens[renewed.access_token].kind == "threads_long"
    assert renewed.refresh_token is None
    assert renewed.expires_at is not None and renewed.expires_at - datetime.now(UTC) > timedelta(days=59)
    assert meta.token_requests[-1]["grant_type"] == "th_refresh_token"


def test_an_expired_token_cannot_be_refreshed(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    token = meta.threads_token()
    account = request_for(meta, token, expires_at=datetime.now(UTC) - timedelta(minutes=1)).account
    assert not adapter.can_refresh(account)

    meta.expire(token)
    with pytest.raises(RefreshRevoked, match="reconnect"):
        adapter.refresh(account)


def test_a_refresh_during_an_outage_leaves_the_token_alone(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    meta.graph_error_next("threads_refresh", code=2, message="Service temporarily unavailable", status=503)

    with pytest.raises(RefreshUnavailable):
        adapter.refresh(request_for(meta, meta.threads_token()).account)


def test_an_unconfigured_server_names_the_settings_to_set() -> None:
    adapter = ThreadsAdapter(Settings(_env_file=None, threads_app_id="", threads_app_secret=""))

    with pytest.raises(ConnectFailed, match="THREADS_APP_ID and THREADS_APP_SECRET"):
        adapter.oauth_client(redirect_uri="https://postforge.example/cb")
    with pytest.raises(ConnectFailed, match="THREADS_APP_ID"):
        adapter.complete_oauth({"access_token": "short"})


def test_the_adapter_declares_its_publishing_contract() -> None:
    assert ThreadsAdapter.idempotent is True
    assert ThreadsAdapter.connect_kind == "oauth"
    assert (ThreadsAdapter.rate_limit.capacity, ThreadsAdapter.rate_limit.per_seconds) == (250, 86400)


# -- media: alt text, video, carousels -------------------------------------------------------------


def test_an_image_and_a_video_carry_their_alt_text(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    for item in (media("image", alt="A loaf"), media("video", alt="Kneading")):
        outcome = adapter.publish(request_for(meta, meta.threads_token(), media=(item,)))
        assert isinstance(outcome, Published)
    first, second = meta.posts_on("threads")
    assert meta.containers[first.container_id].params["alt_text"] == "A loaf"
    video = meta.containers[second.container_id].params
    assert (video["media_type"], video["alt_text"]) == ("VIDEO", "Kneading")


def test_a_carousel_mixes_images_and_videos(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    meta.container_polls_before_finished = 1
    files = (media("image", alt="crust"), media("video"), media("image"))
    checkpoints = Checkpoints()

    outcome = adapter.publish(request_for(meta, meta.threads_token(), media=files, checkpoints=checkpoints))

    [post] = meta.posts_on("threads")
    parent = meta.containers[post.container_id]
    children = [meta.containers[child] for child in parent.params["children"].split(",")]
    assert isinstance(outcome, Published)
    assert parent.params["media_type"] == "CAROUSEL" and parent.params["text"] == "Fresh loaves at 7."
    assert [child.params["media_type"] for child in children] == ["IMAGE", "VIDEO", "IMAGE"]
    assert children[0].params["alt_text"] == "crust"
    assert post.media_urls == tuple(item.url for item in files)
    assert set(checkpoints.state) == {"media", "container_id"}


def test_failed_processing_is_rejected_with_threads_error_message(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    clip = media("video")
    meta.fail_urls.add(clip.url)

    outcome = adapter.publish(request_for(meta, meta.threads_token(), media=(clip,)))

    assert outcome == Rejected(f"Meta could not prepare the post: {meta.container_error_message}")
    assert meta.posts_on("threads") == []


def test_a_carousel_retry_after_a_publish_outage_reuses_the_containers_and_posts_once(
    meta: FakeMetaGraph, adapter: ThreadsAdapter
) -> None:
    files = (media("image"), media("image"))
    checkpoints = Checkpoints()
    token = meta.threads_token()
    meta.faults.fail_next("threads_publish", status=503)

    first = adapter.publish(request_for(meta, token, media=files, checkpoints=checkpoints))
    second = adapter.publish(request_for(meta, token, media=files, checkpoints=checkpoints))

    assert isinstance(first, Transient) and isinstance(second, Published)
    assert len(meta.containers) == 3 and len(meta.posts_on("threads")) == 1


def test_a_lost_item_container_answer_is_transient(meta: FakeMetaGraph, adapter: ThreadsAdapter) -> None:
    meta.faults.drop_next("threads")

    outcome = adapter.publish(request_for(meta, meta.threads_token(), media=(media("image"), media("image"))))

    assert isinstance(outcome, Transient) and "nothing was posted" in outcome.error
    assert meta.posts_on("threads") == []
