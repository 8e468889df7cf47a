"""A corpus of bad input generated here, ingested in one run: no crash, a clear error per bad file naming
it, every good file stored; and Markdown fuzzed with hypothesis never crashes the parser."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ingest.pipeline import Ingestor
from ingest.sources import Unit, parse_unit
from ingest.sources.base import ParseOptions
from kb.core.errors import ParseError
from kb.core.settings import Settings
from tests.test_sources import POSTMORTEM, encrypted


def bad_corpus(root: Path, pdfgen: ModuleType) -> tuple[list[Path], dict[str, str]]:
    """(good files, {bad file name: expected words of its error})."""
    root.mkdir(parents=True)
    good = []
    for i in range(3):
        path = root / f"good-{i}.md"
        path.write_text(f"# Good {i}\n\n## Mitigation\n\n1. Restart service{i}.\n")
        good.append(path)
    pdf = pdfgen.markdown_to_pdf(POSTMORTEM)
    files: dict[str, tuple[bytes, str]] = {
        "corrupt.pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "PDF"),
        "truncated.pdf": (pdf[: len(pdf) // 3], "PDF"),
        "locked.pdf": (encrypted(pdf, "pw", "AES-128"), "encrypted PDF"),
        "binary.md": (bytes(range(256)) * 16, "binary data"),
        "empty.md": (b"", "empty file"),
        "empty.txt": (b"", "empty file"),
        "invalid-utf8.txt": (b"ok \xff\xfe broken \xc3\x28 bytes\n", "UTF-8"),
    }
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    expected = {name: words for name, (_, words) in files.items()}
    with (root / "huge.log").open("w") as out:  # 50 MB
        line = "[2024-01-01 00:00:00] bot: " + "x" * 100 + "\n"
        out.write(line * (50 * 1024 * 1024 // len(line) + 1))
    expected["huge.log"] = "over the"
    slack = root / "slack-broken"
    (slack / "general").mkdir(parents=True)
    (slack / "users.json").write_text("[]")
    (slack / "channels.json").write_text('[{"name": "general"')
    (slack / "general" / "2024-01-01.json").write_text("[]")
    expected["slack-broken"] = "JSON"
    nested = root / "slack-nested"
    (nested / "general").mkdir(parents=True)
    (nested / "users.json").write_text("[]")
    (nested / "channels.json").write_text(json.dumps([{"name": "general"}]))
    (nested / "general" / "2024-01-01.json").write_text("[" * 100_000 + "]" * 100_000)
    expected["slack-nested"] = ""
    return good, expected


def test_a_bad_corpus_fails_file_by_file_and_keeps_the_good(fake_kb: Ingestor, tmp_path: Path,
                                                           pdfgen: ModuleType) -> None:
    good, expected = bad_corpus(tmp_path / "bad", pdfgen)
    started = time.perf_counter()
    report = fake_kb.run([tmp_path / "bad"])
    elapsed = time.perf_counter() - started
    print(f"bad corpus of {len(expected) + len(good)} entries (one 50 MB log) ingested in {elapsed:.1f}s")
    failed = {Path(f.path).relative_to(tmp_path / "bad").parts[0]: f.error for f in report.failed}
    for name, words in expected.items():
        assert name in failed, (name, failed)
        assert words in failed[name], (name, failed[name])
    assert report.added == len(good)
    assert fake_kb.store.count_records() == len(good)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=3000),
       front=st.booleans(), headings=st.lists(st.sampled_from(["# ", "## ", "### ", "- ", "1. ", "```", "---",
                                                                "| a | b |", "[x](javascript:alert(1))",
                                                                "<script>", "Severity: SEV2", "Date: 2024-13-45"]),
                                              max_size=20))
def test_fuzzed_markdown_parses_or_fails_cleanly(tmp_path: Path, text: str, front: bool, headings: list[str]) -> None:
    body = "\n".join(f"{h}{text[i * 50:(i + 1) * 50]}" for i, h in enumerate(headings)) + "\n" + text
    if front:
        body = "---\ntitle: [unclosed\nservices: {a: b}\n---\n" + body
    path = tmp_path / "fuzz.md"
    path.write_text(body, encoding="utf-8")
    try:
        records = parse_unit(Unit(path), ParseOptions())
    except ParseError as exc:
        assert exc.path == str(path) and exc.reason
        return
    for record in records:
        for section in record.sections:
            assert 0 <= section.start <= section.end <= len(record.text)


def test_settings_limit_is_what_refuses_the_log(settings: Settings) -> None:
    assert settings.max_file_mb < 50
