"""CORS: only PostForge's own pages may call its backend from a browser, with credentials.

Reflex's default allows every origin with credentials, so any web page could call PostForge's
routes in a signed-in browser and read the answers. `rxconfig.py` allows APP_URL, API_URL and
CORS_EXTRA_ORIGINS only. The ASGI tests compose the app the way `rx.App.__call__` does — Reflex's
own API app, the `api_transformer` (our routes) mounted over it, the top-level app — each wrapped
by Reflex's own `App._add_cors`, reading the config built by `rxconfig.py`.
"""

import runpy
from collections.abc import Callable, Iterator

import httpx
import pytest
import reflex.app
from reflex.app import App, ping
from starlette.applications import Starlette
from starlette.routing import Route

from postforge.api import build_api
from postforge.settings import SettingsError, get_settings, load_settings
from tests.conftest import ROOT

APP_URL = "https://app.example.com"
API_URL = "https://api.example.com"
EXTRA = "https://admin.example.com"
FOREIGN = "https://evil.example"


@pytest.fixture
def rxconfig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Build the Reflex config exactly as `rxconfig.py` does, from the given environment."""

    def load(**env: str) -> object:
        for name in (
            "API_URL",
            "CORS_EXTRA_ORIGINS",
            "REFLEX_CORS_ALLOWED_ORIGINS",
            "REFLEX_TRUSTED_PROXY_HOPS",
        ):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return runpy.run_path(str(ROOT / "rxconfig.py"))["config"]

    yield load
    get_settings.cache_clear()


@pytest.fixture
def backend(rxconfig, monkeypatch: pytest.MonkeyPatch) -> Starlette:
    """The backend's HTTP app composed as Reflex composes it, with the CORS Reflex adds at each layer."""
    config = rxconfig(APP_URL=APP_URL, API_URL=API_URL, CORS_EXTRA_ORIGINS=EXTRA)
    monkeypatch.setattr(reflex.app, "get_config", lambda *args, **kwargs: config)
    reflex_api = Starlette(routes=[Route("/ping", ping, methods=["GET"])])
    App._add_cors(reflex_api)
    ours = build_api()
    App._add_cors(ours)
    ours.mount("", reflex_api)
    top = Starlette()
    top.mount("", ours)
    App._add_cors(top)
    return top


async def call(app: Starlette, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API_URL) as client:
        return await client.request(method, path, headers=headers)


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }


def test_rxconfig_allows_only_the_apps_own_origins(rxconfig) -> None:
    config = rxconfig(APP_URL=APP_URL, API_URL=API_URL, CORS_EXTRA_ORIGINS=EXTRA)
    assert tuple(config.cors_allowed_origins) == (APP_URL, API_URL, EXTRA)


def test_without_api_url_only_app_url_is_allowed(rxconfig) -> None:
    config = rxconfig(APP_URL=APP_URL + "/")
    assert tuple(config.cors_allowed_origins) == (APP_URL,)


def test_a_laptop_url_allows_its_loopback_spellings_on_the_same_port(rxconfig) -> None:
    config = rxconfig(APP_URL="http://localhost:3000")
    assert tuple(config.cors_allowed_origins) == (
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
    )


@pytest.mark.parametrize("path", ["/api/health", "/api/stripe/webhook", "/ping"])
async def test_a_foreign_origins_preflight_is_refused(backend, path: str) -> None:
    response = await call(backend, "OPTIONS", path, preflight(FOREIGN))
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers or response.status_code >= 400


async def test_a_foreign_origins_credentialed_request_gets_no_cors_answer(backend) -> None:
    response = await call(backend, "GET", "/ping", {"Origin": FOREIGN, "Cookie": "pf_session=x"})
    assert response.status_code == 200  # the server answers; the browser keeps it from the page
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("origin", [APP_URL, API_URL, EXTRA])
async def test_the_apps_own_origins_are_allowed_with_credentials(backend, origin: str) -> None:
    response = await call(backend, "OPTIONS", "/api/stripe/webhook", preflight(origin))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    simple = await call(backend, "GET", "/ping", {"Origin": origin, "Cookie": "pf_session=x"})
    assert simple.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "value", ["evil.example", "https://", "https://ok.example/path", "ftp://ok.example", "*"]
)
def test_a_malformed_extra_origin_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="CORS_EXTRA_ORIGINS"):
        load_settings(cors_extra_origins=value)


def test_extra_origins_are_normalised_like_a_browser_sends_them() -> None:
    settings = load_settings(
        app_url=APP_URL, cors_extra_origins=" https://Admin.Example.com:443 , http://intranet.local:8080 "
    )
    assert settings.cors_allowed_origins == (
        APP_URL,
        "https://admin.example.com",
        "http://intranet.local:8080",
    )


def test_client_addresses_are_left_to_trusted_proxies(rxconfig) -> None:
    """Reflex must keep the socket's real peer: TRUSTED_PROXIES decides what X-Forwarded-For is worth."""
    assert rxconfig(APP_URL=APP_URL).trusted_proxy_hops == 0
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        rxconfig(APP_URL=APP_URL, REFLEX_TRUSTED_PROXY_HOPS="1")
