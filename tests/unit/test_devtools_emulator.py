"""Tests of the Auth0 emulator and the event generator (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.events import (
    FUTURE_TYPES,
    LOG_ID_LENGTH,
    EventFactory,
    format_date,
    load_catalogue_codes,
    parse_date,
)
from auth0_webhooks_devtools.query import LogQuery, QueryError

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
START = datetime(2025, 12, 31, tzinfo=timezone.utc)
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


class FakeClock:
    """A pinned clock that tests move by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock):
    # 300 logs, one a minute from 2025-12-31T00:00:00Z (ends 04:59), clock pinned at 2026-01-01.
    with Auth0Emulator(logs=300, seed=7, start_date=START, spacing_seconds=60, clock=clock) as emulator:
        yield emulator


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def get_token(session: requests.Session, emu: Auth0Emulator, **overrides: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_id": "emulator-client",
            "client_secret": "emulator-secret", "audience": f"{emu.base_url}/api/v2/", **overrides}
    return session.post(f"{emu.base_url}/oauth/token", json=body)


@pytest.fixture
def auth(session: requests.Session, emu: Auth0Emulator) -> dict[str, str]:
    return {"Authorization": "Bearer " + get_token(session, emu).json()["access_token"]}


def logs(session: requests.Session, emu: Auth0Emulator, auth: dict, **params) -> requests.Response:
    return session.get(f"{emu.base_url}/api/v2/logs", params=params, headers=auth, timeout=5)


# --------------------------------------------------------------------------- events


def test_factory_ids_are_fixed_length_ordered_and_continue_across_calls():
    factory = EventFactory(seed=1, start=START)
    events = factory.make(500) + factory.make(500, START + timedelta(days=1), 0.5)
    ids = [e["log_id"] for e in events]
    assert all(len(i) == LOG_ID_LENGTH and i.isdigit() for i in ids)
    assert ids == sorted(ids) == sorted(ids, key=int)
    assert len(set(ids)) == len(ids)
    assert all(e["_id"] == e["log_id"] for e in events)
    assert events[0]["date"] == "2025-12-31T00:00:00.000Z"
    assert events[500]["date"] == "2026-01-01T00:00:00.000Z" and events[501]["date"].endswith("00:00:00.500Z")


def test_factory_is_seedable():
    first = EventFactory(seed=3, start=START).make(200)
    assert first == EventFactory(seed=3, start=START).make(200)
    assert first != EventFactory(seed=4, start=START).make(200)


def test_factory_shapes_vary_by_type():
    factory = EventFactory(seed=2, start=START)
    login, sapi, limit = factory.event("s"), factory.event("sapi"), factory.event("api_limit")
    for name in ("user_id", "user_name", "connection", "client_id", "ip", "user_agent", "location_info",
                 "security_context", "details", "strategy", "strategy_type", "isMobile", "hostname"):
        assert name in login
    assert {"request", "response"} <= set(sapi["details"]) and sapi["details"]["request"]["method"]
    assert set(limit) == {"date", "type", "description", "log_id", "_id"}
    assert "audience" in factory.event("seccft") and "scope" in factory.event("seccft")


def test_factory_mix_is_realistic_and_covers_the_catalogue():
    codes = load_catalogue_codes()
    assert len(codes) > 150 and "s" in codes
    events = EventFactory(seed=5, start=START).make(5000)
    counts: dict[str, int] = {}
    for event in events:
        counts[event["type"]] = counts.get(event["type"], 0) + 1
    assert counts["s"] > counts["f"] > counts.get("api_limit", 0)
    assert sum(counts.get(c, 0) for c in ("s", "ssa", "sapi", "seccft")) > 0.4 * len(events)
    factory = EventFactory(seed=5)
    every = [factory.event(code) for code in codes + list(FUTURE_TYPES)]  # every type can be built
    assert [e["type"] for e in every] == codes + list(FUTURE_TYPES) and all(e["date"] for e in every)
    future = EventFactory(seed=5, future_share=0.2).make(200)
    assert any(e["type"] in FUTURE_TYPES for e in future)


def test_factory_is_fast():
    started = time.perf_counter()
    EventFactory(seed=9).make(20_000)
    assert time.perf_counter() - started < 1.5  # 100,000 in about 2.5 s


def test_dates_round_trip():
    assert format_date(int(NOW.timestamp() * 1000) + 7) == "2026-01-01T00:00:00.007Z"
    assert parse_date("2026-01-01T00:00:00.007Z") == NOW + timedelta(milliseconds=7)


# --------------------------------------------------------------------------- tokens


def test_token_json_and_form(session, emu):
    answer = get_token(session, emu)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400 and "read:logs" in body["scope"]
    form = {"grant_type": "client_credentials", "client_id": "emulator-client", "client_secret": "emulator-secret"}
    assert session.post(f"{emu.base_url}/oauth/token", data=form).status_code == 200  # audience may be left out
    https_audience = f"https://127.0.0.1:{emu.port}/api/v2/"
    assert get_token(session, emu, audience=https_audience).status_code == 200
    assert emu.stats()["tokens_issued"] == 3


def test_token_rejections(session, emu):
    bad = get_token(session, emu, client_secret="nope")
    assert bad.status_code == 401 and bad.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    wrong = get_token(session, emu, audience="https://other.example/api/v2/")
    assert wrong.status_code == 403 and wrong.json()["error_description"].startswith("Service not enabled")
    assert emu.stats()["token_denied"] == 2


def test_logs_need_a_valid_token(session, emu, auth, clock):
    denied = logs(session, emu, {"Authorization": "Bearer forged"}, **{"from": "0"})
    assert denied.status_code == 401
    assert denied.json() == {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"}
    assert "x-ratelimit-remaining" in denied.headers
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 200
    emu.revoke_tokens()
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 401
    fresh = {"Authorization": "Bearer " + get_token(session, emu).json()["access_token"]}
    clock.advance(86401)  # tokens expire after token_ttl
    assert logs(session, emu, fresh, **{"from": "0"}).status_code == 401
    assert emu.stats()["status_401"] == 3


# --------------------------------------------------------------------------- checkpoint mode


def test_checkpoint_pages_through_every_log_in_id_order(session, emu, auth):
    seen, start = [], "0"
    while True:
        answer = logs(session, emu, auth, **{"from": start, "take": 100, "q": "type:s", "per_page": 5})
        page = answer.json()
        expected_next = page[-1]["log_id"] if page else start
        assert answer.headers["Link"] == f'<{emu.base_url}/api/v2/logs?from={expected_next}&take=100>; rel="next"'
        if not page:
            break
        seen += [log["log_id"] for log in page]
        start = page[-1]["log_id"]
    assert seen == emu.log_ids and len(seen) == 300  # q and per_page are ignored in this mode
    assert len(logs(session, emu, auth, **{"from": "0"}).json()) == 50  # default take
    assert emu.stats()["logs_served"] == 350


@pytest.mark.parametrize("take", ["0", "101", "x"])
def test_checkpoint_rejects_bad_take(session, emu, auth, take):
    answer = logs(session, emu, auth, **{"from": "0", "take": take})
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "invalid_query_string"


def test_checkpoint_older_than_retention_is_rejected(session, emu, auth):
    ids = emu.log_ids
    assert emu.expire(10) == 10
    old = logs(session, emu, auth, **{"from": ids[5]})
    assert old.status_code == 400
    assert "older than the retention period" in old.json()["message"]
    answer = logs(session, emu, auth, **{"from": ids[10], "take": 2})  # the oldest retained log is fine
    assert [log["log_id"] for log in answer.json()] == ids[11:13]


def test_time_based_retention(session, auth, clock):
    with Auth0Emulator(logs=100, seed=1, clock=clock, retention_days=1, spacing_seconds=3600) as emu:
        logs_ = emu.logs
        assert parse_date(logs_[0]["date"]) > NOW - timedelta(days=1)  # initial logs fit in retention
        assert parse_date(logs_[-1]["date"]) < NOW
        clock.advance(6 * 3600)
        assert len(emu.log_ids) < 100 and emu.stats()["logs_purged"] > 0


def test_added_logs_come_after_existing_ones(session, emu, auth, clock):
    last = emu.log_ids[-1]
    added = emu.add_logs(5, types=["f", "zz_future_event"])
    assert all(log["log_id"] > last for log in added) and {log["type"] for log in added} <= {"f", "zz_future_event"}
    page = logs(session, emu, auth, **{"from": last}).json()
    assert [log["log_id"] for log in page] == [log["log_id"] for log in added]
    assert max(parse_date(log["date"]) for log in added) <= NOW


# --------------------------------------------------------------------------- search mode


def test_search_by_type_sorted_with_totals(session, emu, auth):
    everything = emu.logs
    wanted = [log for log in everything if log["type"] in ("s", "f")]
    answer = logs(session, emu, auth, q="type:(s OR f)", sort="date:1", per_page=100, include_totals="true")
    body = answer.json()
    assert body["total"] == len(wanted) and body["start"] == 0 and body["limit"] == 100
    assert [log["log_id"] for log in body["logs"]] == [log["log_id"] for log in wanted][:100]
    same = logs(session, emu, auth, q="type:s OR type:f", sort="date:-1", per_page=3).json()
    assert [log["log_id"] for log in same] == [log["log_id"] for log in wanted][::-1][:3]
    assert len(logs(session, emu, auth).json()) == 50  # no q: newest first, per_page 50
    assert logs(session, emu, auth).json()[0]["log_id"] == everything[-1]["log_id"]


def test_search_by_date_range(session, emu, auth):
    def count(q: str) -> int:
        return logs(session, emu, auth, q=q, per_page=1, include_totals="true").json()["total"]

    assert count("date:[2025-12-31T01:00:00Z TO 2025-12-31T02:00:00Z]") == 61  # inclusive, one a minute
    assert count("date:{2025-12-31T01:00:00Z TO 2025-12-31T02:00:00Z}") == 59
    assert count("date:[2025-12-31T04:00:00.000Z TO *]") == 60
    assert count("date:[* TO 2025-12-31T00:09:59Z]") == 10
    assert count("date:[2025-12-31 TO 2025-12-31]") == 300  # a day, inclusive
    assert count("date:[2026-01-01 TO *]") == 0
    first = logs(session, emu, auth, q="date:[2025-12-31T02:30:30Z TO *]", sort="date:1", per_page=1).json()
    assert first[0]["date"] == "2025-12-31T02:31:00.000Z"
    mixed = count("type:s AND date:[2025-12-31T01:00:00Z TO 2025-12-31T02:00:00Z]")
    assert 0 < mixed < 61


def test_search_limits(session, emu, auth):
    assert logs(session, emu, auth, page=9, per_page=100).status_code == 200
    capped = logs(session, emu, auth, page=10, per_page=100)
    assert capped.status_code == 400 and "1000" in capped.json()["message"]
    assert logs(session, emu, auth, per_page=101).status_code == 400
    assert logs(session, emu, auth, q="type:s OR " * 500).status_code == 414
    assert logs(session, emu, auth, q="type:(s OR").status_code == 400
    trimmed = logs(session, emu, auth, fields="log_id,type", per_page=2).json()
    assert all(set(log) == {"log_id", "type"} for log in trimmed)


def test_query_operators(session, emu, auth):
    def total(q: str) -> int:
        return logs(session, emu, auth, q=q, per_page=1, include_totals="true").json()["total"]

    by_type = {code: sum(1 for log in emu.logs if log["type"] == code) for code in ("s", "f", "ssa")}
    assert total("type:s type:f") == total("type:(s OR f)") == by_type["s"] + by_type["f"]  # side by side: OR
    assert total("NOT type:s") == 300 - by_type["s"]
    assert total('type:"ssa"') == by_type["ssa"]
    assert total("type:ss*") == sum(1 for log in emu.logs if log["type"].startswith("ss"))
    assert total("type:s AND NOT user_id:*") == 0


def test_query_parser():
    assert LogQuery("type:s AND NOT user_id:*").node[0] == "and"
    assert LogQuery("date:[2026-01-01 TO 2026-01-02}").window[1] == int(
        datetime(2026, 1, 2, tzinfo=timezone.utc).timestamp() * 1000) - 1
    with pytest.raises(QueryError):
        LogQuery("date:[yesterday TO *]").window


# --------------------------------------------------------------------------- rate limit


def test_rate_limit_token_bucket(session, emu, auth, clock):
    emu.set_rate_limit(burst=3, per_second=2)
    remaining = [logs(session, emu, auth, **{"from": "0"}).headers["x-ratelimit-remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    limited = logs(session, emu, auth, **{"from": "0"})
    assert limited.status_code == 429
    assert limited.json() == {"statusCode": 429, "error": "Too Many Requests",
                              "message": "Global limit has been reached", "errorCode": "too_many_requests"}
    assert limited.headers["x-ratelimit-limit"] == "3"
    assert int(limited.headers["x-ratelimit-reset"]) == int(clock()) + 2  # 3 tokens at 2/s: full in 1.5 s
    clock.advance(0.5)
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 200
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 429
    assert emu.stats()["status_429"] == 2 and emu.stats()["rate_limited"] == 2


# --------------------------------------------------------------------------- faults


def test_scripted_faults(session, emu, auth):
    emu.script("logs", ["500", "503", "429", "malformed:not_json", "malformed:not_list",
                        "malformed:no_log_id", "drop", "ok"])
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 500
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 503
    injected_429 = logs(session, emu, auth, **{"from": "0"})
    assert injected_429.status_code == 429 and injected_429.headers["x-ratelimit-remaining"] == "0"
    with pytest.raises(ValueError):
        logs(session, emu, auth, **{"from": "0"}).json()
    assert isinstance(logs(session, emu, auth, **{"from": "0"}).json(), dict)
    assert any("log_id" not in log for log in logs(session, emu, auth, **{"from": "0"}).json())
    with pytest.raises(requests.ConnectionError):
        logs(session, emu, auth, **{"from": "0"})
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 200
    stats = emu.stats()
    assert stats["faults_injected"] == 7 and stats["faults"]["logs"]["malformed"] == 3
    emu.script("token", ["500"])
    assert get_token(session, emu).status_code == 500 and get_token(session, emu).status_code == 200


def test_random_faults_are_seeded_and_hang(session, clock):
    def statuses(emulator: Auth0Emulator) -> list[int]:
        with requests.Session() as s:
            token = get_token(s, emulator).json()["access_token"]
            return [logs(s, emulator, {"Authorization": f"Bearer {token}"}, **{"from": "0"}).status_code
                    for _ in range(40)]

    runs = []
    for _ in range(2):
        with Auth0Emulator(logs=10, seed=11, clock=clock) as emulator:
            emulator.set_faults("logs", error_500=0.3, error_503=0.2)
            runs.append(statuses(emulator))
    assert runs[0] == runs[1] and {500, 503, 200} == set(runs[0])
    with Auth0Emulator(logs=10, clock=clock) as emulator:
        emulator.set_faults("logs", hang=1.0, hang_seconds=2)
        token = get_token(session, emulator).json()["access_token"]
        with pytest.raises(requests.Timeout):
            session.get(f"{emulator.base_url}/api/v2/logs?from=0", headers={"Authorization": f"Bearer {token}"},
                        timeout=0.2)


# --------------------------------------------------------------------------- control endpoints


def test_control_endpoints(session, emu, auth):
    control = f"{emu.base_url}/__emulator"
    added = session.post(f"{control}/logs", json={"count": 3, "types": ["w"]}).json()
    assert added["added"] == 3 and added["last_log_id"] == emu.log_ids[-1]
    assert session.get(f"{control}/logs").json()["count"] == 303
    session.post(f"{control}/faults", json={"endpoint": "logs", "script": ["503"]})
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 503
    session.post(f"{control}/rate_limit", json={"burst": 1, "per_second": 0.001})
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 200
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 429
    session.post(f"{control}/rate_limit", json={"burst": None, "per_second": None})
    assert session.post(f"{control}/expire", json={"count": 3}).json()["expired"] == 3
    session.post(f"{control}/revoke_tokens")
    assert logs(session, emu, auth, **{"from": "0"}).status_code == 401
    stats = session.get(f"{control}/stats").json()
    assert stats["log_count"] == 300 and stats["faults_injected"] == 1 and stats["requests"]["logs"] == 4
    assert session.post(f"{control}/faults", json={"bogus": 1}).status_code == 400


def test_keep_alive_is_fast(session, emu, auth):
    logs(session, emu, auth, **{"from": "0"})
    started = time.perf_counter()
    for _ in range(100):
        assert logs(session, emu, auth, **{"from": "0", "take": 100}).status_code == 200
    assert time.perf_counter() - started < 2.0  # a delayed-ACK stall would cost ~4 s


def test_cli_runs_until_sigterm():
    env = {**os.environ, "PYTHONPATH": str(PLUGINS)}
    with subprocess.Popen(
        [sys.executable, "-m", "auth0_webhooks_devtools.emulator", "--port", "0", "--logs", "20", "--seed", "1",
         "--rate-burst", "5", "--rate-per-second", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    ) as process:
        try:
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            stats = requests.get(f"{base_url}/__emulator/stats", timeout=5).json()
            assert stats["log_count"] == 20 and stats["rate_limit"] == {"burst": 5, "per_second": 2.0}
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) == 0
