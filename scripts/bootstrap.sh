#!/usr/bin/env bash
# Create .venv inside the repository and install the project with its test dependencies and dev tools.
# Idempotent: does nothing when pyproject.toml has not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for candidate in python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 14))'; then
      echo "$candidate"; return
    fi
  done
  echo "error: Python 3.10 to 3.13 is required (none found on PATH)" >&2; exit 1
}

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml devtools/pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test,celery]"  # celery: the distributed shape's integration test
  # The emulator, receiver and standalone helpers: a package of their own, never shipped with the provider.
  .venv/bin/python -m pip install --quiet -e ./devtools
  rm -f .venv/.installed-*; touch "$stamp"
fi

# Debian's chromium, for the run history page's browser test (tests/e2e/test_run_history_page.py, driven by
# Playwright). Where apt-get cannot install it (no apt, not root, no network), skip quietly: that test skips.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || true
fi

# `pip install -e .` leaves the build's metadata (*.egg-info) in plugins/, setuptools' package root, and Airflow
# puts the plugins folder on sys.path: the distribution would be found twice there, and the run history page's
# plugin (entry point airflow.plugins) registered twice, the second time as a plugin import error.
rm -rf plugins/*.egg-info
