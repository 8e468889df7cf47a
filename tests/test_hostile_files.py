"""Hostile files and folders: one bad file fails alone, nothing outside the ingested folder is read (links,
loops, Slack channel names), and a damaged or hostile zip upload becomes per-file errors with nothing
half-written left behind."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from ingest.sources import Unit, discover, markdown, parse_unit, unit_hash
from ingest.sources.base import ParseOptions
from ingest.uploads import MAX_ZIP_MEMBERS, save_uploads
from kb.core.errors import ParseError
from tests.test_sources import make_slack_export, write

OPTIONS = ParseOptions()
SECRET = "root:x:0:0:planted-outside-marker"


def good_docs(root: Path, n: int = 3) -> list[Path]:
    return [write(root / f"doc-{i}.md", f"# Doc {i}\n\n## Mitigation\n\n1. Restart service{i}.\n") for i in range(n)]


def bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def failures(report: object, root: Path) -> dict[str, str]:
    return {str(Path(f.path).relative_to(root)): f.error for f in report.failed}  # type: ignore[attr-defined]


# -- one bad file fails alone ---------------------------------------------------------------------------


@pytest.mark.parametrize("ts", ["1e300", 1e300, "-1e300", "inf", "nan", "1e12", "-1e12"])
def test_an_out_of_range_slack_ts_is_a_parse_error(tmp_path: Path, ts: object) -> None:
    export = make_slack_export(tmp_path, [{"type": "message", "user": "U1", "text": "hello", "ts": ts}])
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(export, slack_export=True), OPTIONS)
    assert err.value.path.endswith("2024-02-27.json") and "ts" in err.value.reason


def test_a_slack_ts_of_1e300_fails_its_export_and_the_run_goes_on(fake_kb: Ingestor, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    good = good_docs(root)
    make_slack_export(root, [{"type": "message", "user": "U1", "text": "hello", "ts": "1e300"}])
    report = fake_kb.run([root])
    assert report.added == len(good)
    (error,) = failures(report, root).values()
    assert "ts" in error


def test_an_unexpected_exception_fails_only_its_file_and_names_its_type(
    fake_kb: Ingestor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "corpus"
    good_docs(root)
    bad = write(root / "bad.md", "# Bad\n\ntext\n")
    real = markdown.parse

    def exploding(path: Path, options: ParseOptions):  # type: ignore[no-untyped-def]
        if path == bad:
            raise ZeroDivisionError("boom")
        return real(path, options)

    monkeypatch.setattr(markdown, "parse", exploding)
    report = fake_kb.run([root])
    assert report.added == 3
    assert failures(report, root) == {"bad.md": "cannot parse: ZeroDivisionError: boom"}
    assert [f.status for f in report.files if f.path == str(bad)] == ["failed"]


@pytest.mark.parametrize(
    "front",
    [
        "date: 2024-02-30",  # YAML builds a date and raises ValueError
        "date: 0000-01-01",
        "last_reviewed: 2024-01-01 99:99:99",
        "severity: \u00b2",  # a digit for str.isdigit, not for int()
        "severity: " + "9" * 5000,  # beyond int()'s digit limit
        "count: " + "9" * 5000,
    ],
    ids=["feb-30", "year-0", "hour-99", "superscript-two", "5000-digit-severity", "5000-digit-number"],
)
def test_out_of_range_front_matter_values_do_not_lose_the_document(tmp_path: Path, front: str) -> None:
    path = write(tmp_path / "doc.md", f"---\n{front}\n---\n# Title\n\n## Impact\n\nSome text.\n")
    (record,) = parse_unit(Unit(path), OPTIONS)  # the value is dropped (or all the front matter), not the file
    assert "Some text." in record.text and record.severity is None


def test_an_impossible_date_in_a_chat_log_name_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "2024-13-45-outage.log", "[10:00:00] ana: up\n[10:01:00] bo: down\n")
    (record,) = parse_unit(Unit(path), OPTIONS)
    assert len(record.messages) == 2 and record.messages[0].ts is None


# -- nothing outside the ingested folder is read ------------------------------------------------------


def test_a_file_link_out_of_the_folder_is_refused_and_reported(fake_kb: Ingestor, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    good_docs(root)
    write(tmp_path / "outside" / "passwd", SECRET + "\n")
    (root / "passwd.txt").symlink_to(tmp_path / "outside" / "passwd")
    report = fake_kb.run([root])
    assert report.added == 3
    assert "outside the folder" in failures(report, root)["passwd.txt"]
    assert SECRET.encode() not in bytes_under(fake_kb.settings.data_dir)


def test_a_folder_link_out_of_the_folder_is_refused_and_reported(fake_kb: Ingestor, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    good_docs(root)
    write(tmp_path / "outside" / "notes.md", f"# Notes\n\n{SECRET}\n")
    (root / "ext").symlink_to(tmp_path / "outside", target_is_directory=True)
    report = fake_kb.run([root])
    assert report.added == 3
    assert "outside the folder" in failures(report, root)["ext"]
    assert SECRET.encode() not in bytes_under(fake_kb.settings.data_dir)


def test_a_link_loop_is_reported_and_every_file_is_read_once(fake_kb: Ingestor, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    good_docs(root)
    (root / "loop").symlink_to(".", target_is_directory=True)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("..", target_is_directory=True)
    (root / "self.md").symlink_to("self.md")
    report = fake_kb.run([root])
    assert report.added == 3 and fake_kb.store.count_records() == 3
    failed = failures(report, root)
    assert set(failed) == {"loop", "sub/up", "self.md"}
    assert all("loop" in reason for reason in failed.values()), failed


def test_links_inside_the_folder_are_read_once_under_their_real_path(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    docs = good_docs(root / "real")
    (root / "alias.md").symlink_to(docs[0])
    (root / "mirror").symlink_to(root / "real", target_is_directory=True)
    units, _ = discover([root])
    assert sorted(u.path for u in units) == sorted(docs)


def test_a_dangling_link_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    good_docs(root)
    (root / "gone.md").symlink_to(root / "nowhere.md")
    units, _ = discover([root])
    (dangling,) = [u for u in units if u.path.name == "gone.md"]
    with pytest.raises(ParseError, match="no such file"):
        parse_unit(dangling, OPTIONS)


def test_a_link_that_now_leads_outside_is_pruned(fake_kb: Ingestor, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    docs = good_docs(root)
    fake_kb.run([root])
    write(tmp_path / "outside" / "passwd", SECRET + "\n")
    docs[0].unlink()
    docs[0].symlink_to(tmp_path / "outside" / "passwd")
    report = fake_kb.run([root], prune=True)
    assert report.removed == 1 and fake_kb.store.count_records() == 2


@pytest.mark.parametrize("name", ["../../x", "..", ".", "/tmp", "a/b", "a\\b", "ok\x00"])
def test_a_slack_channel_name_cannot_leave_the_export(tmp_path: Path, name: str) -> None:
    export = make_slack_export(tmp_path / "in")
    write(tmp_path / "x" / "2024-01-01.json", json.dumps([{"type": "message", "text": SECRET, "ts": "1709074800.1"}]))
    (export / "channels.json").write_text(
        json.dumps([{"id": "C1", "name": "inc-checkout"}, {"id": "C2", "name": name}])
    )
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(export, slack_export=True), OPTIONS)
    assert err.value.path.endswith("channels.json") and "channel name" in err.value.reason


@pytest.mark.parametrize("linked", ["users.json", "channels.json", "inc-checkout/2024-02-27.json", "inc-checkout"])
def test_slack_export_files_linked_out_of_the_export_are_refused(tmp_path: Path, linked: str) -> None:
    export = make_slack_export(tmp_path / "in")
    outside = tmp_path / "outside" / linked
    outside.parent.mkdir(parents=True, exist_ok=True)
    (export / linked).rename(outside)
    (export / linked).symlink_to(outside, target_is_directory=outside.is_dir())
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(export, slack_export=True), OPTIONS)
    assert "outside the export" in err.value.reason


def test_the_slack_export_hash_reads_nothing_outside_the_export(tmp_path: Path) -> None:
    export = make_slack_export(tmp_path / "in")
    outside = write(tmp_path / "outside.json", "[]")
    (export / "linked.json").symlink_to(outside)
    (export / "loop").symlink_to(".", target_is_directory=True)
    first = unit_hash(Unit(export, slack_export=True), OPTIONS)
    outside.write_text('[{"changed": true}]')
    assert unit_hash(Unit(export, slack_export=True), OPTIONS) == first


# -- zip uploads --------------------------------------------------------------------------------------

GOOD = b"# Good\n\n## Mitigation\n\n1. Restart the ledger consumer.\n"
LIMIT = 1024 * 1024


def build_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytearray:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return bytearray(out.getvalue())


def headers(data: bytearray, name: str) -> tuple[int, int]:
    """(offset of the member's local header, offset of its central directory entry)."""
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(name)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        n = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + n] == name.encode():
            return info.header_offset, central
        central = data.find(b"PK\x01\x02", central + 1)
    raise AssertionError(name)


def bad_crc(data: bytearray, name: str) -> bytearray:
    local, _ = headers(data, name)
    n, e = struct.unpack_from("<HH", data, local + 26)
    data[local + 30 + n + e + 2] ^= 0xFF
    return data


def lying_size(data: bytearray, name: str, delta: int) -> bytearray:
    local, central = headers(data, name)
    size = struct.unpack_from("<I", data, central + 24)[0]
    struct.pack_into("<I", data, central + 24, size + delta)
    struct.pack_into("<I", data, local + 22, size + delta)
    return data


def encrypted_flag(data: bytearray, name: str) -> bytearray:
    local, central = headers(data, name)
    data[central + 8] |= 1
    data[local + 6] |= 1
    return data


def method(data: bytearray, name: str, number: int) -> bytearray:
    local, central = headers(data, name)
    struct.pack_into("<H", data, central + 10, number)
    struct.pack_into("<H", data, local + 8, number)
    return data


def two_members() -> bytearray:
    return build_zip([("notes/good.md", GOOD), ("notes/bad.md", b"# Bad\n\n" + b"text " * 40)])


HOSTILE = {
    "bad CRC": (lambda: bad_crc(two_members(), "notes/bad.md"), "damaged"),
    "declared size smaller": (lambda: lying_size(two_members(), "notes/bad.md", -10), "damaged"),
    "declared size larger": (lambda: lying_size(two_members(), "notes/bad.md", +10), "size"),
    "encrypted": (lambda: encrypted_flag(two_members(), "notes/bad.md"), "encrypted"),
    "method 99": (lambda: method(two_members(), "notes/bad.md", 99), "compression method 99"),
}


def saved_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_damaged_zip_member_is_a_per_file_error(tmp_path: Path, case: str) -> None:
    make, words = HOSTILE[case]
    batch = tmp_path / "uploads" / "batch"
    saved = save_uploads(batch, [("notes.zip", bytes(make())), ("plain.md", GOOD)], LIMIT, tmp_path / "uploads")
    refused = dict(saved.refused)
    assert list(refused) == ["notes.zip: notes/bad.md"], saved.refused
    assert words in refused["notes.zip: notes/bad.md"]
    # only whole files are left, nothing half-written, no staging folder
    assert saved_files(batch) == {"notes/notes/good.md", "plain.md"}
    assert {p.name for p in batch.iterdir()} == {"notes", "plain.md"}
    assert (batch / "notes" / "notes" / "good.md").read_bytes() == GOOD


@pytest.mark.parametrize(
    "members",
    [
        [("a.md", GOOD), ("a.md/b.md", GOOD)],
        [("a.md/b.md", GOOD), ("a.md", GOOD)],
        [("dir/", b""), ("dir", GOOD), ("dir/c.md", GOOD)],
    ],
)
def test_a_file_and_a_folder_of_the_same_name(tmp_path: Path, members: list[tuple[str, bytes]]) -> None:
    batch = tmp_path / "batch"
    saved = save_uploads(batch, [("clash.zip", bytes(build_zip(members)))], LIMIT)
    assert len(saved.refused) == 1 and "same name" in saved.refused[0][1], saved.refused
    assert len(saved.files) == len([m for m in members if not m[0].endswith("/")]) - 1
    assert all(p.is_file() for p in saved.files)


def test_the_same_name_twice_is_refused_once(tmp_path: Path) -> None:
    data = build_zip([("a.md", GOOD), ("b.md", GOOD)])
    data = data.replace(b"b.md", b"a.md")
    saved = save_uploads(tmp_path / "batch", [("twice.zip", bytes(data))], LIMIT)
    assert [name for name, _ in saved.refused] == ["twice.zip: a.md"] and len(saved.files) == 1


def test_a_zip_bomb_is_refused_whole(tmp_path: Path) -> None:
    bomb = build_zip([("readme.md", GOOD), ("zeros.md", b"0" * (2 * LIMIT))], zipfile.ZIP_DEFLATED)
    saved = save_uploads(tmp_path / "batch", [("bomb.zip", bytes(bomb))], 4 * LIMIT)
    assert len(saved.refused) == 1 and "compression ratio" in saved.refused[0][1], saved.refused
    assert saved.files == [] and not list((tmp_path / "batch").rglob("*"))


def test_a_bomb_behind_a_small_declared_size_is_cut_at_that_size(tmp_path: Path) -> None:
    bomb = lying_size(
        build_zip([("zeros.md", b"0" * (8 * LIMIT))], zipfile.ZIP_DEFLATED), "zeros.md", -(8 * LIMIT - 100)
    )
    saved = save_uploads(tmp_path / "batch", [("bomb.zip", bytes(bomb))], LIMIT)
    assert len(saved.refused) == 1 and "damaged" in saved.refused[0][1], saved.refused
    assert saved.files == []


def test_too_many_members_is_refused_whole(tmp_path: Path) -> None:
    many = build_zip([(f"f{i}.md", b"x") for i in range(MAX_ZIP_MEMBERS + 1)])
    saved = save_uploads(tmp_path / "batch", [("many.zip", bytes(many))], LIMIT)
    assert saved.refused == [("many.zip", f"more than {MAX_ZIP_MEMBERS} files")] and saved.files == []


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04" + b"\x00" * 40, b"not a zip", bytes(build_zip([("a.md", GOOD)]))[:-10]],
)
def test_an_unreadable_zip_is_one_error(tmp_path: Path, data: bytes) -> None:
    saved = save_uploads(tmp_path / "batch", [("x.zip", data)], LIMIT)
    assert [name for name, _ in saved.refused] == ["x.zip"] and saved.files == []


def test_a_zip_name_with_bad_utf8_is_one_error(tmp_path: Path) -> None:
    data = build_zip([("a\u00e9.md", GOOD)])  # zipfile sets the UTF-8 flag for non-ASCII names
    data = data.replace("a\u00e9".encode(), b"a\xff\xfe")
    saved = save_uploads(tmp_path / "batch", [("x.zip", bytes(data))], LIMIT)
    assert [name for name, _ in saved.refused] == ["x.zip"] and saved.files == []


def test_front_matter_values_a_store_cannot_write_fail_nothing(fake_kb: Ingestor, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    good_docs(root)
    values = {
        "binary": "tags: [!!binary /w==]",  # bytes that are not UTF-8
        "nan": "score: .nan\ntags: [.inf, -.inf]",
        "huge": f"n: {2**70}\nlist: [{2**80}]",
        "set": "tags: !!set {a, b}",
        "dates": "seen: [2024-01-01, 2024-01-01 10:00:00]",
    }
    for name, front in values.items():
        write(root / f"{name}.md", f"---\n{front}\n---\n# {name}\n\n## Impact\n\nSome text.\n")
    report = fake_kb.run([root])
    assert report.failed == [] and report.added == 3 + len(values)


def test_a_chat_log_mixing_offsets_and_plain_times_reads_and_catches_up(tmp_path: Path) -> None:
    from ingest.tail import read_chat
    from kb.core.settings import Settings
    from kb.generation.catchup import catch_up

    log = write(
        tmp_path / "2024-13-45-outage.log",
        "[2024-01-01T10:00:00+05:00] ana: restarted the api pod\n[2024-01-01 10:05:00] bo: it is back\n",
    )
    (record,) = parse_unit(Unit(log), OPTIONS)
    assert [m.ts.isoformat() for m in record.messages if m.ts] == ["2024-01-01T10:00:00", "2024-01-01T10:05:00"]
    settings = Settings(data_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    chat = read_chat(settings, log)
    assert catch_up(chat.record, chat.new_messages, since="10:01").total_messages == 2


def test_a_channel_listed_twice_is_read_once(fake_kb: Ingestor, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    good_docs(root)
    export = make_slack_export(root)
    twice = [{"id": "C1", "name": "inc-checkout"}, {"id": "C2", "name": "inc-checkout"}]
    (export / "channels.json").write_text(json.dumps(twice))
    report = fake_kb.run([root])  # two records with one id failed the whole write
    assert report.failed == [] and report.added == 4


@pytest.mark.slow
def test_the_ingest_page_shows_each_damaged_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_web import app

    at = app(tmp_path / "kb", monkeypatch)
    at.switch_page("views/ingest.py").run()
    damaged = encrypted_flag(
        bad_crc(build_zip([("good.md", GOOD), ("bad.md", GOOD), ("locked.md", GOOD)]), "bad.md"), "locked.md"
    )
    bomb = build_zip([("zeros.md", b"0" * (2 * LIMIT))], zipfile.ZIP_DEFLATED)
    at.file_uploader(key="uploads").set_value(
        [
            ("notes.zip", bytes(damaged), "application/zip"),
            ("bomb.zip", bytes(bomb), "application/zip"),
        ]
    ).run()
    at.button(key="ingest-go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [str(e.value).replace("\\", "") for e in at.error]
    assert any(e.startswith("notes.zip: bad.md: damaged") for e in errors), errors
    assert any(e.startswith("notes.zip: locked.md: encrypted") for e in errors), errors
    assert any(e.startswith("bomb.zip: zeros.md: compression ratio") for e in errors), errors
    shown = "\n".join(str(m.value) for m in at.markdown)
    assert "**1** added" in shown, shown[-1000:]
    uploaded = [p for p in (tmp_path / "kb" / "uploads").rglob("*") if p.is_file() and p.name != ".received.json"]
    assert [p.name for p in uploaded] == ["good.md"]


def test_a_file_swapped_for_a_link_after_discovery_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (doc,) = good_docs(root, 1)
    (unit,) = discover([root])[0]
    doc.unlink()
    doc.symlink_to(write(tmp_path / "outside" / "passwd.md", f"# Passwd\n\n{SECRET}\n"))
    with pytest.raises(ParseError, match="symbolic link after it was found"):
        parse_unit(unit, OPTIONS)


def test_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    root = tmp_path / "corpus"
    good_docs(root, 1)
    os.mkfifo(root / "pipe.md")
    units, _ = discover([root])
    (pipe,) = [u for u in units if u.path.name == "pipe.md"]
    with pytest.raises(ParseError):
        parse_unit(pipe, OPTIONS)
