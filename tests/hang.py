"""Run a call in a forked child with a time limit, so a test can tell a hang from a slow call.

A regular expression that backtracks holds the interpreter inside C code: no signal or thread can stop
it, only killing the process. The child sends back the result, or the exception's type and message.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from typing import Any

_CTX = multiprocessing.get_context("fork")


class Hang(AssertionError):
    """The call did not finish within its limit."""


class Raised(Exception):
    """The call raised; ``kind`` is the exception's class name, the message is its text."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result = fn(*args)
        try:
            conn.send(("ok", result))
        except Exception:  # not picklable: its repr will do
            conn.send(("ok", repr(result)))
    except BaseException as exc:
        conn.send(("raised", (type(exc).__name__, str(exc), traceback.format_exc(limit=3))))
    finally:
        conn.close()


def within(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, run in a child process; ``Hang`` if it runs longer than ``seconds``,
    ``Raised`` if it raised."""
    parent, child = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(child, fn, args), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(seconds):
            raise Hang(f"{getattr(fn, '__qualname__', fn)} did not finish in {seconds:.0f}s")
        status, value = parent.recv()
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    if status == "raised":
        kind, message, _trace = value
        raise Raised(kind, message)
    return value
