"""Images, carousels and videos published end to end: real Celery worker and beat processes,
PostgreSQL, Redis, and local fakes speaking each platform's media wire format (X, LinkedIn,
Bluesky, Mastodon, Instagram, Threads, Facebook Pages).

* every platform gets an image post (with alt text), a carousel / multi-image post and a video,
  each through the platform's upload or container flow and its asynchronous processing;
* a post whose creation fails after its media were uploaded is retried by the engine and reuses
  the checkpointed uploads: one post, every file uploaded once;
* media that break a platform's rules fail with the checker's message before anything is sent.

The post's media reach the engine through `tests/support/media_source.py` (a manifest the worker
reads), standing in for the media library that fills `PublishRequest.media`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Engine
from sqlmodel import Session, select

from postforge.models import (
    AttemptOutcome,
    DestinationStatus,
    Platform,
    Post,
    PostDestination,
    PostMedia,
    PostStatus,
    PublishAttempt,
    Role,
    SocialAccount,
    Workspace,
    utcnow,
)
from postforge.models.posts import MediaAsset
from postforge.platforms.base import MediaItem
from postforge.services.infra import token_crypto
from tests.fakes.bluesky_api import FakeBluesky
from tests.fakes.linkedin_api import FakeLinkedIn
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.meta_graph_api import FakeMetaGraph
from tests.fakes.server import serve
from tests.fakes.x_api import FakeX
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)
from tests.support.media import media
from tests.support.media_source import MANIFEST_ENV, write_manifest
from tests.support.worker import CeleryProcess, celery_env, running_beat, running_worker, wait_for

KEY = Fernet.generate_key().decode()
CIPHER = MultiFernet([Fernet(KEY)])
TIMEOUT = 240.0
FINAL = {DestinationStatus.PUBLISHED, DestinationStatus.FAILED, DestinationStatus.NEEDS_REVIEW}
ENGINE_SETTINGS = {
    "token_encryption_keys": KEY,
    "dispatch_interval_seconds": "1",
    "publish_lease_seconds": "120",
    "publish_backoff_base_seconds": "0.5",
    "publish_backoff_max_seconds": "2",
    "platform_http_timeout_seconds": "30",
}
PLATFORMS = (
    Platform.X,
    Platform.LINKEDIN,
    Platform.BLUESKY,
    Platform.MASTODON,
    Platform.INSTAGRAM,
    Platform.THREADS,
    Platform.FACEBOOK,
)


def image(alt: str = "") -> MediaItem:
    return media("image", size=3000, alt=alt, width=1080, height=1080)


def video() -> MediaItem:
    return media("video", size=6000, width=1080, height=1920, seconds=12.0)


def carousel(platform: Platform) -> tuple[MediaItem, ...]:
    """Several files: Meta's carousels mix an image and a video, the others take images."""
    if platform in (Platform.INSTAGRAM, Platform.THREADS):
        return (image("first"), video())
    return (image("first"), image("second"))


@dataclass
class Fakes:
    x: FakeX = field(default_factory=FakeX)
    linkedin: FakeLinkedIn = field(default_factory=FakeLinkedIn)
    bluesky: FakeBluesky = field(default_factory=lambda: FakeBluesky(rate_limits=False))
    mastodon: FakeMastodon = field(default_factory=lambda: FakeMastodon(rate_limits=False))
    meta: FakeMetaGraph = field(default_factory=FakeMetaGraph)

    def posts(self, platform: Platform) -> list:
        if platform is Platform.X:
            return self.x.posts
        if platform is Platform.LINKEDIN:
            return self.linkedin.posts
        if platform is Platform.BLUESKY:
            return self.bluesky.posts
        if platform is Platform.MASTODON:
            return self.mastodon.posts
        return self.meta.posts_on(platform.value)

    def uploads(self, platform: Platform) -> int:
        """How many files (or Meta item containers) the platform received."""
        if platform is Platform.X:
            return len(self.x.media)
        if platform is Platform.LINKEDIN:
            return len(self.linkedin.media)
        if platform is Platform.BLUESKY:
            return len(self.bluesky.blobs)
        if platform is Platform.MASTODON:
            return len(self.mastodon.media)
        if platform is Platform.FACEBOOK:
            return len(self.meta.photo_requests) + len(self.meta.videos)
        return sum(
            1
            for container in self.meta.containers.values()
            if container.platform == platform.value and container.params.get("media_type") != "CAROUSEL"
        )


@dataclass
class Stack:
    engine: Engine
    env: dict[str, str]
    tmp: Path
    fakes: Fakes
    workspace_id: int
    author_id: int
    accounts: dict[Platform, int]
    manifest: Path
    media_by_post: dict[int, tuple[MediaItem, ...]] = field(default_factory=dict)

    @contextmanager
    def running(self) -> Iterator[CeleryProcess]:
        with (
            running_worker(self.env, self.tmp, app="tests.support.media_worker_app") as worker,
            running_beat(self.env, self.tmp),
        ):
            yield worker

    def schedule(self, platform: Platform, files: tuple[MediaItem, ...], text: str = "") -> int:
        with Session(self.engine) as session:
            workspace = session.get(Workspace, self.workspace_id)
            post = make_post(
                session,
                workspace,
                content=text or f"{platform.value} media {time.time_ns()}",
                status=PostStatus.SCHEDULED,
                scheduled_at=utcnow(),
            )
            post.author_id = self.author_id
            for position, item in enumerate(files):
                # The rows the engine counts for the text rules (Instagram needs one file).
                asset = MediaAsset(
                    id=item.media_id,
                    workspace_id=self.workspace_id,
                    storage_key=f"test/{item.media_id}",
                    mime_type=item.mime_type,
                    size_bytes=item.size_bytes,
                    width=item.width,
                    height=item.height,
                    sha256="0" * 64,
                )
                session.add(asset)
                session.flush()
                session.add(PostMedia(post_id=post.id, media_id=item.media_id, position=position))
            account = session.get(SocialAccount, self.accounts[platform])
            destination = make_destination(session, post, account, next_attempt_at=utcnow())
            session.commit()
            self.media_by_post[post.id] = files
            write_manifest(self.manifest, self.media_by_post)
            return destination.id

    def destination(self, destination_id: int) -> PostDestination:
        with Session(self.engine) as session:
            return session.get(PostDestination, destination_id)

    def attempts(self, destination_id: int) -> list[PublishAttempt]:
        with Session(self.engine) as session:
            query = select(PublishAttempt).where(PublishAttempt.destination_id == destination_id)
            return list(session.exec(query.order_by(PublishAttempt.id)).all())

    def post_status(self, destination_id: int) -> PostStatus:
        with Session(self.engine) as session:
            return session.get(Post, session.get(PostDestination, destination_id).post_id).status

    def finished(self, destination_ids: list[int], timeout: float = TIMEOUT) -> list[PostDestination]:
        def probe() -> list[PostDestination] | None:
            rows = [self.destination(destination_id) for destination_id in destination_ids]
            return rows if all(row.status in FINAL for row in rows) else None

        return wait_for(probe, timeout=timeout, what=f"destinations {destination_ids} to finish")


def _encrypted(token: str | None) -> str | None:
    return token_crypto.encrypt(token, using=CIPHER)


@pytest.fixture
def stack(
    postgres_engine: Engine, migrated_postgres_url: str, redis_url: str, tmp_path: Path
) -> Iterator[Stack]:
    fakes = Fakes()
    # Every asynchronous state once, then ready: a test waits seconds, not minutes.
    fakes.x.processing_steps = 1
    fakes.mastodon.processing_steps = 1
    fakes.bluesky.processing_steps = 2
    fakes.linkedin.processing_steps = 1
    fakes.linkedin.video_part_bytes = 2500
    fakes.meta.container_polls_before_finished = 1
    fakes.meta.video_polls_before_ready = 1
    manifest = tmp_path / "media.json"
    with ExitStack() as servers:
        x_url = servers.enter_context(serve(fakes.x.app))
        linkedin_url = servers.enter_context(serve(fakes.linkedin.app))
        bluesky_url = servers.enter_context(serve(fakes.bluesky.app))
        mastodon_url = servers.enter_context(serve(fakes.mastodon.app))
        meta_url = servers.enter_context(serve(fakes.meta.app))
        meta_settings = fakes.meta.settings(meta_url)
        env = celery_env(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            data_dir=tmp_path,
            x_api_base=x_url,
            x_auth_base=x_url,
            linkedin_api_base=linkedin_url,
            linkedin_auth_base=linkedin_url,
            bluesky_service_url=bluesky_url,
            bluesky_video_url=bluesky_url,
            threads_api_base=meta_settings.threads_api_base,
            threads_auth_base=meta_settings.threads_auth_base,
            facebook_graph_base=meta_settings.facebook_graph_base,
            facebook_auth_base=meta_settings.facebook_auth_base,
            facebook_graph_version=meta_settings.facebook_graph_version,
            **ENGINE_SETTINGS,
        )
        env[MANIFEST_ENV] = str(manifest)
        sky = fakes.bluesky.add_account("ana.bsky.test", "abcd-efgh-ijkl-mnop")
        sky_access, sky_refresh = fakes.bluesky.session_for(sky)
        x_access, x_refresh = fakes.x.issue_tokens()
        page = fakes.meta.pages[0]
        assert page.instagram is not None
        rows = {
            Platform.X: {
                "platform_account_id": fakes.x.user.id,
                "handle": f"@{fakes.x.user.username}",
                "access_token_enc": _encrypted(x_access),
                "refresh_token_enc": _encrypted(x_refresh),
                "token_expires_at": utcnow() + timedelta(hours=2),
            },
            Platform.LINKEDIN: {
                "platform_account_id": fakes.linkedin.member.urn,
                "handle": "Ada Lovelace",
                "access_token_enc": _encrypted(fakes.linkedin.issue_token()),
                "token_expires_at": utcnow() + timedelta(days=60),
            },
            Platform.BLUESKY: {
                "platform_account_id": sky.did,
                "handle": "@ana.bsky.test",
                "instance_url": bluesky_url,
                "access_token_enc": _encrypted(sky_access),
                "refresh_token_enc": _encrypted(sky_refresh),
                "token_expires_at": utcnow() + timedelta(hours=2),
            },
            Platform.MASTODON: {
                "platform_account_id": fakes.mastodon.account.id,
                "handle": "@alice@mastodon.test",
                "instance_url": mastodon_url,
                "access_token_enc": _encrypted(fakes.mastodon.issue_token()),
            },
            Platform.INSTAGRAM: {
                "platform_account_id": page.instagram.id,
                "handle": f"@{page.instagram.username}",
                "access_token_enc": _encrypted(fakes.meta.page_token(page.id)),
            },
            Platform.THREADS: {
                "platform_account_id": fakes.meta.threads_user.id,
                "handle": f"@{fakes.meta.threads_user.username}",
                "access_token_enc": _encrypted(fakes.meta.threads_token()),
                "token_expires_at": utcnow() + timedelta(days=60),
            },
            Platform.FACEBOOK: {
                "platform_account_id": page.id,
                "handle": page.name,
                "access_token_enc": _encrypted(fakes.meta.page_token(page.id)),
            },
        }
        with Session(postgres_engine) as session:
            author = make_user(session, name="Ana", email="ana@example.com")
            workspace = make_workspace(session, owner=author)
            make_membership(session, workspace, author, role=Role.ADMIN)
            accounts = {
                platform: make_social_account(session, workspace, platform=platform, **fields).id
                for platform, fields in rows.items()
            }
            session.commit()
            yield Stack(
                engine=postgres_engine,
                env=env,
                tmp=tmp_path,
                fakes=fakes,
                workspace_id=workspace.id,
                author_id=author.id,
                accounts=accounts,
                manifest=manifest,
            )


def test_an_image_a_carousel_and_a_video_reach_every_platform(stack: Stack) -> None:
    planned: dict[Platform, dict[str, tuple[MediaItem, ...]]] = {
        platform: {"image": (image("A red bicycle"),), "carousel": carousel(platform), "video": (video(),)}
        for platform in PLATFORMS
    }
    ids = {
        (platform, kind): stack.schedule(platform, files)
        for platform, kinds in planned.items()
        for kind, files in kinds.items()
    }
    with stack.running():
        rows = dict(zip(ids, stack.finished(list(ids.values())), strict=True))

    failed = {key: row.last_error for key, row in rows.items() if row.status != DestinationStatus.PUBLISHED}
    assert failed == {}
    for platform in PLATFORMS:
        posts = stack.fakes.posts(platform)
        assert len(posts) == 3, platform
        expected_uploads = sum(len(files) for files in planned[platform].values())
        assert stack.fakes.uploads(platform) == expected_uploads, platform
        published = {rows[(platform, kind)].platform_post_id for kind in planned[platform]}
        assert len(published) == 3 and all(published), platform
    _assert_media_arrived(stack.fakes, planned)


def _assert_media_arrived(fakes: Fakes, planned: dict[Platform, dict[str, tuple[MediaItem, ...]]]) -> None:
    """Spot checks that each platform's posts carry the files in its own format."""
    x_counts = sorted(len(post.media_ids) for post in fakes.x.posts)
    assert x_counts == [1, 1, 2]
    assert {item.category for item in fakes.x.media.values()} == {"tweet_image", "tweet_video"}
    assert "A red bicycle" in {item.alt_text for item in fakes.x.media.values()}

    contents = [post.body["content"] for post in fakes.linkedin.posts]
    assert sum("multiImage" in content for content in contents) == 1
    assert {"urn:li:video" in str(content) for content in contents} == {True, False}

    embeds = [post.value["embed"]["$type"] for post in fakes.bluesky.posts]
    assert sorted(embeds) == ["app.bsky.embed.images", "app.bsky.embed.images", "app.bsky.embed.video"]

    assert sorted(len(post.media_ids) for post in fakes.mastodon.posts) == [1, 1, 2]
    assert "A red bicycle" in {item.description for item in fakes.mastodon.media.values()}

    for platform in (Platform.INSTAGRAM, Platform.THREADS):
        kinds = {
            container.params.get("media_type", "IMAGE")
            for container in fakes.meta.containers.values()
            if container.platform == platform.value and not container.params.get("is_carousel_item")
        }
        assert "CAROUSEL" in kinds and kinds & {"REELS", "VIDEO"}, platform
        urls = {url for post in fakes.posts(platform) for url in post.media_urls}
        planned_urls = {item.url for files in planned[platform].values() for item in files}
        assert urls == planned_urls, platform

    facebook_urls = sorted(len(post.media_urls) for post in fakes.meta.posts_on("facebook"))
    assert facebook_urls == [1, 1, 2]
    assert "A red bicycle" in {request.get("alt_text_custom") for request in fakes.meta.photo_requests}


def test_a_retry_after_the_upload_reuses_the_media_and_posts_once(stack: Stack) -> None:
    fakes = stack.fakes
    # Each platform refuses the post itself once, after the files are up.
    fakes.x.faults.fail_next("tweets", status=503)
    fakes.linkedin.faults.fail_next("posts", status=503)
    fakes.bluesky.faults.fail_next("createRecord", status=502, body={"error": "UpstreamFailure"})
    fakes.mastodon.faults.fail_next("statuses", status=503, body={"error": "Service Unavailable"})
    fakes.meta.faults.fail_next("media_publish", status=503)
    fakes.meta.faults.fail_next("threads_publish", status=503)
    fakes.meta.faults.fail_next("feed", status=503)
    ids = {platform: stack.schedule(platform, carousel(platform)) for platform in PLATFORMS}

    with stack.running():
        rows = dict(zip(ids, stack.finished(list(ids.values())), strict=True))

    for platform, destination_id in ids.items():
        row = rows[platform]
        assert row.status == DestinationStatus.PUBLISHED, (platform, row.last_error)
        outcomes = [attempt.outcome for attempt in stack.attempts(destination_id)]
        assert outcomes[0] == AttemptOutcome.TRANSIENT and outcomes[-1] == AttemptOutcome.PUBLISHED, platform
        assert len(fakes.posts(platform)) == 1, platform
        assert fakes.uploads(platform) == 2, platform  # each file went up once
        assert row.platform_state.get("media"), platform  # the uploads were checkpointed
        assert stack.post_status(destination_id) == PostStatus.PUBLISHED


def test_media_a_platform_refuses_fail_with_the_checkers_message_before_anything_is_sent(
    stack: Stack,
) -> None:
    png = media("image", mime="image/png", width=1000, height=3000)
    destination_id = stack.schedule(Platform.INSTAGRAM, (png,))

    with stack.running():
        [row] = stack.finished([destination_id])

    assert row.status == DestinationStatus.FAILED
    assert "Instagram doesn't take PNG files (this image); it takes JPEG." in row.last_error
    assert "Instagram needs 4:5 to 1.91:1; this image is 1:3." in row.last_error
    assert stack.fakes.meta.containers == {} and stack.fakes.meta.posts == []
