"""Runbooks: cited drafts (``draft``, from the steps of ``candidates``), update proposals from recent
incidents (``update``, kept in the ``proposals`` store), approved revisions and their history
(``revisions``) and staleness (``stale``). Depends on every layer below it: kb.core, kb.clients, kb.text,
kb.retrieval and kb.generation."""
