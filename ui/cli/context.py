"""What every command needs: the settings and the knowledge base, opened once, each part on first use."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kb.core.errors import ConfigError
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase, open_kb


class Context:
    """Built by ``main`` from the global options; commands take what they need."""

    def __init__(self, args: argparse.Namespace, kb: KnowledgeBase | None = None) -> None:
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
        #: the knowledge base; each part (model, store, keyword index, LLM) opens on first use, and
        #: ``--no-llm`` leaves the configured LLM out
        self.kb: KnowledgeBase = kb or open_kb(self.settings, llm=not self.no_llm)

    def print_json(self, data: Any) -> None:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")

    @property
    def interactive(self) -> bool:
        return sys.stderr.isatty()
