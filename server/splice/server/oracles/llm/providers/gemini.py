"""``llm:gemini``: ``generateContent`` through the official ``google-genai`` SDK."""

from __future__ import annotations

import json
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from splice.server.oracles.llm.providers.base import (
    ErrorKind,
    Finish,
    Provider,
    ProviderError,
    ProviderReply,
    ProviderRequest,
    classify_status,
    malformed_reply,
)

_FINISH = {"STOP": Finish.STOP, "MAX_TOKENS": Finish.LENGTH, "SAFETY": Finish.REFUSAL,
           "RECITATION": Finish.REFUSAL, "PROHIBITED_CONTENT": Finish.REFUSAL,
           "BLOCKLIST": Finish.REFUSAL, "SPII": Finish.REFUSAL}


def _headers(response: Any) -> dict[str, str]:
    headers = getattr(response, "headers", None)
    try:
        return {str(k): str(v) for k, v in dict(headers or {}).items()}
    except (TypeError, ValueError):
        return {}


class GeminiProvider(Provider):
    """``genai.Client(...).aio.models.generate_content`` (non-streaming)."""

    name = "gemini"

    def __init__(self, api_key: str, *, base_url: str | None = None,
                 api_version: str | None = None) -> None:
        self._client = genai.Client(api_key=api_key, http_options=genai_types.HttpOptions(
            base_url=base_url, api_version=api_version,
            # One attempt: we retry ourselves (this also turns off the SDK's implicit retry).
            retry_options=genai_types.HttpRetryOptions(attempts=1)))

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        config = genai_types.GenerateContentConfig(
            system_instruction=request.system, max_output_tokens=request.max_tokens,
            temperature=request.temperature,
            thinking_config=(genai_types.ThinkingConfig(thinking_budget=request.thinking_budget)
                             if request.thinking_budget is not None else None),
            http_options=genai_types.HttpOptions(timeout=int(request.timeout_s * 1000)),
        )
        try:
            response = await self._client.aio.models.generate_content(
                model=request.model, contents=request.user, config=config)
        except genai_errors.APIError as exc:
            raise classify_status(int(exc.code or 0), str(exc.message or exc.status or ""),
                                  _headers(exc.response)) from None
        except json.JSONDecodeError:
            raise malformed_reply() from None
        except TimeoutError:
            raise ProviderError(ErrorKind.TIMEOUT, "the request timed out") from None
        except OSError as exc:  # aiohttp's and httpx's connection errors derive from it
            raise ProviderError(ErrorKind.CONNECTION,
                                f"could not connect ({type(exc).__name__})") from None
        except Exception as exc:
            name = type(exc).__name__
            if "Timeout" in name:
                raise ProviderError(ErrorKind.TIMEOUT, "the request timed out") from None
            if "Connect" in name or "Disconnect" in name:
                raise ProviderError(ErrorKind.CONNECTION, f"could not connect ({name})") from None
            raise
        return _reply(response)

    async def aclose(self) -> None:
        await self._client.aio.aclose()


def _reply(response: genai_types.GenerateContentResponse) -> ProviderReply:
    usage = response.usage_metadata
    input_tokens = (usage.prompt_token_count or 0) if usage else 0
    # Thinking tokens are billed as output.
    output_tokens = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
                     if usage else 0)
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        return ProviderReply(text="", input_tokens=input_tokens, output_tokens=output_tokens,
                             finish=Finish.REFUSAL, model=response.model_version or "")
    candidate = response.candidates[0] if response.candidates else None
    parts = (candidate.content.parts if candidate and candidate.content else None) or []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    reason = candidate.finish_reason if candidate else None
    finish = _FINISH.get(getattr(reason, "name", str(reason or "")), Finish.OTHER)
    return ProviderReply(text=text, input_tokens=input_tokens, output_tokens=output_tokens,
                         finish=finish, model=response.model_version or "")
