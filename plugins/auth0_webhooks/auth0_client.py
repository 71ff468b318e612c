"""Auth0 Management API client for the logs endpoint: token, pacing, retries, paging (each method says its rule).

No Airflow here: `hooks.auth0.Auth0Hook` builds this client from a Connection.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from auth0_webhooks import USER_AGENT
from auth0_webhooks.pacing import RatePacer
from auth0_webhooks.retry import RetryCallState, RetryPolicy, Try, backoff_delay, excerpt, rate_limit_wait
from auth0_webhooks.token_cache import CachedToken, MemoryTokenCache, TokenCache, cache_key

log = logging.getLogger(__name__)

MAX_TAKE = 100


class Auth0Error(Exception):
    """Base class of every error this client raises."""


class Auth0AuthError(Auth0Error):
    """The tenant rejected the credentials: a configuration problem, not a transient one."""


class Auth0ApiError(Auth0Error):
    """The API answered with an error that retrying did not cure."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Auth0ResponseError(Auth0Error):
    """The API answered 2xx with something that is not a list of logs."""


class CheckpointExpired(Auth0Error):
    """The checkpoint is older than the tenant's log retention (HTTP 400 in checkpoint mode)."""

    def __init__(self, checkpoint: str, detail: str) -> None:
        super().__init__(f"checkpoint {checkpoint} is older than the tenant's log retention ({detail})")
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class Auth0Credentials:
    """What the client needs to get a token."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    audience: str

    @classmethod
    def from_domain(cls, domain: str, client_id: str, client_secret: str,
                    audience: str | None = None) -> Auth0Credentials:
        """Accept `tenant.eu.auth0.com` or a base URL with scheme (the emulator's `http://127.0.0.1:8089`)."""
        domain = (domain or "").strip().rstrip("/")
        if not domain:
            raise Auth0AuthError("the Auth0 connection has no Domain (host)")
        parts = urlsplit(domain if "://" in domain else f"https://{domain}")
        base_url = f"{parts.scheme}://{parts.netloc}"
        return cls(base_url, client_id or "", client_secret or "", audience or f"{base_url}/api/v2/")


@dataclass
class ClientStats:
    """What one client did, for run reports and benchmarks."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # answers 429
    waits: int = 0  # pauses for the rate limit (the pacer's, and after a 429), and their length in all
    waited_seconds: float = 0.0
    tokens_fetched: int = 0


class Auth0LogsClient:
    """Reads tenant logs, patiently: a busy tenant (429) slows a run down, it never fails it."""

    def __init__(self, credentials: Auth0Credentials, *, session: requests.Session | None = None,
                 timeout: tuple[float, float] = (5.0, 30.0), token_cache: TokenCache | None = None,
                 max_attempts: int = 6, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 max_rate_limit_wait: float = 900.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.credentials = credentials
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.timeout = timeout
        self.token_cache = token_cache or MemoryTokenCache()
        self.max_attempts, self.backoff_base, self.backoff_cap = max_attempts, backoff_base, backoff_cap
        self.max_rate_limit_wait, self.sleep, self.clock = max_rate_limit_wait, sleep, clock
        self.rng = rng or random.Random()
        self.stats = ClientStats()
        self._cache_key = cache_key(credentials.base_url, credentials.client_id, credentials.client_secret,
                                    credentials.audience)
        self.pacer = RatePacer()

    # ---- token ----

    def access_token(self) -> str:
        """A valid token: from the cache while it has more than a tenth of its life (or 60 s) left."""
        cached = self.token_cache.load(self._cache_key)
        if cached and cached.expires_at > self.clock():
            return cached.access_token
        return self._fetch_token()

    def _fetch_token(self) -> str:
        body = {"grant_type": "client_credentials", "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret, "audience": self.credentials.audience}
        response = self._send("POST", f"{self.credentials.base_url}/oauth/token", json=body, what="token request")
        detail = f"{response.status_code}: {excerpt(response.text)}"
        if response.status_code in (401, 403):
            raise Auth0AuthError(f"Auth0 refused the client credentials ({detail}): check the Client ID, Client Secret "
                                 "and Audience of the Auth0 connection, and that the application is authorized for the "
                                 "Management API with the read:logs scope")
        if response.status_code != 200:
            raise Auth0ApiError(f"token request failed with HTTP {detail}", response.status_code)
        try:
            data = response.json()
            token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 86400))
        except (ValueError, KeyError, TypeError):
            raise Auth0ResponseError("token endpoint answered without an access_token") from None
        margin = max(60.0, lifetime / 10)
        self.token_cache.save(self._cache_key, CachedToken(token, self.clock() + lifetime - margin))
        self.stats.tokens_fetched += 1
        return token

    # ---- requests ----

    def _send(self, method: str, url: str, *, what: str, paced: bool = False, **kwargs: Any) -> requests.Response:
        """One logical request under `RetryPolicy`; when `paced` (the logs endpoint) the pacer waits before each try."""
        policy = RetryPolicy(max_attempts=self.max_attempts, sleep=self._pause, limit_budget=self.max_rate_limit_wait,
                             backoff=partial(backoff_delay, base=self.backoff_base, cap=self.backoff_cap, rng=self.rng),
                             before=(lambda _: self._pause(self.pacer.delay(self.clock()))) if paced else None,
                             before_sleep=partial(self._before_retry, what))
        last = policy(self._try, method, url, paced, kwargs)
        if last.limited:
            waited = policy.statistics["limited_for"]
            raise Auth0ApiError(f"{what}: still rate limited after waiting {waited:.0f} s", 429)
        if last.reason is not None:
            raise Auth0ApiError(f"{what} failed {self.max_attempts} times; last: {last.reason}")
        return last.value

    def _try(self, method: str, url: str, paced: bool, kwargs: dict[str, Any]) -> Try:
        """One try: a 429 waits `rate_limit_wait` (at least 1 s: no burst of 429s) out of `max_rate_limit_wait`;
        5xx and network errors back off, up to `max_attempts` tries; any other answer goes back to the caller."""
        self.stats.requests += 1
        sent_at = self.clock()
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            return Try(None, type(error).__name__)
        if paced:
            self.pacer.observe(response.headers, sent_at, self.clock(), refused=response.status_code == 429)
        if response.status_code == 429:
            self.stats.rate_limited += 1
            return Try(response, "HTTP 429", rate_limit_wait(response.headers, self.clock()), limited=True)
        if response.status_code >= 500:
            return Try(response, f"HTTP {response.status_code}: {excerpt(response.text)}")
        return Try(response)

    def _before_retry(self, what: str, state: RetryCallState) -> None:
        last = state.outcome.result()
        if last.limited:
            return log.info("Auth0 rate limit reached; waiting %.1f s for the reset", state.upcoming_sleep)
        self.stats.retries += 1
        log.warning("%s failed (%s); retrying in %.1f s", what, last.reason, state.upcoming_sleep)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:  # the pacer's "no wait" is no call to sleep
            self.stats.waits += 1
            self.stats.waited_seconds += seconds
            self.sleep(seconds)

    def _get_logs(self, params: dict[str, Any], checkpoint: str | None = None) -> list[dict]:
        """GET /api/v2/logs with the token, refreshed once on a 401; validated as a list of logs."""
        url = f"{self.credentials.base_url}/api/v2/logs"
        for refreshed in (False, True):
            headers = {"Authorization": f"Bearer {self.access_token()}"}
            response = self._send("GET", url, params=params, headers=headers, what="logs request", paced=True)
            if response.status_code != 401 or refreshed:
                break
            self.token_cache.drop(self._cache_key)
        if response.status_code == 401:
            raise Auth0AuthError("Auth0 refused a fresh token for the logs endpoint (401): the application needs the "
                                 "read:logs scope on the Management API")
        if response.status_code == 400 and checkpoint is not None:
            raise CheckpointExpired(checkpoint, excerpt(response.text))
        if response.status_code != 200:
            raise Auth0ApiError(f"logs request failed with HTTP {response.status_code}: {excerpt(response.text)}",
                                response.status_code)
        return _validated_logs(response)

    # ---- reading ----

    def logs_after(self, log_id: str, take: int = MAX_TAKE) -> list[dict]:
        """One page in checkpoint mode: up to `take` logs whose id comes after `log_id`, in id order."""
        take = max(1, min(int(take), MAX_TAKE))
        return self._get_logs({"from": log_id, "take": take}, checkpoint=log_id)

    def first_log(self, since: datetime | None = None) -> dict | None:
        """The oldest retained log, or the first one dated at or after `since` (search mode)."""
        params: dict[str, Any] = {"sort": "date:1", "per_page": 1, "page": 0}
        if since is not None:
            stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            params["q"] = f"date:[{stamp} TO *]"
        logs = self._get_logs(params)
        return logs[0] if logs else None

    def check(self) -> tuple[bool, str]:
        """Get a token and read one log: what the Connections page's Test button reports."""
        try:
            newest = self._get_logs({"sort": "date:-1", "per_page": 1, "page": 0})
        except Auth0Error as error:
            return False, str(error)
        suffix = f"; newest log {newest[0]['log_id']} at {newest[0].get('date')}" if newest else "; no logs yet"
        return True, f"Connected to {self.credentials.base_url} and read the logs{suffix}"


def _validated_logs(response: requests.Response) -> list[dict]:
    """The answer as a list of logs each with a log_id, or Auth0ResponseError naming what is wrong."""
    try:
        data = response.json()
    except ValueError:
        raise Auth0ResponseError(f"logs answer is not JSON: {excerpt(response.text)}") from None
    if isinstance(data, dict) and isinstance(data.get("logs"), list):
        data = data["logs"]  # include_totals=true shape
    if not isinstance(data, list):
        raise Auth0ResponseError(f"logs answer is not a list: {excerpt(response.text)}")
    for position, entry in enumerate(data):
        if not isinstance(entry, dict) or not entry.get("log_id"):
            raise Auth0ResponseError(f"log #{position} of the answer has no log_id: {excerpt(str(entry))}")
    return data
