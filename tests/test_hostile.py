"""Small hostile inputs must not hang ingest or search: each parser finishes on input built to make a
backtracking pattern or a YAML alias explode, and refuses what it cannot bound, naming the file and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import extract
from ingest.sources import Unit, parse_unit
from ingest.sources.base import ParseOptions
from kb.alerts import parse_alert
from tests.hang import Raised, within

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
    assert within(HANG, _parse, path) == ["camel"]


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
