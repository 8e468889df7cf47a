"""Small hostile inputs must not hang ingest or search: each parser finishes on input built to make a
backtracking pattern or a YAML alias explode, and refuses what it cannot bound, naming the file and why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ingest import extract
from ingest.sources import Unit, parse_unit, pdf
from ingest.sources.base import ParseOptions
from kb.core.errors import ParseError
from kb.retrieval.alerts import parse_alert
from tests.hang import Raised, within
from tests.hostile import KNOWN, PARSERS, PIECES, build

HANG = 20.0  # seconds: far above any honest run, far below a hang

#: 342 bytes of YAML that expand to 9^9 list items
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def _parse(path: Path) -> list[str]:
    return [r.title for r in parse_unit(Unit(path), ParseOptions())]


def test_a_camel_case_run_does_not_backtrack() -> None:
    text = "Ab" + "A" * 48 + "-"
    assert within(HANG, extract.alerts_from_text, text) == []
    assert within(HANG, extract.alerts_from_text, f"alert: {text} and HighErrorRateOnCheckout fired") == [
        "HighErrorRateOnCheckout"
    ]


def test_a_markdown_file_with_a_camel_case_run_is_ingested(tmp_path: Path) -> None:
    path = tmp_path / "camel.md"
    path.write_text("Ab" + "A" * 48 + "-", encoding="utf-8")
    assert within(HANG, _parse, path) == ["Camel"]  # no heading: the file name, made readable


def test_front_matter_with_yaml_aliases_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bomb.md"
    path.write_text("---\n" + ALIAS_BOMB + "---\n# Bomb\n\nbody\n", encoding="utf-8")
    with pytest.raises(Raised) as err:
        within(HANG, _parse, path)
    assert err.value.kind == "ParseError"
    assert str(path) in str(err.value) and "alias" in str(err.value)


def test_an_alert_payload_with_yaml_aliases_is_refused() -> None:
    payload = "".join("- " + line.split(": ", 1)[1] + "\n" for line in ALIAS_BOMB.splitlines())  # a list of alerts
    with pytest.raises(Raised) as err:
        within(HANG, parse_alert, payload, "alert.yaml")
    assert err.value.kind == "AlertParseError"
    assert str(err.value).startswith("alert.yaml: ") and "alias" in str(err.value)


def test_a_pdf_over_the_page_limit_is_refused_naming_the_file(tmp_path: Path, pdfgen: ModuleType,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(pdfgen.markdown_to_pdf("# Long\n\n" + "\n\n".join(f"## Part {n}\n\n" + "words " * 400
                                                                            for n in range(6))))
    assert len(pdf.page_texts(path, path.read_bytes())) >= 2
    monkeypatch.setattr(pdf, "MAX_PDF_PAGES", 1)
    with pytest.raises(ParseError, match=r"long\.pdf: PDF has \d+ pages, over the 1 page limit"):
        pdf.page_texts(path, path.read_bytes())


def test_an_oversized_alert_payload_is_refused_by_size() -> None:
    payload = '{"labels": {"alertname": "X"}, "annotations": {"summary": "' + "x" * (2 * 1024 * 1024) + '"}}'
    with pytest.raises(Raised) as err:
        within(HANG, parse_alert, payload, "alert.json")
    assert str(err.value).startswith("alert.json: ") and "limit" in str(err.value)


def test_deeply_nested_alert_json_is_refused() -> None:
    with pytest.raises(Raised) as err:
        within(HANG, parse_alert, "[" * 5000 + "]" * 5000, "alert.json")
    assert err.value.kind == "AlertParseError" and "nested" in str(err.value)


def _all_known(parse: Callable[[str], Any]) -> None:
    for text in KNOWN.values():
        parse(build([(text, 100_000)], 100_000))


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_each_parser_finishes_on_the_known_hostile_inputs(name: str) -> None:
    within(HANG * 3, _all_known, PARSERS[name])


_RUNS = st.lists(st.tuples(st.sampled_from(PIECES), st.integers(1, 50_000)), min_size=1, max_size=4)
#: the shape that makes a pattern backtrack: something it starts on, a long run, something that breaks it
_BROKEN_RUN = st.tuples(st.sampled_from(PIECES), st.sampled_from(PIECES), st.sampled_from(PIECES)).map(
    lambda t: [(t[0], 1), (t[1], 90_000 // len(t[1])), (t[2], 1)]
)


@hsettings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.one_of(_RUNS, _BROKEN_RUN))
def test_every_parser_finishes_on_runs_of_what_its_patterns_care_about(pieces: list[tuple[str, int]]) -> None:
    text = build(pieces, 100_000)
    for name, parse in PARSERS.items():
        try:
            within(HANG, parse, text)
        except Raised as exc:  # a refusal is fine; a crash is not
            raise AssertionError(f"{name} raised {exc.kind}: {exc} on {pieces!r}") from None
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc} on {pieces!r}") from None


def test_a_text_of_many_paragraphs_yields_its_first_steps_only() -> None:
    from kb.text import steps

    text = "".join(f"step {i}\n\n" for i in range(steps.MAX_STEPS + 500))
    found = steps.split_steps(text, base=7)
    assert len(found) == steps.MAX_STEPS
    assert found[0] == steps.Span(7, 7 + len("step 0"), "step 0")
    assert found[-1].text == f"step {steps.MAX_STEPS - 1}"
