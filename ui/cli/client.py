"""The command line's side of the resident search service (the service is ``ui.cli.service``).

Starting `kb search` as a process costs seconds before the first result: the interpreter imports the store,
the embedding runtime and llama-index, loads the model and reads the keyword index. A service keeps all of
that loaded: `kb search`, `kb similar` and `kb ask` send their arguments to it and print what it answers, importing
only the standard library. The service

- is started by the first search that finds none (in the background: that search runs in its own process,
  as before) and stops after ``KB_SERVICE_IDLE`` seconds without a request (default 600);
- listens on a Unix socket in a folder only the user can enter (and checks the caller's user id), so it is
  reachable from this machine and this user only;
- serves one configuration: the socket's name is a digest of the ``KB_*``/``OPENAI_*`` environment, the
  ``--data-dir`` option and the ``.env`` file, so another store or other settings get another service;
- never answers from a stale store or stale code: it compares the store's version stamp, the database file it
  has open and the source files' stamp on every request and, when one changed, refuses and stops; the command
  then runs here.

Whenever the service is absent, refuses or fails, the command runs in this process: the same code, the same
results. ``KB_SERVICE=off`` turns the service off.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

#: the commands the service answers (`kb ask --chat` reads its questions from this terminal: never)
FORWARDED = frozenset({"search", "similar", "ask"})
#: seconds without a request after which the service stops
IDLE_S = 600.0
#: the longest a command waits for the service's answer before running in its own process
ANSWER_TIMEOUT_S = 120.0
#: why a service refuses and stops (a new one, started at once, loads the changed store or code)
STOPPING = frozenset({"the store changed", "the code changed"})
#: the longest folder a socket's folder is made in: a Unix socket's path is limited to 104-108 bytes
MAX_BASE_CHARS = 50
#: the largest request or answer read
MAX_MESSAGE = 64 << 20
_ROOTS = ("kb", "ingest", "ui")
_OFF = {"0", "off", "false", "no"}
#: settings whose relative values are read from the folder the command runs in
_PATHS = ("_DIR", "_PATH", "_MODEL", "_FILE")


def enabled(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("KB_SERVICE", "on").strip().lower() not in _OFF


def idle_seconds(environ: dict[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    try:
        return max(1.0, float(env.get("KB_SERVICE_IDLE", IDLE_S)))
    except ValueError:
        return IDLE_S


def code_stamp() -> str:
    """A digest of the names, sizes and modification times of the package's files: it changes when the code
    or the bundled examples change, so a service started before an upgrade is not used after it."""
    top = Path(__file__).resolve().parents[2]
    entries = []
    for root in _ROOTS:
        for folder, dirs, files in os.walk(top / root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                try:
                    stat = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                entries.append(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:32]


def _config(data_dir: str | None, cwd: str, environ: dict[str, str]) -> dict[str, Any]:
    env = {
        k: v
        for k, v in sorted(environ.items())
        if (k.startswith("KB_") or k.startswith("OPENAI_")) and not k.startswith("KB_SERVICE")
    }
    dotenv = Path(cwd, ".env")
    try:
        dotenv_text = dotenv.read_text(errors="replace") if dotenv.is_file() else None
    except OSError:
        dotenv_text = "unreadable"
    config: dict[str, Any] = {
        "python": sys.executable,
        "code": str(Path(__file__).resolve().parents[2]),
        "env": env,
        "data_dir": os.path.abspath(os.path.join(cwd, os.path.expanduser(data_dir))) if data_dir else None,
        "dotenv": dotenv_text,
    }
    relative = [v for k, v in env.items() if k.endswith(_PATHS) and not os.path.isabs(os.path.expanduser(v))]
    if dotenv_text is not None or relative:
        config["cwd"] = cwd  # the settings depend on where the command runs
    return config


def config_key(data_dir: str | None, cwd: str | None = None, environ: dict[str, str] | None = None) -> str:
    """The digest naming the service for these settings (see the module's description)."""
    config = _config(data_dir, cwd or os.getcwd(), dict(os.environ if environ is None else environ))
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:24]


def service_dir() -> Path | None:
    """The user's private folder for service sockets (created 0700), or None when it is not private. It is in
    the first of XDG_RUNTIME_DIR, TMPDIR and /tmp where a socket's path stays within the system's limit."""
    bases = (os.environ.get("XDG_RUNTIME_DIR"), os.environ.get("TMPDIR"))
    base = next((b for b in bases if b and len(b) <= MAX_BASE_CHARS), "/tmp")  # noqa: S108 - checked below
    folder = Path(base) / f"incident-kb-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        stat = folder.lstat()
    except OSError:
        return None
    private = stat.st_uid == os.getuid() and not stat.st_mode & 0o077 and not folder.is_symlink()
    return folder if private else None


def socket_path(key: str) -> Path | None:
    folder = service_dir()
    return folder / f"{key}.sock" if folder else None


def _option(token: str, name: str) -> bool:
    """Whether ``token`` (before any ``=``) is ``name`` or an abbreviation argparse accepts for it."""
    head = token.split("=", 1)[0]
    return len(head) >= 3 and name.startswith(head)


def split(argv: list[str]) -> tuple[str | None, list[str]] | None:
    """``(--data-dir value, argv with the data directory's and an alert file's paths made absolute)`` when the
    service can answer this command line; None when it runs here (another command, other global options, an
    alert read from stdin)."""
    data_dir: str | None = None
    out, i = [], 0
    while i < len(argv) and argv[i].startswith("-"):
        if not _option(argv[i], "--data-dir"):
            return None
        if "=" in argv[i]:
            data_dir, i = argv[i].split("=", 1)[1], i + 1
        elif i + 1 < len(argv):
            data_dir, i = argv[i + 1], i + 2
        else:
            return None
        out += ["--data-dir", os.path.abspath(os.path.expanduser(data_dir))]  # the service runs elsewhere
    if i >= len(argv) or argv[i] not in FORWARDED:
        return None
    options = argv[i + 1 : argv.index("--") if "--" in argv[i + 1 :] else len(argv)]
    if argv[i] == "ask" and any(_option(token, "--chat") for token in options):
        return None
    out += argv[i:]
    j = len(out) - len(argv) + i + 1
    while j < len(out) and out[j] != "--":
        if _option(out[j], "--alert"):
            if "=" in out[j]:
                head, value = out[j].split("=", 1)
                if value == "-":
                    return None
                out[j] = f"{head}={os.path.abspath(value)}"
            elif j + 1 < len(out):
                if out[j + 1] == "-":
                    return None
                out[j + 1] = os.path.abspath(out[j + 1])
                j += 1
        j += 1
    return data_dir, out


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def request(path: Path, message: dict[str, Any], timeout: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
    """Send one request to the service at ``path`` and return its answer (raises OSError or ValueError)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(0.5)
        conn.connect(str(path))
        conn.settimeout(timeout)
        conn.sendall(json.dumps(message).encode())
        conn.shutdown(socket.SHUT_WR)
        return read_message(conn, "answer")


def read_message(conn: socket.socket, what: str) -> dict[str, Any]:
    """One JSON object read to the end of the stream, at most ``MAX_MESSAGE`` bytes (raises ValueError)."""
    chunks, size = [], 0
    while block := conn.recv(1 << 16):
        chunks.append(block)
        size += len(block)
        if size > MAX_MESSAGE:
            raise ValueError(f"{what} too large")
    message = json.loads(b"".join(chunks))
    if not isinstance(message, dict):
        raise ValueError(f"not an {what}" if what[0] in "aeiou" else f"not a {what}")
    return message


def starting_or_running(path: Path) -> bool:
    """Whether a service holds the lock of ``path`` (it is loading, or serving)."""
    import fcntl

    try:
        with open(f"{path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def start(path: Path, data_dir: str | None) -> None:
    """Start the service for ``path`` in the background, detached from this command."""
    command = [sys.executable, "-m", "ui.cli.service", "--socket", str(path), "--idle", str(idle_seconds())]
    if data_dir:
        command += ["--data-dir", data_dir]
    subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def forward(argv: list[str], autostart: bool = True) -> int | None:
    """Run the command line through the service and return its exit status; None when it must run here."""
    if not enabled() or os.name != "posix" or not hasattr(socket, "AF_UNIX"):
        return None
    parts = split(argv)
    if parts is None:
        return None
    data_dir, argv = parts
    path = socket_path(config_key(data_dir))
    if path is None:
        return None
    message = {
        "argv": argv,
        "code": code_stamp(),
        "stdout_tty": _isatty(sys.stdout),
        "stderr_tty": _isatty(sys.stderr),
    }
    try:
        answer = request(path, message)
    except (OSError, ValueError):
        if autostart and not starting_or_running(path):
            start(path, data_dir)
        return None
    if answer.get("status") != "ok":
        if autostart and answer.get("reason") in STOPPING:
            start(path, data_dir)  # it waits for the stopping service to let go of the socket
        return None
    sys.stderr.write(str(answer.get("stderr", "")))
    try:
        sys.stdout.write(str(answer.get("stdout", "")))
        sys.stdout.flush()
    except BrokenPipeError:  # `kb search ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(answer.get("exit", 1))


def _ask(message: dict[str, Any], argv_globals: list[str] | None, environ: dict[str, str] | None) -> str | None:
    """The status the service for these settings answers ``message`` with (None when none answers)."""
    parts = split([*(argv_globals or []), "search"])
    path = socket_path(config_key(parts[0] if parts else None, environ=environ))
    if path is None:
        return None
    try:
        return str(request(path, message, timeout=10.0).get("status"))
    except (OSError, ValueError):
        return None


def ping(argv_globals: list[str] | None = None, environ: dict[str, str] | None = None) -> bool:
    """Whether a service for these settings is ready to answer."""
    return _ask({"ping": True}, argv_globals, environ) == "ready"


def stop(argv_globals: list[str] | None = None, environ: dict[str, str] | None = None) -> bool:
    """Ask the service for these settings to stop; whether one answered."""
    return _ask({"stop": True}, argv_globals, environ) == "stopped"
