"""``llm:openai``: Chat Completions through the official ``openai`` SDK.

Reaches OpenAI and any OpenAI-compatible server (vLLM, sglang, a hosted API) via ``base_url``,
which is also how the policy serves as its own oracle.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from splice.server.oracles.llm.providers.base import (
    Finish,
    Provider,
    ProviderReply,
    ProviderRequest,
    malformed_reply,
    sdk_error,
)

_FINISH = {"stop": Finish.STOP, "length": Finish.LENGTH, "content_filter": Finish.REFUSAL}


class OpenAIProvider(Provider):
    """``AsyncOpenAI(...).chat.completions.create`` (non-streaming)."""

    name = "openai"

    def __init__(self, api_key: str, *, base_url: str | None = None,
                 connect_timeout_s: float = 10.0,
                 max_tokens_field: str = "max_completion_tokens") -> None:
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "EMPTY", base_url=base_url, max_retries=0,
            timeout=openai.Timeout(600.0, connect=connect_timeout_s))
        self._max_tokens_field = max_tokens_field

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        kwargs: dict[str, Any] = {self._max_tokens_field: request.max_tokens}
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.reasoning_effort:
            kwargs["reasoning_effort"] = request.reasoning_effort
        try:
            completion = await self._client.chat.completions.create(
                model=request.model, timeout=request.timeout_s,
                messages=[{"role": "system", "content": request.system},
                          {"role": "user", "content": request.user}], **kwargs)
        except openai.OpenAIError as exc:
            raise sdk_error(exc) from None
        except json.JSONDecodeError:
            raise malformed_reply() from None
        usage = completion.usage
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice else None
        finish = _FINISH.get(str(choice.finish_reason), Finish.OTHER) if choice else Finish.OTHER
        if message is not None and message.refusal:
            finish = Finish.REFUSAL
        return ProviderReply(
            text=(message.content or "") if message else "",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish=finish, model=completion.model)

    async def aclose(self) -> None:
        await self._client.close()
