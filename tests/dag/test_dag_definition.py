"""The DAG as the scheduler sees it, for various settings: parsed, never an import error."""

from __future__ import annotations

import pytest

from auth0_webhooks.names import DAG_ID

from .conftest import DAG_FILE


def cron(dag) -> str | None:
    """The cron expression of the DAG's schedule (cron, or a backlog's asset event)."""
    return getattr(getattr(dag.timetable, "timetable", dag.timetable), "expression", None)


def parse(configure, **settings):
    from airflow.dag_processing.dagbag import DagBag

    configure(**settings)
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def slots(deliver) -> int:
    """How many delivery slots a run maps: one per allowed concurrent call."""
    return len(deliver.expand_input.value["slot"])


def test_defaults(configure):
    dag = parse(configure)
    assert cron(dag) == "*/5 * * * *"
    assert dag.max_active_runs == 1 and not dag.catchup
    deliver = dag.get_task("deliver")
    assert slots(deliver) == 5
    assert deliver.retries == 3 and deliver.retry_exponential_backoff == 2.0  # the delay doubles
    assert dag.get_task("commit").trigger_rule == "all_done"
    read_more = dag.get_task("read_more")
    assert read_more.retries == 0  # a retried half-read would publish its units twice
    assert read_more.priority_weight > deliver.priority_weight  # queued before the slots that wait for it
    assert "Settings problem" not in dag.doc_md


def test_settings_shape_the_dag(configure):
    dag = parse(configure, schedule="@hourly", webhook_concurrent_calls=2, task_retries=0)
    assert cron(dag) == "0 * * * *"
    assert slots(dag.get_task("deliver")) == 2
    assert dag.get_task("deliver").retries == 0


def test_no_schedule_means_manual_runs_only(configure):
    assert type(parse(configure, schedule=None).timetable).__name__ == "NullTimetable"


@pytest.mark.parametrize("settings", [{"batch_size": 500}, {"schedule": "every minute"}, {"nonsense": 1}])
def test_bad_settings_still_parse_with_defaults_and_say_why(configure, settings):
    dag = parse(configure, **settings)
    assert cron(dag) == "*/5 * * * *"
    assert "Settings problem" in dag.doc_md and "is not valid" in dag.doc_md
