"""How long `kb search` (and `kb similar`) take as a process, started as a user starts them.

Each command is started N times as a subprocess (the `kb` console script beside this interpreter, else
``python -m ui.cli.main``) on an ingested store, after one untimed run that warms the file cache, and the
script prints the median and 95th percentile of the wall-clock time, and of the CPU time the process and its
children used. In the same run it times the baselines: ``python -c pass`` (the interpreter alone), the
command run in its own process (``KB_SERVICE=off``), and with ``--compare-root`` the same command from
another checkout (e.g. the code before a change). With ``--check`` it also compares the JSON output of
the service and of the command run in its own process, query by query.

    python scripts/bench_cli.py --data-dir DIR [--runs 10] [--query TEXT ...] [--similar ID] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ui.cli import client  # noqa: E402 - the repository's own module, after its path

QUERIES = (
    "pods crashloop after deploy",
    "database connection pool exhausted",
    "certificate expired tls handshake errors",
    "disk full on node",
    "high latency 502 errors from ingress",
)


def kb_command() -> list[str]:
    script = Path(sys.executable).with_name("kb")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ui.cli.main"]


def environment(data_dir: Path, root: Path, service: bool) -> dict[str, str]:
    """The user's environment without settings of ours, pointed at the store and the code under ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENAI_"))}
    env.update(KB_DATA_DIR=str(data_dir), PYTHONPATH=str(root), KB_SERVICE="on" if service else "off")
    return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def row(name: str, commands: list[list[str]], env: dict[str, str], runs: int) -> dict[str, float | str]:
    timed(commands[0], env)  # warms the file cache (and, for the service, starts it)
    walls, cpus = [], []
    for i in range(runs):
        wall, cpu, _ = timed(commands[i % len(commands)], env)
        walls.append(wall)
        cpus.append(cpu)
    result: dict[str, float | str] = {
        "command": name,
        "median_s": statistics.median(walls),
        "p95_s": percentile(walls, 0.95),
        "cpu_median_s": statistics.median(cpus),
    }
    print(
        f"{name:50} median {result['median_s']:6.3f} s  p95 {result['p95_s']:6.3f} s  "
        f"cpu median {result['cpu_median_s']:6.3f} s  ({runs} runs)",
        flush=True,
    )
    return result


def wait_for_service(env: dict[str, str], timeout: float = 600.0) -> bool:
    """Whether the service for this store answers within ``timeout`` seconds of being started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.ping(environ=env):
            return True
        time.sleep(0.5)
    return False


def check(commands: list[list[str]], envs: dict[str, dict[str, str]]) -> int:
    """Commands whose output (JSON) differs between the ways of running them (the first is the reference)."""
    names = list(envs)
    differ = 0
    for command in commands:
        outputs = {name: timed(command, envs[name])[2] for name in names}
        for name in names[1:]:
            if outputs[name] != outputs[names[0]]:
                differ += 1
                print(f"differs ({name} vs {names[0]}): {' '.join(command[-4:])}")
    pairs = len(commands) * (len(names) - 1)
    print(f"identical output ({', '.join(names[1:])} vs {names[0]}): {pairs - differ}/{pairs} (command, way) pairs")
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="an ingested store (KB_DATA_DIR)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--query", action="append", help="a query (repeatable; default five symptoms)")
    parser.add_argument("--similar", metavar="'ID [OPTIONS]'", help="also time `kb similar ID [OPTIONS]`")
    parser.add_argument("--compare-root", type=Path, help="also time the command from this checkout, in its process")
    parser.add_argument("--inprocess-runs", type=int, help="runs of the commands in their own process (default --runs)")
    parser.add_argument("--check", action="store_true", help="compare service and own-process output")
    args = parser.parse_args()
    kb, queries = kb_command(), args.query or list(QUERIES)
    slow_runs = args.inprocess_runs or args.runs
    on, off = environment(args.data_dir, ROOT, True), environment(args.data_dir, ROOT, False)
    print(f"command: {' '.join(kb)}; store {args.data_dir}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
    searches = [[*kb, "search", q] for q in queries]
    similars = [[*kb, "similar", *shlex.split(args.similar)]] if args.similar else []
    rows = [row("python -c pass", [[sys.executable, "-c", "pass"]], off, args.runs)]
    if args.compare_root:
        before = environment(args.data_dir, args.compare_root, False)
        rows.append(row("kb search (compare root)", searches, before, slow_runs))
        if similars:
            rows.append(row("kb similar (compare root)", similars, before, slow_runs))
    rows.append(row("kb search (own process, KB_SERVICE=off)", searches, off, slow_runs))
    if similars:
        rows.append(row("kb similar (own process, KB_SERVICE=off)", similars, off, slow_runs))
    client.stop(environ=on)
    timed(searches[0], on)  # finds no service: starts one, answers in its own process
    if not wait_for_service(on):
        print("the service did not start", file=sys.stderr)
        return 1
    rows.append(row("kb search (service; cpu: the command's only)", searches, on, args.runs))
    if similars:
        rows.append(row("kb similar (service; cpu: the command's only)", similars, on, args.runs))
    differ = 0
    if args.check:
        envs = {"own process": off, "service": on}
        if args.compare_root:
            envs = {"compare root": environment(args.data_dir, args.compare_root, False), **envs}
        differ = check([[*c, "--json"] for c in searches + similars], envs)
    client.stop(environ=on)
    print(json.dumps(rows))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
