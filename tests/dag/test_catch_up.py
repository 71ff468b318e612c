"""Acceptance: 5,000 logs of mixed types, repeated scheduled-style runs until caught up; every
expected log is delivered exactly once, in each delivery mode and under each kind of filter."""

from __future__ import annotations

import pytest

from auth0_webhooks.log_types import LogFilter

from .conftest import delivered_in_order

TOTAL = 5_000
MODES = {
    "batch": {},
    "one-per-request": {"send_as_batch": False},
    "log-types": {"log_types": ["s", "f", "fp", "fu", "sapi", "w"]},
    "log-level": {"log_level": 2},
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", list(MODES))
def test_repeated_runs_deliver_every_expected_log_exactly_once(emulator, receiver, configure, run_dag, variables, mode):
    settings = MODES[mode]
    logs = emulator.add_logs(TOTAL)
    configure(max_logs_per_run=2_000, **settings)
    keep = LogFilter(settings.get("log_types", ()), settings.get("log_level")).keeps
    expected = [entry["log_id"] for entry in logs if keep(entry)]

    runs = 0
    while True:
        runs += 1
        before = len(receiver.requests)
        assert run_dag().state == "success"
        if len(receiver.requests) == before or runs > 10:
            break

    delivered = delivered_in_order(receiver)
    assert len(delivered) == len(set(delivered)), "a log was delivered twice"
    assert delivered == expected
    assert variables() == logs[-1]["log_id"]
    print(f"{mode}: {len(expected)} of {TOTAL} logs delivered exactly once in {runs} runs, "
          f"{len(receiver.requests)} requests")
