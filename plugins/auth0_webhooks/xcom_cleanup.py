"""Deleting an XCom from inside a task: delivered logs (personal data) must not linger in Airflow."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def delete_xcom(ti: Any, task_id: str, key: str, map_index: int = -1) -> bool:
    """Delete XCom `key` of `task_id` in this task's run; never raises (a cleanup must not fail a run)."""
    try:
        from airflow.sdk.bases.xcom import BaseXCom

        BaseXCom.delete(key=key, task_id=task_id, dag_id=ti.dag_id, run_id=ti.run_id, map_index=map_index)
        return True
    except Exception as error:  # noqa: BLE001
        log.warning("Could not remove XCom %s of %s: %s", key, task_id, type(error).__name__)
        return False
