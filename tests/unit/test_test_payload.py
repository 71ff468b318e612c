"""auth0_webhooks.test_payload: the `send_test_payload` Param's sample log, sent as a real delivery is.

The webhook connection is defined as a user does without a database (AIRFLOW_CONN_<ID> as JSON); the webhook
is requests-mock. Spec: the issue's item 6 (the original's sample payload, the same headers and signature, the
answer reported) and the project's rule that no secret reaches a result or a log line.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from auth0_webhooks import USER_AGENT
from auth0_webhooks.hooks.webhook import WebhookHook
from auth0_webhooks.signatures import verify
from auth0_webhooks.test_payload import TEST_LOG_ID_PREFIX, TestPayloadResult, sample_event, send_test_payload
from auth0_webhooks.webhook_client import webhook_id

URL = "https://hooks.example.com/ingest/k9Zx7Qp2?token=tok3n-value"
AUTHORIZATION = "Bearer payload-s3cret-value"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONN_ID = "test_payload_webhook"
SECRETS = (AUTHORIZATION, SECRET, "k9Zx7Qp2", "tok3n-value")


@pytest.fixture
def connection(monkeypatch):
    def define(**extra) -> None:
        fields = {"conn_type": "auth0_webhook", "host": URL, "password": AUTHORIZATION,
                  "extra": {"signing_secret": SECRET, **extra}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(fields))

    original = WebhookHook.get_conn

    def no_waiting(self):
        sender = original(self)
        sender.sleep = lambda seconds: None
        return sender

    monkeypatch.setattr(WebhookHook, "get_conn", no_waiting)
    define()
    return define


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_sample_event_is_a_realistic_login_marked_as_a_test():
    from datetime import datetime, timezone

    event = sample_event(datetime(2026, 12, 2, 11, 5, 7, 123456, tzinfo=timezone.utc))
    assert event["type"] == "s" and event["log_id"] == "test_20261202T110507123456"
    assert event["log_id"].startswith(TEST_LOG_ID_PREFIX) and "test" in event["description"].lower()
    assert event["date"] == "2026-12-02T11:05:07.123Z"
    for name in ("client_id", "client_name", "ip", "user_agent", "user_id", "user_name", "connection",
                 "connection_id", "strategy", "strategy_type", "hostname", "details"):
        assert event[name] not in (None, "")
    assert event["details"]["completedAt"] == 1_796_209_507_123 and event["details"]["test"] is True
    assert json.loads(json.dumps(event)) == event


def test_batch_sample_is_sent_with_the_headers_and_signature_of_a_delivery(connection, requests_mock, caplog):
    requests_mock.post(URL, status_code=200, text='{"received": 1}')
    with caplog.at_level("INFO"):
        result = send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=True)
    sent = requests_mock.last_request
    body = sent.body
    (event,) = json.loads(body)
    assert event["log_id"].startswith(TEST_LOG_ID_PREFIX) and event["type"] == "s"
    assert body == json.dumps([event], separators=(",", ":"), ensure_ascii=False).encode()
    assert sent.headers["Authorization"] == AUTHORIZATION and sent.headers["User-Agent"] == USER_AGENT
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["webhook-id"] == webhook_id([event]) == result.webhook_id
    assert verify([SECRET], sent.headers, body)
    assert not verify([SECRET], sent.headers, body + b" ")  # the signature covers exactly these bytes
    assert (result.delivered, result.verdict, result.status, result.attempts) == (True, "delivered", 200, 1)
    assert result.answer == 'HTTP 200: {"received": 1}' and result.target == "https://hooks.example.com/…"
    assert (result.log_id, result.body_bytes, result.signed, result.authorization_sent) == (
        event["log_id"], len(body), True, True)
    assert result.latency_ms >= 0 and result.describe().startswith("Test payload delivered to https://hooks.")
    assert "a JSON array of one log" in result.describe()
    assert_no_secret(json.dumps(result.to_xcom()), result.describe(), caplog.text)
    assert result.describe() in caplog.text
    assert TestPayloadResult.from_xcom(result.to_xcom()) == result


def test_one_log_per_request_sends_an_object(connection, requests_mock):
    requests_mock.post(URL, status_code=204)
    result = send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=False)
    event = json.loads(requests_mock.last_request.body)
    assert isinstance(event, dict) and event["log_id"] == result.log_id
    assert result.delivered and result.status == 204 and "one JSON object" in result.describe()


def test_json_lines(connection, requests_mock):
    requests_mock.post(URL, status_code=200)
    result = send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=True, content_format="json_lines")
    body = requests_mock.last_request.body
    assert body.endswith(b"\n") and body.count(b"\n") == 1 and json.loads(body)["log_id"] == result.log_id
    assert requests_mock.last_request.headers["Content-Type"] == result.content_type == "application/x-ndjson"
    assert verify([SECRET], requests_mock.last_request.headers, body)


def test_unknown_content_format_is_refused_before_sending(connection, requests_mock):
    with pytest.raises(ValueError, match=r"content_format='xml' is not allowed: expected 'json_array'"):
        send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=True, content_format="xml")
    assert requests_mock.call_count == 0


def test_a_refusal_is_reported_with_its_status_and_no_secret(connection, requests_mock, caplog):
    echo = f'{{"error": "bad credentials {AUTHORIZATION}", "path": "/ingest/k9Zx7Qp2?token=tok3n-value"}}'
    requests_mock.post(URL, status_code=401, text=echo)
    with caplog.at_level("INFO"):
        result = send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=True)
    assert (result.delivered, result.verdict, result.status, result.attempts) == (False, "permanent", 401, 1)
    assert result.answer.startswith("HTTP 401: ") and "bad credentials ***" in result.answer
    text = result.describe()
    assert text.startswith("Test payload NOT delivered to https://hooks.example.com/…: HTTP 401")
    assert "check the Authorization value (the connection's password)" in text
    assert requests_mock.last_request.headers["Authorization"] == AUTHORIZATION  # sent, never shown
    assert_no_secret(json.dumps(result.to_xcom()), text, caplog.text)


@pytest.mark.parametrize("status, verdict, advice", [
    (404, "permanent", "check the URL's path"),
    (410, "gone", "410 Gone"),
    (413, "permanent", "lower batch_size"),
    (302, "permanent", "redirects are never followed"),
])
def test_other_refusals_say_what_to_check(connection, requests_mock, status, verdict, advice):
    requests_mock.post(URL, status_code=status, headers={"Location": "https://elsewhere.example.com/x?secret=1"})
    result = send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=True)
    assert (result.delivered, result.status, result.verdict) == (False, status, verdict)
    assert advice in result.describe() and "secret=1" not in result.describe()


def test_retries_as_a_delivery_does_and_counts_attempts(connection, requests_mock):
    connection(max_attempts=3)
    requests_mock.post(URL, [{"status_code": 503, "text": "busy"}, {"status_code": 500}, {"status_code": 200}])
    result = send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=True)
    assert (result.delivered, result.status, result.attempts) == (True, 200, 3)
    ids = {r.headers["webhook-id"] for r in requests_mock.request_history}
    assert ids == {result.webhook_id}  # the same message, tried again


def test_no_answer_is_reported(connection, requests_mock):
    connection(max_attempts=2)
    requests_mock.post(URL, exc=requests.ConnectionError("refused"))
    result = send_test_payload(webhook_conn_id=CONN_ID, send_as_batch=True)
    assert (result.delivered, result.status, result.verdict, result.attempts) == (False, None, "retry", 2)
    assert result.answer == "connection failed (ConnectionError)"
    assert re.search(r"What to check: check the connection's URL \(host, port, scheme\)", result.describe())
