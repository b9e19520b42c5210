"""The address of the person on the other end, seen through the reverse proxies we trust.

Per-address limits (sign-in attempts, registrations) and the addresses shown on signed-in
sessions need the client's own address. Behind a load balancer the connection comes from the
proxy, which appends the address it saw to `X-Forwarded-For`. That header is otherwise written
by whoever sends the request, so it is read only as far as trusted proxies wrote it, from the
right: `TRUSTED_PROXIES` is either a hop count (the last N addresses, the peer included, are our
proxies) or a list of networks (addresses inside them are our proxies). Without it the header
is ignored and the peer is the client.

Reflex events and HTTP routes both call `client_ip`, each with what its door knows: the
connection's peer and the header's value(s).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from postforge.settings import get_settings

MAX_HOPS = 10
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    hops: int = 0  # the nearest N addresses are our proxies, whatever they are
    networks: tuple[IPNetwork, ...] = ()  # or: addresses inside these are our proxies

    def trusts(self, address: IPAddress | None, hops_from_us: int) -> bool:
        """Was the address `hops_from_us` steps from us (0: the peer) written by our own proxy?"""
        if self.hops:
            return hops_from_us < self.hops
        return address is not None and any(address in network for network in self.networks)


def parse_trusted_proxies(value: str) -> TrustedProxies:
    """'' (none), '2' (hops) or '10.0.0.0/8,fd00::/8' (networks); ValueError naming the bad part."""
    value = (value or "").strip()
    if not value:
        return TrustedProxies()
    if value.isdigit():
        hops = int(value)
        if not 0 <= hops <= MAX_HOPS:
            raise ValueError(f"a hop count is between 0 and {MAX_HOPS}")
        return TrustedProxies(hops=hops)
    networks = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"{part!r} is not a network: give a hop count (1) or CIDRs (10.0.0.0/8,fd00::/8)"
            ) from None
    return TrustedProxies(networks=tuple(networks))


@functools.lru_cache(maxsize=8)
def _parsed(value: str) -> TrustedProxies:
    return parse_trusted_proxies(value)


def configured_proxies() -> TrustedProxies:
    return _parsed(get_settings().trusted_proxies)


def client_ip(
    peer: str, forwarded_for: str | Iterable[str] = "", proxies: TrustedProxies | None = None
) -> str:
    """The client's address: the first one, walking left from the peer, not written by our proxies.

    `forwarded_for` is the `X-Forwarded-For` value, or its lines when sent several times. An entry
    that is not an address stops the walk at the last trusted one; with only proxies in the chain,
    the furthest address is the answer.
    """
    proxies = proxies if proxies is not None else configured_proxies()
    lines = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    chain = [entry.strip() for line in lines for entry in line.split(",") if entry.strip()]
    answer = _text(peer)
    for hops_from_us, entry in enumerate(reversed([*chain, peer])):
        address = _address(entry)
        if hops_from_us > 0:
            if address is None:
                break
            answer = str(address)
        if not proxies.trusts(address, hops_from_us):
            break
    return answer


def _address(entry: str) -> IPAddress | None:
    """An IP address from a header entry or a peer: '203.0.113.7', '203.0.113.7:5123', '[2001:db8::1]:443'."""
    text = entry.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port; IPv6 has several colons
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def _text(peer: str) -> str:
    address = _address(peer or "")
    return str(address) if address is not None else (peer or "").strip()
