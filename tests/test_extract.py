from __future__ import annotations

from datetime import date

from ingest import extract
from kb.retrieval import sectioning
from kb.text.front_matter import split_front_matter


def test_example_headings_are_named_word_for_word_without_the_model() -> None:
    def named(heading: str) -> str:
        return sectioning.name_sections([(heading, "")], use_model=False)[0]

    assert named("## 3. Root cause analysis:") == "root_cause"
    assert named("Timeline (UTC)") == "timeline"
    assert named("**Action items**") == "action_items"
    assert named("Cake recipes") == "other"


def test_severity_is_normalised() -> None:
    assert extract.normalise_severity("sev-2") == "SEV2"
    assert extract.normalise_severity("P1") == "SEV1"
    assert extract.normalise_severity(3) == "SEV3"
    assert extract.severity_from_text("Title\n**Severity:** SEV3\n") == "SEV3"
    assert extract.normalise_severity("banana") is None


def test_front_matter_and_broken_front_matter() -> None:
    front, start = split_front_matter("---\ntitle: X\nservices: [a, b]\n---\n# X\n")
    assert front["services"] == ["a", "b"] and start > 0
    assert split_front_matter("---\ntitle: [unclosed\n---\n# X\n") == ({}, 0)


def test_alerts_errors_and_services_come_from_text() -> None:
    text = (
        "`KubePodCrashLooping` fired, then alertname=CheckoutHighErrorRate. Logs said "
        "`FATAL: sorry, too many clients already` and a ConnectionRefusedError; 502 errors at the edge."
    )
    alerts = extract.alerts_from_text(text)
    assert "KubePodCrashLooping" in alerts and "CheckoutHighErrorRate" in alerts
    # a name that starts with "Alert" is one name, not "alert" and a name after it
    assert extract.alerts_from_text("AlertmanagerFailedToSendAlerts fires when sending fails") == [
        "AlertmanagerFailedToSendAlerts"]
    errors = extract.errors_from_text(text)
    assert "FATAL: sorry, too many clients already" in errors
    assert "ConnectionRefusedError" in errors
    assert "HTTP 502" in errors
    assert extract.services_from_text("Services: checkout, orders-db\n", set()) == ["checkout", "orders-db"]
    assert extract.services_from_text("Services: CoreDNS, inventory (all services, prod-eu-1)\n", set()) == [
        "CoreDNS", "inventory"]
    assert extract.services_from_text(
        "the checkout pods, checkout again and checkout once more; cart once", {"checkout", "cart", "auth"}
    ) == ["checkout"]  # named three times: strong evidence; once in passing: none


def test_dates() -> None:
    assert extract.date_from_text("Incident\nDate: 2024-08-13\n") == date(2024, 8, 13)
    assert extract.parse_date("2024-02-30") is None


def test_plain_sections_find_heading_lines() -> None:
    text = "Title line\nDate: 2024-01-01\n\nSummary\nIt broke.\n\nRoot cause\nA typo.\n\nAction items\n- fix\n"
    names = [s[0] for s in extract.plain_sections(text)]
    assert names == ["body", "summary", "root_cause", "action_items"]


def test_generic_words_in_service_lists_are_not_matched_in_other_texts() -> None:
    known = {"all", "platform", "checkout"}
    text = "all hands: the platform team fixed checkout"
    assert extract.services_from_text(text, known, title="Checkout down") == ["checkout"]


def test_a_name_another_document_declared_needs_strong_evidence_here() -> None:
    known = {"Monitoring", "orders-db", "checkout", "auth"}
    passing = "We added monitoring for the queue and paged the owner. Auth was fine."
    assert extract.services_from_text(passing, known) == []
    assert extract.services_from_text(passing, known, title="Monitoring gaps in the queue") == ["Monitoring"]
    in_command = "Connections piled up.\n\n```\npsql -h orders-db.internal -c 'select 1'\n```\n"
    assert extract.services_from_text(in_command, known) == ["orders-db"]
    as_host = "Requests to checkout.prod.example timed out for a while."
    assert extract.services_from_text(as_host, known) == ["checkout"]
    as_argument = "Pods restarted.\n\n```\nkubectl -n checkout rollout restart deploy/api\n```\n"
    assert extract.services_from_text(as_argument, known) == ["checkout"]
    as_verb = "Fix the chart.\n\n```\ngit checkout -b fix-chart\n```\n"
    assert extract.services_from_text(as_verb, known) == []


def test_service_ties_are_ordered_by_name_whatever_the_hash_seed() -> None:
    known = {"zeta", "alpha", "mid"}
    text = "zeta alpha mid " * 3
    assert extract.services_from_text(text, known) == ["alpha", "mid", "zeta"]


def test_a_service_key_in_a_code_block_is_not_the_documents_declaration() -> None:
    text = "# Restart the operator\n\n```yaml\nmetadata:\n  service: some-operator-svc\n```\n"
    assert extract.declared_services(text) == []
    assert extract.declared_services("Component: billing, ledger\n") == ["billing", "ledger"]


def test_dates_and_titles_from_file_names() -> None:
    assert extract.date_from_name("2024-03-05-foo.md") == date(2024, 3, 5)
    assert extract.date_from_name("incident_20240305.txt") == date(2024, 3, 5)
    assert extract.date_from_name("prow-2019-05-30.md") == date(2019, 5, 30)
    assert extract.date_from_name("build-12345678.txt") is None and extract.date_from_name("2024-02-30.md") is None
    assert extract.title_from_name("2024-03-05_db-failover.txt") == "Db failover (2024-03-05)"
    assert extract.title_from_name("notes.pdf") == "Notes"


def test_a_document_is_split_at_its_first_thousand_headings_and_keeps_the_rest_of_its_text() -> None:
    from ingest.sources.markdown import sections_of

    text = "".join(f"## Step {i}\nrun step {i}\n" for i in range(1500))
    for found in ([(n, h, s, e) for n, h, s, e in extract.plain_sections(text)],
                     [(s.name, s.heading, s.start, s.end) for s in sections_of(text)[1]]):
        assert len(found) == extract.MAX_SECTIONS
        assert found[-1][1] == f"Step {extract.MAX_SECTIONS - 1}"
        assert found[-1][3] == len(text)  # the text after the last heading read stays in the last section


def test_a_documents_day_comes_from_its_label_title_or_file_name_before_a_day_in_its_text() -> None:
    body = "# March 26th, 2019 Boskos Outage\n\nJobs failed between 2019-02-25 23:04 and 08:12.\n"
    assert extract.record_date(body, "March 26th, 2019 Boskos Outage", "boskos.md") == date(2019, 3, 26)
    untitled = "# Boskos outage\n\nJobs failed between 2019-02-25 23:04 and 08:12.\n"
    assert extract.record_date(untitled, "Boskos outage", "prow-2019-03-26.md") == date(2019, 3, 26)
    assert extract.record_date(untitled, "Boskos outage", "boskos.md") == date(2019, 2, 25)
    labelled = "# Outage on 3rd April 2020\n\nDate: 2020-04-02\n"
    assert extract.record_date(labelled, "Outage on 3rd April 2020", "2020-04-05-outage.md") == date(2020, 4, 2)
    assert extract.record_date("# Notes\n\nnothing dated\n", "Notes", "notes.md") is None
    assert extract.loose_date("Feb 3rd, 2021") == date(2021, 2, 3) and extract.loose_date("on 1st March 2024") == date(2024, 3, 1)
