"""Pipelines: the default one, and one more per entry of the Variable `auth0_webhooks_pipelines`.

A pipeline is a tenant (an Auth0 connection), a destination (a webhook connection), an optional
Slack connection, settings, and the Variables that hold its checkpoint and bookkeeping. The
default pipeline keeps the historical names (`auth0_logs_to_webhook`, `auth0_webhooks_config`,
`auth0_webhooks_checkpoint`); entry `<name>` has the DAG `auth0_logs_to_webhook__<name>` and the
checkpoint Variable `auth0_webhooks_checkpoint__<name>`. A mistake in one entry shows on that
entry's DAG only (its docs, and its runs fail naming it); the other DAGs parse and run.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from auth0_webhooks.names import AUTH0_CONN_ID, CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID, PIPELINE_DAG_PREFIX, \
    PIPELINES_VARIABLE, SLACK_CONN_ID, STATE_VARIABLE, WEBHOOK_CONN_ID
from auth0_webhooks.settings import Settings, SettingsError, parse_settings

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_ENTRY_KEYS = ("name", "auth0_conn_id", "webhook_conn_id", "slack_conn_id", "settings")


@dataclass(frozen=True)
class Pipeline:
    """One pipeline's names. `name` None is the default pipeline; `problem` says what is wrong with
    its entry (its DAG still parses, shows the problem in its docs, and its runs fail naming it)."""

    name: str | None = None
    auth0_conn_id: str = AUTH0_CONN_ID
    webhook_conn_id: str = WEBHOOK_CONN_ID
    slack_conn_id: str | None = SLACK_CONN_ID  # None: no Slack reports
    raw_settings: Any = None  # an entry's `settings` (the default pipeline reads auth0_webhooks_config)
    problem: str | None = None
    dag_suffix: str | None = field(default=None, repr=False)  # for an entry whose name is unusable

    @property
    def dag_id(self) -> str:
        suffix = self.dag_suffix or self.name
        return f"{PIPELINE_DAG_PREFIX}{suffix}" if suffix else DAG_ID

    @property
    def checkpoint_variable(self) -> str:
        return f"{CHECKPOINT_VARIABLE}__{self.name}" if self.name else CHECKPOINT_VARIABLE

    @property
    def state_variable(self) -> str:
        return f"{STATE_VARIABLE}__{self.name}" if self.name else STATE_VARIABLE

    @property
    def settings_source(self) -> str:
        """Where its settings live, as a user finds them in the UI."""
        if self.name is None:
            return f"Variable {CONFIG_VARIABLE!r}"
        return f"Variable {PIPELINES_VARIABLE!r}, entry {self.name!r}, key 'settings'"

    def settings(self) -> Settings:
        """The validated settings (the default pipeline's from its Variable, read now); raises
        SettingsError naming the entry's problem or the wrong keys."""
        if self.problem:
            raise SettingsError([self.problem], source=f"Variable {PIPELINES_VARIABLE!r}")
        if self.name is None:
            from auth0_webhooks import runtime

            return parse_settings(runtime.variable_get(CONFIG_VARIABLE))
        try:
            return parse_settings(self.raw_settings if self.raw_settings is not None else {})
        except SettingsError as error:
            raise SettingsError(error.problems, source=self.settings_source) from None


def parse_pipelines(raw: str | list | None) -> list[Pipeline]:
    """The entries of `auth0_webhooks_pipelines` (not the default pipeline), each valid or carrying its
    problem. A broken Variable (not JSON, not a list) gives no entries: the problem is reported on the
    default DAG by `pipelines_problem`."""
    entries = _entries(raw)
    if isinstance(entries, str):
        return []
    pipelines: list[Pipeline] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        pipelines.append(_pipeline(position, entry, seen))
    return pipelines


def pipelines_problem(raw: str | list | None) -> str | None:
    """What is wrong with the Variable as a whole (not JSON, not a list), or None."""
    entries = _entries(raw)
    return entries if isinstance(entries, str) else None


def pipeline_for_dag(dag_id: str, raw_pipelines: str | list | None) -> Pipeline:
    """The pipeline a DAG id belongs to, as its entry reads now (run time)."""
    if dag_id == DAG_ID:
        return Pipeline()
    for pipeline in parse_pipelines(raw_pipelines):
        if pipeline.dag_id == dag_id:
            return pipeline
    name = dag_id.removeprefix(PIPELINE_DAG_PREFIX)
    return Pipeline(name=name, problem=f"no entry named {name!r} in Variable {PIPELINES_VARIABLE!r} any more "
                                       "(removed or renamed since the DAG was parsed)")


def current_pipeline(dag_id: str) -> Pipeline:
    """Inside a task: the pipeline of `dag_id`, reading `auth0_webhooks_pipelines` when it is not the default."""
    if dag_id == DAG_ID:
        return Pipeline()
    from auth0_webhooks import runtime

    return pipeline_for_dag(dag_id, runtime.variable_get(PIPELINES_VARIABLE))


def _entries(raw: str | list | None) -> list | str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            return (f"Variable {PIPELINES_VARIABLE!r} is not JSON ({error.msg} at line {error.lineno} column "
                    f"{error.colno}); expected a list such as [{{\"name\": \"eu\", \"auth0_conn_id\": \"auth0_eu\", "
                    "\"webhook_conn_id\": \"siem\", \"settings\": {}}]")
    if not isinstance(raw, list):
        return f"Variable {PIPELINES_VARIABLE!r} must be a JSON list of entries, not {type(raw).__name__}"
    return raw


def _pipeline(position: int, entry: Any, seen: set[str]) -> Pipeline:
    where = f"entry {position + 1} of Variable {PIPELINES_VARIABLE!r}"
    if not isinstance(entry, dict):
        return Pipeline(name=None, problem=f"{where} must be an object with {', '.join(_ENTRY_KEYS)}",
                        dag_suffix=f"entry_{position + 1}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name) or "__" in name:
        return Pipeline(name=f"entry_{position + 1}", dag_suffix=f"entry_{position + 1}", problem=(
            f"{where}: name={json.dumps(name)} is not allowed: expected an identifier of letters, digits and "
            "single underscores, not starting with a digit (it becomes the DAG id "
            f"{DAG_ID}__<name> and the Variable {CHECKPOINT_VARIABLE}__<name>)"))
    if name in seen:
        return Pipeline(name=f"{name}_entry_{position + 1}", dag_suffix=f"{name}_entry_{position + 1}", problem=(
            f"{where}: name {name!r} is used by an earlier entry; names must be unique"))
    seen.add(name)
    problems = [f"unknown key {key!r}; allowed keys: {', '.join(_ENTRY_KEYS)}" for key in entry if key not in _ENTRY_KEYS]
    conn_ids = {}
    for key, required in (("auth0_conn_id", True), ("webhook_conn_id", True), ("slack_conn_id", False)):
        value = entry.get(key)
        if value is None and not required:
            conn_ids[key] = None if key in entry else SLACK_CONN_ID  # left out: the shared Slack; null: none
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}={json.dumps(value)} is not allowed: expected a Connection id"
                            + ("" if required else f" (left out: {SLACK_CONN_ID!r}; null: no Slack)"))
            continue
        conn_ids[key] = value.strip()
    raw_settings = entry.get("settings", {})
    if not isinstance(raw_settings, dict):
        problems.append(f"settings={json.dumps(raw_settings)} is not allowed: expected an object with the keys "
                        f"of Variable {CONFIG_VARIABLE!r}")
        raw_settings = {}
    problem = f"{where} ({name!r}): " + "; ".join(problems) if problems else None
    return Pipeline(name=name, raw_settings=raw_settings, problem=problem, **conn_ids)


def parse_time_pipelines() -> list[tuple[Pipeline, Settings, str | None]]:
    """What the DAG file builds: each pipeline with its settings, or the defaults and why (a problem
    shows on that pipeline's DAG only). The default pipeline comes first and always."""
    from auth0_webhooks.settings import parse_time_settings

    settings, problem = parse_time_settings()
    try:
        from airflow.sdk import Variable

        raw = Variable.get(PIPELINES_VARIABLE, default=None)
        whole = pipelines_problem(raw)
    except Exception as error:  # noqa: BLE001 - no metadata access at parse time: the default pipeline only
        raw, whole = None, f"could not read Variable {PIPELINES_VARIABLE!r}: {type(error).__name__}"
    if whole:  # shown on the default DAG
        problem = f"{problem}; {whole}" if problem else whole
    built = [(Pipeline(), settings, problem)]
    for pipeline in parse_pipelines(raw):
        try:
            built.append((pipeline, pipeline.settings(), None))
        except SettingsError as error:
            built.append((pipeline, Settings(), str(error)))
    return built
