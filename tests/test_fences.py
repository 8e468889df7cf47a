"""Code fences read as CommonMark reads them, by the one tracker every line walker uses."""

from __future__ import annotations

from kb.generation.markup import inert
from kb.generation.quoting import quote_parts
from kb.text.fences import Fences, Role, has_fence, opening_mark
from kb.text.steps import split_steps


def roles(text: str, max_indent: int | None = None) -> list[Role]:
    fences = Fences(max_indent)
    return [fences.role(line) for line in text.split("\n")]


def test_a_line_of_inline_code_opens_no_block() -> None:
    assert opening_mark("```kubectl get pods```") is None
    assert roles("```kubectl get pods```\nafter") == [Role.TEXT, Role.TEXT]
    assert not has_fence("run ```kubectl get pods``` first")


def test_a_block_closes_only_at_a_fence_of_its_own_kind_and_length() -> None:
    text = "````md\n```bash\nls\n```\n````\nprose"
    assert roles(text) == [Role.OPEN, Role.CODE, Role.CODE, Role.CODE, Role.CLOSE, Role.TEXT]
    assert roles("~~~\n```\n~~~") == [Role.OPEN, Role.CODE, Role.CLOSE]
    assert roles("```\n``` not a close\n```") == [Role.OPEN, Role.CODE, Role.CLOSE]


def test_the_language_and_the_indent_limit() -> None:
    fences = Fences()
    assert fences.role("  ```bash title") is Role.OPEN and fences.language == "bash"
    assert roles("    ```\ncode", max_indent=3) == [Role.TEXT, Role.TEXT]
    assert roles("    ```\ncode") == [Role.OPEN, Role.CODE]  # a list item's block, read out of its list


def test_a_step_after_a_line_of_inline_code_is_a_step_of_its_own() -> None:
    text = "1. Check the pods:\n```kubectl get pods```\n\n2. Restart the leader.\n\n3. Confirm it is back."
    texts = [s.text for s in split_steps(text)]
    assert any(t.startswith("2. Restart the leader") for t in texts)
    assert any(t.startswith("3. Confirm") for t in texts)


def test_an_unclosed_block_runs_to_the_end() -> None:
    texts = [s.text for s in split_steps("1. Run:\n```\nls\n\n2. not a step, still code")]
    assert len(texts) == 1 and texts[0].endswith("still code")


def test_quoted_code_keeps_its_language_and_inline_code_stays_text() -> None:
    assert quote_parts("Run:\n```bash\nkubectl get pods\n```\ndone") == [
        (None, "Run:"), ("bash", "kubectl get pods"), (None, "done")
    ]
    assert quote_parts("```x``` then <b>") == [(None, "```x``` then <b>")]
    assert inert("```x``` <b>") == "```x``` &lt;b>"
    assert inert("```\n<b>\n```") == "```\n<b>\n```"
