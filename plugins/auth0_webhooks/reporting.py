"""Run reports: what a run did, as one typed record (the commit task's XCom, the DagRun note, Slack,
metrics). Every free text that reaches a report (errors, warnings) goes through `redact` first.
Sending one never fails a run: any error is logged and swallowed."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Callable

log = logging.getLogger(__name__)

RUN_KINDS = ("scheduled", "manual", "backfill", "replay", "dry run")

# ---- redaction: the one place where free text loses anything that could be a secret ----

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^\s/?#'\"<>]*)([^\s'\"<>]*)")
_SECRETS = [  # (pattern, replacement), applied in order after URLs
    (re.compile(r"(?i)\b(authorization|proxy-authorization)(\"?\s*[:=]\s*)(\"|')?(?:[A-Za-z]+\s+)?[^\s\"',;}]+"),
     r"\1\2\3[redacted]"),
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(basic)(\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b([a-z_]*(?:secret|password|passwd|token|api[_-]?key|signature)[a-z_]*)"
                r"(\"?\s*[:=]\s*)(\"|')?[^\s\"',;&}]+"), r"\1\2\3[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), "whsec_[redacted]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), "xox-[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted JWT]"),
]


def _url_origin(match: re.Match) -> str:
    scheme, authority, rest = match.groups()
    trailing = authority[len(authority.rstrip(".,:;)]")):] if not rest else rest[len(rest.rstrip(".,:;)]")):]
    authority, rest = (authority[:len(authority) - len(trailing)], rest) if not rest else \
        (authority, rest[:len(rest) - len(trailing)])
    host = authority.rsplit("@", 1)[-1]  # no user:password@
    return f"{scheme}://{host}" + ("/…" if rest.strip("/") else "") + trailing  # no path, query or fragment


def redact(text: Any) -> str:
    """`text` without what could be a secret: a URL keeps only its scheme and host (user info, path and
    query can all hold tokens: Slack and many webhook URLs carry theirs in the path), and Authorization
    values, bearer/basic credentials, `secret=`/`password=`/`token=` values, whsec_ keys, Slack tokens
    and JWTs become `[redacted]`. Used for every error and warning that a note, message or XCom shows."""
    if text is None:
        return ""
    result = _URL.sub(_url_origin, str(text))
    for pattern, replacement in _SECRETS:
        result = pattern.sub(replacement, result)
    return result


# ---- the record ----


@dataclass
class RunReport:
    """The summary of one run (the commit task's return value).

    `logs_failed`: logs read and kept by the filter but not delivered. `lag_seconds`: the age of the
    newest acknowledged log at the end of the run (see `lag_seconds`). `webhook_latency_ms`: the median
    (else mean) webhook answer time. `run_url`: the run's page in the Airflow UI."""

    dag_id: str
    run_id: str
    start: str
    end: str
    logs_read: int = 0
    logs_delivered: int = 0
    logs_filtered_out: int = 0
    checkpoint_before: str | None = None
    checkpoint_after: str | None = None
    caught_up: bool = True
    dry_run: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    run_kind: str = "scheduled"
    logs_failed: int = 0
    lag_seconds: float | None = None
    gaps: list[str] = field(default_factory=list)
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    auth0_429s: int = 0
    webhook_latency_ms: float | None = None
    run_url: str | None = None
    pipeline: str | None = None
    sample: str | None = None  # a dry run's first logs as the webhook would receive them (XCom only: they hold PII)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> str:
        return "failed" if self.failed else ("dry run" if self.dry_run else "succeeded")

    def to_dict(self) -> dict:
        """The record as JSON-ready data, errors and warnings redacted (this is what XCom shows)."""
        data = asdict(self)
        data["error"] = redact(self.error) if self.error is not None else None
        data["warnings"] = [redact(warning) for warning in self.warnings]
        data["gaps"] = [redact(gap) for gap in self.gaps]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RunReport | None:
        """A report from `to_dict` output, old or new: unknown keys are ignored, missing ones take their
        defaults, a value of the wrong type takes the default too. None when `data` is not a mapping."""
        if not isinstance(data, dict):
            return None
        defaults = cls(dag_id="", run_id="", start="", end="")
        values: dict[str, Any] = {}
        for spec in fields(cls):
            default = getattr(defaults, spec.name)
            value = data.get(spec.name, default)
            values[spec.name] = _coerce(value, default, spec.name)
        return cls(**values)

    def lines(self) -> list[str]:
        """Human-readable lines, the same for the task log and Slack's plain-text fallback."""
        unchanged = " (unchanged)" if self.checkpoint_after == self.checkpoint_before else ""
        failed = f", {self.logs_failed} not delivered" if self.logs_failed else ""
        lines = [f"Auth0 logs to webhook ({self.dag_id}) run {self.run_id}: {self.status.upper() if self.failed else self.status}",
                 f"Start: {self.start}", f"End: {self.end}",
                 f"Logs processed: {self.logs_delivered} delivered, {self.logs_filtered_out} filtered out, "
                 f"{self.logs_read} read{failed}",
                 f"Next checkpoint: {self.checkpoint_after or 'none'}{unchanged}"]
        if self.lag_seconds is not None:
            lines.append(f"Lag: {human_duration(self.lag_seconds)}")
        if not self.caught_up:
            lines.append("Backlog: more logs are waiting; the next run continues")
        lines.extend(f"Gap: {redact(gap)}" for gap in self.gaps)
        lines.extend(f"Warning: {redact(warning)}" for warning in self.warnings)
        if self.error:
            lines.append(f"Error: {redact(self.error)}")
        if self.run_url:
            lines.append(f"Run: {self.run_url}")
        return lines

    def text(self) -> str:
        return "\n".join(self.lines())


def _coerce(value: Any, default: Any, name: str) -> Any:
    if value is None:
        return None if name in _OPTIONAL else default
    if isinstance(default, bool):
        return value if isinstance(value, bool) else default
    if isinstance(default, int):
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    if isinstance(default, float) or name in ("lag_seconds", "webhook_latency_ms"):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    if isinstance(default, list):
        return [str(item) for item in value] if isinstance(value, list) else default
    return str(value)


_OPTIONAL = {"checkpoint_before", "checkpoint_after", "error", "lag_seconds", "webhook_latency_ms", "run_url", "sample",
             "pipeline"}


# ---- derived values (one rule each) ----


def lag_seconds(newest_log_date: str | datetime | None, now: datetime | None = None) -> float | None:
    """Lag: the age, at `now`, of the newest log the webhook acknowledged. The caller passes the date of
    the newest log delivered in this run, or the checkpoint's log date when nothing new arrived. None
    when the date is unknown or unreadable; never negative (a clock ahead of ours gives 0)."""
    if not newest_log_date:
        return None
    try:
        date = newest_log_date if isinstance(newest_log_date, datetime) else \
            datetime.fromisoformat(str(newest_log_date).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return max(0.0, round(((now or datetime.now(timezone.utc)) - date).total_seconds(), 3))


def run_kind(run_type: Any, *, dry_run: bool = False, replay: bool = False) -> str:
    """The report's `run_kind` from the DagRun's run_type (`scheduled`, `manual`, `backfill`, or
    `asset_triggered`...) and the run's Params: a dry run or a replay wins over the run type."""
    kind = str(getattr(run_type, "value", run_type) or "").lower()
    if dry_run:
        return "dry run"
    if kind == "backfill":
        return kind
    if replay:
        return "replay"
    return kind if kind in ("scheduled", "manual", "backfill") else "scheduled" if kind == "asset_triggered" \
        else "manual"


def human_duration(seconds: float | None) -> str:
    """`75` -> `1 min 15 s`, `7300` -> `2 h 1 min`, `200000` -> `2 d 7 h`; None -> `unknown`."""
    if seconds is None:
        return "unknown"
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


# ---- plain-text Slack (kept for callers of the first version) ----


def should_notify(report: RunReport, send_success: bool) -> bool:
    """Failures always; successful runs only with SLACK_SEND_SUCCESS."""
    return report.failed or send_success


def send_to_slack(report: RunReport, send: Callable[[str], None]) -> bool:
    """Send the report through `send` (the Slack hook); True when sent. Never raises."""
    try:
        send(report.text())
        return True
    except Exception as error:  # noqa: BLE001 - a report must never break a run
        log.warning("Slack report not sent: %s", type(error).__name__)
        return False
