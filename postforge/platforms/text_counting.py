"""Counting text the way each platform counts it.

The primitives here are shared by the per-platform rules in `rules.py`:

* `x_weighted_length` — X's weighted length as twitter-text v3 defines it: the text is
  NFC-normalised; every URL (with or without `http(s)://`) counts 23; every emoji sequence
  (ZWJ family, flag, keycap, skin-toned, tag sequence…) counts 2 as one unit; every other code
  point weighs 1 inside the ranges 0-4351, 8192-8205, 8208-8223, 8242-8247 and 2 elsewhere
  (so CJK, Hangul and most symbols count 2).
* `graphemes` — user-perceived characters (Unicode extended grapheme clusters), what Bluesky
  and Mastodon count.
* `mastodon_length` — Mastodon's `StatusLengthValidator`: graphemes, where each `http(s)://`
  URL counts 23 and a remote mention `@user@domain` counts only `@user`.
* `utf16_length` — UTF-16 code units, what a JavaScript `String.length` counts (emoji and other
  characters beyond U+FFFF count 2).
* `threads_length` — graphemes, where an emoji counts its UTF-8 byte length (Threads' rule).

URL detection approximates twitter-text's `extractUrlsWithIndices`: a URL with a scheme may
have any alphabetic top-level domain; a bare domain needs a known top-level domain, must not
follow `@`, `#`, `$`, a letter or digit (so an email address is not a URL) or `-_./`, and a
bare `name.<country code>` with no path is not a link (as on X), except `.co` and `.tv`.
Trailing punctuation (`.`, `,`, `!`, an unbalanced `)`) is not part of a URL.

Every function here is linear in the length of the text, whatever the text: the live counters
run on every keystroke, so no pattern may backtrack over the whole text (no nested repetition of
overlapping character classes; runs are taken possessively and checked in Python). The callers
(`rules.TextRules.count`) still stop counting past `rules.MAX_TEXT_CHARS`.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import regex

URL_LENGTH = 23  # t.co / Mastodon placeholder length

# twitter-text v3 (config/v3.json): code points weighing 1 (scale 100, weight 100); the rest 2.
X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
X_DEFAULT_WEIGHT = 2
X_EMOJI_WEIGHT = 2

GENERIC_TLDS = [
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "name",
    "pro",
    "aero",
    "coop",
    "museum",
    "mobi",
    "asia",
    "tel",
    "travel",
    "jobs",
    "cat",
    "post",
    "app",
    "dev",
    "blog",
    "shop",
    "store",
    "online",
    "site",
    "tech",
    "xyz",
    "club",
    "design",
    "news",
    "live",
    "page",
    "cloud",
    "email",
    "space",
    "website",
    "agency",
    "studio",
    "media",
    "digital",
    "network",
    "social",
    "solutions",
    "world",
    "today",
    "life",
    "group",
    "company",
    "systems",
    "services",
    "academy",
    "center",
    "fun",
    "art",
    "games",
    "guru",
    "ninja",
    "rocks",
    "wiki",
    "zone",
    "global",
    "link",
    "click",
    "love",
    "photo",
    "pics",
    "team",
    "tips",
    "tools",
    "top",
    "vip",
    "work",
    "care",
    "city",
    "law",
    "legal",
    "money",
    "capital",
    "bank",
    "eco",
    "bio",
    "health",
    "run",
    "events",
    "berlin",
    "london",
    "nyc",
    "paris",
    "tokyo",
    "amsterdam",
    "wien",
    "hamburg",
    "africa",
    "lat",
    "one",
    "new",
    "moe",
]
COUNTRY_TLDS = [
    "ac",
    "ad",
    "ae",
    "af",
    "ag",
    "ai",
    "al",
    "am",
    "ao",
    "aq",
    "ar",
    "as",
    "at",
    "au",
    "aw",
    "ax",
    "az",
    "ba",
    "bb",
    "bd",
    "be",
    "bf",
    "bg",
    "bh",
    "bi",
    "bj",
    "bm",
    "bn",
    "bo",
    "br",
    "bs",
    "bt",
    "bw",
    "by",
    "bz",
    "ca",
    "cc",
    "cd",
    "cf",
    "cg",
    "ch",
    "ci",
    "ck",
    "cl",
    "cm",
    "cn",
    "co",
    "cr",
    "cu",
    "cv",
    "cw",
    "cx",
    "cy",
    "cz",
    "de",
    "dj",
    "dk",
    "dm",
    "do",
    "dz",
    "ec",
    "ee",
    "eg",
    "er",
    "es",
    "et",
    "eu",
    "fi",
    "fj",
    "fk",
    "fm",
    "fo",
    "fr",
    "ga",
    "gb",
    "gd",
    "ge",
    "gf",
    "gg",
    "gh",
    "gi",
    "gl",
    "gm",
    "gn",
    "gp",
    "gq",
    "gr",
    "gs",
    "gt",
    "gu",
    "gw",
    "gy",
    "hk",
    "hm",
    "hn",
    "hr",
    "ht",
    "hu",
    "id",
    "ie",
    "il",
    "im",
    "in",
    "io",
    "iq",
    "ir",
    "is",
    "it",
    "je",
    "jm",
    "jo",
    "jp",
    "ke",
    "kg",
    "kh",
    "ki",
    "km",
    "kn",
    "kp",
    "kr",
    "kw",
    "ky",
    "kz",
    "la",
    "lb",
    "lc",
    "li",
    "lk",
    "lr",
    "ls",
    "lt",
    "lu",
    "lv",
    "ly",
    "ma",
    "mc",
    "md",
    "me",
    "mg",
    "mh",
    "mk",
    "ml",
    "mm",
    "mn",
    "mo",
    "mp",
    "mq",
    "mr",
    "ms",
    "mt",
    "mu",
    "mv",
    "mw",
    "mx",
    "my",
    "mz",
    "na",
    "nc",
    "ne",
    "nf",
    "ng",
    "ni",
    "nl",
    "no",
    "np",
    "nr",
    "nu",
    "nz",
    "om",
    "pa",
    "pe",
    "pf",
    "pg",
    "ph",
    "pk",
    "pl",
    "pm",
    "pn",
    "pr",
    "ps",
    "pt",
    "pw",
    "py",
    "qa",
    "re",
    "ro",
    "rs",
    "ru",
    "rw",
    "sa",
    "sb",
    "sc",
    "sd",
    "se",
    "sg",
    "sh",
    "si",
    "sk",
    "sl",
    "sm",
    "sn",
    "so",
    "sr",
    "ss",
    "st",
    "su",
    "sv",
    "sx",
    "sy",
    "sz",
    "tc",
    "td",
    "tf",
    "tg",
    "th",
    "tj",
    "tk",
    "tl",
    "tm",
    "tn",
    "to",
    "tr",
    "tt",
    "tv",
    "tw",
    "tz",
    "ua",
    "ug",
    "uk",
    "us",
    "uy",
    "uz",
    "va",
    "vc",
    "ve",
    "vg",
    "vi",
    "vn",
    "vu",
    "wf",
    "ws",
    "ye",
    "yt",
    "za",
    "zm",
    "zw",
]
SPECIAL_SHORT_TLDS = {"co", "tv"}  # `name.co` and `name.tv` link even without a path

_TLDS = frozenset({*GENERIC_TLDS, *COUNTRY_TLDS})

# URLs are found in two linear steps, never by one pattern with nested repetition (which
# backtracks quadratically, or worse, over text like "a.a.a.a…"): a possessive pattern takes the
# whole run of host characters once, then `_domain_end` splits the run at its dots and keeps the
# longest prefix that is labels plus a top-level domain — what a backtracking pattern would find.
_SCHEME = regex.compile(r"(?<![A-Za-z0-9@\uFF20$#\uFF03\u202A-\u202E])https?://", regex.IGNORECASE)
_SCHEME_HOST = regex.compile(r"[\p{L}\p{N}_.-]*+")
# A bare domain starts a run of ASCII host characters that no letter, digit, @, $, #, ., _, / or -
# precedes (so neither an email address nor a hashtag is a link).
_BARE_HOST = regex.compile(r"(?<![A-Za-z0-9@\uFF20$#\uFF03\u202A-\u202E._/-])[A-Za-z0-9][A-Za-z0-9_.-]*+")
_AFTER_BARE_DOMAIN = regex.compile(r"[\p{L}\p{N}_@-]")  # a bare domain must not run on into these
_SCHEME_TLD = regex.compile(r"\p{L}{2,63}")
_PORT_AND_PATH = regex.compile(r"(?::\d{1,5})?(?:[/?#]\S*+)?")
# Characters a URL may end with; anything else at the end (.,;:!?'" and friends) is punctuation.
_URL_END = regex.compile(r"[\p{L}\p{N}=_#/+&~-]")

# One emoji as a unit: flags, keycaps, tag sequences (🏴 England), and sequences of pictographs
# joined by ZWJ, each optionally with a skin tone or emoji-presentation selector (U+FE0F).
_EMOJI_ELEMENT = (
    r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}"
    r"|\p{Extended_Pictographic}\uFE0F\p{Emoji_Modifier}?"
    r"|\p{Emoji_Presentation}\uFE0F?"
    r"|\p{Extended_Pictographic}(?=\u200D))"
)
_EMOJI = regex.compile(
    r"\p{Regional_Indicator}{2}"
    r"|[#*0-9]\uFE0F?\u20E3"
    r"|\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"
    r"|" + _EMOJI_ELEMENT + r"(?:\u200D\p{Extended_Pictographic}\uFE0F?\p{Emoji_Modifier}?)*"
)
_GRAPHEME = regex.compile(r"\X")
# Mastodon's mention: @user or @user@domain; only "@user" counts. The user part starts and ends
# with a letter, digit or _ (dots and dashes only inside); it is taken whole, possessively, so a
# long "@aaaa…" is read once instead of being split every possible way.
_MASTODON_MENTION = regex.compile(
    r"(?<![=/\w])@(?=[a-z0-9_])(?P<user>[a-z0-9_.-]++)(?<=[a-z0-9_])@\w++(?:[.-]++\w++)*+",
    regex.IGNORECASE,
)
# A hashtag: "#" and a run of letters, digits and _ holding at least one letter (digits and _
# before the first letter are taken possessively, so a long "#1111…" is read once).
_HASHTAG = regex.compile(r"(?<![\p{L}\p{N}_&])#[\p{N}_]*+\p{L}[\p{L}\p{N}_]*+")
# One code point X weighs X_DEFAULT_WEIGHT: anything outside X_LIGHT_RANGES.
_X_HEAVY = regex.compile("[^" + "".join(f"\\U{low:08X}-\\U{high:08X}" for low, high in X_LIGHT_RANGES) + "]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def _trim_url(text: str) -> str:
    """Drop trailing punctuation and an unbalanced closing parenthesis, as twitter-text does."""
    opening, closing = text.count("("), text.count(")")
    end = len(text)
    while end:
        last = text[end - 1]
        if last == ")":
            if opening >= closing:
                break
            closing -= 1
        elif _URL_END.fullmatch(last):
            break
        elif last == "(":
            opening -= 1
        end -= 1
    return text[:end]


def _domain_end(text: str, start: int, end: int, is_tld: Callable[[str], bool]) -> int:
    """Where the longest `label.label….tld` starting at `start` within `text[start:end]` ends; -1 if none.

    `text[start:end]` is a run of host characters (letters, digits, `_`, `-`, `.`). A label starts
    and ends with a letter or digit; the top-level domain is a whole dot-separated part.
    """
    found = -1
    position = start
    first = True
    while position <= end:
        dot = text.find(".", position, end)
        part_end = end if dot < 0 else dot
        part = text[position:part_end]
        if not first and is_tld(part):
            found = part_end
        if not part or part[0] in "_-" or part[-1] in "_-":
            break  # not a label: nothing further along can belong to this domain
        if dot < 0:
            break
        first = False
        position = dot + 1
    return found


def _is_scheme_tld(part: str) -> bool:
    return _SCHEME_TLD.fullmatch(part) is not None


def _is_bare_tld(part: str) -> bool:
    return part.lower() in _TLDS


def _scheme_urls(text: str) -> list[Span]:
    found: list[Span] = []
    position = 0
    while scheme := _SCHEME.search(text, position):
        host = _SCHEME_HOST.match(text, scheme.end())
        domain_end = _domain_end(text, host.start(), host.end(), _is_scheme_tld)
        if domain_end < 0:
            position = scheme.start() + 1
            continue
        end = _PORT_AND_PATH.match(text, domain_end).end()
        url = _trim_url(text[scheme.start() : end])
        found.append(Span(scheme.start(), scheme.start() + len(url), url))
        position = end
    return found


def _bare_urls(text: str, taken: list[Span]) -> list[Span]:
    found: list[Span] = []
    taken_starts = [span.start for span in taken]
    position = 0
    while host := _BARE_HOST.search(text, position):
        start = host.start()
        domain_end = _domain_end(text, start, host.end(), _is_bare_tld)
        if domain_end == host.end() and _AFTER_BARE_DOMAIN.match(text, domain_end):
            domain_end = _domain_end(text, start, text.rfind(".", start, domain_end), _is_bare_tld)
        if domain_end < 0:
            position = host.end()
            continue
        end = _PORT_AND_PATH.match(text, domain_end).end()
        position = end
        inside = bisect.bisect_right(taken_starts, start) - 1
        if inside >= 0 and start < taken[inside].end:
            continue  # part of a URL with a scheme
        domain, rest = text[start:domain_end], _trim_url(text[domain_end:end])
        tld = domain.rsplit(".", 1)[1].lower()
        path = rest.lstrip(":0123456789")
        one_label = domain.count(".") == 1
        if not path and one_label and tld in COUNTRY_TLDS and tld not in SPECIAL_SHORT_TLDS:
            continue  # "example.de" alone is not a link on X
        url = domain + rest
        found.append(Span(start, start + len(url), url))
    return found


def find_urls(text: str, *, bare: bool = True) -> list[Span]:
    """URLs in `text` as (start, end, url) spans, left to right, never overlapping.

    `bare=False` finds only URLs written with `http://` or `https://` (what Mastodon counts).
    Linear in the length of `text`.
    """
    found = _scheme_urls(text)
    if not bare:
        return found
    kept: list[Span] = []
    for span in sorted([*found, *_bare_urls(text, found)], key=lambda span: span.start):
        if not kept or span.start >= kept[-1].end:  # a scheme inside a bare URL's query is part of it
            kept.append(span)
    return kept


def find_emoji(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), m.group(0)) for m in _EMOJI.finditer(text)]


def _x_plain_weight(text: str, start: int, end: int) -> int:
    """X's weight of `text[start:end]`, a stretch with no URL: emoji count 2, code points 1 or 2."""
    total = 0
    position = start
    for emoji in _EMOJI.finditer(text, start, end):
        total += _x_code_point_weight(text[position : emoji.start()]) + X_EMOJI_WEIGHT
        position = emoji.end()
    return total + _x_code_point_weight(text[position:end])


def _x_code_point_weight(stretch: str) -> int:
    heavy = len(_X_HEAVY.findall(stretch))
    return len(stretch) - heavy + heavy * X_DEFAULT_WEIGHT


def x_weighted_length(text: str) -> int:
    """The length X shows and enforces (280 on a standard account)."""
    normalized = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for url in find_urls(normalized):
        total += _x_plain_weight(normalized, position, url.start) + URL_LENGTH
        position = url.end
    return total + _x_plain_weight(normalized, position, len(normalized))


def graphemes(text: str) -> int:
    """User-perceived characters: 👨‍👩‍👧‍👦 is 1, é written as e + U+0301 is 1."""
    if text.isascii():  # every ASCII character is a cluster of its own, except CR LF
        return len(text) - text.count("\r\n")
    return len(_GRAPHEME.findall(text))


def mastodon_length(text: str) -> int:
    """Mastodon's count: graphemes, each http(s) URL as 23, `@user@domain` as `@user`."""
    pieces: list[str] = []
    position = 0
    for span in find_urls(text, bare=False):
        pieces.append(text[position : span.start])
        pieces.append("x" * URL_LENGTH)
        position = span.end
    pieces.append(text[position:])
    countable = _MASTODON_MENTION.sub(lambda m: "@" + m.group("user"), "".join(pieces))
    return graphemes(countable)


def utf16_length(text: str) -> int:
    """UTF-16 code units (JavaScript's `String.length`)."""
    return len(text.encode("utf-16-le")) // 2


def threads_length(text: str) -> int:
    """Threads' count: characters, where an emoji counts as its number of UTF-8 bytes."""
    if text.isascii():  # no emoji (a keycap needs U+20E3)
        return graphemes(text)
    total = 0
    for cluster in _GRAPHEME.findall(text):
        total += len(cluster.encode("utf-8")) if _EMOJI.match(cluster) else 1
    return total


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def hashtags(text: str) -> list[str]:
    return _HASHTAG.findall(text)
