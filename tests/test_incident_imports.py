"""Incident tools' exports (tests/imports/, written to each tool's documented export shape): one postmortem per
incident with its timeline in order, services, severity, start, resolve and time to repair; broken or
unknown files fail alone, naming the file and the reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from ingest.sources import Unit, discover, parse_unit
from ingest.sources.base import ParseOptions
from ingest.sources.incidents import read
from kb.core.errors import EmptyDocument, ParseError, UnsupportedFile
from kb.core.models import Kind, Record
from kb.gameday.timeline import timeline_of
from kb.ops.insights import minutes

SAMPLES = Path(__file__).parent / "imports"
OPTIONS = ParseOptions()


def records(name: str) -> dict[str, Record]:
    """The records of one sample, by the incident reference the record's metadata keeps."""
    return {str(r.front_matter["incident"]): r for r in parse_unit(Unit(SAMPLES / name), OPTIONS)}


def timeline(record: Record) -> list[tuple[str | None, str]]:
    """(time, entry text) of each timeline entry, as the project's own timeline reader finds them."""
    return [(when, span.text) for span, when in timeline_of(record)]


def check(record: Record, *, services: list[str], severity: str, started: str, resolved: str, repair: str) -> None:
    assert record.kind == Kind.postmortem
    assert record.services == services
    assert record.severity == severity
    assert record.front_matter["started"] == started and record.front_matter["resolved"] == resolved
    assert record.date is not None and record.date.isoformat() == started[:10]
    assert record.duration == repair
    assert f"Time to repair: {repair}" in record.text


def test_pagerduty_incidents_with_their_log_entries() -> None:
    found = records("pagerduty-incidents.json")
    assert sorted(found) == ["#4812", "#4820"]
    checkout = found["#4812"]
    assert checkout.title == "Checkout API 5xx rate above 5%"
    check(checkout, services=["checkout"], severity="SEV1", started="2024-05-14T13:07:12",
          resolved="2024-05-14T14:01:40", repair="54m")
    assert minutes(checkout.duration) == 54  # what Insights' time to mitigate reads
    entries = timeline(checkout)
    assert [when for when, _ in entries] == ["2024-05-14 13:07", "2024-05-14 13:09", "2024-05-14 13:31",
                                             "2024-05-14 14:01"]
    assert "Triggered by Datadog" in entries[0][1] and "CheckoutHighErrorRate" in entries[0][1]
    assert "Acknowledged by Priya Natarajan" in entries[1][1]
    assert "Rolled back checkout to v4.11.3" in entries[2][1]  # an annotate entry's note is in its channel
    assert "Resolved by Priya Natarajan" in entries[3][1]
    assert checkout.owner == "Priya Natarajan"
    assert "CheckoutHighErrorRate" in checkout.alerts
    # no priority: the urgency gives the level; no resolved_at: the resolve entry does
    db = found["#4820"]
    check(db, services=["orders-db"], severity="SEV4", started="2024-05-16T02:41:03",
          resolved="2024-05-16T03:22:51", repair="41m")
    assert [when for when, _ in timeline(db)] == ["2024-05-16 02:41", "2024-05-16 03:22"]
    assert checkout.id != db.id and checkout.source_key != db.source_key


def test_pagerduty_the_two_responses_in_a_list_and_one_incident_with_its_entries(tmp_path: Path) -> None:
    export = json.loads((SAMPLES / "pagerduty-incidents.json").read_text())
    entries = export.pop("log_entries")
    (tmp_path / "two.json").write_text(json.dumps([export, {"log_entries": entries}]))
    (tmp_path / "one.json").write_text(
        json.dumps({"incident": export["incidents"][0], "log_entries": [{**e, "incident": None} for e in entries[:4]]})
    )
    both = {r.front_matter["incident"]: r for r in parse_unit(Unit(tmp_path / "two.json"), OPTIONS)}
    assert len(timeline(both["#4812"])) == 4 and len(timeline(both["#4820"])) == 2
    one = parse_unit(Unit(tmp_path / "one.json"), OPTIONS)
    assert len(one) == 1 and [w for w, _ in timeline(one[0])] == [w for w, _ in timeline(both["#4812"])]


def test_opsgenie_alert_json_with_logs_and_notes() -> None:
    alert = records("opsgenie-alerts.json")["alert #1791"]
    check(alert, services=["session-cache"], severity="SEV2", started="2024-06-03T08:12:01.443000",
          resolved="2024-06-03T09:05:12.443000", repair="53m")
    entries = timeline(alert)
    assert [when for when, _ in entries] == ["2024-06-03 08:12", "2024-06-03 08:13", "2024-06-03 08:40",
                                             "2024-06-03 09:05"]
    assert "Restarted the session pods" in entries[2][1] and entries[2][1].count("elena@acme.example") == 1
    assert " — Alert ack: Acknowledged by elena@acme.example" in entries[1][1]


def test_opsgenie_csv_export() -> None:
    found = records("opsgenie-alerts.csv")
    kafka, dns = found["alert #1802"], found["alert #1803"]
    check(kafka, services=["kafka"], severity="SEV3", started="2024-06-11T19:02:44", resolved="2024-06-11T20:15:00",
          repair="1h 12m")
    assert [when for when, _ in timeline(kafka)] == ["2024-06-11 19:02", "2024-06-11 19:06", "2024-06-11 20:15"]
    assert '"max.poll.interval.ms" exceeded' in kafka.text  # a quoted quote in a CSV cell
    check(dns, services=["coredns"], severity="SEV1", started="2024-06-12T07:30:00", resolved="2024-06-12T08:12:30",
          repair="42m")


def test_jira_csv_reads_every_repeated_column() -> None:
    found = records("jira-issues.csv")
    search = found["OPS-231"]
    check(search, services=["search", "search-indexer"], severity="SEV2", started="2024-05-14T09:02:00",
          resolved="2024-05-14T11:17:00", repair="2h 15m")
    assert search.tags == ["incident", "elasticsearch"]
    entries = timeline(search)
    assert [when for when, _ in entries] == ["2024-05-14 09:02", "2024-05-14 09:10", "2024-05-14 10:41",
                                             "2024-05-14 11:17", "2024-05-14 11:17"]
    assert "Comment by Marcus Webb: Disk at 95% on es-data-2" in entries[1][1]
    assert "Comment by Priya Natarajan: Deleted old snapshots" in entries[2][1]
    assert "Shards could not be allocated." in search.text  # a multi-line cell
    # no severity field: the priority gives the level; empty repeated columns are no values
    payflow = found["OPS-236"]
    check(payflow, services=["payments"], severity="SEV3", started="2024-05-20T15:45:00",
          resolved="2024-05-20T16:30:00", repair="45m")
    assert payflow.tags == ["incident"] and len(timeline(payflow)) == 3


def test_jira_rest_search_json_with_document_format_text() -> None:
    issue = records("jira-search.json")["OPS-240"]
    check(issue, services=["api-gateway", "edge-proxy"], severity="SEV1", started="2024-05-30T06:58:00",
          resolved="2024-05-30T08:10:00", repair="1h 12m")
    assert "cert-manager had stopped renewing" in issue.text and "certificate has expired" in issue.text
    entries = timeline(issue)
    assert [when for when, _ in entries] == ["2024-05-30 06:58", "2024-05-30 07:04", "2024-05-30 07:52",
                                             "2024-05-30 08:10"]
    assert "Elena Kovacs: Issued a new certificate by hand" in entries[2][1]


def test_incident_io_json_with_updates_and_timestamps() -> None:
    incident = records("incidentio-incidents.json")["INC-57"]
    check(incident, services=["orders-db", "pgbouncer"], severity="SEV1", started="2024-11-29T17:20:11",
          resolved="2024-11-29T18:32:11", repair="1h 12m")
    entries = timeline(incident)
    assert [when for when, _ in entries] == ["2024-11-29 17:20", "2024-11-29 17:24", "2024-11-29 17:30",
                                             "2024-11-29 17:41", "2024-11-29 18:32", "2024-11-30 09:00"]
    assert "Priya Natarajan: Checkout p99 at 9s" in entries[2][1]  # updates sorted by time, not as listed
    assert incident.owner == "Marcus Webb"


def test_incident_io_csv_export() -> None:
    found = records("incidentio-incidents.csv")
    mail = found["INC-61"]
    check(mail, services=["notifications", "mail-relay"], severity="SEV3", started="2024-12-04T10:05:00",
          resolved="2024-12-04T12:02:00", repair="1h 57m")
    assert [text.split(" — ")[1] for _, text in timeline(mail)] == ["Reported", "Accepted", "Resolved", "Closed"]
    oom = found["INC-62"]
    check(oom, services=["checkout"], severity="SEV2", started="2024-12-09T14:20:00", resolved="2024-12-09T15:01:00",
          repair="41m")


def test_github_issues_json_keeps_the_review_and_comments() -> None:
    issue = records("github-issues.json")["#318"]
    check(issue, services=["coredns", "session-cache"], severity="SEV2", started="2024-07-02T09:12:00",
          resolved="2024-07-02T10:04:00", repair="52m")
    names = [s.name for s in issue.sections]
    assert "root_cause" in names and "action_items" in names and names.count("timeline") == 1
    entries = timeline(issue)
    assert [when for when, _ in entries] == ["2024-07-02 09:12", "2024-07-02 09:20", "2024-07-02 09:55",
                                             "2024-07-02 10:04"]
    assert "## Not a heading" in entries[1][1]  # a comment stays inside its one timeline line


def test_each_tool_s_documented_levels_map_to_sev() -> None:
    from ingest.sources.incidents import incidentio, jira, opsgenie, pagerduty
    from ingest.sources.incidents.model import level, severity

    cases = [
        (pagerduty.PRIORITIES, {"P1": "SEV1", "p3": "SEV3", "P5": "SEV5"}),
        (pagerduty.URGENCIES, {"high": "SEV2", "low": "SEV4"}),
        (opsgenie.PRIORITIES, {"P1": "SEV1", "P2": "SEV2", "P5": "SEV5"}),
        (jira.PRIORITIES, {"Highest": "SEV1", "High": "SEV2", "Medium": "SEV3", "Low": "SEV4", "Lowest": "SEV5",
                           "Blocker": "SEV1", "Major": "SEV2", "Trivial": "SEV5"}),
        (incidentio.SEVERITIES, {"Critical": "SEV1", "Major": "SEV2", "Minor": "SEV3", "SEV2": "SEV2"}),
    ]  # fmt: skip
    for names, written in cases:
        for value, expected in written.items():
            assert severity([level(value, names)]) == (expected, value), value
    # a level a team names itself is read by its form, a word is not: "High" means SEV2 to Jira only
    assert [level(w).sev for w in ("Sev 2", "SEV-0", "sev1", "P2", "High", "critical", "incident")] == [
        2, 0, 1, 2, None, None, None
    ]
    labels = [level(w) for w in ("incident", "", "sev3", "P1")]
    assert severity(labels) == ("SEV3", "sev3")  # the first label that maps
    assert severity([level("incident"), level("tls")]) == (None, "")


def test_a_semicolon_separated_csv_is_read_by_its_sniffed_delimiter(tmp_path: Path) -> None:
    import csv

    with (SAMPLES / "incidentio-incidents.csv").open(newline="") as source:
        rows = list(csv.reader(source))
    semicolons = tmp_path / "incidents.csv"
    with semicolons.open("w", newline="") as out:
        csv.writer(out, delimiter=";").writerows(rows)
    found = {r.front_matter["incident"]: r for r in parse_unit(Unit(semicolons), OPTIONS)}
    assert found["INC-61"].services == ["notifications", "mail-relay"] and found["INC-61"].duration == "1h 57m"


def test_an_export_with_no_incidents_says_so(tmp_path: Path) -> None:
    (tmp_path / "none.json").write_text(json.dumps({"incidents": [], "limit": 25, "offset": 0, "more": False}))
    (tmp_path / "none.csv").write_text("Summary,Issue key,Issue id,Priority,Created\n")
    for name in ("none.json", "none.csv"):
        with pytest.raises(EmptyDocument, match="the export holds no incidents"):
            parse_unit(Unit(tmp_path / name), OPTIONS)


def test_secrets_in_notes_titles_and_comments_are_redacted(tmp_path: Path) -> None:
    token = "ghp_Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"  # a GitHub token's shape, not a real one
    export = json.loads((SAMPLES / "pagerduty-incidents.json").read_text())
    export["incidents"][0]["title"] += f" (token {token})"
    export["log_entries"][2]["channel"]["summary"] = f"ran: export GITHUB_TOKEN={token}"
    (tmp_path / "pd.json").write_text(json.dumps(export))
    record = next(r for r in parse_unit(Unit(tmp_path / "pd.json"), OPTIONS) if r.front_matter["incident"] == "#4812")
    assert token not in record.model_dump_json() and "[REDACTED:" in record.text and "[REDACTED:" in record.title
    assert len(timeline(record)) == 4  # offsets still fit the text


def test_opsgenie_logs_and_notes_may_keep_their_response_wrapper(tmp_path: Path) -> None:
    export = json.loads((SAMPLES / "opsgenie-alerts.json").read_text())
    alert = export["data"][0]
    alert["logs"], alert["notes"] = {"data": alert["logs"], "took": 0.01}, {"data": alert["notes"]}
    (tmp_path / "og.json").write_text(json.dumps(export))
    assert len(timeline(parse_unit(Unit(tmp_path / "og.json"), OPTIONS)[0])) == 4


def test_entries_past_the_limit_are_counted_not_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.sources.incidents import model

    monkeypatch.setattr(model, "MAX_ENTRIES", 2)
    record = records("pagerduty-incidents.json")["#4812"]
    assert [when for when, _ in timeline(record)][:2] == ["2024-05-14 13:07", "2024-05-14 13:09"]
    assert "(2 more entries not imported: over 2)" in record.text and "Rolled back" not in record.text


# -- malformed ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_truncated_json_names_the_file_line_and_column(tmp_path: Path, name: str) -> None:
    text = (SAMPLES / name).read_text()
    broken = tmp_path / name
    broken.write_text(text[: len(text) // 2])
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(broken), OPTIONS)
    assert err.value.path == str(broken)
    assert "broken JSON at line" in err.value.reason and "column" in err.value.reason


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.csv")))
def test_broken_csv_names_the_file_and_line(tmp_path: Path, name: str) -> None:
    lines = (SAMPLES / name).read_text().splitlines()
    broken = tmp_path / name
    broken.write_text("\n".join([lines[0], lines[1], 'x,"an unclosed "quote, y', *lines[2:]]) + "\n")
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(broken), OPTIONS)
    assert err.value.path == str(broken) and "broken CSV at line 3" in err.value.reason


def test_files_of_no_incident_tool_are_refused_with_what_they_hold(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"name": "web", "version": "1.0.0"}))
    (tmp_path / "budget.csv").write_text("month,team,spend\n2024-01,sre,1200\n")
    (tmp_path / "2024-02-27.json").write_text(json.dumps([{"type": "message", "user": "U1", "ts": "1709074800.1"}]))
    with pytest.raises(UnsupportedFile, match=r"keys name, version: not an incident export \(PagerDuty"):
        parse_unit(Unit(tmp_path / "package.json"), OPTIONS)
    with pytest.raises(UnsupportedFile, match="a CSV with columns month, team, spend: not an incident export"):
        parse_unit(Unit(tmp_path / "budget.csv"), OPTIONS)
    with pytest.raises(UnsupportedFile, match="Slack channel's day file: ingest the whole export folder"):
        parse_unit(Unit(tmp_path / "2024-02-27.json"), OPTIONS)


def test_limits_on_size_nesting_and_incident_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"incidents": [], "pad": "x" * 4096}))
    with pytest.raises(ParseError, match="over the 0 MB limit"):
        parse_unit(Unit(big), ParseOptions(max_bytes=1024))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ParseError, match="nested more than"):
        parse_unit(Unit(deep), OPTIONS)
    monkeypatch.setattr(read, "MAX_INCIDENTS", 1)
    with pytest.raises(ParseError, match="holds 2 incidents, over the limit of 1; split it"):
        parse_unit(Unit(SAMPLES / "pagerduty-incidents.json"), OPTIONS)
    monkeypatch.setattr(read, "MAX_ROWS", 1)
    with pytest.raises(ParseError, match="more than 1 rows; split the export"):
        parse_unit(Unit(SAMPLES / "jira-issues.csv"), OPTIONS)


# -- end to end ----------------------------------------------------------------------------------------------


def test_kb_ingest_of_a_folder_of_exports(fake_kb: Ingestor, tmp_path: Path) -> None:
    folder = tmp_path / "exports"  # (a folder named "incidents" would make the notes a postmortem)
    folder.mkdir()
    for sample in SAMPLES.iterdir():  # the incident tools' exports (the folders beside them are wiki exports)
        if sample.is_file():
            shutil.copy(sample, folder / sample.name)
    (folder / "broken.json").write_text('{"incidents": [{"incident_number": 1,')
    (folder / "notes.md").write_text("# Notes\n\nOn-call handover notes.\n")
    slack = folder / "slack"
    (slack / "inc-checkout").mkdir(parents=True)
    (slack / "users.json").write_text(json.dumps([{"id": "U1", "name": "priya"}]))
    (slack / "channels.json").write_text(json.dumps([{"id": "C1", "name": "inc-checkout"}]))
    (slack / "inc-checkout" / "2024-05-14.json").write_text(
        json.dumps([{"type": "message", "user": "U1", "text": "checkout 5xx, rolling back", "ts": "1715692032.1"}])
    )
    units, skipped = discover([folder])
    assert skipped == [] and any(u.slack_export for u in units)

    report = fake_kb.run([folder])
    assert [(Path(f.path).name, "broken JSON at line 1" in f.error) for f in report.failed] == [("broken.json", True)]
    index = fake_kb.store.record_index()
    postmortems = {m.id: m for m in index.values() if m.kind == Kind.postmortem}
    assert len(postmortems) == 12 and report.added == 14  # 12 incidents, the notes, the Slack channel
    assert any(m.kind == Kind.chat for m in index.values())
    checkout = next(m for m in postmortems.values() if "Checkout API 5xx" in m.title)
    assert checkout.severity == "SEV1" and checkout.services == ["checkout"] and str(checkout.date) == "2024-05-14"
    stored = fake_kb.store.get_record(checkout.id)
    assert stored.duration == "54m" and len(timeline(stored)) == 4

    again = fake_kb.run([folder])
    assert again.added == again.updated == 0 and again.unchanged == 14
    assert set(fake_kb.store.record_index()) == set(index)

    # a newer export of the same incidents (a title edited, an entry added) updates the same documents
    export = json.loads((folder / "pagerduty-incidents.json").read_text())
    export["incidents"][1]["title"] = "orders-db connection slots exhausted"
    export["log_entries"].append({**export["log_entries"][-1], "type": "annotate_log_entry",
                                  "created_at": "2024-05-16T03:30:00Z", "summary": "Raised max_connections"})
    (folder / "pagerduty-incidents.json").write_text(json.dumps(export))
    newer = fake_kb.run([folder])
    assert newer.updated == 2 and newer.added == newer.removed == 0
    assert set(fake_kb.store.record_index()) == set(index)
    db = fake_kb.store.get_record("pagerduty-4820-orders-db-too-many-clients-already")
    assert db.title == "orders-db connection slots exhausted" and len(timeline(db)) == 3

    # a broken re-export fails alone and keeps what the store holds from the last good one
    (folder / "pagerduty-incidents.json").write_text('{"incidents": [')
    broken = fake_kb.run([folder])
    assert any(Path(f.path).name == "pagerduty-incidents.json" for f in broken.failed)
    assert fake_kb.store.get_record(checkout.id).duration == "54m"


def test_uploaded_exports_are_saved_and_ingested(fake_kb: Ingestor, tmp_path: Path) -> None:
    """What the Ingest page does with uploaded files: save them, then ingest the folder."""
    from ingest.uploads import save_uploads

    uploads = [(name, (SAMPLES / name).read_bytes()) for name in ("jira-issues.csv", "github-issues.json")]
    saved = save_uploads(tmp_path / "uploads" / "batch", uploads, 1024 * 1024)
    assert saved.refused == [] and sorted(p.name for p in saved.files) == ["github-issues.json", "jira-issues.csv"]
    report = fake_kb.run([saved.folder])
    assert report.failed == [] and report.added == 3
