#!/usr/bin/env bash
# Install everything (into .venv) and run the whole test suite: unit, DAG (dag.test + emulator)
# and end-to-end (a real `airflow standalone` scheduler). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
