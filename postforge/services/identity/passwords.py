"""Password hashing with argon2id, and strong readable passwords for generated accounts.

argon2-cffi's defaults follow RFC 9106 (argon2id, 64 MiB, t=3, p=4); when they change in a
later release, `needs_rehash` tells the sign-in flow to store a fresh hash.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

_hasher = PasswordHasher()

# No look-alikes (0/o, 1/l/i), so a password read off a terminal is typed right the first time.
_READABLE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (salted; two calls never give the same string)."""
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches `password_hash`; False for a mismatch or a missing or malformed hash."""
    if not password_hash or not isinstance(password, str):
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (Argon2Error, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (or cannot be read at all)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (Argon2Error, InvalidHashError):
        return True


def generate_password(groups: int = 4, group_length: int = 5) -> str:
    """A random password like `k7mpx-4qa9t-rzw2h-n8bcd`: ~99 bits with the defaults, easy to read aloud."""
    if groups < 1 or group_length < 1:
        raise ValueError("groups and group_length must be at least 1")
    return "-".join(
        "".join(secrets.choice(_READABLE_ALPHABET) for _ in range(group_length)) for _ in range(groups)
    )
