"""Game days: practice incidents built from real postmortems. A ``scenario`` (briefing, page, ``clues``,
hidden answer key with its ``rubric``) is read off the incident's ``timeline`` and chat with the ``cues``
vocabulary, and the ``leak`` guard keeps the root cause from the trainee; the ``master`` plays it,
``scoring`` scores and debriefs a session, and ``store`` keeps scenarios and sessions. Depends on kb.core,
kb.clients, kb.text, kb.retrieval and kb.generation."""
