"""One settings object, built once by a shell and passed down. Library code never reads os.environ.

Values come from (highest first) explicit arguments, ``KB_*`` environment variables, and a ``.env``
file in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """The per-user data directory (e.g. ~/.local/share/incident-kb)."""
    return Path(user_data_dir("incident-kb", appauthor=False))


def default_cache_dir() -> Path:
    """The per-user cache directory (e.g. ~/.cache/incident-kb)."""
    return Path(user_cache_dir("incident-kb", appauthor=False))


class Settings(BaseSettings):
    """Everything configurable, with the offline defaults."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Embedded store and state.")
    chroma_url: str | None = Field(default=None, description="Chroma server URL; embedded when unset.")
    collection_prefix: str = Field(default="kb", description="Prefix of the Chroma collection names.")

    embed_backend: Literal["onnx-minilm", "openai", "sentence-transformers"] = Field(
        default="onnx-minilm", description="Which embedding backend to use."
    )
    embed_model: str | None = Field(
        default=None, description="Model name (openai backend) or local model path (sentence-transformers)."
    )
    embed_base_url: str | None = Field(default=None, description="OpenAI-compatible embeddings endpoint.")
    embed_api_key: SecretStr | None = Field(default=None, description="API key for that endpoint.")
    embed_threads: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1), description="CPU threads for the local model."
    )
    embed_batch_size: int = Field(
        default=8, ge=1, description="Texts per embedding call (8 measured fastest and leanest on 2 cores)."
    )
    embed_cache: bool = Field(
        default=True, description="Keep the bundled model's vectors of labelled examples and classified texts on disk."
    )
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Where those vectors are kept.")

    redact: bool = Field(default=True, description="Replace secrets before anything is stored.")
    max_file_mb: float = Field(default=25.0, gt=0, description="Larger source files are refused.")
    chunk_tokens: int = Field(default=200, ge=32, description="Target chunk size in word-ish tokens.")
    lock_timeout_s: float = Field(default=30.0, ge=0, description="Wait this long for the write lock.")

    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."
    )
    llm_model: str | None = Field(default=None, description="Chat model name; no LLM is used when unset.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the chat endpoint (kept secret).")
    llm_timeout_s: float = Field(default=120.0, gt=0, description="Give up on one LLM request after this long.")
    llm_max_retries: int = Field(default=3, ge=0, description="Retries, with backoff, on 429, 5xx and timeouts.")

    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming webhook `kb serve` posts to; nothing is posted when unset."
    )
    pagerduty_webhook_secret: SecretStr | None = Field(
        default=None, description="PagerDuty v3 webhook subscription secret: deliveries must carry its signature."
    )
    serve_token: SecretStr | None = Field(
        default=None, description="Bearer token senders must present to `kb serve` (Alertmanager's http_config)."
    )
    ui_url: str | None = Field(
        default=None, description="Base address of the web UI (https://kb.example.com/) for links in messages."
    )
    serve_host: str = Field(default="127.0.0.1", description="Address `kb serve` listens on (this machine only).")
    serve_port: int = Field(default=8790, ge=0, le=65535, description="Port `kb serve` listens on.")
    serve_dedup_s: float = Field(
        default=4 * 3600.0, ge=0, description="An alert group is enriched once within this many seconds "
        "(Alertmanager's default repeat_interval is 4h)."
    )
    serve_queue: int = Field(default=100, ge=1, description="Alert groups waiting to be enriched; more get a 503.")
    slack_rate_per_s: float = Field(default=1.0, gt=0, description="At most this many Slack posts a second.")
    slack_max_attempts: int = Field(default=5, ge=1, description="Tries of one Slack post (network errors, 5xx, 429).")
    slack_timeout_s: float = Field(default=10.0, gt=0, description="Give up on one Slack request after this long.")

    @property
    def llm_enabled(self) -> bool:
        """An LLM is used only when a model is named (a base URL alone means the OpenAI default model)."""
        return bool(self.llm_model)

    @property
    def llm_label(self) -> str:
        """Which LLM is in use, for people; never includes the key."""
        if not self.llm_enabled:
            return "no LLM: extractive drafts"
        return f"{self.llm_model} at {self.llm_base_url or 'api.openai.com'}"

    @property
    def store_location(self) -> str:
        """Where the vectors live, for people."""
        return self.chroma_url or str(self.data_dir / "chroma")
