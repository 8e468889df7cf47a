"""Writing from retrieved evidence, with every line checkable: the output guard that keeps text speaking
to an AI or carrying markup away from prompts and readers (``guard``, ``guard_examples``), the evidence
and citation checks every generator ends in (``grounding``), the Jinja2 prompt templates in ``prompts/``
and the model call (``prompting``), answers to questions (``ask``) and incident summaries (``summary``).
Depends on kb.core, kb.clients, kb.text and kb.retrieval."""
