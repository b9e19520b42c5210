"""What one keystroke costs the live character counters, at the longest text that is still counted.

The post editor and the Generate page recount the text on every keystroke for each platform
shown. This measures, per platform, `rules.check_text` (the count and the problems: what the
composer computes for one selected account) on texts of
`MAX_TEXT_CHARS - 1000` characters: ordinary prose with links, mentions, hashtags and emoji, and
the hostile shapes the unit tests use (text built to make a backtracking pattern explode).

    .venv/bin/python bench/text_counting.py [--repeat 5] [--length 64000]

`--length 2000` measures what is still counted inline (`state/counting.py`'s INLINE_CHARS).

Prints the median and worst milliseconds per platform and shape, and the worst total over all
platforms (a composer with every platform selected).
"""

from __future__ import annotations

import argparse
import platform as host
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from postforge.models import Platform
from postforge.platforms import rules

LENGTH = rules.MAX_TEXT_CHARS - 1000  # changed by --length
PROSE = (
    "Launch day! Read https://example.com/blog/launch?ref=feed or example.org, "
    "thanks @alice@mastodon.social \U0001f389\U0001f468\u200d\U0001f469\u200d\U0001f467 "
    "#launch #SaaS 日本語のテキスト. "
)
SHAPES = {
    "prose": PROSE,
    "a.a.a…": "a.",
    "http:// repeated": "http://",
    "long domain label": "a",
    "@aaaa…": None,  # "@" + letters
    "#1111…": None,  # "#" + digits
    "many @": "@",
    "URLs with domains in queries": "http://a.com/?b.com ",
}


def text_of(shape: str, length: int) -> str:
    if shape == "@aaaa…":
        return "@" + "a" * (length - 1)
    if shape == "#1111…":
        return "#" + "1" * (length - 1)
    if shape == "long domain label":
        return "a" * (length - 4) + ".com"
    unit = SHAPES[shape]
    return (unit * (length // len(unit) + 1))[:length]


def keystroke(platform: Platform, text: str) -> None:
    rules.check_text(platform, text, media_count=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--length", type=int, default=LENGTH)
    args = parser.parse_args()
    print(
        f"# {host.python_implementation()} {host.python_version()}, {host.machine()}, {args.length:,} characters"
    )
    print(f"{'shape':30} {'platform':10} {'median ms':>10} {'worst ms':>10}")
    worst_total = 0.0
    for shape in SHAPES:
        text = text_of(shape, args.length)
        total = 0.0
        for platform in Platform:
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                keystroke(platform, text)
                times.append((time.perf_counter() - started) * 1000)
            total += max(times)
            print(f"{shape:30} {platform.value:10} {statistics.median(times):10.1f} {max(times):10.1f}")
        worst_total = max(worst_total, total)
        print(f"{shape:30} {'all':10} {'':>10} {total:10.1f}")
    print(f"worst keystroke with every platform selected: {worst_total:.1f} ms")


if __name__ == "__main__":
    main()
