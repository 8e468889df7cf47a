"""The MCP server with the SDK's own client, over stdio and over streamable HTTP, calling every tool."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import ROOT, sample_store_copy

pytestmark = pytest.mark.slow
mcp = pytest.importorskip("mcp", reason="the MCP tests need the 'mcp' extra (pip install -e '.[dev,mcp]')")

from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

ALERT = json.dumps({"labels": {"alertname": "PgBouncerPoolExhausted", "namespace": "data"},
                    "annotations": {"summary": "PgBouncer pool orders/orders_app has waiting clients"}})
READ_TOOLS = {"search_incidents", "find_runbook_for_alert", "get_document", "similar_incidents", "draft_runbook",
              "summarize_chat_log", "list_stale_runbooks", "ask_knowledge_base", "enrich_alert"}


@pytest.fixture(scope="module")
def store(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_store_copy(pristine_sample_store, tmp_path_factory.mktemp("mcp") / "store")


def data(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) and set(content) == {"result"} else content
    return json.loads(result.content[0].text)


async def exercise(session: ClientSession, writes: bool) -> None:
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    expected = READ_TOOLS | ({"propose_runbook_update", "apply_runbook_proposal", "ingest_files"} if writes else set())
    assert set(tools) == expected
    for tool in tools.values():
        assert tool.description and tool.input_schema.get("type") == "object"
    found = data(await session.call_tool("search_incidents", {"query": "pgbouncer pool exhausted", "kind": "postmortem"}))
    assert found and all(r["kind"] == "postmortem" for r in found) and found[0]["passages"]
    assert found[0]["match"] == "strong match"  # how well, in words an agent can act on
    newest = data(await session.call_tool("search_incidents", {"query": "pgbouncer pool exhausted", "kind": "postmortem",
                                                                "newest_first": True}))
    assert {r["id"] for r in newest} == {r["id"] for r in found}
    assert [r["date"] for r in newest] == sorted((r["date"] for r in newest), reverse=True)
    for_alert = data(await session.call_tool("find_runbook_for_alert", {"alert": ALERT}))
    assert for_alert["runbooks"][0]["id"] == "pgbouncer-pool-exhausted"
    enriched = data(await session.call_tool("enrich_alert", {"alert": ALERT}))
    assert enriched["runbook"]["doc_id"] == "pgbouncer-pool-exhausted" and enriched["incidents"]
    assert {c["n"] for c in enriched["citations"]} == {int(n) for n in re.findall(r"\[(\d+)\]", enriched["helped"])}
    doc = data(await session.call_tool("get_document", {"id": "pgbouncer-pool-exhausted"}))
    assert doc["kind"] == "runbook" and "SHOW POOLS" in doc["text"]
    sims = data(await session.call_tool("similar_incidents", {"id": "2025-01-08-session-cache-failover-2025"}))
    assert sims and all(s["id"] != "2025-01-08-session-cache-failover-2025" for s in sims)
    draft = data(await session.call_tool("draft_runbook", {"topic": "redis sentinel failover"}))
    assert draft["generator"] == "extractive" and all(i["citations"] for i in draft["items"])
    summary = data(await session.call_tool("summarize_chat_log", {"id": "2024-09-05-checkout-bad-migration"}))
    assert any(i["section"] == "timeline" for i in summary["items"])
    stale = data(await session.call_tool("list_stale_runbooks", {}))
    assert any(s["runbook_id"] == "pgbouncer-pool-exhausted" for s in stale)
    answer = data(await session.call_tool("ask_knowledge_base", {"question": "how did we fix the last redis failover?"}))
    assert answer["found"] and answer["items"] and all(i["citations"] for i in answer["items"])
    missing = await session.call_tool("get_document", {"id": "no-such-document"})
    assert missing.is_error and "no document with id" in missing.content[0].text
    if writes:
        proposal = data(await session.call_tool("propose_runbook_update", {"id": "pgbouncer-pool-exhausted"}))
        assert proposal["diff"] and Path(proposal["proposal"]).exists()
        by_path = await session.call_tool("apply_runbook_proposal", {"proposal_id": proposal["proposal"]})
        assert by_path.is_error and "not a file path" in by_path.content[0].text
        applied = data(await session.call_tool("apply_runbook_proposal", {"proposal_id": proposal["proposal_id"]}))
        assert applied["revision"]["number"] == 2


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"} | {"PYTHONPATH": str(ROOT)}


def test_every_tool_over_stdio_read_only(store: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "ui.cli.main", "--data-dir", str(store), "mcp"],
                                   env=env(), cwd=str(ROOT))

    async def main() -> None:
        async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
            await exercise(session, writes=False)

    anyio.run(main)


def test_every_tool_over_http_with_writes(store: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), "mcp", "--transport", "http", "--port",
         str(port), "--allow-writes"],
        cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.5)

        async def main() -> None:
            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as streams, ClientSession(
                streams[0], streams[1]
            ) as session:
                await exercise(session, writes=True)

        anyio.run(main)
    finally:
        server.terminate()
        server.wait(timeout=30)
