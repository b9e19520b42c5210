"""Servers that misbehave on purpose: the outbound-HTTP policy is tested against them.

Plain sockets on 127.0.0.1 (a port chosen by the OS), one thread per connection, so a test
controls every byte — something an ASGI server would not let it do:

    with hostile_server(trickle(body)) as server:      # one byte a second, for ever
    with hostile_server(endless()) as server:          # an answer that never ends
    with hostile_server(gzip_bomb()) as server:        # 100 KiB that inflate to 100 MiB
    with hostile_server(announced(10 * GiB)) as server:  # Content-Length far over any cap
    with hostile_server(redirect("http://169.254.169.254/")) as server:

`server.url` is its base URL, `server.connections` counts accepted connections and
`server.bytes_sent` what the server managed to write before the client hung up.
"""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

MiB = 1024 * 1024
GiB = 1024 * MiB
Behaviour = Callable[[socket.socket, "HostileServer"], None]


@dataclass
class HostileServer:
    port: int
    stopped: threading.Event = field(default_factory=threading.Event)
    connections: int = 0
    bytes_sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def send(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(data)
        with self._lock:
            self.bytes_sent += len(data)


@contextmanager
def hostile_server(behaviour: Behaviour) -> Iterator[HostileServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    server = HostileServer(port=listener.getsockname()[1])

    def serve_one(connection: socket.socket) -> None:
        with connection, suppress(OSError):
            _read_request(connection)
            behaviour(connection, server)

    def accept_loop() -> None:
        while not server.stopped.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with server._lock:
                server.connections += 1
            threading.Thread(target=serve_one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, name="hostile-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopped.set()
        thread.join(5)
        listener.close()


def trickle(
    body: bytes, *, headers_too: bool = False, interval: float = 1.0, content_type: str = "application/json"
) -> Behaviour:
    """A 200 answer, one byte every `interval` seconds (headers at once unless `headers_too`)."""
    head = _head(200, {"Content-Type": content_type, "Content-Length": str(len(body))})

    def behaviour(connection: socket.socket, server: HostileServer) -> None:
        if not headers_too:
            server.send(connection, head)
        for byte in (head if headers_too else b"") + body:
            if server.stopped.wait(interval):
                return
            server.send(connection, bytes([byte]))

    return behaviour


def endless(*, limit: int = 200 * MiB, chunk: int = 64 * 1024) -> Behaviour:
    """A 200 answer without a length that goes on (up to `limit` bytes) as fast as it is read."""

    def behaviour(connection: socket.socket, server: HostileServer) -> None:
        server.send(connection, _head(200, {"Content-Type": "application/json", "Connection": "close"}))
        server.send(connection, b'{"padding": "')
        while server.bytes_sent < limit and not server.stopped.is_set():
            server.send(connection, b"x" * chunk)

    return behaviour


def gzip_bomb(*, inflated: int = 100 * MiB) -> Behaviour:
    """A small gzip answer (sent although nobody asked for gzip) that inflates to `inflated` bytes."""
    body = gzip.compress(b"{" + b" " * inflated + b"}", compresslevel=9)

    def behaviour(connection: socket.socket, server: HostileServer) -> None:
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(body)),
        }
        server.send(connection, _head(200, headers) + body)

    return behaviour


def announced(length: int) -> Behaviour:
    """Announce a `length`-byte body, send a few bytes, then keep the connection open."""

    def behaviour(connection: socket.socket, server: HostileServer) -> None:
        server.send(
            connection, _head(200, {"Content-Type": "application/json", "Content-Length": str(length)})
        )
        server.send(connection, b"{")
        server.stopped.wait(30)

    return behaviour


def redirect(location: str) -> Behaviour:
    def behaviour(connection: socket.socket, server: HostileServer) -> None:
        server.send(connection, _head(302, {"Location": location, "Content-Length": "0"}))

    return behaviour


def _head(status: int, headers: dict[str, str]) -> bytes:
    reason = {200: "OK", 302: "Found"}.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_request(connection: socket.socket) -> None:
    """Read one request (head and a Content-Length body) so the client is done sending."""
    connection.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return
        body += chunk
    connection.settimeout(None)
