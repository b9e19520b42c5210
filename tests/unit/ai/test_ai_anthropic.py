"""Claude through the real SDK against a local fake of the Messages API (tests/fakes/anthropic_api.py)."""

import itertools
import time
from collections.abc import Iterator

import pytest

from postforge.ai.anthropic_provider import AnthropicGenerator
from postforge.ai.base import (
    Finished,
    GenerationError,
    GenerationRequest,
    MalformedOutput,
    Progress,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)
from postforge.ai.prompts import TOOL_NAME
from postforge.settings import load_settings
from tests.fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply, valid_post
from tests.fakes.hostile import MiB, endless, hostile_server, trickle
from tests.fakes.server import serve

REQUEST = GenerationRequest(
    topic="our spring launch",
    tone="Witty",
    language="en",
    platform="mastodon",
    platform_label="Mastodon",
    max_chars=500,
)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic()
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def fake(fake_server) -> FakeAnthropic:
    fake, _ = fake_server
    fake.requests.clear()
    return fake


@pytest.fixture
def claude(fake_server) -> AnthropicGenerator:
    _, url = fake_server
    settings = load_settings(
        anthropic_api_key="sk-test-key",
        anthropic_base_url=url,
        anthropic_model="claude-test-model",
        anthropic_max_tokens=900,
        anthropic_timeout_seconds=1.5,
    )
    return AnthropicGenerator(settings)


async def collect(claude: AnthropicGenerator) -> tuple[list[str], object]:
    texts, final = [], None
    async for event in claude.stream(REQUEST):
        if isinstance(event, Progress):
            texts.append(event.text)
        else:
            assert isinstance(event, Finished)
            final = event.post
    return texts, final


async def test_a_structured_reply_becomes_a_post(claude, fake):
    post = await claude.complete(REQUEST)
    assert post.content.startswith("Big news about our spring launch")
    assert post.hashtags == ("#Launch", "#Product", "#News", "#Today")
    assert (post.best_time, post.sample, post.model) == ("Tuesday 09:30", False, "claude-test-model")
    body = fake.requests[0].body
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert [tool["name"] for tool in body["tools"]] == [TOOL_NAME]
    assert (body["model"], body["max_tokens"], body.get("stream", False)) == ("claude-test-model", 900, False)
    assert "Witty" in body["system"] and "Mastodon" in body["system"]
    assert fake.requests[0].headers.get("authorization") == "Bearer sk-test-key"


async def test_a_streamed_reply_grows_the_preview_then_finishes(claude, fake):
    fake.script(Reply(chunk_size=5))
    texts, post = await collect(claude)
    assert fake.requests[0].body["stream"] is True
    assert len(texts) > 5  # the text arrived in pieces, read out of partial JSON
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert texts[-1] == post.content == valid_post("our spring launch")["content"]
    assert post.hashtags == ("#Launch", "#Product", "#News", "#Today")


async def test_a_text_block_before_the_tool_call_is_skipped(claude, fake):
    fake.script(Reply(text_first="Sure! Here is your post."))
    texts, post = await collect(claude)
    assert "Sure!" not in "".join(texts) and post.content.startswith("Big news")


async def test_a_429_is_not_waited_out_and_says_when_to_retry(claude, fake):
    fake.script(ErrorReply(429, "rate_limit_error", "Slow down", headers={"retry-after": "30"}))
    with pytest.raises(ProviderRateLimited) as failure:
        await collect(claude)
    assert failure.value.retry_after == 30 and "30 seconds" in failure.value.message
    assert len(fake.requests) == 1  # no retry: the user is told instead of a 30 s hang


async def test_a_short_429_is_retried_once_by_the_sdk(claude, fake):
    fake.script(ErrorReply(429, "rate_limit_error", headers={"retry-after": "0"}), Reply())
    _, post = await collect(claude)
    assert post.content and len(fake.requests) == 2


async def test_529_overloaded_is_retried_once_then_reported(claude, fake):
    fake.script(
        ErrorReply(529, "overloaded_error", "Overloaded", headers={"retry-after-ms": "10"}),
        ErrorReply(529, "overloaded_error", "Overloaded", headers={"retry-after-ms": "10"}),
    )
    with pytest.raises(ProviderOverloaded) as failure:
        await collect(claude)
    assert "overloaded" in failure.value.message
    assert len(fake.requests) == 2


async def test_an_error_event_mid_stream_is_an_interruption(claude, fake):
    fake.script(Reply(error_after_deltas=6))
    texts = []
    with pytest.raises(StreamInterrupted) as failure:
        async for event in claude.stream(REQUEST):
            texts.append(event)
    assert texts  # part of the post had arrived
    assert "stopped in the middle" in failure.value.message
    assert "overloaded_error" in failure.value.detail


async def test_a_tool_reply_missing_fields_keeps_its_text_and_lists_the_problems(claude, fake):
    fake.script(Reply(tool_input={"content": "Just text", "hashtags": ["#one"]}))
    _, post = await collect(claude)
    assert post.content == "Just text" and post.hashtags == ("#one",)
    assert [p.split(" ")[1] for p in post.problems] == ["gave", "best"]


async def test_broken_tool_json_is_malformed(claude, fake):
    fake.script(Reply(raw_json='{"content": "Hi", "hashtags": [}'))
    with pytest.raises(MalformedOutput):
        await collect(claude)


async def test_a_post_cut_off_by_max_tokens_is_kept_and_says_so(claude, fake):
    fake.script(Reply(stop_reason="max_tokens"))
    _, post = await collect(claude)
    assert post.content == valid_post("our spring launch")["content"]
    assert post.problems == ("the AI ran out of room before finishing the post",)


async def test_max_tokens_before_any_text_is_malformed(claude, fake):
    fake.script(Reply(tool_input={}, stop_reason="max_tokens"))
    with pytest.raises(MalformedOutput, match="ran out of room before writing"):
        await collect(claude)


async def test_a_post_over_the_platform_limit_is_kept_with_the_problem(claude, fake):
    fake.script(Reply(tool_input={**valid_post(), "content": "word " * 120}))
    _, post = await collect(claude)
    assert post.content == ("word " * 120).strip()
    assert post.problems == ("the post is 599 characters, over Mastodon's limit of 500",)


async def test_a_slow_server_times_out(claude, fake):
    fake.script(Reply(delay=3), Reply(delay=3))
    with pytest.raises(ProviderTimeout):
        await collect(claude)


async def test_a_refused_key_is_not_retryable(claude, fake):
    fake.script(ErrorReply(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(ProviderUnavailable) as failure:
        await collect(claude)
    assert "ANTHROPIC_API_KEY" in failure.value.message and not failure.value.retryable
    assert "invalid x-api-key" not in failure.value.message  # provider wording stays in the log detail


async def test_an_unreachable_service_is_reported():
    settings = load_settings(
        anthropic_api_key="sk-test", anthropic_base_url="http://127.0.0.1:9", anthropic_timeout_seconds=1
    )
    with pytest.raises(GenerationError) as failure:
        await collect(AnthropicGenerator(settings, max_retries=0))
    assert isinstance(failure.value, ProviderUnavailable | ProviderTimeout)


# --- the outbound policy: a total deadline and a size cap ------------------------------------------


def _claude_at(url: str) -> AnthropicGenerator:
    settings = load_settings(anthropic_api_key="sk-test", anthropic_base_url=url, anthropic_timeout_seconds=1)
    return AnthropicGenerator(settings, max_retries=0, streaming=False)


async def test_a_server_trickling_its_answer_is_given_up_at_the_deadline():
    message = b'{"type": "message", "padding": "' + b"p" * 60 + b'"}'  # half a minute at this pace
    with hostile_server(trickle(message, interval=0.5)) as server:
        started = time.monotonic()
        with pytest.raises(ProviderTimeout):
            await _claude_at(server.url).complete(REQUEST)
        assert time.monotonic() - started < 15


async def test_an_endless_answer_is_cut_off_at_the_size_cap():
    with hostile_server(endless(limit=50 * MiB)) as server:
        with pytest.raises(ProviderUnavailable):
            await _claude_at(server.url).complete(REQUEST)
        assert server.bytes_sent < 20 * MiB
