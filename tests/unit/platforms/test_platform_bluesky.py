"""The Bluesky adapter over real HTTP against a fake PDS (tests/fakes/bluesky_api.py)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from postforge.models.social import Platform
from postforge.platforms.base import (
    AccountCredentials,
    AuthExpired,
    ConnectFailed,
    Published,
    PublishRequest,
    RateLimited,
    RefreshRevoked,
    RefreshUnavailable,
    Rejected,
    Transient,
    Unknown,
)
from postforge.platforms.bluesky import (
    TID_ALPHABET,
    TID_PATTERN,
    WRONG_CREDENTIALS,
    BlueskyAdapter,
    byte_offsets,
    jwt_expiry,
    new_tid,
    service_url,
)
from postforge.platforms.registry import adapter_for
from postforge.settings import load_settings
from tests.fakes.bluesky_api import FakeBluesky, FakeBlueskyAccount
from tests.fakes.hostile import hostile_server, trickle
from tests.fakes.server import serve
from tests.support.media import media, opened, payload

APP_PASSWORD = "abcd-efgh-ijkl-mnop"


class Bluesky:
    """The fake PDS, its URL, the signed-up account and an adapter pointed at it."""

    def __init__(
        self, fake: FakeBluesky, base_url: str, alice: FakeBlueskyAccount, client: httpx.Client
    ) -> None:
        self.fake, self.base_url, self.alice = fake, base_url, alice
        self.adapter = BlueskyAdapter(
            load_settings(bluesky_service_url=base_url, bluesky_video_url=base_url), http=client
        )
        self.adapter.media_poll_interval = 0

    def account(self, **changes: Any) -> AccountCredentials:
        access, refresh = self.fake.session_for(self.alice)
        values = {
            "platform_account_id": self.alice.did,
            "access_token": access,
            "refresh_token": refresh,
            "handle": f"@{self.alice.handle}",
            **changes,
        }
        return AccountCredentials(**values)


@pytest.fixture
def bluesky() -> Iterator[Bluesky]:
    fake = FakeBluesky(directory={"bob.example.com": "did:plc:bob"})
    alice = fake.add_account("alice.bsky.test", APP_PASSWORD, display_name="Alice")
    with serve(fake.app) as base_url, httpx.Client(timeout=5) as client:
        yield Bluesky(fake, base_url, alice, client)


class Destination:
    """What the engine keeps for one destination: its key and the state checkpoints save."""

    def __init__(
        self, account: AccountCredentials, text: str = "Hello from PostForge", **kwargs: Any
    ) -> None:
        self.account, self.text, self.kwargs = account, text, kwargs
        self.key = uuid.uuid4().hex
        self.state: dict[str, Any] = {}
        self.checkpoints: list[dict[str, Any]] = []

    def request(self) -> PublishRequest:
        return PublishRequest(
            text=self.text,
            idempotency_key=self.key,
            account=self.account,
            state=dict(self.state),
            checkpoint=self._save,
            **self.kwargs,
        )

    def _save(self, state: dict[str, Any]) -> None:
        self.checkpoints.append(dict(state))
        self.state = dict(state)


# --- record keys and tokens ----------------------------------------------------------------------


def test_a_tid_is_13_sortable_base32_characters_of_the_time() -> None:
    moment = 1_760_000_000.123456
    tid = new_tid(moment, clock_id=5)
    assert TID_PATTERN.match(tid)
    value = 0
    for character in tid:
        value = value * 32 + TID_ALPHABET.index(character)
    assert (value >> 10, value & 1023) == (1_760_000_000_123_456, 5)
    assert new_tid(moment + 0.001, clock_id=0) > tid  # later keys sort later
    assert new_tid() != new_tid()


def test_the_token_expiry_is_read_from_the_jwt(bluesky) -> None:
    access, _ = bluesky.fake.session_for(bluesky.alice)
    assert jwt_expiry(access) == pytest.approx(
        datetime.now(UTC) + timedelta(hours=2), abs=timedelta(seconds=5)
    )
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.bm90IGpzb24.c") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("bsky.social", "https://bsky.social"),
        ("https://pds.example.org/", "https://pds.example.org"),
        ("http://127.0.0.1:2583", "http://127.0.0.1:2583"),
    ],
)
def test_service_addresses_are_normalised(typed: str, expected: str) -> None:
    assert service_url(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "nonsense", "http://pds.example.org", "ftp://pds.example.org", "https://u:p@x.org"]
)
def test_garbage_service_addresses_are_refused(typed: str) -> None:
    with pytest.raises(ConnectFailed):
        service_url(typed)


def test_the_registry_hands_out_the_bluesky_adapter() -> None:
    adapter = adapter_for(Platform.BLUESKY, load_settings())
    assert isinstance(adapter, BlueskyAdapter)
    assert adapter.idempotent and adapter.connect_kind == "password"


# --- connecting ----------------------------------------------------------------------------------


def test_connecting_with_an_app_password_gives_the_session_and_profile(bluesky) -> None:
    connected = bluesky.adapter.connect_with_password("@Alice.bsky.test ", APP_PASSWORD)

    assert bluesky.fake.session_requests[-1] == {"identifier": "Alice.bsky.test", "password": APP_PASSWORD}
    profile = connected.profile
    assert (profile.platform_account_id, profile.handle) == (bluesky.alice.did, "@alice.bsky.test")
    assert (profile.display_name, profile.avatar_url) == ("Alice", bluesky.alice.avatar)
    assert connected.tokens.refresh_token
    assert connected.tokens.expires_at == jwt_expiry(connected.tokens.access_token)
    assert connected.instance_url == ""  # the configured default server


def test_connecting_to_a_named_server_keeps_its_address(bluesky) -> None:
    adapter = BlueskyAdapter(load_settings(bluesky_service_url="https://bsky.invalid"))
    connected = adapter.connect_with_password("alice.bsky.test", APP_PASSWORD, instance_url=bluesky.base_url)
    assert connected.instance_url == bluesky.base_url


def test_a_wrong_app_password_says_to_use_an_app_password(bluesky) -> None:
    with pytest.raises(ConnectFailed) as caught:
        bluesky.adapter.connect_with_password("alice.bsky.test", "my-main-password")
    assert caught.value.message == WRONG_CREDENTIALS
    assert caught.value.http_status == 401


def test_too_many_sign_ins_say_when_to_try_again(bluesky) -> None:
    for _ in range(30):
        with pytest.raises(ConnectFailed, match="Wrong handle"):
            bluesky.adapter.connect_with_password("alice.bsky.test", "wrong-pass-word-xxxx")
    with pytest.raises(ConnectFailed) as caught:
        bluesky.adapter.connect_with_password("alice.bsky.test", APP_PASSWORD)
    assert caught.value.http_status == 429
    assert "30 per 5 minutes" in caught.value.message
    said = re.search(r"try again after (\d\d:\d\d) UTC", caught.value.message).group(1)
    expected = datetime.now(UTC) + timedelta(seconds=300)
    assert said in {f"{expected:%H:%M}", f"{expected - timedelta(minutes=1):%H:%M}"}


def test_a_throttled_sign_in_names_the_reset_time(bluesky) -> None:
    reset = bluesky.fake.throttle_next("createSession", reset_in_seconds=600)
    with pytest.raises(
        ConnectFailed, match=f"try again after {datetime.fromtimestamp(reset, UTC):%H:%M} UTC"
    ):
        bluesky.adapter.connect_with_password("alice.bsky.test", APP_PASSWORD)


def test_empty_credentials_are_refused_before_asking_bluesky(bluesky) -> None:
    with pytest.raises(ConnectFailed, match="Enter your Bluesky handle"):
        bluesky.adapter.connect_with_password("  ", APP_PASSWORD)
    assert bluesky.fake.session_requests == []


def test_a_deactivated_account_cannot_connect(bluesky) -> None:
    bluesky.alice.active = False
    with pytest.raises(ConnectFailed, match="This Bluesky account is deactivated"):
        bluesky.adapter.connect_with_password("alice.bsky.test", APP_PASSWORD)


def test_a_profile_failure_does_not_fail_the_connect(bluesky) -> None:
    bluesky.fake.faults.fail_next("getProfile", status=502)
    connected = bluesky.adapter.connect_with_password("alice.bsky.test", APP_PASSWORD)
    assert connected.profile.display_name == "alice.bsky.test"


def test_an_unreachable_server_fails_the_connect_clearly() -> None:
    with serve(FakeBluesky().app) as base_url:
        pass
    adapter = BlueskyAdapter(load_settings(bluesky_service_url=base_url))
    with pytest.raises(ConnectFailed, match="Could not reach Bluesky"):
        adapter.connect_with_password("alice.bsky.test", APP_PASSWORD)


# --- refreshing ----------------------------------------------------------------------------------


def test_refresh_rotates_the_session_and_keeps_working(bluesky) -> None:
    account = bluesky.account()
    assert bluesky.adapter.can_refresh(account)
    assert not bluesky.adapter.can_refresh(bluesky.account(refresh_token=None))

    first = bluesky.adapter.refresh(account)
    assert first.refresh_token and first.refresh_token != account.refresh_token
    assert first.expires_at == jwt_expiry(first.access_token)
    second = bluesky.adapter.refresh(
        bluesky.account(access_token=first.access_token, refresh_token=first.refresh_token)
    )
    assert second.access_token != first.access_token

    outcome = bluesky.adapter.publish(
        Destination(bluesky.account(access_token=second.access_token)).request()
    )
    assert isinstance(outcome, Published)
    # The rotated-out refresh token is no longer accepted.
    with pytest.raises(RefreshRevoked, match="reconnect"):
        bluesky.adapter.refresh(account)


def test_a_revoked_session_cannot_refresh(bluesky) -> None:
    account = bluesky.account()
    bluesky.fake.revoke_sessions()
    with pytest.raises(RefreshRevoked, match="Bluesky ended this session") as caught:
        bluesky.adapter.refresh(account)
    assert caught.value.http_status == 400


def test_a_refresh_during_an_outage_is_unavailable_not_revoked(bluesky) -> None:
    account = bluesky.account()
    bluesky.fake.faults.fail_next(
        "refreshSession", status=503, body={"error": "InternalServerError", "message": "down"}
    )
    with pytest.raises(RefreshUnavailable):
        bluesky.adapter.refresh(account)
    bluesky.fake.faults.drop_next("refreshSession")
    with pytest.raises(RefreshUnavailable):
        bluesky.adapter.refresh(account)


# --- publishing ----------------------------------------------------------------------------------


def test_publish_saves_the_record_key_before_creating_the_post(bluesky) -> None:
    destination = Destination(bluesky.account(), text="Spring is here", language="en")
    posts_when_saved: list[int] = []
    request = destination.request()
    save = request.checkpoint
    request = PublishRequest(
        **{
            **vars(request),
            "checkpoint": lambda s: (posts_when_saved.append(len(bluesky.fake.posts)), save(s)),
        }
    )

    outcome = bluesky.adapter.publish(request)

    assert posts_when_saved == [0]
    rkey = destination.state["rkey"]
    assert TID_PATTERN.match(rkey)
    assert outcome == Published(
        f"at://{bluesky.alice.did}/app.bsky.feed.post/{rkey}",
        url=f"https://bsky.app/profile/alice.bsky.test/post/{rkey}",
    )
    [post] = bluesky.fake.posts
    assert post.rkey == rkey
    assert post.value["text"] == "Spring is here"
    assert post.value["langs"] == ["en"]
    assert post.value["createdAt"].endswith("Z")
    assert datetime.fromisoformat(post.value["createdAt"]) == pytest.approx(
        datetime.now(UTC), abs=timedelta(seconds=10)
    )
    assert "facets" not in post.value


def test_facets_use_utf8_byte_offsets_around_emoji_and_cjk(bluesky) -> None:
    text = (
        "🌷 新しい #春 by @bob.example.com, see https://example.com/a?b=1 and example.org/x. "
        "#launch! #2026 @nobody.example.org (@Bob.example.com)"
    )
    outcome = bluesky.adapter.publish(Destination(bluesky.account(), text=text).request())
    assert isinstance(outcome, Published)
    [post] = bluesky.fake.posts

    assert post.value["facets"][0]["index"] == {
        "byteStart": 15,
        "byteEnd": 19,
    }  # 🌷=4, space, 新しい=9, space
    assert post.facet_texts() == [
        ("#春", {"$type": "app.bsky.richtext.facet#tag", "tag": "春"}),
        ("@bob.example.com", {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}),
        (
            "https://example.com/a?b=1",
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a?b=1"},
        ),
        ("example.org/x", {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/x"}),
        ("#launch", {"$type": "app.bsky.richtext.facet#tag", "tag": "launch"}),
        ("@Bob.example.com", {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}),
    ]  # "#2026" is not a tag and @nobody.example.org, whom nobody resolves, stays plain text


def test_byte_offsets_count_utf8_bytes() -> None:
    assert byte_offsets("a🌷新é") == [0, 1, 5, 8, 10]


def test_a_dropped_answer_is_unknown_and_the_retry_finds_the_post(bluesky) -> None:
    destination = Destination(bluesky.account())
    bluesky.fake.faults.drop_next("createRecord")

    assert isinstance(bluesky.adapter.publish(destination.request()), Unknown)
    assert len(bluesky.fake.posts) == 1  # it landed
    rkey = destination.state["rkey"]

    retried = bluesky.adapter.publish(destination.request())
    assert retried == Published(
        f"at://{bluesky.alice.did}/app.bsky.feed.post/{rkey}",
        url=f"https://bsky.app/profile/alice.bsky.test/post/{rkey}",
    )
    assert len(bluesky.fake.posts) == 1
    assert len(destination.checkpoints) == 1  # the key was chosen once


def test_a_retry_after_a_failure_creates_the_post_under_the_saved_key(bluesky) -> None:
    destination = Destination(bluesky.account())
    bluesky.fake.faults.fail_next(
        "createRecord", status=503, body={"error": "InternalServerError", "message": "busy"}
    )

    assert bluesky.adapter.publish(destination.request()) == Transient("busy", http_status=503)
    assert bluesky.fake.posts == []
    retried = bluesky.adapter.publish(destination.request())
    assert isinstance(retried, Published)
    assert [post.rkey for post in bluesky.fake.posts] == [destination.state["rkey"]]


def test_a_taken_key_is_recognised_as_our_own_post(bluesky) -> None:
    destination = Destination(bluesky.account())
    first = bluesky.adapter.publish(destination.request())
    # The lookup misses it (a lagging replica): createRecord answers 500 for the taken key,
    # and the adapter checks again instead of reporting a failure.
    bluesky.fake.faults.fail_next(
        "getRecord", status=400, body={"error": "RecordNotFound", "message": "Could not locate record"}
    )
    assert bluesky.adapter.publish(destination.request()) == first
    assert len(bluesky.fake.posts) == 1


def test_too_long_is_rejected_with_bluesky_message(bluesky) -> None:
    outcome = bluesky.adapter.publish(Destination(bluesky.account(), text="é" * 301).request())
    assert outcome == Rejected(
        "Invalid app.bsky.feed.post record: grapheme too big (maximum 300, got 301) at $.record.text",
        http_status=400,
    )
    assert bluesky.fake.posts == []


def test_an_expired_access_token_is_auth_expired_and_a_refresh_fixes_it(bluesky) -> None:
    account = bluesky.account()
    bluesky.fake.expire_access_tokens()
    assert bluesky.adapter.publish(Destination(account).request()) == AuthExpired(
        "Token has expired", http_status=400
    )

    fresh = bluesky.adapter.refresh(account)
    outcome = bluesky.adapter.publish(Destination(bluesky.account(access_token=fresh.access_token)).request())
    assert isinstance(outcome, Published)


def test_a_revoked_access_token_is_auth_expired(bluesky) -> None:
    account = bluesky.account()
    bluesky.fake.revoke_sessions()
    outcome = bluesky.adapter.publish(Destination(account).request())
    assert outcome == AuthExpired("Token could not be verified", http_status=400)


def test_rate_limited_waits_until_the_announced_reset(bluesky) -> None:
    reset = bluesky.fake.throttle_next("createRecord", reset_in_seconds=900)
    outcome = bluesky.adapter.publish(Destination(bluesky.account()).request())
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_at == datetime.fromtimestamp(reset, UTC)


def test_the_hourly_points_budget_is_a_rate_limit(bluesky, monkeypatch) -> None:
    from tests.fakes import bluesky_api

    monkeypatch.setattr(bluesky_api, "POINTS_LIMIT", 6)
    account = bluesky.account()
    assert all(
        isinstance(bluesky.adapter.publish(Destination(account).request()), Published) for _ in range(2)
    )
    outcome = bluesky.adapter.publish(Destination(account).request())
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_at > datetime.now(UTC) + timedelta(minutes=50)


def test_an_unreachable_server_is_transient() -> None:
    fake = FakeBluesky()
    alice = fake.add_account("alice.bsky.test", APP_PASSWORD)
    with serve(fake.app) as base_url:
        access, refresh = fake.session_for(alice)
    account = AccountCredentials(alice.did, access, refresh, handle="@alice.bsky.test", instance_url=base_url)
    outcome = BlueskyAdapter(load_settings()).publish(Destination(account).request())
    assert isinstance(outcome, Transient)


def test_a_mention_lookup_outage_creates_nothing(bluesky) -> None:
    destination = Destination(bluesky.account(), text="thanks @bob.example.com")
    bluesky.fake.faults.fail_next(
        "resolveHandle", status=502, body={"error": "UpstreamFailure", "message": "oops"}
    )
    assert bluesky.adapter.publish(destination.request()) == Transient("oops", http_status=502)
    assert bluesky.fake.posts == [] and destination.checkpoints == []


def test_metrics_come_from_the_post_view(bluesky) -> None:
    account = bluesky.account()
    published = bluesky.adapter.publish(Destination(account).request())
    stored = bluesky.fake.record(published.platform_post_id)
    stored.like_count, stored.repost_count, stored.quote_count, stored.reply_count = 9, 2, 1, 4

    metrics = bluesky.adapter.fetch_metrics(account, published.platform_post_id)
    assert (metrics.likes, metrics.shares, metrics.comments) == (9, 3, 4)
    assert (
        bluesky.adapter.fetch_metrics(account, f"at://{bluesky.alice.did}/app.bsky.feed.post/2222222222222")
        is None
    )


# --- the fake itself -------------------------------------------------------------------------------


def test_the_fake_refuses_facets_outside_the_text_or_inside_a_character(bluesky) -> None:
    access, _ = bluesky.fake.session_for(bluesky.alice)

    def create(facet_range: tuple[int, int]) -> httpx.Response:
        record = {
            "$type": "app.bsky.feed.post",
            "text": "🌷 hi",
            "createdAt": "2026-04-01T10:00:00.000Z",
            "facets": [
                {
                    "index": {"byteStart": facet_range[0], "byteEnd": facet_range[1]},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "hi"}],
                }
            ],
        }
        return httpx.post(
            f"{bluesky.base_url}/xrpc/com.atproto.repo.createRecord",
            json={"repo": bluesky.alice.did, "collection": "app.bsky.feed.post", "record": record},
            headers={"Authorization": f"Bearer {access}"},
        )

    assert create((5, 10)).json()["message"].endswith("has a byte range outside the text (5..10 of 7 bytes)")
    assert "cuts a character in half" in create((2, 7)).json()["message"]
    answer = create((5, 7))
    assert answer.status_code == 200
    assert answer.headers["RateLimit-Policy"] == "5000;w=3600"
    assert bluesky.fake.posts[0].facet_texts()[0][0] == "hi"


def test_the_fake_put_record_upserts_under_the_same_key(bluesky) -> None:
    access, _ = bluesky.fake.session_for(bluesky.alice)
    rkey = new_tid()

    def put(text: str) -> httpx.Response:
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-04-01T10:00:00.000Z"}
        return httpx.post(
            f"{bluesky.base_url}/xrpc/com.atproto.repo.putRecord",
            json={
                "repo": bluesky.alice.did,
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "record": record,
            },
            headers={"Authorization": f"Bearer {access}"},
        )

    assert put("one").status_code == 200 and put("two").status_code == 200
    [post] = bluesky.fake.posts
    assert bluesky.fake.record(post.uri).text == "two"
    bad = httpx.post(
        f"{bluesky.base_url}/xrpc/com.atproto.repo.createRecord",
        json={
            "repo": bluesky.alice.did,
            "collection": "app.bsky.feed.post",
            "rkey": "not-a-tid",
            "record": {},
        },
        headers={"Authorization": f"Bearer {access}"},
    )
    assert (bad.status_code, bad.json()["error"]) == (400, "InvalidRequest")


# --- the outbound policy: a hostile or missing server ---------------------------------------------


def test_a_named_server_without_a_scheme_that_answers_nothing_is_not_a_bluesky_server() -> None:
    adapter = BlueskyAdapter(load_settings())
    with pytest.raises(ConnectFailed) as refused:
        adapter.connect_with_password("alice.bsky.test", APP_PASSWORD, instance_url="pds.example.invalid")
    assert refused.value.message.startswith("pds.example.invalid does not answer as a Bluesky server")
    assert "try again" not in refused.value.message.lower()


def test_a_named_server_answering_a_web_page_is_not_a_bluesky_server() -> None:
    page = FakeBluesky()
    with serve(page.app) as base_url:
        page.faults.fail_next("createSession", status=404, body="<html><h1>Not Found</h1></html>")
        with pytest.raises(ConnectFailed) as refused:
            BlueskyAdapter(load_settings()).connect_with_password(
                "alice.bsky.test", APP_PASSWORD, instance_url=base_url
            )
    assert "does not answer as a Bluesky server" in refused.value.message
    assert "<" not in refused.value.message


def test_in_production_a_server_at_a_private_address_is_never_contacted() -> None:
    adapter = BlueskyAdapter(load_settings(outbound_allow_private_hosts=False))
    with hostile_server(trickle(b"{}")) as server:
        with pytest.raises(ConnectFailed, match="private or local network"):
            adapter.connect_with_password(
                "alice.bsky.test", APP_PASSWORD, instance_url=f"https://localhost:{server.port}"
            )
        assert server.connections == 0


def test_a_server_trickling_its_answer_is_cut_off_at_the_deadline() -> None:
    adapter = BlueskyAdapter(load_settings(platform_http_timeout_seconds=1))
    session = b'{"accessJwt": "a", "refreshJwt": "r", "did": "did:plc:x", "handle": "' + b"x" * 60 + b'"}'
    with hostile_server(trickle(session, interval=0.5)) as server:
        started = time.monotonic()
        with pytest.raises(ConnectFailed):
            adapter.connect_with_password("alice.bsky.test", APP_PASSWORD, instance_url=server.url)
        assert time.monotonic() - started < 15


# --- media ---------------------------------------------------------------------------------------


def test_images_are_uploaded_as_blobs_and_embedded_with_alt_text_and_aspect_ratio(bluesky: Bluesky) -> None:
    images = (media("image", size=1800, alt="A lighthouse", width=1200, height=800), media("image", size=900))
    destination = Destination(bluesky.account(), "Coast", media=images)

    outcome = bluesky.adapter.publish(destination.request())

    [post] = bluesky.fake.posts
    assert isinstance(outcome, Published) and outcome.platform_post_id == post.uri
    embed = post.value["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    first, second = embed["images"]
    assert first["alt"] == "A lighthouse" and first["aspectRatio"] == {"width": 1200, "height": 800}
    assert second["alt"] == ""  # required by the lexicon, even when empty
    stored = bluesky.fake.blobs[first["image"]["ref"]["$link"]]
    assert stored.data == payload(1800, images[0].media_id) and stored.mime_type == "image/jpeg"


def test_four_images_fit_in_one_post(bluesky: Bluesky) -> None:
    destination = Destination(bluesky.account(), "", media=tuple(media("image", size=700) for _ in range(4)))

    outcome = bluesky.adapter.publish(destination.request())

    assert isinstance(outcome, Published)
    assert len(bluesky.fake.posts[0].value["embed"]["images"]) == 4


def test_a_video_goes_through_the_video_service_and_is_embedded_once_processed(bluesky: Bluesky) -> None:
    clip = media("video", size=5000, alt="A short demo", width=1080, height=1920)
    destination = Destination(bluesky.account(), "Demo", media=(clip,))

    outcome = bluesky.adapter.publish(destination.request())

    [post] = bluesky.fake.posts
    [job] = bluesky.fake.jobs.values()
    embed = post.value["embed"]
    assert isinstance(outcome, Published)
    assert job.state == "JOB_STATE_COMPLETED" and job.data == payload(5000, clip.media_id)
    assert embed == {
        "$type": "app.bsky.embed.video",
        "video": job.blob,
        "alt": "A short demo",
        "aspectRatio": {"width": 1080, "height": 1920},
    }


def test_failed_video_processing_is_rejected_with_the_services_message(bluesky: Bluesky) -> None:
    bluesky.fake.fail_processing.add("video/mp4")
    destination = Destination(bluesky.account(), "Demo", media=(media("video"),))

    outcome = bluesky.adapter.publish(destination.request())

    assert outcome == Rejected("Bluesky could not process the video: Video could not be encoded")
    assert bluesky.fake.posts == []


def test_processing_past_the_wait_is_transient_and_the_retry_polls_the_saved_job(bluesky: Bluesky) -> None:
    bluesky.fake.processing_steps = 3
    bluesky.adapter.media_polls = 2
    destination = Destination(bluesky.account(), "Slow", media=(media("video"),))

    first = bluesky.adapter.publish(destination.request())
    second = bluesky.adapter.publish(destination.request())

    assert isinstance(first, Transient) and "still processing" in first.error
    assert isinstance(second, Published)
    assert len(bluesky.fake.jobs) == 1 and len(bluesky.fake.posts) == 1


def test_a_retry_after_the_upload_reuses_the_blobs_and_posts_once(bluesky: Bluesky) -> None:
    images = (media("image"), media("image"))
    destination = Destination(bluesky.account(), "Once", media=images)
    bluesky.fake.faults.drop_next("createRecord")  # the post is written, its answer lost

    first = bluesky.adapter.publish(destination.request())
    opened_before = [opened[item.media_id] for item in images]
    second = bluesky.adapter.publish(destination.request())

    assert isinstance(first, Unknown)
    assert isinstance(second, Published)
    assert len(bluesky.fake.posts) == 1 and len(bluesky.fake.blobs) == 2
    assert [opened[item.media_id] for item in images] == opened_before
    assert set(destination.state) == {"media", "rkey"}


def test_a_retry_after_a_server_error_uploads_nothing_again(bluesky: Bluesky) -> None:
    clip = media("video")
    destination = Destination(bluesky.account(), "Again", media=(clip,))
    bluesky.fake.faults.fail_next("createRecord", status=502)

    first = bluesky.adapter.publish(destination.request())
    second = bluesky.adapter.publish(destination.request())

    assert isinstance(first, Transient) and isinstance(second, Published)
    assert opened[clip.media_id] == 1 and len(bluesky.fake.jobs) == 1


def test_a_lost_blob_upload_answer_is_transient(bluesky: Bluesky) -> None:
    bluesky.fake.faults.drop_next("uploadBlob")
    destination = Destination(bluesky.account(), "Lost", media=(media("image"),))

    outcome = bluesky.adapter.publish(destination.request())

    assert isinstance(outcome, Transient) and "nothing was posted" in outcome.error
    assert bluesky.fake.posts == []


def test_the_video_token_names_the_accounts_own_pds_not_the_entryway(bluesky: Bluesky) -> None:
    bluesky.fake.pds_endpoint = "https://morel.us-east.host.bsky.network"
    destination = Destination(bluesky.account(), "Demo", media=(media("video"),))

    outcome = bluesky.adapter.publish(destination.request())

    assert isinstance(outcome, Published)
    assert bluesky.fake.service_auth_audiences == ["did:web:morel.us-east.host.bsky.network"]
