"""YouTube and TikTok end to end: real Celery worker and beat processes, PostgreSQL, Redis and local
fakes speaking YouTube's resumable upload and TikTok's Content Posting API.

* a video post reaches YouTube through the worker — after renewing an expired Google token —
  and its destination carries the watch URL;
* a TikTok upload whose answer is lost is resumed by the retry: one post, never two;
* a TikTok video that fails TikTok's checks ends failed with TikTok's reason;
* a text-only post for YouTube fails with the rule's message and nothing reaches YouTube.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Engine
from sqlmodel import Session

from postforge.models import (
    DestinationStatus,
    MediaAsset,
    MediaKind,
    MediaStatus,
    Platform,
    PostDestination,
    PostMedia,
    PostStatus,
    Role,
    SocialAccount,
    Workspace,
    utcnow,
)
from postforge.services.infra import token_crypto
from tests.fakes.server import serve
from tests.fakes.tiktok_api import FakeTikTok
from tests.fakes.youtube_api import FakeYouTube
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)
from tests.support.worker import celery_env, running_beat, running_worker, wait_for

KEY = Fernet.generate_key().decode()
CIPHER = MultiFernet([Fernet(KEY)])
TIMEOUT = 60.0
FINAL = {DestinationStatus.PUBLISHED, DestinationStatus.FAILED, DestinationStatus.NEEDS_REVIEW}
VIDEO = bytes(range(256)) * 2400 + b"end"  # about 600 KB: one chunk on both platforms


@dataclass
class Stack:
    engine: Engine
    env: dict[str, str]
    tmp: Path
    youtube: FakeYouTube
    tiktok: FakeTikTok
    workspace_id: int
    youtube_account: int
    tiktok_account: int

    def schedule(self, account_id: int, *, text: str, video: bytes | None = VIDEO) -> int:
        with Session(self.engine) as session:
            workspace = session.get(Workspace, self.workspace_id)
            post = make_post(
                session, workspace, content=text, status=PostStatus.SCHEDULED, scheduled_at=utcnow()
            )
            if video is not None:
                # Where the embedded store keeps a checked upload (the worker reads it from there).
                key = f"media/{workspace.id}/{time.time_ns()}.mp4"
                stored = self.tmp / "media-files" / key
                stored.parent.mkdir(parents=True, exist_ok=True)
                stored.write_bytes(video)
                asset = MediaAsset(
                    workspace_id=workspace.id,
                    storage_key=key,
                    filename="clip.mp4",
                    mime_type="video/mp4",
                    size_bytes=len(video),
                    width=1080,
                    height=1920,
                    sha256="0" * 64,
                    kind=MediaKind.VIDEO,
                    status=MediaStatus.READY,
                    duration_seconds=12.0,
                )
                session.add(asset)
                session.flush()
                session.add(PostMedia(post_id=post.id, media_id=asset.id, position=0))
            account = session.get(SocialAccount, account_id)
            destination = make_destination(session, post, account, next_attempt_at=utcnow())
            session.commit()
            return destination.id

    def finished(self, destination_id: int) -> PostDestination:
        def probe() -> PostDestination | None:
            with Session(self.engine) as session:
                row = session.get(PostDestination, destination_id)
            return row if row.status in FINAL else None

        return wait_for(probe, timeout=TIMEOUT, what=f"destination {destination_id} to finish")


@pytest.fixture
def stack(
    postgres_engine: Engine, migrated_postgres_url: str, redis_url: str, tmp_path: Path
) -> Iterator[Stack]:
    youtube, tiktok = FakeYouTube(), FakeTikTok()
    with ExitStack() as servers:
        youtube_url = servers.enter_context(serve(youtube.app))
        tiktok_url = servers.enter_context(serve(tiktok.app))
        env = celery_env(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            data_dir=tmp_path,
            token_encryption_keys=KEY,
            dispatch_interval_seconds="1",
            publish_lease_seconds="60",
            publish_backoff_base_seconds="0.5",
            publish_backoff_max_seconds="2",
            platform_http_timeout_seconds="30",
            youtube_api_base=youtube_url,
            youtube_auth_base=youtube_url,
            youtube_oauth_base=youtube_url,
            youtube_client_id=youtube.client_id,
            youtube_client_secret=youtube.client_secret,
            tiktok_api_base=tiktok_url,
            tiktok_auth_base=tiktok_url,
            tiktok_client_key=tiktok.client_key,
            tiktok_client_secret=tiktok.client_secret,
        )
        with Session(postgres_engine) as session:
            author = make_user(session, name="Ana", email="ana@example.com")
            workspace = make_workspace(session, owner=author)
            make_membership(session, workspace, author, role=Role.ADMIN)
            channel = make_social_account(
                session,
                workspace,
                platform=Platform.YOUTUBE,
                platform_account_id=youtube.channel.id,
                handle=youtube.channel.custom_url,
                access_token_enc=token_crypto.encrypt(youtube.issue_token(ttl=-1), using=CIPHER),
                refresh_token_enc=token_crypto.encrypt(youtube.issue_refresh_token(), using=CIPHER),
                token_expires_at=utcnow() - timedelta(minutes=1),
            )
            creator = make_social_account(
                session,
                workspace,
                platform=Platform.TIKTOK,
                platform_account_id=tiktok.creator.open_id,
                handle=f"@{tiktok.creator.username}",
                access_token_enc=token_crypto.encrypt(tiktok.issue_token(), using=CIPHER),
                refresh_token_enc=token_crypto.encrypt(tiktok.issue_refresh_token(), using=CIPHER),
                token_expires_at=utcnow() + timedelta(hours=20),
            )
            session.commit()
            yield Stack(
                engine=postgres_engine,
                env=env,
                tmp=tmp_path,
                youtube=youtube,
                tiktok=tiktok,
                workspace_id=workspace.id,
                youtube_account=channel.id,
                tiktok_account=creator.id,
            )


def test_a_video_reaches_youtube_after_renewing_the_token(stack: Stack) -> None:
    with running_worker(stack.env, stack.tmp), running_beat(stack.env, stack.tmp):
        destination_id = stack.schedule(stack.youtube_account, text="Launch day\nWatch the demo.")
        row = stack.finished(destination_id)

    assert row.status == DestinationStatus.PUBLISHED, row.last_error
    [video] = stack.youtube.videos
    assert video.data == VIDEO
    assert video.resource["snippet"]["title"] == "Launch day"
    assert row.platform_post_id == video.id
    assert row.platform_post_url == f"https://www.youtube.com/watch?v={video.id}"
    assert any(form.get("grant_type") == "refresh_token" for form in stack.youtube.token_requests)


def test_a_lost_tiktok_upload_answer_is_resumed_into_one_post(stack: Stack) -> None:
    stack.tiktok.faults.drop_next("upload")
    with running_worker(stack.env, stack.tmp), running_beat(stack.env, stack.tmp):
        destination_id = stack.schedule(stack.tiktok_account, text="Behind the scenes")
        row = stack.finished(destination_id)

    assert row.status == DestinationStatus.PUBLISHED, row.last_error
    assert len(stack.tiktok.posts) == 1 and len(stack.tiktok.publishes) == 1
    assert stack.tiktok.posts[0].data == VIDEO
    assert stack.tiktok.posts[0].post_info["privacy_level"] == "SELF_ONLY"
    assert row.platform_post_id == stack.tiktok.posts[0].post_id


def test_a_tiktok_video_that_fails_its_checks_ends_failed_with_the_reason(stack: Stack) -> None:
    stack.tiktok.fail_next_post("duration_check_failed")
    with running_worker(stack.env, stack.tmp), running_beat(stack.env, stack.tmp):
        destination_id = stack.schedule(stack.tiktok_account, text="Too long, apparently")
        row = stack.finished(destination_id)

    assert row.status == DestinationStatus.FAILED
    assert "duration_check_failed" in row.last_error
    assert stack.tiktok.posts == []


def test_a_text_only_youtube_post_fails_with_the_rule_and_reaches_nothing(stack: Stack) -> None:
    with running_worker(stack.env, stack.tmp), running_beat(stack.env, stack.tmp):
        destination_id = stack.schedule(stack.youtube_account, text="Just words", video=None)
        row = stack.finished(destination_id)

    assert row.status == DestinationStatus.FAILED
    assert "YouTube posts are videos" in row.last_error
    assert stack.youtube.upload_log == []
