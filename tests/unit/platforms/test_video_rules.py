"""YouTube's and TikTok's rules: video only (the composer warns about a text-only post), caption and
description limits, formats, sizes and durations."""

from __future__ import annotations

import pytest

from postforge.models import Platform
from postforge.platforms.base import MediaItem
from postforge.platforms.rules import check_text, rules_for, text_problems, youtube_title
from postforge.platforms.video_rules import video_problems


def video(**fields) -> MediaItem:
    values = {
        "url": "",
        "mime_type": "video/mp4",
        "size_bytes": 5_000_000,
        "width": 1080,
        "height": 1920,
        "duration_seconds": 30.0,
        "media_id": 7,
    }
    return MediaItem(**(values | fields))


@pytest.mark.parametrize(("platform", "label"), [("youtube", "YouTube"), ("tiktok", "TikTok")])
def test_a_text_only_post_is_refused_with_a_message_naming_the_video(platform, label):
    assert text_problems(platform, "Just words") == [
        f"{label} posts are videos: add one video (text-only posts can't go to {label})."
    ]
    assert text_problems(platform, "With a clip", media_count=1) == []


@pytest.mark.parametrize("platform", ["youtube", "tiktok"])
def test_one_video_per_post(platform):
    assert text_problems(platform, "Two clips", media_count=2) == [
        f"{rules_for(platform).label} allows at most 1 attachment; this post has 2."
    ]


def test_youtube_counts_the_description_in_bytes_and_refuses_angle_brackets():
    check = check_text(Platform.YOUTUBE, "é" * 2501, media_count=1)
    assert (check.count, check.max_chars, check.over) == (5002, 5000, True)
    assert text_problems("youtube", "Less <than> more", media_count=1) == [
        "YouTube doesn't allow < or > in a video's title or description; remove them."
    ]
    assert text_problems("youtube", "   ", media_count=1) == [
        "YouTube needs a title: write at least one line (it becomes the title)."
    ]


def test_tiktok_captions_take_2200_utf16_units():
    assert text_problems("tiktok", "a" * 2200, media_count=1) == []
    assert "Too long for TikTok: 2,201 of 2,200" in text_problems("tiktok", "a" * 2201, media_count=1)[0]


def test_a_youtube_title_is_the_first_line_cut_at_a_word():
    assert youtube_title("\n  Launch day!  \nMore words here") == "Launch day!"
    long = "word " * 40
    title = youtube_title(long)
    assert len(title) <= 100 and title.endswith("…") and title[:-1].endswith("word")


def test_a_fitting_video_passes_on_both():
    assert video_problems("youtube", [video()]) == []
    assert video_problems("tiktok", [video()]) == []


def test_images_and_several_files_are_refused():
    image = video(mime_type="image/jpeg")
    assert video_problems("youtube", [image]) == [
        "YouTube takes videos only; this post has an image. Attach a video instead."
    ]
    assert video_problems("tiktok", [video(), video(media_id=8)]) == [
        "TikTok takes one video per post; this post has 2 files."
    ]
    assert video_problems("tiktok", []) == ["TikTok posts are videos: add one video."]


def test_formats_sizes_durations_and_dimensions():
    assert video_problems("tiktok", [video(mime_type="video/x-msvideo")]) == [
        "TikTok doesn't take this video format (video/x-msvideo); it takes MP4, MOV or WebM."
    ]
    assert video_problems("youtube", [video(mime_type="video/x-msvideo")]) == []
    assert video_problems("tiktok", [video(size_bytes=5_000_000_000)]) == [
        "TikTok takes videos up to 4 GB; this one is 5 GB."
    ]
    assert video_problems("tiktok", [video(duration_seconds=2)]) == [
        "TikTok takes videos of at least 3 s; this one runs 2 s."
    ]
    assert video_problems("tiktok", [video(duration_seconds=200)], max_seconds=180) == [
        "TikTok takes videos up to 3 min for this account; this one runs 3 min 20 s."
    ]
    assert video_problems("youtube", [video(duration_seconds=13 * 3600)]) == [
        "YouTube takes videos up to 12 h for this account; this one runs 13 h."
    ]
    assert video_problems("tiktok", [video(width=200, height=300)]) == [
        "TikTok takes videos 360-4096 pixels on each side; this one is 200x300."
    ]
    assert video_problems("youtube", [video(size_bytes=0)]) == [
        "The video's size is unknown, so it can't be uploaded to YouTube."
    ]
