"""Delivering enrichments: once per alert group, rate-limited, retried with backoff against a real loopback
receiver answering 429 and 5xx, and no secret in the log."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from pydantic import SecretStr

from kb.alerting.delivery import Deduper, RateLimiter, SlackPoster, retry_after
from tests.serve_kit import HOOK_PATH, Receiver


class Clock:
    """A clock the test moves; ``sleep`` moves it and records the wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_a_group_is_claimed_once_within_the_window_and_again_after_it() -> None:
    clock = Clock()
    dedup = Deduper(window_s=600, clock=clock)
    assert dedup.claim("g1") and not dedup.claim("g1") and dedup.claim("g2")
    clock.now += 599
    assert not dedup.claim("g1")
    clock.now += 2
    assert dedup.claim("g1")


def test_a_released_group_is_new_again() -> None:
    dedup = Deduper(window_s=600, clock=Clock())
    assert dedup.claim("g1")
    dedup.release("g1")
    assert dedup.claim("g1")


def test_the_rate_limiter_spaces_callers_by_the_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, clock=clock, sleep=clock.sleep)
    waits = [limiter.wait() for _ in range(4)]
    assert waits == [0.0, 0.5, 0.5, 0.5]
    clock.now += 10
    assert limiter.wait() == 0.0


def test_retry_after_reads_seconds() -> None:
    assert retry_after("3") == 3.0 and retry_after(" 1.5 ") == 1.5
    assert retry_after(None) is None and retry_after("soon") is None and retry_after("-1") is None


def poster(url: str, clock: Clock, attempts: int = 5) -> SlackPoster:
    return SlackPoster(SecretStr(url), rate=1000.0, attempts=attempts, timeout_s=5, sleep=clock.sleep, clock=clock)


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    with Receiver() as slack:
        slack.answers.extend([(429, {"Retry-After": "7"}), (500, {}), (503, {}), (429, {})])
        p = poster(slack.url, clock)
        assert p.post({"text": "hello"}, "group g1")
        p.close()
    assert len(slack.received) == 5
    assert all(r.json() == {"text": "hello"} and r.path == HOOK_PATH for r in slack.received)
    retries = [s for s in clock.slept if s >= 1]
    assert retries == [7.0, 2.0, 4.0, 8.0]  # Retry-After, then exponential backoff 1 s * 2^(n-1)
    assert "s3cr3t-hook-token" not in caplog.text and "127.0.0.1" not in caplog.text
    assert "attempt 1/5 answered 429" in caplog.text and "posted group g1 to Slack (attempt 5)" in caplog.text


def test_attempts_are_capped_and_a_4xx_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    with Receiver() as slack:
        slack.answers.extend([(500, {})] * 10)
        p = poster(slack.url, clock, attempts=3)
        assert not p.post({"text": "x"}, "group g2")
        assert len(slack.received) == 3
        slack.answers.clear()
        slack.answers.append((404, {}))
        assert not p.post({"text": "x"}, "group g3")
        assert len(slack.received) == 4  # one try: the webhook is gone
        p.close()
    assert "gave up posting group g2" in caplog.text and "s3cr3t-hook-token" not in caplog.text


def test_a_retry_after_beyond_reason_is_not_waited_for() -> None:
    clock = Clock()
    with Receiver() as slack:
        slack.answers.append((429, {"Retry-After": "3600"}))
        p = poster(slack.url, clock)
        assert not p.post({"text": "x"})
        p.close()
    assert len(slack.received) == 1 and all(s < 60 for s in clock.slept)


def test_network_errors_are_retried_and_logged_without_the_address(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:  # a port with nothing listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{HOOK_PATH}"
    clock = Clock()
    p = poster(url, clock, attempts=3)
    assert not p.post({"text": "x"}, "group g4")
    p.close()
    assert [s for s in clock.slept if s >= 1] == [1.0, 2.0]
    assert "ConnectError" in caplog.text and "attempt 3/3" in caplog.text
    assert "s3cr3t-hook-token" not in caplog.text and str(port) not in caplog.text


def test_posts_are_spaced_by_the_rate_in_real_time() -> None:
    """With the real clock: the 4th of 4 posts at 5 a second cannot arrive before 3 intervals have passed (an
    arrival can lag its send, so a gap between two arrivals may be a little short; the total cannot)."""
    with Receiver() as slack:
        p = SlackPoster(SecretStr(slack.url), rate=5.0, attempts=1)
        started = time.monotonic()
        for n in range(4):
            assert p.post({"text": str(n)})
        p.close()
    assert len(slack.received) == 4
    assert slack.received[-1].at - started >= 3 * 0.2  # sent together, they would arrive within milliseconds
