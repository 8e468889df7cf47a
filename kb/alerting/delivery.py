"""Delivering enrichments: once per alert group, at a rate Slack accepts, retried when the network or Slack
falters.

- ``Deduper``: an alert group's key is claimed once within a window. Alertmanager re-sends a firing group
  every ``repeat_interval`` and when alerts join it; PagerDuty retries a delivery it saw fail. A group the
  sender says is over (resolved) is forgotten, so its next firing is new; a group whose enrichment or post
  failed is released, so the sender's next re-send tries again.
- ``RateLimiter``: posts at least ``1 / rate`` seconds apart (Slack's incoming webhooks accept about one
  message a second).
- ``SlackPoster``: one post, retried with exponential backoff on network errors, 5xx and 429 (whose
  ``Retry-After`` is honoured), at most ``attempts`` tries. Its log lines name the status, Slack's short
  error and the attempt, never the webhook's address (which is its secret).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

log = logging.getLogger("kb.serve")

#: most groups remembered at once; beyond it the oldest are forgotten first
MAX_KEYS = 10_000
BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
#: a Retry-After longer than this is not waited for: the post is given up (and the group released)
MAX_RETRY_AFTER_S = 300.0


class Deduper:
    """Alert-group keys claimed within the last ``window_s`` seconds (thread-safe)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True the first time ``key`` is seen in the window (it is then claimed), False for a repeat."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen < self.window_s:
                return False
            self._seen.pop(key, None)
            self._seen[key] = now
            if len(self._seen) > MAX_KEYS:
                self._prune(now)
            return True

    def release(self, key: str) -> None:
        """Forget ``key``: the next delivery of its group is enriched again."""
        with self._lock:
            self._seen.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._seen.items() if now - t >= self.window_s]:
            del self._seen[key]
        while len(self._seen) > MAX_KEYS:  # insertion order: the oldest claim first
            del self._seen[next(iter(self._seen))]


class RateLimiter:
    """Lets one caller through at a time, at least ``1 / rate`` seconds after the previous one."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next slot; how long that took."""
        with self._lock:
            delay = max(0.0, self._next - self._clock())
            if delay:
                self._sleep(delay)
            self._next = self._clock() + self.interval
            return delay


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delay form; Slack sends seconds), None when absent or not a number."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class SlackPoster:
    """Posts messages to one Slack incoming webhook."""

    def __init__(
        self,
        url: SecretStr,
        *,
        rate: float = 1.0,
        attempts: int = 5,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        # httpx logs each request's full address at INFO, and this address is the webhook's secret
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.attempts = attempts
        self._sleep = sleep
        self.limiter = RateLimiter(rate, clock, sleep)
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._url.get_secret_value(), "[the webhook]")

    def _try(self, payload: dict[str, Any], attempt: int, what: str) -> tuple[bool, float | None]:
        """One try: (posted, None) or (False, seconds to wait before the next try; None: do not retry)."""
        backoff = min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (attempt - 1))
        self.limiter.wait()
        try:
            reply = self._client.post(self._url.get_secret_value(), json=payload)
        except httpx.TransportError as exc:
            log.warning("Slack post for %s: attempt %d/%d failed: %s: %s", what, attempt, self.attempts,
                        type(exc).__name__, self._scrub(str(exc))[:200])
            return False, backoff
        if 200 <= reply.status_code < 300:
            return True, None
        error = self._scrub(reply.text.strip())[:120]
        log.warning("Slack post for %s: attempt %d/%d answered %d %s", what, attempt, self.attempts,
                    reply.status_code, error)
        if reply.status_code == 429:
            asked = retry_after(reply.headers.get("Retry-After"))
            if asked is not None and asked > MAX_RETRY_AFTER_S:
                log.warning("Slack asks to wait %.0f s; giving up on %s", asked, what)
                return False, None
            return False, asked if asked is not None else backoff
        if reply.status_code >= 500:
            return False, backoff
        return False, None  # 4xx: the message or the webhook is wrong; trying again will not help

    def post(self, payload: dict[str, Any], what: str = "a message") -> bool:
        """Post ``payload``; True once Slack accepted it, False when every try failed (each one logged)."""
        for attempt in range(1, self.attempts + 1):
            posted, wait = self._try(payload, attempt, what)
            if posted:
                log.info("posted %s to Slack (attempt %d)", what, attempt)
                return True
            if wait is None or attempt == self.attempts:
                break
            self._sleep(wait)
        log.error("gave up posting %s to Slack", what)
        return False
