"""The exceptions of the knowledge base. Shells catch ``KBError`` in one place.

KBError
+-- ConfigError              bad or inconsistent settings
+-- EmbeddingError           the embedding model cannot run
|   +-- ModelIntegrityError  the installed model files fail their hash check
+-- StoreError               the vector store cannot be used
|   +-- StoreBusy            another process holds the write lock of an embedded store
|   +-- StoreUnavailable     the Chroma server cannot be reached
|   +-- ModelMismatch        the store was built with another embedding model
+-- NotFound                 no record with that id
+-- LLMError                 the configured chat model cannot be used
|   +-- LLMUnavailable       the server cannot be reached or timed out
|   +-- LLMModelUnknown      the server does not know the configured model
|   +-- LLMBadOutput         the model's reply is not the JSON asked for
+-- GroundingError           generated output had nothing left that cites its sources
+-- ProposalError            a runbook proposal cannot be applied (stale, missing, already applied)
+-- ParseError               one source file cannot be read; carries the path
    +-- UnsupportedFile      not a format we read
    +-- EmptyDocument        nothing to index in it
"""

from __future__ import annotations


class KBError(Exception):
    """Base of every error the knowledge base raises on purpose."""


class ConfigError(KBError):
    """Bad or inconsistent settings."""


class EmbeddingError(KBError):
    """The embedding model cannot be loaded or run."""


class ModelIntegrityError(EmbeddingError):
    """An installed model file does not have the expected hash."""


class StoreError(KBError):
    """The vector store cannot be used."""


class StoreBusy(StoreError):
    """Another process is writing to the same embedded store."""


class StoreUnavailable(StoreError):
    """The configured Chroma server cannot be reached."""


class ModelMismatch(StoreError):
    """The store's vectors were made with a different embedding model."""


class NotFound(KBError):
    """No record with the given id."""


class LLMError(KBError):
    """The configured LLM cannot be used for this request."""


class LLMUnavailable(LLMError):
    """The LLM server cannot be reached, or did not answer in time."""


class LLMModelUnknown(LLMError):
    """The LLM server does not serve the configured model."""


class LLMBadOutput(LLMError):
    """The model's reply could not be read as the structured output asked for."""


class GroundingError(KBError):
    """Generated output was refused: no line of it cites a passage it was given. ``dropped`` says why."""

    def __init__(self, message: str, dropped: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.dropped = dropped or []


class ProposalError(KBError):
    """A runbook proposal cannot be applied."""


class ParseError(KBError):
    """A source file could not be parsed. ``path`` names the file, ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedFile(ParseError):
    """The file is not in a format the ingester reads."""


class EmptyDocument(ParseError):
    """The file holds no text to index."""
