"""A local fake LLM provider (aiohttp on 127.0.0.1:0) speaking three wire formats.

Anthropic Messages (``POST /v1/messages``), OpenAI Chat Completions (``POST
/v1/chat/completions``) and Gemini ``generateContent`` (``POST /{version}/models/{model}:
generateContent``). Each request takes the next scripted :class:`Act` (or the default), so
a test can make the provider answer 429 with ``retry-after``, 500, hang, send truncated JSON,
refuse, answer empty, or give a well-formed verdict. ``{marker}`` in an answer's text is
replaced by the marker found in the request's prompt, as a real oracle would copy it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_MARKER = re.compile(r"BEGIN VERDICT (V[0-9A-F]{16})|CATEGORY (V[0-9A-F]{16})")


@dataclass
class Act:
    """What the provider does with one request."""

    kind: str = "ok"
    """ok | status | hang | truncated_body | refusal | empty | context | length"""
    text: str = ""
    status: int = 200
    retry_after: float | None = None
    delay_s: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class Seen:
    """A request the provider received."""

    wire: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class FakeProvider:
    """The fake server; ``await start()`` returns its base URL."""

    default: Act = field(default_factory=Act)
    clock: Callable[[], float] = time.monotonic
    rpm: int | None = None
    window_s: float = 60.0
    script: deque[Act] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    rejected_429: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _stamps: deque[float] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    def then(self, *acts: Act) -> FakeProvider:
        """Queue acts for the next requests, in order."""
        self.script.extend(acts)
        return self

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/{version}/models/{call}", self._gemini)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- plumbing ---------------------------------------------------------------------

    async def _act(self, wire: str, request: web.Request) -> tuple[Act, dict[str, Any], str]:
        body = await request.json()
        now = self.clock()
        self.seen.append(Seen(wire, request.path, dict(request.headers), body, now))
        act = self.script.popleft() if self.script else self.default
        if self.rpm is not None:
            while self._stamps and self._stamps[0] <= now - self.window_s:
                self._stamps.popleft()
            if len(self._stamps) >= self.rpm:
                self.rejected_429 += 1
                return Act("status", status=429, retry_after=1.0), body, ""
            self._stamps.append(now)
        if act.kind == "hang":
            await asyncio.sleep(act.delay_s or 3600)
        elif act.delay_s:
            await asyncio.sleep(act.delay_s)
        prompt = json.dumps(body)
        found = _MARKER.search(prompt)
        marker = (found.group(1) or found.group(2)) if found else ""
        auth = " ".join(v for k, v in request.headers.items()
                        if k.lower() in ("x-api-key", "authorization", "x-goog-api-key"))
        return act, body, act.text.replace("{marker}", marker).replace("{auth}", auth)

    def _tokens(self, act: Act, body: dict[str, Any], text: str) -> tuple[int, int]:
        prompt_chars = len(json.dumps(body))
        return (act.input_tokens if act.input_tokens is not None else prompt_chars // 4,
                act.output_tokens if act.output_tokens is not None else len(text) // 4)

    @staticmethod
    def _error(status: int, payload: dict[str, Any], retry_after: float | None) -> web.Response:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        return web.json_response(payload, status=status, headers=headers)

    async def _guarded(self, wire: str, request: web.Request,
                       build: Callable[[Act, dict[str, Any], str], web.Response]) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            act, body, text = await self._act(wire, request)
            act = Act(**{**act.__dict__, "text": text})
            if act.kind == "truncated_body":
                return web.Response(status=200, content_type="application/json",
                                    text='{"id": "x", "content": [{"type": "te')
            return build(act, body, text)
        finally:
            self.in_flight -= 1

    # --- wire formats -----------------------------------------------------------------

    async def _anthropic(self, request: web.Request) -> web.Response:
        def build(act: Act, body: dict[str, Any], text: str) -> web.Response:
            if act.kind == "status":
                kind = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
                return self._error(act.status, {"type": "error", "error": {
                    "type": kind.get(act.status, "invalid_request_error"),
                    "message": act.text or f"status {act.status}"}}, act.retry_after)
            if act.kind == "context":
                return self._error(400, {"type": "error", "error": {
                    "type": "invalid_request_error",
                    "message": "prompt is too long: 250000 tokens > 200000 maximum"}}, None)
            stop = {"refusal": "refusal", "length": "max_tokens"}.get(act.kind, "end_turn")
            content = [] if act.kind in ("refusal", "empty") else [{"type": "text", "text": text}]
            tin, tout = self._tokens(act, body, text)
            return web.json_response({
                "id": "msg_fake", "type": "message", "role": "assistant",
                "model": body.get("model", ""), "content": content, "stop_reason": stop,
                "stop_sequence": None, "usage": {"input_tokens": tin, "output_tokens": tout}})
        return await self._guarded("anthropic", request, build)

    async def _openai(self, request: web.Request) -> web.Response:
        def build(act: Act, body: dict[str, Any], text: str) -> web.Response:
            if act.kind == "status":
                return self._error(act.status, {"error": {
                    "message": act.text or f"status {act.status}", "type": "error",
                    "code": str(act.status)}}, act.retry_after)
            if act.kind == "context":
                return self._error(400, {"error": {
                    "message": "This model's maximum context length is 32768 tokens.",
                    "type": "invalid_request_error", "code": "context_length_exceeded"}}, None)
            finish = {"refusal": "content_filter", "length": "length"}.get(act.kind, "stop")
            content = None if act.kind in ("refusal", "empty") else text
            tin, tout = self._tokens(act, body, text)
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                "model": body.get("model", ""),
                "choices": [{"index": 0, "finish_reason": finish, "message": {
                    "role": "assistant", "content": content,
                    "refusal": "I can't help with that." if act.kind == "refusal" else None}}],
                "usage": {"prompt_tokens": tin, "completion_tokens": tout,
                          "total_tokens": tin + tout}})
        return await self._guarded("openai", request, build)

    async def _gemini(self, request: web.Request) -> web.Response:
        model, _, method = request.match_info["call"].partition(":")

        def build(act: Act, body: dict[str, Any], text: str) -> web.Response:
            if method != "generateContent":
                return self._error(404, {"error": {"code": 404, "message": "no such method",
                                                   "status": "NOT_FOUND"}}, None)
            if act.kind == "status":
                status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
                return self._error(act.status, {"error": {
                    "code": act.status, "message": act.text or f"status {act.status}",
                    "status": status.get(act.status, "INVALID_ARGUMENT")}}, act.retry_after)
            if act.kind == "context":
                return self._error(400, {"error": {
                    "code": 400, "status": "INVALID_ARGUMENT", "message":
                    "The input token count (2000000) exceeds the maximum number of tokens "
                    "allowed (1048576)."}}, None)
            tin, tout = self._tokens(act, body, text)
            usage = {"promptTokenCount": tin, "candidatesTokenCount": tout,
                     "totalTokenCount": tin + tout}
            if act.kind == "refusal":
                return web.json_response({"promptFeedback": {"blockReason": "SAFETY"},
                                          "usageMetadata": usage, "modelVersion": model})
            finish = "MAX_TOKENS" if act.kind == "length" else "STOP"
            parts = [] if act.kind == "empty" else [{"text": text}]
            return web.json_response({
                "candidates": [{"content": {"role": "model", "parts": parts},
                                "finishReason": finish, "index": 0}],
                "usageMetadata": usage, "modelVersion": model})
        return await self._guarded("gemini", request, build)


def verdict(step: int, *replacements: tuple[int, str], category: str = "",
            log: str = "- Step 1: checked.\n") -> str:
    """An oracle answer with a verification log and a verdict block for ``{marker}``."""
    obj: dict[str, Any] = {"first_error_step": step, "error_summary": f"error at {step}",
                           "replacements": [{"location": loc, "content": c}
                                            for loc, c in replacements]}
    if category:
        obj["category"] = category
    return (f"Verification Log\n{log}\nCritical Error Report\n- ...\n\n"
            f"BEGIN VERDICT {{marker}}\n{json.dumps(obj)}\nEND VERDICT {{marker}}\n")
