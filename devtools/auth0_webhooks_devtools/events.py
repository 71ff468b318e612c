"""Seedable generator of realistic Auth0 log events.

Events have the fields real tenant logs carry, varying by type (a login success has user
fields, `sapi` has details.request/response, `api_limit` only a description). Log ids are
56-digit strings, "900" + a 20-digit sequence + 33 digits, so that string order, numeric
order and creation order agree, across every call of one factory.
"""

from __future__ import annotations

import base64
import csv
import io
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Iterable

LOG_ID_PREFIX = "900"
SEQUENCE_DIGITS = 20
LOG_ID_LENGTH = 56
_SUFFIX_TAIL = "1223372036854775807"  # the tail real Auth0 log ids end with
_SUFFIX_RANDOM_DIGITS = LOG_ID_LENGTH - len(LOG_ID_PREFIX) - SEQUENCE_DIGITS - len(_SUFFIX_TAIL)
_SUFFIX_RANGE = 10**_SUFFIX_RANDOM_DIGITS

FUTURE_TYPES = ("zz_future_event", "zz_preview_feature_notice", "zz_new_security_signal")
TENANT_DOMAIN = "emulated-tenant.eu.auth0.com"

# Share of events per type on a typical busy tenant; every other catalogue code shares RARE_SHARE.
COMMON_WEIGHTS: dict[str, float] = {
    "s": 24.0, "ssa": 14.0, "seccft": 11.0, "sapi": 9.0, "slo": 5.0, "sertft": 4.0,
    "f": 3.5, "fp": 3.0, "fu": 2.0, "fsa": 3.0, "w": 2.0, "ss": 2.0, "sv": 1.5, "svr": 1.0,
    "seacft": 1.5, "mgmt_api_read": 1.5, "gd_auth_succeed": 1.0, "gd_start_auth": 1.0,
    "scp": 0.6, "scpr": 0.6, "fcpr": 0.2, "scoa": 1.0, "fcoa": 0.3, "cls": 0.4, "cs": 0.4,
    "sens": 0.4, "feccft": 0.3, "ferrt": 0.3, "fs": 0.4, "sdu": 0.2, "api_limit": 0.1,
}
RARE_SHARE = 0.025  # fraction of events spread evenly over all the other catalogue codes

_GENERIC_CATEGORY = "other"


@dataclass(frozen=True)
class CatalogueEntry:
    """One row of the event catalogue."""

    code: str
    name: str
    category: str


@lru_cache(maxsize=1)
def load_catalogue() -> dict[str, CatalogueEntry]:
    """The event catalogue (log_types.tsv of package auth0_webhooks), by code."""
    text = resources.files("auth0_webhooks").joinpath("log_types.tsv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text), delimiter="\t")
    return {
        row["code"]: CatalogueEntry(row["code"], row["name"], row["log_stream_category"] or "other")
        for row in rows
        if row.get("code")
    }


def load_catalogue_codes() -> list[str]:
    """Every event type code of the catalogue, in file order."""
    return list(load_catalogue())


def make_log_id(sequence: int, rng: random.Random | None = None) -> str:
    """A fixed-length Auth0-like log id whose order is the order of `sequence`."""
    noise = int((rng or random).random() * _SUFFIX_RANGE)
    return LOG_ID_PREFIX + str(sequence).zfill(SEQUENCE_DIGITS) + str(noise).zfill(_SUFFIX_RANDOM_DIGITS) + _SUFFIX_TAIL


def log_id_sequence(log_id: str) -> int:
    """The creation sequence number embedded in a log id made by `make_log_id`."""
    return int(log_id[len(LOG_ID_PREFIX) : len(LOG_ID_PREFIX) + SEQUENCE_DIGITS])


def to_epoch_ms(value: datetime) -> int:
    """Epoch milliseconds of a datetime (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(round(value.timestamp() * 1000))


def format_date(epoch_ms: int) -> str:
    """ISO 8601 UTC with milliseconds and Z, as Auth0 writes `date`."""
    minute, rest = divmod(epoch_ms, 60_000)
    seconds, millis = divmod(rest, 1000)
    return _minute_prefix(minute) + _SECONDS_MILLIS[seconds] + _MILLIS[millis]


@lru_cache(maxsize=4096)
def _minute_prefix(minute: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))


_SECONDS_MILLIS = [f"{second:02d}." for second in range(60)]
_MILLIS = [f"{milli:03d}Z" for milli in range(1000)]


def date_ms(text: str) -> int:
    """Epoch milliseconds of an Auth0 date; fast for the "YYYY-MM-DDTHH:MM:SS.mmmZ" form."""
    if len(text) == 24 and text[-1] == "Z" and text[19] == ".":
        try:
            return _minute_ms(text[:17]) + int(text[17:19]) * 1000 + int(text[20:23])
        except ValueError:
            pass
    return to_epoch_ms(parse_date(text))


@lru_cache(maxsize=4096)
def _minute_ms(prefix: str) -> int:
    return to_epoch_ms(datetime.strptime(prefix, "%Y-%m-%dT%H:%M:").replace(tzinfo=timezone.utc))


def parse_date(text: str) -> datetime:
    """Parse an Auth0 date (ISO 8601, Z or offset, or YYYY-MM-DD) into an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


# --------------------------------------------------------------------------- pools


def _token(rng: random.Random, n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _pick(rng: random.Random, items: Any) -> Any:
    """A random element (faster than rng.choice on the hot path)."""
    return items[int(rng.random() * len(items))]


def _rand_hex(rng: random.Random, n: int) -> str:
    """n random hex digits (fast path for per-event ids)."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _rand_alnum(rng: random.Random, n: int) -> str:
    """n random URL-safe characters (fast path for per-event ids)."""
    return base64.urlsafe_b64encode(rng.randbytes(n)).decode()[:n]


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"
_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
          "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe")
_LAST = ("smith", "jones", "garcia", "muller", "rossi", "dubois", "tanaka", "kim", "silva", "novak")
_DOMAINS = ("example.com", "example.org", "acme.test", "mail.test")
_AGENTS = (
    ("Chrome 120.0.0 / Mac OS X 10.15.7", False), ("Chrome 121.0.0 / Windows 10.0.0", False),
    ("Firefox 122.0.0 / Ubuntu 0.0.0", False), ("Safari 17.2.1 / Mac OS X 10.15.7", False),
    ("Edge 120.0.2210 / Windows 10.0.0", False), ("Mobile Safari 17.2.0 / iOS 17.2.1", True),
    ("Chrome Mobile 120.0.6099 / Android 14.0.0", True), ("node-fetch 1.0.0 / Other 0.0.0", False),
)
_LOCATIONS = (
    ("US", "USA", "United States", "Boston", 42.3584, -71.0598, "America/New_York", "NA"),
    ("DE", "DEU", "Germany", "Berlin", 52.5244, 13.4105, "Europe/Berlin", "EU"),
    ("FR", "FRA", "France", "Paris", 48.8534, 2.3488, "Europe/Paris", "EU"),
    ("BR", "BRA", "Brazil", "Sao Paulo", -23.5475, -46.6361, "America/Sao_Paulo", "SA"),
    ("JP", "JPN", "Japan", "Tokyo", 35.6895, 139.6917, "Asia/Tokyo", "AS"),
    ("IN", "IND", "India", "Bengaluru", 12.9719, 77.5937, "Asia/Kolkata", "AS"),
    ("AU", "AUS", "Australia", "Sydney", -33.8679, 151.2073, "Australia/Sydney", "OC"),
)
_CONNECTIONS = (
    ("Username-Password-Authentication", "auth0", "database"),
    ("google-oauth2", "google-oauth2", "social"),
    ("github", "github", "social"),
    ("acme-okta", "okta", "enterprise"),
    ("email", "email", "passwordless"),
)
_CLIENT_NAMES = ("Customer Portal (SPA)", "Acme Mobile (iOS)", "Acme Mobile (Android)",
                 "Admin Dashboard", "Billing Service (M2M)", "Reporting Job (M2M)")
_API_AUDIENCES = ("https://api.acme.test/", "https://billing.acme.test/", f"https://{TENANT_DOMAIN}/api/v2/")
_MGMT_WRITES = (
    ("Update a client", "patch", "/api/v2/clients/{client}"),
    ("Create a User", "post", "/api/v2/users"),
    ("Update a User", "patch", "/api/v2/users/{user}"),
    ("Delete a User", "delete", "/api/v2/users/{user}"),
    ("Assign roles to a user", "post", "/api/v2/users/{user}/roles"),
    ("Update tenant settings", "patch", "/api/v2/tenants/settings"),
)
_MGMT_READS = (("Get logs", "get", "/api/v2/logs"), ("Get users", "get", "/api/v2/users"),
               ("Get a client", "get", "/api/v2/clients/{client}"))
_FAILURE_MESSAGES = {
    "f": "Wrong email or password.", "fp": "Wrong password.", "fu": "Wrong email or password.",
    "fsa": "Login required", "fcoa": "Wrong email or password.", "fco": "Origin is not allowed.",
    "feccft": "Unauthorized", "ferrt": "Unknown or invalid refresh token.", "fs": "Password is too weak",
    "flo": "Invalid logout request", "fc": "Connector is unreachable",
}
_WARNING_MESSAGES = ("Unable to issue redirect for OAuth 2.0 transaction",
                     "The user does not have a verified email", "Deprecated legacy endpoint used")


class _Pools:
    """Tenant-wide values drawn once from the seed (users, clients, connections, IPs)."""

    def __init__(self, rng: random.Random, users: int = 400, ips: int = 300) -> None:
        self.clients = [(_token(rng, 32, _ALNUM), name) for name in _CLIENT_NAMES]
        self.connections = [(name, "con_" + _token(rng, 16, _ALNUM), strategy, kind)
                            for name, strategy, kind in _CONNECTIONS]
        self.users = [self._user(rng) for _ in range(users)]
        self.sessions = [_rand_alnum(rng, 32) for _ in range(users * 4)]
        self.ips = [self._ip(rng) for _ in range(ips)]
        self.locations = [dict(zip(("country_code", "country_code3", "country_name", "city_name",
                                    "latitude", "longitude", "time_zone", "continent_code"), loc))
                          for loc in _LOCATIONS]
        self.client_fields = [{"client_id": cid, "client_name": name} for cid, name in self.clients]
        self.agent_fields = [{"user_agent": agent, "isMobile": mobile} for agent, mobile in _AGENTS]
        self.user_fields = [self._user_fields(user) for user in self.users]
        self.security = [{"ja3": _token(rng, 32, _HEX), "ja4": f"t13d{rng.randrange(1000, 9999)}h2_"
                          + _token(rng, 12, _HEX) + "_" + _token(rng, 12, _HEX)} for _ in range(20)]

    def _user_fields(self, user: tuple[str, str, int]) -> dict:
        user_id, email, connection = user
        name, conn_id, strategy, kind = self.connections[connection]
        return {"connection": name, "connection_id": conn_id, "user_id": user_id, "user_name": email,
                "strategy": strategy, "strategy_type": kind}

    @staticmethod
    def _user(rng: random.Random) -> tuple[str, str, int]:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        connection = rng.randrange(len(_CONNECTIONS))
        strategy = _CONNECTIONS[connection][1]
        uid = _token(rng, 24, _HEX) if strategy in ("auth0", "email") else str(rng.randrange(10**20, 10**21))
        prefix = "auth0" if strategy == "auth0" else strategy
        email = f"{first}.{last}{rng.randrange(100)}@{rng.choice(_DOMAINS)}"
        return f"{prefix}|{uid}", email, connection

    @staticmethod
    def _ip(rng: random.Random) -> str:
        if rng.random() < 0.1:
            return "2001:db8:" + ":".join(f"{rng.randrange(65536):x}" for _ in range(6))
        return ".".join(str(rng.randrange(1, 255)) for _ in range(4))


# --------------------------------------------------------------------------- factory

Builder = Callable[["EventFactory", str, str, int], dict]


class EventFactory:
    """Seedable generator of Auth0 log events with ever-increasing log ids.

    `types`: restrict to these codes (chosen uniformly); default: the realistic weighted mix,
    in which every catalogue code appears with a small probability. `future_share`: share of
    events given an unknown future type code (FUTURE_TYPES). `late_share`/`late_seconds`:
    share of events dated up to `late_seconds` earlier than their position (late arrivals).
    """

    def __init__(
        self,
        seed: int = 0,
        start: datetime | None = None,
        types: list[str] | None = None,
        spacing_seconds: float = 1.0,
        future_share: float = 0.0,
        late_share: float = 0.0,
        late_seconds: float = 60.0,
        first_sequence: int = 1,
        tenant_domain: str = TENANT_DOMAIN,
    ) -> None:
        self.rng = random.Random(seed)
        self.pools = _Pools(self.rng)
        self.types = list(types) if types else None
        self.spacing_seconds = spacing_seconds
        self.future_share = future_share
        self.late_share = late_share
        self.late_seconds = late_seconds
        self.tenant_domain = tenant_domain
        self.sequence = first_sequence - 1
        self.next_date_ms = to_epoch_ms(start) if start else int(time.time() * 1000)
        self._codes, self._cum = self._weights(self.types)
        self._categories = {code: entry.category for code, entry in load_catalogue().items()}
        self._builders: dict[str, Builder] = {}

    # -- public ------------------------------------------------------------------

    def make(
        self,
        n: int,
        start_date: datetime | None = None,
        spacing_seconds: float | None = None,
        types: list[str] | None = None,
    ) -> list[dict]:
        """n new events, dated from start_date (default: after the previous call) every spacing_seconds."""
        spacing_ms = 1000.0 * (self.spacing_seconds if spacing_seconds is None else spacing_seconds)
        start_ms = to_epoch_ms(start_date) if start_date else self.next_date_ms
        codes = self._pick_codes(n, types)
        events = [self._event(code, start_ms + int(i * spacing_ms)) for i, code in enumerate(codes)]
        self.next_date_ms = max(self.next_date_ms, start_ms + int(n * spacing_ms))
        return events

    def event(self, code: str | None = None, date: datetime | None = None) -> dict:
        """One new event of the given type (default: drawn from the mix)."""
        code = code or self._pick_codes(1, None)[0]
        date_ms = to_epoch_ms(date) if date else self.next_date_ms
        self.next_date_ms = max(self.next_date_ms, date_ms + int(1000 * self.spacing_seconds))
        return self._event(code, date_ms)

    # -- type mix ------------------------------------------------------------------

    @staticmethod
    def _weights(types: Iterable[str] | None) -> tuple[list[str], list[float]]:
        if types:
            codes = list(dict.fromkeys(types))
            weights = [1.0] * len(codes)
        else:
            catalogue = load_catalogue_codes()
            rare = [code for code in catalogue if code not in COMMON_WEIGHTS]
            common_total = sum(COMMON_WEIGHTS.values())
            rare_weight = common_total * RARE_SHARE / (1 - RARE_SHARE) / max(len(rare), 1)
            codes = list(COMMON_WEIGHTS) + rare
            weights = list(COMMON_WEIGHTS.values()) + [rare_weight] * len(rare)
        cum, total = [], 0.0
        for weight in weights:
            total += weight
            cum.append(total)
        return codes, cum

    def _pick_codes(self, n: int, types: list[str] | None) -> list[str]:
        codes, cum = self._weights(types) if types else (self._codes, self._cum)
        picked = self.rng.choices(codes, cum_weights=cum, k=n)
        if self.future_share > 0:
            rng = self.rng
            picked = [_pick(rng, FUTURE_TYPES) if rng.random() < self.future_share else code
                      for code in picked]
        return picked

    # -- one event -------------------------------------------------------------------

    def _event(self, code: str, date_ms: int) -> dict:
        if self.late_share and self.rng.random() < self.late_share:
            date_ms -= int(self.rng.random() * self.late_seconds * 1000)
        self.sequence += 1
        log_id = make_log_id(self.sequence, self.rng)
        builder = self._builders.get(code)
        if builder is None:
            builder = self._builders[code] = _builder(code, self._categories.get(code, _GENERIC_CATEGORY))
        event = builder(self, code, date_ms)
        event["log_id"] = log_id
        event["_id"] = log_id
        return event

    def _user(self) -> tuple[str, str, tuple]:
        user_id, email, connection = _pick(self.rng, self.pools.users)
        return user_id, email, self.pools.connections[connection]

    def _client(self) -> tuple[str, str]:
        return _pick(self.rng, self.pools.clients)

    def _agent(self) -> tuple[str, bool]:
        return _pick(self.rng, _AGENTS)

    def _base(self, code: str, date_ms: int, description: str | None = None) -> dict:
        event: dict[str, Any] = {"date": format_date(date_ms), "type": code}
        if description is not None:
            event["description"] = description
        return event

    def _with_user(self, event: dict, known_user: bool = True) -> dict:
        """Add the client, connection, user, device and location fields of an end-user event."""
        rng, pools = self.rng, self.pools
        event.update(_pick(rng, pools.client_fields))
        event["ip"] = _pick(rng, pools.ips)
        event.update(_pick(rng, pools.agent_fields))
        event["hostname"] = self.tenant_domain
        event.update(_pick(rng, pools.user_fields))
        if not known_user:
            event["user_id"] = ""
        event["location_info"] = _pick(rng, pools.locations).copy()
        event["security_context"] = _pick(rng, pools.security).copy()
        return event


# --------------------------------------------------------------------------- builders


def _login(factory: EventFactory, code: str, date_ms: int) -> dict:
    rng = factory.rng
    failed = code.startswith("f")
    message = _FAILURE_MESSAGES.get(code, "") if failed else ""
    if code == "w":
        message = _pick(rng, _WARNING_MESSAGES)
    event = factory._with_user(factory._base(code, date_ms, message), known_user=code != "fu")
    elapsed = 80 + int(rng.random() * 3920)
    details: dict[str, Any] = {
        "initiatedAt": date_ms - elapsed, "completedAt": date_ms, "elapsedTime": elapsed,
        "session_id": _pick(rng, factory.pools.sessions), "stats": {"loginsCount": 1 + int(rng.random() * 900)},
    }
    if failed:
        details["error"] = {"message": message or "Login failed", "oauthError": "access_denied"}
    if code == "s":
        details["prompts"] = [
            {"name": "prompt-authenticate", "completedAt": date_ms - 20, "connection": event["connection"],
             "connection_id": event["connection_id"], "strategy": event["strategy"],
             "identity": event["user_id"].split("|")[-1], "stats": details["stats"],
             "elapsedTime": elapsed - 40},
            {"name": "login", "flow": "universal-login", "initiatedAt": date_ms - elapsed,
             "completedAt": date_ms - 10, "user_id": event["user_id"], "user_name": event["user_name"],
             "timers": {"rules": 1 + int(rng.random() * 30)}, "elapsedTime": elapsed - 10},
        ]
    if code in ("ssa", "s", "scoa", "sens"):
        event["audience"] = _API_AUDIENCES[0]
        event["scope"] = "openid profile email offline_access"
    event["details"] = details
    return event


def _exchange(factory: EventFactory, code: str, date_ms: int) -> dict:
    rng = factory.rng
    client_id, client_name = factory._client()
    failed = code.startswith("f")
    description = _FAILURE_MESSAGES.get(code, "Unauthorized") if failed else (
        "Client Credentials for Access Token" if code in ("seccft", "sercft") else "")
    event = factory._base(code, date_ms, description)
    event.update(connection_id="", client_id=client_id, client_name=client_name,
                 ip=_pick(rng, factory.pools.ips), user_agent=factory._agent()[0],
                 hostname=factory.tenant_domain, user_id="", user_name="",
                 audience=_pick(rng, _API_AUDIENCES), scope="read:orders write:orders")
    details: dict[str, Any] = {"actions": {"executions": [_rand_alnum(rng, 40)]}}
    if failed:
        details["error"] = {"message": description, "oauthError": "invalid_grant"}
    event["details"] = details
    return event


def _management(factory: EventFactory, code: str, date_ms: int) -> dict:
    rng = factory.rng
    reads = code == "mgmt_api_read"
    description, method, path = _pick(rng, _MGMT_READS if reads else _MGMT_WRITES)
    client_id, _ = factory._client()
    user_id, _, _ = factory._user()
    path = path.format(client=client_id, user=user_id)
    status = 200 if code != "fapi" else _pick(rng, (400, 403, 404, 409))
    agent = "node-auth0 4.2.0 / Node.js 20.11.0"
    event = factory._base(code, date_ms, description)
    event.update(client_id=client_id, client_name="", ip=_pick(rng, factory.pools.ips),
                 user_agent="Node.js 20.11.0 / Other 0.0.0", hostname=factory.tenant_domain,
                 user_id="", user_name="")
    request = {"method": method, "path": path, "query": {}, "userAgent": agent,
               "channel": "https://manage.auth0.com/" if rng.random() < 0.3 else "api",
               "ip": event["ip"],
               "auth": {"user": {}, "strategy": "jwt",
                        "credentials": {"jti": _rand_hex(rng, 32), "scopes": ["read:users", "update:clients"]}}}
    if method in ("post", "patch"):
        request["body"] = {"app_metadata": {"plan": _pick(rng, ("free", "pro", "enterprise"))}}
    response = {"statusCode": status, "body": {} if status == 200 else {"error": "Bad Request"}}
    event["details"] = {"request": request, "response": response}
    return event


def _user_event(factory: EventFactory, code: str, date_ms: int) -> dict:
    rng = factory.rng
    failed = "fail" in code or (code.startswith("f") and len(code) <= 5)
    description = _FAILURE_MESSAGES.get(code, "") if failed else ""
    event = factory._with_user(factory._base(code, date_ms, description))
    details: dict[str, Any] = {"body": {"email": event["user_name"], "connection": event["connection"]}}
    if failed:
        details["error"] = {"message": description or "Operation failed"}
    if code.startswith("gd_"):
        details = {"authenticator": {"type": _pick(rng, ("otp", "sms", "push", "webauthn-roaming"))},
                   "request": {"ip": event["ip"], "userAgent": event["user_agent"]}}
    event["details"] = details
    return event


def _rate_limit(factory: EventFactory, code: str, date_ms: int) -> dict:
    path = _pick(factory.rng, ("/api/v2/users", "/oauth/token", "/api/v2/logs", "/userinfo"))
    return factory._base(code, date_ms, f"You passed the limit of allowed calls to '{path}'")


def _system(factory: EventFactory, code: str, date_ms: int) -> dict:
    entry = load_catalogue().get(code)
    event = factory._base(code, date_ms, entry.name if entry else "")
    event["details"] = {"info": entry.name if entry else code,
                        "component": _pick(factory.rng, ("tenant", "connector", "platform"))}
    return event


def _generic(factory: EventFactory, code: str, date_ms: int) -> dict:
    rng = factory.rng
    entry = load_catalogue().get(code)
    event = factory._base(code, date_ms, entry.name if entry else f"Event of type {code}")
    client_id, client_name = factory._client()
    event.update(client_id=client_id, client_name=client_name, ip=_pick(rng, factory.pools.ips),
                 hostname=factory.tenant_domain)
    if rng.random() < 0.6:
        user_id, email, _ = factory._user()
        event.update(user_id=user_id, user_name=email)
    event["details"] = {"id": _rand_hex(rng, 24), "status": "failed" if "fail" in code else "ok"}
    return event


_BY_CATEGORY: dict[str, Builder] = {
    "auth.login.success": _login, "auth.login.fail": _login, "auth.login.notification": _login,
    "auth.silent_auth.success": _login, "auth.silent_auth.fail": _login,
    "auth.logout.success": _login, "auth.logout.fail": _login,
    "auth.token_exchange.success": _exchange, "auth.token_exchange.fail": _exchange,
    "management.success": _management, "management.fail": _management,
    "user.success": _user_event, "user.fail": _user_event, "user.notification": _user_event,
    "auth.signup.success": _user_event, "auth.signup.fail": _user_event,
    "system.notification": _system,
}
_BY_CODE: dict[str, Builder] = {
    "api_limit": _rate_limit, "api_limit_warning": _rate_limit, "limit_ui": _rate_limit,
    "limit_delegation": _rate_limit, "fapi": _management, "sapi": _management, "w": _login,
    "du": _user_event, "secte": _exchange, "seta": _exchange, "fecte": _exchange, "feta": _exchange,
}


def _builder(code: str, category: str) -> Builder:
    builder = _BY_CODE.get(code) or _BY_CATEGORY.get(category)
    if builder:
        return builder
    return _user_event if code.startswith("gd_") else _generic


def catalogue_category(code: str) -> str:
    """The log-stream category of a code ("other" for unknown codes)."""
    entry = load_catalogue().get(code)
    return entry.category if entry else _GENERIC_CATEGORY


def default_start(n: int, spacing_seconds: float, now: float | None = None) -> datetime:
    """A start date such that n events spaced by spacing_seconds end just before now."""
    now = time.time() if now is None else now
    end = datetime.fromtimestamp(now, tz=timezone.utc) - timedelta(seconds=spacing_seconds)
    return end - timedelta(seconds=spacing_seconds * max(n - 1, 0))
