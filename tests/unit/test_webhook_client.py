"""auth0_webhooks.webhook_client: classify, encode, identify, sign, send, retry.

Spec: Standard Webhooks and common sender practice (only 2xx is success; 3xx is a failure;
429/503 wait for Retry-After; 410 Gone pauses) and the original extension
(AUTHORIZATION verbatim, no header when empty; SEND_AS_BATCH array vs one object per call).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random

import pytest

from .conftest import T0, FakeTime
import requests

import auth0_webhooks
from auth0_webhooks.webhook_client import (
    Outcome,
    Verdict,
    WebhookDeliveryError,
    WebhookSender,
    classify,
    encode,
    redact_url,
    sign,
    webhook_id,
)

URL = "https://hooks.example.com/ingest/PATHSECRET?token=QUERYSECRET"
AUTH = "Bearer AUTHSECRET-123"




def sender(clock: FakeTime, **kwargs) -> WebhookSender:
    kwargs.setdefault("authorization", AUTH)
    return WebhookSender(URL, sleep=clock.sleep, clock=clock.time, rng=random.Random(7), **kwargs)


LOGS = [{"log_id": "900001", "type": "s"}, {"log_id": "900002", "type": "f"}]
BODY = encode(LOGS, True)
MSG = webhook_id(LOGS)


# ---------------------------------------------------------------- classify


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status):
    assert classify(status, {}, "", T0).verdict is Verdict.DELIVERED


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
def test_3xx_is_permanent(status):
    outcome = classify(status, {"Location": "https://elsewhere.example.com/path?k=SECRET"}, "", T0)
    assert outcome.verdict is Verdict.PERMANENT
    assert "not followed" in outcome.reason
    assert "SECRET" not in outcome.reason and "elsewhere.example.com" in outcome.reason


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_client_errors_are_permanent(status):
    assert classify(status, {}, "bad", T0).verdict is Verdict.PERMANENT


def test_410_is_gone():
    assert classify(410, {}, "", T0).verdict is Verdict.GONE


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status):
    assert classify(status, {}, "", T0).verdict is Verdict.RETRY


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_read_for_429_and_503(status):
    assert classify(status, {"Retry-After": "12"}, "", T0).wait == 12
    assert classify(status, {"Retry-After": "Thu, 01 Jan 2027 00:00:10 GMT"}, "", 1798761600.0).wait == 10
    assert classify(status, {}, "", T0).wait is None


def test_reason_has_status_and_body_excerpt():
    outcome = classify(500, {}, "line one\n   line two " + "x" * 1000, T0)
    assert outcome.reason.startswith("HTTP 500: line one line two")
    assert len(outcome.reason) < 260


# ---------------------------------------------------------------- send: outcomes


def test_2xx_delivers_in_one_request(requests_mock, clock):
    requests_mock.post(URL, status_code=202)
    hook = sender(clock)
    outcome = hook.send(BODY, MSG)
    assert outcome.verdict is Verdict.DELIVERED and outcome.status == 202
    assert requests_mock.call_count == 1
    assert requests_mock.last_request.body == BODY
    assert clock.sleeps == []
    assert hook.stats.delivered == 1


def test_redirects_are_never_followed(requests_mock, clock):
    requests_mock.post(URL, status_code=302, headers={"Location": "https://other.example.com/landing"})
    other = requests_mock.post("https://other.example.com/landing", status_code=200)
    requests_mock.get("https://other.example.com/landing", status_code=200)
    with pytest.raises(WebhookDeliveryError) as caught:
        sender(clock).send(BODY, MSG)
    assert not other.called
    assert requests_mock.call_count == 1
    assert caught.value.permanent
    assert "302" in str(caught.value)


def test_post_is_made_with_allow_redirects_false_and_a_timeout(clock):
    calls = []

    class Session:
        def post(self, url, **kwargs):
            calls.append((url, kwargs))
            response = requests.Response()
            response.status_code = 200
            response._content = b""
            return response

    sender(clock, session=Session(), timeout=12.5).send(BODY, MSG)
    (url, kwargs), = calls
    assert url == URL
    assert kwargs["allow_redirects"] is False
    assert kwargs["timeout"] == 12.5
    assert kwargs["data"] == BODY


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_permanent_4xx_is_raised_at_once(requests_mock, clock, status):
    requests_mock.post(URL, status_code=status, text="nope")
    with pytest.raises(WebhookDeliveryError) as caught:
        sender(clock).send(BODY, MSG)
    assert requests_mock.call_count == 1
    assert clock.sleeps == []
    assert caught.value.permanent
    assert caught.value.attempts == 1
    assert f"HTTP {status}" in str(caught.value)


def test_410_gone_pauses(requests_mock, clock):
    requests_mock.post(URL, status_code=410)
    with pytest.raises(WebhookDeliveryError) as caught:
        sender(clock).send(BODY, MSG)
    assert requests_mock.call_count == 1
    assert caught.value.outcome.verdict is Verdict.GONE
    assert caught.value.permanent
    assert "410 Gone" in str(caught.value) and "asking us to stop" in str(caught.value) and caught.value.gone


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_then_succeed(requests_mock, clock, status):
    requests_mock.post(URL, [{"status_code": status}, {"status_code": status}, {"status_code": 200}])
    hook = sender(clock, backoff_base=1.0, backoff_cap=60.0)
    assert hook.send(BODY, MSG).verdict is Verdict.DELIVERED
    assert requests_mock.call_count == 3
    assert len(clock.sleeps) == 2
    assert 0.5 <= clock.sleeps[0] <= 1.0 and 1.0 <= clock.sleeps[1] <= 2.0  # exponential backoff, jittered
    assert hook.stats.retries == 2


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(requests_mock, clock, status):
    requests_mock.post(URL, [{"status_code": status, "headers": {"Retry-After": "17"}}, {"status_code": 200}])
    sender(clock).send(BODY, MSG)
    assert clock.sleeps == [pytest.approx(17.0)]


def test_retry_after_shorter_than_backoff_does_not_shorten_it(requests_mock, clock):
    requests_mock.post(URL, [{"status_code": 429, "headers": {"Retry-After": "0"}}, {"status_code": 200}])
    sender(clock, backoff_base=4.0).send(BODY, MSG)
    assert 2.0 <= clock.sleeps[0] <= 4.0


@pytest.mark.parametrize(
    "exc",
    [requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError],
)
def test_timeouts_and_connection_errors_are_retried(requests_mock, clock, exc):
    requests_mock.post(URL, [{"exc": exc}, {"exc": exc}, {"status_code": 204}])
    assert sender(clock).send(BODY, MSG).verdict is Verdict.DELIVERED
    assert requests_mock.call_count == 3
    assert len(clock.sleeps) == 2


def test_exhausted_attempts_raise_with_status_and_short_excerpt_but_no_secrets(requests_mock, clock):
    body = "upstream exploded: " + "y" * 5000
    requests_mock.post(URL, status_code=500, text=body)
    with pytest.raises(WebhookDeliveryError) as caught:
        sender(clock, max_attempts=4).send(BODY, MSG)
    error = caught.value
    message = str(error)
    assert requests_mock.call_count == 4 and error.attempts == 4
    assert len(clock.sleeps) == 3
    assert not error.permanent
    assert "HTTP 500" in message and "upstream exploded" in message
    assert len(message) < 600
    assert "https://hooks.example.com" in message
    for secret in ("AUTHSECRET", "PATHSECRET", "QUERYSECRET", "ingest"):
        assert secret not in message


def test_connection_error_message_does_not_leak_the_url(requests_mock, clock):
    requests_mock.post(URL, exc=requests.exceptions.ConnectionError(f"Max retries exceeded with url: {URL}"))
    with pytest.raises(WebhookDeliveryError) as caught:
        sender(clock, max_attempts=2).send(BODY, MSG)
    message = str(caught.value)
    assert "connection failed" in message
    assert "PATHSECRET" not in message and "QUERYSECRET" not in message


def test_timeout_exhausted_message(requests_mock, clock):
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(WebhookDeliveryError) as caught:
        sender(clock, max_attempts=2, timeout=15).send(BODY, MSG)
    assert "no answer within 15 s" in str(caught.value)


def test_sender_repr_hides_secrets(clock):
    text = repr(sender(clock, signing_secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]))
    assert "AUTHSECRET" not in text and "whsec_" not in text


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://hooks.example.com/a/b?token=x", "https://hooks.example.com/…"),
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("https://hooks.example.com/", "https://hooks.example.com"),
        ("http://127.0.0.1:9/hook?x=1", "http://127.0.0.1:9/…"),
        ("https://user:pass@hooks.example.com/", "https://hooks.example.com"),
        ("https://hooks.example.com?sig=abc", "https://hooks.example.com/…"),
        ("not a url", "<webhook>"),
        ("", "<webhook>"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


# ---------------------------------------------------------------- encode, identity


def test_encode_batch_is_a_json_array():
    body = encode(LOGS, True)
    assert json.loads(body) == LOGS


def test_encode_batch_of_one_is_still_an_array():
    assert json.loads(encode(LOGS[:1], True)) == LOGS[:1]


def test_encode_single_is_one_json_object():
    assert json.loads(encode(LOGS[:1], False)) == LOGS[0]


def test_encode_single_refuses_several_logs():
    with pytest.raises(ValueError):
        encode(LOGS, False)


def test_encode_is_utf8_and_keeps_non_ascii():
    body = encode([{"log_id": "1", "user_name": "Zoë 😀"}], True)
    assert json.loads(body.decode("utf-8"))[0]["user_name"] == "Zoë 😀"


def test_webhook_id_is_stable_for_the_same_logs():
    assert webhook_id(LOGS) == webhook_id([dict(log) for log in LOGS])
    assert webhook_id(LOGS).startswith("msg_")


def test_webhook_id_differs_for_different_logs():
    other = [{"log_id": "900003"}, {"log_id": "900004"}]
    ids = {webhook_id(LOGS), webhook_id(other), webhook_id(LOGS[:1]), webhook_id(LOGS[1:]), webhook_id(LOGS + other)}
    assert len(ids) == 5


# ---------------------------------------------------------------- signatures

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_standard_webhooks_vector():
    assert sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY, [VECTOR_SECRET]) == VECTOR_SIG


def test_sign_with_several_secrets_is_space_separated():
    other = "whsec_" + base64.b64encode(b"another-secret-of-24-bytes!").decode()
    signature = sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY, [VECTOR_SECRET, other])
    first, second = signature.split(" ")
    assert first == VECTOR_SIG
    expected = hmac.new(b"another-secret-of-24-bytes!", f"{VECTOR_ID}.{VECTOR_TS}.".encode() + VECTOR_BODY,
                        hashlib.sha256).digest()
    assert second == "v1," + base64.b64encode(expected).decode()


def test_sign_changes_with_body_timestamp_and_id():
    base = sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY, [VECTOR_SECRET])
    assert sign(VECTOR_ID, VECTOR_TS, b'{"test": 1}', [VECTOR_SECRET]) != base
    assert sign(VECTOR_ID, VECTOR_TS + 1, VECTOR_BODY, [VECTOR_SECRET]) != base
    assert sign("msg_other", VECTOR_TS, VECTOR_BODY, [VECTOR_SECRET]) != base


# ---------------------------------------------------------------- headers


def test_headers_with_authorization_and_signature(requests_mock, clock):
    requests_mock.post(URL, status_code=200)
    hook = sender(clock, signing_secrets=[VECTOR_SECRET], headers={"X-Env": "test"})
    hook.send(BODY, MSG)
    headers = requests_mock.last_request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == AUTH
    assert headers["webhook-id"] == MSG
    assert headers["webhook-timestamp"] == str(int(T0))
    assert headers["webhook-signature"] == sign(MSG, int(T0), BODY, [VECTOR_SECRET])
    assert headers["X-Env"] == "test"
    assert headers["User-Agent"] == auth0_webhooks.USER_AGENT
    assert auth0_webhooks.__version__ in headers["User-Agent"]


@pytest.mark.parametrize("authorization", ["", None])
def test_no_authorization_header_when_empty_and_no_signature_without_secrets(requests_mock, clock, authorization):
    requests_mock.post(URL, status_code=200)
    sender(clock, authorization=authorization).send(BODY, MSG)
    headers = requests_mock.last_request.headers
    assert "Authorization" not in headers
    assert "webhook-signature" not in headers
    assert headers["webhook-id"] == MSG
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("value", ["Splunk 6f1c-22aa-90bd", "Basic dXNlcjpwYXNz", "token-without-scheme"])
def test_authorization_is_sent_verbatim(requests_mock, clock, value):
    requests_mock.post(URL, status_code=200)
    sender(clock, authorization=value).send(BODY, MSG)
    assert requests_mock.last_request.headers["Authorization"] == value


def test_authorization_with_a_stray_newline_never_leaks_in_the_error(requests_mock, clock):
    requests_mock.post(URL, status_code=200)
    try:
        sender(clock, authorization="Bearer AUTHSECRET-123\n").send(BODY, MSG)
    except Exception as error:  # noqa: BLE001 - any clear error is fine, as long as it hides the secret
        assert "AUTHSECRET" not in str(error)


def test_extra_headers_cannot_override_identity_or_content_type(clock):
    hook = sender(clock, headers={"Content-Type": "text/plain", "webhook-id": "forged"})
    headers = hook.request_headers(BODY, MSG, "application/json")
    assert headers["Content-Type"] == "application/json"
    assert headers["webhook-id"] == MSG


def test_retries_keep_the_webhook_id_and_re_sign_with_a_fresh_timestamp(requests_mock, clock):
    requests_mock.post(URL, [{"status_code": 503, "headers": {"Retry-After": "30"}}, {"status_code": 200}])
    sender(clock, signing_secrets=[VECTOR_SECRET]).send(BODY, MSG)
    first, second = requests_mock.request_history
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == MSG
    assert first.body == second.body == BODY
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 30
    assert second.headers["webhook-signature"] == sign(MSG, int(T0) + 30, BODY, [VECTOR_SECRET])


def test_delivery_error_outcome_is_kept():
    error = WebhookDeliveryError(Outcome(Verdict.RETRY, 500, "HTTP 500"), 5, "https://h")
    assert error.outcome.status == 500 and error.attempts == 5 and not error.permanent


# ---------------------------------------------------------------- the shared retry policy


def test_retry_after_is_capped_at_max_retry_after(requests_mock, clock):
    requests_mock.post(URL, [{"status_code": 503, "headers": {"Retry-After": "3600"}}, {"status_code": 200}])
    sender(clock, max_retry_after=120.0).send(BODY, MSG)
    assert clock.sleeps == [pytest.approx(120.0)]


def test_one_warning_per_failed_attempt_including_the_last(requests_mock, clock, caplog):
    requests_mock.post(URL, status_code=502)
    hook = sender(clock, max_attempts=3)
    with caplog.at_level("WARNING", logger="auth0_webhooks.webhook_client"), pytest.raises(WebhookDeliveryError):
        hook.send(BODY, MSG)
    lines = [record.getMessage() for record in caplog.records if record.name == "auth0_webhooks.webhook_client"]
    assert lines == [f"webhook https://hooks.example.com/…: HTTP 502 (attempt {n} of 3)" for n in (1, 2, 3)]
    assert (hook.stats.requests, hook.stats.retries, hook.stats.delivered) == (3, 2, 0)


def test_permanent_answer_after_retries_stops_at_once_with_the_attempt_count(requests_mock, clock):
    requests_mock.post(URL, [{"status_code": 500}, {"status_code": 404}, {"status_code": 200}])
    hook = sender(clock)
    with pytest.raises(WebhookDeliveryError) as caught:
        hook.send(BODY, MSG)
    assert caught.value.attempts == 2 and caught.value.permanent
    assert requests_mock.call_count == 2 and len(clock.sleeps) == 1
    assert hook.stats.retries == 1


def test_stats_add_up_across_sends(requests_mock, clock):
    requests_mock.post(URL, [{"status_code": 500}, {"status_code": 200}, {"status_code": 204}])
    hook = sender(clock)
    hook.send(BODY, MSG)
    hook.send(BODY, MSG)
    assert (hook.stats.requests, hook.stats.retries, hook.stats.delivered) == (3, 1, 2)
