"""Test-wide environment: a throw-away AIRFLOW_HOME, this repo's dags/ and plugins/.

Set before Airflow is imported anywhere, so that no test touches a user's ~/airflow.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="auth0-webhooks-tests-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
# A second bundle holds the README's example DAG, so that dag.test() can run it (tests/dag/test_own_dag.py).
_LOCAL = "airflow.dag_processing.bundles.local.LocalDagBundle"
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps([
    {"name": "dags-folder", "classpath": _LOCAL, "kwargs": {}},
    {"name": "examples", "classpath": _LOCAL, "kwargs": {"path": str(REPO / "examples"), "refresh_interval": 0}},
])
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AUTH0_WEBHOOKS_TOKEN_CACHE"] = str(_HOME / "token-cache")
for name in list(os.environ):  # a developer's own settings must not leak into the tests
    if name.startswith(("AIRFLOW_CONN_AUTH0", "AIRFLOW_VAR_AUTH0")):
        del os.environ[name]
