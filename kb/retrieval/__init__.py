"""Finding what is stored: the embedding model (``embeddings``, the only module that loads it), the BM25
index over the store's chunks (``keyword``), hybrid search fused by reciprocal rank and grouped into
incidents (``search``), alert payloads turned into queries (``alerts``), search filters checked against
what is stored (``filters``), incidents like a given one (``similar``) and retrieval metrics for labelled
question sets (``evaluation``). Depends on kb.core, kb.clients and kb.text."""
