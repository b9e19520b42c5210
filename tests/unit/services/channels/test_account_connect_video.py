"""Connecting YouTube channels and TikTok creators through the connect service: offered once their
client is configured, the OAuth round trip over real HTTP with the real adapters (Google's offline
access and PKCE, TikTok's `client_key`), tokens stored encrypted, a refresh through the stored row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session

from postforge.models import Platform, Role, SocialAccount, utcnow
from postforge.platforms.registry import adapter_for
from postforge.services.channels import account_connect as connect
from postforge.services.channels import account_tokens
from postforge.services.infra import token_crypto
from postforge.settings import get_settings
from tests.fakes.server import serve
from tests.fakes.tiktok_api import FakeTikTok
from tests.fakes.youtube_api import FakeYouTube
from tests.support.factories import make_membership, make_user, make_workspace


@dataclass
class Fakes:
    youtube: FakeYouTube
    tiktok: FakeTikTok


@pytest.fixture
def fakes(monkeypatch) -> Iterator[Fakes]:
    youtube, tiktok = FakeYouTube(), FakeTikTok()
    with serve(youtube.app) as youtube_url, serve(tiktok.app) as tiktok_url:
        for name, value in {
            "APP_URL": "https://postforge.example",
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "YOUTUBE_CLIENT_ID": youtube.client_id,
            "YOUTUBE_CLIENT_SECRET": youtube.client_secret,
            "YOUTUBE_API_BASE": youtube_url,
            "YOUTUBE_AUTH_BASE": youtube_url,
            "YOUTUBE_OAUTH_BASE": youtube_url,
            "TIKTOK_CLIENT_KEY": tiktok.client_key,
            "TIKTOK_CLIENT_SECRET": tiktok.client_secret,
            "TIKTOK_API_BASE": tiktok_url,
            "TIKTOK_AUTH_BASE": tiktok_url,
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield Fakes(youtube, tiktok)
    get_settings.cache_clear()


@pytest.fixture
def editor(engine, fakes) -> tuple[int, int]:
    with Session(engine, expire_on_commit=False) as session:
        user = make_user(session, name="Ed")
        workspace = make_workspace(session, name="Team")
        make_membership(session, workspace, user, role=Role.EDITOR)
        session.commit()
        return user.id, workspace.id


def connect_via_service(engine, editor: tuple[int, int], platform: str) -> int:
    user_id, workspace_id = editor
    with Session(engine) as session:
        url, browser_state = connect.begin_oauth(
            session,
            user_id=user_id,
            workspace_id=workspace_id,
            platform=platform,
            redirect_uri=connect.callback_url(platform),
        )
        session.commit()
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    with Session(engine, expire_on_commit=False) as session:
        result = connect.complete_oauth(
            session, state=back["state"], code=back["code"], browser_state=browser_state, platform=platform
        )
    [account_id] = result.account_ids
    return account_id


def test_both_are_offered_only_once_configured(fakes, monkeypatch):
    offered = {option.platform: option for option in connect.available_platforms()}
    assert offered["youtube"].label == "YouTube" and offered["tiktok"].label == "TikTok"
    assert offered["youtube"].connect_kind == offered["tiktok"].connect_kind == "oauth"

    monkeypatch.setenv("YOUTUBE_CLIENT_ID", "")
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "")
    get_settings.cache_clear()
    assert {"youtube", "tiktok"}.isdisjoint(option.platform for option in connect.available_platforms())


def test_a_youtube_channel_connects_with_offline_access_and_its_tokens_are_stored_encrypted(
    engine, fakes, editor
):
    account_id = connect_via_service(engine, editor, "youtube")

    with Session(engine) as session:
        row = session.get(SocialAccount, account_id)
    assert (row.platform, row.platform_account_id, row.handle) == (
        Platform.YOUTUBE,
        fakes.youtube.channel.id,
        "@adamakes",
    )
    request = fakes.youtube.authorize_requests[0]
    assert (request["access_type"], request["prompt"], request["code_challenge_method"]) == (
        "offline",
        "consent",
        "S256",
    )
    refresh_token = token_crypto.decrypt(row.refresh_token_enc)
    assert refresh_token in fakes.youtube.refresh_tokens and refresh_token not in row.refresh_token_enc
    assert row.token_expires_at > utcnow()


def test_a_tiktok_creator_connects_with_the_client_key_and_refreshes_through_the_stored_row(
    engine, fakes, editor
):
    account_id = connect_via_service(engine, editor, "tiktok")

    with Session(engine) as session:
        row = session.get(SocialAccount, account_id)
        credentials = account_tokens.credentials_for(row)
    assert (row.platform, row.platform_account_id, row.handle) == (
        Platform.TIKTOK,
        fakes.tiktok.creator.open_id,
        "@ada.makes",
    )
    exchange = fakes.tiktok.token_requests[0]
    assert (exchange["grant_type"], exchange["client_key"]) == ("authorization_code", "tt-client-key")
    assert row.scopes == "user.info.basic video.publish"

    renewed = adapter_for("tiktok").refresh(credentials)
    assert renewed.refresh_token != credentials.refresh_token
    assert renewed.refresh_token in fakes.tiktok.refresh_tokens
