from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunking import _heading_like, chunk_record
from ingest.sources.markdown import sections_of
from kb.core.models import Kind, Message, Record, Section


def record(text: str, sections: list[Section] | None = None, messages: list[Message] | None = None) -> Record:
    return Record(
        id="r",
        kind=Kind.postmortem,
        title="T",
        source_path="/x",
        source_key="/x",
        format="markdown",
        content_hash="ab" * 32,
        text=text,
        sections=sections or [],
        messages=messages or [],
    )


def check_invariants(rec: Record, max_words: int) -> None:
    chunks = chunk_record(rec, max_words)
    for c in chunks:
        assert c.text == rec.text[c.start : c.end]
        assert c.text.strip()
        first, _, rest = c.text.partition("\n")
        # a heading line may sit on top of a full passage (it is never a passage of its own)
        body = rest if rest.strip() and _heading_like(first) else c.text
        assert len(body.split()) <= max_words
        if rec.sections:
            assert any(s.start <= c.start and c.end <= s.end for s in rec.sections), "chunk crosses a section"
    assert len({c.id for c in chunks}) == len(chunks)
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


def test_chunks_follow_sections_and_keep_offsets() -> None:
    body = "## Summary\n" + "word " * 50 + "\n\n## Root cause\n" + ("A sentence here. " * 60) + "\n"
    _, sections = sections_of(body)
    rec = record(body, sections)
    chunks = chunk_record(rec, 40)
    check_invariants(rec, 40)
    assert {c.section for c in chunks} == {"summary", "root_cause"}
    assert len([c for c in chunks if c.section == "root_cause"]) >= 4


def test_a_heading_alone_is_not_a_chunk() -> None:
    body = "## Timeline\n\n## Impact\nCustomers saw errors.\n"
    _, sections = sections_of(body)
    chunks = chunk_record(record(body, sections), 100)
    assert [c.section for c in chunks] == ["impact"]


def test_chat_chunks_break_between_messages() -> None:
    lines = [f"[2024-01-01 10:{i:02d}:00] u{i % 3}: message number {i} " + "x " * 10 for i in range(40)]
    text = "\n".join(lines)
    messages, pos = [], 0
    for line in lines:
        messages.append(Message(author="u", text=line, start=pos, end=pos + len(line)))
        pos += len(line) + 1
    rec = record(text, [Section(name="chat", heading="messages", start=0, end=len(text))], messages)
    chunks = chunk_record(rec, 60)
    starts = {m.start for m in messages}
    ends = {m.end for m in messages}
    for c in chunks:
        assert c.start in starts and c.end in ends
    check_invariants(rec, 60)


markdownish = st.lists(
    st.one_of(
        st.sampled_from(["## Summary", "## Timeline", "## Root cause", "### Detail", "# Title", "", "- item", "```"]),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=200),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(markdownish, st.integers(min_value=5, max_value=80))
def test_fuzzed_markdown_chunks_keep_invariants(lines: list[str], max_words: int) -> None:
    body = "\n".join(lines)
    _, sections = sections_of(body)
    for s in sections:
        assert 0 <= s.start <= s.end <= len(body)
    check_invariants(record(body, sections), max_words)


def test_a_heading_never_makes_a_passage_of_its_own() -> None:
    timeline = "\n".join(f"- 10:{m:02d} step {m} of the incident, pods restarted and errors rose" for m in range(40))
    text = f"# Outage\n\n## Summary\n\nShort summary.\n\n## Timeline (UTC)\n\n{timeline}\n\n## Lessons\n\nTest first.\n"
    _title, sections = sections_of(text)
    rec = record(text, sections)
    check_invariants(rec, 60)
    chunks = chunk_record(rec, 60)
    assert not [c.text for c in chunks if c.text.strip().startswith("#") and "\n" not in c.text.strip()]
    first_timeline = next(c for c in chunks if c.section == "timeline")
    assert first_timeline.text.startswith("## Timeline (UTC)\n\n- 10:00 step 0")


def test_a_word_group_cut_from_a_long_line_is_not_taken_for_a_heading() -> None:
    body = "0 0 0 0 0 0"
    _, sections = sections_of(body)
    rec = record(body, sections)
    check_invariants(rec, 5)
    assert [c.text for c in chunk_record(rec, 5)] == ["0 0 0 0 0", "0"]


def test_a_blob_without_spaces_is_cut_into_passages_of_bounded_size() -> None:
    body = "## Logs\n\n" + "QUJD" * 50_000 + "\n\nThe pod restarted.\n"
    _, sections = sections_of(body)
    rec = record(body, sections)
    check_invariants(rec, 20)
    chunks = chunk_record(rec, 20)
    assert max(len(c.text) for c in chunks) <= 20 * 80 + 40  # a heading or a short sentence may join a piece
    assert "".join(c.text for c in chunks if c.text.startswith(("QUJD", "## Logs"))).count("QUJD") == 50_000
