"""Incident knowledge base: the library, in packages that import one way, from the bottom up:
core (models, errors, settings) < clients (Chroma store, OpenAI client) < text < retrieval < generation <
runbooks < gameday < ops. tests/test_layers.py holds the order."""
