"""Is a delivery from the sender it claims to be? Checked before its body is read.

- PagerDuty signs each v3 webhook delivery: ``X-PagerDuty-Signature: v1=<hex>`` where the hex is the
  HMAC-SHA256 of the raw body keyed with the subscription's secret. While a secret is being rotated the
  header carries several signatures, comma-separated; one that matches is enough.
- Alertmanager does not sign, but its ``http_config`` sends ``Authorization: Bearer <token>``.

Comparisons take the same time whatever the bytes (``hmac.compare_digest``). Neither function says which
part was wrong: the caller answers 401 and logs no header.
"""

from __future__ import annotations

import hashlib
import hmac

#: more signatures than a rotation ever carries are refused unread
MAX_SIGNATURES = 8


def pagerduty_signature(body: bytes, secret: str) -> str:
    """The ``v1=`` signature PagerDuty sends with ``body`` for a subscription keyed ``secret``."""
    return "v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def pagerduty_signed(body: bytes, header: str | None, secret: str) -> bool:
    """Whether one of the ``v1=`` signatures in ``header`` is ``body``'s under ``secret``."""
    if not header or not secret:
        return False
    parts = [p.strip() for p in header.split(",")]
    if len(parts) > MAX_SIGNATURES:
        return False
    expected = pagerduty_signature(body, secret).encode("ascii")
    matched = False
    for part in parts:  # every one compared, so the time says nothing about which matched
        if part.startswith("v1="):
            matched |= hmac.compare_digest(part.encode("utf-8", "replace"), expected)
    return matched


def bearer_ok(header: str | None, token: str) -> bool:
    """Whether ``header`` (an ``Authorization`` value) is ``Bearer <token>``."""
    if not header or not token:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), token.encode("utf-8"))
