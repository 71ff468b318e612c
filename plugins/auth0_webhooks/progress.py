"""What a delivery slot has acknowledged, unit by unit: resumed by its retries, folded by the commit.

For every unit it touched, a slot keeps the acknowledged prefix of its deliveries:
`{"acked", "deliveries", "logs_acked", "checkpoint", "checkpoint_date", "error"}`. The record
is saved in the task state store (which survives retries and kills: a retry resumes after the
last acknowledged request) and pushed to XCom as `progress` for the commit step and the reader.

The record belongs to one read (`read_id`, made by read_logs): when a user clears a run and it
reads again, units get the same numbers but other logs, and an older read's record is dropped.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any, Callable, Mapping, Sequence

PROGRESS_KEY = "progress"
RESUME_KEY = "acknowledged"
SAVE_EVERY_SECONDS = 1.0


def unit_progress(deliveries: Sequence[Mapping], acked: int, error: str | None = None) -> dict:
    """A unit's progress record after `acked` of its `deliveries` were acknowledged."""
    last = deliveries[acked - 1] if acked else None
    return {
        "acked": acked,
        "deliveries": len(deliveries),
        "logs_acked": sum(len(d["logs"]) for d in deliveries[:acked]),
        "checkpoint": last["checkpoint"] if last else None,
        "checkpoint_date": last.get("checkpoint_date") if last else None,
        "error": error,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class SlotProgress:
    """The per-unit acknowledged prefixes of one slot; `state` is Airflow's task state store (or None)."""

    def __init__(self, state: Any, read_id: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.state, self.read_id, self.clock = state, read_id, clock
        self.units: dict[str, dict] = _saved_units(state, read_id)
        self.error: str | None = None
        self._saved_at = clock()

    def acked(self, index: int) -> int:
        entry = self.units.get(str(index))
        return int(entry["acked"]) if entry else 0

    def is_complete(self, index: int) -> bool:
        entry = self.units.get(str(index))
        return bool(entry) and entry["acked"] >= entry["deliveries"] and not entry.get("error")

    def begin(self, index: int, deliveries: Sequence[Mapping]) -> int:
        """Start (or resume) a unit; returns how many of its deliveries are already acknowledged."""
        acked = min(self.acked(index), len(deliveries))
        self.units[str(index)] = unit_progress(deliveries, acked)
        return acked

    def acknowledge(self, index: int, delivery: Mapping) -> None:
        """One more delivery of unit `index` acknowledged; saved at most every SAVE_EVERY_SECONDS."""
        entry = self.units[str(index)]
        entry["acked"] += 1
        entry["logs_acked"] += len(delivery["logs"])
        entry["checkpoint"], entry["checkpoint_date"] = delivery["checkpoint"], delivery.get("checkpoint_date")
        if self.clock() - self._saved_at >= SAVE_EVERY_SECONDS:
            self.save()

    def fail(self, index: int | None, error: str) -> None:
        """Record why the slot stopped (on the unit it was delivering, when there is one)."""
        self.error = error
        if index is not None and str(index) in self.units:
            self.units[str(index)]["error"] = error

    def save(self) -> None:
        """Record the acknowledged prefixes in the task state store (it survives retries and kills)."""
        if self.state is not None and self.units:
            self.state.set(RESUME_KEY, {"read": self.read_id, "units": self.units})
        self._saved_at = self.clock()

    def report(self, ti: Any, **extra: Any) -> dict:
        """Push the progress report to XCom (read by the commit step and the reader) and return it."""
        value = {"read": self.read_id, "units": self.units, "error": self.error, "peak_rss_mb": peak_rss_mb(),
                 **extra}
        ti.xcom_push(key=PROGRESS_KEY, value=value)
        return value


def _saved_units(state: Any, read_id: str | None) -> dict[str, dict]:
    if state is None:
        return {}
    saved = state.get(RESUME_KEY)
    if not isinstance(saved, dict) or saved.get("read") != read_id:
        return {}  # another read's units (the run was cleared and read again): nothing to resume
    units = saved.get("units")
    if not isinstance(units, dict):
        return {}
    return {str(key): dict(value, error=None) for key, value in units.items() if isinstance(value, dict)}
