from __future__ import annotations

import pytest

from ui.cli.main import build_parser, main


@pytest.mark.parametrize("command", ["ingest", "search", "show", "stats"])
def test_every_command_explains_itself_and_has_json(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out
    assert len(out.splitlines()) > 4


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "quick start" in capsys.readouterr().out


def test_bad_settings_are_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KB_EMBED_BACKEND", "word2vec")
    assert main(["stats"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kb: error: bad settings") and "KB_EMBED_BACKEND" in err


def test_bad_date_is_rejected_by_the_parser() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", "x", "--since", "yesterday"])


@pytest.mark.parametrize("value", ["10m", "25:00", "yesterday"])
def test_catchup_since_that_is_not_a_time_is_rejected_by_the_parser(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["catchup", "incident.log", "--since", value])
    assert exit_.value.code == 2
    assert "not a time" in capsys.readouterr().err


def test_catchup_since_takes_a_clock_time_or_a_timestamp() -> None:
    assert build_parser().parse_args(["catchup", "incident.log", "--since", "13:05"]).since == "13:05"
    assert build_parser().parse_args(["catchup", "x.log", "--since", "2024-05-14 13:05"]).since.minute == 5


def test_search_on_an_empty_store_says_what_to_do(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["--data-dir", str(tmp_path), "search", "anything", "--mode", "bm25", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]"
    assert "is empty: run `kb ingest PATH` first" in captured.err


def test_k_must_be_positive() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", "x", "-k", "0"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["similar", "some-id", "-k", "-3"])


def test_filters_that_cannot_match_are_explained(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pool.md").write_text(
        "---\nkind: postmortem\nservices: [orders-db]\nseverity: SEV2\ndate: 2024-03-01\n---\n"
        "# Orders database pool exhausted\n\n## Summary\n\nThe orders-db connection pool ran out.\n",
        encoding="utf-8",
    )
    store = str(tmp_path / "kb")
    assert main(["--data-dir", store, "ingest", str(corpus)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", store, "search", "pool", "--since", "2025-01-01", "--until", "2024-01-01"]) == 1
    assert "--since 2025-01-01 is after --until 2024-01-01" in capsys.readouterr().err

    assert main(["--data-dir", store, "search", "pool", "--service", "orders-bd", "--severity", "p1"]) == 0
    err = capsys.readouterr().err
    assert "no stored document has service 'orders-bd'; did you mean orders-db?" in err
    assert "no stored document has severity 'p1'; known: SEV2" in err

    assert main(["--data-dir", store, "search", "pool", "--service", "ORDERS-DB", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert '"id": "pool"' in captured.out


def test_search_by_alert_shows_the_query_it_built(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    alert = tmp_path / "alert.json"
    alert.write_text('{"labels": {"alertname": "OrdersDbPoolExhausted"}, "annotations": {"summary": "pool full"}}')
    assert main(["--data-dir", str(tmp_path / "kb"), "search", "--alert", str(alert), "--mode", "bm25"]) == 0
    assert "query from the alert: OrdersDbPoolExhausted pool full" in capsys.readouterr().out


def test_dates_can_be_a_year_or_a_month() -> None:
    import argparse
    from datetime import date

    from ui.cli.dates import since_date, until_date

    assert (since_date("2025"), until_date("2025")) == (date(2025, 1, 1), date(2025, 12, 31))
    assert (since_date("2024-02"), until_date("2024-02")) == (date(2024, 2, 1), date(2024, 2, 29))
    assert since_date("2024-09-05") == until_date("2024-09-05") == date(2024, 9, 5)
    for bad in ("2025-13", "last week", "2024-02-30"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a date"):
            since_date(bad)


def test_month_range_fills_quiet_months() -> None:
    from kb.ops.insights import month_range

    assert month_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert month_range("2025-03", "2025-03") == ["2025-03"]
