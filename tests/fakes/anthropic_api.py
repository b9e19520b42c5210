"""A local fake of the Anthropic Messages API (`POST /v1/messages`) for the real SDK to talk to.

    fake = FakeAnthropic()
    fake.script(StreamedReply(tool_input={...}), ErrorReply(429, "rate_limit_error", headers=...))
    with serve(fake.app) as base_url:
        ...  # AsyncAnthropic(base_url=base_url, api_key="test")

Each request takes the next scripted reply (a valid post when the script is empty) and is
recorded (`fake.requests`). Both wire forms are spoken as the SDK expects them: a JSON message
for `"stream": false`, and for `"stream": true` server-sent events in the real order
(message_start, content_block_start, content_block_delta…, content_block_stop, message_delta,
message_stop), each with its mandatory `event:` line. An `event: error` can be sent mid-stream.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

TOOL_NAME = "emit_post"
_ids = itertools.count(1)


def valid_post(topic: str = "our launch") -> dict[str, Any]:
    return {
        "content": f"Big news about {topic}: we built it for you, and it is ready today.",
        "hashtags": ["#Launch", "#Product", "#News", "#Today"],
        "best_time": "Tuesday 09:30",
        "best_time_reason": "Your audience checks the news before work.",
    }


@dataclass
class Reply:
    """A successful answer: one emit_post tool call (its input as given, or a valid post)."""

    tool_input: dict[str, Any] | None = None
    raw_json: str | None = None  # the tool input exactly as sent (e.g. broken JSON)
    text_first: str = ""  # a text block before the tool call
    stop_reason: str = "tool_use"
    chunk_size: int = 7  # partial_json fragment length when streamed
    chunk_delay: float = 0.0  # seconds between streamed fragments
    delay: float = 0.0  # seconds before answering at all
    # Mid-stream failure: after this many input_json deltas, an `event: error` ends the stream.
    error_after_deltas: int | None = None
    error_type: str = "overloaded_error"
    error_message: str = "Overloaded"
    # A stalled stream: after this many input_json deltas, silence for `pause_seconds`.
    pause_after_deltas: int | None = None
    pause_seconds: float = 0.0


@dataclass
class ErrorReply:
    status: int
    error_type: str
    message: str = "error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]


class FakeAnthropic:
    def __init__(self) -> None:
        self._script: deque[Reply | ErrorReply] = deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    def script(self, *replies: Reply | ErrorReply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _next(self) -> Reply | ErrorReply:
        with self._lock:
            return self._script.popleft() if self._script else Reply()

    async def _messages(self, request: Request) -> Response:
        body = await request.json()
        if not (request.headers.get("authorization") or request.headers.get("x-api-key")):
            return _error(ErrorReply(401, "authentication_error", "missing API key"))
        with self._lock:
            self.requests.append(Recorded(body=body, headers=dict(request.headers)))
        reply = self._next()
        if isinstance(reply, ErrorReply):
            return _error(reply)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        tool_json = _tool_json(reply, body)
        if body.get("stream"):
            return StreamingResponse(
                _events(reply, body, tool_json),
                media_type="text/event-stream",
                headers={"request-id": f"req_fake_{next(_ids)}", "cache-control": "no-cache"},
            )
        return JSONResponse(
            _message(reply, body, tool_json), headers={"request-id": f"req_fake_{next(_ids)}"}
        )


def _topic(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        found = re.search(r"Topic: (.+)", text)
        if found:
            return found.group(1).strip()
    return "our launch"


def _tool_json(reply: Reply, body: dict[str, Any]) -> str:
    if reply.raw_json is not None:
        return reply.raw_json
    return json.dumps(reply.tool_input if reply.tool_input is not None else valid_post(_topic(body)))


def _error(reply: ErrorReply) -> Response:
    return JSONResponse(
        {"type": "error", "error": {"type": reply.error_type, "message": reply.message}},
        status_code=reply.status,
        headers={"request-id": f"req_fake_{next(_ids)}", **reply.headers},
    )


def _base_message(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"msg_fake_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-test"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 42, "output_tokens": 1},
    }


def _message(reply: Reply, body: dict[str, Any], tool_json: str) -> dict[str, Any]:
    message = _base_message(body)
    if reply.text_first:
        message["content"].append({"type": "text", "text": reply.text_first})
    message["content"].append(
        {
            "type": "tool_use",
            "id": f"toolu_fake_{next(_ids)}",
            "name": TOOL_NAME,
            "input": json.loads(tool_json),
        }
    )
    message["stop_reason"] = reply.stop_reason
    message["usage"]["output_tokens"] = len(tool_json) // 4
    return message


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def _events(reply: Reply, body: dict[str, Any], tool_json: str):
    yield _sse("message_start", {"type": "message_start", "message": _base_message(body)})
    yield _sse("ping", {"type": "ping"})
    index = 0
    if reply.text_first:
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
        for start in range(0, len(reply.text_first), 10):
            delta = {"type": "text_delta", "text": reply.text_first[start : start + 10]}
            yield _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1
    block = {"type": "tool_use", "id": f"toolu_fake_{next(_ids)}", "name": TOOL_NAME, "input": {}}
    yield _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
    for number, start in enumerate(range(0, len(tool_json), reply.chunk_size)):
        if reply.error_after_deltas is not None and number >= reply.error_after_deltas:
            error = {"type": reply.error_type, "message": reply.error_message}
            yield _sse("error", {"type": "error", "error": error})
            return
        if number == reply.pause_after_deltas:
            await asyncio.sleep(reply.pause_seconds)
        delta = {"type": "input_json_delta", "partial_json": tool_json[start : start + reply.chunk_size]}
        yield _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        if reply.chunk_delay:
            await asyncio.sleep(reply.chunk_delay)
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": len(tool_json) // 4},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})
