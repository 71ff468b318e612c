"""Issue 12 item 3 under dag.test(): a webhook that refuses the requests carrying one log, for one run
only, costs no duplicate. The failed run records what was acknowledged past its gap; the next run
sends only what was not acknowledged, and the checkpoint ends on the last log."""

from __future__ import annotations

import json

import pytest

from auth0_webhooks.names import STATE_VARIABLE

pytestmark = pytest.mark.timeout(600)


def refuse_requests_carrying(receiver, monkeypatch, refused: dict) -> None:  # noqa: ANN001
    """The receiver answers 400 to every request carrying the log `refused["log_id"]` (None: to none)."""
    answer = receiver._answer

    def refusing(request, record):  # noqa: ANN001, ANN202
        if refused.get("log_id") in record.log_ids:
            return receiver._status_reply(400, record, receiver.behaviour)
        return answer(request, record)

    monkeypatch.setattr(receiver, "_answer", refusing)


def test_a_refused_request_then_a_good_run_delivers_every_log_exactly_once(
        emulator, receiver, configure, run_dag, variables, monkeypatch):
    logs = emulator.add_logs(2_000)
    configure(batch_size=50, webhook_concurrent_calls=3, batches_per_task=2, task_retries=0)
    refused_id = logs[1_020]["log_id"]  # a unit in the middle
    refused = {"log_id": refused_id}
    refuse_requests_carrying(receiver, monkeypatch, refused)

    assert run_dag().state == "failed"
    first = receiver.delivered_log_ids()
    checkpoint = variables()
    assert checkpoint is not None and checkpoint < refused_id  # never past the refused log
    past_gap = [log_id for log_id in first if log_id > checkpoint]
    assert past_gap, "the other slots went on past the refused request"
    state = json.loads(variables(STATE_VARIABLE))
    assert state["acknowledged_for"] == checkpoint and state["acknowledged_spans"]

    refused["log_id"] = None  # the second run: every request is acknowledged
    assert run_dag().state == "success"

    delivered = receiver.delivered_log_ids()
    duplicates = len(delivered) - len(set(delivered))
    assert duplicates == 0, f"{duplicates} logs acknowledged in the first run were sent again"
    assert sorted(delivered) == [entry["log_id"] for entry in logs]
    assert variables() == logs[-1]["log_id"]
    assert "acknowledged_spans" not in json.loads(variables(STATE_VARIABLE))
    print(f"\n[no duplicates] {len(logs)} logs; run 1 failed at {refused_id} with {len(past_gap)} acknowledged past "
          f"its gap; run 2 sent {len(delivered) - len(first)}; duplicates {duplicates}")
