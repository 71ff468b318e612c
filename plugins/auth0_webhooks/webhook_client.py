"""POST logs to the user's webhook: encode, identify, sign, send, classify the answer, retry.

No Airflow here: `hooks.webhook.WebhookHook` builds a `WebhookSender` from a Connection. Only a 2xx is delivered
(`classify` says what each answer means); a send that does not end in one raises, and the caller keeps the
checkpoint where it was: nothing is ever skipped.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import requests

from auth0_webhooks import USER_AGENT
from auth0_webhooks.retry import RetryPolicy, Try, backoff_delay, excerpt, retry_after_seconds
from auth0_webhooks.signatures import sign

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    """What an answer means for the delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"
    GONE = "gone"


@dataclass(frozen=True)
class Outcome:
    """A classified answer: the verdict, and how long the receiver asked us to wait (if it did)."""

    verdict: Verdict
    status: int | None
    reason: str
    wait: float | None = None


class WebhookDeliveryError(Exception):
    """A delivery did not end in a 2xx after the retries allowed inside one task try."""

    def __init__(self, outcome: Outcome, attempts: int, target: str) -> None:
        self.outcome = outcome
        self.attempts = attempts
        advice = {Verdict.GONE: "; the receiver answered 410 Gone, asking us to stop sending",
                  Verdict.PERMANENT: "; retrying the same request will not help: fix the receiver or the connection"}
        super().__init__(f"webhook {target} did not acknowledge after {attempts} attempt(s): {outcome.reason}"
                         + advice.get(outcome.verdict, ""))

    @property
    def gone(self) -> bool:
        """True when the receiver answered 410 Gone: delivery must pause until an operator resumes it."""
        return self.outcome.verdict is Verdict.GONE

    @property
    def permanent(self) -> bool:
        """True when Airflow should not retry the task (4xx other than the retryable ones)."""
        return self.outcome.verdict in (Verdict.PERMANENT, Verdict.GONE)


_RETRYABLE_4XX = {408, 409, 425, 429}


def classify(status: int, headers: Mapping[str, str], body: str, now: float) -> Outcome:
    """Classify an HTTP answer from the webhook: 2xx delivered; 410 gone; 5xx and `_RETRYABLE_4XX` retried (429 and 503
    after `Retry-After`); 3xx (redirects are never followed) and any other 4xx permanent."""
    reason = f"HTTP {status}" + (f": {excerpt(body)}" if body and body.strip() else "")
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, status, reason)
    if status == 410:
        return Outcome(Verdict.GONE, status, reason)
    if status in (429, 503):
        return Outcome(Verdict.RETRY, status, reason, retry_after_seconds(headers, now))
    if status >= 500 or status in _RETRYABLE_4XX:
        return Outcome(Verdict.RETRY, status, reason)
    if 300 <= status < 400:
        location = headers.get("Location", "")
        return Outcome(Verdict.PERMANENT, status, f"{reason} (redirect to {redact_url(location)} not followed)")
    return Outcome(Verdict.PERMANENT, status, reason)


# The `content_format` setting: each format's name and the Content-Type of its requests.
CONTENT_TYPES = {"json_array": "application/json", "json_lines": "application/x-ndjson"}
DEFAULT_CONTENT_FORMAT = "json_array"


def content_type(content_format: str) -> str:
    """The Content-Type of requests in `content_format`; ValueError naming the allowed formats."""
    try:
        return CONTENT_TYPES[content_format]
    except KeyError:
        raise ValueError(f"content_format={content_format!r} is not allowed: expected "
                         + " or ".join(map(repr, CONTENT_TYPES))) from None


def _json(value: Mapping | list) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode(logs: Sequence[Mapping], as_batch: bool, content_format: str = DEFAULT_CONTENT_FORMAT) -> bytes:
    """The request body, UTF-8, compact JSON; the webhook-signature covers exactly these bytes.

    `json_array`: a JSON array of the logs (batch mode), or one JSON object (one log per request).
    `json_lines`: one log per line, each line a complete JSON object ending with "\n", so the body ends
    with "\n" (NDJSON); one log per request is that one line."""
    content_type(content_format)
    if not as_batch and len(logs) != 1:
        raise ValueError("one-log-per-request mode sends exactly one log per request")
    if content_format == "json_lines":
        return "".join(_json(entry) + "\n" for entry in logs).encode("utf-8")
    return _json(list(logs) if as_batch else logs[0]).encode("utf-8")


def webhook_id(logs: Sequence[Mapping]) -> str:
    """A message id derived from the logs carried: the same across retries and across runs."""
    first, last = str(logs[0].get("log_id")), str(logs[-1].get("log_id"))
    digest = hashlib.sha256(f"{first}:{last}:{len(logs)}".encode()).hexdigest()[:32]
    return f"msg_{digest}"


def redact_url(url: str) -> str:
    """A URL safe to print: scheme, host and port only (paths and queries can hold tokens)."""
    parts = urlsplit(url or "")
    if not parts.netloc:
        return "<webhook>"
    base = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    return f"{base}/…" if parts.path not in ("", "/") or parts.query else base


@dataclass
class SenderStats:
    """What one sender did, for run reports and benchmarks."""

    requests: int = 0
    retries: int = 0
    delivered: int = 0
    answered: int = 0  # requests the webhook answered (any status), and how long it took them in all
    answer_seconds: float = 0.0


@dataclass
class WebhookSender:
    """Sends request bodies to one webhook: `classify` judges each answer, `RetryPolicy` waits between tries."""

    url: str
    authorization: str | None = field(default=None, repr=False)
    signing_secrets: Sequence[str] = field(default=(), repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_retry_after: float = 300.0
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random, repr=False)
    stats: SenderStats = field(default_factory=SenderStats)

    @property
    def target(self) -> str:
        """The webhook's URL, redacted for messages."""
        return redact_url(self.url)

    def request_headers(self, body: bytes, message_id: str, content_type: str) -> dict[str, str]:
        """Headers for one attempt: fixed ones, identity and timestamp, signature when secrets exist."""
        timestamp = int(self.clock())
        headers = {"User-Agent": USER_AGENT, **self.headers,
                   "Content-Type": content_type, "webhook-id": message_id, "webhook-timestamp": str(timestamp)}
        if self.authorization:
            headers["Authorization"] = self.authorization
        if self.signing_secrets:
            headers["webhook-signature"] = sign(message_id, timestamp, body, self.signing_secrets)
        return headers

    def send_logs(self, logs: Sequence[Mapping], *, as_batch: bool = True,
                  content_format: str = DEFAULT_CONTENT_FORMAT) -> Outcome:
        """Encode `logs` as one request in `content_format`, identify it by the logs (`webhook_id`), `send` it."""
        return self.send(encode(logs, as_batch, content_format), webhook_id(logs), content_type(content_format))

    def send(self, body: bytes, message_id: str, content_type: str = CONTENT_TYPES[DEFAULT_CONTENT_FORMAT]) -> Outcome:
        """POST under `RetryPolicy` until a 2xx; WebhookDeliveryError when permanent, gone, or out of attempts."""
        policy = RetryPolicy(max_attempts=self.max_attempts, sleep=self.sleep, max_server_wait=self.max_retry_after,
                             backoff=partial(backoff_delay, base=self.backoff_base, cap=self.backoff_cap, rng=self.rng),
                             after=lambda state: log.warning("webhook %s: %s (attempt %d of %d)", self.target,
                                                             state.outcome.result().reason, state.attempt_number,
                                                             self.max_attempts))
        outcome = policy(self._attempt, body, message_id, content_type).value
        self.stats.retries += policy.statistics["attempt_number"] - 1
        if outcome.verdict is not Verdict.DELIVERED:
            raise WebhookDeliveryError(outcome, policy.statistics["attempt_number"], self.target)
        self.stats.delivered += 1
        return outcome

    def _attempt(self, body: bytes, message_id: str, content_type: str) -> Try:
        self.stats.requests += 1
        headers = self.request_headers(body, message_id, content_type)
        started = time.monotonic()
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
            self.stats.answered += 1
            self.stats.answer_seconds += time.monotonic() - started
        except requests.Timeout:
            outcome = Outcome(Verdict.RETRY, None, f"no answer within {self.timeout:g} s")
        except requests.ConnectionError as error:
            outcome = Outcome(Verdict.RETRY, None, f"connection failed ({type(error).__name__})")
        except (requests.exceptions.InvalidHeader, ValueError) as error:
            # The message of these errors repeats the header's value: never show it.
            outcome = Outcome(Verdict.PERMANENT, None, f"a request header is not valid ({type(error).__name__}): "
                              "check the Authorization value and the extra headers of the webhook connection")
        else:
            outcome = classify(response.status_code, response.headers, response.text, self.clock())
        return Try(outcome, outcome.reason if outcome.verdict is Verdict.RETRY else None, outcome.wait)
