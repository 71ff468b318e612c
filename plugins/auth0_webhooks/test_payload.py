"""The `send_test_payload` Param: one sample Auth0 log, sent as a real delivery is, and the webhook's answer.

The sample is a successful login (`type: "s"`) with the fields tenant logs carry; its `log_id` starts with
"test_" and its description says it is a test, so that a receiver can tell it from real logs. It goes through the
same `WebhookSender` as the logs (headers, `webhook-id`, timestamp, signature, retries of the connection) in the
run's shape (`send_as_batch`, `content_format`). The result never holds the Authorization value, a signing secret
or the URL's path and query.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence
from urllib.parse import urlsplit

from auth0_webhooks.hooks.webhook import WebhookHook
from auth0_webhooks.protocol import Record
from auth0_webhooks.retry import excerpt
from auth0_webhooks.webhook_client import DEFAULT_CONTENT_FORMAT, Outcome, Verdict, WebhookDeliveryError, \
    WebhookSender, content_type, encode, webhook_id

log = logging.getLogger(__name__)

TEST_LOG_ID_PREFIX = "test_"
TEST_DESCRIPTION = "Test event sent by auth0-webhooks (send_test_payload): not a real login"

# What to check when the webhook does not acknowledge the test, by status (None: no answer at all).
_ADVICE = {
    None: "check the connection's URL (host, port, scheme), DNS, firewalls and TLS between Airflow and the webhook",
    400: "the receiver did not accept the body: check its expected format against send_as_batch and content_format",
    401: "check the Authorization value (the connection's password) and the signing secret (extra signing_secret)",
    403: "check the Authorization value (the connection's password) and the signing secret (extra signing_secret)",
    404: "check the URL's path (the connection's host holds the full URL)",
    405: "the URL does not accept POST: check the URL's path",
    410: "the receiver answered 410 Gone: it asks to stop sending; check the URL",
    413: "the receiver refuses the body's size; a real batch is larger: lower batch_size or raise its limit",
    429: "the receiver limits its rate: real deliveries wait as it asks (Retry-After)",
}


def sample_event(now: datetime) -> dict:
    """A realistic successful-login log (`type: "s"`) dated `now`, marked as a test (log_id `test_...`)."""
    now = now.astimezone(timezone.utc)
    epoch_ms = int(now.timestamp() * 1000)
    user_id = "auth0|test_user"
    return {
        "log_id": f"{TEST_LOG_ID_PREFIX}{now:%Y%m%dT%H%M%S}{now.microsecond:06d}",
        "date": f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z",
        "type": "s",
        "description": TEST_DESCRIPTION,
        "connection": "Username-Password-Authentication",
        "connection_id": "con_test0000000000",
        "client_id": "test0000000000000000000000000000",
        "client_name": "auth0-webhooks test",
        "ip": "192.0.2.10",  # TEST-NET-1 (RFC 5737): an address for documentation, never a real client
        "user_agent": "Chrome 131.0.0 / Mac OS X 10.15.7",
        "isMobile": False,
        "hostname": "test-tenant.example.com",
        "user_id": user_id,
        "user_name": "test.user@example.com",
        "strategy": "auth0",
        "strategy_type": "database",
        "audience": "https://test-tenant.example.com/userinfo",
        "scope": "openid profile email",
        "details": {
            "initiatedAt": epoch_ms - 850, "completedAt": epoch_ms, "elapsedTime": 850,
            "session_id": "test_session", "stats": {"loginsCount": 1},
            "prompts": [{"name": "login", "flow": "universal-login", "initiatedAt": epoch_ms - 850,
                         "completedAt": epoch_ms - 10, "user_id": user_id, "user_name": "test.user@example.com",
                         "elapsedTime": 840}],
            "test": True,
        },
    }


@dataclass(frozen=True)
class TestPayloadResult(Record):
    """How the webhook answered the test payload (no secret: the URL is redacted, answers scrubbed)."""

    __test__ = False  # not a pytest test class

    delivered: bool
    verdict: str  # a webhook_client.Verdict value: delivered, retry (gave up), permanent, gone
    status: int | None  # the last answer's HTTP status; None: no answer (timeout, connection failed)
    answer: str  # the last answer: "HTTP 200: <start of its body>", or why there was none
    latency_ms: int  # from the first attempt to the last answer, waits between attempts included
    attempts: int
    target: str  # the webhook's URL, scheme, host and port only
    webhook_id: str
    log_id: str
    send_as_batch: bool
    content_format: str
    content_type: str
    body_bytes: int
    signed: bool
    authorization_sent: bool

    def describe(self) -> str:
        """One paragraph for the task log and the run's report."""
        shape = ("a JSON array of one log" if self.send_as_batch else "one JSON object") \
            if self.content_format == "json_array" else "one JSON line"
        head = "Test payload delivered" if self.delivered else "Test payload NOT delivered"
        text = (f"{head} to {self.target}: {self.answer}; {self.latency_ms} ms, {self.attempts} attempt(s). "
                f"Sent {shape} ({self.content_type}, {self.body_bytes} bytes), webhook-id {self.webhook_id}, "
                f"log_id {self.log_id}, {'signed' if self.signed else 'not signed (no signing_secret)'}, "
                f"{'with' if self.authorization_sent else 'without'} an Authorization header.")
        advice = None if self.delivered else _ADVICE.get(self.status) or (
            "the receiver failed: see its own logs" if self.status and self.status >= 500 else
            "the URL redirects, and redirects are never followed: put the final URL in the connection"
            if self.status and 300 <= self.status < 400 else None)
        return f"{text} What to check: {advice}." if advice else text


def _scrub(text: str, secrets: Sequence[str | None]) -> str:
    """`text` with every secret replaced by ***, in case the receiver's answer repeats one."""
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text


def send_test_payload(*, webhook_conn_id: str, send_as_batch: bool,
                      content_format: str = DEFAULT_CONTENT_FORMAT) -> TestPayloadResult:
    """Send `sample_event(now)` to the webhook of connection `webhook_conn_id`, as a run with these settings
    sends logs; return its answer (a refusal is a result too, not an exception).

    :param webhook_conn_id: the webhook connection (``auth0_webhook``).
    :param send_as_batch: true: a JSON array of one log; false: the log as one JSON object.
    :param content_format: ``json_array`` or ``json_lines`` (one JSON object and a line break).
    """
    kind = content_type(content_format)
    sender: WebhookSender = WebhookHook(webhook_conn_id=webhook_conn_id).get_conn()
    event = sample_event(datetime.now(timezone.utc))
    body, message_id = encode([event], send_as_batch, content_format), webhook_id([event])
    before, started = sender.stats.requests, time.monotonic()
    try:
        outcome: Outcome = sender.send(body, message_id, kind)
    except WebhookDeliveryError as error:
        outcome = error.outcome
    parts = urlsplit(sender.url)
    hidden = [sender.url, sender.authorization, *sender.signing_secrets, parts.query, parts.path.rstrip("/")]
    answer = _scrub(excerpt(outcome.reason, 300), sorted(filter(None, hidden), key=len, reverse=True))
    result = TestPayloadResult(
        delivered=outcome.verdict is Verdict.DELIVERED, verdict=outcome.verdict.value, status=outcome.status,
        answer=answer, latency_ms=round((time.monotonic() - started) * 1000), attempts=sender.stats.requests - before,
        target=sender.target, webhook_id=message_id, log_id=event["log_id"], send_as_batch=send_as_batch,
        content_format=content_format, content_type=kind, body_bytes=len(body), signed=bool(sender.signing_secrets),
        authorization_sent=bool(sender.authorization),
    )
    (log.info if result.delivered else log.warning)("%s", result.describe())
    return result
