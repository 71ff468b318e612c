"""Fakes of what Airflow gives a task, shared by the unit tests: XCom and task states of one run
(`XComs`, `FakeTI`), the task state store, the Variables, and running an operator as a worker
would (`execute`). Values go through JSON, as Airflow stores them."""

from __future__ import annotations

import json
import threading
from typing import Any

from airflow.sdk.bases.xcom import BaseXCom

from auth0_webhooks import runtime
from auth0_webhooks.names import DAG_ID, DELIVER_TASK_ID, MORE_TASK_ID, READ_TASK_ID
from auth0_webhooks.planning import Planner
from auth0_webhooks.protocol import Plan, Unit

NOTSET = object()


def through_json(value: object) -> object:
    """What a value looks like once stored and read back (XCom, task state store)."""
    return json.loads(json.dumps(value))


class XComs:
    """One run's XComs, keyed (task_id, map_index, key), its task states, and what was deleted."""

    def __init__(self, run_id: str = "manual__1") -> None:
        self.run_id = run_id
        self.values: dict[tuple[str, int, str], object] = {}
        self.states: dict[tuple[str, int], str] = {}
        self.deleted: list[tuple[str, int | None, str]] = []
        self.lock = threading.RLock()  # some tests run tasks in threads

    def ti(self, task_id: str = DELIVER_TASK_ID, map_index: int = -1) -> "FakeTI":
        return FakeTI(task_id, map_index, self)

    def put(self, task_id: str, key: str, value: object, map_index: int = -1) -> None:
        with self.lock:
            self.values[(task_id, map_index, key)] = through_json(value)

    def get(self, task_id: str, key: str, map_index: int = -1) -> object:
        with self.lock:
            return self.values.get((task_id, map_index, key))

    def items(self) -> list[tuple[tuple[str, int, str], object]]:
        with self.lock:
            return sorted(self.values.items())

    def delete(self, *, key: str, task_id: str, dag_id: str, run_id: str, map_index: int | None = None) -> None:
        assert (dag_id, run_id) == (DAG_ID, self.run_id)
        with self.lock:
            self.deleted.append((task_id, map_index, key))
            self.values.pop((task_id, -1 if map_index is None else map_index, key), None)

    def unit_keys(self) -> list[tuple[str, int, str]]:
        return [k for k, _ in self.items() if k[2].startswith("unit-")]

    def units(self) -> dict[int, Unit]:
        """Every unit the readers published and that is still in XCom, by index."""
        return {int(key[len("unit-"):]): Unit.from_xcom(value) for (task, _, key), value in self.items()
                if task in (READ_TASK_ID, MORE_TASK_ID) and key.startswith("unit-")}


class FakeTI:
    """A task instance of one run: pushes under its own task id and map index, pulls any."""

    dag_id = DAG_ID

    def __init__(self, task_id: str = DELIVER_TASK_ID, map_index: int = -1, xcoms: XComs | None = None) -> None:
        self.task_id, self.map_index = task_id, map_index
        self.xcoms = xcoms if xcoms is not None else XComs()

    @property
    def run_id(self) -> str:
        return self.xcoms.run_id

    @property
    def pushed(self) -> dict[str, object]:
        return {key: value for (task, index, key), value in self.xcoms.items()
                if (task, index) == (self.task_id, self.map_index)}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcoms.put(self.task_id, key, value, self.map_index)

    def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes=NOTSET):  # noqa: ANN001
        assert isinstance(task_ids, str)
        if isinstance(map_indexes, (list, tuple, range)):
            return [self.xcoms.get(task_ids, key, index) for index in map_indexes]
        if map_indexes is NOTSET:  # Airflow: every map index of the task; one value for an unmapped task
            found = [v for (task, _, k), v in self.xcoms.items() if (task, k) == (task_ids, key)]
            return None if not found else found[0] if len(found) == 1 else found
        return self.xcoms.get(task_ids, key, -1 if map_indexes is None else map_indexes)

    def get_task_states(self, dag_id: str, task_ids=None, run_ids=None, map_index=None, **_):  # noqa: ANN001
        """As Airflow's execution API answers (routes/task_instances.py, get_task_instance_states):
        {run_id: {task_id or f"{task_id}_{map_index}": state}}, filtered by task ids and map index."""
        assert dag_id == self.dag_id and run_ids == [self.run_id]
        with self.xcoms.lock:
            states = {(f"{task}_{index}" if index >= 0 else task): state
                      for (task, index), state in self.xcoms.states.items()
                      if (not task_ids or task in task_ids) and (map_index is None or index == map_index)}
        return {self.run_id: states} if states else {}


class FakeStateStore:
    """Airflow's task state store: values survive retries (stored as JSON)."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def get(self, key: str, default=None):  # noqa: ANN001
        return through_json(self.values[key]) if key in self.values else default

    def set(self, key: str, value: object) -> None:
        self.values[key] = through_json(value)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def fake_variables(monkeypatch) -> dict[str, str]:  # noqa: ANN001
    """Airflow Variables as a dict: runtime.variable_get / variable_set read and write it."""
    store: dict[str, str] = {}
    monkeypatch.setattr(runtime, "variable_get", lambda key: store.get(key))
    monkeypatch.setattr(runtime, "variable_set", lambda key, value: store.__setitem__(key, value))
    return store


def fake_xcoms(monkeypatch) -> XComs:  # noqa: ANN001
    """One run's XComs; BaseXCom.delete (a slot deleting an acknowledged unit) deletes from them."""
    store = XComs()
    monkeypatch.setattr(BaseXCom, "delete", store.delete)
    return store


def execute(operator: Any, ti: FakeTI, state: FakeStateStore | None = None) -> tuple[Any, dict]:
    """Run `operator` as a worker would for task instance `ti`: (its return value, the context)."""
    context = {"ti": ti, "task_state_store": state}
    return operator.execute(context), context


def ids(logs: list[dict]) -> list[str]:
    return [entry["log_id"] for entry in logs]


def plan_deliveries(logs, keep, batch_size: int, send_as_batch: bool) -> Plan:  # noqa: ANN001
    """A Plan for logs already in hand (a Planner fed them all at once)."""
    planner = Planner(keep, batch_size, send_as_batch)
    planner.add(logs)
    return planner.plan
