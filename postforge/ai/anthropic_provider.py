"""Claude through the official Anthropic SDK: one forced tool call, streamed for the live preview.

The post comes back as the input of the `emit_post` tool (`tool_choice` forces it), so its text,
hashtags and best time arrive as fields. While it streams, the tool input arrives as JSON
fragments; the text so far is read out of them with a partial-JSON parse, so the preview grows
as Claude writes. The finished input is checked (`validate_output`): a post whose text arrived is
kept with its problems listed, even when Claude ran out of tokens before finishing it.

Retries inside the SDK are kept low (the page offers "try again"), and a server asking for a long
wait is not waited for: the person is told when to try again instead. Every SDK error becomes a
`GenerationError` with a message fit to show. The SDK's timeout is per read, so the whole call is
bounded separately (`_deadline`), and its HTTP client follows the outbound policy: the same total
deadline on each request and a cap on the answer's size.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import jiter

from postforge import outbound
from postforge.ai.base import (
    Finished,
    GeneratedPost,
    GenerationError,
    GenerationEvent,
    GenerationRequest,
    MalformedOutput,
    Progress,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
    validate_output,
)
from postforge.ai.prompts import POST_TOOL, TOOL_NAME, system_prompt, user_prompt
from postforge.settings import Settings, get_settings

log = logging.getLogger(__name__)

NAME = "anthropic"
DEFAULT_MAX_RETRIES = 1
# A server asking us to wait longer than this is not retried inside the SDK: the user decides.
MAX_RETRY_WAIT_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 10.0
CUT_OFF = "the AI ran out of room before finishing the post"
# A streamed answer is one server-sent event per small delta: about a few hundred bytes a token.
ANSWER_BYTES_PER_TOKEN = 1024


class _InteractiveAnthropic(anthropic.AsyncAnthropic):
    """The SDK client, except that it never sleeps long on a `retry-after` before retrying."""

    def _should_retry(self, response: httpx2.Response) -> bool:
        wait = self._parse_retry_after_header(response.headers)
        if wait is not None and wait > MAX_RETRY_WAIT_SECONDS:
            return False
        return super()._should_retry(response)


def _retry_after(error: anthropic.APIStatusError) -> int | None:
    try:
        value = error.response.headers.get("retry-after")
        return max(1, round(float(value))) if value else None
    except (TypeError, ValueError, AttributeError):
        return None


def map_error(error: BaseException, *, started: bool) -> GenerationError:
    """The user-facing error for an SDK exception; `started`: some of the answer had arrived."""
    detail = f"{type(error).__name__}: {error}"[:1000]
    if isinstance(error, GenerationError):
        return error
    if isinstance(error, anthropic.APITimeoutError | TimeoutError):
        return StreamInterrupted(detail=detail) if started else ProviderTimeout(detail=detail)
    if isinstance(error, anthropic.APIConnectionError):
        if started:
            return StreamInterrupted(detail=detail)
        return ProviderUnavailable(detail=detail)
    if isinstance(error, anthropic.APIStatusError):
        kind = getattr(error, "type", None) or ""
        status = error.status_code
        if status == 200 or started:
            # An `event: error` inside a stream that had begun (the SDK reports the stream's 200).
            return StreamInterrupted(detail=f"{kind or 'error'}: {detail}")
        if status == 429 or kind == "rate_limit_error":
            return ProviderRateLimited(_retry_after(error), detail=detail)
        if status == 529 or kind == "overloaded_error":
            return ProviderOverloaded(detail=detail)
        if status in (401, 403):
            return ProviderUnavailable(
                "The AI service refused PostForge's API key. An administrator needs to check ANTHROPIC_API_KEY.",
                detail=detail,
                retryable=False,
            )
        if status == 404:
            return ProviderUnavailable(
                "The AI model configured for PostForge is not available. An administrator needs to check "
                "ANTHROPIC_MODEL.",
                detail=detail,
                retryable=False,
            )
        if status in (408, 504):
            return ProviderTimeout(detail=detail)
        if status >= 500:
            return ProviderUnavailable("The AI service had an internal error. Try again.", detail=detail)
        return ProviderUnavailable(
            "The AI service could not handle this request. Try rephrasing the topic.",
            detail=detail,
            retryable=False,
        )
    if isinstance(error, ValueError) and "tool parameter JSON" in str(error):
        return MalformedOutput("The AI returned a garbled post. Try again.", detail=detail)
    return ProviderUnavailable(detail=detail)


def _partial_content(buffer: bytes) -> str | None:
    """The `content` string so far from an incomplete JSON object, or None if not started."""
    try:
        parsed = jiter.from_json(buffer, partial_mode="trailing-strings")
    except ValueError:
        return None
    if isinstance(parsed, dict):
        value = parsed.get("content")
        return value if isinstance(value, str) else None
    return None


def _tool_input(message: Any) -> dict | None:
    """The input of the emit_post call, found by type and name (a text block may come first)."""
    for block in getattr(message, "content", None) or []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
            value = getattr(block, "input", None)
            return value if isinstance(value, dict) else None
    return None


class AnthropicGenerator:
    """Posts written by Claude."""

    name = NAME
    sample = False

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        streaming: bool = True,
    ) -> None:
        self.settings = settings or get_settings()
        self.max_retries = max_retries
        # False: one plain request, the post arriving whole (no live preview is needed, or a proxy
        # in between does not pass server-sent events).
        self.streaming = streaming

    @property
    def model(self) -> str:
        return self.settings.anthropic_model

    def _client(self) -> anthropic.AsyncAnthropic:
        timeout = self.settings.anthropic_timeout_seconds
        policy = outbound.policy_for(
            self.settings,
            user_named=False,
            deadline_seconds=self._deadline(),
            max_response_bytes=max(
                self.settings.outbound_max_response_bytes,
                self.settings.anthropic_max_tokens * ANSWER_BYTES_PER_TOKEN,
            ),
        )
        options = outbound.client_options(httpx2, policy, asynchronous=True)
        options["timeout"] = httpx2.Timeout(timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout))
        return _InteractiveAnthropic(
            api_key=self.settings.anthropic_api_key or None,
            base_url=self.settings.anthropic_base_url or None,
            max_retries=self.max_retries,
            timeout=options["timeout"],
            http_client=anthropic.DefaultAsyncHttpxClient(**options),
        )

    def _arguments(self, request: GenerationRequest) -> dict[str, Any]:
        return {
            "model": self.model,
            "max_tokens": self.settings.anthropic_max_tokens,
            "system": system_prompt(request),
            "messages": [{"role": "user", "content": user_prompt(request)}],
            "tools": [POST_TOOL],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        }

    def _deadline(self) -> float:
        """A bound on the whole call, retries included."""
        return self.settings.anthropic_timeout_seconds * (self.max_retries + 1) + MAX_RETRY_WAIT_SECONDS * 2

    def _finish(self, message: Any, request: GenerationRequest) -> GeneratedPost:
        cut_off = getattr(message, "stop_reason", None) == "max_tokens"
        data = _tool_input(message)
        try:
            if data is None:
                raise MalformedOutput(
                    "The AI answered without a post. Try again.", detail=repr(message)[:2000]
                )
            post = validate_output(data, request, sample=False, provider=NAME, model=self.model)
        except MalformedOutput as error:
            if cut_off:
                raise MalformedOutput(
                    "The AI ran out of room before writing the post. Try again or shorten the topic.",
                    detail=f"stop_reason=max_tokens usage={getattr(message, 'usage', None)}",
                ) from error
            raise
        if cut_off:
            post = dataclasses.replace(post, problems=(CUT_OFF, *post.problems))
        return post

    async def complete(self, request: GenerationRequest) -> GeneratedPost:
        """One non-streaming request (for callers without a live preview)."""
        try:
            async with asyncio.timeout(self._deadline()), self._client() as client:
                message = await client.messages.create(**self._arguments(request))
        except Exception as error:
            raise map_error(error, started=False) from error
        return self._finish(message, request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        if not self.streaming:
            post = await self.complete(request)
            yield Progress(post.content)
            yield Finished(post)
            return
        started = False
        tool_index: int | None = None
        buffer = b""
        shown = ""
        try:
            async with (
                asyncio.timeout(self._deadline()),
                self._client() as client,
                client.messages.stream(**self._arguments(request)) as stream,
            ):
                async for event in stream:
                    started = started or event.type != "message_start"
                    if event.type == "content_block_start":
                        block = event.content_block
                        is_tool = block.type == "tool_use" and getattr(block, "name", "") == TOOL_NAME
                        tool_index = event.index if is_tool else None
                    elif event.type == "input_json" and tool_index is not None:
                        buffer += event.partial_json.encode()
                        text = _partial_content(buffer)
                        if text is not None and text != shown:
                            shown = text
                            yield Progress(text)
                message = await stream.get_final_message()
        except GenerationError:
            raise
        except Exception as error:
            mapped = map_error(error, started=started)
            log.warning("Claude generation failed (%s): %s", mapped.kind, mapped.detail)
            raise mapped from error
        yield Finished(self._finish(message, request))
