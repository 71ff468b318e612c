"""Tests of the webhook receiver (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from auth0_webhooks_devtools.receiver import WebhookReceiver

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def batch(*ids: str) -> list[dict]:
    return [{"log_id": i, "type": "s"} for i in ids]


@pytest.fixture
def rx():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def test_records_array_object_ndjson_and_gzip(rx, session):
    url = f"{rx.base_url}/hook?source=test"
    assert session.post(url, json=batch("1", "2")).status_code == 200
    assert session.post(url, json={"log_id": "3", "type": "f"}).status_code == 200
    ndjson = b'{"log_id": "4"}\n{"log_id": "5"}\n'
    assert session.post(url, data=ndjson, headers={"Content-Type": "application/x-ndjson"}).status_code == 200
    zipped = gzip.compress(json.dumps(batch("6")).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    assert session.post(url, data=zipped, headers=headers).status_code == 200
    assert rx.log_ids() == rx.delivered_log_ids() == ["1", "2", "3", "4", "5", "6"]
    first = rx.requests[0]
    assert first.method == "POST" and first.path == "/hook?source=test" and first.status == 200
    assert first.headers["content-type"] == "application/json" and first.body_size == len(first.body)
    assert first.logs == batch("1", "2")
    assert rx.requests[1].payload == {"log_id": "3", "type": "f"}
    assert rx.stats()["requests"] == 4 and rx.stats()["by_status"] == {"200": 4}


def test_unparseable_body_is_recorded(rx, session):
    assert session.post(f"{rx.base_url}/hook", data=b"not json at all").status_code == 200
    assert rx.requests[0].parse_error and rx.log_ids() == []


def test_tracks_max_concurrency(session):
    with WebhookReceiver(delay=0.3) as receiver:
        def send(i: int) -> None:
            requests.post(f"{receiver.base_url}/hook", json=batch(str(i)), timeout=5)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(0.15)
        assert receiver.stats()["in_flight"] == 6
        for thread in threads:
            thread.join()
        stats = receiver.stats()
        assert stats["max_in_flight"] == 6 and stats["in_flight"] == 0 and stats["deliveries"] == 6
        receiver.reset()
        requests.post(f"{receiver.base_url}/hook", json=batch("x"), timeout=5)
        assert receiver.stats()["max_in_flight"] == 1


def test_scripted_answers_and_delivered_ids(rx, session):
    rx.set_behaviour(script=["500", "429", "503", "410", "301", "ok"], retry_after=7)
    answers = [session.post(f"{rx.base_url}/hook", json=batch(str(i)), allow_redirects=False) for i in range(7)]
    assert [a.status_code for a in answers] == [500, 429, 503, 410, 301, 200, 200]
    assert answers[1].headers["Retry-After"] == "7" and answers[2].headers["Retry-After"] == "7"
    assert "Retry-After" not in answers[0].headers
    assert answers[4].headers["Location"].startswith(rx.base_url)
    assert rx.log_ids() == [str(i) for i in range(7)]
    assert rx.delivered_log_ids() == ["5", "6"]
    assert rx.stats()["failed_answers"] == 5


def test_status_and_seeded_fail_rate(session):
    def run() -> list[int]:
        with WebhookReceiver(seed=4) as receiver:
            receiver.set_behaviour(fail_rate=0.5, fail_status=502)
            with requests.Session() as s:
                return [s.post(f"{receiver.base_url}/h", json=batch(str(i))).status_code for i in range(30)]

    first = run()
    assert first == run() and set(first) == {200, 502}
    with WebhookReceiver(status=204) as receiver:
        assert session.post(f"{receiver.base_url}/h", json=batch("1")).status_code == 204
        assert receiver.delivered_log_ids() == ["1"]


def test_expected_authorization_and_path(session):
    with WebhookReceiver(path="/hook", expected_authorization="Bearer s3cret") as receiver:
        assert session.post(f"{receiver.base_url}/hook", json=batch("1")).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert session.post(f"{receiver.base_url}/other", json=batch("2"), headers=good).status_code == 404
        assert session.post(f"{receiver.base_url}/hook", json=batch("3"), headers=good).status_code == 200
        assert receiver.delivered_log_ids() == ["3"] and receiver.log_ids() == ["1", "2", "3"]


def test_hang_past_client_timeout_is_not_delivered(rx, session):
    rx.set_behaviour(script=["hang:0.4"])
    with pytest.raises(requests.Timeout):
        session.post(f"{rx.base_url}/hook", json=batch("1"), timeout=0.1)
    deadline = time.time() + 3
    while rx.requests[0].status == 0 and time.time() < deadline:
        time.sleep(0.02)
    assert rx.requests[0].client_gone and rx.requests[0].status == 200
    assert rx.log_ids() == ["1"] and rx.delivered_log_ids() == []
    assert session.post(f"{rx.base_url}/hook", json=batch("1")).status_code == 200
    assert rx.delivered_log_ids() == ["1"]


def test_drop_closes_the_connection(rx, session):
    rx.set_behaviour(script=["drop"])
    with pytest.raises(requests.ConnectionError):
        session.post(f"{rx.base_url}/hook", json=batch("1"))
    assert rx.requests[0].dropped and rx.requests[0].status == 0 and rx.delivered_log_ids() == []
    assert rx.stats()["dropped"] == 1 and rx.stats()["failed_answers"] == 1


def test_keep_bodies_false_keeps_ids_and_sizes(session):
    with WebhookReceiver(keep_bodies=False) as receiver:
        session.post(f"{receiver.base_url}/hook", json=batch("1", "2"))
        record = receiver.requests[0]
        assert record.body is None and record.logs is None and record.payload is None
        assert record.log_ids == ["1", "2"] and record.body_size > 0


def test_standard_webhooks_signature(session):
    secret_bytes = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(secret_bytes).decode()
    with WebhookReceiver(signing_secret=secret) as receiver:
        body = json.dumps(batch("1")).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(secret_bytes, f"msg_1.{stamp}.".encode() + body, hashlib.sha256).digest()
        headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp, "Content-Type": "application/json",
                   "webhook-signature": "v1,bad v1," + base64.b64encode(digest).decode()}
        assert session.post(f"{receiver.base_url}/hook", data=body, headers=headers).status_code == 200
        headers["webhook-timestamp"] = str(int(time.time()) - 600)
        assert session.post(f"{receiver.base_url}/hook", data=body, headers=headers).status_code == 401
        assert [r.signature_valid for r in receiver.requests] == [True, False]


def test_control_endpoints(rx, session):
    control = f"{rx.base_url}/__receiver"
    assert session.post(f"{control}/behaviour", json={"status": 503, "retry_after": 2}).json()["status"] == 503
    assert session.post(f"{rx.base_url}/hook", json=batch("1")).status_code == 503
    session.post(f"{control}/behaviour", json={"status": 200})
    session.post(f"{rx.base_url}/hook", json=batch("2"))
    assert session.get(f"{control}/log_ids").json()["log_ids"] == ["1", "2"]
    assert session.get(f"{control}/log_ids?delivered=1").json() == {"count": 1, "log_ids": ["2"]}
    summaries = session.get(f"{control}/requests").json()["requests"]
    assert [s["status"] for s in summaries] == [503, 200] and "body" not in summaries[0]
    assert json.loads(session.get(f"{control}/requests?bodies=1").json()["requests"][1]["body"]) == batch("2")
    assert session.get(f"{control}/stats").json()["delivered_log_ids"] == 1
    assert session.post(f"{control}/behaviour", json={"nonsense": 1}).status_code == 400
    assert session.post(f"{control}/behaviour", json={"script": ["bogus"]}).status_code == 400
    session.post(f"{control}/reset", json={})
    assert rx.requests == [] and session.get(f"{control}/stats").json()["requests"] == 0
    assert session.get(f"{rx.base_url}/").status_code == 200 and rx.requests == []  # GET is a health check


def test_stop_closes_keep_alive_connections_and_restarts_on_the_same_port(session):
    receiver = WebhookReceiver()
    url = receiver.start()
    assert session.post(f"{url}/hook", json=batch("1")).status_code == 200
    receiver.stop()
    with pytest.raises(requests.ConnectionError):
        session.post(f"{url}/hook", json=batch("2"), timeout=2)
    assert receiver.start() == url
    try:
        assert session.post(f"{url}/hook", json=batch("3")).status_code == 200
        assert receiver.delivered_log_ids() == ["1", "3"]
    finally:
        receiver.stop()


def test_cli_runs_until_sigterm():
    env = {**os.environ, "PYTHONPATH": str(PLUGINS)}
    with subprocess.Popen(
        [sys.executable, "-m", "auth0_webhooks_devtools.receiver", "--port", "0", "--status", "202", "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    ) as process:
        try:
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            assert requests.post(f"{base_url}/hook", json=batch("1"), timeout=5).status_code == 202
            assert "POST /hook -> 202" in process.stdout.readline()
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) == 0
