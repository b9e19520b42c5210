"""Run an ASGI app (a fake provider) with uvicorn in a thread on 127.0.0.1 and a free port.

    with serve(app) as base_url:
        ...  # talk HTTP to base_url; the server stops when the block ends

Start-up and shut-down are bounded: a server that does not come up within `startup_timeout`
raises, one that does not stop within `shutdown_timeout` is forced down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve(
    app: object,
    *,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (port chosen by the OS) and yield its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-server", daemon=True)
    thread.start()
    try:
        _wait_until_started(server, thread, startup_timeout)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(server, thread, shutdown_timeout)


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake server exited before it started (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the fake server did not start within {timeout:g} s")
        time.sleep(0.01)


def _stop(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    server.should_exit = True
    thread.join(timeout)
    if thread.is_alive():
        # Open keep-alive connections can hold a graceful shutdown; cut them.
        server.force_exit = True
        thread.join(timeout)
    if thread.is_alive():
        raise RuntimeError(f"the fake server did not stop within {2 * timeout:g} s")
