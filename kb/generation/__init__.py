"""Writing from retrieved evidence, with every line checkable: the output guard that keeps text speaking
to an AI or carrying markup away from prompts and readers (``guard``, ``guard_examples``), the evidence
and citation checks every generator ends in (``grounding``), the Jinja2 prompt templates in ``prompts/``
and the model call (``prompting``), answers to questions (``ask``), incident summaries (``summary``) and
catch-ups on a running incident's chat (``catchup``).
Depends on kb.core, kb.clients, kb.text and kb.retrieval."""
