"""The checkpoint: advance over the acknowledged prefix only, and write it with a compare-and-set.

Units are contiguous and in log-id order. The checkpoint moves over every unit the webhook
acknowledged in full, then over the acknowledged deliveries of the first unit that is not
complete, and stops there: never past a log the webhook has not acknowledged, whatever
later units did (their logs are sent again by the next run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence


class CheckpointConflict(Exception):
    """The checkpoint changed during the run (edited by hand, or another writer)."""


@dataclass(frozen=True)
class Acknowledged:
    """Where the acknowledged prefix ends, and what it holds."""

    checkpoint: str | None
    checkpoint_date: str | None
    logs_delivered: int
    logs_acknowledged_after_gap: int
    complete: bool
    first_incomplete_unit: int | None


def acknowledged_prefix(
    lead: tuple[str | None, str | None],
    units: Sequence[Mapping[str, Any]],
    progress: Sequence[Mapping[str, Any] | None],
) -> Acknowledged:
    """Fold unit summaries (read step) and progress reports (deliver step) into the new checkpoint.

    `units[i]`: {"deliveries", "logs", "checkpoint", "checkpoint_date"} of the whole unit;
    `progress[i]`: {"acked", "logs_acked", "checkpoint", "checkpoint_date"} or None (never reported).
    """
    checkpoint, date = lead
    delivered = 0
    for index, unit in enumerate(units):
        report = progress[index] if index < len(progress) else None
        acked = int(report.get("acked", 0)) if report else 0
        if acked >= int(unit["deliveries"]):
            checkpoint, date = unit["checkpoint"], unit.get("checkpoint_date")
            delivered += int(unit["logs"])
            continue
        if acked > 0 and report:
            checkpoint, date = report["checkpoint"], report.get("checkpoint_date")
            delivered += int(report.get("logs_acked", 0))
        beyond = sum(int(p.get("logs_acked", 0)) for p in progress[index + 1:] if p)
        return Acknowledged(checkpoint, date, delivered, beyond, False, index)
    return Acknowledged(checkpoint, date, delivered, 0, True, None)


class CheckpointStore:
    """The checkpoint Variable, read and written through injectable functions (Airflow's Variable)."""

    def __init__(self, key: str, get: Callable[[str], str | None], set_: Callable[[str, str], None]) -> None:
        self.key = key
        self._get = get
        self._set = set_

    def read(self) -> str | None:
        value = self._get(self.key)
        value = value.strip() if isinstance(value, str) else value
        return value or None

    def compare_and_set(self, expected: str | None, new: str) -> bool:
        """Write `new` if the stored value is still `expected`; raise CheckpointConflict otherwise.

        Returns False when there was nothing to change. The Variable API has no atomic
        compare-and-set: the window between the read and the write is a few milliseconds, and
        only one run of the pipeline is active at a time (max_active_runs=1).
        """
        current = self.read()
        if current != expected:
            raise CheckpointConflict(
                f"Variable {self.key!r} changed during this run, from {expected!r} to {current!r} "
                f"(edited by hand?). It was left as it is now; this run's acknowledged position "
                f"was {new!r}. Check the value and trigger the DAG again."
            )
        if current == new:
            return False
        self._set(self.key, new)
        return True
