"""Enriching alert groups off the sender's request: a bounded queue and one worker thread.

``Dispatcher.submit`` answers at once: the group is queued, a repeat of a group already claimed, or refused
because the queue is full (the sender is told to come back later). The worker takes groups one at a time,
enriches each (``enrich``) and hands the enrichment to ``deliver`` (the Slack poster, or None to only log
it). A group whose enrichment or delivery fails is released, so the sender's next re-send tries again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable
from typing import Literal

from kb.alerting.delivery import Deduper
from kb.alerting.models import AlertGroup, Enrichment

log = logging.getLogger("kb.serve")

Submitted = Literal["queued", "duplicate", "full"]
Enricher = Callable[[AlertGroup], Enrichment]
Deliverer = Callable[[Enrichment], bool]


def claim_key(source: str, key: str) -> str:
    """The key a group is deduplicated by: its sender's key, within that sender (an Alertmanager group key and a
    PagerDuty incident id never stand for each other)."""
    return f"{source}\x00{key}"


class Dispatcher:
    """The queue of alert groups waiting to be enriched, and the worker that drains it."""

    def __init__(self, enrich: Enricher, deliver: Deliverer | None, dedup: Deduper, size: int = 100) -> None:
        self._enrich = enrich
        self._deliver = deliver
        self.dedup = dedup
        self._queue: queue.Queue[AlertGroup | None] = queue.Queue(maxsize=size)
        self._thread = threading.Thread(target=self._work, name="kb-serve-enrich", daemon=True)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Let the worker finish the group in hand and stop (groups still queued are dropped)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join(timeout)

    def submit(self, group: AlertGroup) -> Submitted:
        """Queue ``group`` unless it is a repeat within the window or the queue is full."""
        if not self.dedup.claim(claim_key(group.source, group.key)):
            self._count("duplicate")
            log.info("alert group %s: already enriched within the window; not again", group.key[:80])
            return "duplicate"
        with self._lock:
            try:
                self._queue.put_nowait(group)
            except queue.Full:
                self.counts["refused"] += 1
                self.dedup.release(claim_key(group.source, group.key))
                log.warning("alert group %s: the queue is full; the sender is asked to retry", group.key[:80])
                return "full"
            self._busy += 1
            self.counts["queued"] += 1
        return "queued"

    def closed(self, source: str, key: str) -> None:
        """``source`` says group ``key`` is over: its next firing is enriched again."""
        self.dedup.release(claim_key(source, key))

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def drained(self, timeout: float) -> bool:
        """Wait until every queued group is handled; whether that happened within ``timeout`` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _work(self) -> None:
        while (group := self._queue.get()) is not None:
            try:
                self._handle(group)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _handle(self, group: AlertGroup) -> None:
        what = f"alert group {group.key[:80]}"
        try:
            enrichment = self._enrich(group)
        except Exception:
            log.exception("%s: enrichment failed", what)
            self.dedup.release(claim_key(group.source, group.key))
            self._count("failed")
            return
        self._count("enriched")
        log.info("%s: enriched (%d past incidents, runbook: %s)", what, len(enrichment.incidents),
                 enrichment.runbook.doc_id if enrichment.runbook else "none")
        if self._deliver is None:
            return
        if self._deliver(enrichment):
            self._count("posted")
        else:
            self.dedup.release(claim_key(group.source, group.key))
            self._count("failed")
