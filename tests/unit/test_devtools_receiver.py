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
from html.parser import HTMLParser
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


# --------------------------------------------------------------------------- the request inspector

SECRET_BYTES = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()
AUTHORIZATION = "Bearer inspector-s3cret-token"


def signed(body: bytes, message_id: str = "msg_1", stamp: int | None = None, secret: bytes = SECRET_BYTES) -> dict:
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": message_id, "webhook-timestamp": str(stamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


class Rows(HTMLParser):
    """The cells of every row of an HTML table's body, and the text of <pre> blocks by id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.pre: dict[str, str] = {}
        self._cell: list[str] | None = None
        self._pre: str | None = None
        self._in_body = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "pre":
            self._pre = dict(attrs).get("id")
            self.pre[self._pre] = ""

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "pre":
            self._pre = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._pre is not None:
            self.pre[self._pre] += data


@pytest.fixture
def inspected():
    """A receiver checking Authorization and signatures, sent: an array, an object, JSON lines, gzip, a request
    signed with another secret, one without Authorization (indexes 0 to 5)."""
    with WebhookReceiver(expected_authorization=AUTHORIZATION, signing_secret=SECRET) as receiver, \
            requests.Session() as s:
        url = f"{receiver.base_url}/hook?source=test"
        auth = {"Authorization": AUTHORIZATION}
        bodies = [
            (json.dumps(batch("1", "2")).encode(), {"Content-Type": "application/json"}),
            (json.dumps({"log_id": "3", "type": "f", "description": "l'utilisateur « n'existe pas »"},
                        ensure_ascii=False).encode(), {"Content-Type": "application/json"}),
            (b'{"log_id":"4"}\n{"log_id":"5"}\n', {"Content-Type": "application/x-ndjson"}),
            (gzip.compress(json.dumps(batch("6")).encode()),
             {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
        ]
        for i, (body, headers) in enumerate(bodies):
            assert s.post(url, data=body, headers={**headers, **auth, **signed(body, f"msg_{i}")}).status_code == 200
        body = json.dumps(batch("7")).encode()
        wrong = signed(body, "msg_4", secret=b"another secret, another key!!!!!")
        assert s.post(url, data=body, headers={"Content-Type": "application/json", **auth, **wrong}).status_code == 401
        assert s.post(url, data=body, headers={"Content-Type": "application/json", **signed(body, "msg_5")}
                      ).status_code == 401
        receiver.sent = [body for body, _ in bodies] + [body, body]
        yield receiver


def test_inspector_json_lists_newest_first_with_checks_and_exact_bytes(inspected, session):
    control = f"{inspected.base_url}/__receiver"
    page = session.get(f"{control}/requests?page=1").json()
    assert (page["page"], page["per_page"], page["pages"], page["total"]) == (1, 20, 1, 6)
    views = page["requests"]
    assert [v["index"] for v in views] == [5, 4, 3, 2, 1, 0]
    assert [v["status"] for v in views] == [401, 401, 200, 200, 200, 200]
    assert [v["signature_valid"] for v in views] == [True, False, True, True, True, True]
    assert [v["authorization_matched"] for v in views] == [False, True, True, True, True, True]
    assert views[1]["signature_problem"].startswith("no v1 signature matches")
    assert [v["log_count"] for v in views] == [1, 1, 1, 2, 1, 2]
    for view in views:
        assert base64.b64decode(view["body_base64"]) == inspected.sent[view["index"]]
        assert AUTHORIZATION not in json.dumps(view)
    assert views[2]["headers"]["authorization"] == "Bear****" and "authorization" not in views[0]["headers"]
    detail = session.get(f"{control}/requests/3").json()
    assert detail["headers"]["content-encoding"] == "gzip" and detail["body_text"] is None
    assert json.loads(detail["body_pretty"]) == batch("6")
    assert gzip.decompress(base64.b64decode(detail["body_base64"])) == json.dumps(batch("6")).encode()
    assert session.get(f"{control}/requests/2").json()["body_pretty"] == '{\n  "log_id": "4"\n}\n{\n  "log_id": "5"\n}'
    assert session.get(f"{control}/requests/6").status_code == 404
    assert session.get(f"{control}/requests?page=0").status_code == 400
    # The legacy listing is unchanged: every request, oldest first, headers as received.
    legacy = session.get(f"{control}/requests").json()["requests"]
    assert [r["index"] for r in legacy] == list(range(6)) and legacy[0]["headers"]["authorization"] == AUTHORIZATION


def test_inspector_pages_of_twenty(session):
    with WebhookReceiver() as receiver:
        for i in range(45):
            session.post(f"{receiver.base_url}/hook", json=batch(str(i)))
        control = f"{receiver.base_url}/__receiver"
        pages = [session.get(f"{control}/requests?page={n}").json() for n in (1, 2, 3, 4)]
        assert [[v["index"] for v in p["requests"]] for p in pages] == [
            list(range(44, 24, -1)), list(range(24, 4, -1)), [4, 3, 2, 1, 0], []]
        assert {p["pages"] for p in pages} == {3}
        assert [v["index"] for v in session.get(f"{control}/requests?page=2&per_page=10").json()["requests"]] == \
            list(range(34, 24, -1))
        html_rows = Rows(session.get(f"{control}/inspect?page=3").text).rows
        assert [row[0] for row in html_rows] == ["4", "3", "2", "1", "0"]
        listing = session.get(f"{control}/inspect?page=2").text
        assert 'href="/__receiver/inspect?page=1"' in listing and 'href="/__receiver/inspect?page=3"' in listing


def test_inspector_html_list_and_detail(inspected, session):
    control = f"{inspected.base_url}/__receiver"
    answer = session.get(f"{control}/inspect")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert "<script src" not in answer.text and "<link" not in answer.text and AUTHORIZATION not in answer.text
    rows = Rows(answer.text).rows
    assert [row[0] for row in rows] == ["5", "4", "3", "2", "1", "0"]
    index, stamp, method, path, status, ctype, size, logs, signature, authorization = rows[3]
    assert (method, path, status, ctype, logs, signature, authorization) == (
        "POST", "/hook?source=test", "200", "application/x-ndjson", "2", "verified", "matched")
    assert size == f"{len(inspected.sent[2])} B" and stamp.endswith("Z")
    assert (rows[1][4], rows[1][8]) == ("401", "failed") and (rows[0][8], rows[0][9]) == ("verified", "did not match")

    detail = session.get(f"{control}/inspect/1")
    assert detail.status_code == 200 and AUTHORIZATION not in detail.text and "Bear****" in detail.text
    page = Rows(detail.text)
    assert json.loads(page.pre["pretty"]) == json.loads(inspected.sent[1])
    assert page.pre["raw"] == inspected.sent[1].decode()
    assert page.pre["curl"].startswith("printf '%s' ") and "$WEBHOOK_URL" in page.pre["curl"]
    failed = session.get(f"{control}/inspect/4").text
    assert "failed: no v1 signature matches" in failed
    assert session.get(f"{control}/inspect/99").status_code == 404


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_curl_command_replays_the_exact_request(inspected, session, index):
    """The detail's curl command, run by sh, sends the same bytes and headers (the signature still verifies)."""
    view = session.get(f"{inspected.base_url}/__receiver/requests/{index}").json()
    assert view["curl_variables"] == ["WEBHOOK_URL", "WEBHOOK_AUTHORIZATION"]
    env = {**os.environ, "WEBHOOK_URL": f"{inspected.base_url}/replayed", "WEBHOOK_AUTHORIZATION": AUTHORIZATION}
    done = subprocess.run(["sh", "-c", view["curl"]], env=env, capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    original, replayed = inspected.request(index), inspected.requests[-1]
    assert replayed.index == 6 and replayed.path == "/replayed" and replayed.status == 200
    assert replayed.body == original.body == inspected.sent[index]
    assert replayed.signature_valid and replayed.authorization_matched
    ignored = {"host", "content-length", "connection"}
    assert {k: v for k, v in replayed.headers.items() if k not in ignored} == \
        {k: v for k, v in original.headers.items() if k not in ignored}


def test_inspector_masks_secret_headers_and_names_their_variables():
    from auth0_webhooks_devtools import inspector

    assert inspector.mask("Bearer abcdefgh") == "Bear****" and inspector.mask("short") == "****"
    headers = {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "k" * 20, "X-Source": "auth0"}
    assert inspector.masked_headers(headers) == {"Authorization": "Basi****", "X-Api-Key": "kkkk****",
                                                 "X-Source": "auth0"}
    command = inspector.curl_command("PUT", headers, b"it's")
    assert "dXNlcjpwYXNz" not in command and "k" * 20 not in command
    assert '-H "Authorization: $WEBHOOK_AUTHORIZATION"' in command and '-H "X-Api-Key: $WEBHOOK_X_API_KEY"' in command
    assert "-X PUT" in command and "-H 'X-Source: auth0'" in command
    assert inspector.variables_of(headers) == ["WEBHOOK_URL", "WEBHOOK_AUTHORIZATION", "WEBHOOK_X_API_KEY"]


def test_signature_problems_are_explained():
    from auth0_webhooks_devtools.inspector import signature_problem

    body, now = b"[]", float(int(time.time()))
    assert signature_problem(SECRET, signed(body), body, now) is None
    assert signature_problem(SECRET, {}, body, now) == "no webhook-id header"
    assert signature_problem(SECRET, {"webhook-id": "m"}, body, now) == "no webhook-timestamp header"
    old = signature_problem(SECRET, signed(body, stamp=int(now) - 900), body, now)
    assert old == "webhook-timestamp is 900 s old: more than the 300 s allowed"
    assert signature_problem(SECRET, {**signed(body), "webhook-signature": "v2,x"}, body, now) == \
        "no v1 signature in the webhook-signature header"
    assert signature_problem(SECRET, signed(body), b"[ ]", now).startswith("no v1 signature matches")


def test_bodies_and_requests_are_capped_oldest_first(session):
    with WebhookReceiver(max_bodies=3, max_requests=5) as receiver:
        for i in range(7):
            session.post(f"{receiver.base_url}/hook", json=batch(str(i)))
        assert [r.index for r in receiver.requests] == [2, 3, 4, 5, 6]
        assert [r.body is not None for r in receiver.requests] == [False, False, True, True, True]
        assert receiver.log_ids() == ["2", "3", "4", "5", "6"] and receiver.request(1) is None
        control = f"{receiver.base_url}/__receiver"
        assert session.get(f"{control}/requests/1").status_code == 404
        kept, dropped = (session.get(f"{control}/requests/{i}").json() for i in (6, 3))
        assert json.loads(base64.b64decode(kept["body_base64"])) == batch("6")
        assert dropped["body_base64"] is None and dropped["curl"] is None and dropped["log_ids"] == ["3"]
        assert "Not kept" in session.get(f"{control}/inspect/3").text
        assert [r["index"] for r in session.get(f"{control}/requests?since=5").json()["requests"]] == [5, 6]
        receiver.reset()
        session.post(f"{receiver.base_url}/hook", json=batch("x"))
        assert [r.index for r in receiver.requests] == [0] and receiver.request(0).body is not None


def test_cli_inspect_prints_where_to_look():
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "RECEIVER_SIGNING_SECRET": SECRET}
    with subprocess.Popen(
        [sys.executable, "-m", "auth0_webhooks_devtools.receiver", "--port", "0", "--inspect", "--max-bodies", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as process:
        try:
            base_url = process.stdout.readline().strip()
            assert process.stderr.readline().strip() == f"Requests: {base_url}/__receiver/inspect"
            assert requests.post(f"{base_url}/hook", json=batch("1"), timeout=5).status_code == 401  # unsigned
            assert "POST /hook -> 401" in process.stdout.readline()
            view = requests.get(f"{base_url}/__receiver/requests/0", timeout=5).json()
            assert view["signature_problem"] == "no webhook-id header"
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) == 0
