"""`kb service`: the resident search service of this store (see ui.cli.client): is one running, stop it."""

from __future__ import annotations

import argparse

from ui.cli import client
from ui.cli.context import Context


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "service",
        help="the resident search service: status, stop",
        description="`kb search`, `kb similar` and `kb ask` are answered by a resident service that keeps the "
        "knowledge base loaded (a search then takes a fraction of a second instead of seconds). The first "
        "search starts it; it is private to your user, answers only for the store and settings it was started "
        "with, and stops by itself after KB_SERVICE_IDLE seconds without a request (default 600). "
        "KB_SERVICE=off runs every command in its own process instead.",
    )
    p.add_argument("action", choices=["status", "stop"], help="status: whether one serves this store; stop: stop it")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    scope = ["--data-dir", str(args.data_dir)] if getattr(args, "data_dir", None) else []
    store = str(ctx.settings.store_location)
    if args.action == "stop":
        stopped = client.stop(scope)
        if ctx.json:
            ctx.print_json({"store": store, "stopped": stopped})
        else:
            print(f"stopped the search service of {store}" if stopped else f"no search service was running for {store}")
        return 0
    running = client.ping(scope)
    if ctx.json:
        ctx.print_json({"store": store, "running": running, "enabled": client.enabled()})
    elif running:
        print(f"a search service answers for {store} (`kb service stop` stops it)")
    else:
        state = "" if client.enabled() else " (KB_SERVICE=off: every command runs in its own process)"
        print(f"no search service runs for {store}{state}")
    return 0
