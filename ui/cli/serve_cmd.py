"""`kb serve`: enrich firing alerts where on-call already looks (Alertmanager and PagerDuty in, Slack out)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import TYPE_CHECKING

from ui.cli.context import Context

if TYPE_CHECKING:
    from kb.core.settings import Settings

DESCRIPTION = """Receive Alertmanager and PagerDuty v3 webhooks, and for each new alert group find the most similar
past incidents, the runbook and a cited "what helped last time" paragraph; post it to a Slack incoming
webhook and/or return it to the caller.

endpoints:
  POST /alertmanager   Alertmanager webhook_configs url (answered 202 at once; enriched in the background)
  POST /pagerduty      PagerDuty v3 webhook subscription (incident.triggered is enriched; other events ignored)
  POST /enrich         an alert payload; answers with the enrichment as JSON (nothing posted)
  GET  /healthz        liveness and counts

Off by default: nothing is posted unless KB_SLACK_WEBHOOK_URL is set. Each alert group (Alertmanager's
groupKey, PagerDuty's incident id) is enriched once within KB_SERVE_DEDUP_S seconds (default 4 h); posts
are rate-limited (KB_SLACK_RATE_PER_S, default 1) and retried with backoff on network errors, 5xx and 429.

settings (KB_ variables or .env):
  KB_SLACK_WEBHOOK_URL         Slack incoming webhook to post to (secret; never logged)
  KB_PAGERDUTY_WEBHOOK_SECRET  the v3 subscription's secret: deliveries without its signature get 401
  KB_SERVE_TOKEN               bearer token required on /alertmanager and /enrich (Alertmanager http_config)
  KB_UI_URL                    the web UI's address, for links in messages (e.g. https://kb.example.com/)
  KB_SERVE_HOST, KB_SERVE_PORT where to listen (default 127.0.0.1:8790)"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="enrich firing alerts (Alertmanager, PagerDuty webhooks) into Slack",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", help="address to listen on (default KB_SERVE_HOST, 127.0.0.1: this machine)")
    p.add_argument("--port", type=int, help="port to listen on (default KB_SERVE_PORT, 8790)")
    p.add_argument("--no-llm", action="store_true", help="write 'what helped' from the documents, even with an LLM set")
    p.set_defaults(run=run)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _say_configuration(settings: Settings, host: str, port: int, posting: bool) -> None:
    log = logging.getLogger("kb.serve")
    log.info("serving alert enrichment on http://%s:%d (Ctrl-C stops it)", host, port)
    if not posting:
        log.info("no Slack webhook set (KB_SLACK_WEBHOOK_URL): enrichments are logged and returned, not posted")
    else:
        log.info("posting enrichments to a Slack incoming webhook (at most %.3g a second)", settings.slack_rate_per_s)
    if settings.pagerduty_webhook_secret is None:
        log.warning("KB_PAGERDUTY_WEBHOOK_SECRET unset: PagerDuty deliveries are not checked for a signature")
    if settings.serve_token is None and not _loopback(host):
        log.warning("listening beyond this machine with no KB_SERVE_TOKEN: anyone who reaches it can send alerts")
    if settings.ui_url is None:
        log.info("KB_UI_URL unset: messages name documents by id, without links to the web UI")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from kb.alerting.models import AlertGroup
    from ui.serve.app import build_app
    from ui.serve.handler import Server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    settings = ctx.settings
    host = args.host or settings.serve_host
    port = settings.serve_port if args.port is None else args.port
    app = build_app(settings, ctx.kb)
    # one enrichment before the first alert: the model, the indexes and whatever the enrichment loads on first use
    log = logging.getLogger("kb.serve")
    log.info("loading the knowledge base (one enrichment to warm up)...")
    app.enrich(AlertGroup(source="api", key="warm-up", status="firing", title="warm up",
                          text="checkout errors after a deploy"))
    server = Server((host, port), app)
    _say_configuration(settings, host, server.server_address[1], app.poster is not None)
    app.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.stop()
    return 0
