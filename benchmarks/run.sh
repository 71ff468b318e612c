#!/usr/bin/env bash
# Run every benchmark under a real `airflow standalone` and print a Markdown table.
# Options go to `python -m benchmarks` (--repeat N, --only a,b, --tiny, --json PATH, --ref GITREF).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m benchmarks "$@"
