"""Prompt templates (``kb/generation/prompts/*.j2``, Jinja2 with shared partials) and the LLM call of a generator.

Retrieved text goes into the prompt only inside ``<evidence>``, one ``<passage id=...>`` each, with any
delimiter-like text in it defused, so a document cannot close the evidence block and speak as the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import jinja2

from kb.clients.openai_client import ChatModel
from kb.core.errors import GroundingError, LLMBadOutput
from kb.core.models import DraftItem, DroppedItem, Passage
from kb.generation.grounding import Evidence, GeneratedDraft, require_grounded, set_aside

PROMPTS = Path(__file__).with_name("prompts")


#: An opening or closing evidence delimiter in any case and spacing ("</PASSAGE>", "< /Evidence").
_DELIMITER = re.compile(r"<(\s*(?:/\s*)?)(passage|evidence)\b", re.I)  # linear: one way to match spaces


def delimit(text: str) -> str:
    """Passage text with the evidence delimiters made inert, whatever their case."""
    return _DELIMITER.sub(lambda m: "&lt;" + m.group(1) + m.group(2), text)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROMPTS)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - prompts are plain text, not HTML
    )
    env.filters["delimit"] = delimit
    return env


def render(name: str, **values: object) -> tuple[str, str]:
    """(system, user) messages of the prompt ``name``."""
    values.setdefault("schema", json.dumps(GeneratedDraft.model_json_schema()))
    env = _env()
    return env.get_template(f"{name}.system.j2").render(**values), env.get_template(f"{name}.user.j2").render(
        **values
    )


def ask_for_lines(
    llm: ChatModel,
    prompt: str,
    evidence: Evidence,
    sections: Sequence[str],
    on_text: Callable[[str], None] | None = None,
    **values: object,
) -> GeneratedDraft:
    """Run a draft prompt over the evidence; the reply is not yet checked (see ``Evidence.check_generated``)."""
    passages: list[Passage] = list(evidence.passages.values())
    system, user = render(prompt, passages=passages, sections=list(sections), **values)
    return llm.structured(system, user, GeneratedDraft, on_text=on_text)


def grounded_lines(
    llm: ChatModel,
    prompt: str,
    evidence: Evidence,
    sections: Sequence[str],
    what: str,
    on_text: Callable[[str], None] | None = None,
    **values: object,
) -> tuple[list[DraftItem], list[DroppedItem], str | None]:
    """The model's checked lines for ``what`` and those dropped; or no lines, the dropped ones, and why, when
    its reply cannot be used (not JSON for the schema twice, or nothing grounded): the caller then answers
    through its offline path and says why."""
    dropped: list[DroppedItem] = []
    try:
        reply = ask_for_lines(llm, prompt, evidence, sections, on_text=on_text, **values)
        items, dropped = evidence.check_generated(reply.lines, sections)
        require_grounded(items, dropped, what)
    except (LLMBadOutput, GroundingError) as exc:
        return [], dropped, set_aside(llm.model, exc)
    return items, dropped, None
