"""Alerts that need memory across runs: the retry alert (once per run), falling behind (lag above a
limit, repeated at most hourly, then "cleared"), and the daily digest (a rolling tally per pipeline).

The rules are pure functions of (state, input, now) -> (new state, messages), tested without Airflow.
The state lives in one JSON Variable per pipeline, `auth0_webhooks_alerts__<dag_id>` (one per
pipeline, so that pipelines whose commits end at the same moment never overwrite each other's tally);
`load_state` / `save_state` do that I/O through runtime.variable_get/variable_set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from auth0_webhooks import runtime
from auth0_webhooks.reporting import RunReport, redact

log = logging.getLogger(__name__)

ALERTS_VARIABLE = "auth0_webhooks_alerts"
LAG_REPEAT = timedelta(hours=1)
DIGEST_MIN_GAP = timedelta(hours=20)
RETRY_RUNS_KEPT = 20
LIVE_KINDS = ("scheduled", "manual")  # the runs that move the live checkpoint: the only ones that measure lag


def alerts_variable(dag_id: str) -> str:
    return f"{ALERTS_VARIABLE}__{dag_id}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _parse(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# ---- records ----


@dataclass
class LagState:
    """Whether a falling-behind alert is on, since when, and when it was last sent."""

    alerting: bool = False
    since: str | None = None
    last_alert: str | None = None


@dataclass
class DigestTally:
    """What happened since the last digest."""

    since: str | None = None
    last_sent: str | None = None  # the digest hour (UTC) the last digest covered
    runs: int = 0
    failures: int = 0
    warnings: int = 0
    logs_delivered: int = 0
    logs_failed: int = 0
    gaps: int = 0
    last_error: str | None = None
    lag_seconds: float | None = None
    checkpoint: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AlertState:
    """The JSON of `auth0_webhooks_alerts__<dag_id>`."""

    retry_alerted_runs: list[str] = field(default_factory=list)
    lag: LagState = field(default_factory=LagState)
    digest: DigestTally = field(default_factory=DigestTally)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> AlertState:
        """Tolerant: a missing, unreadable or partial value gives the defaults for what is missing."""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        return cls(retry_alerted_runs=[str(r) for r in data.get("retry_alerted_runs") or [] if r][-RETRY_RUNS_KEPT:],
                   lag=_known(LagState, data.get("lag")), digest=_known(DigestTally, data.get("digest")))


def _known(kind: type, data: Any) -> Any:
    if not isinstance(data, dict):
        return kind()
    try:
        return kind(**{k: v for k, v in data.items() if k in kind.__dataclass_fields__})
    except TypeError:
        return kind()


# ---- the rules ----


@dataclass(frozen=True)
class Alert:
    """A message the rules decided to send: `kind` is retry, lag, lag_cleared or digest."""

    kind: str
    data: dict


def step_retry(state: AlertState, run_id: str) -> tuple[AlertState, list[Alert]]:
    """A task of run `run_id` failed and will be retried: alert once per run."""
    if run_id in state.retry_alerted_runs:
        return state, []
    state.retry_alerted_runs = (state.retry_alerted_runs + [run_id])[-RETRY_RUNS_KEPT:]
    return state, [Alert("retry", {"run_id": run_id})]


def step_lag(state: LagState, lag_seconds: float | None, limit_seconds: float | None,
             now: datetime) -> tuple[LagState, list[Alert]]:
    """Lag above the limit: alert, again at most hourly while it lasts; back at or under it: "cleared".
    An unknown lag changes nothing; no limit (None or <= 0) turns the alert off (and clears it silently)."""
    if not limit_seconds or limit_seconds <= 0:
        return LagState(), []
    if lag_seconds is None:
        return state, []
    data = {"lag_seconds": lag_seconds, "limit_seconds": float(limit_seconds)}
    if lag_seconds > limit_seconds:
        last = _parse(state.last_alert)
        if state.alerting and last is not None and now - last < LAG_REPEAT:
            return state, []
        since = state.since if state.alerting and state.since else _iso(now)
        return LagState(True, since, _iso(now)), [Alert("lag", {**data, "since": since})]
    if state.alerting:
        return LagState(), [Alert("lag_cleared", {**data, "since": state.since})]
    return state, []


def _digest_slot(now: datetime, hour: int) -> datetime:
    """The latest moment at `hour`:00 UTC at or before `now`."""
    slot = now.astimezone(timezone.utc).replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


def step_digest(state: DigestTally, report: RunReport, now: datetime,
                digest_hour_utc: int | None) -> tuple[DigestTally, list[Alert]]:
    """Add the run to the tally; send the digest when a digest hour has passed since the last one (or since
    the tally began), and the last one is at least 20 h old; then start a new tally. A null hour only tallies."""
    tally = DigestTally(**asdict(state))
    tally.since = tally.since or _iso(now)
    tally.runs += 1
    tally.failures += int(report.failed)
    tally.warnings += len(report.warnings)
    tally.logs_delivered += report.logs_delivered
    tally.logs_failed += report.logs_failed
    tally.gaps += len(report.gaps)
    if report.error:
        tally.last_error = redact(report.error)[:500]
    if report.run_kind in LIVE_KINDS:
        tally.lag_seconds = report.lag_seconds if report.lag_seconds is not None else tally.lag_seconds
        tally.checkpoint = report.checkpoint_after or tally.checkpoint
    if digest_hour_utc is None:
        return tally, []
    slot, last_sent = _digest_slot(now, digest_hour_utc), _parse(tally.last_sent)
    if slot <= (last_sent or _parse(tally.since) or now) or (last_sent and now - last_sent < DIGEST_MIN_GAP):
        return tally, []
    sent = Alert("digest", tally.to_dict())
    # last_sent is the digest hour it covers, not the send time: a digest late after an outage does not
    # push the next ones later.
    fresh = DigestTally(since=_iso(now), last_sent=_iso(slot), lag_seconds=tally.lag_seconds,
                        checkpoint=tally.checkpoint)
    return fresh, [sent]


# ---- Variable I/O ----


def load_state(dag_id: str) -> AlertState:
    return AlertState.from_json(runtime.variable_get(alerts_variable(dag_id)))


def save_state(dag_id: str, state: AlertState) -> None:
    runtime.variable_set(alerts_variable(dag_id), state.to_json())
