"""``llm:anthropic``: the Messages API through the official ``anthropic`` SDK."""

from __future__ import annotations

import json
from typing import Any

import anthropic
from splice.server.oracles.llm.providers.base import (
    Finish,
    Provider,
    ProviderReply,
    ProviderRequest,
    malformed_reply,
    sdk_error,
)

_FINISH = {
    "end_turn": Finish.STOP, "stop_sequence": Finish.STOP, "max_tokens": Finish.LENGTH,
    "refusal": Finish.REFUSAL, "model_context_window_exceeded": Finish.CONTEXT,
}


class AnthropicProvider(Provider):
    """Claude through ``AsyncAnthropic(...).messages.create`` (non-streaming)."""

    name = "anthropic"

    def __init__(self, api_key: str, *, base_url: str | None = None,
                 connect_timeout_s: float = 10.0) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0,
            timeout=anthropic.Timeout(600.0, connect=connect_timeout_s))

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        kwargs: dict[str, Any] = {}
        if request.thinking_budget:
            # Extended thinking needs the default temperature.
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_budget}
        elif request.temperature is not None:
            kwargs["temperature"] = request.temperature
        try:
            message = await self._client.messages.create(
                model=request.model, max_tokens=request.max_tokens, system=request.system,
                messages=[{"role": "user", "content": request.user}],
                timeout=request.timeout_s, **kwargs)
        except anthropic.AnthropicError as exc:
            raise sdk_error(exc) from None
        except json.JSONDecodeError:
            raise malformed_reply() from None
        text = "".join(getattr(block, "text", "") for block in message.content
                       if getattr(block, "type", "") == "text")
        return ProviderReply(
            text=text, input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            finish=_FINISH.get(str(message.stop_reason), Finish.OTHER), model=message.model)

    async def aclose(self) -> None:
        await self._client.close()
