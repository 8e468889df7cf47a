"""The one module that owns the ``openai`` package: the client for embeddings and for chat models.

``ChatModel`` asks any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server) for a reply
in the shape of a pydantic model:

- structured output first (``response_format`` with the model's JSON schema); a server that rejects
  it (400 or 422, or any status whose error names ``response_format``: llama-cpp-python's server answers
  500 to a ``json_schema`` type) is asked again with the schema in the prompt, and remembered as not
  supporting it;
- a reply that is not valid JSON for the schema is sent back once with the parse error; a second bad
  reply is ``LLMBadOutput``;
- the ``openai`` client retries 429, 5xx, timeouts and connection errors with exponential backoff
  (``KB_LLM_MAX_RETRIES``, honouring ``Retry-After``); what still fails becomes ``LLMUnavailable``
  or ``LLMModelUnknown`` with the server's URL, never the key;
- ``on_text`` receives the reply as it streams, for a UI to show progress.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from kb.core.errors import ConfigError, LLMBadOutput, LLMError, LLMModelUnknown, LLMUnavailable
from kb.core.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


def make_client(
    base_url: str | None, api_key: SecretStr | None, timeout_s: float = 60.0, max_retries: int = 3
) -> Any:
    """An ``openai.OpenAI`` client for any OpenAI-compatible endpoint.

    A local server (vLLM, Ollama, llama.cpp) usually needs no key; a placeholder is sent then.
    """
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - openai is a core dependency
        raise ConfigError("the 'openai' package is not installed") from exc
    key = api_key.get_secret_value() if api_key else "not-needed"
    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=max_retries)


def _json_in(text: str) -> Any:
    """The JSON object in a reply: the whole reply, a fenced block, or the outermost braces."""
    stripped = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", stripped, re.S)
    candidates = [stripped]
    if fenced:
        candidates.append(fenced.group(1))
    if "{" in stripped and "}" in stripped:
        candidates.append(stripped[stripped.index("{") : stripped.rindex("}") + 1])
    last: Exception | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            last = exc
    raise ValueError(f"not JSON ({last})")


class ChatModel:
    """A chat model behind an OpenAI-compatible endpoint, asked for structured replies."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        if not settings.llm_model:
            raise ConfigError("no LLM configured: set KB_LLM_MODEL (and KB_LLM_BASE_URL for a local server)")
        self.model = settings.llm_model
        self.base_url = settings.llm_base_url or "https://api.openai.com/v1"
        self.client = client or make_client(
            settings.llm_base_url, settings.llm_api_key, settings.llm_timeout_s, settings.llm_max_retries
        )
        self.schema_supported = True

    @property
    def label(self) -> str:
        return f"{self.model} at {self.base_url}"

    def structured(
        self, system: str, user: str, schema: type[T], on_text: Callable[[str], None] | None = None
    ) -> T:
        """The model's reply to ``system`` + ``user``, validated as ``schema``."""
        messages: list[dict[str, str]] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        reply = self._complete(messages, schema, on_text)
        try:
            return self._parse(reply, schema)
        except ValueError as first:
            log.info("LLM reply was not valid %s; asking once more: %s", schema.__name__, first)
            messages += [
                {"role": "assistant", "content": reply[:4000]},
                {
                    "role": "user",
                    "content": f"That reply was not valid JSON for the schema ({first}). "
                    "Reply again with only the JSON object.",
                },
            ]
            reply = self._complete(messages, schema, on_text)
            try:
                return self._parse(reply, schema)
            except ValueError as second:
                raise LLMBadOutput(
                    f"the model {self.model} did not return valid JSON for {schema.__name__} twice: {second}"
                ) from second

    @staticmethod
    def _parse(reply: str, schema: type[T]) -> T:
        try:
            return schema.model_validate(_json_in(reply))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            raise ValueError(problems) from exc

    def _complete(
        self, messages: list[dict[str, str]], schema: type[BaseModel], on_text: Callable[[str], None] | None
    ) -> str:
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0}
        if self.schema_supported:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
            }
        try:
            try:
                return self._call(kwargs, on_text)
            except openai.APIStatusError as exc:
                if "response_format" not in kwargs or not _rejects_structured_output(exc):
                    raise
                log.info("server rejected structured output (%s); falling back to JSON in text", exc.status_code)
                self.schema_supported = False
                kwargs.pop("response_format")
                return self._call(kwargs, on_text)
        except openai.APITimeoutError as exc:
            raise LLMUnavailable(f"the LLM at {self.base_url} did not answer in time") from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailable(f"cannot reach the LLM at {self.base_url}: {exc.__cause__ or exc}") from exc
        except openai.NotFoundError as exc:
            raise LLMModelUnknown(f"the LLM server at {self.base_url} does not know the model '{self.model}'") from exc
        except openai.AuthenticationError as exc:
            raise LLMError(f"the LLM server at {self.base_url} rejected the API key (KB_LLM_API_KEY)") from exc
        except openai.RateLimitError as exc:
            raise LLMUnavailable(f"the LLM at {self.base_url} is still rate-limiting after retries") from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"the LLM at {self.base_url} answered HTTP {exc.status_code}: {_message(exc)}") from exc

    def _call(self, kwargs: dict[str, Any], on_text: Callable[[str], None] | None) -> str:
        if on_text is None:
            response = self.client.chat.completions.create(**kwargs)
            if not response.choices:
                raise LLMBadOutput(f"the LLM at {self.base_url} returned no choices")
            return str(response.choices[0].message.content or "")
        parts: list[str] = []
        for event in self.client.chat.completions.create(**kwargs, stream=True):
            if not event.choices:
                continue
            delta = event.choices[0].delta.content or ""
            if delta:
                parts.append(delta)
                on_text(delta)
        return "".join(parts)


def _rejects_structured_output(exc: Any) -> bool:
    """Whether an error answer to a request carrying ``response_format`` rejects that field: a 400 or 422, or
    an error of any status that names the field (a server validating the request body and failing with 500)."""
    return exc.status_code in (400, 422) or "response_format" in _message(exc)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", "") or exc)[:300]
