"""The adapters' HTTP client: one per worker thread, reused, carrying nothing between uses."""

import threading

from postforge.platforms.sandbox import SandboxAdapter
from postforge.settings import load_settings

SETTINGS = load_settings(platform_http_timeout_seconds=7)


def _client_of(adapter: SandboxAdapter):
    with adapter.http() as client:
        return client


def test_a_thread_reuses_its_client_and_other_threads_get_their_own() -> None:
    first = _client_of(SandboxAdapter(SETTINGS))
    assert _client_of(SandboxAdapter(SETTINGS)) is first
    assert first.timeout.read == 7

    seen = []
    thread = threading.Thread(target=lambda: seen.append(_client_of(SandboxAdapter(SETTINGS))))
    thread.start()
    thread.join()
    assert seen and seen[0] is not first


def test_cookies_from_one_use_never_reach_the_next() -> None:
    with SandboxAdapter(SETTINGS).http() as client:
        client.cookies.set("session", "belongs-to-another-account")
    with SandboxAdapter(SETTINGS).http() as client:
        assert not client.cookies


def test_an_injected_client_is_used_as_is() -> None:
    import httpx

    injected = httpx.Client()
    with SandboxAdapter(SETTINGS, http=injected).http() as client:
        assert client is injected
    injected.close()
