"""Signed links for the embedded media store, served by the app's own backend.

A link carries what it allows (which file, how many bytes, until when) in its token, signed with
SECRET_KEY, so the route that serves it needs no database and no session: whoever holds the link
may do exactly that one thing until it expires — as with an S3 presigned URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from postforge.services.kernel.errors import PermissionDenied

EXPIRED = "This link has expired. Start the upload again."
INVALID = "This link is not valid."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    # A purpose prefix keeps these tokens from being valid anywhere else the secret signs things.
    return _b64(hmac.new(secret.encode(), f"media-link.{body}".encode(), hashlib.sha256).digest())


def sign(secret: str, claims: dict[str, Any], *, expires_in: float, now: float | None = None) -> str:
    payload = {**claims, "exp": int((now if now is not None else time.time()) + expires_in)}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(secret, body)}"


def verify(secret: str, token: str, *, purpose: str, now: float | None = None) -> dict[str, Any]:
    """The claims of a valid, unexpired token made for `purpose`; PermissionDenied otherwise."""
    body, _, mac = token.partition(".")
    if not body or not mac or not hmac.compare_digest(mac, _mac(secret, body)):
        raise PermissionDenied(INVALID)
    try:
        claims = json.loads(_unb64(body))
    except ValueError:
        raise PermissionDenied(INVALID) from None
    if not isinstance(claims, dict) or claims.get("use") != purpose:
        raise PermissionDenied(INVALID)
    if float(claims.get("exp", 0)) < (now if now is not None else time.time()):
        raise PermissionDenied(EXPIRED)
    return claims
