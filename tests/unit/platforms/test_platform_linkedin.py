"""LinkedIn adapter against the fake LinkedIn over real HTTP: every outcome, little-text escaping,
OAuth and refresh."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

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
from postforge.platforms.linkedin import LITTLE_RESERVED, LinkedInAdapter, little_text
from postforge.platforms.registry import adapter_for
from postforge.settings import load_settings
from tests.fakes.linkedin_api import FakeLinkedIn, render_little
from tests.fakes.server import serve
from tests.support.checkpoints import Checkpoints
from tests.support.media import media, opened, payload
from tests.support.platform_oauth import SwappableApp, authorize, connect

VERSION = "202610"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SwappableApp, str]]:
    front = SwappableApp()
    with serve(front) as base_url:
        yield front, base_url


@pytest.fixture
def fake(server: tuple[SwappableApp, str]) -> FakeLinkedIn:
    front, _ = server
    front.app = (fake := FakeLinkedIn()).app
    return fake


@pytest.fixture
def base_url(server: tuple[SwappableApp, str]) -> str:
    return server[1]


def settings_for(base_url: str, **overrides: object):
    values: dict[str, object] = {
        "linkedin_api_base": base_url,
        "linkedin_auth_base": base_url,
        "linkedin_client_id": "li-client",
        "linkedin_client_secret": "li-secret",
        "linkedin_version": VERSION,
    }
    return load_settings(**(values | overrides))


@pytest.fixture
def adapter(base_url: str) -> LinkedInAdapter:
    return LinkedInAdapter(settings_for(base_url))


def account(
    fake: FakeLinkedIn, token: str | None = None, refresh_token: str | None = None
) -> AccountCredentials:
    return AccountCredentials(
        platform_account_id=fake.member.urn,
        access_token=token if token is not None else fake.issue_token(),
        refresh_token=refresh_token,
        handle=fake.member.name,
    )


def request(fake: FakeLinkedIn, text: str, **kwargs) -> PublishRequest:
    credentials = kwargs.pop("credentials", None) or account(fake)
    return PublishRequest(text=text, idempotency_key="a" * 32, account=credentials, **kwargs)


# -- publishing ----------------------------------------------------------------------------------


def test_publish_sends_a_versioned_posts_api_request_and_returns_the_urn(fake, adapter):
    outcome = adapter.publish(request(fake, "Shipping PostForge today."))

    assert len(fake.posts) == 1
    post = fake.posts[0]
    assert outcome == Published(post.urn, url=f"https://www.linkedin.com/feed/update/{post.urn}/")
    assert post.urn.startswith("urn:li:share:")
    assert post.headers["linkedin-version"] == VERSION
    assert post.headers["x-restli-protocol-version"] == "2.0.0"
    assert post.body == {
        "author": fake.member.urn,
        "commentary": "Shipping PostForge today.",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert post.text == "Shipping PostForge today." and not post.truncated


def test_reserved_characters_arrive_whole_and_hashtags_stay_hashtags(fake, adapter):
    text = (
        "Big news (finally)! Our *new* plan_v2 costs <$5> ~ [beta] {early} @team | a\\b.\n"
        "Details: https://example.com/docs_(v2)/#pricing — #Launch #SaaS2026 but not C# or #2024."
    )
    outcome = adapter.publish(request(fake, text))

    assert isinstance(outcome, Published)
    post = fake.posts[0]
    assert not post.truncated
    assert post.text == text
    assert post.hashtags == ["Launch", "SaaS2026"]


def test_the_fake_truncates_unescaped_text_like_linkedin(fake, base_url):
    """Without escaping LinkedIn keeps only the text before the first reserved character (and
    still answers 201): what the escaping test above would catch."""
    token = fake.issue_token()
    body = {
        "author": fake.member.urn,
        "commentary": "Big news (finally) for everyone",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    answer = httpx.post(f"{base_url}/rest/posts", json=body, headers=headers)

    assert answer.status_code == 201
    assert fake.posts[0].text == "Big news " and fake.posts[0].truncated


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#AI is here", "#AI is here"),
        ("C# and F#", "C\\# and F\\#"),
        ("#2024 was good", "\\#2024 was good"),
        ("#AI_ML", "#AI\\_ML"),
        ("see https://ex.com/#top", "see https://ex.com/\\#top"),
        (
            "a (b) [c] {d} <e> *f* _g_ ~h~ @i |j \\k",
            "a \\(b\\) \\[c\\] \\{d\\} \\<e\\> \\*f\\* \\_g\\_ \\~h\\~ \\@i \\|j \\\\k",
        ),
        ("(#tag)", "\\(#tag\\)"),
    ],
)
def test_little_text_escapes_reserved_characters_except_a_hashtags_sign(text, expected):
    assert little_text(text) == expected


def test_little_text_round_trips_through_linkedins_reading_for_any_text():
    # Reserved characters, plain ones, URLs, hashtags and the fullwidth number sign, in any order.
    alphabet = sorted(LITTLE_RESERVED) + list("ab1 é\n/:.") + ["https://x.io/", "#tag", "\uff03"]
    generator = random.Random(6)
    for _ in range(500):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 30)))
        shown, _hashtags, truncated = render_little(little_text(text))
        assert (shown, truncated) == (text, False), text


def test_an_expired_token_is_auth_expired(fake, adapter):
    token = fake.issue_token()
    fake.expire(token)

    outcome = adapter.publish(request(fake, "Hello", credentials=account(fake, token)))

    assert isinstance(outcome, AuthExpired)
    assert outcome.http_status == 401
    assert "expired" in outcome.error
    assert fake.posts == []


def test_a_revoked_token_is_auth_expired(fake, adapter):
    token = fake.issue_token()
    fake.revoke(token)

    outcome = adapter.publish(request(fake, "Hello", credentials=account(fake, token)))

    assert isinstance(outcome, AuthExpired)
    assert "revoked" in outcome.error


def test_a_daily_throttle_waits_until_the_next_midnight_utc(fake, adapter):
    fake.throttle_daily()
    before = datetime.now(UTC)

    outcome = adapter.publish(request(fake, "Hello"))

    after = datetime.now(UTC)
    assert isinstance(outcome, RateLimited)
    midnights = {
        datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        for moment in (before, after)
    }
    assert outcome.retry_at in midnights
    assert "daily limit" in outcome.error
    assert fake.posts == []


def test_a_throttle_with_a_retry_after_header_is_honoured(fake, adapter):
    fake.faults.fail_next(
        "posts", status=429, headers={"Retry-After": "120"}, body={"status": 429, "message": "Slow down"}
    )
    before = datetime.now(UTC)

    outcome = adapter.publish(request(fake, "Hello"))

    assert isinstance(outcome, RateLimited)
    assert before + timedelta(seconds=119) <= outcome.retry_at <= datetime.now(UTC) + timedelta(seconds=121)


def test_posting_the_same_text_again_is_rejected_with_a_link_to_the_existing_post(fake, adapter):
    first = adapter.publish(request(fake, "Same words twice"))
    second = adapter.publish(request(fake, "Same words twice"))

    assert isinstance(first, Published)
    assert isinstance(second, Rejected)
    assert second.http_status == 422
    assert first.url in second.reason
    assert "already exists" in second.reason
    assert len(fake.posts) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(fake, adapter, status):
    fake.faults.fail_next("posts", status=status, body={"status": status, "message": "Internal Server Error"})

    outcome = adapter.publish(request(fake, "Hello"))

    assert outcome == Transient("Internal Server Error", http_status=status)
    assert fake.posts == []


def test_a_refusal_is_rejected_with_linkedins_message(fake, adapter):
    fake.faults.fail_next(
        "posts",
        status=400,
        body={"status": 400, "code": "ILLEGAL_ARGUMENT", "message": "Invalid value for field /visibility"},
    )

    outcome = adapter.publish(request(fake, "Hello"))

    assert outcome == Rejected("Invalid value for field /visibility", http_status=400)


def test_an_inactive_api_version_is_rejected_with_the_setting_to_change(fake, base_url):
    fake.active_versions = {"202609"}
    adapter = LinkedInAdapter(settings_for(base_url, linkedin_version="202410"))

    outcome = adapter.publish(request(fake, "Hello"))

    assert isinstance(outcome, Rejected)
    assert outcome.http_status == 426
    assert "202410 is not active" in outcome.reason and "LINKEDIN_VERSION" in outcome.reason


def test_a_post_accepted_but_whose_answer_was_lost_is_unknown(fake, adapter):
    fake.faults.drop_next("posts")

    outcome = adapter.publish(request(fake, "Did it land?"))

    assert isinstance(outcome, Unknown)
    assert [post.text for post in fake.posts] == ["Did it land?"]  # it did: a retry would duplicate it
    assert LinkedInAdapter.idempotent is False  # so the engine sends it to needs_review


def test_a_timeout_after_sending_is_unknown(fake, base_url):
    fake.faults.delay_next("posts", 1.5)
    adapter = LinkedInAdapter(settings_for(base_url, platform_http_timeout_seconds=0.3))

    outcome = adapter.publish(request(fake, "Slow"))

    assert isinstance(outcome, Unknown)


def test_an_unreachable_linkedin_is_transient(fake):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    adapter = LinkedInAdapter(settings_for(closed))

    outcome = adapter.publish(request(fake, "Hello"))

    assert isinstance(outcome, Transient)
    assert "Could not reach" in outcome.error


def test_too_long_text_is_rejected_before_anything_is_sent(fake, adapter):
    too_long = adapter.publish(request(fake, "x" * 3001, media=(media("image"),)))

    assert isinstance(too_long, Rejected) and "3,001 of 3,000" in too_long.reason
    assert fake.posts == [] and fake.media == {}


# -- media ---------------------------------------------------------------------------------------


@pytest.fixture
def media_adapter(base_url: str) -> LinkedInAdapter:
    adapter = LinkedInAdapter(settings_for(base_url))
    adapter.media_poll_interval = 0
    return adapter


def test_an_image_is_registered_uploaded_in_one_put_and_posted_with_alt_text(fake, media_adapter):
    image = media("image", size=2600, alt="Our new office")
    saved = Checkpoints()

    outcome = media_adapter.publish(request(fake, "We moved", media=(image,), checkpoint=saved))

    [post] = fake.posts
    [uploaded] = fake.media.values()
    assert isinstance(outcome, Published)
    assert post.body["content"] == {"media": {"id": uploaded.urn, "altText": "Our new office"}}
    assert uploaded.data == payload(2600, image.media_id) and uploaded.status == "AVAILABLE"
    assert saved.state["media"][str(image.media_id)] == {"urn": uploaded.urn, "ready": True}


def test_several_images_make_a_multi_image_post(fake, media_adapter):
    images = (media("image", alt="first"), media("image"), media("image"))

    outcome = media_adapter.publish(request(fake, "Gallery", media=images))

    [post] = fake.posts
    assert isinstance(outcome, Published)
    entries = post.body["content"]["multiImage"]["images"]
    assert [entry.get("altText") for entry in entries] == ["first", None, None]
    assert [fake.media[entry["id"]].data for entry in entries] == [
        payload(item.size_bytes, item.media_id) for item in images
    ]


def test_a_video_goes_up_in_its_ranges_is_finalized_with_the_etags_and_posted(fake, media_adapter):
    fake.video_part_bytes = 1000
    clip = media("video", size=3500)

    outcome = media_adapter.publish(request(fake, "Demo", media=(clip,)))

    [post] = fake.posts
    [uploaded] = fake.media.values()
    assert isinstance(outcome, Published)
    assert len(uploaded.parts) == 4 and uploaded.data == payload(3500, clip.media_id)
    assert uploaded.etags and uploaded.status == "AVAILABLE"
    assert post.body["content"] == {"media": {"id": uploaded.urn, "title": ""}}


def test_failed_processing_is_rejected_with_linkedins_reason(fake, media_adapter):
    fake.fail_processing.add("video")

    outcome = media_adapter.publish(request(fake, "Demo", media=(media("video"),)))

    assert outcome == Rejected("LinkedIn could not process the media: Unsupported media encoding")
    assert fake.posts == []


def test_processing_past_the_wait_is_transient_and_the_retry_reuses_the_upload(fake, media_adapter):
    fake.processing_steps = 3
    media_adapter.media_polls = 2
    clip = media("video")
    saved = Checkpoints()

    first = media_adapter.publish(request(fake, "Slow", media=(clip,), checkpoint=saved))
    second = media_adapter.publish(request(fake, "Slow", media=(clip,), state=saved.state, checkpoint=saved))

    assert isinstance(first, Transient) and "still processing" in first.error
    assert isinstance(second, Published)
    assert len(fake.media) == 1 and len(fake.posts) == 1 and opened[clip.media_id] == 1


def test_a_retry_after_the_upload_reuses_the_media_and_posts_once(fake, media_adapter):
    images = (media("image"), media("image"))
    saved = Checkpoints()
    fake.faults.fail_next("posts", status=503)

    first = media_adapter.publish(request(fake, "Once", media=images, checkpoint=saved))
    second = media_adapter.publish(request(fake, "Once", media=images, state=saved.state, checkpoint=saved))

    assert isinstance(first, Transient) and isinstance(second, Published)
    assert len(fake.media) == 2 and len(fake.posts) == 1
    assert [opened[item.media_id] for item in images] == [1, 1]


def test_a_lost_upload_answer_is_transient(fake, media_adapter):
    fake.faults.drop_next("media_upload")

    outcome = media_adapter.publish(request(fake, "Lost", media=(media("image"),)))

    assert isinstance(outcome, Transient) and "nothing was posted" in outcome.error
    assert fake.posts == []


def test_a_member_token_that_cannot_read_the_image_back_still_posts(fake, media_adapter):
    fake.faults.fail_next(
        "media_status", status=403, body={"status": 403, "message": "Not enough permissions"}
    )
    fake.processing_steps = 0

    outcome = media_adapter.publish(request(fake, "Grace", media=(media("image"),)))

    assert isinstance(outcome, Published)


def test_the_registry_serves_the_linkedin_adapter(base_url):
    adapter = adapter_for("linkedin", settings_for(base_url))

    assert isinstance(adapter, LinkedInAdapter)
    assert (adapter.idempotent, adapter.connect_kind) == (False, "oauth")


# -- metrics -------------------------------------------------------------------------------------

READER = "w_member_social,r_member_social"  # an app LinkedIn approved for reading social actions


def published_post(fake: FakeLinkedIn, adapter: LinkedInAdapter, text: str = "Counting likes") -> str:
    outcome = adapter.publish(request(fake, text))
    assert isinstance(outcome, Published)
    return outcome.platform_post_id


def test_metrics_are_the_posts_likes_and_all_its_comments(fake, adapter):
    urn = published_post(fake, adapter)
    post = fake.posts[0]
    post.total_likes, post.first_level_comments, post.replies = 23, 4, 3

    metrics = adapter.fetch_metrics(account(fake, fake.issue_token(scope=READER)), urn)

    assert metrics == PostMetricsSnapshot(likes=23, comments=7)


def test_first_level_comments_count_when_the_aggregate_is_missing(fake, adapter):
    urn = published_post(fake, adapter)
    body = {"likesSummary": {"totalLikes": 5}, "commentsSummary": {"totalFirstLevelComments": 2}}
    fake.faults.fail_next("social_actions", status=200, body=body)

    metrics = adapter.fetch_metrics(account(fake, fake.issue_token(scope=READER)), urn)

    assert metrics == PostMetricsSnapshot(likes=5, comments=2)


def test_the_urn_travels_percent_encoded_with_the_versioned_headers(fake, adapter):
    urn = published_post(fake, adapter)
    fake.posts[0].total_likes = 1
    reader = account(fake, fake.issue_token(scope=READER))
    assert adapter.fetch_metrics(reader, urn) == PostMetricsSnapshot(likes=1, comments=0)

    # The fake refuses what LinkedIn refuses: a raw URN in the path, or no version header.
    raw = httpx.get(
        f"{adapter.settings.linkedin_api_base}/rest/socialActions/{urn}",
        headers=adapter._rest_headers(reader.access_token),
    )
    assert raw.status_code == 400
    unversioned = httpx.get(
        f"{adapter.settings.linkedin_api_base}/rest/socialActions/{urn.replace(':', '%3A')}",
        headers={"Authorization": f"Bearer {reader.access_token}"},
    )
    assert unversioned.status_code == 400 and unversioned.json()["code"] == "VERSION_MISSING"


def test_without_linkedins_approval_to_read_there_are_no_metrics(fake, adapter):
    urn = published_post(fake, adapter)

    assert adapter.fetch_metrics(account(fake), urn) is None  # w_member_social only: 403


def test_an_unknown_post_has_no_metrics(fake, adapter):
    published_post(fake, adapter)
    reader = account(fake, fake.issue_token(scope=READER))

    assert adapter.fetch_metrics(reader, "urn:li:share:7100000000000999999") is None
    assert adapter.fetch_metrics(reader, "7100000000000999999") is None  # not a URN at all


@pytest.mark.parametrize("lose", ["expire", "revoke"])
def test_an_expired_or_revoked_token_reads_no_metrics(fake, adapter, lose):
    urn = published_post(fake, adapter)
    token = fake.issue_token(scope=READER)
    getattr(fake, lose)(token)

    assert adapter.fetch_metrics(account(fake, token), urn) is None


@pytest.mark.parametrize("status", [429, 500, 504])
def test_throttling_and_server_errors_mean_no_metrics(fake, adapter, status):
    urn = published_post(fake, adapter)
    reader = account(fake, fake.issue_token(scope=READER))
    fake.faults.fail_next("social_actions", status=status, body={"status": status, "message": "Try later"})

    assert adapter.fetch_metrics(reader, urn) is None
    assert adapter.fetch_metrics(reader, urn) is not None  # only that answer failed


@pytest.mark.parametrize("body", ["not json", [], {"status": 200}, {"likesSummary": "many"}])
def test_a_malformed_answer_means_no_metrics(fake, adapter, body):
    urn = published_post(fake, adapter)
    fake.faults.fail_next("social_actions", status=200, body=body)

    assert adapter.fetch_metrics(account(fake, fake.issue_token(scope=READER)), urn) is None


def test_a_timeout_or_dropped_connection_means_no_metrics(fake, base_url):
    adapter = LinkedInAdapter(settings_for(base_url, platform_http_timeout_seconds=0.3))
    urn = published_post(fake, adapter)
    reader = account(fake, fake.issue_token(scope=READER))
    fake.faults.delay_next("social_actions", 1.5)
    assert adapter.fetch_metrics(reader, urn) is None

    fake.faults.drop_next("social_actions")
    assert adapter.fetch_metrics(reader, urn) is None


# -- connecting ----------------------------------------------------------------------------------


def test_oauth_needs_the_client_id_and_secret(base_url):
    for missing in ({"linkedin_client_id": ""}, {"linkedin_client_secret": ""}):
        adapter = LinkedInAdapter(settings_for(base_url, **missing))
        with pytest.raises(ConnectFailed) as raised:
            adapter.oauth_client(redirect_uri="https://postforge.example/cb")
        assert raised.value.message == (
            "LinkedIn is not configured: set LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET"
        )


def test_the_oauth_client_is_a_confidential_web_app_without_pkce(adapter, base_url):
    config = adapter.oauth_client(redirect_uri="https://postforge.example/cb")

    assert config.authorize_url == f"{base_url}/oauth/v2/authorization"
    assert config.token_url == f"{base_url}/oauth/v2/accessToken"
    assert config.scopes == ("openid", "profile", "email", "w_member_social")
    assert (config.pkce, config.token_endpoint_auth_method) == (False, "client_secret_post")


def test_connecting_yields_the_member_with_60_day_tokens_and_no_refresh(fake, adapter):
    config = adapter.oauth_client(redirect_uri="https://postforge.example/cb")
    _client, _state, _verifier, _callback = authorize(config)
    assert fake.authorize_requests[-1]["scope"] == "openid profile email w_member_social"

    token = connect(config)
    [connected] = adapter.complete_oauth(token)

    assert connected.profile.platform_account_id == f"urn:li:person:{fake.member.sub}"
    assert connected.profile.handle == connected.profile.display_name == "Ada Lovelace"
    assert connected.profile.avatar_url == fake.member.picture
    assert connected.tokens.access_token == token["access_token"]
    assert connected.tokens.refresh_token is None
    assert connected.tokens.scopes == "openid profile email w_member_social"
    assert abs(connected.tokens.expires_at - (datetime.now(UTC) + timedelta(days=60))) < timedelta(minutes=1)
    assert fake.token_requests[-1]["client_secret"] == "li-secret"  # client_secret_post
    credentials = account(fake, connected.tokens.access_token)
    assert adapter.can_refresh(credentials) is False
    with pytest.raises(RefreshRevoked):
        adapter.refresh(credentials)


def test_complete_oauth_with_a_token_linkedin_refuses_names_the_problem(fake, adapter):
    with pytest.raises(ConnectFailed) as raised:
        adapter.complete_oauth({"access_token": "not-a-token", "expires_in": 60})

    assert "Invalid access token" in raised.value.message
    assert raised.value.http_status == 401


# -- refreshing (partner apps) -------------------------------------------------------------------


def test_a_partner_app_refreshes_and_keeps_the_same_refresh_token(fake, adapter):
    fake.partner_refresh = True
    [connected] = adapter.complete_oauth(connect(adapter.oauth_client(redirect_uri="https://p.example/cb")))
    assert connected.tokens.refresh_token
    credentials = account(fake, connected.tokens.access_token, connected.tokens.refresh_token)
    assert adapter.can_refresh(credentials)

    renewed = adapter.refresh(credentials)

    assert renewed.access_token not in ("", connected.tokens.access_token)
    assert renewed.refresh_token == connected.tokens.refresh_token
    assert renewed.expires_at > datetime.now(UTC) + timedelta(days=59)
    assert isinstance(
        adapter.publish(request(fake, "After refresh", credentials=account(fake, renewed.access_token))),
        Published,
    )


def test_a_refresh_answer_without_a_refresh_token_keeps_none(fake, adapter):
    fake.faults.fail_next("token", status=200, body={"access_token": "li-new", "expires_in": 5183999})

    renewed = adapter.refresh(account(fake, refresh_token="li-rt-old"))

    assert (renewed.access_token, renewed.refresh_token) == ("li-new", None)


def test_a_revoked_refresh_token_needs_a_reconnect(fake, adapter):
    refresh_token = fake.issue_refresh_token()
    fake.revoke(refresh_token)

    with pytest.raises(RefreshRevoked) as raised:
        adapter.refresh(account(fake, refresh_token=refresh_token))

    assert "invalid, expired or revoked" in raised.value.message


def test_a_refresh_during_an_outage_is_unavailable(fake, adapter):
    fake.faults.fail_next("token", status=503, body="Service Unavailable")

    with pytest.raises(RefreshUnavailable):
        adapter.refresh(account(fake, refresh_token=fake.issue_refresh_token()))


@pytest.mark.parametrize("kind", ["image", "video"])
def test_the_token_goes_to_no_upload_url_but_https_or_linkedins_own(fake, media_adapter, kind):
    fake.upload_base = "http://uploads.example.net"

    outcome = media_adapter.publish(request(fake, "Where?", media=(media(kind),)))

    assert isinstance(outcome, Transient) and "did not say where to upload" in outcome.error
    assert all(not item.received for item in fake.media.values()) and fake.posts == []
