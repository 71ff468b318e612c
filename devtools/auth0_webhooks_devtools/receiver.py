"""Webhook receiver for tests, benchmarks and the demo: records every delivery, answers as told.

Accepts a JSON array of logs, one JSON object per request, or JSON lines
(`application/x-ndjson`), gzip-encoded or not. Tracks concurrency (current and maximum
in-flight requests), answers with configurable statuses, delays, hangs, random failures or a
script of answers, and can check a fixed Authorization header and Standard Webhooks
signatures. Control endpoints under `/__receiver/` let another process drive it.
Run: `python -m auth0_webhooks_devtools.receiver --help`.

It doubles as a self-hosted request inspector, like RequestBin: `GET /__receiver/inspect` lists the
requests received, newest first, 20 a page (`?page=N`), with their status, size, logs and whether the
signature (with `--signing-secret`) and the Authorization header (with `--expected-authorization`)
checked out; `/__receiver/inspect/<index>` shows one request: headers (secret ones masked), the body
pretty-printed and raw, why a signature failed, and a `curl` command that replays it to "$WEBHOOK_URL".
`GET /__receiver/requests?page=N` and `/__receiver/requests/<index>` are the same as JSON, with the exact
body bytes in base64. Bodies of the newest 10,000 requests are kept (`max_bodies`), older ones dropped.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import random
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Iterable

from auth0_webhooks_devtools import inspector
from auth0_webhooks_devtools.server import BackgroundServer, Reply, Request, json_reply, run_until_signalled

HTML_TYPE = "text/html; charset=utf-8"
MAX_BODIES = 10_000

_ENVELOPE_KEYS = ("logs", "data", "events")


@dataclass
class Delivery:
    """One request the receiver got, and what it answered."""

    index: int
    received_at: float
    method: str
    path: str
    headers: dict[str, str]
    body_size: int
    content_type: str
    log_ids: list[str]
    log_count: int
    payload: Any = None
    logs: list[dict] | None = None
    body: bytes | None = None
    parse_error: str | None = None
    signature_valid: bool | None = None  # None: no signing secret given
    signature_problem: str | None = None  # why the signature failed
    authorization_matched: bool | None = None  # None: no Authorization expected
    status: int = 0  # 0 while in flight, or when the connection was dropped without an answer
    answered_at: float = 0.0
    client_gone: bool = False
    dropped: bool = False

    @property
    def delivered(self) -> bool:
        """Answered 2xx to a client that was still there: the sender counts it as delivered."""
        return 200 <= self.status < 300 and not self.client_gone

    def summary(self, bodies: bool = False) -> dict[str, Any]:
        """JSON-ready description (body and parsed payload only when `bodies`)."""
        data = {
            "index": self.index, "received_at": self.received_at, "answered_at": self.answered_at,
            "method": self.method, "path": self.path, "headers": self.headers, "body_size": self.body_size,
            "content_type": self.content_type, "log_count": self.log_count, "log_ids": self.log_ids,
            "status": self.status, "delivered": self.delivered, "client_gone": self.client_gone,
            "dropped": self.dropped,
            "parse_error": self.parse_error, "signature_valid": self.signature_valid,
            "signature_problem": self.signature_problem, "authorization_matched": self.authorization_matched,
        }
        if bodies:
            data["body"] = self.body.decode("utf-8", "replace") if self.body is not None else None
            data["payload"] = self.payload
        return data

    def view(self) -> dict[str, Any]:
        """What the inspector shows (JSON and HTML): secret headers masked, the body's exact bytes in base64,
        pretty-printed, as text when it is text, and a curl command replaying it (None when not kept)."""
        data = {**self.summary(), "headers": inspector.masked_headers(self.headers),
                "body_base64": inspector.base64_of(self.body), "body_text": None, "body_pretty": None,
                "curl": None, "curl_variables": inspector.variables_of(self.headers)}
        if self.body is not None:
            data.update(body_text=inspector.raw_text(self.body),
                        body_pretty=inspector.pretty_body(self.body, self.headers.get("content-encoding", "")),
                        curl=inspector.curl_command(self.method, self.headers, self.body))
        return data

    def drop_body(self) -> None:
        """Forget the body and what was parsed from it (ids and sizes stay)."""
        self.body = self.payload = self.logs = None


@dataclass
class Behaviour:
    """How the receiver answers webhook deliveries."""

    status: int = 200
    delay: float = 0.0
    fail_rate: float = 0.0
    fail_status: int = 500
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    retry_after: float | None = None
    script: collections.deque = field(default_factory=collections.deque)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {"status": self.status, "delay": self.delay, "fail_rate": self.fail_rate,
                "fail_status": self.fail_status, "hang_rate": self.hang_rate, "hang_seconds": self.hang_seconds,
                "retry_after": self.retry_after, "script": list(self.script)}


_NUMBER_SETTINGS = {"status": int, "fail_status": int, "delay": float, "fail_rate": float,
                    "hang_rate": float, "hang_seconds": float}


def validate_answer(action: str) -> str:
    """Check one scripted answer: "ok", an HTTP status, "drop", "hang" or "hang:<seconds>"."""
    name, _, arg = str(action).partition(":")
    if name in ("ok", "drop") and not arg:
        return str(action)
    if name == "hang":
        if arg:
            float(arg)
        return str(action)
    if name.isdigit() and 100 <= int(name) <= 599 and not arg:
        return str(action)
    raise ValueError(f"unknown scripted answer {action!r}")


# --------------------------------------------------------------------------- payloads


def parse_payload(body: bytes, content_type: str = "", content_encoding: str = "") -> tuple[Any, list[dict]]:
    """(parsed payload, logs it carries). Raises ValueError when the body is not JSON or JSON lines."""
    if "gzip" in content_encoding.lower():
        body = gzip.decompress(body)
    text = body.decode("utf-8")
    if any(kind in content_type.lower() for kind in ("ndjson", "jsonl", "json-lines", "jsonlines")):
        payload: Any = _json_lines(text)
    else:
        try:
            payload = json.loads(text)
        except ValueError:
            payload = _json_lines(text)
    return payload, _logs_of(payload)


def _json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _logs_of(payload: Any) -> list[dict]:
    if isinstance(payload, list):
        return [item for item in payload if isinstance(item, dict)]
    if not isinstance(payload, dict):
        return []
    if "log_id" not in payload and "_id" not in payload:
        for key in _ENVELOPE_KEYS:
            if isinstance(payload.get(key), list):
                return _logs_of(payload[key])
    return [payload]


def log_ids_of(logs: Iterable[dict]) -> list[str]:
    """The log ids (log_id, else _id) of the logs that have one, in order."""
    ids = []
    for log in logs:
        log_id = log.get("log_id") or log.get("_id")
        if log_id:
            ids.append(str(log_id))
    return ids


def _peer_closed(sock: socket.socket | None) -> bool:
    """Whether the client has closed its end (e.g. after timing out)."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


# --------------------------------------------------------------------------- the receiver


class WebhookReceiver(BackgroundServer):
    """Records webhook deliveries and answers them with a configurable behaviour."""

    name = "webhook-receiver"
    log_requests = False  # verbose prints its own one-line summary per delivery

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str | None = None,
        status: int = 200,
        delay: float = 0.0,
        seed: int = 0,
        keep_bodies: bool = True,
        expected_authorization: str | None = None,
        signing_secret: str | None = None,
        verbose: bool = False,
        max_bodies: int | None = MAX_BODIES,
        max_requests: int | None = None,
    ) -> None:
        """`max_bodies`: bodies kept, the newest (older ones are dropped, their ids and sizes stay);
        `max_requests`: requests remembered at all, the newest (None: every one)."""
        super().__init__(host, port, verbose)
        self.path = path
        self.keep_bodies = keep_bodies
        self.max_bodies, self.max_requests = max_bodies, max_requests
        self.expected_authorization = expected_authorization
        self.signing_secret = signing_secret
        self.behaviour = Behaviour(status=status, delay=delay)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._records: collections.deque[Delivery] = collections.deque()
        self._with_body: collections.deque[Delivery] = collections.deque()
        self._next_index = 0
        self._in_flight = 0
        self._max_in_flight = 0

    # -- public --------------------------------------------------------------------

    @property
    def requests(self) -> list[Delivery]:
        """Every recorded request, in arrival order."""
        with self._lock:
            return list(self._records)

    def request(self, index: int) -> Delivery | None:
        """Request `index` (its number since the last reset), or None when it was not received or is forgotten."""
        with self._lock:
            position = index - self._records[0].index if self._records else -1
            return self._records[position] if 0 <= position < len(self._records) else None

    def page(self, page: Any = 1, per_page: Any = inspector.PER_PAGE) -> dict[str, Any]:
        """One page of request views, newest first: page (from 1), per_page, pages, total, requests."""
        records = self.requests
        page, per_page, pages = inspector.page_bounds(len(records), page, per_page)
        end = len(records) - (page - 1) * per_page
        chosen = records[max(0, end - per_page):max(0, end)][::-1]
        return {"page": page, "per_page": per_page, "pages": pages, "total": len(records),
                "requests": [record.view() for record in chosen]}

    def log_ids(self) -> list[str]:
        """Every log id received, in arrival order, duplicates and failed answers included."""
        return [log_id for record in self.requests for log_id in record.log_ids]

    def delivered_log_ids(self) -> list[str]:
        """Log ids of requests answered 2xx (to a client still connected), in order, duplicates included."""
        return [log_id for record in self.requests if record.delivered for log_id in record.log_ids]

    def delivered_logs(self) -> list[dict]:
        """The logs of delivered requests (needs keep_bodies=True)."""
        return [log for record in self.requests if record.delivered for log in (record.logs or [])]

    def set_behaviour(self, **settings: Any) -> dict[str, Any]:
        """Change only the given settings: status, delay, fail_rate, fail_status, hang_rate,
        hang_seconds, retry_after, script (replaces the queue of next answers)."""
        with self._lock:
            for name, value in settings.items():
                if name == "script":
                    self.behaviour.script = collections.deque(validate_answer(a) for a in (value or []))
                elif name in _NUMBER_SETTINGS:
                    setattr(self.behaviour, name, _NUMBER_SETTINGS[name](value))
                elif name == "retry_after":
                    self.behaviour.retry_after = None if value is None else float(value)
                else:
                    raise ValueError(f"unknown behaviour setting {name!r}")
            return self.behaviour.as_dict()

    def reset(self, behaviour: bool = False) -> None:
        """Forget every recorded request (and restore the default behaviour when asked)."""
        with self._lock:
            self._records.clear()
            self._with_body.clear()
            self._next_index = 0
            self._max_in_flight = self._in_flight
            if behaviour:
                self.behaviour = Behaviour()

    def stats(self) -> dict[str, Any]:
        """Counters: requests, by status, in-flight now and at most, log ids received and delivered."""
        records = self.requests
        delivered = [log_id for record in records if record.delivered for log_id in record.log_ids]
        unique = len(set(delivered))
        with self._lock:
            in_flight, max_in_flight = self._in_flight, self._max_in_flight
            behaviour = self.behaviour.as_dict()
        return {
            "requests": len(records),
            "by_status": dict(collections.Counter(str(r.status) for r in records)),
            "in_flight": in_flight,
            "max_in_flight": max_in_flight,
            "deliveries": sum(1 for r in records if r.delivered),
            "failed_answers": sum(1 for r in records if r.answered_at and not r.delivered),
            "dropped": sum(1 for r in records if r.dropped),
            "log_ids": sum(len(r.log_ids) for r in records),
            "delivered_log_ids": len(delivered),
            "unique_delivered_log_ids": unique,
            "duplicate_delivered_log_ids": len(delivered) - unique,
            "bytes": sum(r.body_size for r in records),
            "max_body_size": max((r.body_size for r in records), default=0),
            "client_gone": sum(1 for r in records if r.client_gone),
            "parse_errors": sum(1 for r in records if r.parse_error),
            "signature_invalid": sum(1 for r in records if r.signature_valid is False),
            "first_request_at": records[0].received_at if records else None,
            "last_request_at": records[-1].received_at if records else None,
            "behaviour": behaviour,
        }

    # -- HTTP ----------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Control endpoints, a health answer for GET, else a webhook delivery."""
        if request.path.startswith("/__receiver/"):
            return self._control(request, request.path[len("/__receiver/"):].rstrip("/"))
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return json_reply(200, {"status": "ok", "receiver": True})
        return self._delivery(request)

    def _delivery(self, request: Request) -> Reply:
        record = self._record(request)
        self._enter()
        try:
            reply = self._answer(request, record)
        finally:
            self._leave()
        record.status, record.dropped = (0, True) if reply.drop else (reply.status, False)
        record.answered_at = time.time()
        self._report(record)
        return reply

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, request: Request) -> Delivery:
        headers = dict(request.headers)
        content_type = headers.get("content-type", "")
        payload, logs, error = None, [], None
        try:
            payload, logs = parse_payload(request.body, content_type, headers.get("content-encoding", ""))
        except (ValueError, OSError, EOFError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        ids = log_ids_of(logs)
        keep, now = self.keep_bodies, time.time()
        problem = inspector.signature_problem(self.signing_secret, headers, request.body, now) \
            if self.signing_secret else None
        with self._lock:
            record = Delivery(
                index=self._next_index, received_at=now, method=request.method, path=request.target,
                headers=headers, body_size=len(request.body), content_type=content_type, log_ids=ids,
                log_count=len(logs), payload=payload if keep else None, logs=logs if keep else None,
                body=request.body if keep else None, parse_error=error,
                signature_valid=problem is None if self.signing_secret else None, signature_problem=problem,
                authorization_matched=None if self.expected_authorization is None
                else request.header("authorization") == self.expected_authorization,
            )
            self._next_index += 1
            self._records.append(record)
            if keep:
                self._with_body.append(record)
            while self.max_bodies is not None and len(self._with_body) > self.max_bodies:
                self._with_body.popleft().drop_body()
            while self.max_requests is not None and len(self._records) > self.max_requests:
                self._records.popleft().drop_body()
        return record

    def _answer(self, request: Request, record: Delivery) -> Reply:
        if self.path is not None and request.path != self.path:
            return json_reply(404, {"error": f"no webhook at {request.path}"})
        if record.authorization_matched is False:
            return json_reply(401, {"error": "missing or wrong Authorization header"})
        if record.signature_valid is False:
            return json_reply(401, {"error": "invalid webhook signature"})
        action, behaviour = self._next_action()
        slept = behaviour.delay
        self.sleep(behaviour.delay)
        name, _, arg = action.partition(":")
        if name == "drop":
            return Reply(drop=True)
        if name == "hang":
            slept += float(arg) if arg else behaviour.hang_seconds
            self.sleep(float(arg) if arg else behaviour.hang_seconds)
            name = "ok"
        if slept > 0 and _peer_closed(request.connection):
            record.client_gone = True
        status = behaviour.status if name == "ok" else int(name)
        return self._status_reply(status, record, behaviour)

    def _next_action(self) -> tuple[str, Behaviour]:
        with self._lock:
            behaviour = self.behaviour
            if behaviour.script:
                return behaviour.script.popleft(), behaviour
            if behaviour.hang_rate and self._rng.random() < behaviour.hang_rate:
                return "hang", behaviour
            if behaviour.fail_rate and self._rng.random() < behaviour.fail_rate:
                return str(behaviour.fail_status), behaviour
            return "ok", behaviour

    def _status_reply(self, status: int, record: Delivery, behaviour: Behaviour) -> Reply:
        headers: dict[str, str] = {}
        if status in (429, 503) and behaviour.retry_after is not None:
            headers["Retry-After"] = f"{behaviour.retry_after:g}"
        if 300 <= status < 400:
            headers["Location"] = f"{self.base_url}/moved-elsewhere"
        if 200 <= status < 300:
            return json_reply(status, {"received": record.log_count}, headers)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return json_reply(status, {"error": phrase}, headers)

    def _report(self, record: Delivery) -> None:
        if self.verbose:
            took = record.answered_at - record.received_at
            gone = " (client gone)" if record.client_gone else ""
            print(f"{time.strftime('%H:%M:%S')} {record.method} {record.path} -> {record.status}{gone} "
                  f"{record.log_count} logs {record.body_size} B in {took:.3f}s", flush=True)

    # -- control endpoints ---------------------------------------------------------

    def _control(self, request: Request, action: str) -> Reply:
        flag = request.query.get
        try:
            if request.method == "GET" and action.partition("/")[0] in ("inspect", "requests") and (
                    "/" in action or action == "inspect" or "page" in request.query):
                return self._inspect(request, action)
            if (request.method, action) == ("GET", "requests"):
                bodies = flag("bodies", "0") in ("1", "true")
                since = int(flag("since", "0") or 0)
                items = [r.summary(bodies) for r in self.requests if r.index >= since]
                return json_reply(200, {"count": len(items), "requests": items})
            if (request.method, action) == ("GET", "stats"):
                return json_reply(200, self.stats())
            if (request.method, action) == ("GET", "log_ids"):
                delivered = flag("delivered", "0") in ("1", "true")
                ids = self.delivered_log_ids() if delivered else self.log_ids()
                return json_reply(200, {"count": len(ids), "log_ids": ids})
            if (request.method, action) == ("POST", "behaviour"):
                return json_reply(200, self.set_behaviour(**self._json_object(request)))
            if (request.method, action) == ("POST", "reset"):
                self.reset(bool(self._json_object(request).get("behaviour")))
                return json_reply(200, {"ok": True})
        except (ValueError, TypeError) as exc:
            return json_reply(400, {"error": str(exc)})
        return json_reply(404, {"error": f"no control endpoint {request.method} /__receiver/{action}"})

    def _inspect(self, request: Request, action: str) -> Reply:
        """The inspector: `inspect[/<index>]` as HTML, `requests?page=N` and `requests/<index>` as JSON."""
        kind, _, index = action.partition("/")
        base = "/__receiver"
        if not index:
            page = self.page(request.query.get("page", "1"), request.query.get("per_page", inspector.PER_PAGE))
            if kind == "requests":
                return json_reply(200, page)
            text = inspector.render_list(page["requests"], page["page"], page["pages"], page["total"], base)
            return Reply(200, text.encode(), {"Content-Type": HTML_TYPE})
        record = self.request(int(index)) if index.isdigit() else None
        if record is None:
            return json_reply(404, {"error": f"no request {index} (forgotten, or not received yet)"})
        if kind == "requests":
            return json_reply(200, record.view())
        return Reply(200, inspector.render_detail(record.view(), base).encode(), {"Content-Type": HTML_TYPE})

    @staticmethod
    def _json_object(request: Request) -> dict:
        data = request.json()
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m auth0_webhooks_devtools.receiver",
        description="Webhook receiver that records deliveries, and a request inspector: open "
                    "http://HOST:PORT/__receiver/inspect in a browser to see every request, its headers and body, "
                    "its signature check, and a curl command that replays it.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--path", default=None, help="only this path is a webhook (default: any)")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests answered --fail-status")
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--hang-rate", type=float, default=0.0, help="share of requests that hang")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--retry-after", type=float, default=None, help="Retry-After on 429/503 answers")
    parser.add_argument("--expected-authorization", default=os.environ.get("RECEIVER_EXPECTED_AUTHORIZATION"),
                        help="exact Authorization header required (default: $RECEIVER_EXPECTED_AUTHORIZATION, "
                             "which keeps it out of the process list)")
    parser.add_argument("--signing-secret", default=os.environ.get("RECEIVER_SIGNING_SECRET"),
                        help="verify Standard Webhooks signatures (whsec_...); unsigned or wrongly signed requests "
                             "are answered 401 and the inspector says why (default: $RECEIVER_SIGNING_SECRET)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-bodies", action="store_true", help="keep only log ids and sizes")
    parser.add_argument("--max-bodies", type=int, default=MAX_BODIES,
                        help=f"bodies kept, the newest (default {MAX_BODIES:,}); older ones are dropped")
    parser.add_argument("--max-requests", type=int, default=None,
                        help="requests remembered at all, the newest (default: every one)")
    parser.add_argument("--verbose", action="store_true", help="print one line per request")
    parser.add_argument("--inspect", action="store_true",
                        help="use it as a request inspector: print the inspector's address on stderr and one line "
                             "per request (--verbose); the pages /__receiver/inspect are served either way")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the receiver until SIGTERM/SIGINT; prints the base URL on stdout when ready."""
    args = _parser().parse_args(argv)
    receiver = WebhookReceiver(
        host=args.host, port=args.port, path=args.path, status=args.status, delay=args.delay, seed=args.seed,
        keep_bodies=not args.no_bodies, expected_authorization=args.expected_authorization,
        signing_secret=args.signing_secret, verbose=args.verbose or args.inspect, max_bodies=args.max_bodies,
        max_requests=args.max_requests,
    )
    receiver.set_behaviour(fail_rate=args.fail_rate, fail_status=args.fail_status, hang_rate=args.hang_rate,
                           hang_seconds=args.hang_seconds, retry_after=args.retry_after)
    print(receiver.start(), flush=True)
    if args.inspect:
        print(f"Requests: {receiver.base_url}/__receiver/inspect", file=sys.stderr, flush=True)
    run_until_signalled(receiver)
    return 0


if __name__ == "__main__":
    sys.exit(main())
