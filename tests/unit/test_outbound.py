"""The one outbound-HTTP policy: which addresses a user-named host may reach, the connection going
to the address that was checked, no redirects, a total deadline and a size cap on every answer —
for each HTTP library PostForge talks through (httpx for the platforms, httpx2 under authlib and
the Anthropic SDK), sync and async."""

from __future__ import annotations

import socket
import time

import anyio
import httpcore
import httpx
import httpx2
import pytest

from postforge import outbound
from postforge.settings import load_settings
from tests.fakes.hostile import GiB, MiB, announced, endless, gzip_bomb, hostile_server, redirect, trickle

CAP = 64 * 1024
LOCAL = outbound.Policy(deadline_seconds=1.0, max_response_bytes=CAP, user_named=True, allow_private=True)
FIXED = outbound.Policy(deadline_seconds=1.0, max_response_bytes=CAP)
PRODUCTION = outbound.Policy(deadline_seconds=1.0, max_response_bytes=CAP, user_named=True)
BODY = b'{"id": "1", "padding": "' + b"x" * 100 + b'"}'  # trickled: two minutes at a byte a second
# Far below the two minutes the trickling server would take, far above the one-second deadline.
ENDS_WELL_BEFORE_SECONDS = 15


# --- which addresses a user-named host may resolve to ----------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.8.9.10",
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # unspecified
        "224.0.0.251",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "fe80::1",  # link-local
        "fc00::1",  # unique local
        "ff02::1",  # multicast
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
        "fe80::1%eth0",  # with a zone
    ],
)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert outbound.address_refusal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert outbound.address_refusal(address) is None


def test_the_allowance_for_this_machine_is_on_outside_production_and_off_in_production() -> None:
    assert outbound.policy_for(load_settings(), user_named=True).allow_private is True
    assert outbound.policy_for(load_settings(environment="test"), user_named=True).allow_private is True
    explicit = load_settings(outbound_allow_private_hosts=False)
    assert outbound.policy_for(explicit, user_named=True).allow_private is False
    production = load_settings(
        environment="production",
        database_url="postgresql+psycopg://db/postforge",
        redis_url="redis://localhost:6379/0",
        secret_key="s" * 40,
        token_encryption_keys="Yl6oDyh4Ex1RkRGMhUIxIzXjCpl0DAJZ9wcfzdf9UjU=",
    )
    assert outbound.policy_for(production, user_named=True).allow_private is False


def test_a_user_named_host_resolving_to_this_machine_is_never_connected_to() -> None:
    with hostile_server(trickle(BODY)) as server, outbound.client(PRODUCTION) as client:
        with pytest.raises(httpx.ConnectError) as refused:
            client.get(f"https://localhost:{server.port}/api/v1/statuses")
        assert server.connections == 0
    assert "private or local network" in (outbound.refusal(refused.value) or "")


def test_plain_http_to_a_user_named_host_is_refused_in_production() -> None:
    with hostile_server(trickle(BODY)) as server, outbound.client(PRODUCTION) as client:
        with pytest.raises(httpx.ConnectError) as refused:
            client.get(server.url)
        assert server.connections == 0
    assert "https://" in (outbound.refusal(refused.value) or "")


class SpyBackend:
    """Records where connections go instead of opening them."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.hosts.append(host)
        return object()


def test_the_connection_goes_to_the_checked_address_and_every_new_connection_is_checked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DNS rebinding: a public address for the check, then this machine for the connection.
    answers = iter(["93.184.216.34", "127.0.0.1"])
    lookups: list[str] = []

    def resolve(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", resolve)
    spy = SpyBackend()
    backend = outbound.CheckedBackend(PRODUCTION, core=httpcore, inner=spy)

    backend.connect_tcp("pds.example.com", 443, timeout=5)
    assert lookups == ["pds.example.com"]
    assert spy.hosts == ["93.184.216.34"]  # the IP that was checked, never the name again

    with pytest.raises(httpcore.ConnectError) as refused:  # a reconnect resolves and checks anew
        backend.connect_tcp("pds.example.com", 443, timeout=5)
    assert spy.hosts == ["93.184.216.34"]
    assert outbound.refusal(refused.value)


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", resolve)
    spy = SpyBackend()
    with pytest.raises(httpcore.ConnectError):
        outbound.CheckedBackend(PRODUCTION, core=httpcore, inner=spy).connect_tcp("mixed.example", 443)
    assert spy.hosts == []


def test_redirects_are_never_followed() -> None:
    with (
        hostile_server(redirect("http://169.254.169.254/latest/meta-data/")) as server,
        outbound.client(LOCAL) as client,
    ):
        response = client.get(server.url)
    assert response.status_code == 302
    assert server.connections == 1


# --- a total deadline and a size cap, whatever the library ----------------------------------------


def _sync_get(library, policy: outbound.Policy, url: str) -> bytes:
    with library.Client(**outbound.client_options(library, policy)) as client:
        return client.get(url).content


def _async_get(library, policy: outbound.Policy, url: str) -> bytes:
    async def get() -> bytes:
        async with library.AsyncClient(
            **outbound.client_options(library, policy, asynchronous=True)
        ) as client:
            return (await client.get(url)).content

    return anyio.run(get)


FLAVOURS = [
    pytest.param(_sync_get, httpx, id="httpx"),
    pytest.param(_sync_get, httpx2, id="httpx2"),
    pytest.param(_async_get, httpx, id="httpx-async"),
    pytest.param(_async_get, httpx2, id="httpx2-async"),
]


@pytest.mark.parametrize(("get", "library"), FLAVOURS)
@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_server_trickling_a_byte_a_second_is_cut_off_at_the_deadline(get, library, headers_too) -> None:
    with hostile_server(trickle(BODY, headers_too=headers_too)) as server:
        started = time.monotonic()
        with pytest.raises(library.TimeoutException):
            get(library, FIXED, server.url)
        assert time.monotonic() - started < ENDS_WELL_BEFORE_SECONDS


@pytest.mark.parametrize(("get", "library"), FLAVOURS)
def test_an_endless_answer_stops_at_the_cap(get, library) -> None:
    with hostile_server(endless()) as server:
        with pytest.raises(library.HTTPError, match="larger than 64 KiB"):
            get(library, FIXED, server.url)
        time.sleep(0.2)
        assert server.bytes_sent < 20 * MiB  # far from the 200 MiB it would send


@pytest.mark.parametrize(("get", "library"), FLAVOURS)
def test_a_compressed_answer_is_capped_by_its_inflated_size(get, library) -> None:
    with hostile_server(gzip_bomb()) as server, pytest.raises(library.HTTPError, match="larger than 64 KiB"):
        get(library, FIXED, server.url)


@pytest.mark.parametrize(("get", "library"), FLAVOURS)
def test_an_announced_length_over_the_cap_is_refused_before_reading(get, library) -> None:
    with hostile_server(announced(10 * GiB)) as server:
        started = time.monotonic()
        with pytest.raises(library.HTTPError, match="larger than 64 KiB"):
            get(library, FIXED, server.url)
        assert time.monotonic() - started < ENDS_WELL_BEFORE_SECONDS


def test_an_answer_within_the_cap_and_the_deadline_arrives_whole() -> None:
    with hostile_server(trickle(b'{"ok": true}', interval=0.01)) as server:
        assert _sync_get(httpx, FIXED, server.url) == b'{"ok": true}'
        assert _async_get(httpx2, FIXED, server.url) == b'{"ok": true}'


# --- what a foreign server's words may look like once they reach a page ---------------------------


def test_foreign_text_is_short_plain_and_free_of_control_characters() -> None:
    hostile = "<html><body><h1>Bad\x1b[31m gateway</h1>\u202e<script>alert(1)</script>" + "z" * 500
    text = outbound.foreign_text(hostile, limit=80)
    assert len(text) <= 80
    assert "<" not in text and ">" not in text and "\x1b" not in text and "\u202e" not in text
    assert text.startswith("Bad")
    assert text.endswith("…")
    assert outbound.foreign_text("  Status is over 500 characters.\n") == "Status is over 500 characters."
