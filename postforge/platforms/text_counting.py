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
"""

from __future__ import annotations

import unicodedata
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

_TLD_ALTERNATION = "|".join(sorted({*GENERIC_TLDS, *COUNTRY_TLDS}, key=len, reverse=True))
_PATH = r"(?:[/?#][^\s]*)?"
_PORT = r"(?::\d{1,5})?"
_SCHEME_URL = regex.compile(
    r"(?<![A-Za-z0-9@\uFF20$#\uFF03\u202A-\u202E])"
    r"https?://"
    r"(?:[\p{L}\p{N}](?:[\p{L}\p{N}_-]*[\p{L}\p{N}])?\.)+\p{L}{2,63}(?![\p{L}\p{N}_-])" + _PORT + _PATH,
    regex.IGNORECASE,
)
_BARE_URL = regex.compile(
    r"(?<![A-Za-z0-9@\uFF20$#\uFF03\u202A-\u202E._/-])"
    r"(?P<domain>(?:[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?\.)+(?P<tld>" + _TLD_ALTERNATION + r"))"
    r"(?![\p{L}\p{N}_@-])" + r"(?P<rest>" + _PORT + _PATH + ")",
    regex.IGNORECASE,
)
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
# Mastodon's mention: @user or @user@domain; only "@user" counts.
_MASTODON_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)@[\w]+(?:[.-]+[\w]+)*",
    regex.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def _trim_url(text: str) -> str:
    """Drop trailing punctuation and an unbalanced closing parenthesis, as twitter-text does."""
    while text:
        last = text[-1]
        if last == ")" and text.count("(") >= text.count(")"):
            break
        if last != ")" and _URL_END.fullmatch(last):
            break
        text = text[:-1]
    return text


def find_urls(text: str, *, bare: bool = True) -> list[Span]:
    """URLs in `text` as (start, end, url) spans, left to right, never overlapping.

    `bare=False` finds only URLs written with `http://` or `https://` (what Mastodon counts).
    """
    found: list[Span] = []
    for match in _SCHEME_URL.finditer(text):
        url = _trim_url(match.group(0))
        found.append(Span(match.start(), match.start() + len(url), url))
    if bare:
        taken = [(span.start, span.end) for span in found]
        for match in _BARE_URL.finditer(text):
            start = match.start()
            if any(a <= start < b for a, b in taken):
                continue
            domain, tld, rest = match.group("domain"), match.group("tld").lower(), match.group("rest")
            rest = _trim_url(rest) if rest else ""
            path = rest.lstrip(":0123456789")
            one_label = domain.count(".") == 1
            if not path and one_label and tld in COUNTRY_TLDS and tld not in SPECIAL_SHORT_TLDS:
                continue  # "example.de" alone is not a link on X
            url = domain + rest
            found.append(Span(start, start + len(url), url))
    return sorted(found, key=lambda span: span.start)


def find_emoji(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), m.group(0)) for m in _EMOJI.finditer(text)]


def _x_weight(code_point: int) -> int:
    for low, high in X_LIGHT_RANGES:
        if low <= code_point <= high:
            return 1
    return X_DEFAULT_WEIGHT


def x_weighted_length(text: str) -> int:
    """The length X shows and enforces (280 on a standard account)."""
    normalized = unicodedata.normalize("NFC", text)
    urls = {span.start: span for span in find_urls(normalized)}
    total = 0
    index = 0
    while index < len(normalized):
        if index in urls:
            total += URL_LENGTH
            index = urls[index].end
            continue
        emoji = _EMOJI.match(normalized, index)
        if emoji:
            total += X_EMOJI_WEIGHT
            index = emoji.end()
            continue
        total += _x_weight(ord(normalized[index]))
        index += 1
    return total


def graphemes(text: str) -> int:
    """User-perceived characters: 👨‍👩‍👧‍👦 is 1, é written as e + U+0301 is 1."""
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
    total = 0
    for cluster in _GRAPHEME.findall(text):
        total += len(cluster.encode("utf-8")) if _EMOJI.match(cluster) else 1
    return total


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def hashtags(text: str) -> list[str]:
    return regex.findall(r"(?<![\p{L}\p{N}_&])#[\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*", text)
