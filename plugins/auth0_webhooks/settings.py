"""Settings from the `auth0_webhooks_config` Variable: parse, validate, default (the keys: README, "Settings").

Keys in any case (`batch_size` or the original's `BATCH_SIZE`); all problems are reported at once.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from auth0_webhooks.log_types import LEVEL_NAMES, LOG_STREAM_CATEGORIES, unknown_categories, unknown_codes
from auth0_webhooks.names import CONFIG_VARIABLE

DEFAULT_SCHEDULE = "*/5 * * * *"
EVENT_DRIVEN_DEFAULT_SCHEDULE = "@hourly"  # the fallback when `event_driven` is on and `schedule` is not set
MAX_BATCH_SIZE = 100  # the Management API's `take` limit
MAX_CONCURRENT_CALLS = 64
MANUAL_RUN_BUDGET_SECONDS = 3600
CRON_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *",
                "@quarterly": "0 0 1 */3 *", "@yearly": "0 0 1 1 *"}
_LOG_ID = re.compile(r"^(\d{6,}|[0-9a-f]{24})$")  # Auth0 log ids: long numeric strings (old: 24 hex)


class SettingsError(ValueError):
    """One or more settings are wrong; the message names each key, value and what is allowed."""

    def __init__(self, problems: list[str], source: str = f"Variable {CONFIG_VARIABLE!r}") -> None:
        self.problems, self.source = problems, source
        super().__init__(f"{source} is not valid: " + "; ".join(problems))


@dataclass(frozen=True)
class StartFrom:
    """Where START_FROM points: a log id (continue after it) or a date (first log at or after it)."""

    raw: str
    log_id: str | None = None
    date: datetime | None = None


@dataclass(frozen=True)
class Settings:
    """Validated settings of one pipeline."""

    schedule: str | None = DEFAULT_SCHEDULE
    batch_size: int = 100
    send_as_batch: bool = True
    webhook_concurrent_calls: int = 5
    start_from: StartFrom | None = None
    slack_send_success: bool = False
    log_level: int | None = None
    log_types: tuple[str, ...] = ()
    # Project additions.
    max_logs_per_run: int | None = None  # None: as many as the time budget allows
    max_run_seconds: int | None = None  # None: 80 % of the schedule's interval (see run_budget_seconds)
    batches_per_task: int = 10
    task_retries: int = 3
    task_retry_delay_seconds: int = 60
    content_format: str = "json_array"  # json_array (the original's) or json_lines (NDJSON); webhook_client.encode
    log_categories: tuple[str, ...] = ()  # Log Streams event categories, in union with log_types and log_level
    event_driven: bool = False  # a watcher in the triggerer starts a run when new logs appear (triggers/new_logs.py)
    event_poll_seconds: int = 5  # how often that watcher reads the tenant: 3600 / this many reads an hour
    lag_alert_minutes: int | str | None = "auto"  # "auto": one schedule interval + 15 min; None: no lag alert
    digest_hour_utc: int | None = 8  # the daily digest goes out at this hour (UTC); None: no digest

    @property
    def cron(self) -> str | None:
        """The schedule as a cron expression (presets resolved), or None for manual runs only."""
        return CRON_PRESETS.get(self.schedule, self.schedule)  # None stays None

    @property
    def interval_seconds(self) -> float | None:
        """The schedule's shortest interval between runs (of the next three), or None without a schedule."""
        if self.cron is None:
            return None
        from croniter import croniter

        fires = croniter(self.cron, datetime.now(timezone.utc))
        first, second, third = (fires.get_next(float) for _ in range(3))
        return min(second - first, third - second)

    @property
    def run_budget_seconds(self) -> int:
        """How long a run keeps reading a backlog: `max_run_seconds`, else 80 % of the schedule's
        interval (so that the next scheduled run starts on time), at least 30 s; 1 h without a schedule."""
        if self.max_run_seconds:
            return self.max_run_seconds
        interval = self.interval_seconds
        if interval is None:
            return MANUAL_RUN_BUDGET_SECONDS
        return int(min(MANUAL_RUN_BUDGET_SECONDS, max(30.0, 0.8 * interval)))

    @property
    def lag_alert_seconds(self) -> float | None:
        """Lag above this raises the falling-behind alert: `lag_alert_minutes`, by default ("auto") one
        schedule interval + 15 minutes; None: no alert (null, or "auto" without a schedule)."""
        if self.lag_alert_minutes == "auto":
            interval = self.interval_seconds
            return None if interval is None else interval + 900
        return None if self.lag_alert_minutes is None else float(self.lag_alert_minutes) * 60


# --- one parser per kind of value; each returns the value or raises ValueError(allowed) ---


def _int_in(low: int, high: int | None) -> Callable[[Any], int]:
    allowed = f"an integer from {low} to {high}" if high else f"an integer of at least {low}"

    def parse(value: Any) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            raise ValueError(allowed)
        return value

    return parse


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, with null meaning "no value" (the default)."""

    def parse_optional(value: Any) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as error:
            raise ValueError(f"{error}, or null") from None

    return parse_optional


def _auto_or(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, with "auto" meaning the default computed from the schedule."""

    def parse_auto(value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            return parse(value)
        except ValueError as error:
            raise ValueError(f'{error}, or "auto"') from None

    return parse_auto


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError("true or false")


def _schedule(value: Any) -> str | None:
    allowed = "a cron expression such as '*/5 * * * *', a preset (@hourly, @daily, ...) or null"
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    if not isinstance(value, str):
        raise ValueError(allowed)
    text = " ".join(value.split())
    expression = CRON_PRESETS.get(text, text)
    from croniter import croniter  # an Airflow dependency; imported late to keep parsing cheap

    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(allowed)
    return text


def parse_start_from(value: Any) -> StartFrom | None:
    allowed = "a log_id, an ISO 8601 date such as 2026-01-31T00:00:00Z, or null"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(allowed)
    text = str(value).strip()
    if (date := parse_date(text)) is not None:
        return StartFrom(raw=text, date=date)
    if _LOG_ID.match(text):
        return StartFrom(raw=text, log_id=text)
    raise ValueError(allowed)


def parse_date(text: str) -> datetime | None:
    """An ISO 8601 date or timestamp as an aware UTC datetime, or None when it is not one."""
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _log_level(value: Any) -> int | None:
    allowed = "0 (debug), 1 (info), 2 (warning), 3 (error), 4 (critical) or null"
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in LEVEL_NAMES:
        return LEVEL_NAMES.index(value.strip().lower())
    try:
        return _int_in(0, 4)(value)
    except ValueError:
        raise ValueError(allowed) from None


def _names(value: Any, allowed: str) -> tuple[str, ...]:
    """A list of names, or a string of them separated by commas or spaces; duplicates dropped, order kept."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,]+", value) if part]
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError(allowed)
    return tuple(dict.fromkeys(name.strip() for name in value))


def _log_types(value: Any) -> tuple[str, ...]:
    allowed = "a list of Auth0 event type codes such as [\"s\", \"f\"] (see the event catalogue)"
    codes = _names(value, allowed)
    if unknown := unknown_codes(codes):
        raise ValueError(f"{allowed}; unknown code(s): {', '.join(unknown)}")
    return codes


def _log_categories(value: Any) -> tuple[str, ...]:
    allowed = ("a list of Auth0 Log Streams event categories such as [\"auth.login.fail\"], each one of: "
               + ", ".join(LOG_STREAM_CATEGORIES))
    names = _names(value, allowed)
    if unknown := unknown_categories(names):
        raise ValueError(f"{allowed}; unknown categor{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}")
    return names


def _content_format(value: Any) -> str:
    from auth0_webhooks.webhook_client import CONTENT_TYPES  # with `requests`: imported when the key is set

    allowed = " or ".join(map(repr, CONTENT_TYPES))
    text = value.strip().lower() if isinstance(value, str) else ""
    if text in CONTENT_TYPES:
        return text
    close = difflib.get_close_matches(text, CONTENT_TYPES, n=1, cutoff=0.6)
    raise ValueError(allowed + (f" (did you mean {close[0]!r}?)" if close else ""))


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "schedule": _schedule,
    "batch_size": _int_in(1, MAX_BATCH_SIZE),
    "send_as_batch": _bool,
    "webhook_concurrent_calls": _int_in(1, MAX_CONCURRENT_CALLS),
    "start_from": parse_start_from,
    "slack_send_success": _bool,
    "log_level": _log_level,
    "log_types": _log_types,
    "max_logs_per_run": _optional(_int_in(1, None)),
    "max_run_seconds": _optional(_int_in(30, 86_400)),
    "batches_per_task": _int_in(1, 1000),
    "task_retries": _int_in(0, 20),
    "task_retry_delay_seconds": _int_in(1, 3600),
    "content_format": _content_format,
    "log_categories": _log_categories,
    "event_driven": _bool,
    "event_poll_seconds": _int_in(1, 3600),
    "lag_alert_minutes": _auto_or(_optional(_int_in(1, 10_080))),
    "digest_hour_utc": _optional(_int_in(0, 23)),
}
# Settings of the original extension that live in Connections here.
_MOVED_TO_CONNECTIONS = {
    "webhook_url": "the host of Connection 'auth0_webhook'",
    "authorization": "the password of Connection 'auth0_webhook'",
    "slack_incoming_webhook_url": "the password of Connection 'auth0_slack'",
}
KNOWN_KEYS = tuple(_PARSERS)


def parse_settings(raw: str | dict | None) -> Settings:
    """Settings from the Variable's text (or an already decoded dict); raises SettingsError."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Settings()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise SettingsError([f"the value is not JSON ({error.msg} at line {error.lineno} column {error.colno}); "
                                 'expected an object such as {"batch_size": 100}']) from None
    if not isinstance(raw, dict):
        raise SettingsError([f"the value must be a JSON object, not {type(raw).__name__}"])

    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = str(key).strip().lower()
        if name in _MOVED_TO_CONNECTIONS:
            problems.append(f"{key!r} is not a setting here: put it in {_MOVED_TO_CONNECTIONS[name]}")
            continue
        parser = _PARSERS.get(name)
        if parser is None:
            hint = difflib.get_close_matches(name, KNOWN_KEYS, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"unknown key {key!r}{suggestion}; allowed keys: {', '.join(KNOWN_KEYS)}")
            continue
        try:
            values[name] = parser(value)
        except ValueError as error:
            problems.append(f"{name}={json.dumps(value)} is not allowed: expected {error}")
    if problems:
        raise SettingsError(problems)
    if values.get("event_driven") and "schedule" not in values:  # the cron schedule is then only a fallback
        values["schedule"] = EVENT_DRIVEN_DEFAULT_SCHEDULE
    return Settings(**values)


def parse_time_settings() -> tuple[Settings, str | None]:
    """What the DAG file reads while it is parsed: the settings, or the defaults and why they are used.

    Cheap and never an import error: a missing or wrong Variable gives the defaults, so that the DAG
    still shows in the UI (its docs say why); the run then fails naming the wrong key."""
    try:
        from airflow.sdk import Variable

        raw = Variable.get(CONFIG_VARIABLE, default=None)
    except Exception as error:  # noqa: BLE001 - no metadata access at parse time: defaults
        return Settings(), f"could not read Variable {CONFIG_VARIABLE!r}: {type(error).__name__}"
    try:
        return parse_settings(raw), None
    except SettingsError as error:
        return Settings(), str(error)
