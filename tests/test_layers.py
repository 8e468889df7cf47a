"""The layer order, checked on the source: every import of every module under kb/, ingest/ and ui/, at the
top of a file or inside a function, points down this list, never up:

    ui                   shells: CLI, web, MCP server      may import ingest and kb
    ingest               sources, redaction, pipeline      may import kb
    kb.alerting          alert payloads, enrichment, Slack  reads the knowledge base for a firing alert
    kb.knowledge         the KnowledgeBase facade          wires every kb package below for the shells
    kb.ops               doctor, insights                  may import any kb package below
    kb.gameday           scenarios, game master, scoring
    kb.runbooks          drafts, proposals, revisions, staleness
    kb.generation        guard, grounding, prompting, ask, summary, catch-up
    kb.retrieval         embeddings, keyword, search, alerts, filters, similar, evaluation
    kb.text              analysis, steps, front matter, unified diffs
    kb.clients           the Chroma store, the OpenAI client, whole-file writes
    kb.core              models, errors, settings, bounded loading   imports nothing of the project

A module may import its own package freely; kb/__init__.py sits above every kb package, and no kb package
imports kb itself. Every kb module lives in one of these packages, so a new one has to be given a place here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The kb packages (and the facade module on top) from the bottom up: each may import only itself and those
#: before it.
KB_ORDER = (
    "core", "clients", "text", "retrieval", "generation", "runbooks", "gameday", "ops", "knowledge", "alerting",
)
#: The top-level packages from the bottom up, the same way.
TOP_ORDER = ("kb", "ingest", "ui")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Every project module ``path`` imports, with its line, wherever the import statement is (``ast.walk``
    visits function bodies too). ``from a import b`` counts as importing ``a.b``, which is enough to place
    it: b is a module of a or a name defined in a, and both sit in a's package."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            out += [(node.lineno, f"{base}.{alias.name}" if base else alias.name) for alias in node.names]
    return [(line, target) for line, target in out if target.split(".")[0] in TOP_ORDER]


def kb_layer(module: str) -> str | None:
    """The kb package a kb module belongs to (None for kb itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(path: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the imports of one module (empty when it keeps to the order)."""
    name = module_name(path, root)
    top = name.split(".")[0]
    out = []
    for line, target in imported(path, root):
        where = f"{path.relative_to(root)}:{line} imports {target}"
        target_top = target.split(".")[0]
        if TOP_ORDER.index(target_top) > TOP_ORDER.index(top):
            out.append(f"{where}: {top} is below {target_top}")
            continue
        if top != "kb" or target_top != "kb":
            continue
        mine, theirs = kb_layer(name), kb_layer(target)
        if mine is None:
            continue  # kb/__init__.py sits above every kb package
        if theirs is None:
            out.append(f"{where}: import from a kb package, not from kb itself")
        elif theirs not in KB_ORDER:
            out.append(f"{where}: kb.{theirs} has no place in the layer order ({', '.join(KB_ORDER)})")
        elif mine in KB_ORDER and KB_ORDER.index(theirs) > KB_ORDER.index(mine):
            out.append(f"{where}: kb.{mine} is below kb.{theirs}")
    return out


def sources() -> list[Path]:
    return sorted(p for top in TOP_ORDER for p in (ROOT / top).rglob("*.py"))


def test_every_kb_module_has_a_layer() -> None:
    strays = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "kb").rglob("*.py")
        if p != ROOT / "kb" / "__init__.py" and kb_layer(module_name(p)) not in KB_ORDER
    ]
    assert not strays, f"kb modules outside the layer order {KB_ORDER}: {strays}"


def test_imports_point_down_the_layers() -> None:
    found = [v for path in sources() for v in violations(path)]
    assert len(sources()) > 50  # the walk found the project
    assert not found, "imports against the layer order:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("where", "source", "wrong"),
    [
        ("kb/core/models.py", "from kb.clients.store import Store\n", "kb.core is below kb.clients"),
        ("kb/text/steps.py", "def f():\n    from kb.retrieval import search\n", "kb.text is below kb.retrieval"),
        ("kb/retrieval/search.py", "from ingest.pipeline import Ingestor\n", "kb is below ingest"),
        ("kb/ops/doctor.py", "import ui.cli.main\n", "kb is below ui"),
        ("ingest/pipeline.py", "from ui.web import common\n", "ingest is below ui"),
        ("kb/gameday/scenario.py", "from ..ops import insights\n", "kb.gameday is below kb.ops"),
        ("kb/runbooks/draft.py", "from kb import gameday\n", "kb.runbooks is below kb.gameday"),
    ],
)
def test_a_wrong_way_import_is_caught(tmp_path: Path, where: str, source: str, wrong: str) -> None:
    """The check itself: a copy of a module with one import against the order added is reported."""
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    original = (ROOT / where).read_text(encoding="utf-8")
    assert not violations(ROOT / where)
    path.write_text(original + "\n\n" + source, encoding="utf-8")
    found = violations(path, tmp_path)
    assert any(wrong in v for v in found), found
