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


def test_search_on_an_empty_store_says_what_to_do(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["--data-dir", str(tmp_path), "search", "anything", "--mode", "bm25", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]"
    assert "is empty: run `kb ingest PATH` first" in captured.err
