"""The DagRun note: a short Markdown summary of the run, where Airflow users look (Runs list, run page).

Airflow 3.3 gives a task no way to write its own DagRun's note: tasks have no database access, and the
execution API has no note route (apache/airflow#64890 asks for one). So the commit task hands the note
over as an XCom (`write_note`), and a listener in the scheduler, the process that marks the run
finished, writes it to the DagRun in the same transaction (`listener.py`). No credentials involved.
The note is built from the report's fields only, with free text through `reporting.redact`, and fits
Airflow's limit of 1,000 characters.
"""

from __future__ import annotations

import logging
from typing import Any

from auth0_webhooks.reporting import RunReport, human_duration, redact

log = logging.getLogger(__name__)

NOTE_XCOM_KEY = "auth0_webhooks_note"
NOTE_LIMIT = 1000  # DagRunNote.content is String(1000)
TITLE = "**Auth0 logs to webhook**"  # every note of ours starts with it: a note of ours is replaced, a user's kept
_ICONS = {"failed": "❌", "succeeded": "✅", "dry run": "🧪"}


def note_markdown(report: RunReport, limit: int = NOTE_LIMIT) -> str:
    """The note: a status line, the figures as bullets, then the error and warnings, cut to fit `limit`."""
    pipeline = f" · pipeline `{_code(report.pipeline)}`" if report.pipeline else ""
    status = report.status.upper() if report.failed else report.status
    failed = f" · {report.logs_failed} failed" if report.logs_failed else ""
    head = [f"{TITLE} · {_ICONS.get(report.status, '')} {status} · {report.run_kind} run{pipeline}", "",
            f"- Logs: {report.logs_read} read · {report.logs_filtered_out} filtered out · "
            f"{report.logs_delivered} delivered{failed}",
            f"- Checkpoint: {_cp(report.checkpoint_before)} → {_cp(report.checkpoint_after)}"
            + ("" if report.caught_up else " (backlog: the next run continues)"),
            f"- Lag: {human_duration(report.lag_seconds)}"]
    if report.gaps:
        head.append(f"- Gaps: {len(report.gaps)}")
    if report.rate_limit_waits or report.auth0_429s:
        head.append(f"- Rate limit: {report.rate_limit_waits} waits ({report.rate_limit_wait_seconds:.1f} s), "
                    f"{report.auth0_429s} × 429")
    if report.webhook_latency_ms is not None:
        head.append(f"- Webhook latency: {report.webhook_latency_ms:.0f} ms")
    head.append(f"- {_short_time(report.start)} → {_short_time(report.end)}")
    text = "\n".join(head)
    tail = [f"**Error:** {_code_block(report.error)}"] if report.error else []
    tail += [f"- gap: {_inline(gap)}" for gap in report.gaps]
    tail += [f"- {_inline(warning)}" for warning in report.warnings]
    return _fit(text, tail, limit)


def _fit(text: str, tail: list[str], limit: int) -> str:
    """`text` and as much of `tail` as fits in `limit` (an item too long is cut; the rest counted)."""
    def more(count: int) -> str:
        return f"\n… {count} more (see the commit task's log)" if count else ""

    for position, item in enumerate(tail):
        separator = "\n\n" if position == 0 else "\n"
        room = limit - len(text) - len(separator) - len(more(len(tail) - position - 1))
        if room < 40:
            return (text + more(len(tail) - position))[:limit]
        if len(item) > room:
            item = item[:room - 2] + "…" + ("`" if item[:room - 2].count("`") % 2 else "")
        text += separator + item
    return text[:limit]


def combine_notes(existing: str | None, ours: str, limit: int = NOTE_LIMIT) -> str:
    """The note to store: ours, below a note a user wrote (a manual trigger's) when there is one; a note of
    ours from an earlier try is replaced. Ours is cut when both do not fit."""
    if not existing or existing.startswith(TITLE):
        return ours[:limit]
    room = limit - len(existing) - 7
    return existing[:limit] if room < 80 else f"{existing}\n\n---\n\n{ours[:room]}"


def write_note(context: Any, markdown: str) -> bool:
    """Hand the note to the scheduler (the listener writes it on the DagRun when the run ends): an XCom
    `auth0_webhooks_note` of the calling task. True when handed over. Never raises."""
    try:
        context["ti"].xcom_push(key=NOTE_XCOM_KEY, value=str(markdown)[:NOTE_LIMIT])
        return True
    except Exception as error:  # noqa: BLE001 - a note never fails a run
        log.warning("Run note not written: %s", type(error).__name__)
        return False


def _cp(checkpoint: str | None) -> str:
    return f"`{_code(checkpoint)}`" if checkpoint else "none"


def _code(text: Any) -> str:
    return redact(text).replace("`", "'").replace("\n", " ")


def _inline(text: Any) -> str:
    return _code(text).replace("*", "\\*").replace("_", "\\_").replace("[", "\\[")


def _code_block(text: Any) -> str:
    return f"`{_code(text)}`"


def _short_time(value: str) -> str:
    """`2026-12-02T11:04:50.123456+00:00` -> `2026-12-02 11:04:50 UTC`."""
    if not value:
        return "?"
    short = value.replace("T", " ")[:19]
    return f"{short} UTC" if value.endswith(("+00:00", "Z")) else short
