"""Platform text rules: every count exactly as the platform counts it, at the limit and one over."""

import subprocess
import sys

import pytest

from postforge.models import Platform
from postforge.platforms import text_counting as tc
from postforge.platforms.rules import MAX_TEXT_CHARS, TextRules, rules_for, text_problems
from postforge.services.content import posts

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦 (7 code points)
FLAG_DE = "\U0001f1e9\U0001f1ea"  # 🇩🇪
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"  # 👍🏽
KEYCAP_ONE = "1\ufe0f\u20e3"  # 1️⃣
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # 🏴 tag sequence
WOMAN_RUNNING = "\U0001f3c3\u200d\u2640\ufe0f"  # 🏃‍♀️
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 🏳️‍🌈
GRIN = "\U0001f600"  # 😀
E_COMBINING = "e\u0301"  # é as e + combining acute (NFC composes it)
Q_TILDE = "q\u0303"  # no precomposed form: stays two code points
ZALGO = "a\u0300\u0301\u0302"  # one letter with three marks


# --- X (twitter-text v3) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("", 0),
        ("日本語", 6),  # CJK weighs 2
        ("한국어", 6),  # Hangul syllables weigh 2
        ("Привет", 6),  # Cyrillic is inside 0-4351
        ("नमस्ते", 6),  # Devanagari code points weigh 1 each (6 code points)
        ("\u2014", 1),  # em dash U+2014 = 8212, inside 8208-8223
        (GRIN, 2),
        (FAMILY, 2),  # a ZWJ family is one emoji
        (FLAG_DE, 2),
        (THUMBS_MEDIUM, 2),
        (KEYCAP_ONE, 2),
        (ENGLAND, 2),
        (WOMAN_RUNNING, 2),
        (RAINBOW_FLAG, 2),
        ("\u2600\ufe0f", 2),  # ☀️ emoji presentation
        ("\u00a9", 1),  # © as text: U+00A9 is inside 0-4351
        ("\u00a9\ufe0f", 2),  # ©️ as emoji
        (E_COMBINING, 1),  # NFC first: one code point
        (Q_TILDE, 2),  # two code points, both light
        (ZALGO, 3),  # NFC composes à; two marks remain
        ("\u2018quoted\u2019", 8),  # curly quotes are in 8208-8223
        ("\u2032", 1),  # prime, in 8242-8247
        ("\u2122", 2),  # ™ U+2122 lies outside the light ranges
    ],
)
def test_x_weights_characters_as_twitter_text_v3(text, expected):
    assert tc.x_weighted_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com", 23),
        ("http://example.com/a/very/long/path/that/goes/on/and/on?query=1&x=2#fragment", 23),
        ("https://example.com.", 24),  # the full stop is not part of the URL
        ("see example.com", 4 + 23),  # bare domain with a common TLD
        ("www.example.de", 23),  # a subdomain makes a ccTLD domain a link
        ("example.de", 10),  # a bare name.ccTLD without a path is not a link on X
        ("example.de/page", 23),  # ... but it is with a path
        ("example.co", 23),  # .co and .tv are the exceptions
        ("mail me at anna@example.com", 27),  # an email address is not a URL
        ("#example.com", 12),  # nor is a hashtag-like word
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", 25),  # balanced parens stay in, the last one doesn't
        ("https://example.com https://example.org", 23 + 1 + 23),
        ("https://例え.jp/パス", 23),  # Unicode domain and path
        ("https://localhost", 17),  # no top-level domain: not a link
        ("ftp://example.com", 17),  # only http(s) is a scheme, and a domain right after "/" is no link
    ],
)
def test_x_counts_every_url_as_23(text, expected):
    assert tc.x_weighted_length(text) == expected


def test_x_limit_exactly_at_and_one_over():
    rules = rules_for("x")
    assert rules.max_chars == 280
    assert text_problems("x", "a" * 280) == []
    assert text_problems("x", "a" * 281) == [
        "Too long for X: 281 of 280 weighted characters (1 over). Shorten it or write a version for X."
    ]
    assert text_problems("x", "日" * 140) == []
    assert text_problems("x", "日" * 140 + "a")  # 281
    assert text_problems("x", GRIN * 140) == []
    assert text_problems("x", FAMILY * 140) == []  # 980 code points, still 280
    assert text_problems("x", FAMILY * 141)
    url_post = ("https://example.com/" + "x" * 500 + " ") * 11 + "a" * 27  # 11 * 24 + 27 = 291
    assert tc.x_weighted_length(url_post) == 291
    at_limit = "a" * 256 + " https://example.com/" + "z" * 300
    assert tc.x_weighted_length(at_limit) == 280
    assert text_problems("x", at_limit) == []


# --- Bluesky -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        (FAMILY, 1),
        (FLAG_DE, 1),
        (THUMBS_MEDIUM, 1),
        (KEYCAP_ONE, 1),
        (ENGLAND, 1),
        (E_COMBINING, 1),
        (Q_TILDE, 1),
        (ZALGO, 1),
        ("日本語", 3),
        ("https://example.com", 19),  # Bluesky counts a URL's characters
        ("\r\n", 1),
    ],
)
def test_bluesky_counts_graphemes(text, expected):
    assert rules_for("bluesky").count(text) == expected


def test_bluesky_limit_and_byte_cap():
    assert text_problems("bluesky", "a" * 300) == []
    assert text_problems("bluesky", "a" * 301)
    assert text_problems("bluesky", FAMILY * 300) == [
        "Bluesky allows at most 3,000 bytes of text; this is 7,500."
    ]  # 300 graphemes but 25 bytes each
    assert text_problems("bluesky", Q_TILDE * 300) == []  # 300 graphemes, 900 bytes


# --- Mastodon ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("https://example.com/" + "x" * 100, 23),
        ("example.com", 11),  # Mastodon only shortens URLs with a scheme
        ("hi @alice@mastodon.social", 9),  # a remote mention counts as @alice
        ("hi @alice", 9),
        (FAMILY, 1),
        (E_COMBINING, 1),
        ("日本語", 3),
    ],
)
def test_mastodon_counts_graphemes_with_short_urls_and_mentions(text, expected):
    assert rules_for("mastodon").count(text) == expected


def test_mastodon_default_and_instance_limit():
    assert rules_for("mastodon").max_chars == 500
    assert text_problems("mastodon", "a" * 500) == []
    assert text_problems("mastodon", "a" * 501)
    assert rules_for("mastodon", instance_limit=5000).max_chars == 5000
    assert text_problems("mastodon", "a" * 4000, instance_limit=5000) == []
    assert text_problems("mastodon", "a" * 5001, instance_limit=5000)
    assert rules_for("mastodon", instance_limit=0).max_chars == 500  # unknown → default


# --- Threads, LinkedIn, Instagram, Facebook, sandbox ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        (GRIN, 4),  # an emoji counts its UTF-8 bytes
        (FAMILY, 25),
        (FLAG_DE, 8),
        (E_COMBINING, 1),
        ("日本語", 3),
    ],
)
def test_threads_counts_emoji_as_utf8_bytes(text, expected):
    assert rules_for("threads").count(text) == expected


def test_threads_limit_and_link_cap():
    assert text_problems("threads", "a" * 500) == []
    assert text_problems("threads", "a" * 496 + GRIN + "a")  # 501
    links = " ".join(f"https://example.com/{i}" for i in range(6))
    assert text_problems("threads", links) == ["Threads allows at most 5 links in a post; this has 6."]


@pytest.mark.parametrize(
    ("platform", "limit"), [("linkedin", 3000), ("instagram", 2200), ("facebook", 63206)]
)
def test_utf16_platforms_at_the_limit_and_one_over(platform, limit):
    media = 1 if platform == "instagram" else 0
    assert text_problems(platform, "a" * limit, media_count=media) == []
    assert text_problems(platform, "a" * (limit + 1), media_count=media)
    assert text_problems(platform, GRIN * (limit // 2), media_count=media) == []  # 2 units each
    assert text_problems(platform, GRIN * (limit // 2) + "a", media_count=media)
    assert rules_for(platform).count(E_COMBINING) == 2  # UTF-16 code units, not graphemes
    assert rules_for(platform).count("日本語") == 3


def test_instagram_needs_media_and_at_most_30_hashtags():
    assert text_problems("instagram", "Look at this") == ["Instagram posts need at least one image or video."]
    assert text_problems("instagram", "Look at this", media_count=1) == []
    tags = " ".join(f"#tag{i}" for i in range(31))
    assert text_problems("instagram", tags, media_count=1) == [
        "Instagram allows at most 30 hashtags; this has 31."
    ]
    assert text_problems("instagram", tags.rsplit(" ", 1)[0], media_count=1) == []


def test_sandbox_is_500_graphemes():
    assert rules_for(Platform.SANDBOX).max_chars == 500
    assert text_problems("sandbox", FAMILY * 500) == []
    assert text_problems("sandbox", "a" * 501)


@pytest.mark.parametrize(
    ("platform", "max_media", "requires_media"),
    [
        ("x", 4, False),
        ("bluesky", 4, False),
        ("mastodon", 4, False),
        ("linkedin", 20, False),
        ("threads", 20, False),
        ("instagram", 10, True),
        ("facebook", 10, False),
        ("sandbox", 4, False),
    ],
)
def test_media_counts(platform, max_media, requires_media):
    rules = rules_for(platform)
    assert (rules.max_media, rules.requires_media) == (max_media, requires_media)
    assert rules.max_media_note
    assert not any("attachments" in p for p in text_problems(platform, "hi", media_count=max_media))
    assert text_problems(platform, "hi", media_count=max_media + 1)[-1] == (
        f"{rules.label} allows at most {max_media} attachments; this post has {max_media + 1}."
    )


def test_every_platform_has_rules_and_unknown_ones_are_refused():
    for platform in Platform:
        rules = rules_for(platform)
        assert isinstance(rules, TextRules)
        assert rules.platform == platform.value
        assert rules_for(platform.value.upper()) == rules
    with pytest.raises(ValueError, match="unknown platform"):
        rules_for("myspace")


def test_empty_text_is_a_problem_unless_media_carries_the_post():
    assert text_problems("x", "   ") == ["Write something for X: the text is empty."]
    assert text_problems("x", "", media_count=1) == []


# --- Hostile input: counting stays linear and stops at the cap -----------------------------------

# Each shape once made a regular expression backtrack (or a loop rescan) over the whole text: the
# live counters run on every keystroke, so one pasted text must never stall the server.
ADVERSARIAL_SHAPES = {
    "dotted letters": "a." * 128_000,
    "dotted digits": "1." * 128_000,
    "scheme then dotted letters": "http://" + "a." * 128_000,
    "scheme repeated": "http://" * 36_000,
    "long domain label": "a" * 256_000 + ".com",
    "long label after a scheme": "https://" + "a-" * 128_000,
    "closing parentheses after a URL": "https://example.com/" + ")" * 256_000,
    "opening parentheses after a URL": "https://example.com/" + "(" * 256_000,
    "URLs with bare domains in their queries": "http://a.com/?b.com " * 12_800,
    "mention with no domain": "@" + "a" * 256_000,
    "mention with dotted user": " @" + "a." * 128_000 + "@",
    "many at signs": "@" * 256_000,
    "mentions back to back": "@a@b." * 51_200,
    "hashtag of digits": "#" + "1" * 256_000,
    "many hash signs": "#" * 256_000,
    "hashtags back to back": " #1_" * 64_000,
    "unfinished emoji tag sequence": "\U0001f3f4" + "\U000e0067" * 256_000,
}
BUDGET_SECONDS = 10  # the counts below take well under a second; the old regexes took minutes

_COUNT_EVERYTHING = """
import sys
from postforge.platforms import text_counting as tc
from postforge.platforms.rules import text_problems
from postforge.models import Platform
text = sys.stdin.read()
for count in (tc.x_weighted_length, tc.graphemes, tc.mastodon_length, tc.threads_length,
              tc.utf16_length, tc.find_urls, tc.find_emoji, tc.hashtags):
    count(text)
tc.find_urls(text, bare=False)
capped = text[:64_000]
for platform in Platform:
    text_problems(platform, capped, media_count=1)
"""


@pytest.mark.parametrize("shape", list(ADVERSARIAL_SHAPES))
def test_every_count_is_linear_on_hostile_text(shape):
    """Every primitive at 256k characters and every platform's check at 64k finish in a separate
    process within a budget that only a super-linear algorithm could overrun."""
    text = ADVERSARIAL_SHAPES[shape]
    assert len(text) >= 64_000
    try:
        done = subprocess.run(
            [sys.executable, "-c", _COUNT_EVERYTHING],
            input=text,
            text=True,
            encoding="utf-8",
            capture_output=True,
            timeout=BUDGET_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"counting {shape!r} ({len(text):,} characters) ran past {BUDGET_SECONDS} s")
    assert done.returncode == 0, done.stderr


def test_counting_stops_at_the_cap_and_says_too_long():
    """Past MAX_TEXT_CHARS no platform counts exactly (its length stands in) and every platform
    reports the text as too long, the same limit the posts service enforces on save."""
    text = "https://example.com/" + "x" * MAX_TEXT_CHARS
    message = f"Too long to post anywhere: at most {MAX_TEXT_CHARS:,} characters; this has {len(text):,}."
    for platform in Platform:
        assert rules_for(platform).count(text) == len(text)
        assert text_problems(platform, text, media_count=1) == [message]
    at_cap = "https://example.com/" + "x" * (MAX_TEXT_CHARS - 20)
    assert rules_for("x").count(at_cap) == 23  # at the cap the count is still exact
    assert posts.MAX_CONTENT_CHARS == MAX_TEXT_CHARS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://a.com/?b.com c.org", ["http://a.com/?b.com", "c.org"]),
        ("a.b.c.d.example.com.", ["a.b.c.d.example.com"]),
        ("http://example.com.evil", ["http://example.com.evil"]),
        ("http://a.com..b", ["http://a.com"]),
        ("see a.com.déjà", ["a.com"]),
        ("x.comé", []),
        ("-a.com _b.com", []),
        ("a-.com b_c.com", ["b_c.com"]),
        ("http://" + "a" * 64 + ".com", ["http://" + "a" * 64 + ".com"]),
        ("http://a." + "b" * 64, []),  # a 64-letter top-level domain is none
        ("http://http://a.com", ["http://a.com"]),
        ("go to example.com:8080/x now", ["example.com:8080/x"]),
        ("http://a.com/((x))))", ["http://a.com/((x))"]),
        ("see e.com?u=http://b.de now", ["e.com?u=http://b.de"]),  # spans never overlap
    ],
)
def test_url_edges(text, expected):
    assert [span.text for span in tc.find_urls(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@alice@mastodon.social", 6),
        ("@a.b-c_d@x.y-z.w", 8),
        ("@.alice@x.org", 13),  # a user part must start with a letter, digit or _
        ("@alice.@x.org", 13),  # ... and end with one
        ("a@alice@x.org", 13),  # no mention inside a word
        ("@@alice@x.org", 7),
    ],
)
def test_mastodon_mention_edges(text, expected):
    assert tc.mastodon_length(text) == expected


def test_hashtags_need_a_letter():
    assert tc.hashtags("#123 #1a #_b_ &#1x a#b #é1") == ["#1a", "#_b_", "#é1"]
