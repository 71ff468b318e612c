"""auth0_webhooks.auth0_client against requests-mock: token, pacing, retries, validation.

Spec: Auth0's Management API documentation (client credentials, checkpoint and search modes,
x-ratelimit-* headers) and the original extension's defects: no backoff, ignored
x-ratelimit-reset, no timeout, no User-Agent.
"""

from __future__ import annotations

import os
import random
import stat
from datetime import datetime, timedelta, timezone
from importlib import metadata
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import T0, FakeTime
import requests

import auth0_webhooks
from auth0_webhooks.auth0_client import (
    Auth0ApiError,
    Auth0AuthError,
    Auth0Credentials,
    Auth0LogsClient,
    Auth0ResponseError,
    CheckpointExpired,
)
from auth0_webhooks.retry import RetryPolicy, Try
from auth0_webhooks.token_cache import FileTokenCache, MemoryTokenCache

BASE = "https://tenant.example.auth0.com"
TOKEN_URL = f"{BASE}/oauth/token"
LOGS_URL = f"{BASE}/api/v2/logs"
SECRET = "client-secret-XYZ-123456"




def credentials() -> Auth0Credentials:
    return Auth0Credentials.from_domain("tenant.example.auth0.com", "client-id", SECRET)


def make_client(clock: FakeTime, **kwargs) -> Auth0LogsClient:
    kwargs.setdefault("token_cache", MemoryTokenCache())
    return Auth0LogsClient(credentials(), sleep=clock.sleep, clock=clock.time, **kwargs)


def token_answer(token: str = "tok-1", expires_in: int = 86400) -> dict:
    return {"json": {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}, "status_code": 200}


def logs_page(*ids: str) -> list[dict]:
    return [{"log_id": i, "date": "2026-01-01T00:00:00.000Z", "type": "s"} for i in ids]


def query(request) -> dict[str, list[str]]:
    """Query parameters exactly as sent (requests_mock's .qs lowercases values)."""
    return parse_qs(urlsplit(request.url).query)


def logs_requests(mock):
    return [r for r in mock.request_history if r.path == "/api/v2/logs"]


def token_requests(mock):
    return [r for r in mock.request_history if r.path == "/oauth/token"]


# ---------------------------------------------------------------- credentials


def test_credentials_from_domain_default_audience_and_secret_hidden():
    creds = credentials()
    assert creds.base_url == BASE
    assert creds.audience == f"{BASE}/api/v2/"
    assert SECRET not in repr(creds)


def test_credentials_keep_a_base_url_with_scheme():
    creds = Auth0Credentials.from_domain("http://127.0.0.1:8089/", "id", "secret")
    assert creds.base_url == "http://127.0.0.1:8089"
    assert creds.audience == "http://127.0.0.1:8089/api/v2/"


def test_credentials_without_domain_are_refused():
    with pytest.raises(Auth0AuthError):
        Auth0Credentials.from_domain("  ", "id", "secret")


# ---------------------------------------------------------------- token


def test_token_request_body(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    make_client(clock).logs_after("1")
    body = token_requests(requests_mock)[0].json()
    assert body == {
        "grant_type": "client_credentials",
        "client_id": "client-id",
        "client_secret": SECRET,
        "audience": f"{BASE}/api/v2/",
    }
    assert logs_requests(requests_mock)[0].headers["Authorization"] == "Bearer tok-1"


def test_token_is_fetched_once_and_cached_across_calls(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    client = make_client(clock)
    for _ in range(3):
        client.logs_after("1")
    clock.now += 3600  # an hour later, the 24 h token is still good
    client.first_log()
    assert len(token_requests(requests_mock)) == 1
    assert all(r.headers["Authorization"] == "Bearer tok-1" for r in logs_requests(requests_mock))
    assert client.stats.tokens_fetched == 1


def test_token_cache_is_shared_between_clients(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    cache = MemoryTokenCache()
    make_client(clock, token_cache=cache).logs_after("1")
    make_client(clock, token_cache=cache).logs_after("1")
    assert len(token_requests(requests_mock)) == 1


def test_token_is_refetched_after_expiry(requests_mock, clock):
    requests_mock.post(TOKEN_URL, [token_answer("tok-1"), token_answer("tok-2")])
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    client = make_client(clock)
    client.logs_after("1")
    clock.now += 86400 + 1
    client.logs_after("1")
    assert len(token_requests(requests_mock)) == 2
    assert logs_requests(requests_mock)[-1].headers["Authorization"] == "Bearer tok-2"


def test_token_is_refreshed_shortly_before_it_expires(requests_mock, clock):
    requests_mock.post(TOKEN_URL, [token_answer("tok-1"), token_answer("tok-2")])
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    client = make_client(clock)
    client.logs_after("1")
    clock.now += 86400 - 30  # 30 s left: too close to expiry to be used for a request
    client.logs_after("1")
    assert logs_requests(requests_mock)[-1].headers["Authorization"] == "Bearer tok-2"


def test_file_token_cache_is_owner_only_and_never_holds_the_secret(requests_mock, clock, tmp_path):
    requests_mock.post(TOKEN_URL, **token_answer("tok-file"))
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    directory = tmp_path / "cache"
    make_client(clock, token_cache=FileTokenCache(directory)).logs_after("1")
    files = [path for path in directory.iterdir() if path.is_file()]
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    content = files[0].read_text()
    assert "tok-file" in content
    assert SECRET not in content and SECRET not in files[0].name
    assert "client-id" not in files[0].name
    # A later run (a new client, a new cache object on the same directory) reuses the token.
    make_client(clock, token_cache=FileTokenCache(directory)).logs_after("1")
    assert len(token_requests(requests_mock)) == 1


def test_401_on_logs_drops_the_token_refreshes_once_and_retries(requests_mock, clock):
    requests_mock.post(TOKEN_URL, [token_answer("stale"), token_answer("fresh")])
    requests_mock.get(LOGS_URL, [{"status_code": 401, "json": {"error": "Unauthorized"}}, {"json": logs_page("2")}])
    cache = MemoryTokenCache()
    logs = make_client(clock, token_cache=cache).logs_after("1")
    assert [log["log_id"] for log in logs] == ["2"]
    assert [r.headers["Authorization"] for r in logs_requests(requests_mock)] == ["Bearer stale", "Bearer fresh"]
    assert len(token_requests(requests_mock)) == 2
    assert [token.access_token for token in cache._tokens.values()] == ["fresh"]


def test_second_401_on_logs_is_an_auth_error(requests_mock, clock):
    requests_mock.post(TOKEN_URL, [token_answer("a"), token_answer("b"), token_answer("c")])
    requests_mock.get(LOGS_URL, status_code=401, json={"error": "Unauthorized"})
    with pytest.raises(Auth0AuthError) as caught:
        make_client(clock).logs_after("1")
    assert "read:logs" in str(caught.value)
    assert len(token_requests(requests_mock)) == 2
    assert len(logs_requests(requests_mock)) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_bad_credentials_on_the_token_endpoint(requests_mock, clock, status):
    requests_mock.post(TOKEN_URL, status_code=status, json={"error": "access_denied", "error_description": "Unauthorized"})
    logs = requests_mock.get(LOGS_URL, json=[])
    with pytest.raises(Auth0AuthError) as caught:
        make_client(clock).logs_after("1")
    message = str(caught.value)
    assert str(status) in message and "Client ID" in message
    assert SECRET not in message
    assert len(token_requests(requests_mock)) == 1  # a configuration error is not retried
    assert clock.sleeps == []
    assert not logs.called


def test_token_answer_without_access_token(requests_mock, clock):
    requests_mock.post(TOKEN_URL, json={"expires_in": 10})
    with pytest.raises(Auth0ResponseError):
        make_client(clock).logs_after("1")


# ---------------------------------------------------------------- rate limits


def test_429_waits_until_x_ratelimit_reset_then_succeeds(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(
        LOGS_URL,
        [
            {"status_code": 429, "headers": {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0",
                                             "x-ratelimit-reset": str(int(T0) + 7)}},
            {"json": logs_page("2")},
        ],
    )
    client = make_client(clock)
    assert client.logs_after("1") == logs_page("2")
    assert clock.sleeps == [pytest.approx(7.0)]
    assert client.stats.rate_limited == 1


def test_429_waits_for_retry_after(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, [{"status_code": 429, "headers": {"Retry-After": "3"}}, {"json": logs_page("2")}])
    assert make_client(clock).logs_after("1") == logs_page("2")
    assert clock.sleeps == [pytest.approx(3.0)]


def test_repeated_429_keeps_waiting_without_failing(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    answers = [{"status_code": 429, "headers": {"Retry-After": "2"}}] * 10 + [{"json": logs_page("2")}]
    requests_mock.get(LOGS_URL, answers)
    assert make_client(clock, max_attempts=3).logs_after("1") == logs_page("2")
    assert clock.sleeps == [pytest.approx(2.0)] * 10


def test_429_beyond_the_wait_budget_is_an_api_error(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, status_code=429, headers={"Retry-After": "30"})
    with pytest.raises(Auth0ApiError) as caught:
        make_client(clock, max_rate_limit_wait=100).logs_after("1")
    assert caught.value.status == 429
    assert sum(clock.sleeps) <= 100


def test_empty_bucket_holds_the_next_request_until_reset(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(
        LOGS_URL,
        [
            {"json": logs_page("2"), "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(T0) + 5)}},
            {"json": logs_page("3"), "headers": {"x-ratelimit-remaining": "9", "x-ratelimit-reset": str(int(T0) + 6)}},
        ],
    )
    client = make_client(clock)
    client.logs_after("1")
    assert clock.sleeps == []  # nothing to wait for until another request is made
    client.logs_after("2")
    assert clock.sleeps == [pytest.approx(5.0)]
    assert len(logs_requests(requests_mock)) == 2


def test_remaining_above_zero_does_not_wait(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(
        LOGS_URL, json=logs_page("2"), headers={"x-ratelimit-remaining": "3", "x-ratelimit-reset": str(int(T0) + 50)}
    )
    client = make_client(clock)
    client.logs_after("1")
    client.logs_after("2")
    assert clock.sleeps == []


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 500, "text": "oops"},
        {"status_code": 503, "text": "unavailable"},
        {"exc": requests.exceptions.ConnectionError},
        {"exc": requests.exceptions.ReadTimeout},
    ],
    ids=["500", "503", "connection-error", "timeout"],
)
def test_transient_failures_are_retried_with_backoff(requests_mock, clock, failure):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, [failure, failure, {"json": logs_page("2")}])
    client = make_client(clock, backoff_base=0.5, backoff_cap=30.0)
    assert client.logs_after("1") == logs_page("2")
    assert len(logs_requests(requests_mock)) == 3
    # Exponential with jitter: the first wait is within [base/2, base], the second within [base, 2*base].
    assert len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5
    assert 0.5 <= clock.sleeps[1] <= 1.0
    assert client.stats.retries == 2


def test_backoff_is_capped(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, [{"status_code": 502}] * 7 + [{"json": []}])
    make_client(clock, max_attempts=10, backoff_base=1.0, backoff_cap=4.0).logs_after("1")
    assert len(clock.sleeps) == 7
    assert max(clock.sleeps) <= 4.0
    assert min(clock.sleeps[3:]) >= 2.0  # half of the cap


def test_token_endpoint_5xx_is_retried(requests_mock, clock):
    requests_mock.post(TOKEN_URL, [{"status_code": 503}, token_answer()])
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    assert make_client(clock).logs_after("1") == logs_page("2")
    assert len(token_requests(requests_mock)) == 2


@pytest.mark.parametrize(
    "failure", [{"status_code": 500, "text": "database on fire"}, {"exc": requests.exceptions.ConnectionError}]
)
def test_exhausted_attempts_raise_api_error(requests_mock, clock, failure):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, [failure])
    with pytest.raises(Auth0ApiError) as caught:
        make_client(clock, max_attempts=4).logs_after("1")
    assert len(logs_requests(requests_mock)) == 4
    assert len(clock.sleeps) == 3
    assert "4 times" in str(caught.value)
    if "status_code" in failure:
        assert "HTTP 500" in str(caught.value) and "database on fire" in str(caught.value)


def test_other_4xx_is_an_api_error_without_retry(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, status_code=403, text="insufficient scope")
    with pytest.raises(Auth0ApiError) as caught:
        make_client(clock).logs_after("1")
    assert caught.value.status == 403
    assert "insufficient scope" in str(caught.value)
    assert len(logs_requests(requests_mock)) == 1


def test_400_in_checkpoint_mode_is_checkpoint_expired(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, status_code=400, json={"message": "from is too old"})
    with pytest.raises(CheckpointExpired) as caught:
        make_client(clock).logs_after("90011")
    assert caught.value.checkpoint == "90011"
    assert "90011" in str(caught.value) and "retention" in str(caught.value)
    assert len(logs_requests(requests_mock)) == 1


def test_400_in_search_mode_is_not_checkpoint_expired(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, status_code=400, json={"message": "bad query"})
    with pytest.raises(Auth0ApiError) as caught:
        make_client(clock).first_log(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert not isinstance(caught.value, CheckpointExpired)
    assert caught.value.status == 400


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize(
    "answer",
    [
        {"text": "<html>gateway</html>"},
        {"json": {"error": "something"}},
        {"json": [{"log_id": "2"}, {"date": "2026-01-01", "type": "s"}]},
        {"json": [{"log_id": ""}]},
        {"json": ["2", "3"]},
    ],
    ids=["not-json", "dict", "missing-log-id", "empty-log-id", "strings"],
)
def test_malformed_answers_are_response_errors(requests_mock, clock, answer):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, **answer)
    with pytest.raises(Auth0ResponseError):
        make_client(clock).logs_after("1")


def test_include_totals_shape_is_accepted(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json={"logs": logs_page("5"), "total": 1})
    assert make_client(clock).logs_after("1") == logs_page("5")


def test_empty_page(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=[])
    assert make_client(clock).logs_after("1") == []


# ---------------------------------------------------------------- every request


def test_user_agent_names_project_and_version_on_every_request(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=logs_page("2"))
    make_client(clock).logs_after("1")
    version = metadata.version("airflow-provider-auth0-webhooks")
    assert auth0_webhooks.__version__ == version
    assert len(requests_mock.request_history) == 2
    for request in requests_mock.request_history:
        agent = request.headers["User-Agent"]
        assert "auth0-webhooks" in agent and version in agent
        assert "python-requests" not in agent


def test_every_request_has_a_timeout(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, [{"status_code": 500}, {"status_code": 429, "headers": {"Retry-After": "1"}},
                                 {"json": logs_page("2")}])
    client = make_client(clock, timeout=(3.0, 20.0))
    client.logs_after("1")
    client.first_log()
    assert len(requests_mock.request_history) == 5
    for request in requests_mock.request_history:
        assert request.timeout == (3.0, 20.0)


def test_default_timeout_is_set():
    client = Auth0LogsClient(credentials())
    connect, read = client.timeout
    assert 0 < connect <= 30 and 0 < read <= 60


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("take, sent", [(500, "100"), (100, "100"), (50, "50"), (0, "1")])
def test_logs_after_checkpoint_mode_caps_take_at_100(requests_mock, clock, take, sent):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=[])
    make_client(clock).logs_after("900200", take=take)
    assert query(logs_requests(requests_mock)[0]) == {"from": ["900200"], "take": [sent]}


def test_first_log_since_a_date_uses_a_search_query(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=logs_page("777"))
    since = datetime(2026, 1, 31, 2, 30, 5, 123000, tzinfo=timezone(timedelta(hours=2)))
    first = make_client(clock).first_log(since)
    assert first == logs_page("777")[0]
    params = query(logs_requests(requests_mock)[0])
    assert params["q"] == ["date:[2026-01-31T00:30:05.123Z TO *]"]
    assert params["sort"] == ["date:1"]
    assert params["per_page"] == ["1"]
    assert "from" not in params and "take" not in params


def test_first_log_without_date_finds_the_oldest(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=[])
    assert make_client(clock).first_log() is None
    params = query(logs_requests(requests_mock)[0])
    assert params["sort"] == ["date:1"] and params["per_page"] == ["1"]
    assert "q" not in params


def test_check_reports_success_and_failure(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, json=logs_page("42"))
    ok, message = make_client(clock).check()
    assert ok and "42" in message
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "access_denied"})
    ok, message = make_client(clock).check()
    assert not ok and "401" in message
    assert SECRET not in message


# ---------------------------------------------------------------- the shared retry policy


def test_rate_limit_waits_do_not_count_as_attempts_between_failures(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    limited = {"status_code": 429, "headers": {"Retry-After": "2"}}
    requests_mock.get(LOGS_URL, [{"status_code": 500}, limited, limited, {"status_code": 502}, limited,
                                 {"json": logs_page("2")}])
    client = make_client(clock, max_attempts=3, backoff_base=0.5)
    assert client.logs_after("1") == logs_page("2")
    assert len(logs_requests(requests_mock)) == 6
    assert clock.sleeps[1:3] == [pytest.approx(2.0)] * 2 and clock.sleeps[4] == pytest.approx(2.0)
    assert 0.25 <= clock.sleeps[0] <= 0.5 and 0.5 <= clock.sleeps[3] <= 1.0  # backoff counts failures only
    assert (client.stats.retries, client.stats.rate_limited) == (2, 3)
    assert client.stats.waited_seconds == pytest.approx(sum(clock.sleeps))
    assert client.stats.requests == 7  # the token request, then six on the logs endpoint


def test_rate_limit_budget_error_names_the_total_wait(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, status_code=429, headers={"Retry-After": "30"})
    client = make_client(clock, max_rate_limit_wait=100)
    with pytest.raises(Auth0ApiError, match="still rate limited after waiting 120 s"):
        client.logs_after("1")
    assert clock.sleeps == [pytest.approx(30.0)] * 3
    assert client.stats.rate_limited == 4 and client.stats.retries == 0


def test_429_without_headers_waits_one_second_and_a_far_reset_at_most_a_minute(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, [{"status_code": 429}, {"status_code": 429, "headers": {"Retry-After": "0"}},
                                 {"status_code": 429, "headers": {"x-ratelimit-reset": str(int(T0) + 3600)}},
                                 {"json": logs_page("2")}])
    make_client(clock).logs_after("1")
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0), pytest.approx(60.0)]


def test_giving_up_draws_no_backoff_from_the_injected_rng(requests_mock, clock):
    class CountingRandom(random.Random):
        draws = 0

        def uniform(self, a, b):
            self.draws += 1
            return super().uniform(a, b)

    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, status_code=503)
    rng = CountingRandom(1)
    with pytest.raises(Auth0ApiError):
        make_client(clock, max_attempts=4, rng=rng).logs_after("1")
    assert rng.draws == len(clock.sleeps) == 3


def test_other_errors_are_not_retried_and_propagate(requests_mock, clock):
    requests_mock.post(TOKEN_URL, **token_answer())
    requests_mock.get(LOGS_URL, exc=requests.exceptions.InvalidURL("bad"))
    with pytest.raises(requests.exceptions.InvalidURL):
        make_client(clock).logs_after("1")
    assert len(logs_requests(requests_mock)) == 1 and clock.sleeps == []


def test_retry_policy_counts_per_call_and_can_be_reused():
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, backoff=lambda failures: 10.0 + failures, sleep=sleeps.append,
                         max_server_wait=50.0, limit_budget=5.0)
    tries = iter([Try(None, "a"), Try(None, "b", wait=99.0), Try("done")])
    assert policy(lambda: next(tries)) == Try("done")
    assert sleeps == [10.0, 50.0]  # the second wait is the server's, capped at max_server_wait
    assert (policy.statistics["attempt_number"], policy.statistics["failures"]) == (3, 2)

    sleeps.clear()
    tries = iter([Try(None, "limit", wait=2.0, limited=True)] * 3)
    last = policy(lambda: next(tries))
    assert last.limited and sleeps == [2.0, 2.0]  # a third 2 s wait would pass the 5 s budget
    assert policy.statistics["limited_for"] == 6.0 and "failures" not in policy.statistics
