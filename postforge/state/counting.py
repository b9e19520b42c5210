"""Live character counts for the composers, off the event loop when the text is long.

Counting is linear, but a text near `rules.MAX_TEXT_CHARS` still costs tens of milliseconds per
platform (`bench/text_counting.py`, recorded in docs/benchmarks.md). The counters run on every
keystroke, and an event handler runs on the event loop every user of the process shares, so a
long text is counted in a worker thread; a short one (every real post) is counted inline, where
it costs a few milliseconds at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

INLINE_CHARS = 2_000  # a few milliseconds for all eight platforms together (bench/text_counting.py)

T = TypeVar("T")


async def count_off_loop(size: int, count: Callable[..., T], /, *args: object) -> T:
    """`count(*args)`, in a worker thread when the text it counts is longer than INLINE_CHARS."""
    if size <= INLINE_CHARS:
        return count(*args)
    return await asyncio.to_thread(count, *args)
