"""The terminal rendering of passages: query words marked, code spans left whole."""

from __future__ import annotations

import pytest

from ui.cli import render


@pytest.fixture(autouse=True)
def plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "color", lambda: False)  # a pipe or a file: Markdown marks


def test_query_words_are_marked_in_prose() -> None:
    out = render.highlight("The gateway returned errors to clients", "gateway errors")
    assert out == "The **gateway** returned **errors** to clients"


def test_no_marks_inside_a_code_span() -> None:
    text = "restart `api-gateway-prod-eu-1` when the api pods hang"
    out = render.highlight(text, "api gateway")
    assert "`api-gateway-prod-eu-1`" in out
    assert "the **api** pods" in out


def test_an_unclosed_backtick_does_not_hide_the_rest() -> None:
    out = render.highlight("run `kubectl and then check the gateway", "gateway")
    assert out.endswith("the **gateway**")


def test_a_terminal_gets_colour_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "color", lambda: True)
    out = render.highlight("`api-gateway`", "gateway")
    assert render.YELLOW in out and "**" not in out
