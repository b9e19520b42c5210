"""Who sent an HTTP request: the client's address behind the trusted reverse proxies."""

from starlette.requests import Request

from postforge.services.infra.client_address import client_ip


def request_client_ip(request: Request) -> str:
    """`services.infra.client_address.client_ip` for a Starlette request (every X-Forwarded-For line)."""
    peer = request.client.host if request.client else ""
    return client_ip(peer, request.headers.getlist("x-forwarded-for"))
