"""auth0-webhooks-settings on the tests' real metadata database (SQLite): Airflow's own models, applied
twice (the second run changes nothing), a dry run, the checkpoint refused, and the installed console
script in a subprocess. Names are this module's own and are removed before and after each test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from auth0_webhooks import settings_command as command
from auth0_webhooks.names import CHECKPOINT_VARIABLE

from ..unit.test_settings_command import API_KEY_VALUE, HEADER_TOKEN, PASSWORD, SETTINGS as UNIT_SETTINGS, \
    SIGNING_SECRET, URI_PASSWORD

# The unit tests' file, with this module's own names, and a checkpoint Variable (which is refused)
PREFIX = "settings_test_"
CHECKPOINT = CHECKPOINT_VARIABLE + "__settings_test"
SETTINGS = re.sub(r"(conn_id|variable_name|pool_name): ", rf"\1: {PREFIX}", UNIT_SETTINGS).replace(
    "  pools:\n", f"    - {{variable_name: {CHECKPOINT}, variable_value: '123'}}\n  pools:\n")
CONNECTIONS = tuple(PREFIX + name for name in ("tenant", "hook", "plain"))
VARIABLES = (PREFIX + "auth0_webhooks_config", PREFIX + "partner_api_key", CHECKPOINT)
POOLS = (PREFIX + "auth0",)
FIRST = [*(f"connection {name}: created" for name in CONNECTIONS),
         *(f"variable {name}: created" for name in VARIABLES[:2]),
         f"variable {CHECKPOINT}: refused: the pipeline owns its checkpoint (it writes it after each delivery; "
         "a settings file would move it back)", f"pool {POOLS[0]}: created", "summary: 6 created, 1 refused"]


def _clean() -> None:
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id.in_(CONNECTIONS)).delete(synchronize_session=False)
        session.query(Variable).filter(Variable.key.in_(VARIABLES)).delete(synchronize_session=False)
        session.query(Pool).filter(Pool.pool.in_(POOLS)).delete(synchronize_session=False)


@pytest.fixture
def settings_file(airflow_db: None, tmp_path: Path) -> Iterator[Path]:
    _clean()
    path = tmp_path / "airflow_settings.yaml"
    path.write_text(SETTINGS, encoding="utf-8")
    yield path
    _clean()


def apply(capsys: pytest.CaptureFixture, *argv: str) -> list[str]:
    assert command.main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert "LEAKCANARY" not in out + err
    return out.splitlines()


def stored() -> dict:
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            **{c.conn_id: (c.conn_type, c.host, c.login, c.password, c.schema, c.port, c.extra_dejson)
               for c in session.query(Connection).filter(Connection.conn_id.in_(CONNECTIONS))},
            **{v.key: v.val for v in session.query(Variable).filter(Variable.key.in_(VARIABLES))},
            **{p.pool: (p.slots, p.description, p.include_deferred)
               for p in session.query(Pool).filter(Pool.pool.in_(POOLS))},
        }


def test_applied_twice_the_second_run_changes_nothing(settings_file, capsys):
    assert apply(capsys, str(settings_file)) == FIRST
    assert stored() == {
        PREFIX + "tenant": ("auth0", "https://tenant.example.com", "client-id", PASSWORD, None, None,
                            {"audience": "https://tenant.example.com/api/v2/"}),
        PREFIX + "hook": ("http", f"https://user:{URI_PASSWORD}@hooks.example.com/in", None, None, None, 8443,
                          {"timeout": 30, "signing_secret": SIGNING_SECRET,
                           "headers": {"Authorization": HEADER_TOKEN}}),
        PREFIX + "plain": ("http", "https://plain.example.com", None, None, None, None, {}),
        PREFIX + "auth0_webhooks_config": '{"schedule": "*/5 * * * *", "batch_size": 100}',
        PREFIX + "partner_api_key": API_KEY_VALUE,
        PREFIX + "auth0": (4, "Auth0 deliveries", False),
    }
    second = apply(capsys, str(settings_file))
    assert second[-1] == "summary: 6 unchanged, 1 refused"
    assert [line for line in second[:-1] if not line.endswith(": unchanged")] == [FIRST[5]]


def test_changes_and_dry_run(settings_file, capsys):
    apply(capsys, str(settings_file))
    before = stored()
    settings_file.write_text(SETTINGS.replace("pool_slot: 4", "pool_slot: 5").replace('"timeout": 30', '"timeout": 9')
                             .replace(PASSWORD, PASSWORD + "-2"), encoding="utf-8")
    changes = [f"connection {PREFIX}tenant: {{}}: password *** -> ***",
               f"connection {PREFIX}hook: {{}}: extra.timeout 30 -> 9",
               f"pool {PREFIX}auth0: {{}}: slots 4 -> 5"]
    dry = apply(capsys, str(settings_file), "--dry-run")
    assert [line for line in dry if ": would be changed: " in line] == [
        line.format("would be changed") for line in changes]
    assert stored() == before
    assert [line for line in apply(capsys, str(settings_file)) if ": changed: " in line] == [
        line.format("changed") for line in changes]
    after = stored()
    assert after[PREFIX + "tenant"][3] == PASSWORD + "-2" and after[PREFIX + "auth0"][0] == 5
    assert after[PREFIX + "hook"][6]["timeout"] == 9 and after[PREFIX + "hook"][6]["signing_secret"] == SIGNING_SECRET


def test_the_installed_console_script(settings_file):
    script = Path(sys.executable).with_name("auth0-webhooks-settings")
    assert script.exists(), "reinstall: .venv/bin/pip install -e ."

    def run() -> list[str]:
        done = subprocess.run([str(script), str(settings_file)], env=dict(os.environ), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert "LEAKCANARY" not in done.stdout + done.stderr
        # Airflow's own log lines (e.g. no Fernet key in the tests' home) go to stdout too
        return [line for line in done.stdout.splitlines() if re.match(r"(connection|variable|pool|summary)\b", line)]

    assert run() == FIRST
    assert run()[-1] == "summary: 6 unchanged, 1 refused"
    assert json.loads(stored()[PREFIX + "auth0_webhooks_config"])["batch_size"] == 100
