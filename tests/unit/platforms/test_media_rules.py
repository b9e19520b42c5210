"""Each platform's media rules: formats, counts, sizes, aspect ratios, durations, alt text, and
the safe fixes the checker offers (never applies)."""

from __future__ import annotations

import pytest

from postforge.models.social import Platform
from postforge.platforms.base import MediaItem
from postforge.platforms.media_rules import (
    MB,
    check_media,
    media_rules_for,
    problems_text,
    ratio_text,
)


def image(mime: str = "image/jpeg", size: int = 100_000, w: int = 1080, h: int = 1080, **kw) -> MediaItem:
    return MediaItem(url="https://cdn.example/i", mime_type=mime, size_bytes=size, width=w, height=h, **kw)


def video(size: int = 5 * MB, seconds: float = 30.0, w: int = 1080, h: int = 1920, **kw) -> MediaItem:
    return MediaItem(
        url="https://cdn.example/v",
        mime_type=kw.pop("mime", "video/mp4"),
        size_bytes=size,
        width=w,
        height=h,
        duration_seconds=seconds,
        **kw,
    )


def messages(platform: Platform, items) -> list[str]:
    return [problem.message for problem in check_media(platform, items)]


@pytest.mark.parametrize("platform", [p for p in Platform])
def test_no_media_and_one_ordinary_image_pass_everywhere(platform):
    assert check_media(platform, []) == []
    assert check_media(platform, [image(w=1080, h=1080, media_id=1)]) == []


@pytest.mark.parametrize("platform", [p for p in Platform if p is not Platform.SANDBOX])
def test_a_short_vertical_mp4_passes_everywhere(platform):
    assert messages(platform, [video(seconds=20, w=1080, h=1920)]) == []


def test_instagram_names_its_aspect_range_and_the_images_ratio():
    assert messages(Platform.INSTAGRAM, [image(w=1000, h=3000)]) == [
        "Instagram needs 4:5 to 1.91:1; this image is 1:3."
    ]
    assert messages(Platform.INSTAGRAM, [image(w=1080, h=1350)]) == []  # 4:5 exactly
    assert messages(Platform.INSTAGRAM, [image(w=1910, h=1000)]) == []  # 1.91:1 exactly
    assert "this image is 2:1" in messages(Platform.INSTAGRAM, [image(w=2000, h=1000)])[0]


def test_instagram_offers_to_convert_a_png_to_jpeg_without_doing_it():
    item = image("image/png", media_id=7)
    [problem] = check_media(Platform.INSTAGRAM, [item])
    assert problem.media_id == 7
    assert problem.message == "Instagram doesn't take PNG files (this image); it takes JPEG."
    assert problem.offer is not None and problem.offer.kind == "convert_to_jpeg"
    assert item.mime_type == "image/png"  # nothing was changed


def test_a_wrong_format_is_reported_with_the_images_other_problems():
    problems = messages(Platform.INSTAGRAM, [image("image/png", w=1000, h=3000, size=9 * MB)])
    assert problems == [
        "Instagram doesn't take PNG files (this image); it takes JPEG.",
        "Instagram takes images up to 8 MB; this image is 9 MB.",
        "Instagram needs 4:5 to 1.91:1; this image is 1:3.",
    ]
    assert messages(Platform.X, [MediaItem(url="https://cdn.example/f", mime_type="application/pdf")]) == [
        "X doesn't take application/pdf files (this file); it takes GIF, JPEG, MOV, MP4, PNG or WebP."
    ]


def test_a_format_without_a_safe_conversion_gets_no_offer():
    [problem] = check_media(Platform.INSTAGRAM, [image("image/gif")])
    assert problem.offer is None
    [problem] = check_media(Platform.X, [image("image/bmp")])
    assert problem.message.startswith("X doesn't take image/bmp files")


@pytest.mark.parametrize(
    ("platform", "cap"),
    [
        (Platform.X, 5 * MB),
        (Platform.LINKEDIN, 5 * MB),
        (Platform.BLUESKY, 2_000_000),
        (Platform.MASTODON, 16 * 1024 * 1024),
        (Platform.INSTAGRAM, 8 * MB),
        (Platform.THREADS, 8 * MB),
        (Platform.FACEBOOK, 10 * MB),
    ],
)
def test_an_oversized_image_is_refused_with_a_downscale_offer(platform, cap):
    assert check_media(platform, [image(size=cap)]) == []
    [problem] = check_media(platform, [image(size=cap + 1, media_id=3)])
    assert "images up to" in problem.message and "this image is" in problem.message
    assert problem.offer is not None and problem.offer.kind == "downscale" and problem.offer.max_bytes == cap


@pytest.mark.parametrize(
    ("platform", "cap"),
    [
        (Platform.X, 512 * MB),
        (Platform.LINKEDIN, 500 * MB),
        (Platform.BLUESKY, 50 * 1024 * 1024),
        (Platform.MASTODON, 99 * 1024 * 1024),
        (Platform.INSTAGRAM, 300 * MB),
        (Platform.THREADS, 1000 * MB),
        (Platform.FACEBOOK, 1000 * MB),
    ],
)
def test_an_oversized_video_is_refused_without_an_offer(platform, cap):
    assert check_media(platform, [video(size=cap, seconds=10)]) == []
    [problem] = check_media(platform, [video(size=cap + 1, seconds=10)])
    assert "videos up to" in problem.message and problem.offer is None


@pytest.mark.parametrize(
    ("platform", "most"),
    [
        (Platform.X, 4),
        (Platform.BLUESKY, 4),
        (Platform.MASTODON, 4),
        (Platform.INSTAGRAM, 10),
        (Platform.THREADS, 20),
        (Platform.LINKEDIN, 20),
        (Platform.FACEBOOK, 10),
    ],
)
def test_the_most_files_in_a_post(platform, most):
    assert check_media(platform, [image() for _ in range(most)]) == []
    problems = messages(platform, [image() for _ in range(most + 1)])
    assert problems == [
        f"{media_rules_for(platform).label} takes at most {most} files in a post; this one has {most + 1}."
    ]


@pytest.mark.parametrize(
    "platform", [Platform.X, Platform.BLUESKY, Platform.MASTODON, Platform.LINKEDIN, Platform.FACEBOOK]
)
def test_platforms_without_mixed_carousels_refuse_images_with_a_video(platform):
    assert "can't mix images and videos" in problems_text(check_media(platform, [image(), video(seconds=10)]))


@pytest.mark.parametrize("platform", [Platform.INSTAGRAM, Platform.THREADS])
def test_carousels_on_meta_mix_images_and_videos(platform):
    assert check_media(platform, [image(), video(seconds=10)]) == []


def test_two_videos_on_x_are_too_many():
    assert messages(Platform.X, [video(seconds=10), video(seconds=10)]) == [
        "X takes at most 1 video per post; this one has 2."
    ]


def test_video_aspect_ranges():
    assert messages(Platform.X, [video(w=400, h=1300, seconds=10)]) == [
        "X needs 1:3 to 3:1; this video is 4:13."
    ]
    assert messages(Platform.LINKEDIN, [video(w=1000, h=2500, seconds=10)]) == [
        "LinkedIn needs 1:2.4 to 2.4:1; this video is 2:5."
    ]
    assert messages(Platform.THREADS, [image(w=1100, h=100)]) == [
        "Threads needs 1:10 to 10:1; this image is 11:1."
    ]


@pytest.mark.parametrize(
    ("platform", "too_short", "too_long"),
    [
        (Platform.X, 0.4, 141),
        (Platform.LINKEDIN, 2.9, 30 * 60 + 1),
        (Platform.INSTAGRAM, 2, 15 * 60 + 1),
        (Platform.FACEBOOK, 0.5, 240 * 60 + 1),
    ],
)
def test_video_durations(platform, too_short, too_long):
    assert "runs" in messages(platform, [video(seconds=too_short)])[0]
    assert "runs" in messages(platform, [video(seconds=too_long)])[0]


def test_upper_only_durations_and_the_carousel_video_cap():
    assert messages(Platform.BLUESKY, [video(seconds=181)]) == [
        "Bluesky takes videos up to 3 min; this video runs 3 min 1 s."
    ]
    assert messages(Platform.THREADS, [video(seconds=301)]) == [
        "Threads takes videos up to 5 min; this video runs 5 min 1 s."
    ]
    assert messages(Platform.INSTAGRAM, [video(seconds=90)]) == []  # a reel
    assert messages(Platform.INSTAGRAM, [image(), video(seconds=90)]) == [
        "Instagram takes videos in a carousel from 3 s to 1 min; video 2 runs 1 min 30 s."
    ]


def test_unknown_dimensions_or_duration_are_not_guessed():
    item = MediaItem(url="https://cdn.example/v", mime_type="video/mp4", size_bytes=1000)
    assert check_media(Platform.INSTAGRAM, [item]) == []


@pytest.mark.parametrize(
    ("platform", "limit"),
    [
        (Platform.X, 1000),
        (Platform.BLUESKY, 2000),
        (Platform.MASTODON, 1500),
        (Platform.LINKEDIN, 4086),
        (Platform.INSTAGRAM, 1000),
        (Platform.THREADS, 1000),
        (Platform.FACEBOOK, 1000),
    ],
)
def test_alt_text_length(platform, limit):
    assert check_media(platform, [image(alt_text="a" * limit)]) == []
    [problem] = check_media(platform, [image(alt_text="a" * (limit + 1))])
    assert f"alt text up to {limit:,} characters" in problem.message


def test_alt_text_on_a_video_is_not_checked_where_the_platform_ignores_it():
    assert check_media(Platform.X, [video(seconds=10, alt_text="a" * 5000)]) == []
    assert check_media(Platform.MASTODON, [video(seconds=10, alt_text="a" * 5000)]) != []


def test_problems_name_the_file_by_its_position_in_a_carousel():
    problems = messages(Platform.INSTAGRAM, [image(), image(w=1000, h=3000)])
    assert problems == ["Instagram needs 4:5 to 1.91:1; image 2 is 1:3."]


@pytest.mark.parametrize(
    ("w", "h", "text"),
    [
        (1080, 1350, "4:5"),
        (1920, 1080, "16:9"),
        (1000, 3000, "1:3"),
        (1910, 1000, "1.91:1"),
        (1000, 2400, "5:12"),
        (1000, 2410, "1:2.41"),
    ],
)
def test_ratio_text(w, h, text):
    assert ratio_text(w, h) == text


def test_an_unknown_platform_is_an_error():
    with pytest.raises(ValueError, match="unknown platform"):
        check_media("myspace", [image()])


def test_a_platform_without_written_rules_is_left_to_its_adapter(monkeypatch):
    from postforge.platforms import media_rules

    monkeypatch.delitem(media_rules._RULES, Platform.SANDBOX)
    assert check_media(Platform.SANDBOX, [image("image/bmp")]) == []
