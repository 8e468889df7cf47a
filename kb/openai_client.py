"""The one module that owns the ``openai`` client (for embeddings now, chat models later)."""

from __future__ import annotations

from pydantic import SecretStr

from kb.errors import ConfigError


def make_client(base_url: str | None, api_key: SecretStr | None, timeout_s: float = 60.0) -> object:
    """An ``openai.OpenAI`` client for any OpenAI-compatible endpoint.

    A local server (vLLM, Ollama, llama.cpp) usually needs no key; a placeholder is sent then.
    """
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - openai is a core dependency
        raise ConfigError("the 'openai' package is not installed") from exc
    key = api_key.get_secret_value() if api_key else "not-needed"
    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=3)
