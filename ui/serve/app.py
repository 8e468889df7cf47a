"""What `kb serve` is made of: the knowledge base, the enrich function, the queue and the Slack poster,
wired once from the settings.

The enrich function is a parameter (``enrich(kb, group) -> Enrichment``); by default it is
``kb.alerting.enrich.enrich``, imported when the service starts. Enrichments run one at a time (the worker
and the synchronous endpoint share one lock): the machine's cores go to one search at a time, and the
knowledge base's parts are opened once.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from kb.alerting.addresses import enrichment_json, ui_base
from kb.alerting.delivery import Deduper, SlackPoster
from kb.alerting.dispatch import Dispatcher
from kb.alerting.models import AlertGroup, Enrichment
from kb.alerting.slack import message
from kb.alerting.slack_check import problems
from kb.core.errors import ConfigError
from kb.core.settings import Settings

if TYPE_CHECKING:
    import httpx

    from kb.knowledge import KnowledgeBase

log = logging.getLogger("kb.serve")

EnrichFunction = Callable[["KnowledgeBase", AlertGroup], Enrichment]


def default_enrich() -> EnrichFunction:
    """``kb.alerting.enrich.enrich``, imported now (a missing module is a configuration error said at start)."""
    try:
        module = importlib.import_module("kb.alerting.enrich")
    except ImportError as exc:
        raise ConfigError(f"the enrichment module cannot be imported: {exc}") from exc
    return cast(EnrichFunction, module.enrich)


@dataclass
class App:
    """One configured service."""

    settings: Settings
    kb: KnowledgeBase
    enrich_function: EnrichFunction
    poster: SlackPoster | None
    dispatcher: Dispatcher = field(init=False)
    base: str | None = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.base = ui_base(self.settings.ui_url)
        self.dispatcher = Dispatcher(self.enrich, self.post if self.poster else None,
                                     Deduper(self.settings.serve_dedup_s), self.settings.serve_queue)

    def enrich(self, group: AlertGroup) -> Enrichment:
        with self._lock:
            return self.enrich_function(self.kb, group)

    def as_json(self, enrichment: Enrichment) -> dict[str, Any]:
        return enrichment_json(enrichment, self.base)

    def post(self, enrichment: Enrichment) -> bool:
        """Post ``enrichment`` to Slack; False (logged) when the message would break Slack's format."""
        assert self.poster is not None
        msg = message(enrichment, self.base)
        wrong = problems(msg)
        if wrong:
            log.error("alert group %s: the message breaks Slack's format, not posted: %s",
                      enrichment.group.key[:80], "; ".join(wrong[:3]))
            return False
        return self.poster.post(msg, f"alert group {enrichment.group.key[:80]}")

    def start(self) -> None:
        self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop()
        if self.poster is not None:
            self.poster.close()

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "waiting": self.dispatcher.waiting,
            "counts": dict(self.dispatcher.counts),
            "slack": self.poster is not None,
            "pagerduty_signed": self.settings.pagerduty_webhook_secret is not None,
            "token_required": self.settings.serve_token is not None,
        }


def build_app(settings: Settings, kb: KnowledgeBase, enrich: EnrichFunction | None = None,
              slack_client: httpx.Client | None = None) -> App:
    """The service over ``kb``: ``enrich`` (default: the enrichment module's), posting to Slack only when
    ``KB_SLACK_WEBHOOK_URL`` is set."""
    poster = None
    url = settings.slack_webhook_url
    if url is not None and url.get_secret_value().strip():
        if not url.get_secret_value().startswith(("https://", "http://")):
            raise ConfigError("KB_SLACK_WEBHOOK_URL is not an http(s) address")
        poster = SlackPoster(url, rate=settings.slack_rate_per_s, attempts=settings.slack_max_attempts,
                             timeout_s=settings.slack_timeout_s, client=slack_client)
    return App(settings, kb, enrich or default_enrich(), poster)
