"""auth0_logs_to_webhook under dag.test() with the settings of issue 9: `content_format: json_lines`
(in both modes, checked byte for byte at the receiver, signed) and `log_categories`.

Spec: README, "Settings": json_lines sends Content-Type application/x-ndjson, one log per line as
compact JSON, every line ending with "\n"; one line per request when send_as_batch is false. The
signature covers the exact bytes. log_categories keeps the logs of the listed Log Streams
categories (in union with log_types and log_level) and the checkpoint still moves past the others.
"""

from __future__ import annotations

import base64
import json
from typing import Iterator

import pytest

from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks.log_types import event_type
from auth0_webhooks.signatures import verify

from .conftest import AUTHORIZATION, delivered_in_order

SIGNING_SECRET = "whsec_" + base64.b64encode(b"content-format dag test key 32b!").decode()


@pytest.fixture
def signed_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    """A receiver that refuses unsigned requests; the connection signs and adds an extra header."""
    with WebhookReceiver(expected_authorization=AUTHORIZATION, signing_secret=SIGNING_SECRET) as rec:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": f"{rec.base_url}/hooks/auth0", "password": AUTHORIZATION,
             "extra": {"timeout": 5, "signing_secret": SIGNING_SECRET, "headers": {"X-Source": "auth0-dag-test"}}}))
        yield rec


def ndjson_line(log: dict) -> bytes:
    """One log as the spec says: compact JSON, UTF-8, then a newline."""
    return json.dumps(log, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


@pytest.mark.parametrize("send_as_batch", [True, False], ids=["batch", "one-log-per-request"])
def test_json_lines_bodies_are_exactly_the_logs_sent_in_order(emulator, signed_receiver, configure, run_dag,
                                                              variables, send_as_batch):
    logs = emulator.add_logs(230 if send_as_batch else 30)
    configure(content_format="json_lines", send_as_batch=send_as_batch, batch_size=50, webhook_concurrent_calls=2)

    run = run_dag()

    assert run.state == "success"
    requests = signed_receiver.requests
    assert requests and all(r.delivered for r in requests)  # nothing refused: every signature was valid
    # Slots deliver units concurrently: put the requests in the order of their first log, then the
    # bodies, end to end, are the logs' lines, each log once and in order, byte for byte.
    ordered = sorted(requests, key=lambda r: r.log_ids[0])
    assert b"".join(r.body for r in ordered) == b"".join(map(ndjson_line, logs))
    for request in requests:
        lines = request.body.split(b"\n")
        assert lines[-1] == b"" and all(lines[:-1])  # every line complete and newline-terminated
        assert len(lines) - 1 == len(request.logs) == request.log_count  # the receiver reads each line as a log
        assert (len(lines) - 1 <= 50) if send_as_batch else (len(lines) - 1 == 1)
        assert request.body == b"".join(map(ndjson_line, request.logs))
        assert request.content_type == "application/x-ndjson"
        assert request.headers["x-source"] == "auth0-dag-test"  # the connection's extra header
        assert request.signature_valid is True
        assert verify([SIGNING_SECRET], request.headers, request.body, now=request.received_at)
    if send_as_batch:
        assert len(logs) // 50 <= len(requests) < len(logs)
    else:
        assert len(requests) == len(logs)
    assert variables() == logs[-1]["log_id"]


def test_log_categories_send_only_those_logs_and_the_checkpoint_passes_the_others(emulator, receiver, configure,
                                                                                   run_dag, variables):
    logs = emulator.add_logs(400) + emulator.add_logs(3, types=["s", "slo", "sapi"])  # the last ones are filtered out
    configure(log_categories=["auth.login.fail"], batch_size=20)
    expected = [entry["log_id"] for entry in logs if event_type(entry["type"]).category == "auth.login.fail"]
    assert 0 < len(expected) < len(logs)
    assert event_type(logs[-1]["type"]).category != "auth.login.fail"

    run = run_dag()

    assert run.state == "success"
    assert delivered_in_order(receiver) == expected
    assert {r.content_type for r in receiver.requests} == {"application/json"}  # the default format
    assert variables() == logs[-1]["log_id"]  # moved past the logs the filter dropped
