"""Keep the code in a shape a newcomer can read: print and enforce the limits of docs/architecture.md.

- no module of kb/, ingest/ or ui/ over MAX_MODULE_LINES lines;
- no function or method over MAX_FUNCTION_LINES lines (decorators and docstring included);
- no broad ``except Exception`` (or ``BaseException``, or a bare ``except:``) except where BROAD_EXCEPT allows
  one: the store's single error wrapper, and the per-file boundaries that keep one bad file or page from
  stopping the rest. A new one needs its reason written here.

    python scripts/check_shape.py          # prints the largest modules and functions; exit 1 on a breach
    python scripts/check_shape.py --json   # the same figures for scripts
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kb", "ingest", "ui")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

#: (module path, enclosing function) -> why a broad except is right there
BROAD_EXCEPT: dict[tuple[str, str], str] = {
    ("kb/clients/store.py", "_translated"): "the store's one wrapper: any Chroma, sqlite or HTTP failure becomes a "
    "StoreError naming the operation",
    ("ingest/pipeline.py", "_scan"): "one file's failure, whatever it is, is reported for that file and the run "
    "goes on",
    ("ingest/sources/pdf.py", "page_texts"): "pypdf raises many kinds of error on hostile bytes (PdfReadError, "
    "KeyError, OverflowError...); the file is reported",
    ("ingest/uploads.py", "_unzip"): "hostile archive headers raise more than BadZipFile; the member or upload is "
    "reported, the others are staged",
    ("kb/retrieval/embeddings.py", "_embed"): "the openai package raises many types; one message for people",
    ("ui/cli/service.py", "handle"): "whatever a command raises in the search service, the command runs again in "
    "its own process, which shows the error as it always did",
    ("kb/alerting/dispatch.py", "_handle"): "the enrichment worker: whatever one alert group's enrichment raises is "
    "logged for that group, which is released for the sender's next re-send, and the worker goes on",
    ("ui/cli/service.py", "main"): "the search service runs detached: any failure to start or serve is written to "
    "its log, and commands run in their own processes",
}


@dataclass(frozen=True)
class Breach:
    kind: str  # "module", "function" or "except"
    where: str  # path[:line]
    name: str
    size: int  # lines (0 for an except)


def _python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _enclosing(tree: ast.AST) -> dict[ast.AST, str]:
    """Each node -> the name of the innermost function around it ("" at module level)."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else name
            owner[child] = inner
            visit(child, inner)

    visit(tree, "")
    return owner


def _is_broad(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return handler.type is None or any(isinstance(k, ast.Name) and k.id in ("Exception", "BaseException")
                                       for k in kinds)


def measure() -> tuple[list[Breach], list[Breach]]:
    """(breaches, the ten largest modules and functions for the report)."""
    breaches: list[Breach] = []
    sizes: list[Breach] = []
    for path in _python_files():
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        sizes.append(Breach("module", rel, path.stem, lines))
        if lines > MAX_MODULE_LINES:
            breaches.append(Breach("module", rel, path.stem, lines))
        tree = ast.parse(source, rel)
        owner = _enclosing(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                sizes.append(Breach("function", f"{rel}:{node.lineno}", node.name, length))
                if length > MAX_FUNCTION_LINES:
                    breaches.append(Breach("function", f"{rel}:{node.lineno}", node.name, length))
            elif isinstance(node, ast.ExceptHandler) and _is_broad(node):
                if (rel, owner.get(node, "")) not in BROAD_EXCEPT:
                    breaches.append(Breach("except", f"{rel}:{node.lineno}", owner.get(node, "") or "<module>", 0))
    largest = sorted(sizes, key=lambda b: -b.size)
    top = [b for b in largest if b.kind == "module"][:5] + [b for b in largest if b.kind == "function"][:5]
    return breaches, top


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    breaches, top = measure()
    if args.json:
        print(json.dumps({"limits": {"module_lines": MAX_MODULE_LINES, "function_lines": MAX_FUNCTION_LINES},
                          "largest": [asdict(b) for b in top], "breaches": [asdict(b) for b in breaches]},
                         indent=2))
    else:
        print(f"shape: modules <= {MAX_MODULE_LINES} lines, functions <= {MAX_FUNCTION_LINES} lines, "
              f"broad excepts only where scripts/check_shape.py says why")
        for b in top:
            print(f"  largest {b.kind:<8} {b.size:>4} lines  {b.where} {b.name}")
        for b in breaches:
            what = "broad except" if b.kind == "except" else f"{b.kind} of {b.size} lines"
            print(f"  OVER: {what}: {b.where} {b.name}")
        print("shape: ok" if not breaches else f"shape: {len(breaches)} over the limits")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
