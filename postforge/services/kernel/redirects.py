"""Where a sign-in may send the browser afterwards: a path on this site, never another site.

One rule for every door (the sign-in form, the OIDC round trip, the verification link), so an
open redirect cannot hide in one of them.
"""

from urllib.parse import urlsplit

DEFAULT_NEXT_PATH = "/dashboard"
MAX_NEXT_PATH_LENGTH = 512


def safe_next_path(next_path: str | None, *, default: str = DEFAULT_NEXT_PATH) -> str:
    """`next_path` when it is a path on this site; anything else (other hosts, `//evil`, `/\\evil`,
    control characters, junk) → `default`."""
    path = (next_path or "").strip() if isinstance(next_path, str) else ""
    if (
        not path.startswith("/")
        or path.startswith("//")
        # Browsers read "\" as "/" and drop tabs and newlines: "/\evil" and "/\t/evil" are //evil.
        or "\\" in path
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path)
    ):
        return default
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return default
    return path[:MAX_NEXT_PATH_LENGTH]
