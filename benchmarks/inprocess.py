"""In-process speed, no Airflow: filter realistic logs (`LogFilter.keeps`) and encode the kept
ones in request bodies of 100 (`webhook_client.encode`). Run as its own process:

    python -m benchmarks.inprocess --logs 100000 --repeat 5

Prints one JSON object: {case: [logs per second, one per repetition]} for the cases
"no filter" and "LOG_TYPES".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone

from auth0_webhooks_devtools.events import EventFactory
from auth0_webhooks.log_types import LogFilter
from auth0_webhooks.webhook_client import encode

BATCH = 100
LOG_TYPES = ("s", "f", "fp", "fu", "ss", "seccft", "sapi", "w")  # a typical security-focused LOG_TYPES


def logs_per_second(logs: list[dict], log_filter: LogFilter) -> float:
    """One pass: filter every log, encode the kept ones in batches; logs read per second."""
    started = time.perf_counter()
    kept = [log for log in logs if log_filter.keeps(log)]
    for index in range(0, len(kept), BATCH):
        encode(kept[index:index + BATCH], as_batch=True)
    return len(logs) / (time.perf_counter() - started)


def run(count: int, repeat: int) -> dict[str, list[float]]:
    """Rates for each filter case, `repeat` times each (fresh filters each time: cold caches)."""
    start = datetime.now(timezone.utc) - timedelta(seconds=count)
    logs = EventFactory(seed=21).make(count, start, 1.0)
    cases = {"no filter": lambda: LogFilter(), "LOG_TYPES": lambda: LogFilter(LOG_TYPES)}
    return {name: [logs_per_second(logs, make()) for _ in range(repeat)] for name, make in cases.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.logs, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
