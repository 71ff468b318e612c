"""The `content_format` setting: the exact bytes of each request body, its Content-Type, its signature,
and the path of the format from the settings (ReadJob, LiveRun) or the operator's parameter to the sender.

Spec: issue 9 and README, "Settings": `json_array` (the original's: an array per batch, an object per
log) or `json_lines` (`application/x-ndjson`: one log per line, every line ending with "\n", so the
body ends with "\n"; one line per request in one-log-per-request mode). The `webhook-signature`
covers the exact bytes sent; `webhook-id` depends on the logs only; the connection's extra headers
are kept.
"""

from __future__ import annotations

import json
import random

import pytest

from auth0_webhooks.hooks.webhook import WebhookHook
from auth0_webhooks.names import DELIVER_TASK_ID, READ_TASK_ID
from auth0_webhooks.operators.logs_to_webhook import LogsToWebhookOperator
from auth0_webhooks.protocol import LiveRun, ReadJob, Unit, unit_key
from auth0_webhooks.read import new_job
from auth0_webhooks.settings import Settings, parse_settings
from auth0_webhooks.signatures import verify
from auth0_webhooks.webhook_client import CONTENT_TYPES, WebhookSender, content_type, encode, webhook_id

from .conftest import T0, FakeTime
from .fakes import FakeStateStore, FakeTI, execute, fake_variables, fake_xcoms, plan_deliveries

URL = "https://hooks.example.com/ingest?token=QUERY"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOGS = [{"log_id": "900001", "type": "s", "user_name": "Zoë 😀"},
        {"log_id": "900002", "type": "f", "description": "two\nlines"}]
ONE = LOGS[:1]

# The exact bodies: compact JSON, UTF-8, non-ASCII kept; a line break inside a value is escaped (\n),
# so that in json_lines every "\n" byte ends a log.
FIRST = '{"log_id":"900001","type":"s","user_name":"Zoë 😀"}'.encode()
SECOND = b'{"log_id":"900002","type":"f","description":"two\\nlines"}'
EXPECTED = {
    ("json_array", True): b"[" + FIRST + b"," + SECOND + b"]",
    ("json_array", False): FIRST,
    ("json_lines", True): FIRST + b"\n" + SECOND + b"\n",
    ("json_lines", False): FIRST + b"\n",
}
CASES = [pytest.param(fmt, batch, id=f"{fmt}-{'batch' if batch else 'one-per-request'}")
         for fmt, batch in EXPECTED]


def logs_for(as_batch: bool) -> list[dict]:
    return LOGS if as_batch else ONE


# ---------------------------------------------------------------- encode


@pytest.mark.parametrize("content_format, as_batch", CASES)
def test_exact_bytes_of_each_format_and_mode(content_format, as_batch):
    assert encode(logs_for(as_batch), as_batch, content_format) == EXPECTED[content_format, as_batch]


def test_json_array_is_the_default_and_the_original_body():
    assert encode(LOGS, True) == EXPECTED["json_array", True]
    assert encode(ONE, False) == EXPECTED["json_array", False]
    assert json.loads(encode(LOGS, True)) == LOGS


def test_json_lines_has_one_complete_object_per_line_in_order():
    body = encode(LOGS, True, "json_lines")
    assert body.endswith(b"\n") and body.count(b"\n") == len(LOGS)
    assert [json.loads(line) for line in body.decode("utf-8").splitlines()] == LOGS


def test_json_lines_one_per_request_still_refuses_several_logs():
    with pytest.raises(ValueError, match="exactly one log"):
        encode(LOGS, False, "json_lines")


@pytest.mark.parametrize("content_format", ["ndjson", "JSON_LINES", "", None])
def test_a_wrong_format_names_the_allowed_ones(content_format):
    with pytest.raises(ValueError) as caught:
        encode(LOGS, True, content_format)
    assert str(caught.value) == (f"content_format={content_format!r} is not allowed: "
                                 "expected 'json_array' or 'json_lines'")


def test_content_types():
    assert content_type("json_array") == "application/json"
    assert content_type("json_lines") == "application/x-ndjson"
    assert set(CONTENT_TYPES) == {"json_array", "json_lines"}


# ---------------------------------------------------------------- what the sender puts on the wire


def sender(**kwargs) -> WebhookSender:
    clock = FakeTime()
    return WebhookSender(URL, sleep=clock.sleep, clock=clock.time, rng=random.Random(1), **kwargs)


@pytest.mark.parametrize("content_format, as_batch", CASES)
def test_the_request_carries_the_exact_bytes_signed_with_the_format_content_type(requests_mock, content_format,
                                                                                    as_batch):
    requests_mock.post(URL, status_code=200)
    logs = logs_for(as_batch)
    sender(authorization="Bearer T", signing_secrets=[SECRET], headers={"X-Source": "auth0", "X-Tenant": "t1"}
           ).send_logs(logs, as_batch=as_batch, content_format=content_format)
    (request,) = requests_mock.request_history
    assert request.body == EXPECTED[content_format, as_batch]
    assert request.headers["Content-Type"] == CONTENT_TYPES[content_format]
    assert request.headers["X-Source"] == "auth0" and request.headers["X-Tenant"] == "t1"  # extra headers kept
    assert request.headers["Authorization"] == "Bearer T"
    assert request.headers["webhook-id"] == webhook_id(logs)  # the same in every format
    assert verify([SECRET], request.headers, request.body, now=T0)
    other = "json_array" if content_format == "json_lines" else "json_lines"
    assert not verify([SECRET], request.headers, encode(logs, as_batch, other), now=T0)  # the bytes, not the logs


def test_an_extra_content_type_header_does_not_override_the_format(requests_mock):
    requests_mock.post(URL, status_code=200)
    sender(headers={"Content-Type": "text/plain"}).send_logs(LOGS, content_format="json_lines")
    assert requests_mock.request_history[0].headers["Content-Type"] == "application/x-ndjson"


def test_the_hook_keeps_the_connection_extra_headers_and_signs_json_lines(requests_mock, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": URL, "password": "Bearer H",
         "extra": {"headers": {"X-Source": "auth0"}, "signing_secret": SECRET}}))
    requests_mock.post(URL, status_code=200)
    WebhookHook().get_conn().send_logs(LOGS, content_format="json_lines")
    (request,) = requests_mock.request_history
    assert request.body == EXPECTED["json_lines", True]
    assert request.headers["X-Source"] == "auth0" and request.headers["Authorization"] == "Bearer H"
    assert verify([SECRET], request.headers, request.body)


# ---------------------------------------------------------------- from the operator to the sender


@pytest.fixture
def webhook(monkeypatch, requests_mock):
    fake_variables(monkeypatch)
    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": URL, "extra": {"headers": {"X-Source": "auth0"}, "signing_secret": SECRET}}))
    requests_mock.post(URL, status_code=200)
    return requests_mock


def many_logs(count: int) -> list[dict]:
    return [{"log_id": f"{700 + i:06d}", "type": "s", "date": f"2026-01-01T00:00:{i:02d}.000Z"} for i in range(count)]


def given_unit(logs: list[dict], as_batch: bool) -> str:
    return Unit(0, plan_deliveries(logs, lambda log: True, 2, as_batch).deliveries, "read-1").to_xcom()


def expected_bodies(logs: list[dict], as_batch: bool, content_format: str) -> list[bytes]:
    size = 2 if as_batch else 1
    return [encode(logs[i:i + size], as_batch, content_format) for i in range(0, len(logs), size)]


@pytest.mark.parametrize("content_format, as_batch", CASES)
def test_the_operator_parameter_chooses_the_body(webhook, content_format, as_batch):
    logs = many_logs(5)
    operator = LogsToWebhookOperator(task_id="deliver", units=[given_unit(logs, as_batch)],
                                     send_as_batch=as_batch, content_format=content_format)
    execute(operator, FakeTI("deliver"), FakeStateStore())
    sent = webhook.request_history
    assert [r.body for r in sent] == expected_bodies(logs, as_batch, content_format)
    assert {r.headers["Content-Type"] for r in sent} == {CONTENT_TYPES[content_format]}
    assert all(r.headers["X-Source"] == "auth0" and verify([SECRET], r.headers, r.body) for r in sent)


def test_the_operator_refuses_a_wrong_format_when_built():
    with pytest.raises(ValueError, match="content_format='ndjson' is not allowed: expected 'json_array' or 'json_lines'"):
        LogsToWebhookOperator(task_id="deliver", units=[], content_format="ndjson")


@pytest.mark.parametrize("as_batch", [True, False], ids=["batch", "one-per-request"])
def test_a_live_slot_takes_the_format_of_the_run_not_of_the_operator(webhook, monkeypatch, as_batch):
    xcoms = fake_xcoms(monkeypatch)
    logs = many_logs(4)
    xcoms.put(READ_TASK_ID, unit_key(0), given_unit(logs, as_batch))
    run = LiveRun("read-1", 1, as_batch, READ_TASK_ID, 1, None, "json_lines").to_xcom()
    execute(LogsToWebhookOperator(task_id=DELIVER_TASK_ID, units=run, slot=0), xcoms.ti(DELIVER_TASK_ID, 0),
            FakeStateStore())
    assert [r.body for r in webhook.request_history] == expected_bodies(logs, as_batch, "json_lines")
    assert {r.headers["Content-Type"] for r in webhook.request_history} == {"application/x-ndjson"}


# ---------------------------------------------------------------- from the settings to the run's records


def test_the_settings_format_and_categories_travel_in_the_read_job():
    settings = parse_settings({"content_format": "json_lines", "log_categories": "auth.login.fail user.fail"})
    job = new_job(settings, now=T0)
    assert (job.content_format, job.log_categories) == ("json_lines", ("auth.login.fail", "user.fail"))
    assert ReadJob.from_xcom(job.to_xcom()) == job
    default = new_job(Settings(), now=T0)
    assert (default.content_format, default.log_categories) == ("json_array", ())


def test_live_run_carries_the_format_and_an_older_record_means_json_array():
    run = LiveRun("r", 2, False, READ_TASK_ID, 3, None, "json_lines")
    assert LiveRun.from_xcom(json.loads(json.dumps(run.to_xcom()))) == run
    older = {"live_run": {"read_id": "r", "slots": 2, "send_as_batch": True, "first_task": READ_TASK_ID,
                          "first_units": 3, "more_task": None}}
    assert LiveRun.from_xcom(older).content_format == "json_array"
