"""The offline sample writer: deterministic, varied, fitted to the platform, streamed, labelled sample."""

import itertools

import pytest
import regex

from postforge.ai.base import (
    BEST_TIME_PATTERN,
    LANGUAGES,
    MAX_HASHTAGS,
    MIN_HASHTAGS,
    TONES,
    BrandContext,
    Finished,
    GenerationRequest,
    Progress,
    generate,
)
from postforge.ai.offline import OfflineGenerator, compose
from postforge.ai.registry import get_generator
from postforge.settings import load_settings


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def request(**fields) -> GenerationRequest:
    values = {
        "topic": "our new coffee roastery opening in Leipzig",
        "tone": "Casual",
        "language": "en",
        "platform": "sandbox",
        "platform_label": "Sandbox",
        "max_chars": 500,
        "count": graphemes,
    }
    return GenerationRequest(**{**values, **fields})


async def run(req: GenerationRequest) -> tuple[list[str], object]:
    texts, final = [], None
    async for event in OfflineGenerator(word_delay=0).stream(req):
        if isinstance(event, Progress):
            texts.append(event.text)
        else:
            assert isinstance(event, Finished)
            final = event.post
    return texts, final


async def test_the_same_inputs_give_the_same_post():
    first = await generate(OfflineGenerator(word_delay=0), request())
    second = await generate(OfflineGenerator(word_delay=0), request())
    assert first == second
    assert first.sample and first.provider == "offline"


def test_topic_tone_and_language_vary_the_post():
    posts = {
        compose(request(topic=topic, tone=tone, language=language))["content"]
        for topic in ("a spring sale on running shoes", "hiring two backend engineers")
        for tone in TONES
        for language in LANGUAGES
    }
    assert len(posts) == 2 * len(TONES) * len(LANGUAGES)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("tone", TONES)
async def test_every_tone_and_language_gives_a_valid_post(tone, language):
    post = await generate(OfflineGenerator(word_delay=0), request(tone=tone, language=language))
    assert post.content and "{topic}" not in post.content
    assert MIN_HASHTAGS <= len(post.hashtags) <= MAX_HASHTAGS
    assert all(tag.startswith("#") and " " not in tag for tag in post.hashtags)
    assert BEST_TIME_PATTERN.match(post.best_time)
    assert post.best_time_reason


def test_the_languages_read_differently():
    english = compose(request(language="en"))
    german = compose(request(language="de"))
    assert english["content"] != german["content"]
    assert english["best_time_reason"] != german["best_time_reason"]


async def test_a_long_topic_still_fits_a_short_platform():
    long_topic = "an extraordinarily detailed announcement " * 12
    post = await generate(
        OfflineGenerator(word_delay=0),
        request(topic=long_topic, platform="x", platform_label="X", max_chars=280),
    )
    assert graphemes(post.content) <= 280 - 60  # room is left for the hashtags line


async def test_the_text_streams_word_by_word_and_ends_with_the_full_post():
    texts, final = await run(request())
    assert len(texts) > 5
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert texts[-1] == final.content


async def test_a_brand_signs_the_post():
    post = await generate(OfflineGenerator(word_delay=0), request(brand=BrandContext(name="Bean There")))
    assert "Bean There" in post.content


def test_the_registry_uses_the_offline_writer_without_a_key_and_claude_with_one():
    assert get_generator(load_settings(anthropic_api_key="")).name == "offline"
    claude = get_generator(load_settings(anthropic_api_key="sk-test"))
    assert claude.name == "anthropic" and not claude.sample
