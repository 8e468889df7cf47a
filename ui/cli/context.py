"""What every command needs: settings, the store and the embedding model, built once, lazily."""

from __future__ import annotations

import argparse
import json
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import ValidationError

from kb.clients.openai_client import ChatModel
from kb.clients.store import Store, open_store
from kb.core.errors import ConfigError
from kb.core.settings import Settings
from kb.retrieval.embeddings import make_embedding, model_id
from kb.retrieval.search import Searcher, open_searcher


class Context:
    """Built by ``main`` from the global options; commands take what they need."""

    def __init__(self, args: argparse.Namespace) -> None:
        overrides: dict[str, Any] = {}
        if getattr(args, "data_dir", None):
            overrides["data_dir"] = Path(args.data_dir).expanduser()
        try:
            self.settings = Settings(**overrides)
        except ValidationError as exc:
            problems = "; ".join(f"KB_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"bad settings: {problems}") from exc
        self.json = bool(getattr(args, "json", False))
        self.no_llm = bool(getattr(args, "no_llm", False))

    @cached_property
    def embedding(self) -> BaseEmbedding:
        return make_embedding(self.settings)

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings, model_id(self.embedding))

    @cached_property
    def searcher(self) -> Searcher:
        return open_searcher(self.settings, self.store, self.embedding)

    @cached_property
    def llm(self) -> ChatModel | None:
        """The configured chat model, or None: no LLM configured, or ``--no-llm`` given."""
        if self.no_llm or not self.settings.llm_enabled:
            return None
        return ChatModel(self.settings)

    def print_json(self, data: Any) -> None:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")

    @property
    def interactive(self) -> bool:
        return sys.stderr.isatty()
