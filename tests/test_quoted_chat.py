"""Chat quoted inside a Markdown postmortem (``>name [1:26 PM]`` blocks) read as a chat log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ingest.sources import discover, parse_unit, quoted_chat
from ingest.sources.base import ParseOptions
from kb.core.models import Kind

POSTMORTEM = """# 2023-03-02 Build farm outage

All times PST.

## Timeline

* [22:05] Builds stop starting. **Outage begins.**
* [23:40] Farm is healthy again.

## Appendix

### #build-ops

>ana [10:05 PM]
builds are stuck in pending for me, anyone else?
>
>bo   [10:07 PM]
>looking
>>ana [10:05 PM]
>>quoted from earlier
>
>ana [11:58 PM]
farm looks healthy again
>
>bo [12:20 AM]
>cleanup done

### #other-channel

> cy [10:30 PM]
> late note about the cleanup

[a link]: https://example.com
"""


def _record(tmp_path: Path, text: str, name: str = "2023-03-02-build-farm.md"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text)
    units, _ = discover([path])
    options = ParseOptions(redact=False, kind=Kind.chat, known_services=set(), max_bytes=10**7)
    return parse_unit(units[0], options)


def test_quoted_speakers_and_12_hour_times_become_messages(tmp_path: Path) -> None:
    (record,) = _record(tmp_path, POSTMORTEM)
    assert record.kind == Kind.chat and record.format == "quoted-chat"
    who = [(m.author, m.ts) for m in record.messages]
    assert who == [("ana", datetime(2023, 3, 2, 22, 5)), ("bo", datetime(2023, 3, 2, 22, 7)),
                   ("cy", datetime(2023, 3, 2, 22, 30)),  # channels merge in time order
                   ("ana", datetime(2023, 3, 2, 23, 58)), ("bo", datetime(2023, 3, 3, 0, 20))]  # past midnight
    bo = record.messages[1]
    assert bo.text.startswith("looking") and ">ana [10:05 PM]" in bo.text  # a quote inside stays text
    for m in record.messages:  # every message is a span of the document itself
        assert record.text[m.start : m.end].lstrip("> ").startswith(m.author)
    assert "late note" in record.messages[2].text and "example.com" not in record.messages[2].text


def test_a_clock_reads_12_and_24_hour_forms() -> None:
    assert str(quoted_chat.clock("1:26 PM")) == "13:26:00"
    assert str(quoted_chat.clock("12:10 AM")) == "00:10:00"
    assert str(quoted_chat.clock("07:16 AM")) == "07:16:00"
    assert str(quoted_chat.clock("14:05")) == "14:05:00"
    assert quoted_chat.clock("3 hours ago") is None and quoted_chat.clock("13:10 PM") is None


def test_a_markdown_without_quoted_chat_stays_a_document(tmp_path: Path) -> None:
    (record,) = _record(tmp_path, "# Notes\n\n* [10:00] something happened\n\nplain text.\n", "notes.md")
    assert record.format == "markdown" and not record.messages
