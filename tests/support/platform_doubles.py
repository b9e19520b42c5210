"""Small adapters for connect tests, speaking to `tests/fakes/oauth_platform.py` over real HTTP.

They implement only the connect side of `PlatformAdapter` (publishing is the real adapters'
business and has its own tests); `use_adapters` swaps them into the registry for one test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from postforge.models import Platform
from postforge.platforms import registry
from postforge.platforms.base import (
    AccountProfile,
    ConnectedAccount,
    ConnectFailed,
    OAuthClientConfig,
    Outcome,
    PlatformAdapter,
    PublishRequest,
    Rejected,
    TokenSet,
    error_message,
)


class _ConnectOnly(PlatformAdapter):
    def publish(self, request: PublishRequest) -> Outcome:
        return Rejected("connect-only test adapter")


def _tokens(token: Mapping[str, Any]) -> TokenSet:
    expires_in = token.get("expires_in")
    expires_at = datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token") or None,
        expires_at=expires_at,
        scopes=str(token.get("scope", "")),
    )


def _get_json(client: httpx.Client, url: str, access_token: str, label: str) -> dict[str, Any]:
    response = client.get(url, headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code != 200:
        raise ConnectFailed(
            f"{label} did not return the profile ({response.status_code}: {error_message(response)}).",
            http_status=response.status_code,
        )
    return response.json()


class LinkedInDouble(_ConnectOnly):
    platform = Platform.LINKEDIN
    label = "LinkedIn"

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        if not self.settings.linkedin_client_id:
            raise ConnectFailed("LinkedIn is not configured on this installation.")
        base = self.settings.linkedin_auth_base
        return OAuthClientConfig(
            authorize_url=f"{base}/oauth/v2/authorization",
            token_url=f"{base}/oauth/v2/accessToken",
            client_id=self.settings.linkedin_client_id,
            client_secret=self.settings.linkedin_client_secret,
            scopes=("openid", "profile", "w_member_social"),
            token_endpoint_auth_method="client_secret_post",
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        with self.http() as client:
            me = _get_json(
                client, f"{self.settings.linkedin_api_base}/v2/userinfo", token["access_token"], self.label
            )
        profile = AccountProfile(
            platform_account_id=f"urn:li:person:{me['sub']}",
            handle=me["name"],
            display_name=me["name"],
            avatar_url=me.get("picture", ""),
        )
        return [ConnectedAccount(profile=profile, tokens=_tokens(token))]


class MastodonDouble(_ConnectOnly):
    platform = Platform.MASTODON
    label = "Mastodon"
    user_named_hosts = True
    scopes = ("read", "write:statuses", "write:media")

    def register_app(self, instance_url: str, redirect_uri: str) -> tuple[str, str]:
        try:
            with self.http() as client:
                response = client.post(
                    f"{instance_url}/api/v1/apps",
                    data={
                        "client_name": "PostForge",
                        "redirect_uris": redirect_uri,
                        "scopes": " ".join(self.scopes),
                        "website": self.settings.app_url,
                    },
                )
        except httpx.HTTPError as error:
            raise ConnectFailed(
                f"The Mastodon server {instance_url} could not be reached ({error})."
            ) from None
        if response.status_code != 200:
            raise ConnectFailed(
                f"{instance_url} refused to register PostForge ({response.status_code}: {error_message(response)}).",
                http_status=response.status_code,
            )
        body = response.json()
        return body["client_id"], body["client_secret"]

    def oauth_client_for_app(
        self, instance_url: str, client_id: str, client_secret: str
    ) -> OAuthClientConfig:
        return OAuthClientConfig(
            authorize_url=f"{instance_url}/oauth/authorize",
            token_url=f"{instance_url}/oauth/token",
            client_id=client_id,
            client_secret=client_secret,
            scopes=self.scopes,
            user_named_host=True,
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        with self.http() as client:
            me = _get_json(
                client,
                f"{instance_url}/api/v1/accounts/verify_credentials",
                token["access_token"],
                self.label,
            )
        host = urlsplit(instance_url).netloc
        profile = AccountProfile(
            platform_account_id=str(me["id"]),
            handle=f"@{me['username']}@{host}",
            display_name=me.get("display_name", ""),
            avatar_url=me.get("avatar", ""),
            settings={"max_characters": 500},
        )
        return [ConnectedAccount(profile=profile, tokens=_tokens(token), instance_url=instance_url)]


class BlueskyDouble(_ConnectOnly):
    platform = Platform.BLUESKY
    label = "Bluesky"
    connect_kind = "password"

    def connect_with_password(
        self, identifier: str, password: str, *, instance_url: str = ""
    ) -> ConnectedAccount:
        service = instance_url or self.settings.bluesky_service_url
        with self.http() as client:
            response = client.post(
                f"{service}/xrpc/com.atproto.server.createSession",
                json={"identifier": identifier, "password": password},
            )
        if response.status_code != 200:
            raise ConnectFailed(
                f"Bluesky refused the sign-in: {error_message(response)}", http_status=response.status_code
            )
        body = response.json()
        profile = AccountProfile(platform_account_id=body["did"], handle=f"@{body['handle']}")
        tokens = TokenSet(access_token=body["accessJwt"], refresh_token=body["refreshJwt"])
        return ConnectedAccount(profile=profile, tokens=tokens, instance_url=service)


DOUBLES = {
    Platform.LINKEDIN: "tests.support.platform_doubles:LinkedInDouble",
    Platform.MASTODON: "tests.support.platform_doubles:MastodonDouble",
    Platform.BLUESKY: "tests.support.platform_doubles:BlueskyDouble",
}


@contextmanager
def use_adapters(doubles: Mapping[Platform, str] = DOUBLES) -> Iterator[None]:
    """Swap adapters in the registry for the duration of the block."""
    saved = dict(registry.ADAPTERS)
    registry.ADAPTERS.update(doubles)
    registry.adapter_class.cache_clear()
    try:
        yield
    finally:
        registry.ADAPTERS.clear()
        registry.ADAPTERS.update(saved)
        registry.adapter_class.cache_clear()
