"""Incident knowledge base: the library (records, settings, store, embeddings, search)."""
