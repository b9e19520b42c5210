"""One policy for every HTTP request PostForge makes to another server.

Users name servers: a Mastodon instance, a Bluesky PDS. The web app and the worker then call
them — connect, refresh, publish, read metrics — and show part of the answer. Such a server
must not be able to aim PostForge at its own network (SSRF), hold a web thread or a worker slot
for ever, or fill its memory. So every outbound client is built here (`client`,
`client_options`) from a `Policy`:

* **A user-named host** (`Policy.user_named`) is reached over https only, and only at public
  addresses: each new connection resolves the name, refuses it if *any* address is loopback,
  private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast,
  reserved or unspecified (IPv4 and IPv6, with IPv4-mapped, 6to4 and NAT64 forms unwrapped), and
  then connects to the address it checked — the name is not looked up a second time, so DNS
  rebinding between check and connect cannot work (`CheckedBackend`). TLS still verifies the
  certificate against the name (SNI and Host stay the name). Embedded and test runs may reach
  this machine behind `OUTBOUND_ALLOW_PRIVATE_HOSTS` (the fakes run on 127.0.0.1); production
  refuses unless an operator turns it on.
* **Every request** — platform hosts from settings (api.x.com …), sign-in providers, the AI
  service — has a *total* deadline (httpx's timeouts are per read: a server trickling a byte a
  second never trips them), never follows a redirect, asks for an uncompressed answer, and reads
  at most `max_response_bytes` of it (after inflating, should a server compress anyway).
* Clients connect directly: `HTTP(S)_PROXY` from the environment is not used (a proxy would
  connect to whatever address it likes).

What a foreign server says reaches a page only through `foreign_text`: short, plain, no markup,
no control characters.
"""

from __future__ import annotations

import contextvars
import ipaddress
import math
import re
import socket
import time
import unicodedata
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpcore2
import httpx
import httpx2

CONNECT_TIMEOUT_SECONDS = 10.0
DEFAULT_DEADLINE_SECONDS = 20.0
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
FOREIGN_TEXT_LIMIT = 200

# The deadline of the request this thread (or task) is making; read by the network streams.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("outbound_deadline", default=None)


@dataclass(frozen=True)
class Policy:
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS  # connect to last byte, per request
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    user_named: bool = False  # a host a user typed: https only, public addresses only
    allow_private: bool = False  # embedded/test: a user-named host may be this machine (http too)

    @property
    def checks_addresses(self) -> bool:
        return self.user_named and not self.allow_private


def policy_for(
    settings: Any = None,
    *,
    user_named: bool,
    deadline_seconds: float | None = None,
    max_response_bytes: int | None = None,
) -> Policy:
    """The policy for a call from `settings` (the platform timeout is the default deadline)."""
    if settings is None:
        from postforge.settings import get_settings

        settings = get_settings()
    return Policy(
        deadline_seconds=deadline_seconds
        or float(getattr(settings, "platform_http_timeout_seconds", DEFAULT_DEADLINE_SECONDS)),
        max_response_bytes=max_response_bytes
        or int(getattr(settings, "outbound_max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)),
        user_named=user_named,
        allow_private=bool(getattr(settings, "outbound_private_hosts_allowed", False)),
    )


# --- errors -----------------------------------------------------------------------------------------
# Each is an error of both httpx and httpx2 (and the low-level ones of both httpcores), so every
# caller's existing `except httpx.HTTPError` / `except httpx2.HTTPError` handles them.


class _Refused:
    """Marks an error as the policy's refusal (see `refusal`)."""


class DestinationRefused(_Refused, httpx.ConnectError, httpx2.ConnectError):
    """The policy does not let PostForge connect there; nothing was sent."""


class _CoreRefused(_Refused, httpcore.ConnectError, httpcore2.ConnectError):
    pass


class ResponseTooLarge(httpx.DecodingError, httpx2.DecodingError):
    """The answer is larger than the policy's cap; PostForge stopped reading it."""


class DeadlineExceeded(httpx.ReadTimeout, httpx2.ReadTimeout):
    """The whole request took longer than the policy's deadline."""


class _CoreConnectError(httpcore.ConnectError, httpcore2.ConnectError):
    pass


class _CoreConnectDeadline(httpcore.ConnectTimeout, httpcore2.ConnectTimeout):
    pass


class _CoreReadDeadline(httpcore.ReadTimeout, httpcore2.ReadTimeout):
    pass


class _CoreWriteDeadline(httpcore.WriteTimeout, httpcore2.WriteTimeout):
    pass


def refusal(error: BaseException | None) -> str | None:
    """The policy's reason when `error` (or what caused it) is a refusal, else None."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, _Refused):
            return str(error)
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


# --- which addresses a user-named host may have -------------------------------------------------------

_CARRIER_NAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_TEREDO = ipaddress.ip_network("2001::/32")


def address_refusal(address: str) -> str | None:
    """Why PostForge must not connect to `address` (an IP literal), or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address[:60]!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _TEREDO:
            return f"{ip} is a Teredo tunnel address"
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            if ip.ipv4_mapped is not None or ip in _NAT64:
                return address_refusal(str(embedded))  # the IPv4 address is what is reached
            if address_refusal(str(embedded)):
                return f"{ip} wraps the private address {embedded}"
    special = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or getattr(ip, "is_site_local", False)
        or ip in _CARRIER_NAT
        or not ip.is_global
    )
    return f"{ip} is a private or local network address" if special else None


def _checked_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, all public (else a refusal naming the first bad one)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise _CoreConnectError(f"{host} could not be resolved ({error})") from None
    addresses = list(dict.fromkeys(str(entry[4][0]) for entry in found))
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise _CoreRefused(
                f"{host} points to a private or local network address ({reason}); "
                "PostForge only connects to public servers."
            )
    if not addresses:
        raise _CoreConnectError(f"{host} has no address")
    return addresses


# --- the deadline, enforced where bytes move ----------------------------------------------------------


def _left(timeout: float | None, kind: type[Exception]) -> float | None:
    """This read's (or write's, or connect's) timeout, never past the request's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise kind("the server did not answer within the time allowed for the whole request")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream, httpcore2.NetworkStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, _CoreReadDeadline))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, _CoreWriteDeadline))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None):
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _left(timeout, _CoreConnectDeadline))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class CheckedBackend(httpcore.NetworkBackend, httpcore2.NetworkBackend):
    """httpcore's network backend, with the policy at the socket: every new connection (a first
    connect or a reconnect) resolves the name once, checks the addresses and connects to a checked
    one; every read and write stops at the request's deadline. TLS runs on top with the name."""

    def __init__(self, policy: Policy, *, core: Any = httpcore, inner: Any = None) -> None:
        self._policy = policy
        self._core = core
        self._inner = inner if inner is not None else core.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        targets = _checked_addresses(host, port) if self._policy.checks_addresses else [host]
        failure: Exception | None = None
        for target in targets:
            try:
                stream = self._inner.connect_tcp(
                    target,
                    port,
                    timeout=_left(timeout, _CoreConnectDeadline),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (self._core.ConnectError, self._core.ConnectTimeout) as error:
                failure = error  # the next address, like socket.create_connection
                continue
            return _DeadlineStream(stream)
        raise failure or _CoreConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise _CoreRefused("PostForge does not connect to local sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# --- the answer: capped, and never longer than the deadline -------------------------------------------


def _size(limit: int) -> str:
    return f"{limit // 1024 // 1024} MiB" if limit >= 1024 * 1024 else f"{math.ceil(limit / 1024)} KiB"


class _Reader:
    """Counts (and inflates, when a server compressed anyway) an answer, refusing past the cap."""

    def __init__(self, library: Any, policy: Policy, deadline: float, encoding: str) -> None:
        self.library, self.limit, self.deadline = library, policy.max_response_bytes, deadline
        # 47 = zlib or gzip header, detected: what "gzip" and "deflate" (per RFC 9110) carry.
        self._inflater = zlib.decompressobj(wbits=47) if encoding else None
        self._read = 0

    def take(self, chunk: bytes) -> bytes:
        if time.monotonic() > self.deadline:
            raise DeadlineExceeded("the server did not answer within the time allowed for the whole request")
        if self._inflater is not None:
            try:
                chunk = self._inflater.decompress(chunk, self.limit - self._read + 1)
            except zlib.error as error:
                raise self.library.DecodingError(f"the compressed answer is damaged ({error})") from None
        self._read += len(chunk)
        if self._read > self.limit:
            raise ResponseTooLarge(
                f"the answer is larger than {_size(self.limit)}; PostForge stopped reading it"
            )
        return chunk


class _BoundedStream(httpx.SyncByteStream, httpx2.SyncByteStream):
    def __init__(self, inner: Any, reader: _Reader) -> None:
        self._inner, self._reader = inner, reader

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            token = _DEADLINE.set(self._reader.deadline)
            try:
                chunk = next(chunks, None)
            finally:
                _DEADLINE.reset(token)
            if chunk is None:
                return
            yield self._reader.take(chunk)

    def close(self) -> None:
        self._inner.close()


class _AsyncBoundedStream(httpx.AsyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, inner: Any, reader: _Reader) -> None:
        self._inner, self._reader = inner, reader

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._inner.__aiter__()
        while True:
            try:
                with anyio.fail_after(max(0.0, self._reader.deadline - time.monotonic())):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise DeadlineExceeded(
                    "the server did not answer within the time allowed for the whole request"
                ) from None
            yield self._reader.take(chunk)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _prepare(request: Any, policy: Policy) -> float:
    """Refuse what the policy forbids before anything is sent; the request's deadline."""
    if policy.user_named and request.url.scheme != "https" and not policy.allow_private:
        raise DestinationRefused(f"{request.url.host} must be reached over https://")
    request.headers["Accept-Encoding"] = "identity"  # a compressed answer could inflate past the cap
    return time.monotonic() + policy.deadline_seconds


def _encoding(library: Any, response: Any, policy: Policy) -> str:
    """The content encoding the reader must undo ("" for none); refuses an announced oversize."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > policy.max_response_bytes:
        raise ResponseTooLarge(
            f"the answer is larger than {_size(policy.max_response_bytes)}; PostForge stopped reading it"
        )
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return ""
    if encoding in ("gzip", "x-gzip", "deflate"):
        return encoding
    raise library.DecodingError(
        f"the server sent an answer in an encoding PostForge did not ask for ({encoding[:20]})"
    )


def _bounded_response(library: Any, response: Any, encoding: str, stream: Any) -> Any:
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if not encoding or name.lower() not in ("content-encoding", "content-length")
    ]
    return library.Response(
        status_code=response.status_code, headers=headers, stream=stream, extensions=response.extensions
    )


class _Bounded:
    """The synchronous transport (its httpx and httpx2 classes are below)."""

    def __init__(self, library: Any, policy: Policy) -> None:
        self._library, self._policy = library, policy
        self._inner = library.HTTPTransport()
        core = httpcore if library is httpx else httpcore2
        pool = self._inner._pool  # httpx builds the pool; the policy lives in its network backend
        if not hasattr(pool, "_network_backend"):
            raise RuntimeError(f"{library.__name__} changed its transport: the outbound policy cannot attach")
        pool._network_backend = CheckedBackend(policy, core=core)

    def handle_request(self, request: Any) -> Any:
        deadline = _prepare(request, self._policy)
        token = _DEADLINE.set(deadline)
        try:
            response = self._inner.handle_request(request)
        finally:
            _DEADLINE.reset(token)
        try:
            encoding = _encoding(self._library, response, self._policy)
        except Exception:
            response.close()
            raise
        reader = _Reader(self._library, self._policy, deadline, encoding)
        return _bounded_response(self._library, response, encoding, _BoundedStream(response.stream, reader))

    def close(self) -> None:
        self._inner.close()


class _AsyncBounded:
    """The asynchronous transport, for the async clients, which only reach hosts from settings
    (sign-in providers, the AI service, this server): the deadline by cancellation, the cap on
    the answer."""

    def __init__(self, library: Any, policy: Policy) -> None:
        if policy.user_named:
            raise ValueError("user-named hosts are reached with the sync clients, whose sockets are checked")
        self._library, self._policy = library, policy
        self._inner = library.AsyncHTTPTransport()

    async def handle_async_request(self, request: Any) -> Any:
        deadline = _prepare(request, self._policy)
        try:
            with anyio.fail_after(self._policy.deadline_seconds):
                response = await self._inner.handle_async_request(request)
        except TimeoutError:
            raise DeadlineExceeded(
                "the server did not answer within the time allowed for the whole request"
            ) from None
        try:
            encoding = _encoding(self._library, response, self._policy)
        except Exception:
            await response.aclose()
            raise
        reader = _Reader(self._library, self._policy, deadline, encoding)
        return _bounded_response(
            self._library, response, encoding, _AsyncBoundedStream(response.stream, reader)
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


# One class per library: the Anthropic SDK refuses a transport that is also an httpx one.
class _HttpxTransport(_Bounded, httpx.BaseTransport):
    pass


class _Httpx2Transport(_Bounded, httpx2.BaseTransport):
    pass


class _AsyncHttpxTransport(_AsyncBounded, httpx.AsyncBaseTransport):
    pass


class _AsyncHttpx2Transport(_AsyncBounded, httpx2.AsyncBaseTransport):
    pass


_TRANSPORTS: dict[tuple[Any, bool], type] = {
    (httpx, False): _HttpxTransport,
    (httpx2, False): _Httpx2Transport,
    (httpx, True): _AsyncHttpxTransport,
    (httpx2, True): _AsyncHttpx2Transport,
}


# --- the factory ------------------------------------------------------------------------------------


def client_options(library: Any, policy: Policy, *, asynchronous: bool = False) -> dict[str, Any]:
    """Keyword arguments for an httpx or httpx2 client (or one built on them: authlib's OAuth
    clients, the Anthropic SDK's) that make it follow `policy`."""
    transport = _TRANSPORTS[(library, asynchronous)](library, policy)
    return {
        "transport": transport,
        "timeout": library.Timeout(
            policy.deadline_seconds, connect=min(policy.deadline_seconds, CONNECT_TIMEOUT_SECONDS)
        ),
        "follow_redirects": False,
        "trust_env": False,
    }


def client(policy: Policy) -> httpx.Client:
    """A synchronous httpx client following `policy` (the platform adapters' client)."""
    return httpx.Client(**client_options(httpx, policy))


# --- what a foreign server says -------------------------------------------------------------------


def web_url(value: object, limit: int = 1024) -> str:
    """A link a foreign server gave (a post's URL, an avatar) if it is a plain http(s) address;
    "" otherwise — a `javascript:` or `data:` link on a page would run in PostForge's origin."""
    text = value.strip() if isinstance(value, str) else ""
    if (
        not text
        or len(text) > limit
        or any(c.isspace() or unicodedata.category(c).startswith("C") for c in text)
    ):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


_TAG = re.compile(r"<[^<>]{0,500}>")


def foreign_text(value: object, limit: int = FOREIGN_TEXT_LIMIT) -> str:
    """A foreign server's words made fit to show: markup and control characters (bidi overrides
    included) removed, whitespace collapsed, at most `limit` characters."""
    text = _TAG.sub(" ", value if isinstance(value, str) else str(value))
    text = "".join(" " if unicodedata.category(c).startswith("C") or c in "<>" else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
