"""Auth0 Management API emulator: POST /oauth/token and GET /api/v2/logs, as a real tenant answers.

Follows the rules in the project's reference notes: client-credentials tokens with expiry,
checkpoint mode (`from`/`take`, `Link: rel="next"`, 400 for a checkpoint past retention),
search mode (Lucene-ish `q`, `sort`, `page`/`per_page`, `include_totals`, 1,000-result cap,
414 for long queries), a token-bucket rate limit with `x-ratelimit-*` headers on every logs
answer, retention, and seedable fault injection. Control endpoints under `/__emulator/` let
another process drive it. Run: `python -m auth0_webhooks_devtools.emulator --help`.

Built on `server` (the HTTP layer), `query` (the `q` parser), `ratelimit` (the token bucket) and
`faults` (fault settings). `BackgroundServer`, `Request`, `Reply`, `json_reply`,
`run_until_signalled`, `LogQuery`, `QueryError` and `TokenBucket` are still importable from here.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import math
import random
import re
import sys
import threading
import time
from dataclasses import fields
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from auth0_webhooks_devtools.events import (
    LOG_ID_LENGTH,
    EventFactory,
    date_ms,
    default_start,
    format_date,
    parse_date,
    to_epoch_ms,
)
from auth0_webhooks_devtools.faults import FAULT_ENDPOINTS, MALFORMED_KINDS, FaultConfig, validate_action
from auth0_webhooks_devtools.query import LogQuery, QueryError, as_text, field_value
from auth0_webhooks_devtools.ratelimit import TokenBucket
from auth0_webhooks_devtools.server import (
    JSON_TYPE,
    BackgroundServer,
    Reply,
    Request,
    json_reply,
    raw_json_reply,
    run_until_signalled,
)

MAX_QUERY_LENGTH = 4000
MAX_SEARCH_RESULTS = 1000
UNLIMITED_RATE_LIMIT = 1000  # x-ratelimit-limit/remaining shown when no limit is set

# --------------------------------------------------------------------------- stored logs, error answers


class _Entry:
    """One stored log with its id, date in ms and cached JSON."""

    __slots__ = ("log_id", "log", "date_ms", "text")

    def __init__(self, log: dict) -> None:
        self.log = log
        self.log_id = str(log["log_id"])
        self.date_ms = date_ms(log["date"])
        self.text: str | None = None

    def json(self) -> str:
        """The log's JSON, serialized once."""
        text = self.text
        if text is None:
            text = self.text = json.dumps(self.log, separators=(",", ":"))
        return text


def _error(status: int, message: str, error_code: str | None = None, headers: dict | None = None) -> Reply:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    payload: dict[str, Any] = {"statusCode": status, "error": phrase, "message": message}
    if error_code:
        payload["errorCode"] = error_code
    return json_reply(status, payload, headers)


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise QueryError(f'Query validation error: "{name}" must be an integer') from exc


# --------------------------------------------------------------------------- the emulator


class Auth0Emulator(BackgroundServer):
    """In-process Auth0 tenant: tokens, logs (checkpoint and search), rate limit, retention, faults.

    `logs` initial logs are dated every `spacing_seconds` from `start_date`, or by default so
    that the last is just before now and all fit in retention. Retention (`retention_days`,
    None: off) is measured with `clock` before every logs answer: with a `start_date` older
    than that, pin the clock too. `rate_burst`/`rate_per_second` None: unlimited (the headers
    still show a limit of 1000). `latency`: seconds added to every logs answer.
    """

    name = "auth0-emulator"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = "emulator-client",
        client_secret: str = "emulator-secret",
        audience: str | None = None,
        seed: int = 0,
        logs: int = 0,
        types: list[str] | None = None,
        start_date: datetime | None = None,
        spacing_seconds: float = 1.0,
        retention_days: float | None = 30,
        rate_burst: int | None = None,
        rate_per_second: float | None = None,
        token_ttl: int = 86400,
        clock: Callable[[], float] | None = None,
        latency: float = 0.0,
        future_share: float = 0.0,
        verbose: bool = False,
    ) -> None:
        super().__init__(host, port, verbose)
        self.client_id, self.client_secret, self.audience = client_id, client_secret, audience
        self.seed = seed
        self.clock = clock or time.time
        self.spacing_seconds = spacing_seconds
        self.retention_days = retention_days or None
        self.token_ttl = token_ttl
        self.latency = latency
        self.factory = EventFactory(seed=seed, types=types, spacing_seconds=spacing_seconds, future_share=future_share)
        self._lock = threading.RLock()
        self._entries: list[_Entry] = []
        self._ids: list[str] = []
        self._dates: list[int] = []
        self._dates_sorted = True
        self._last_date_ms: int | None = None
        self._last_purged_id: str | None = None
        self._tokens: dict[str, float] = {}
        self._token_rng = random.Random(f"{seed}:tokens")
        self._bucket: TokenBucket | None = None
        self.set_rate_limit(rate_burst, rate_per_second)
        self._faults = {endpoint: FaultConfig() for endpoint in FAULT_ENDPOINTS}
        self._scripts: dict[str, collections.deque[str]] = {e: collections.deque() for e in FAULT_ENDPOINTS}
        self._fault_rngs = {e: random.Random(f"{seed}:faults:{e}") for e in FAULT_ENDPOINTS}
        self.reset_stats()
        if logs:
            self._add_initial(logs, start_date)

    # -- logs ------------------------------------------------------------------------

    def _add_initial(self, n: int, start_date: datetime | None) -> None:
        spacing = self.spacing_seconds
        if start_date is None:
            if self.retention_days and n > 1:
                spacing = min(spacing, 0.9 * self.retention_days * 86400 / (n - 1))
            start_date = default_start(n, spacing, self.clock())
        self._append(self.factory.make(n, start_date, spacing))

    def add_logs(self, n: int, types: list[str] | None = None, date: datetime | None = None) -> list[dict]:
        """Append n new logs (ids after every existing one); dated up to now unless `date` is given."""
        with self._lock:
            if date is not None:
                events = self.factory.make(n, date, self.spacing_seconds, types)
            else:
                start_ms, step_ms = self._batch_dates(n, int(self.clock() * 1000))
                start = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc)
                events = self.factory.make(n, start, step_ms / 1000, types)
            self._append(events)
        return events

    def _batch_dates(self, n: int, now_ms: int) -> tuple[float, float]:
        """Start and step (ms) of a new batch: spread up to now, never before the newest log."""
        spacing = self.spacing_seconds * 1000
        start = now_ms - (n - 1) * spacing
        last = self._last_date_ms
        if last is None or start > last:
            return start, spacing
        room = now_ms - last
        if room >= n:
            step = room / n
            return last + step, step
        return last + spacing, spacing

    def _append(self, events: Iterable[dict]) -> None:
        with self._lock:
            for event in events:
                entry = _Entry(event)
                if self._ids and entry.log_id <= self._ids[-1]:
                    raise ValueError(f"log_id {entry.log_id} is not after {self._ids[-1]}")
                if self._last_date_ms is not None and entry.date_ms < self._last_date_ms:
                    self._dates_sorted = False
                self._entries.append(entry)
                self._ids.append(entry.log_id)
                self._dates.append(entry.date_ms)
                self._last_date_ms = max(entry.date_ms, self._last_date_ms or entry.date_ms)
                self._stats["logs_created"] += 1

    def reset_logs(self, n: int, warm: bool = True) -> int:
        """Replace every log with n new ones dated up to now: a fresh backlog, as if retention had
        never dropped anything. Ids continue after the old ones; tokens and the rate limit stay.
        `warm`: serialize every log now, so that answering does not pay for it later."""
        with self._lock:
            self._entries, self._ids, self._dates = [], [], []
            self._dates_sorted = True
            self._last_date_ms = None
            self._last_purged_id = None
            if n > 0:
                self._add_initial(n, None)
            if warm:
                for entry in self._entries:
                    entry.json()
            return len(self._ids)

    @property
    def logs(self) -> list[dict]:
        """Every retained log, in id order."""
        self.apply_retention()
        with self._lock:
            return [entry.log for entry in self._entries]

    @property
    def log_ids(self) -> list[str]:
        """Every retained log id, in order."""
        self.apply_retention()
        with self._lock:
            return list(self._ids)

    def expire(self, n: int) -> int:
        """Drop the n oldest logs (simulated retention); returns how many were dropped."""
        with self._lock:
            return self._drop_front(min(max(n, 0), len(self._ids)))

    def purge_older_than(self, when: datetime) -> int:
        """Drop the oldest logs dated before `when`; returns how many were dropped."""
        return self._purge_before_ms(to_epoch_ms(when))

    def _purge_before_ms(self, cutoff_ms: int) -> int:
        with self._lock:
            count = 0
            if self._dates_sorted:
                count = bisect.bisect_left(self._dates, cutoff_ms)
            else:
                while count < len(self._dates) and self._dates[count] < cutoff_ms:
                    count += 1
            return self._drop_front(count)

    def _drop_front(self, count: int) -> int:
        if count <= 0:
            return 0
        self._last_purged_id = self._ids[count - 1]
        del self._entries[:count], self._ids[:count], self._dates[:count]
        self._stats["logs_purged"] += count
        return count

    def apply_retention(self) -> int:
        """Drop the logs older than retention_days by the clock (done before every logs answer)."""
        with self._lock:
            if self.retention_days and self._dates:
                cutoff = int((self.clock() - self.retention_days * 86400) * 1000)
                if self._dates[0] < cutoff:
                    return self._purge_before_ms(cutoff)
        return 0

    # -- configuration -----------------------------------------------------------------

    def set_rate_limit(self, burst: int | None, per_second: float | None) -> None:
        """Token-bucket limit for /api/v2/logs (None: unlimited). The bucket starts full."""
        if burst is None and per_second is None:
            self._bucket = None
            return
        burst = int(burst if burst is not None else max(1, math.ceil(per_second or 1)))
        self._bucket = TokenBucket(burst, float(per_second if per_second is not None else burst), self.clock)

    def set_faults(
        self,
        endpoint: str = "logs",
        error_500: float = 0.0,
        error_503: float = 0.0,
        error_429: float = 0.0,
        drop: float = 0.0,
        hang: float = 0.0,
        hang_seconds: float = 5.0,
        malformed: float = 0.0,
    ) -> None:
        """Replace the fault probabilities of an endpoint ("token" or "logs")."""
        self._check_endpoint(endpoint)
        self._faults[endpoint] = FaultConfig(error_500, error_503, error_429, drop, hang, hang_seconds, malformed)

    def script(self, endpoint: str, actions: Iterable[str]) -> None:
        """Queue the next answers of an endpoint, ahead of random faults.

        Actions: "ok", an HTTP status ("500", "503", "429", "401"...), "drop", "hang" or
        "hang:<seconds>", "malformed" or "malformed:not_json|not_list|no_log_id".
        """
        self._check_endpoint(endpoint)
        checked = [validate_action(action) for action in actions]
        with self._lock:
            self._scripts[endpoint].extend(checked)

    def clear_faults(self) -> None:
        """No random faults and no scripted answers on any endpoint."""
        with self._lock:
            for endpoint in FAULT_ENDPOINTS:
                self._faults[endpoint] = FaultConfig()
                self._scripts[endpoint].clear()

    def revoke_tokens(self) -> int:
        """Invalidate every issued token (the next logs call gets 401); returns how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    @staticmethod
    def _check_endpoint(endpoint: str) -> None:
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"endpoint must be one of {FAULT_ENDPOINTS}, not {endpoint!r}")

    # -- stats -------------------------------------------------------------------------

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._stats: collections.Counter = collections.Counter()
            self._requests: collections.Counter = collections.Counter()
            self._responses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
            self._fault_counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
            self._in_flight = getattr(self, "_in_flight", 0)
            self._max_in_flight = self._in_flight

    def stats(self) -> dict[str, Any]:
        """Counters: requests by endpoint, answers by status, 429/401, tokens, faults, logs served."""
        self.apply_retention()
        with self._lock:
            counts = self._stats
            return {
                "requests": {name: self._requests[name] for name in ("token", "logs", "control", "other")},
                "responses": {k: {str(s): n for s, n in v.items()} for k, v in self._responses.items()},
                "status_429": self._responses["logs"][429],
                "rate_limited": counts["rate_limited"],
                "status_401": self._responses["logs"][401],
                "token_denied": counts["token_denied"],
                "tokens_issued": counts["tokens_issued"],
                "tokens_active": len(self._tokens),
                "faults_injected": sum(sum(c.values()) for c in self._fault_counts.values()),
                "faults": {k: dict(v) for k, v in self._fault_counts.items()},
                "logs_served": counts["logs_served"],
                "checkpoint_requests": counts["checkpoint_requests"],
                "search_requests": counts["search_requests"],
                "bad_requests": counts["bad_requests"],
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "log_count": len(self._ids),
                "first_log_id": self._ids[0] if self._ids else None,
                "last_log_id": self._ids[-1] if self._ids else None,
                "logs_purged": counts["logs_purged"],
                "last_purged_id": self._last_purged_id,
                "rate_limit": {"burst": self._bucket.burst, "per_second": self._bucket.per_second}
                if self._bucket else None,
                "clock": self.clock(),
            }

    def _count(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._responses[endpoint][status] += 1

    # -- HTTP --------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Route one request."""
        path = request.path.rstrip("/") or "/"
        if path.startswith("/__emulator/"):
            with self._lock:
                self._requests["control"] += 1
            return self._control(request, path[len("/__emulator/"):])
        if path == "/oauth/token":
            return self._endpoint("token", request, self._token)
        if path == "/api/v2/logs":
            return self._endpoint("logs", request, self._logs)
        with self._lock:
            self._requests["other"] += 1
        return _error(404, "Not Found")

    def _endpoint(self, endpoint: str, request: Request, answer: Callable[[Request], Reply]) -> Reply:
        with self._lock:
            self._requests[endpoint] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            reply = self._with_faults(endpoint, request, answer)
            if not reply.drop:
                self._count(endpoint, reply.status)
            return reply
        finally:
            with self._lock:
                self._in_flight -= 1

    def _next_action(self, endpoint: str) -> tuple[str | None, float]:
        with self._lock:
            config = self._faults[endpoint]
            if self._scripts[endpoint]:
                action: str | None = self._scripts[endpoint].popleft()
            else:
                action = config.draw(self._fault_rngs[endpoint])
            if action == "ok":
                action = None
            if action:
                self._fault_counts[endpoint][action.partition(":")[0]] += 1
            return action, config.hang_seconds

    def _with_faults(self, endpoint: str, request: Request, answer: Callable[[Request], Reply]) -> Reply:
        action, hang_seconds = self._next_action(endpoint)
        if action is None:
            return answer(request)
        name, _, arg = action.partition(":")
        if name == "drop":
            return Reply(drop=True)
        if name == "hang":
            self.sleep(float(arg) if arg else hang_seconds)
            return answer(request)
        if name == "malformed":
            return self._malformed(endpoint, answer(request), arg)
        return self._injected_status(endpoint, int(name))

    def _injected_status(self, endpoint: str, status: int) -> Reply:
        headers = self._rate_headers_peek() if endpoint == "logs" else {}
        if status == 429:
            headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(self.clock()) + 1)})
            headers.setdefault("x-ratelimit-limit", str(UNLIMITED_RATE_LIMIT))
            return _error(429, "Global limit has been reached", "too_many_requests", headers)
        if endpoint == "token" and status in (401, 403):
            return json_reply(status, {"error": "access_denied", "error_description": "Unauthorized"})
        return _error(status, "Injected fault", None, headers)

    def _malformed(self, endpoint: str, reply: Reply, kind: str) -> Reply:
        kind = kind or self._fault_rngs[endpoint].choice(MALFORMED_KINDS)
        if endpoint == "token":
            body = b"<html><body>Bad Gateway</body></html>" if kind == "not_json" else b'{"token_type":"Bearer"}'
            return Reply(200, body, {"Content-Type": JSON_TYPE})
        if kind == "not_json":
            reply.body = reply.body[: max(len(reply.body) // 2, 1)] or b"["
        elif kind == "not_list":
            reply.body = b'{"logs":' + reply.body + b"}"
        else:
            reply.body = self._without_log_id(reply.body)
        return reply

    @staticmethod
    def _without_log_id(body: bytes) -> bytes:
        try:
            logs = json.loads(body)
        except ValueError:
            logs = []
        if not isinstance(logs, list) or not logs:
            logs = [{"date": format_date(int(time.time() * 1000)), "type": "s", "description": ""}]
        else:
            logs[len(logs) // 2] = {k: v for k, v in logs[len(logs) // 2].items() if k not in ("log_id", "_id")}
        return json.dumps(logs, separators=(",", ":")).encode()

    # -- /oauth/token ---------------------------------------------------------------------

    def _token(self, request: Request) -> Reply:
        if request.method != "POST":
            return _error(404, "Not Found")
        params = self._token_params(request)
        grant = params.get("grant_type")
        if not grant:
            return self._deny(400, "invalid_request", "Missing required parameter: grant_type")
        if grant != "client_credentials":
            return self._deny(403, "unauthorized_client", f"Grant type '{grant}' not allowed for the client.")
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            return self._deny(401, "access_denied", "Unauthorized")
        audience = params.get("audience")
        if audience and audience not in self._accepted_audiences(request):
            return self._deny(403, "access_denied", f"Service not enabled within domain: {audience}")
        return json_reply(200, self._issue_token())

    @staticmethod
    def _token_params(request: Request) -> dict[str, str]:
        content_type = request.header("content-type", "") or ""
        if "json" in content_type or request.body.lstrip().startswith(b"{"):
            try:
                data = request.json()
                return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except ValueError:
                return {}
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in form.items()}

    def _accepted_audiences(self, request: Request) -> set[str]:
        if self.audience:
            return {self.audience}
        hosts = {f"{self.host}:{self.port}", f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        if request.header("host"):
            hosts.add(request.header("host") or "")
        accepted = {f"{self.base_url}/api/v2/"}
        for host in hosts:
            accepted.update({f"https://{host}/api/v2/", f"http://{host}/api/v2/"})
        return accepted

    def _deny(self, status: int, error: str, description: str) -> Reply:
        with self._lock:
            self._stats["token_denied"] += 1
        return json_reply(status, {"error": error, "error_description": description})

    def _issue_token(self) -> dict[str, Any]:
        with self._lock:
            token = f"emu.{self._token_rng.getrandbits(256):064x}"
            self._tokens[token] = self.clock() + self.token_ttl
            self._stats["tokens_issued"] += 1
        return {"access_token": token, "expires_in": self.token_ttl,
                "scope": "read:logs read:logs_users", "token_type": "Bearer"}

    def _token_valid(self, request: Request) -> bool:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._lock:
            expiry = self._tokens.get(token.strip())
            if expiry is not None and expiry <= self.clock():
                del self._tokens[token.strip()]
                return False
            return expiry is not None

    # -- /api/v2/logs ----------------------------------------------------------------------

    def _rate_headers_peek(self) -> dict[str, str]:
        if self._bucket is None:
            return self._unlimited_headers()
        return self._bucket.peek()

    def _unlimited_headers(self) -> dict[str, str]:
        limit = str(UNLIMITED_RATE_LIMIT)
        return {"x-ratelimit-limit": limit, "x-ratelimit-remaining": limit, "x-ratelimit-reset": str(int(self.clock()))}

    def _logs(self, request: Request) -> Reply:
        self.sleep(self.latency)
        allowed, headers = self._bucket.take() if self._bucket else (True, self._unlimited_headers())
        if not allowed:
            with self._lock:
                self._stats["rate_limited"] += 1
            return _error(429, "Global limit has been reached", "too_many_requests", headers)
        if request.method != "GET":
            return _error(404, "Not Found", None, headers)
        if not self._token_valid(request):
            return _error(401, "Invalid token", None, headers)
        q = request.query.get("q", "")
        if len(q) > MAX_QUERY_LENGTH:
            return _error(414, f"Request-URI Too Large: q has {len(q)} characters (limit {MAX_QUERY_LENGTH})",
                          None, headers)
        self.apply_retention()
        try:
            if "from" in request.query:
                reply = self._checkpoint(request)
            else:
                reply = self._search(request)
        except QueryError as exc:
            with self._lock:
                self._stats["bad_requests"] += 1
            reply = _error(400, str(exc), "invalid_query_string")
        reply.headers.update(headers)
        return reply

    def _checkpoint(self, request: Request) -> Reply:
        take = _int_param(request.query, "take", 50)
        if not 1 <= take <= 100:
            raise QueryError('Query validation error: "take" must be between 1 and 100')
        start = request.query["from"].strip()
        if start and not start.isdigit():
            raise QueryError('Query validation error: "from" must be a log_id')
        key = start.zfill(LOG_ID_LENGTH) if start else ""
        with self._lock:
            self._stats["checkpoint_requests"] += 1
            if start and self._older_than_retention(key):
                raise QueryError("The specified checkpoint is older than the retention period")
            index = bisect.bisect_right(self._ids, key)
            page = self._entries[index:index + take]
            self._stats["logs_served"] += len(page)
        next_from = page[-1].log_id if page else start
        link = f'<{self._public_base(request)}/api/v2/logs?from={next_from}&take={take}>; rel="next"'
        body = "[" + ",".join(entry.json() for entry in page) + "]"
        return raw_json_reply(200, body, {"Link": link})

    def _older_than_retention(self, key: str) -> bool:
        if self._last_purged_id is None:
            return False
        if self._ids:
            return key < self._ids[0]
        return key <= self._last_purged_id

    def _public_base(self, request: Request) -> str:
        host = request.header("host")
        return f"http://{host}" if host else self.base_url

    def _search(self, request: Request) -> Reply:
        query = request.query
        q = query.get("q", "")
        page, per_page = _int_param(query, "page", 0), _int_param(query, "per_page", 50)
        self._check_paging(page, per_page)
        sort_field, descending = self._sort_order(query.get("sort", "date:-1"))
        matches = self._matching(LogQuery(q), sort_field, descending)
        selected = matches[page * per_page:(page + 1) * per_page]
        with self._lock:
            self._stats["search_requests"] += 1
            self._stats["logs_served"] += len(selected)
        logs_json = self._render(selected, query.get("fields"), query.get("include_fields", "true"))
        if query.get("include_totals", "false").lower() != "true":
            return raw_json_reply(200, logs_json)
        head = json.dumps({"start": page * per_page, "limit": per_page, "length": len(selected),
                           "total": len(matches)}, separators=(",", ":"))
        return raw_json_reply(200, head[:-1] + ',"logs":' + logs_json + "}")

    @staticmethod
    def _check_paging(page: int, per_page: int) -> None:
        if not 0 <= per_page <= 100:
            raise QueryError('Query validation error: "per_page" must be between 0 and 100')
        if page < 0:
            raise QueryError('Query validation error: "page" must be 0 or more')
        if page * per_page + per_page > MAX_SEARCH_RESULTS:
            raise QueryError(
                f"You can only page through the first {MAX_SEARCH_RESULTS} results of a search "
                f"(page={page}, per_page={per_page}). Narrow the date range in q, or use checkpoint "
                "pagination (from/take)."
            )

    @staticmethod
    def _sort_order(sort: str) -> tuple[str, bool]:
        match = re.fullmatch(r"\s*([\w.]+)\s*:\s*(1|-1)\s*", sort or "date:-1")
        if not match:
            raise QueryError('Query validation error: "sort" must look like "date:1" or "date:-1"')
        return match.group(1), match.group(2) == "-1"

    def _matching(self, log_query: LogQuery, sort_field: str, descending: bool) -> list[_Entry]:
        with self._lock:
            low, high = 0, len(self._entries)
            window = log_query.window
            if window and self._dates_sorted:
                low = bisect.bisect_left(self._dates, window[0])
                high = bisect.bisect_right(self._dates, window[1])
            candidates = self._entries[low:high]
            by_position = self._dates_sorted and sort_field in ("date", "log_id", "_id")
        if not (log_query.date_only and self._dates_sorted):
            candidates = [entry for entry in candidates if log_query.matches(entry)]
        if by_position:
            return candidates[::-1] if descending else candidates
        return sorted(candidates, key=self._sort_key(sort_field), reverse=descending)

    @staticmethod
    def _sort_key(sort_field: str) -> Callable[[_Entry], Any]:
        if sort_field == "date":
            return lambda entry: (entry.date_ms, entry.log_id)
        if sort_field in ("log_id", "_id"):
            return lambda entry: entry.log_id
        return lambda entry: (as_text(field_value(entry.log, sort_field)), entry.log_id)

    @staticmethod
    def _render(entries: list[_Entry], fields_param: str | None, include_fields: str) -> str:
        if not fields_param:
            return "[" + ",".join(entry.json() for entry in entries) + "]"
        wanted = {name.strip() for name in fields_param.split(",") if name.strip()}
        include = include_fields.lower() != "false"
        logs = [{k: v for k, v in entry.log.items() if (k in wanted) == include} for entry in entries]
        return json.dumps(logs, separators=(",", ":"))

    # -- control endpoints ------------------------------------------------------------------

    def _control(self, request: Request, action: str) -> Reply:
        route = (request.method, action)
        try:
            body = request.json() if request.method == "POST" else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            handler = self._control_routes().get(route)
            if handler is None:
                return _error(404, f"no control endpoint {request.method} /__emulator/{action}")
            return json_reply(200, handler(body))
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))

    def _control_routes(self) -> dict[tuple[str, str], Callable[[dict], Any]]:
        return {
            ("GET", "stats"): lambda body: self.stats(),
            ("POST", "reset_stats"): lambda body: self.reset_stats() or {"ok": True},
            ("GET", "logs"): lambda body: {"count": len(self.log_ids), "log_ids": self.log_ids},
            ("POST", "logs"): self._control_add_logs,
            ("POST", "reset_logs"): self._control_reset_logs,
            ("POST", "faults"): self._control_faults,
            ("POST", "script"): self._control_script,
            ("POST", "rate_limit"): self._control_rate_limit,
            ("POST", "expire"): self._control_expire,
            ("POST", "revoke_tokens"): lambda body: {"revoked": self.revoke_tokens()},
            ("POST", "latency"): self._control_latency,
        }

    def _control_add_logs(self, body: dict) -> dict:
        when = parse_date(body["date"]) if body.get("date") else None
        added = self.add_logs(int(body.get("count", 1)), body.get("types"), when)
        return {"added": len(added), "first_log_id": added[0]["log_id"] if added else None,
                "last_log_id": added[-1]["log_id"] if added else None, "log_count": len(self._ids)}

    def _control_reset_logs(self, body: dict) -> dict:
        count = self.reset_logs(int(body.get("count", 0)), bool(body.get("warm", True)))
        ids = self.log_ids
        return {"log_count": count, "first_log_id": ids[0] if ids else None, "last_log_id": ids[-1] if ids else None}

    def _control_faults(self, body: dict) -> dict:
        endpoint = body.get("endpoint", "logs")
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(body) - known - {"endpoint", "script", "clear"}
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}")
        if body.get("clear"):
            self.clear_faults()
        settings = {k: v for k, v in body.items() if k in known}
        if settings or not body.get("script"):
            self.set_faults(endpoint, **settings)
        if body.get("script"):
            self.script(endpoint, body["script"])
        return {"endpoint": endpoint, "faults": vars(self._faults[endpoint]), "scripted": list(self._scripts[endpoint])}

    def _control_script(self, body: dict) -> dict:
        endpoint = body.get("endpoint", "logs")
        self.script(endpoint, body.get("actions", []))
        return {"endpoint": endpoint, "scripted": list(self._scripts[endpoint])}

    def _control_rate_limit(self, body: dict) -> dict:
        self.set_rate_limit(body.get("burst"), body.get("per_second"))
        return {"rate_limit": self.stats()["rate_limit"]}

    def _control_expire(self, body: dict) -> dict:
        dropped = self.purge_older_than(parse_date(body["before"])) if body.get("before") else 0
        dropped += self.expire(int(body.get("count", 0)))
        first = self.log_ids[:1]
        return {"expired": dropped, "first_log_id": first[0] if first else None}

    def _control_latency(self, body: dict) -> dict:
        self.latency = float(body.get("seconds", 0.0))
        return {"latency": self.latency}


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m auth0_webhooks_devtools.emulator",
                                     description="Auth0 Management API emulator (tokens and tenant logs).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--logs", type=int, default=1000, help="initial number of logs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--client-id", default="emulator-client")
    parser.add_argument("--client-secret", default="emulator-secret")
    parser.add_argument("--audience", default=None, help="required audience (default: this server's)")
    parser.add_argument("--types", default="", help="comma-separated event types (default: realistic mix)")
    parser.add_argument("--future-share", type=float, default=0.0, help="share of unknown future types")
    parser.add_argument("--rate-burst", type=int, default=0, help="token-bucket burst (0: unlimited)")
    parser.add_argument("--rate-per-second", type=float, default=0.0, help="refill per second (0: = burst)")
    parser.add_argument("--retention-days", type=float, default=30, help="0: keep logs forever")
    parser.add_argument("--spacing-seconds", type=float, default=1.0, help="time between generated logs")
    parser.add_argument("--token-ttl", type=int, default=86400)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every logs answer")
    parser.add_argument("--add-every", type=float, default=0.0, help="create --add-count logs every S seconds")
    parser.add_argument("--add-count", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="print every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGTERM/SIGINT; prints the base URL on stdout when ready."""
    args = _parser().parse_args(argv)
    burst = args.rate_burst or None
    per_second = args.rate_per_second or (float(burst) if burst else None)
    emulator = Auth0Emulator(
        host=args.host, port=args.port, client_id=args.client_id, client_secret=args.client_secret,
        audience=args.audience, seed=args.seed, logs=args.logs,
        types=[t for t in args.types.split(",") if t] or None, spacing_seconds=args.spacing_seconds,
        retention_days=args.retention_days or None, rate_burst=burst, rate_per_second=per_second,
        token_ttl=args.token_ttl, latency=args.latency, future_share=args.future_share, verbose=args.verbose,
    )
    print(emulator.start(), flush=True)
    print(f"auth0 emulator: {len(emulator.log_ids)} logs, client_id={args.client_id}", file=sys.stderr, flush=True)
    tick = (lambda: emulator.add_logs(args.add_count)) if args.add_every > 0 and args.add_count > 0 else None
    run_until_signalled(emulator, tick, args.add_every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
