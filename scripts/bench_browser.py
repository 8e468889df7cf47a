"""Web UI speed in a real browser: how long each page takes until it can be used. Figures, not asserts.

usage: python scripts/bench_browser.py [--data-dir STORE] [--repeats 5] [--cold-repeats 5] [--pages search,ask]
                                       [--apptest-queries 5] [--no-apptest] [--json]

`kb ui` is started on a free loopback port over a knowledge base (a fresh temporary store with data/ ingested
by `kb ingest`, or --data-dir, whose pages are only visited: nothing is written to it unless a page writes on
a visit) and Debian's Chromium (/usr/bin/chromium) is driven with Playwright. One browser process serves the
whole run; every visit opens a fresh browser context (no cookies, no cache, a new Streamlit session).

A page is usable when, at one moment:
  - Streamlit is idle: the app root's data-test-script-state is "notRunning", its connection is "CONNECTED",
    and the status widget shows no running icon and no connection message (the widget's 200 ms fade-out is
    not waited for: the page can be used while it fades);
  - the page's main content is visible (the search box, the chat answer, the document's facts, ...).
The time is taken in the page (performance.now(): milliseconds since the navigation started), polled on
every animation frame. For the two interactions (a search typed in the box, a question asked in the chat)
the time runs from the key press that sends it to the results shown and Streamlit idle again.

Cold is the first visit after the server process started: the embedding model, the store and the keyword
index load then (the "Loading the knowledge base..." spinner). Each cold figure is a page visited first on a
server started anew for it, so --cold-repeats N starts the server N times per page; the two interactions are
timed on that same first visit (the first search or question of the process). Warm is a visit to a server
that has already served every page once (a second visitor), each in a fresh browser context.

Printed next to them: the baseline, the same measurement of a Streamlit page holding one st.write served
with the same options (Streamlit's own floor in this browser), each page's ratio to it, and the server-side
figures of scripts/bench_ui.py (AppTest: the page script alone, no browser) over the same store.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ui.cli import ui_cmd  # noqa: E402  (after the path is set, so this checkout's code is measured)
from ui.web import keys, local_server  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DEFAULT_DOC = "2024-09-05-checkout-rollback-bad-migration"
WAIT_MS = 120_000
BASELINE_APP = 'import streamlit as st\n\nst.write("Streamlit floor: one st.write")\n'
QUESTIONS = [
    "how did we fix the last redis failover?",
    "what did we do when pgbouncer ran out of connections?",
    "how was the checkout rollback handled?",
    "why did kafka consumers lag?",
    "how did we recover from the expired tls certificate?",
    "what happened when dns lookups failed?",
]

# Usable: Streamlit idle and every (selector, text) visible at the same moment; returns performance.now().
READY_JS = """
([checks, since]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testScriptState !== 'notRunning' || app.dataset.testConnectionState !== 'CONNECTED')
    return false;
  if (document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stConnectionStatus"]'))
    return false;
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const says = (e, text) => !text || (e.value || e.textContent || '').includes(text);
  const visible = ([selector, text]) => [...document.querySelectorAll(selector)].some((e) => shown(e) && says(e, text));
  return checks.every(visible) && performance.now() - since;
}
"""

# What stands between a page and usable, for the message when it never gets there.
BLOCKED_JS = """
(checks) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const says = (e, text) => !text || (e.value || e.textContent || '').includes(text);
  const visible = ([selector, text]) => [...document.querySelectorAll(selector)].some((e) => shown(e) && says(e, text));
  return {
    script: app && app.dataset.testScriptState, connection: app && app.dataset.testConnectionState,
    running: !!document.querySelector('[data-testid="stStatusWidgetRunningIcon"]'),
    missing: checks.filter((check) => !visible(check)),
  };
}
"""


@dataclass
class Visit:
    """One page visit: its address, what must be visible for it to be usable, and an optional interaction
    (typed and sent once the page is usable) with what must be visible after it."""

    name: str
    path: str
    ready: list[tuple[str, str]]
    send: tuple[str, list[str]] | None = None  # (input selector, texts to send in turn: one per visit)
    key: str = "Enter"
    done: list[tuple[str, str]] = field(default_factory=list)
    sent: str = ""  # the interaction's name in the table


ENTER_SENDS = "html." + keys.marker("search_box")  # the Search page's Enter script is in place


def visits(doc_id: str, queries: list[str]) -> list[Visit]:
    heading = '[data-testid="stHeading"]'
    search_box = '.st-key-search_box textarea'
    chat = '[data-testid="stChatInput"] textarea'
    return [
        # the box sends its value on Enter once the page's Enter script is in place (ui/web/keys.py: it marks the
        # document; it may run after the page is drawn, and Enter before it adds a line); the results are the
        # documents' Open buttons
        Visit("Search", "/", [(heading, "Search past incidents"), (search_box, ""), (ENTER_SENDS, "")],
              send=(search_box, queries),
              done=[('[class*="st-key-open-"] button', "Open")], sent="Search + query"),
        # the answer: the assistant's message with its confidence caption
        Visit("Ask", "/ask", [(heading, "Ask the knowledge base"), (chat, "")], send=(chat, QUESTIONS),
              done=[('[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatarAssistant"])',
                     "confidence")], sent="Ask + question"),
        Visit("Document", f"/document?id={doc_id}", [('[data-testid="stSelectbox"] input', doc_id),
                                                      ('[data-testid="stMetric"]', "Duration")]),
        # the newest stored chat log, summarised as a cited postmortem draft
        Visit("Summaries", "/summaries", [(heading, "Incident summaries"), ('[data-testid="stDownloadButton"]', "")]),
        Visit("Runbooks", "/runbooks", [(heading, "Runbooks"), ('[data-testid="stDataFrame"]', "")]),
        Visit("Game day", "/gameday", [(heading, "Game day"), ("button", "Spin the wheel")]),
        Visit("Ingest", "/ingest", [(heading, "Ingest"), ('[data-testid="stFileUploader"]', "")]),
        Visit("Insights", "/insights", [(heading, "Stale runbooks"), ('[data-testid="stVegaLiteChart"]', "")]),
    ]


BASELINE = Visit("Baseline (one st.write)", "/", [('[data-testid="stMarkdown"]', "Streamlit floor")])


def kb_env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    env["KB_DATA_DIR"] = str(store)
    env["KB_SERVICE"] = "off"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@contextmanager
def serving(app: Path | None, store: Path, log: Path) -> Iterator[str]:
    """`kb ui` (or Streamlit with `kb ui`'s options over ``app``) on a free loopback port, until the block ends."""

    def command(port: int) -> list[str]:
        cmd = ui_cmd.command(argparse.Namespace(port=port, address="127.0.0.1", max_upload_mb=50))
        if app is not None:
            cmd[cmd.index(str(ui_cmd.APP))] = str(app)
        return cmd

    try:
        with local_server.serving(command, kb_env(store), log, timeout_s=120) as url:
            yield url
    except local_server.NotServing as e:
        raise SystemExit(str(e)) from None


def visit(browser: Any, url: str, v: Visit, n: int) -> tuple[float, float | None]:
    """One visit in a fresh context: ms until usable, and ms of the interaction (if the visit has one)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url + v.path, wait_until="commit")
        fail_on_exception(page, v, "loading")
        load = usable(page, v, v.ready, 0)
        fail_on_exception(page, v, "loading")
        if v.send is None:
            return load, None
        selector, texts = v.send
        box = page.locator(selector).first
        box.fill(texts[n % len(texts)])
        since = float(page.evaluate("performance.now()"))
        box.press(v.key)
        # the run starts on the server only after the key press reaches it: wait for it to leave idle first,
        # unless it has already finished (the results shown)
        page.wait_for_function(
            "([checks, since]) => document.querySelector('[data-testid=\"stApp\"]').dataset.testScriptState"
            " !== 'notRunning' || (" + READY_JS + ")([checks, since])",
            arg=[v.done, since], polling="raf",
        )
        took = usable(page, v, v.done, since)
        fail_on_exception(page, v, "the interaction")
        return load, took
    finally:
        context.close()


def usable(page: Any, v: Visit, checks: list[tuple[str, str]], since: float) -> float:
    """ms from ``since`` (page time) until Streamlit is idle with every check visible."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return float(page.wait_for_function(READY_JS, arg=[checks, since], polling="raf").json_value())
    except PlaywrightTimeout:
        raise SystemExit(f"{v.name}: not usable after {WAIT_MS / 1000:.0f} s: "
                         f"{page.evaluate(BLOCKED_JS, checks)}") from None


def fail_on_exception(page: Any, v: Visit, when: str) -> None:
    errors = page.locator('[data-testid="stException"]')
    if errors.count():
        raise SystemExit(f"{v.name}: Streamlit shows an exception during {when}: {errors.first.inner_text()[:2000]}")


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)],
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def measure(browser: Any, store: Path, base: Path, pages: list[Visit], repeats: int, cold_repeats: int,
            say: Callable[[str], None]) -> dict[str, dict[str, list[float]]]:
    """Cold and warm times of each page (and interaction), in ms."""
    times: dict[str, dict[str, list[float]]] = {}

    def keep(name: str, kind: str, ms: float) -> None:
        times.setdefault(name, {"cold": [], "warm": []})[kind].append(ms)

    baseline_app = base / "baseline.py"
    baseline_app.write_text(BASELINE_APP, encoding="utf-8")
    for i in range(cold_repeats):
        with serving(baseline_app, store, base / "baseline.log") as url:
            keep(BASELINE.name, "cold", visit(browser, url, BASELINE, i)[0])
        for v in pages:
            with serving(None, store, base / "ui.log") as url:
                load, took = visit(browser, url, v, i)
            keep(v.name, "cold", load)
            if took is not None:
                keep(v.sent, "cold", took)
        say(f"  cold round {i + 1}/{cold_repeats} done")
    with serving(baseline_app, store, base / "baseline.log") as url:
        visit(browser, url, BASELINE, 0)
        for i in range(repeats):
            keep(BASELINE.name, "warm", visit(browser, url, BASELINE, i)[0])
    with serving(None, store, base / "ui.log") as url:
        for v in pages:  # every page once, so the server has loaded all it loads
            visit(browser, url, v, repeats)
        for i in range(repeats):
            for v in pages:
                load, took = visit(browser, url, v, i)
                keep(v.name, "warm", load)
                if took is not None:
                    keep(v.sent, "warm", took)
    say("  warm rounds done")
    return times


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pick_document(store: Path, wanted: str | None) -> str:
    """--doc, else the sample postmortem the browser tests open, else the store's first postmortem."""
    from kb.core.models import Kind
    from kb.core.settings import Settings
    from kb.knowledge import open_kb

    ids = open_kb(Settings(data_dir=store, _env_file=None), llm=False).ids_of(Kind.postmortem)  # type: ignore[call-arg]
    if wanted:
        if wanted not in ids:
            raise SystemExit(f"--doc {wanted}: no such postmortem in the store")
        return wanted
    if not ids:
        raise SystemExit("the store holds no postmortem to open on the Document page")
    return DEFAULT_DOC if DEFAULT_DOC in ids else sorted(ids)[0]


def table(times: dict[str, dict[str, list[float]]], apptest: dict[str, float] | None) -> list[str]:
    base = times[BASELINE.name]
    floor = {k: statistics.median(base[k]) if base[k] else math.nan for k in ("cold", "warm")}
    lines = [
        f"{'page':<26}{'cold median':>12}{'p95':>8}{'min':>8}{'max':>8}{'x floor':>9}"
        f"{'warm median':>13}{'p95':>8}{'min':>8}{'max':>8}{'x floor':>9}",
    ]
    for name, kinds in times.items():
        row = f"{name:<26}"
        for kind in ("cold", "warm"):
            if not kinds[kind]:
                row += f"{'-':>12}{'':>33}" if kind == "cold" else f"{'-':>13}{'':>33}"
                continue
            s = summary(kinds[kind])
            ratio = s["median"] / floor[kind]
            width = 12 if kind == "cold" else 13
            row += f"{s['median']:>{width}.0f}{s['p95']:>8.0f}{s['min']:>8.0f}{s['max']:>8.0f}{ratio:>8.1f}x"
        lines.append(row)
    lines.append("ms in the browser; interactions (+ query, + question) from the key press; x floor = median / "
                 "the baseline's median of the same kind")
    if apptest:
        lines += [
            "",
            "Server side, scripts/bench_ui.py (AppTest: the page script alone, no browser), same store:",
            f"  first render cold {apptest['cold_s'] * 1000:.0f} ms, warm {apptest['warm_s'] * 1000:.0f} ms, "
            f"rerun {apptest['rerun_s'] * 1000:.0f} ms; first search {apptest['first_search_ms']:.0f} ms, "
            f"search median {apptest['search_median_ms']:.0f} ms, p95 {apptest['search_p95_ms']:.0f} ms "
            f"({int(apptest['queries'])} queries)",
        ]
    return lines


def ingest_sample(base: Path) -> Path:
    corpus = base / "corpus"
    shutil.copytree(ROOT / "data", corpus)
    store = base / "store"
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), "ingest", str(corpus)],
        capture_output=True, text=True, check=False, cwd=base, env=kb_env(store),
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit("ingesting the sample corpus failed")
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="an existing store (default: data/ ingested into a fresh one)")
    parser.add_argument("--doc", help="the postmortem the Document page opens")
    parser.add_argument("--repeats", type=int, default=5, help="warm visits per page (default 5)")
    parser.add_argument("--cold-repeats", type=int, default=5,
                        help="server starts per page for the cold figures (default 5; 0 skips cold)")
    parser.add_argument("--pages", help="comma-separated pages to measure (default: all): search, ask, document, "
                        "runbooks, gameday, ingest, insights")
    parser.add_argument("--apptest-queries", type=int, default=5, help="searches timed by bench_ui.py (default 5)")
    parser.add_argument("--no-apptest", action="store_true", help="skip the server-side AppTest figures")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("needs Debian's Chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="kb-bench-browser-") as tmp:
        base = Path(tmp)
        if args.data_dir:
            store = args.data_dir.expanduser().resolve()
        else:
            say("ingesting data/ into a fresh store")
            store = ingest_sample(base)
        bench_ui = load_script("bench_ui")
        doc_id = pick_document(store, args.doc)
        pages = visits(doc_id, bench_ui.QUERIES)
        if args.pages:
            wanted = {w.strip().lower().replace(" ", "") for w in args.pages.split(",")}
            pages = [v for v in pages if v.name.lower().replace(" ", "") in wanted]
        started = time.monotonic()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                times = measure(browser, store, base, pages, args.repeats, args.cold_repeats, say)
            finally:
                browser.close()
        took = time.monotonic() - started
        apptest = None
        if not args.no_apptest:
            say("server-side figures (scripts/bench_ui.py)")
            apptest = bench_ui.run_measure(store, args.apptest_queries)
    if args.json:
        print(json.dumps({
            "pages": {name: {k: summary(v) if v else None for k, v in kinds.items()} for name, kinds in times.items()},
            "raw_ms": times, "apptest": apptest, "document": doc_id, "seconds": round(took),
        }, indent=2))
        return
    print(f"Web UI in Chromium (headless, Playwright): time until usable, {args.cold_repeats} cold / "
          f"{args.repeats} warm visits per page, document {doc_id}; measured in {took:.0f} s")
    print("\n".join(table(times, apptest)))


if __name__ == "__main__":
    main()
