"""The MCP server's ingest_files tool with the SDK's own client over stdio (`kb mcp --allow-writes --ingest-root
DIR`, the real model, an empty store): incident-tool, Confluence and Notion exports are ingested through the
pipeline and then found by search_incidents; a malformed export fails alone with its reason; a path out of the
ingest folder (``..``, an absolute path, a symbolic link) is refused and nothing of it is stored; without an ingest
folder the tool refuses; a second run changes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import ROOT
from tests.test_mcp import data

pytestmark = pytest.mark.slow
mcp = pytest.importorskip("mcp", reason="the MCP tests need the 'mcp' extra (pip install -e '.[dev,mcp]')")

from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

IMPORTS = ROOT / "tests" / "imports"
SECRET_TITLE = "Vault unseal keys lost in the basement fire"
SECRET = f"""---
title: {SECRET_TITLE}
date: 2024-06-01
kind: postmortem
services: [vault]
severity: SEV1
---
# {SECRET_TITLE}

## Summary

The vault cluster could not be unsealed after the basement fire destroyed two of the three key shares.
"""


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"} | {"PYTHONPATH": str(ROOT)}


def kb_mcp(store: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "ui.cli.main", "--data-dir", str(store), "mcp",
                                                               *args], env=env(), cwd=str(ROOT))


def refused(result: Any) -> str:
    assert result.is_error, result.content
    return str(result.content[0].text)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """(the ingest folder: exports as teams download them, one malformed, one of no known format, and two
    links out of it; a folder beside it that no call may read)."""
    root, outside = tmp_path / "exports", tmp_path / "private"
    (root / "pagerduty").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(IMPORTS / "pagerduty-incidents.json", root / "pagerduty" / "incidents.json")
    shutil.copytree(IMPORTS / "notion", root / "wiki" / "notion")
    shutil.copytree(IMPORTS / "confluence", root / "wiki" / "confluence")
    text = (IMPORTS / "opsgenie-alerts.json").read_text(encoding="utf-8")
    (root / "wiki" / "opsgenie-truncated.json").write_text(text[: len(text) // 2], encoding="utf-8")
    (root / "wiki" / "diagram.vsdx").write_bytes(b"PK\x03\x04 not read")
    (outside / "vault-postmortem.md").write_text(SECRET, encoding="utf-8")
    (root / "wiki" / "leak.md").symlink_to(outside / "vault-postmortem.md")
    (root / "private").symlink_to(outside, target_is_directory=True)
    return root, outside


def by_path(files: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in files}


def test_ingest_files_inside_the_ingest_folder_only(folders: tuple[Path, Path], tmp_path: Path) -> None:
    root, outside = folders
    store = tmp_path / "store"

    async def main() -> None:
        async with stdio_client(kb_mcp(store, "--allow-writes", "--ingest-root", str(root))) as streams, \
                ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert "ingest_files" in tools and "path" in tools["ingest_files"].input_schema["properties"]

            # one export file
            one = data(await session.call_tool("ingest_files", {"path": "pagerduty/incidents.json"}))
            assert one["ingested"] == 1 and one["failed"] == 0
            (pd,) = one["files"]
            assert pd["path"] == "pagerduty/incidents.json" and pd["result"] == "ingested" and pd["as"] == "added"
            assert len(pd["records"]) == 2 and pd["passages"] > 0  # two PagerDuty incidents, one document each
            found = data(await session.call_tool("search_incidents", {"query": "checkout API 5xx rate above 5%"}))
            assert found[0]["id"] in pd["records"], [r["id"] for r in found]

            # a folder: Notion and Confluence exports ingested, the broken export and the links out fail alone
            wiki = data(await session.call_tool("ingest_files", {"path": "wiki"}))
            files = by_path(wiki["files"])
            ingested = {p for p, f in files.items() if f["result"] == "ingested"}
            assert any(p.startswith("wiki/notion/") and p.endswith(".md") for p in ingested), files
            assert any(p.startswith("wiki/confluence/") for p in ingested), files
            broken = files["wiki/opsgenie-truncated.json"]
            assert broken["result"] == "failed" and "broken JSON at line" in broken["reason"]
            assert files["wiki/diagram.vsdx"]["result"] == "skipped"
            leak = files["wiki/leak.md"]  # a link to a file outside the ingest folder
            assert leak["result"] == "failed" and "outside the folder" in leak["reason"]
            assert {p for p, f in files.items() if f["result"] == "failed"} == {"wiki/opsgenie-truncated.json",
                                                                               "wiki/leak.md"}
            assert wiki["failed"] == 2 and wiki["ingested"] == len(ingested)
            redis = data(await session.call_tool("search_incidents", {"query": "redis session cache failover"}))
            assert any(r["id"] in {i for f in files.values() for i in f.get("records", [])} for r in redis[:3])

            # ways out of the ingest folder: refused, nothing read
            for escape in ("../private/vault-postmortem.md", str(outside / "vault-postmortem.md"), "private",
                           "private/vault-postmortem.md", "wiki/leak.md", "wiki/../../private", "/etc/passwd"):
                why = refused(await session.call_tool("ingest_files", {"path": escape}))
                assert "outside the folder this server may ingest" in why, (escape, why)
            assert "no such file" in refused(await session.call_tool("ingest_files", {"path": "pagerduty/gone.json"}))
            vault = data(await session.call_tool("search_incidents", {"query": "vault unseal keys basement fire"}))
            assert all(r["title"] != SECRET_TITLE for r in vault)

            # the same folder again: nothing changes
            again = data(await session.call_tool("ingest_files", {"path": "."}))
            assert again["ingested"] == 0 and again["unchanged"] == 1 + len(ingested)

    anyio.run(main)


def test_without_an_ingest_folder_the_tool_refuses(folders: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = folders

    async def main() -> None:
        async with stdio_client(kb_mcp(tmp_path / "store", "--allow-writes")) as streams, \
                ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            why = refused(await session.call_tool("ingest_files", {"path": str(root / "pagerduty")}))
            assert "without --ingest-root" in why
            assert data(await session.call_tool("search_incidents", {"query": "checkout API 5xx"})) == []

    anyio.run(main)
    # read-only, the ingest folder is a mistake to point out, not to ignore
    result = subprocess.run([sys.executable, "-m", "ui.cli.main", "--data-dir", str(tmp_path / "store"), "mcp",
                             "--ingest-root", str(root)], env=env(), cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode != 0 and "--ingest-root goes with --allow-writes" in result.stderr
