"""LLM oracle backends (``llm:anthropic``, ``llm:gemini``, ``llm:openai``) and ``cascade``."""
