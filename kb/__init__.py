"""Incident knowledge base: the library, in packages that import one way, from the bottom up:
core (models, errors, settings) < clients (Chroma store, OpenAI client) < text < retrieval < generation <
runbooks < gameday < ops, with the facade over them all: ``kb.open_kb(settings)`` returns the
``KnowledgeBase`` the shells use (kb/knowledge.py). tests/test_layers.py holds the order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.knowledge import KnowledgeBase, open_kb

__all__ = ["KnowledgeBase", "open_kb"]


def __getattr__(name: str) -> Any:
    """``open_kb`` and ``KnowledgeBase`` load on first use, so importing one small module of kb (settings,
    models) does not load the store, the embedding runtime and the LLM client with it."""
    if name in __all__:
        from kb import knowledge

        return getattr(knowledge, name)
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
