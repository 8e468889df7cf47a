"""`kb ui`: serve the web UI (Streamlit) on this machine."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from ui.cli.context import Context

APP = Path(__file__).resolve().parent.parent / "web" / "app.py"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ui",
        help="serve the web UI",
        description="Serve the web UI: search, incidents, runbooks, game days, ingest and insights. It uses the "
        "same settings as the CLI (KB_DATA_DIR or --data-dir, KB_CHROMA_URL, KB_LLM_*).",
    )
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    p.add_argument("--max-upload-mb", type=int, default=50, help="largest upload the server accepts (default 50)")
    p.set_defaults(run=run)


def command(args: argparse.Namespace) -> list[str]:
    return [
        # -P: the working directory (which may hold a folder named kb, ui or ingest) is not on the import path
        sys.executable, "-P", "-m", "streamlit", "run", str(APP),
        "--server.port", str(args.port),
        "--server.address", args.address,
        "--server.headless", "true",
        "--server.maxUploadSize", str(args.max_upload_mb),
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]


#: signals that stop `kb ui`: each is passed on to the Streamlit server (Ctrl-C in a terminal reaches both), which
#: stops, and then `kb ui` returns; a supervisor stopping `kb ui` does not leave the server holding the port
STOPPING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def run(args: argparse.Namespace, ctx: Context) -> int:
    env = dict(os.environ)
    if getattr(args, "data_dir", None):
        env["KB_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    print(f"serving the knowledge base UI on http://{args.address}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    server = subprocess.Popen(command(args), env=env)

    def stop(signum: int, _frame: object) -> None:
        if server.poll() is None:
            server.send_signal(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOPPING}
    try:
        code = server.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N
