"""Run reports: what a run did, as text for the task log and as a Slack message (the original extension's
fields and a little more). Sending one never fails a run: any error is logged and swallowed."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Callable

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """The summary of one run."""

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

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """Human-readable lines, the same for the task log and Slack."""
        status = "FAILED" if self.failed else ("dry run" if self.dry_run else "succeeded")
        unchanged = " (unchanged)" if self.checkpoint_after == self.checkpoint_before else ""
        lines = [f"Auth0 logs to webhook ({self.dag_id}) run {self.run_id}: {status}",
                 f"Start: {self.start}", f"End: {self.end}",
                 f"Logs processed: {self.logs_delivered} delivered, {self.logs_filtered_out} filtered out, "
                 f"{self.logs_read} read",
                 f"Next checkpoint: {self.checkpoint_after or 'none'}{unchanged}"]
        if not self.caught_up:
            lines.append("Backlog: more logs are waiting; the next run continues")
        lines.extend(f"Warning: {warning}" for warning in self.warnings)
        if self.error:
            lines.append(f"Error: {self.error}")
        return lines

    def text(self) -> str:
        return "\n".join(self.lines())


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
