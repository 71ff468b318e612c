"""What the steps of a run share with Airflow besides XCom records: Variables (read and written
through the Task SDK; unit tests patch these functions), the pause switch, XCom deletion, memory."""

from __future__ import annotations

import json
import logging
import resource
import sys
from datetime import datetime, timezone
from typing import Any

from auth0_webhooks.names import PAUSE_VARIABLE

log = logging.getLogger(__name__)


def variable_get(key: str) -> str | None:
    from airflow.sdk import Variable

    return Variable.get(key, default=None)


def variable_set(key: str, value: str) -> None:
    from airflow.sdk import Variable

    Variable.set(key, value)


class DeliveryPaused(Exception):
    """The receiver asked us to stop (410 Gone); an operator must resume delivery."""


def pause_delivery(reason: str, run_id: str) -> None:
    """Stop every delivery, in this run and the next ones, until an operator deletes the Variable."""
    variable_set(PAUSE_VARIABLE, json.dumps(
        {"since": datetime.now(timezone.utc).isoformat(timespec="seconds"), "run_id": run_id, "reason": reason}))


def delivery_paused() -> str | None:
    """Why delivery is paused, as a message for the user; None when it is not."""
    raw = variable_get(PAUSE_VARIABLE)
    if not raw:
        return None
    try:
        pause = json.loads(raw)
        detail = f" since {pause['since']} (run {pause['run_id']}): {pause['reason']}"
    except (ValueError, KeyError, TypeError):
        detail = f": {raw}"
    return (f"delivery is paused{detail}. Once the receiver accepts logs again, delete the Variable "
            f"{PAUSE_VARIABLE!r} (Admin > Variables) and the next run resumes from the checkpoint")


def raise_if_paused() -> None:
    """Raise DeliveryPaused, with how to resume, when delivery is paused."""
    if paused := delivery_paused():
        raise DeliveryPaused(paused)


def delete_xcom(ti: Any, task_id: str, key: str, map_index: int = -1) -> bool:
    """Delete XCom `key` of `task_id` in this run (logs are personal data). Never raises: cleanup never fails a run."""
    try:
        from airflow.sdk.bases.xcom import BaseXCom

        BaseXCom.delete(key=key, task_id=task_id, dag_id=ti.dag_id, run_id=ti.run_id, map_index=map_index)
        return True
    except Exception as error:  # noqa: BLE001
        log.warning("Could not remove XCom %s of %s: %s", key, task_id, type(error).__name__)
        return False


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def as_list(value: Any) -> list:
    """An XCom pulled for several map indexes (a list, or a lazy sequence), or one value, as a list."""
    return [] if value is None else [value] if isinstance(value, (dict, str)) else list(value)
