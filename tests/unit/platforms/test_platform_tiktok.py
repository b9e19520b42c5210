"""TikTok adapter against the fake TikTok over real HTTP: connect, refresh, creator info, the
direct post (init, chunked upload, status polling), resuming after a crash without a second post,
failed processing, rate limits and the options TikTok requires."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from postforge.platforms.base import (
    AccountCredentials,
    ConnectFailed,
    MediaItem,
    Published,
    PublishRequest,
    RateLimited,
    RefreshRevoked,
    Rejected,
    Transient,
)
from postforge.platforms.registry import adapter_for
from postforge.platforms.tiktok import MiB, TikTokAdapter, chunk_plan
from postforge.settings import load_settings
from tests.fakes.server import serve
from tests.fakes.tiktok_api import FakeTikTok
from tests.support.platform_oauth import SwappableApp, connect

CHUNK = 64 * 1024
VIDEO = bytes(range(256)) * (CHUNK * 3 // 256) + b"remainder"  # 3 chunks, the last with the rest


class Crash(Exception):
    """The worker dies (a checkpoint is the last thing it does)."""


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SwappableApp, str]]:
    front = SwappableApp()
    with serve(front) as base_url:
        yield front, base_url


@pytest.fixture
def fake(server) -> FakeTikTok:
    front, _ = server
    # Small chunks so the tests move kilobytes, with TikTok's arithmetic unchanged.
    front.app = (fake := FakeTikTok(min_chunk=CHUNK, max_chunk=2 * CHUNK)).app
    return fake


@pytest.fixture
def base_url(server) -> str:
    return server[1]


def settings_for(base_url: str, **overrides: object):
    values: dict[str, object] = {
        "tiktok_api_base": base_url,
        "tiktok_auth_base": base_url,
        "tiktok_client_key": "tt-client-key",
        "tiktok_client_secret": "tt-secret",
    }
    return load_settings(**(values | overrides))


@pytest.fixture
def adapter(base_url: str) -> TikTokAdapter:
    adapter = TikTokAdapter(settings_for(base_url))
    adapter.chunk_bytes = CHUNK
    adapter.poll_interval = 0
    return adapter


def account(
    fake: FakeTikTok, token: str | None = None, refresh_token: str | None = None
) -> AccountCredentials:
    return AccountCredentials(
        platform_account_id=fake.creator.open_id,
        access_token=token if token is not None else fake.issue_token(),
        refresh_token=refresh_token,
        handle=f"@{fake.creator.username}",
    )


def clip(data: bytes = VIDEO, **fields) -> MediaItem:
    values = {
        "url": "",
        "mime_type": "video/mp4",
        "size_bytes": len(data),
        "width": 1080,
        "height": 1920,
        "duration_seconds": 15.0,
        "media_id": 52,
        "open": lambda: io.BytesIO(data),
    }
    return MediaItem(**(values | fields))


def request(fake: FakeTikTok, text: str = "Behind the scenes #launch", **kwargs) -> PublishRequest:
    kwargs.setdefault("media", (clip(),))
    credentials = kwargs.pop("credentials", None) or account(fake)
    return PublishRequest(text=text, idempotency_key="c" * 32, account=credentials, **kwargs)


# -- chunk arithmetic -----------------------------------------------------------------------------


def test_chunk_plan_follows_tiktoks_floor_rule():
    assert chunk_plan(3 * MiB) == (3 * MiB, 1)  # under 5 MB: whole
    assert chunk_plan(9 * MiB) == (5 * MiB, 1)  # one chunk carrying the 4 MiB rest
    assert chunk_plan(52 * MiB) == (5 * MiB, 10)  # the last chunk carries the 2 MiB rest
    size, (chunk, count) = 4000 * MiB, chunk_plan(4000 * MiB)
    assert count == size // chunk and count <= 1000 and 5 * MiB <= chunk <= 64 * MiB


# -- publishing ----------------------------------------------------------------------------------


def test_a_video_is_posted_privately_by_default_in_chunks_then_polled_until_complete(fake, adapter):
    saved: list[dict] = []
    outcome = adapter.publish(request(fake, checkpoint=saved.append))

    assert len(fake.posts) == 1
    post = fake.posts[0]
    assert outcome == Published(post.post_id, url=f"https://www.tiktok.com/@ada.makes/video/{post.post_id}")
    assert post.data == VIDEO
    assert (post.chunk_size, post.total_chunk_count) == (CHUNK, 3)
    assert post.post_info == {
        "title": "Behind the scenes #launch",
        "privacy_level": "SELF_ONLY",
        "disable_comment": False,
        "disable_duet": False,
        "disable_stitch": True,  # the creator turned stitches off
        "brand_content_toggle": False,
        "brand_organic_toggle": False,
        "is_aigc": False,
    }
    assert [kind for kind, _, _ in fake.upload_log] == ["init", "chunk", "chunk", "chunk"]
    assert fake.upload_log[-1][1] == f"bytes {2 * CHUNK}-{len(VIDEO) - 1}/{len(VIDEO)}"
    assert saved[0]["publish_id"] == post.id and saved[-1]["uploaded"] is True


def test_options_choose_the_audience_and_the_brand_disclosures(fake, adapter):
    options = {"privacy_level": "PUBLIC_TO_EVERYONE", "brand_organic_toggle": True, "disable_comment": True}
    assert isinstance(adapter.publish(request(fake, options=options)), Published)

    info = fake.posts[0].post_info
    assert (info["privacy_level"], info["brand_organic_toggle"], info["disable_comment"]) == (
        "PUBLIC_TO_EVERYONE",
        True,
        True,
    )


def test_a_privacy_level_the_creator_lacks_is_refused_before_init(fake, adapter):
    outcome = adapter.publish(request(fake, options={"privacy_level": "FOLLOWER_OF_CREATOR"}))

    assert isinstance(outcome, Rejected) and "choose one of PUBLIC_TO_EVERYONE" in outcome.reason
    assert fake.upload_log == []


def test_branded_content_cannot_be_private(fake, adapter):
    outcome = adapter.publish(request(fake, options={"brand_content_toggle": True}))

    assert isinstance(outcome, Rejected) and "branded content to be private" in outcome.reason
    assert fake.upload_log == []


def test_a_video_longer_than_the_creator_may_post_is_refused(fake, adapter):
    fake.creator.max_video_post_duration_sec = 60

    outcome = adapter.publish(request(fake, media=(clip(duration_seconds=90.0),)))

    assert isinstance(outcome, Rejected) and "up to 1 min for this account" in outcome.reason


def test_a_crash_mid_upload_resumes_the_same_publish_without_a_second_post(fake, adapter):
    saved: list[dict] = []

    def crash_after_one_chunk(state: dict) -> None:
        saved.append(state)
        if state.get("chunks_done") == 1:
            raise Crash

    with pytest.raises(Crash):
        adapter.publish(request(fake, checkpoint=crash_after_one_chunk))
    assert fake.posts == []

    fake.upload_log.clear()
    outcome = adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append))

    assert isinstance(outcome, Published)
    assert len(fake.posts) == 1 and len(fake.publishes) == 1 and fake.posts[0].data == VIDEO
    assert [kind for kind, _, _ in fake.upload_log] == ["chunk", "chunk"]  # no second init


def test_a_retry_after_the_upload_only_asks_for_the_status(fake, adapter):
    saved: list[dict] = []

    def crash_when_uploaded(state: dict) -> None:
        saved.append(state)
        if state.get("uploaded"):
            raise Crash

    with pytest.raises(Crash):
        adapter.publish(request(fake, checkpoint=crash_when_uploaded))
    fake.upload_log.clear()

    outcome = adapter.publish(request(fake, state=saved[-1]))

    assert isinstance(outcome, Published) and fake.upload_log == [] and len(fake.posts) == 1


def test_an_expired_upload_link_starts_a_new_publish_on_the_next_try(fake, adapter):
    saved: list[dict] = []

    def crash_after_one_chunk(state: dict) -> None:
        saved.append(state)
        if state.get("chunks_done") == 1:
            raise Crash

    with pytest.raises(Crash):
        adapter.publish(request(fake, checkpoint=crash_after_one_chunk))
    fake.expire_upload_links()

    first = adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append))
    assert isinstance(first, Transient) and saved[-1] == {}
    second = adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append))

    assert isinstance(second, Published) and len(fake.posts) == 1


def test_failed_processing_is_rejected_with_tiktoks_reason(fake, adapter):
    fake.fail_next_post("frame_rate_check_failed")

    outcome = adapter.publish(request(fake))

    assert outcome == Rejected("TikTok could not post the video (frame_rate_check_failed).")
    assert fake.posts == []


def test_too_many_posts_waits_instead_of_failing(fake, adapter):
    fake.faults.fail_next(
        "init",
        status=403,
        body={"data": {}, "error": {"code": "spam_risk_too_many_posts", "message": "Too many posts today."}},
    )

    outcome = adapter.publish(request(fake))

    assert isinstance(outcome, RateLimited) and "spam_risk_too_many_posts" in outcome.error


def test_a_429_is_rate_limited(fake, adapter):
    fake.faults.fail_next(
        "creator_info",
        status=429,
        headers={"Retry-After": "60"},
        body={"data": {}, "error": {"code": "rate_limit_exceeded", "message": "Slow down."}},
    )

    assert isinstance(adapter.publish(request(fake)), RateLimited)


def test_a_text_only_post_is_refused_before_anything_is_sent(fake, adapter):
    outcome = adapter.publish(request(fake, media=()))

    assert isinstance(outcome, Rejected) and "TikTok posts are videos" in outcome.reason
    assert fake.upload_log == []


def test_the_registry_serves_the_tiktok_adapter(base_url):
    assert isinstance(adapter_for("tiktok", settings_for(base_url)), TikTokAdapter)


# -- connecting and tokens -----------------------------------------------------------------------


def test_oauth_needs_the_client_key_and_secret(base_url):
    with pytest.raises(ConnectFailed, match="TIKTOK_CLIENT_KEY"):
        TikTokAdapter(settings_for(base_url, tiktok_client_key="")).oauth_client()


def test_connecting_uses_the_client_key_and_yields_the_creator(fake, adapter):
    config = adapter.oauth_client(redirect_uri="https://postforge.example/cb")

    token = connect(config)
    [connected] = adapter.complete_oauth(token)

    assert fake.authorize_requests[0]["scope"] == "user.info.basic,video.publish"
    assert fake.token_requests[0]["client_key"] == "tt-client-key"
    assert connected.profile.platform_account_id == fake.creator.open_id
    assert (connected.profile.handle, connected.profile.display_name) == ("@ada.makes", "Ada")
    assert connected.tokens.refresh_token and connected.tokens.scopes == "user.info.basic video.publish"


def test_refresh_rotates_the_refresh_token(fake, adapter):
    old = fake.issue_refresh_token()

    tokens = adapter.refresh(account(fake, refresh_token=old))

    assert tokens.access_token in fake.access_tokens
    assert tokens.refresh_token and tokens.refresh_token != old


def test_a_revoked_refresh_token_needs_a_reconnect(fake, adapter):
    old = fake.issue_refresh_token()
    fake.revoke(old)

    with pytest.raises(RefreshRevoked, match="invalid or expired"):
        adapter.refresh(account(fake, refresh_token=old))


def test_an_upload_past_its_time_budget_stops_at_a_chunk_and_the_next_try_continues(fake, adapter):
    adapter.upload_budget_seconds = 0
    saved: list[dict] = []

    first = adapter.publish(request(fake, checkpoint=saved.append))
    assert isinstance(first, Transient) and "1 of 3 parts" in first.error
    assert fake.posts == [] and saved[-1]["chunks_done"] == 1

    outcomes = [first]
    while not isinstance(outcomes[-1], Published):
        outcomes.append(adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append)))
    assert len(outcomes) == 3 and len(fake.posts) == 1 and len(fake.publishes) == 1
