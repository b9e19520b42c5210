"""X adapter against the fake X over real HTTP: every outcome, rate-limit headers, OAuth 2 with
PKCE and rotating refresh tokens."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from authlib.integrations.base_client import OAuthError

from postforge.platforms.base import (
    AccountCredentials,
    AuthExpired,
    ConnectFailed,
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
from postforge.platforms.registry import adapter_for
from postforge.platforms.x import DUPLICATE_MESSAGE, XAdapter, x_retry_at
from postforge.settings import load_settings
from tests.fakes.server import serve
from tests.fakes.x_api import FakeX
from tests.support.checkpoints import Checkpoints
from tests.support.media import media, opened, payload
from tests.support.platform_oauth import SwappableApp, authorize, connect


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SwappableApp, str]]:
    front = SwappableApp()
    with serve(front) as base_url:
        yield front, base_url


@pytest.fixture
def front(server: tuple[SwappableApp, str]) -> SwappableApp:
    return server[0]


@pytest.fixture
def base_url(server: tuple[SwappableApp, str]) -> str:
    return server[1]


@pytest.fixture
def fake(front: SwappableApp) -> FakeX:
    front.app = (fake := FakeX()).app
    return fake


def settings_for(base_url: str, **overrides: object):
    values: dict[str, object] = {
        "x_api_base": base_url,
        "x_auth_base": base_url,
        "x_client_id": "x-client",
        "x_client_secret": "x-secret",
    }
    return load_settings(**(values | overrides))


@pytest.fixture
def adapter(base_url: str) -> XAdapter:
    return XAdapter(settings_for(base_url))


def account(
    fake: FakeX, access_token: str | None = None, refresh_token: str | None = None
) -> AccountCredentials:
    if access_token is None:
        access_token, _ = fake.issue_tokens()
    return AccountCredentials(
        platform_account_id=fake.user.id,
        access_token=access_token,
        refresh_token=refresh_token,
        handle=f"@{fake.user.username}",
    )


def request(fake: FakeX, text: str, **kwargs) -> PublishRequest:
    credentials = kwargs.pop("credentials", None) or account(fake)
    return PublishRequest(text=text, idempotency_key="b" * 32, account=credentials, **kwargs)


# -- publishing ----------------------------------------------------------------------------------


def test_publish_creates_the_post_and_links_to_it(fake, adapter):
    outcome = adapter.publish(request(fake, "Hello from PostForge"))

    [post] = fake.posts
    assert outcome == Published(post.id, url=f"https://x.com/ada_builds/status/{post.id}")
    assert post.text == "Hello from PostForge"
    assert post.headers["authorization"].startswith("Bearer x-at-")


def test_the_same_text_again_is_rejected_as_probably_published_already(fake, adapter):
    first = adapter.publish(request(fake, "Once only"))
    second = adapter.publish(request(fake, "Once only"))

    assert isinstance(first, Published)
    assert second == Rejected(DUPLICATE_MESSAGE, http_status=403)
    assert "probably" in second.reason and "published already" in second.reason
    assert len(fake.posts) == 1


def test_a_lost_answer_is_unknown_and_posting_again_meets_the_duplicate(fake, adapter):
    fake.faults.drop_next("tweets")

    lost = adapter.publish(request(fake, "Did it land?"))
    again = adapter.publish(request(fake, "Did it land?"))  # the person chose "post again"

    assert isinstance(lost, Unknown)
    assert XAdapter.idempotent is False  # the engine sends an Unknown to needs_review
    assert [post.text for post in fake.posts] == ["Did it land?"]
    assert again == Rejected(DUPLICATE_MESSAGE, http_status=403)


def test_the_15_minute_window_running_out_waits_for_its_reset(fake, adapter):
    fake.window_limit = 1
    assert isinstance(adapter.publish(request(fake, "first")), Published)

    outcome = adapter.publish(request(fake, "second"))

    assert isinstance(outcome, RateLimited)
    window_end = datetime.now(UTC) + timedelta(seconds=900)
    assert window_end - timedelta(seconds=5) <= outcome.retry_at <= window_end
    assert [post.text for post in fake.posts] == ["first"]


def test_the_users_daily_cap_waits_for_the_24_hour_reset(fake, adapter):
    fake.daily_limit = 1
    assert isinstance(adapter.publish(request(fake, "first")), Published)

    outcome = adapter.publish(request(fake, "second"))

    assert isinstance(outcome, RateLimited)
    day_end = datetime.now(UTC) + timedelta(days=1)
    assert day_end - timedelta(seconds=5) <= outcome.retry_at <= day_end


def test_a_429_with_the_daily_cap_spent_waits_past_the_window_reset(fake, adapter):
    now = int(datetime.now(UTC).timestamp())
    fake.faults.fail_next(
        "tweets",
        status=429,
        headers={
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "97",
            "x-rate-limit-reset": str(now + 600),
            "x-user-limit-24hour-limit": "17",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(now + 40_000),
        },
        body={
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        },
    )

    outcome = adapter.publish(request(fake, "Hello"))

    assert outcome == RateLimited(
        datetime.fromtimestamp(now + 40_000, UTC), error="X's rate limit is reached: Too Many Requests"
    )


def test_retry_at_from_x_headers():
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    epoch = int(now.timestamp())

    window = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(epoch + 300)}
    both = window | {"x-app-limit-24hour-remaining": "0", "x-app-limit-24hour-reset": str(epoch + 9000)}
    unspent = {"x-rate-limit-remaining": "5", "x-rate-limit-reset": str(epoch + 120)}
    past = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(epoch - 60)}

    assert x_retry_at(window, now=now) == now + timedelta(seconds=300)
    assert x_retry_at(both, now=now) == now + timedelta(seconds=9000)
    assert x_retry_at(unspent, now=now) == now + timedelta(seconds=120)
    assert x_retry_at(past, now=now) == now
    assert x_retry_at({}, now=now) == now + timedelta(minutes=15)


def test_an_expired_token_is_auth_expired(fake, adapter):
    access, _ = fake.issue_tokens()
    fake.expire(access)

    outcome = adapter.publish(request(fake, "Hello", credentials=account(fake, access)))

    assert outcome == AuthExpired("X no longer accepts this account's token: Unauthorized", http_status=401)
    assert fake.posts == []


def test_a_parameter_error_is_rejected_with_its_own_message(fake, adapter):
    fake.faults.fail_next(
        "tweets",
        status=400,
        body={
            "errors": [{"parameters": {"text": ["…"]}, "message": "Tweet text is too long."}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )

    outcome = adapter.publish(request(fake, "Hello"))

    assert outcome == Rejected("Tweet text is too long.", http_status=400)


def test_a_token_without_write_access_is_rejected_with_xs_detail(fake, adapter):
    access, _ = fake.issue_tokens(scope="tweet.read users.read")

    outcome = adapter.publish(request(fake, "Hello", credentials=account(fake, access)))

    assert outcome == Rejected("You are not permitted to perform this action.", http_status=403)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(fake, adapter, status):
    fake.faults.fail_next(
        "tweets",
        status=status,
        body={"title": "Service Unavailable", "detail": "Service Unavailable", "status": status},
    )

    outcome = adapter.publish(request(fake, "Hello"))

    assert outcome == Transient("Service Unavailable", http_status=status)


def test_an_unreachable_x_is_transient(fake):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    outcome = XAdapter(settings_for(closed)).publish(request(fake, "Hello"))

    assert isinstance(outcome, Transient)


def test_too_long_text_is_rejected_before_anything_is_sent(fake, adapter):
    too_long = adapter.publish(request(fake, "x" * 281))

    assert isinstance(too_long, Rejected) and "281 of 280" in too_long.reason
    assert fake.posts == [] and fake.media == {}


# -- media ---------------------------------------------------------------------------------------


@pytest.fixture
def media_adapter(base_url: str) -> XAdapter:
    adapter = XAdapter(settings_for(base_url))
    adapter.chunk_bytes = 1000  # several segments per file
    adapter.media_poll_interval = 0
    return adapter


def test_an_image_post_uploads_in_segments_sets_alt_text_and_names_the_media(fake, media_adapter):
    image = media("image", size=2500, alt="A red bicycle against a wall")
    saved = Checkpoints()

    outcome = media_adapter.publish(request(fake, "New bike", media=(image,), checkpoint=saved))

    [post] = fake.posts
    assert isinstance(outcome, Published) and outcome.platform_post_id == post.id
    [uploaded] = [fake.media[media_id] for media_id in post.media_ids]
    assert uploaded.category == "tweet_image" and uploaded.media_type == "image/jpeg"
    assert sorted(uploaded.segments) == [0, 1, 2]  # 1000 + 1000 + 500 bytes
    assert b"".join(uploaded.segments[i] for i in range(3)) == payload(2500, image.media_id)
    assert uploaded.alt_text == "A red bicycle against a wall"
    assert saved.state["media"][str(image.media_id)]["id"] == uploaded.id


def test_four_images_go_in_one_post_in_order(fake, media_adapter):
    images = tuple(media("image", size=1200) for _ in range(4))

    outcome = media_adapter.publish(request(fake, "", media=images))

    [post] = fake.posts
    assert isinstance(outcome, Published)
    assert [fake.media[media_id].total_bytes for media_id in post.media_ids] == [1200] * 4
    assert len(set(post.media_ids)) == 4


def test_a_video_waits_for_processing_before_the_post(fake, media_adapter):
    clip = media("video", size=4200)

    outcome = media_adapter.publish(request(fake, "Watch this", media=(clip,)))

    [post] = fake.posts
    [uploaded] = [fake.media[media_id] for media_id in post.media_ids]
    assert isinstance(outcome, Published)
    assert uploaded.category == "tweet_video" and uploaded.state == "succeeded" and uploaded.reads >= 2


def test_failed_processing_is_rejected_with_xs_message_and_no_post(fake, media_adapter):
    fake.fail_processing.add("video/mp4")

    outcome = media_adapter.publish(request(fake, "Broken clip", media=(media("video", size=1500),)))

    assert isinstance(outcome, Rejected)
    assert outcome.reason == "X could not process the media: Unsupported video codec."
    assert fake.posts == []


def test_processing_past_the_wait_is_transient_and_the_retry_resumes_the_saved_upload(fake, media_adapter):
    fake.processing_steps = 3
    media_adapter.media_polls = 1
    clip = media("video", size=1500)
    saved = Checkpoints()

    first = media_adapter.publish(request(fake, "Slow clip", media=(clip,), checkpoint=saved))
    second = media_adapter.publish(
        request(fake, "Slow clip", media=(clip,), state=saved.state, checkpoint=saved)
    )
    media_adapter.media_polls = 5
    third = media_adapter.publish(
        request(fake, "Slow clip", media=(clip,), state=saved.state, checkpoint=saved)
    )

    assert isinstance(first, Transient) and "still processing" in first.error
    assert isinstance(second, Transient)
    assert isinstance(third, Published)
    assert len(fake.media) == 1  # uploaded once
    assert [post.media_ids for post in fake.posts] == [[saved.state["media"][str(clip.media_id)]["id"]]]


def test_a_retry_after_the_upload_reuses_the_media_and_posts_once(fake, media_adapter):
    images = (media("image", size=1500, alt="one"), media("image", size=1500))
    saved = Checkpoints()
    fake.faults.fail_next("tweets", status=503)

    first = media_adapter.publish(request(fake, "Twice?", media=images, checkpoint=saved))
    opened_before = [opened[item.media_id] for item in images]
    second = media_adapter.publish(request(fake, "Twice?", media=images, state=saved.state, checkpoint=saved))

    assert isinstance(first, Transient)
    assert isinstance(second, Published)
    assert len(fake.media) == 2 and len(fake.posts) == 1
    assert [opened[item.media_id] for item in images] == opened_before  # not read again


def test_a_lost_upload_answer_is_transient_nothing_was_posted(fake, media_adapter):
    fake.faults.drop_next("media_finalize")

    outcome = media_adapter.publish(request(fake, "Lost", media=(media("image", size=900),)))

    assert isinstance(outcome, Transient) and "nothing was posted" in outcome.error
    assert fake.posts == []


def test_an_expired_saved_upload_is_uploaded_again(fake, media_adapter):
    image = media("image", size=900)
    stale = {"media": {str(image.media_id): {"id": "1880000000000000000", "expires_at": 1.0, "ready": True}}}

    outcome = media_adapter.publish(request(fake, "Fresh", media=(image,), state=stale))

    assert isinstance(outcome, Published)
    assert fake.posts[0].media_ids != ["1880000000000000000"]


def test_an_upload_refused_by_x_is_rejected(fake, media_adapter):
    fake.faults.fail_next(
        "media_init", status=400, body={"title": "Invalid Request", "detail": "media_type is not supported"}
    )

    outcome = media_adapter.publish(request(fake, "Odd", media=(media("image", size=900),)))

    assert outcome == Rejected("X refused the media: media_type is not supported", http_status=400)


def test_the_registry_serves_the_x_adapter(base_url):
    adapter = adapter_for("x", settings_for(base_url))

    assert isinstance(adapter, XAdapter)
    assert (adapter.idempotent, adapter.connect_kind) == (False, "oauth")
    assert (adapter.rate_limit.capacity, adapter.rate_limit.per_seconds) == (100, 900)


# -- metrics -------------------------------------------------------------------------------------


def published_post(fake: FakeX, adapter: XAdapter, text: str = "Counting engagement") -> str:
    outcome = adapter.publish(request(fake, text))
    assert isinstance(outcome, Published)
    return outcome.platform_post_id


def test_metrics_map_public_metrics_with_retweets_and_quotes_as_shares(fake, adapter):
    post_id = published_post(fake, adapter)
    fake.posts[0].public_metrics.update(
        impression_count=1520, like_count=41, reply_count=6, retweet_count=9, quote_count=3, bookmark_count=4
    )

    metrics = adapter.fetch_metrics(account(fake), post_id)

    assert metrics == PostMetricsSnapshot(impressions=1520, likes=41, comments=6, shares=12)


def test_a_fresh_post_reports_zeros_not_nothing(fake, adapter):
    post_id = published_post(fake, adapter)

    assert adapter.fetch_metrics(account(fake), post_id) == PostMetricsSnapshot(
        impressions=0, likes=0, comments=0, shares=0
    )


def test_a_deleted_or_unknown_post_has_no_metrics(fake, adapter):
    published_post(fake, adapter)

    # X answers 200 with only a "Not Found Error" for an id it does not know.
    assert adapter.fetch_metrics(account(fake), "1790000000000999999") is None
    assert adapter.fetch_metrics(account(fake), "not-a-post-id") is None


@pytest.mark.parametrize("lose", ["expire", "revoke"])
def test_an_expired_or_revoked_token_reads_no_metrics(fake, adapter, lose):
    post_id = published_post(fake, adapter)
    token, _ = fake.issue_tokens()
    getattr(fake, lose)(token)

    assert adapter.fetch_metrics(account(fake, access_token=token), post_id) is None


def test_a_token_without_read_access_reads_no_metrics(fake, adapter):
    post_id = published_post(fake, adapter)
    write_only, _ = fake.issue_tokens(scope="tweet.write")

    assert adapter.fetch_metrics(account(fake, access_token=write_only), post_id) is None


def test_the_lookup_windows_limit_means_no_metrics_for_now(fake, adapter):
    post_id = published_post(fake, adapter)
    fake.lookup_window_limit = 1
    assert adapter.fetch_metrics(account(fake), post_id) is not None

    assert adapter.fetch_metrics(account(fake), post_id) is None


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_mean_no_metrics(fake, adapter, status):
    post_id = published_post(fake, adapter)
    fake.faults.fail_next("tweet_lookup", status=status, body={"title": "Unavailable", "status": status})

    assert adapter.fetch_metrics(account(fake), post_id) is None
    assert adapter.fetch_metrics(account(fake), post_id) is not None  # only that answer failed


@pytest.mark.parametrize(
    "body",
    ["<html>Bad gateway</html>", {"data": {"id": "1", "public_metrics": "lots"}}, {"data": ["1"]}, []],
)
def test_a_malformed_answer_means_no_metrics(fake, adapter, body):
    post_id = published_post(fake, adapter)
    fake.faults.fail_next("tweet_lookup", status=200, body=body)

    assert adapter.fetch_metrics(account(fake), post_id) is None


def test_a_timeout_or_dropped_connection_means_no_metrics(fake, base_url):
    adapter = XAdapter(settings_for(base_url, platform_http_timeout_seconds=0.3))
    post_id = published_post(fake, adapter)
    fake.faults.delay_next("tweet_lookup", 1.5)
    assert adapter.fetch_metrics(account(fake), post_id) is None

    fake.faults.drop_next("tweet_lookup")
    assert adapter.fetch_metrics(account(fake), post_id) is None


def test_an_unreachable_x_means_no_metrics(fake):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    assert XAdapter(settings_for(closed)).fetch_metrics(account(fake), "1790000000000000001") is None


# -- connecting ----------------------------------------------------------------------------------


def test_oauth_needs_a_client_id(base_url):
    adapter = XAdapter(settings_for(base_url, x_client_id=""))

    with pytest.raises(ConnectFailed) as raised:
        adapter.oauth_client(redirect_uri="https://postforge.example/cb")

    assert "X is not configured: set X_CLIENT_ID" in raised.value.message


def test_the_oauth_client_uses_pkce_and_basic_auth_when_there_is_a_secret(adapter, base_url):
    config = adapter.oauth_client()

    assert config.authorize_url == f"{base_url}/i/oauth2/authorize"
    assert config.token_url == f"{base_url}/2/oauth2/token"
    assert config.scopes == ("tweet.read", "tweet.write", "users.read", "offline.access")
    assert (config.pkce, config.token_endpoint_auth_method) == (True, "client_secret_basic")


def test_connecting_a_confidential_client_with_pkce(fake, adapter):
    token = connect(adapter.oauth_client())

    [connected] = adapter.complete_oauth(token)

    authorize_request = fake.authorize_requests[-1]
    assert authorize_request["code_challenge_method"] == "S256"
    assert fake.token_requests[-1]["authorization"].startswith("Basic ")
    assert fake.token_requests[-1]["code_verifier"]
    assert connected.profile.platform_account_id == fake.user.id
    assert connected.profile.handle == "@ada_builds"
    assert connected.profile.display_name == "Ada Lovelace"
    assert connected.profile.avatar_url == fake.user.profile_image_url
    assert connected.tokens.refresh_token == token["refresh_token"]
    assert connected.tokens.scopes == "tweet.read tweet.write users.read offline.access"
    assert abs(connected.tokens.expires_at - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=1)
    published = adapter.publish(
        request(fake, "Connected!", credentials=account(fake, connected.tokens.access_token))
    )
    assert isinstance(published, Published)


def test_connecting_a_public_client_names_the_client_in_the_form(fake, front, base_url):
    public = FakeX(client_secret="")
    front.app = public.app
    adapter = XAdapter(settings_for(base_url, x_client_secret=""))
    config = adapter.oauth_client()
    assert config.token_endpoint_auth_method == "none"

    [connected] = adapter.complete_oauth(connect(config))

    assert public.token_requests[-1]["authorization"] == ""
    assert public.token_requests[-1]["client_id"] == "x-client"
    assert connected.profile.handle == "@ada_builds"


def test_a_code_verifier_that_does_not_match_the_challenge_is_refused(fake, adapter):
    config = adapter.oauth_client()
    client, _state, _verifier, callback = authorize(config)

    with client, pytest.raises(OAuthError) as raised:
        client.fetch_token(config.token_url, authorization_response=callback, code_verifier="x" * 48)

    assert "code verifier" in str(raised.value)


def test_complete_oauth_with_a_refused_token_names_the_problem(fake, adapter):
    with pytest.raises(ConnectFailed) as raised:
        adapter.complete_oauth({"access_token": "nope", "expires_in": 7200})

    assert raised.value.http_status == 401
    assert "Unauthorized" in raised.value.message


# -- refreshing ----------------------------------------------------------------------------------


def test_a_refresh_rotates_the_refresh_token(fake, adapter):
    access, refresh = fake.issue_tokens()
    credentials = account(fake, access, refresh)
    assert adapter.can_refresh(credentials)

    renewed = adapter.refresh(credentials)

    assert renewed.access_token != access
    assert renewed.refresh_token and renewed.refresh_token != refresh
    assert renewed.expires_at > datetime.now(UTC) + timedelta(minutes=115)
    assert fake.token_requests[-1]["client_id"] == "x-client"
    assert fake.token_requests[-1]["authorization"].startswith("Basic ")
    # The old refresh token is spent: only the new one works.
    with pytest.raises(RefreshRevoked):
        adapter.refresh(credentials)
    assert adapter.refresh(account(fake, renewed.access_token, renewed.refresh_token)).access_token


def test_a_public_client_refreshes_with_its_client_id_only(front, base_url):
    public = FakeX(client_secret="")
    front.app = public.app
    access, refresh = public.issue_tokens()
    adapter = XAdapter(settings_for(base_url, x_client_secret=""))

    renewed = adapter.refresh(account(public, access, refresh))

    assert renewed.refresh_token not in (None, refresh)
    assert public.token_requests[-1]["authorization"] == ""


def test_a_refresh_answer_without_a_refresh_token_keeps_none(fake, adapter):
    fake.faults.fail_next(
        "token",
        status=200,
        body={"token_type": "bearer", "expires_in": 7200, "access_token": "x-new", "scope": "x"},
    )

    renewed = adapter.refresh(account(fake, refresh_token="x-rt-old"))

    assert (renewed.access_token, renewed.refresh_token) == ("x-new", None)


def test_a_revoked_refresh_token_needs_a_reconnect(fake, adapter):
    access, refresh = fake.issue_tokens()
    fake.revoke(refresh)

    with pytest.raises(RefreshRevoked) as raised:
        adapter.refresh(account(fake, access, refresh))

    assert "Value passed for the token was invalid" in raised.value.message


def test_a_refresh_during_an_outage_is_unavailable(fake, adapter):
    access, refresh = fake.issue_tokens()
    fake.faults.fail_next("token", status=503, body={"title": "Service Unavailable"})

    with pytest.raises(RefreshUnavailable):
        adapter.refresh(account(fake, access, refresh))
    assert adapter.refresh(account(fake, access, refresh)).refresh_token  # the token survived the outage


def test_an_account_without_a_refresh_token_cannot_refresh(fake, adapter):
    access, refresh = fake.issue_tokens(scope="tweet.read tweet.write users.read")
    credentials = account(fake, access, refresh)

    assert refresh is None
    assert adapter.can_refresh(credentials) is False
    with pytest.raises(RefreshRevoked):
        adapter.refresh(credentials)
