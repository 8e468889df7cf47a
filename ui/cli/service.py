"""The resident search service: one process that keeps the knowledge base loaded and runs `kb search` and
`kb similar` command lines for the user's commands (the command line's side and the rules are described in
``ui.cli.client``).

It runs the same command code as the command itself (``ui.cli.main.run``) over a knowledge base opened once,
with the output captured, so an answer is byte for byte what the command would print. Before and after every
command it compares the store's version stamp and database file with the ones it loaded and the source files'
stamp with its own: when one changed it refuses (the command then runs in its own process) and stops, so it
never answers from a stale store. One command at a time; it stops after ``--idle`` seconds without a request.

    python -m ui.cli.service --socket PATH [--idle SECONDS] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import fcntl
import io
import json
import os
import socket
import struct
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from kb.clients.files import database_file
from ui.cli.client import IDLE_S, code_stamp, read_message, split

if TYPE_CHECKING:
    from kb.knowledge import KnowledgeBase

#: how long a new service waits for the one it replaces to let go of the socket
LOCK_WAIT_S = 30.0
#: how long the service waits for a connected command to send its request
RECEIVE_TIMEOUT_S = 10.0


class _Capture(io.StringIO):
    """A captured stream that says whether the command's own stream is a terminal (colours follow it)."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


class Service:
    """The knowledge base of one configuration, loaded, and what it answers."""

    def __init__(self, kb: KnowledgeBase, version: str, stamp: str) -> None:
        self.kb = kb
        self.version = version  #: the store version everything loaded was read at
        self.stamp = stamp  #: the code stamp of this process
        self.place = database_file(kb.settings)  #: the database file it has open

    @classmethod
    def open(cls, global_args: list[str], kb: KnowledgeBase | None = None) -> Service | None:
        """Open and warm the knowledge base the global options name (None when the store changed meanwhile)."""
        from kb.core.errors import KBError
        from kb.retrieval.search import Query
        from ui.cli.context import Context
        from ui.cli.main import build_parser

        stamp = code_stamp()
        if kb is None:
            kb = Context(build_parser().parse_args([*global_args, "search", "warm"])).kb
        before = kb.store.version()
        kb.keyword.ensure_fresh(force=True)
        kb.search(Query(text="service warm up", k=1))  # the model, the store's index, the keyword index
        ids = sorted(kb.record_metas())
        if ids:
            with suppress(KBError):
                kb.similar(ids[0], k=1)  # what `kb similar` reads besides: records and their vectors
        after = kb.store.version()
        if before != after or kb.keyword.version != after:
            return None
        return cls(kb, after, stamp)

    def stale(self) -> str | None:
        """Why answering now could differ from a fresh process: the store or the code changed (else None)."""
        if code_stamp() != self.stamp:
            return "the code changed"
        if database_file(self.kb.settings) != self.place:
            return "the store was replaced"
        if self.kb.store.version() != self.version:
            return "the store changed"
        return None

    def run(self, argv: list[str], stdout_tty: bool, stderr_tty: bool) -> dict[str, Any]:
        """The command line's exit status and output, as the command would have printed them."""
        from ui.cli.main import run

        out, err = _Capture(stdout_tty), _Capture(stderr_tty)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = run(argv, self.kb)
            except SystemExit as exc:  # argparse: --help, or a bad option
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
                if not isinstance(exc.code, int | None):
                    print(exc.code, file=sys.stderr)
        return {"status": "ok", "exit": status, "stdout": out.getvalue(), "stderr": err.getvalue()}

    def handle(self, message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The answer to one request, and whether to keep serving."""
        if message.get("stop"):
            return {"status": "stopped"}, False
        if message.get("ping"):
            return {"status": "ready"}, True
        argv = message.get("argv")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            return {"status": "refused", "reason": "bad request"}, True
        if message.get("code") != self.stamp:
            return {"status": "refused", "reason": "the code changed"}, False
        if split(argv) is None:
            return {"status": "refused", "reason": "not a command this service runs"}, True
        reason = self.stale()
        if reason is None:
            try:
                answer = self.run(argv, bool(message.get("stdout_tty")), bool(message.get("stderr_tty")))
            except Exception as exc:
                return {"status": "refused", "reason": f"{type(exc).__name__}: {exc}"}, True
            reason = self.stale()  # changed while the command ran: its output may mix two versions
            if reason is None:
                return answer, True
        return {"status": "refused", "reason": reason}, False


def same_user(conn: socket.socket) -> bool:
    """Whether the process at the other end runs as this user (where the system says; the socket's folder is
    private to the user in any case)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1] == os.getuid()


def receive(conn: socket.socket) -> dict[str, Any]:
    conn.settimeout(RECEIVE_TIMEOUT_S)
    return read_message(conn, "request")


def serve(service: Service, path: Path, idle_s: float) -> None:
    """Answer requests on the socket at ``path`` until told to stop, stale, or idle for ``idle_s`` seconds."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        path.unlink(missing_ok=True)
        mask = os.umask(0o177)
        try:
            server.bind(str(path))
        finally:
            os.umask(mask)
        server.listen(16)
        server.settimeout(idle_s)
        try:
            keep = True
            while keep:
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    return
                with conn:
                    if not same_user(conn):
                        continue
                    try:
                        answer, keep = service.handle(receive(conn))
                        conn.sendall(json.dumps(answer).encode())
                    except (OSError, ValueError):
                        continue
        finally:
            path.unlink(missing_ok=True)


def lock(path: Path, wait_s: float = LOCK_WAIT_S) -> IO[str] | None:
    """The lock that makes this process the one service of ``path`` (None when another keeps it)."""
    handle = open(f"{path}.lock", "a")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                return None
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.cli.service", description=__doc__)
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    parser.add_argument("--idle", type=float, default=IDLE_S, help="stop after this many seconds without a request")
    parser.add_argument("--data-dir", help="the data directory the commands use")
    args = parser.parse_args(argv)
    path = Path(args.socket)
    held = lock(path)
    if held is None:
        return 0
    with held:
        try:
            os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
            service = Service.open(["--data-dir", args.data_dir] if args.data_dir else [])
            if service is not None:
                serve(service, path, args.idle)
        except Exception:
            with suppress(OSError), open(f"{path}.log", "a") as log:
                log.write(traceback.format_exc())
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
