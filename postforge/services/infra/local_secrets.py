"""Secrets one install makes for itself: generated on first use, kept in a file under DATA_DIR.

For what a laptop must not be asked to configure (the embedded token key, the sandbox checkout's
webhook secret) but must never be derivable from anything public. Each file is created once,
readable by its owner only (0600); processes sharing the DATA_DIR (web, worker, beat) read the same
value, and two starting together keep whichever was written first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def stored_secret(data_dir: Path, name: str, generate: Callable[[], str]) -> str:
    """The secret kept in `data_dir / name`, made with `generate()` the first time it is asked for."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = generate()
    # O_EXCL: of two processes starting together, the second reads what the first wrote.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret
