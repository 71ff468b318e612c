"""The benchmark harness still works: every benchmark, once, at a tiny size, under a real
`airflow standalone`. Targets are not checked here, only that each benchmark measured something
and that the table was printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.benchmarks, pytest.mark.e2e, pytest.mark.timeout(720)]

# The first words of each benchmark's rows in the table, by benchmark name.
ROW_PREFIXES = {
    "inprocess": "in-process", "enterprise": "enterprise", "essentials": "essentials", "unlimited": "unlimited",
    "memory": "memory", "idle": "idle run", "freshness": "freshness (every minute)",
    "catch_up": "catch-up", "duplicates_refused": "duplicates: refused",
}
# Benchmarks whose scenario a test runs under a real scheduler already, with its own assertions: left out
# here to keep CI under 30 minutes (each costs one to three minutes even at a tiny size).
PROVEN_ELSEWHERE = {
    "backfill": "tests/e2e/test_backfill.py",
    "duplicates_sigkill": "tests/e2e/test_crash_safety.py",
    "event_driven": "tests/e2e/test_event_driven.py",
}


def test_every_benchmark_runs_in_tiny_mode(tmp_path: Path) -> None:
    results_file = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--tiny", "--json", str(results_file),
                           "--only", ",".join(ROW_PREFIXES)],
                          cwd=REPO, capture_output=True, text=True, timeout=690)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    assert "| benchmark | target | measured (median of 1) | ratio to target | pass/fail |" in done.stdout
    assert "- machine: " in done.stdout and "CPUs (" in done.stdout

    report = json.loads(results_file.read_text())
    assert set(ROW_PREFIXES) | set(PROVEN_ELSEWHERE) == set(SCENARIOS)
    assert set(ROW_PREFIXES) == set(report["benchmarks"])
    assert all((REPO / test).is_file() for test in PROVEN_ELSEWHERE.values())
    for name, prefix in ROW_PREFIXES.items():
        rows = [row for row in report["results"] if row["benchmark"].startswith(prefix)]
        assert rows, f"no result for {name}"
        for row in rows:
            assert row["verdict"] != "error", row
            assert row["measured"] is not None or row["text"], row
            assert f"| {row['benchmark']}: {row['metric']} |" in done.stdout
