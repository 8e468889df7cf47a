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
