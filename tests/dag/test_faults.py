"""Fault injection: auth0_logs_to_webhook under a flaky webhook, a flaky tenant, retention and
permanent refusals, each driven by repeated runs (as the scheduler would) until caught up,
then checked log by log.

What every scenario checks, whatever failed on the way:
- every expected log was acknowledged by the webhook at least once (nothing missing);
- the webhook never received a log outside the expected set (not even in a refused request);
- after every run, the checkpoint never passed a log the webhook had not acknowledged, and
  it never went backwards; at the end it is the tenant's last log id;
- duplicates happen only as re-sends: a log acknowledged beyond the checkpoint a run could
  commit (a unit acknowledged after the gap of a failed run) is recorded and skipped by the
  next run (issue 12 item 3); only what the record could not keep is sent again. Their count
  is bounded by those logs, measured at the receiver run by run and announced by the report,
  and no log is acknowledged twice within one run (a task retry resumes after its
  acknowledged prefix).

Run with `-s` to see one line of figures per scenario.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pytest

from auth0_webhooks.log_types import LogFilter

from .conftest import AUTHORIZATION

pytestmark = pytest.mark.timeout(900)

MAX_RUNS = 15
FAST_RETRIES = {"task_retries": 1, "task_retry_delay_seconds": 1}
RESEND_RE = re.compile(r"; (\d+) logs acknowledged after it will be sent again")
RECORDED_RE = re.compile(r"; (\d+) logs acknowledged after it are recorded and will not be sent again")


# --------------------------------------------------------------------------- helpers


def webhook_connection(monkeypatch: pytest.MonkeyPatch, receiver: Any, **extra: Any) -> None:
    """The receiver fixture's connection (same URL and Authorization), with our own extras."""
    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": f"{receiver.base_url}/hooks/auth0?tenant=test", "password": AUTHORIZATION,
         "extra": extra}))


def settle(receiver: Any, limit: float = 10.0) -> None:
    """Wait for hanging answers to finish, so that every record has its final status."""
    deadline = time.monotonic() + limit
    while receiver.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class Run:
    number: int
    state: str
    checkpoint: str | None
    acknowledged: list[str]  # log ids the webhook acknowledged during this run, arrival order
    reported_resends: int  # what the run report announced would be sent again
    task_retries: int  # extra tries Airflow gave this run's tasks (a delivery retry resumes after its prefix)
    reported_recorded: int = 0  # what the run report announced was recorded, not to be sent again

    @property
    def within_run_duplicates(self) -> int:
        return len(self.acknowledged) - len(set(self.acknowledged))

    @property
    def beyond_checkpoint(self) -> set[str]:
        """Acknowledged in this run but past the checkpoint it committed: the next run re-sends them."""
        return {log_id for log_id in self.acknowledged if self.checkpoint is None or log_id > self.checkpoint}


@dataclass
class Campaign:
    """Repeated runs until caught up, and what they did."""

    name: str
    expected: list[str]
    last_log_id: str
    runs: list[Run] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed_runs(self) -> int:
        return sum(1 for run in self.runs if run.state != "success")

    @property
    def resend_bound(self) -> int:
        return sum(len(run.beyond_checkpoint) - run.reported_recorded for run in self.runs)


def assert_checkpoint_safe(checkpoint: str | None, expected: Iterable[str], acknowledged: set[str]) -> None:
    """No expected log at or before the checkpoint is unacknowledged."""
    if checkpoint is None:
        return
    skipped = [log_id for log_id in expected if log_id <= checkpoint and log_id not in acknowledged]
    assert not skipped, f"checkpoint {checkpoint} passed {len(skipped)} unacknowledged logs, first {skipped[0]}"


def run_until_caught_up(
    name: str,
    run_dag: Callable[..., Any],
    variables: Callable[..., Any],
    receiver: Any,
    caplog: pytest.LogCaptureFixture,
    *,
    expected: list[str],
    last_log_id: str,
    before_run: Callable[[int], None] | None = None,
    max_runs: int = MAX_RUNS,
) -> Campaign:
    """Run the DAG until a run succeeds with the checkpoint at the last log (at most max_runs)."""
    campaign = Campaign(name, expected, last_log_id)
    started = time.monotonic()
    previous = variables()
    for number in range(1, max_runs + 1):
        if before_run:
            before_run(number)
        first_request = len(receiver.requests)
        first_record = len(caplog.records)
        dag_run = run_dag()
        settle(receiver)
        checkpoint = variables()
        records = receiver.requests[first_request:]
        acknowledged = [log_id for record in records if record.delivered for log_id in record.log_ids]
        report_errors = [record.getMessage() for record in caplog.records[first_record:]
                         if record.name == "auth0_webhooks.commit" and record.getMessage().startswith("Error: ")]
        resends = sum(int(n) for line in report_errors for n in RESEND_RE.findall(line))
        retries = sum(max(ti.try_number - 1, 0) for ti in dag_run.get_task_instances())
        recorded = sum(int(n) for line in report_errors for n in RECORDED_RE.findall(line))
        run = Run(number, dag_run.state, checkpoint, acknowledged, resends, retries, recorded)
        campaign.runs.append(run)
        assert_checkpoint_safe(checkpoint, expected, set(receiver.delivered_log_ids()))
        assert previous is None or (checkpoint is not None and checkpoint >= previous), (
            f"run {number}: the checkpoint went backwards from {previous} to {checkpoint}")
        previous = checkpoint
        if dag_run.state == "success" and checkpoint == last_log_id:
            break
    campaign.seconds = time.monotonic() - started
    return campaign


def check_outcome(campaign: Campaign, receiver: Any, variables: Callable[..., Any]) -> dict[str, Any]:
    """The checks every scenario shares (see the module docstring); returns the figures."""
    settle(receiver)
    expected = set(campaign.expected)
    delivered = receiver.delivered_log_ids()
    missing = [log_id for log_id in campaign.expected if log_id not in set(delivered)]
    received_anywhere = set(receiver.log_ids())  # failed, refused and timed-out requests included
    unexpected = sorted(received_anywhere - expected)
    duplicates = len(delivered) - len(set(delivered))
    last_run = campaign.runs[-1]

    assert last_run.state == "success" and variables() == campaign.last_log_id, (
        f"{campaign.name}: not caught up after {len(campaign.runs)} runs "
        f"(last run {last_run.state}, checkpoint {variables()})")
    assert not missing, f"{campaign.name}: {len(missing)} logs never acknowledged, first {missing[0]}"
    assert not unexpected, f"{campaign.name}: {len(unexpected)} logs outside the expected set, first {unexpected[0]}"
    within = sum(run.within_run_duplicates for run in campaign.runs)
    assert within == 0, f"{campaign.name}: {within} logs acknowledged twice within one run"
    assert duplicates <= campaign.resend_bound, (
        f"{campaign.name}: {duplicates} duplicates, more than the {campaign.resend_bound} logs acknowledged "
        "beyond a committed checkpoint")
    assert duplicates < len(campaign.expected)
    # The run report announced exactly the re-sends measured at the receiver.
    assert [run.reported_resends + run.reported_recorded for run in campaign.runs] == [
        len(run.beyond_checkpoint) for run in campaign.runs]
    return {"expected": len(expected), "duplicates": duplicates, "bound": campaign.resend_bound,
            "runs": len(campaign.runs), "failed_runs": campaign.failed_runs,
            "task_retries": sum(run.task_retries for run in campaign.runs)}


def receiver_faults(receiver: Any) -> str:
    stats = receiver.stats()
    by_status = Counter(stats["by_status"])
    parts = [f"{status}x{count}" for status, count in sorted(by_status.items()) if status not in ("200", "0")]
    if stats["client_gone"]:
        parts.append(f"timeouts(hang)x{stats['client_gone']}")
    if stats["dropped"]:
        parts.append(f"dropx{stats['dropped']}")
    return f"webhook {stats['requests']} requests: " + (", ".join(parts) or "no faults")


def emulator_faults(emulator: Any) -> str:
    stats = emulator.stats()
    parts = []
    for endpoint, counts in sorted(stats["faults"].items()):
        if counts:
            parts.append(endpoint + " " + ", ".join(f"{k}x{v}" for k, v in sorted(counts.items())))
    requests = stats["requests"]
    return (f"auth0 {requests['logs']} logs + {requests['token']} token requests: "
            + ("; ".join(parts) or "no faults"))


def report(campaign: Campaign, figures: dict[str, Any], faults: str, note: str = "") -> None:
    print(f"\n[faults] {campaign.name}: {figures['expected']} logs expected | {faults} | "
          f"duplicates {figures['duplicates']} (bound {figures['bound']}: acknowledged beyond a committed "
          f"checkpoint) | runs {figures['runs']} ({figures['failed_runs']} failed, "
          f"{figures['task_retries']} task retries) | {campaign.seconds:.1f} s"
          + (f" | {note}" if note else ""), flush=True)


def retry_after_honoured(receiver: Any, status: str = "429") -> list[float]:
    """For each `status` answer, the seconds until the same message (webhook-id) came again."""
    records = receiver.requests
    gaps = []
    for index, record in enumerate(records):
        if str(record.status) != status:
            continue
        message = record.headers.get("webhook-id")
        again = next((r for r in records[index + 1:] if r.headers.get("webhook-id") == message), None)
        if again is not None:
            gaps.append(again.received_at - record.answered_at)
    return gaps


# --------------------------------------------------------------------------- scenarios

FLAKY_WEBHOOK = {"fail_rate": 0.3, "fail_status": 500, "hang_rate": 0.08, "hang_seconds": 2.5, "retry_after": 1}
# Scripted first (then the random faults): 429/503 with Retry-After, two hangs past the 1 s client timeout.
FLAKY_SCRIPT = ["429", "ok", "hang:2.5", "ok", "429", "ok", "503", "ok", "hang:2.5", "ok", "429", "429", "ok"]


def test_flaky_webhook(emulator, receiver, configure, run_dag, variables, monkeypatch, caplog):
    """30 % 5xx, hangs past the client timeout, 429/503 with Retry-After: everything arrives."""
    logs = emulator.add_logs(1200)
    configure(batch_size=25, max_logs_per_run=500, webhook_concurrent_calls=3, batches_per_task=4, **FAST_RETRIES)
    webhook_connection(monkeypatch, receiver, timeout=1, max_attempts=2)
    receiver.set_behaviour(script=FLAKY_SCRIPT, **FLAKY_WEBHOOK)
    expected = [entry["log_id"] for entry in logs]

    campaign = run_until_caught_up("1 flaky webhook", run_dag, variables, receiver, caplog,
                                   expected=expected, last_log_id=logs[-1]["log_id"])

    figures = check_outcome(campaign, receiver, variables)
    stats = receiver.stats()
    assert stats["by_status"].get("500", 0) > 0 and stats["client_gone"] >= 2 and stats["by_status"]["429"] >= 4
    gaps = retry_after_honoured(receiver, "429") + retry_after_honoured(receiver, "503")
    assert gaps and min(gaps) >= 0.95, f"Retry-After: 1 not honoured: {sorted(gaps)[:3]}"
    report(campaign, figures, receiver_faults(receiver), f"Retry-After waits >= {min(gaps):.2f} s")


def test_flaky_tenant(emulator, receiver, configure, run_dag, variables, caplog):
    """5xx, 429 and dropped connections on the logs endpoint, and on the token endpoint."""
    logs = emulator.add_logs(1500)
    configure(batch_size=50, max_logs_per_run=600, **FAST_RETRIES)
    emulator.set_faults("logs", error_500=0.15, error_429=0.1, drop=0.1)
    emulator.set_faults("token", error_500=0.2, error_429=0.1, drop=0.1)
    emulator.script("token", ["500", "drop", "429"])  # the first token request meets each fault once
    expected = [entry["log_id"] for entry in logs]

    def before_run(number: int) -> None:
        emulator.revoke_tokens()  # every run needs a fresh token, through the faulty token endpoint

    campaign = run_until_caught_up("2 flaky tenant", run_dag, variables, receiver, caplog,
                                   expected=expected, last_log_id=logs[-1]["log_id"], before_run=before_run)

    figures = check_outcome(campaign, receiver, variables)
    faults = emulator.stats()["faults"]
    assert {"500", "429", "drop"} <= set(faults.get("logs", {})), faults
    assert {"500", "429", "drop"} <= set(faults.get("token", {})), faults
    # The webhook never failed, so nothing had a reason to be sent twice.
    assert figures["duplicates"] == 0
    report(campaign, figures, emulator_faults(emulator))


def test_expired_checkpoint_continues_from_the_oldest_retained_log(emulator, receiver, configure, run_dag,
                                                                    variables, caplog):
    """A checkpoint that falls out of retention: the next run starts at the oldest retained log
    and its report names the gap, with dates."""
    logs = emulator.add_logs(1000)
    ids = [entry["log_id"] for entry in logs]
    configure(batch_size=50, max_logs_per_run=400, **FAST_RETRIES)
    expected = list(ids)  # the logs that expire are removed from it before the second run
    gap: dict[str, Any] = {}

    def before_run(number: int) -> None:
        if number == 2:  # the checkpoint and the 50 logs after it fall out of retention
            checkpoint = variables()
            gap["checkpoint"] = logs[ids.index(checkpoint)]
            gap["oldest"] = logs[ids.index(checkpoint) + 51]
            gap["lost"] = ids[ids.index(checkpoint) + 1:ids.index(checkpoint) + 51]
            assert emulator.expire(ids.index(checkpoint) + 51) == ids.index(checkpoint) + 51
            expected[:] = [log_id for log_id in expected if log_id not in set(gap["lost"])]

    campaign = run_until_caught_up("3 expired checkpoint", run_dag, variables, receiver, caplog,
                                   expected=expected, last_log_id=ids[-1], before_run=before_run)

    figures = check_outcome(campaign, receiver, variables)
    assert len(gap["lost"]) == 50 and not set(gap["lost"]) & set(receiver.log_ids())
    assert campaign.runs[1].state == "success"  # a gap is reported, it does not fail the run
    assert min(campaign.runs[1].acknowledged) == gap["oldest"]["log_id"]  # the oldest retained log itself
    warnings = [line for line in caplog.text.splitlines()
                if "Gap: checkpoint" in line and "older than the tenant's log retention" in line]
    assert warnings, "the run report does not name the gap"
    line = warnings[0]
    for entry in (gap["checkpoint"], gap["oldest"]):  # from the expired checkpoint to the oldest log, dated
        assert entry["log_id"] in line and entry["date"] in line, line
    assert figures["duplicates"] == 0
    report(campaign, figures, f"{len(gap['lost'])} logs expired just past the checkpoint "
                              f"({emulator_faults(emulator)})")


def test_permanent_refusal_then_recovery(emulator, receiver, configure, run_dag, variables, monkeypatch, caplog):
    """400 and 410 answers fail the run without losing anything; a 410 pauses delivery until an
    operator deletes the pause Variable; once the webhook accepts again, everything arrives and
    only logs acknowledged after the gap are sent twice."""
    from airflow.models.variable import Variable

    from auth0_webhooks.names import PAUSE_VARIABLE

    logs = emulator.add_logs(800)
    configure(batch_size=40, webhook_concurrent_calls=3, batches_per_task=2, **FAST_RETRIES)
    webhook_connection(monkeypatch, receiver, timeout=2, max_attempts=2)
    expected = [entry["log_id"] for entry in logs]

    def before_run(number: int) -> None:
        if number == 1:  # one slot refused (a gap), the others go on, then a 410 for another
            receiver.set_behaviour(script=["ok"] * 3 + ["400"] + ["ok"] * 3 + ["410"])
        elif number == 2:  # the 410 of run 1 paused delivery: this run sends nothing at all
            assert variables(PAUSE_VARIABLE), "a 410 Gone must pause delivery"
            receiver.set_behaviour(status=400, script=[])
        else:  # the operator fixed the receiver and resumed delivery
            Variable.delete(PAUSE_VARIABLE)
            receiver.set_behaviour(status=200)

    campaign = run_until_caught_up("4 permanent refusal", run_dag, variables, receiver, caplog,
                                   expected=expected, last_log_id=logs[-1]["log_id"], before_run=before_run)

    first, second = campaign.runs[0], campaign.runs[1]
    assert first.state == "failed" and second.state == "failed"
    assert first.checkpoint is None or first.checkpoint < logs[-1]["log_id"]  # None: unit 0 was refused first
    assert second.checkpoint == first.checkpoint and second.acknowledged == []
    assert len(campaign.runs) == 3
    # The report names the first unit left incomplete and the refusal it met (400 or 410: units run in any order).
    assert re.search(r"Error: unit \S+ \(\d+ logs\) was not fully delivered: .*HTTP 4(00|10)", caplog.text)
    figures = check_outcome(campaign, receiver, variables)
    # Every log acknowledged beyond the first run's checkpoint was recorded, and not sent again.
    assert figures["duplicates"] == figures["bound"] == 0 < len(first.beyond_checkpoint)
    report(campaign, figures, receiver_faults(receiver))


def test_filter_under_a_flaky_webhook(emulator, receiver, configure, run_dag, variables, monkeypatch, caplog):
    """LOG_TYPES and LOG_LEVEL during scenario 1's faults: nothing the filter excludes is ever sent."""
    logs = emulator.add_logs(1499) + emulator.add_logs(1, types=["slo"])  # the newest log is filtered out
    settings = {"log_types": ["s", "sapi"], "log_level": 3}
    configure(batch_size=20, max_logs_per_run=600, webhook_concurrent_calls=3, batches_per_task=3,
              **settings, **FAST_RETRIES)
    webhook_connection(monkeypatch, receiver, timeout=1, max_attempts=2)
    receiver.set_behaviour(script=FLAKY_SCRIPT, **FLAKY_WEBHOOK)
    keep = LogFilter(settings["log_types"], settings["log_level"]).keeps
    expected = [entry["log_id"] for entry in logs if keep(entry)]
    assert 0 < len(expected) < len(logs)
    assert not keep(logs[-1])  # the checkpoint must also pass the logs the filter drops

    campaign = run_until_caught_up("5 filter under faults", run_dag, variables, receiver, caplog,
                                   expected=expected, last_log_id=logs[-1]["log_id"])

    figures = check_outcome(campaign, receiver, variables)  # includes: no excluded log in any request
    excluded = {entry["log_id"] for entry in logs if not keep(entry)}
    assert not excluded & set(receiver.log_ids())
    stats = receiver.stats()
    assert stats["by_status"].get("500", 0) > 0 and stats["by_status"].get("429", 0) > 0
    report(campaign, figures, receiver_faults(receiver),
           f"filter {settings}: {len(excluded)} of {len(logs)} logs excluded, none sent")


def test_410_gone_pauses_delivery(emulator, receiver, configure, run_dag, variables, monkeypatch):
    logs = emulator.add_logs(200)
    configure(batch_size=20, webhook_concurrent_calls=2, batches_per_task=2, **FAST_RETRIES)
    webhook_connection(monkeypatch, receiver, timeout=2, max_attempts=2)
    receiver.set_behaviour(script=["ok", "410"])

    run = run_dag()

    assert run.state == "failed"
    assert_checkpoint_safe(variables(), [entry["log_id"] for entry in logs], set(receiver.delivered_log_ids()))
    requests = receiver.requests
    gone = next(index for index, record in enumerate(requests) if record.status == 410)
    # dag.test runs the mapped tasks one after another: nothing else was in flight at the 410.
    after = requests[gone + 1:]
    assert after == [], f"{len(after)} requests were sent after the receiver answered 410 Gone"
