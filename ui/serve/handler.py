"""`kb serve`'s HTTP side (the standard library's threading server): read, verify, answer.

    POST /alertmanager   Alertmanager webhook (version 4)       202 queued, 200 repeat or not firing
    POST /pagerduty      PagerDuty v3 webhook event             202 queued, 200 other events
    POST /enrich         an alert payload; the enrichment JSON  200, synchronous, nothing posted
    GET  /healthz        liveness and counts                    200

Errors: 400 a body that is not the payload (the reason in ``{"error": ...}``), 401 a missing or wrong token
or signature, 404, 405, 411 no Content-Length, 413 a body over the limit (not read), 503 the queue is full,
``MAX_CONNECTIONS`` connections are open or ``MAX_SYNC_ENRICH`` enrichments for ``/enrich`` are running
(``Retry-After``). Senders are never kept waiting on an enrichment: the webhooks are answered once the group
is queued. No header is logged (tokens and signatures stay out of the log).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kb.alerting.models import Source
from kb.alerting.payloads import MAX_BODY_BYTES, Delivery, PayloadError, read_alertmanager, read_any, read_pagerduty
from kb.alerting.verify import bearer_ok, pagerduty_signed
from kb.core.errors import KBError
from ui.serve.app import App

log = logging.getLogger("kb.serve")

#: seconds a sender told "queue full" is asked to wait
RETRY_AFTER_S = 30
#: seconds a connection may take to send its request
READ_TIMEOUT_S = 15
#: connections served at once (a thread each); one more is answered 503 at once and closed
MAX_CONNECTIONS = 64
#: enrichments ``POST /enrich`` runs at once (each holds its connection while it runs)
MAX_SYNC_ENRICH = 2


class Refusal(Exception):
    """An answer other than success: the status and a one-line reason."""

    def __init__(self, status: HTTPStatus, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class Server(ThreadingHTTPServer):
    """One thread per connection, at most ``max_connections`` of them: a sender that opens many and sends
    nothing cannot make it start threads without end."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App, max_connections: int = MAX_CONNECTIONS) -> None:
        self.app = app
        self.slots = threading.BoundedSemaphore(max_connections)
        self.enrich_slots = threading.BoundedSemaphore(MAX_SYNC_ENRICH)
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            log.warning("refused a connection: %d are open", MAX_CONNECTIONS)
            _busy(request, "too many connections are open; retry later")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except RuntimeError:  # the system would not start another thread
            self.slots.release()
            _busy(request, "the server cannot take another connection now; retry later")
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _busy(request: socket.socket, reason: str) -> None:
    """A 503 written straight to a connection no thread will serve (its request is not read)."""
    body = json.dumps({"error": reason}).encode("utf-8")
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Retry-After: {RETRY_AFTER_S}\r\nConnection: close\r\n\r\n").encode("ascii")
    try:
        request.settimeout(1.0)
        request.sendall(head + body)
    except OSError:
        pass


class Handler(BaseHTTPRequestHandler):
    server: Server
    timeout = READ_TIMEOUT_S
    server_version = "kb-serve"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise Refusal(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        try:
            size = int(length)
        except ValueError:
            raise Refusal(HTTPStatus.BAD_REQUEST, "the Content-Length header is not a number") from None
        if size < 0:
            raise Refusal(HTTPStatus.BAD_REQUEST, "the Content-Length header is negative")
        if size > MAX_BODY_BYTES:
            self.close_connection = True
            raise Refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"the body is {size} bytes, over the {MAX_BODY_BYTES} byte limit")
        return self.rfile.read(size)

    def _token(self) -> None:
        token = self.server.app.settings.serve_token
        if token is not None and not bearer_ok(self.headers.get("Authorization"), token.get_secret_value()):
            raise Refusal(HTTPStatus.UNAUTHORIZED, "a valid 'Authorization: Bearer' token is required",
                          {"WWW-Authenticate": 'Bearer realm="kb serve"'})

    def _signature(self, body: bytes) -> None:
        secret = self.server.app.settings.pagerduty_webhook_secret
        if secret is not None and not pagerduty_signed(body, self.headers.get("X-PagerDuty-Signature"),
                                                        secret.get_secret_value()):
            raise Refusal(HTTPStatus.UNAUTHORIZED, "the X-PagerDuty-Signature does not match the body")

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/healthz":
            self._send(HTTPStatus.OK, self.server.app.health())
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no such page; POST to {', '.join(ROUTES)}"})

    def do_POST(self) -> None:
        route = ROUTES.get(self.path.split("?")[0])
        if route is None:
            status = HTTPStatus.METHOD_NOT_ALLOWED if self.path == "/healthz" else HTTPStatus.NOT_FOUND
            self._send(status, {"error": f"POST to one of {', '.join(ROUTES)}"})
            return
        try:
            status, body = route(self)
        except Refusal as exc:
            log.info("refused %s: %d %s", self.path[:40], exc.status, exc.reason)
            self.close_connection = True  # the body may be unread
            self._send(exc.status, {"error": exc.reason}, exc.headers)
        except PayloadError as exc:
            log.info("refused %s: 400 %s", self.path[:40], exc)
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except KBError as exc:
            log.error("%s failed: %s", self.path[:40], exc)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})
        else:
            self._send(status, body)

    def do_PUT(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST alert payloads; GET /healthz"})

    do_DELETE = do_PATCH = do_PUT

    def _queue(self, delivery: Delivery, source: Source) -> tuple[HTTPStatus, dict[str, Any]]:
        app = self.server.app
        if delivery.closed is not None:
            app.dispatcher.closed(source, delivery.closed)
        if delivery.group is None:
            return HTTPStatus.OK, {"status": "ignored", "reason": delivery.ignored}
        outcome = app.dispatcher.submit(delivery.group)
        if outcome == "full":
            raise Refusal(HTTPStatus.SERVICE_UNAVAILABLE, "the enrichment queue is full; retry later",
                          {"Retry-After": str(RETRY_AFTER_S)})
        code = HTTPStatus.ACCEPTED if outcome == "queued" else HTTPStatus.OK
        return code, {"status": outcome, "key": delivery.group.key}


def _alertmanager(handler: Handler) -> tuple[HTTPStatus, dict[str, Any]]:
    handler._token()
    return handler._queue(read_alertmanager(handler._body()), "alertmanager")


def _pagerduty(handler: Handler) -> tuple[HTTPStatus, dict[str, Any]]:
    body = handler._body()
    handler._signature(body)
    return handler._queue(read_pagerduty(body), "pagerduty")


def _enrich(handler: Handler) -> tuple[HTTPStatus, dict[str, Any]]:
    handler._token()
    delivery = read_any(handler._body())
    if delivery.group is None:
        return HTTPStatus.OK, {"status": "ignored", "reason": delivery.ignored}
    app = handler.server.app
    if not handler.server.enrich_slots.acquire(blocking=False):
        raise Refusal(HTTPStatus.SERVICE_UNAVAILABLE, f"{MAX_SYNC_ENRICH} enrichments are running; retry later",
                      {"Retry-After": str(RETRY_AFTER_S)})
    try:
        return HTTPStatus.OK, app.as_json(app.enrich(delivery.group))
    finally:
        handler.server.enrich_slots.release()


ROUTES = {"/alertmanager": _alertmanager, "/pagerduty": _pagerduty, "/enrich": _enrich}
