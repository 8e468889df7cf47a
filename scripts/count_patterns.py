"""Count the regular expressions and word lists in kb/: how much of the library reads text by its wording.

A regular expression is for syntax (timestamps, prompts, front matter, code fences); meaning comes from the
embedding model and labelled examples (kb/retrieval/meaning.py). This prints, per file and in total, the
patterns compiled or applied with a literal string, their alternatives (top-level and nested ``|``), and
module-level word lists (tuples, lists, sets of three or more string literals).

    python scripts/count_patterns.py [--json] [ROOT]
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

RE_FUNCS = {"compile", "search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split", "linear"}


def _literal(node: ast.AST) -> str | None:
    """The string a pattern argument spells, when it is made of literals (joined, concatenated, f-strings)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "" for v in node.values)  # type: ignore[misc]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        return (left or "") + (right or "") if left is not None or right is not None else None
    return None


def _alternatives(pattern: str) -> int:
    count, escaped, in_class = 1, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "|" and not in_class:
            count += 1
    return count


def count_file(path: Path) -> dict[str, int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    patterns = alternatives = word_lists = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            base = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            if name in RE_FUNCS and (base in {"re", "regex"} or name == "linear"):
                text = _literal(node.args[0])
                if text is not None:
                    patterns += 1
                    alternatives += _alternatives(text)
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Call) and value.args:  # frozenset({...}), set([...])
            value = value.args[0]
        if isinstance(value, (ast.Tuple, ast.List, ast.Set)):
            strings = [e for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(strings) >= 3 and len(strings) == len(value.elts):
                word_lists += 1
    return {"patterns": patterns, "alternatives": alternatives, "word_lists": word_lists}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[1] / "kb"))
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    root = Path(args.root)
    files = {str(p.relative_to(root)): count_file(p) for p in sorted(root.rglob("*.py"))}
    total = {key: sum(f[key] for f in files.values()) for key in ("patterns", "alternatives", "word_lists")}
    if args.json:
        print(json.dumps({"total": total, "files": files}, indent=2))
        return 0
    print(f"{'file':<40} {'patterns':>8} {'alternatives':>12} {'word lists':>10}")
    for name, c in files.items():
        if any(c.values()):
            print(f"{name:<40} {c['patterns']:>8} {c['alternatives']:>12} {c['word_lists']:>10}")
    print(f"{'total':<40} {total['patterns']:>8} {total['alternatives']:>12} {total['word_lists']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
