"""The client's address behind reverse proxies: X-Forwarded-For counts only as far as trusted
proxies wrote it, in Reflex events and HTTP routes alike, so per-address limits hit one person."""

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from reflex.istate.data import RouterData
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from postforge.api.client import request_client_ip
from postforge.services.infra.client_address import TrustedProxies, client_ip, parse_trusted_proxies
from postforge.settings import SettingsError, get_settings, load_settings
from postforge.state.auth import client_ip as event_client_ip

NONE = TrustedProxies()
ONE_HOP = parse_trusted_proxies("1")
TWO_HOPS = parse_trusted_proxies("2")
PRIVATE = parse_trusted_proxies("10.0.0.0/8, fd00::/8")


@pytest.fixture
def trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Set TRUSTED_PROXIES the way an operator does (the environment)."""

    def use(value: str) -> None:
        monkeypatch.setenv("TRUSTED_PROXIES", value)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


# --- the rule ------------------------------------------------------------------------------------


def test_without_a_trusted_proxy_the_header_is_ignored() -> None:
    assert client_ip("198.51.100.9", "", NONE) == "198.51.100.9"
    # Anyone can send the header: believing it would let a client pick its own address.
    assert client_ip("198.51.100.9", "203.0.113.7", NONE) == "198.51.100.9"


def test_one_trusted_hop_takes_what_the_proxy_appended() -> None:
    assert client_ip("10.0.0.2", "203.0.113.7", ONE_HOP) == "203.0.113.7"
    # The client wrote "1.1.1.1" itself; the proxy appended the address it really saw.
    assert client_ip("10.0.0.2", "1.1.1.1, 203.0.113.7", ONE_HOP) == "203.0.113.7"


def test_two_hops_skip_both_proxies_and_never_read_further_left() -> None:
    assert client_ip("10.0.0.3", "1.1.1.1, 203.0.113.7, 10.0.0.2", TWO_HOPS) == "203.0.113.7"


def test_a_proxy_that_sent_no_header_leaves_the_peer() -> None:
    assert client_ip("203.0.113.7", "", ONE_HOP) == "203.0.113.7"


def test_a_shorter_chain_than_the_hop_count_gives_the_furthest_address_a_proxy_saw() -> None:
    assert client_ip("10.0.0.2", "203.0.113.7", TWO_HOPS) == "203.0.113.7"


def test_cidr_proxies_are_skipped_from_the_right_until_an_outside_address() -> None:
    assert client_ip("10.0.0.3", "1.1.1.1, 203.0.113.7, 10.1.2.3", PRIVATE) == "203.0.113.7"
    assert client_ip("fd00::5", "2001:db8::42", PRIVATE) == "2001:db8::42"


def test_cidr_form_ignores_the_header_when_the_peer_is_not_a_listed_proxy() -> None:
    assert client_ip("198.51.100.9", "203.0.113.7", PRIVATE) == "198.51.100.9"


def test_a_chain_of_proxies_only_gives_the_furthest() -> None:
    assert client_ip("10.0.0.3", "10.0.0.1, 10.0.0.2", PRIVATE) == "10.0.0.1"


def test_garbage_in_the_header_stops_at_the_last_trusted_address() -> None:
    assert client_ip("10.0.0.3", "unknown", ONE_HOP) == "10.0.0.3"
    assert client_ip("10.0.0.3", "203.0.113.7, <script>, 10.0.0.2", PRIVATE) == "10.0.0.2"


def test_ports_brackets_and_mapped_addresses_are_normalised() -> None:
    assert client_ip("10.0.0.2", "203.0.113.7:51234", ONE_HOP) == "203.0.113.7"
    assert client_ip("10.0.0.2", "[2001:db8::1]:443", ONE_HOP) == "2001:db8::1"
    assert client_ip("::ffff:10.0.0.2", "203.0.113.7", PRIVATE) == "203.0.113.7"
    assert client_ip("::ffff:198.51.100.9", "", NONE) == "198.51.100.9"


def test_several_header_lines_read_as_one_list() -> None:
    assert client_ip("10.0.0.2", ["1.1.1.1", "203.0.113.7"], ONE_HOP) == "203.0.113.7"


@pytest.mark.parametrize("value", ["many", "-1", "1,2", "10.0.0.0/33", "10.0.0.0/8,nope", "1.5", "100"])
def test_a_bad_setting_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError):
        parse_trusted_proxies(value)
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        load_settings(trusted_proxies=value)


def test_the_setting_reads_a_count_or_a_list_of_networks() -> None:
    assert parse_trusted_proxies("") == NONE
    assert parse_trusted_proxies(" 2 ").hops == 2
    assert [str(n) for n in parse_trusted_proxies("10.0.0.0/8, 192.168.1.7").networks] == [
        "10.0.0.0/8",
        "192.168.1.7/32",
    ]


# --- the two doors: Reflex events and HTTP routes ------------------------------------------------


def state_from(peer: str, headers: dict[str, str]) -> SimpleNamespace:
    """What a Reflex state sees: the socket's peer and the headers of its connection."""
    return SimpleNamespace(router=RouterData.from_router_data({"ip": peer, "headers": headers}))


def test_reflex_events_see_the_client_behind_a_trusted_proxy(trusted_proxies) -> None:
    trusted_proxies("1")
    state = state_from("10.0.0.2", {"x-forwarded-for": "1.1.1.1, 203.0.113.7", "user-agent": "test"})
    assert event_client_ip(state) == "203.0.113.7"


def test_reflex_events_ignore_a_spoofed_header_without_a_proxy(trusted_proxies) -> None:
    trusted_proxies("")
    state = state_from("198.51.100.9", {"x-forwarded-for": "203.0.113.7"})
    assert event_client_ip(state) == "198.51.100.9"


async def _ask(peer: str, headers: list[tuple[str, str]]) -> str:
    async def show(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request_client_ip(request))

    app = Starlette(routes=[Route("/", show)])
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return (await client.get("/", headers=httpx.Headers(headers))).text


async def test_http_routes_see_the_client_behind_trusted_proxies(trusted_proxies) -> None:
    trusted_proxies("10.0.0.0/8")
    header_lines = [("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "203.0.113.7, 10.0.0.9")]
    assert await _ask("10.0.0.2", header_lines) == "203.0.113.7"


async def test_http_routes_ignore_a_spoofed_header_without_a_proxy(trusted_proxies) -> None:
    trusted_proxies("")
    assert await _ask("198.51.100.9", [("x-forwarded-for", "203.0.113.7")]) == "198.51.100.9"
