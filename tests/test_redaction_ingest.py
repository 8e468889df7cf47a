"""Redaction applied to every field of every source, and nothing planted reaching the data directory."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from ingest.pipeline import Ingestor
from ingest.redaction.records import SecretInName
from ingest.sources import Unit, parse_unit
from ingest.sources.base import ParseOptions
from kb.clients.store import open_store
from kb.core.settings import Settings
from kb.retrieval.embeddings import model_id
from kb.retrieval.search import Query, open_searcher
from tests.fakes import HashingEmbedding

CORPUS = Path(__file__).parent / "redaction"

#: one vendor token per family, taken from the rule set's own corpus (tests/redaction/true_positives.jsonl)
VENDOR_RULES = (
    "github-pat",
    "gitlab-pat",
    "gitlab-runner-authentication-token",
    "npm-access-token",
    "pypi-upload-token",
    "sendgrid-api-token",
    "vault-service-token",
    "huggingface-access-token",
    "slack-bot-token",
    "stripe-access-token",
    "datadog-api-key",
    "openai-api-key",
)


def vendor_rows() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in (CORPUS / "true_positives.jsonl").read_text().splitlines()]
    chosen: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["rule"] in VENDOR_RULES:
            chosen.setdefault(row["rule"], []).append(row)
    assert len(chosen) >= 10, sorted(chosen)
    return [row for rule_rows in chosen.values() for row in rule_rows]


def sre_rows() -> list[tuple[str, str]]:
    rows = []
    for raw in (CORPUS / "sre_secrets.tsv").read_text().splitlines():
        if raw and not raw.startswith("#"):
            secret, line = raw.split("\t")
            rows.append((secret, line.replace("\\n", "\n")))
    return rows


GH = "ghp_Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
PG = "Vq8-ordersRW-2291"
HVS = "hvs.CAESIJlWh4q8Zt3Kp9Lm2Rt7Yw1Io5Pa8Sd3Fg6Hj0Kl2ZxGh4KHGh2cy5aTWNxVnlPV2tSR2FyUlQ4Y0RWbmhXUk0"
SLACK = "xoxb-2847561039-4829105736251-Qw7Er9Ty2Ui4Op6As8Df1Gh3"
REDIS = "Hk29-sess-Cache7"
NPM = "npm_a8Zk2Lm9Qw4Rt7Yu1Io3Pa5Sd6Fg8Hj0Kl2Z"

FRONT_MATTER_DOC = f"""---
title: "Orders outage, token {GH}"
date: 2024-05-14
services: [orders-api, "PGPASSWORD={PG}"]
severity: SEV2
tags: [pgbouncer, "{NPM}"]
owner: "elena (vault {HVS})"
duration: 47m
notes:
  rotated: "redis-cli -a {REDIS} ping"
  list: ["slack {SLACK}"]
---
# Orders outage

## Summary
Checkout failed for 47 minutes.

## Mitigation
Run `PGPASSWORD={PG} psql -h orders-db -U orders_app` and check SHOW POOLS.
"""


def write_slack_export(root: Path, secrets: list[str]) -> Path:
    export = root / "slack-export"
    (export / "incident-orders").mkdir(parents=True)
    users = [{"id": "U1", "name": "elena", "profile": {"display_name": f"elena {NPM}"}}, {"id": "U2", "name": "marco"}]
    (export / "users.json").write_text(json.dumps(users))
    channels = [
        {
            "id": "C1",
            "name": "incident-orders",
            "topic": {"value": f"orders down, db password PGPASSWORD={PG}"},
            "purpose": {"value": f"war room; bot token {SLACK}"},
        }
    ]
    (export / "channels.json").write_text(json.dumps(channels))
    messages = [
        {"type": "message", "user": "U1" if i % 2 else "U2", "text": line, "ts": f"{1715692032 + 60 * i}.000100"}
        for i, line in enumerate(["seeing 502s on checkout", *secrets, "mitigated, cl_waiting back to 0"])
    ]
    (export / "incident-orders" / "2024-05-14.json").write_text(json.dumps(messages))
    return export


def test_every_field_of_a_markdown_record_is_redacted(tmp_path: Path) -> None:
    path = tmp_path / "postmortems" / "orders.md"
    path.parent.mkdir()
    path.write_text(FRONT_MATTER_DOC)
    [record] = parse_unit(Unit(path), ParseOptions())
    dumped = record.model_dump_json()
    for secret in (GH, PG, NPM, HVS, REDIS, SLACK):
        assert secret not in dumped
    assert record.title.startswith("Orders outage, token [REDACTED:")
    assert "orders-api" in record.services
    assert "redis-cli -a [REDACTED:cli-password] ping" in str(record.front_matter["notes"])
    assert record.redactions >= 7


def test_slack_topic_purpose_and_user_names_are_redacted_and_offsets_still_hold(tmp_path: Path) -> None:
    export = write_slack_export(tmp_path, [f"use {GH} for the deploy", f"redis-cli -a {REDIS} info"])
    [record] = parse_unit(Unit(export, slack_export=True), ParseOptions())
    dumped = record.model_dump_json()
    for secret in (GH, PG, NPM, REDIS, SLACK):
        assert secret not in dumped
    assert record.title.startswith("#incident-orders: orders down") and "[REDACTED:" in record.title
    assert "[REDACTED:" in str(record.front_matter["purpose"])
    assert any(m.author.startswith("elena [REDACTED:") for m in record.messages)
    for message in record.messages:  # every message still points at its own line
        line = record.text[message.start : message.end]
        assert line.startswith("[2024-05-14") and line.endswith(message.text.splitlines()[-1])


def test_a_file_whose_name_holds_a_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / f"creds-{GH}.md"
    path.write_text("# Notes\n\nNothing secret in here.\n")
    with pytest.raises(SecretInName) as caught:
        parse_unit(Unit(path), ParseOptions())
    assert GH not in str(caught.value) and "github-pat" in str(caught.value)
    assert parse_unit(Unit(path), ParseOptions(redact=False))  # redaction off: the user asked for it


def planted_corpus(root: Path, pdfgen: ModuleType) -> list[str]:
    """Markdown, a Slack export, a transcript, a text file and a PDF holding secrets of every family."""
    vendor = vendor_rows()
    sre = sre_rows()
    docs = root / "docs"
    (docs / "postmortems").mkdir(parents=True)
    (docs / "postmortems" / "orders.md").write_text(
        FRONT_MATTER_DOC + "\n## Timeline\n" + "\n".join(f"- {row['text']}" for row in vendor[::2]) + "\n"
    )
    (docs / "runbooks").mkdir()
    (docs / "runbooks" / "pgbouncer.md").write_text(
        "# PgBouncer pool exhausted\n\n## Mitigation\n\n```\n" + "\n".join(line for _, line in sre) + "\n```\n"
    )
    (docs / "chats").mkdir()
    (docs / "chats" / "2024-05-14-orders.log").write_text(
        "\n".join(f"[2024-05-14 13:{i % 60:02d}:00] marco: {row['text']}" for i, row in enumerate(vendor[1::2])) + "\n"
    )
    (docs / "notes.txt").write_text("Orders notes\n\nsasl password and tokens:\n" + sre[0][1] + "\n" + sre[5][1] + "\n")
    write_slack_export(docs, [row["text"] for row in vendor[:20]] + [line for _, line in sre[:10]])
    pdf_lines = [f"Run PGPASSWORD={PG} psql -h orders-db", f"The token was {GH}", f"redis-cli -a {REDIS} ping"]
    (docs / "postmortems" / "orders-report.pdf").write_bytes(
        pdfgen.markdown_to_pdf("# Orders PDF\n\n## Summary\n\n" + "\n\n".join(pdf_lines) + "\n")
    )
    secrets = {row["secret"] for row in vendor} | {s for s, _ in sre} | {GH, PG, HVS, SLACK, REDIS, NPM}
    return sorted(secrets)


def where(found: list[str], files: list[Path]) -> list[str]:
    """Each secret found (its first 8 characters), the files holding it and the bytes just before it."""
    out = []
    for secret in found:
        for path in files:
            data = path.read_bytes().lower()
            at = data.find(secret.lower().encode())
            if at >= 0:
                out.append(f"{secret[:8]} in {path.name} after {data[max(0, at - 60) : at]!r}")
        out += [f"{secret[:8]} in a file name"] if not out or not out[-1].startswith(secret[:8]) else []
    return out


def test_no_planted_secret_reaches_any_byte_of_the_data_directory(tmp_path: Path, pdfgen: ModuleType) -> None:
    secrets = planted_corpus(tmp_path, pdfgen)
    settings = Settings(data_dir=tmp_path / "kb", lock_timeout_s=1.0, _env_file=None)  # type: ignore[call-arg]
    embedding = HashingEmbedding()
    store = open_store(settings, model_id(embedding))
    report = Ingestor(settings, store, embedding).run([tmp_path / "docs"])
    assert not report.failed, report.failed
    assert report.added >= 6 and report.redacted >= len(secrets)
    pdf = store.get_record("orders-report")
    assert pdf.format == "pdf" and pdf.text.count("[REDACTED:") >= 3
    searcher = open_searcher(settings, store, embedding)
    assert searcher.search(Query(text="pgbouncer password token orders"))  # builds and saves the keyword index
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "chroma.sqlite3" for p in files) and any("keyword" in p.parts for p in files)
    raw = b"\n".join(p.read_bytes() for p in files) + "\n".join(str(p) for p in files).encode()
    lowered = raw.lower()
    found = [s for s in secrets if s.encode() in raw or s.lower().encode() in lowered]
    assert not found, f"planted secrets in the data directory: {where(found, files)}"
    vocabulary = set(searcher.keyword._bm25.vocab_dict) if searcher.keyword._bm25 is not None else set()
    assert vocabulary
    pieces = [t for t in vocabulary if len(t) >= 10 and any(t in s.lower() for s in secrets)]
    assert not pieces, f"BM25 vocabulary holds pieces of planted secrets: {pieces[:5]}"


def test_a_slack_channel_named_after_a_secret_is_refused(tmp_path: Path) -> None:
    export = write_slack_export(tmp_path, ["hello"])
    channels = json.loads((export / "channels.json").read_text())
    channels[0]["name"] = f"deploy-{GH}"
    (export / "channels.json").write_text(json.dumps(channels))
    (export / "incident-orders").rename(export / f"deploy-{GH}")
    with pytest.raises(SecretInName) as caught:
        parse_unit(Unit(export, slack_export=True), ParseOptions())
    assert GH not in str(caught.value)


def test_catch_up_refuses_a_log_named_after_a_secret(tmp_path: Path) -> None:
    from ingest.tail import read_chat

    log = tmp_path / f"incident-{GH}.log"
    log.write_text("[2024-05-14 13:07:12] elena: seeing 502s\n[2024-05-14 13:08:00] marco: on it\n")
    settings = Settings(data_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SecretInName):
        read_chat(settings, log)
    assert not (tmp_path / "kb").exists() or GH.encode() not in b"".join(
        p.read_bytes() for p in (tmp_path / "kb").rglob("*") if p.is_file()
    )
