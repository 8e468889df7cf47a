"""Ingestion: read sources, redact secrets, chunk by section, embed and store."""
