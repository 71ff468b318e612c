"""`python -m benchmarks`: run the benchmarks under one `airflow standalone` and print the table.

    python -m benchmarks [--repeat N] [--only a,b] [--tiny] [--json PATH] [--ref GITREF]
                         [--settings JSON] [--keep]

Exit status: 0 when every benchmark produced its numbers and (outside --tiny) met its target,
1 when a target was missed, 2 when a benchmark could not be measured.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.report import Result, git_description, machine, render, write_json
from benchmarks.scenarios import FULL, NEEDS_AIRFLOW, SCENARIOS, TINY, Bench
from benchmarks.services import REPO, Services, Source

SETTINGS = {"batch_size": 100, "webhook_concurrent_calls": 5, "send_as_batch": True, "schedule": None,
            "max_logs_per_run": 1_000_000}


def say(message: str) -> None:
    """Progress, on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is shown (default 3)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    parser.add_argument("--tiny", action="store_true",
                        help="every benchmark once at a tiny size: proves they work; targets not enforced")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--ref", help="benchmark the DAG and provider of this git revision instead of the working tree")
    parser.add_argument("--settings", default="{}", help="JSON merged into the config Variable")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (Airflow home, logs)")
    args = parser.parse_args(argv)
    args.names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = sorted(set(args.names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.tiny:
        args.repeat = 1
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_all(args: argparse.Namespace, workdir: Path) -> tuple[list[Result], dict[str, Any], list[str]]:
    """Run the chosen benchmarks in order; Airflow is started once, after the in-process one."""
    settings = {**SETTINGS, **json.loads(args.settings)}
    source = Source.from_ref(args.ref, workdir, git_description(REPO))
    context = {"machine": machine(), "source": source.description, "settings": settings,
               "tiny": args.tiny, "repeat": args.repeat, "benchmarks": args.names}
    bench = Bench(None, source, TINY if args.tiny else FULL, args.repeat, say)
    results: list[Result] = []
    ordered = [name for name in SCENARIOS if name in args.names]
    try:
        for name in ordered:
            if name in NEEDS_AIRFLOW and bench.services is None:
                bench.services = Services(workdir, source, say)
                bench.services.start()
                bench.services.configure(settings)
                bench.services.unpause()
            try:
                results += SCENARIOS[name](bench)
            except KeyboardInterrupt:
                raise
            except Exception as error:  # noqa: BLE001 - one broken benchmark must not hide the others
                say(f"{name} failed: {error}")
                bench.details.append(f"{name}: ERROR {type(error).__name__}: {error}")
                traceback.print_exc(file=sys.stderr)
                results.append(Result(name, "(could not run)", "", error=f"{type(error).__name__}: {error}"))
    finally:
        if bench.services is not None:
            say("stopping airflow, the emulator and the receiver")
            bench.services.close()
    return results, context, bench.details


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a background job ignores it
        signal.signal(signum, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="auth0-webhooks-bench-"))
    started = time.monotonic()
    ok = False
    try:
        results, context, details = run_all(args, workdir)
        context["wall_seconds"] = round(time.monotonic() - started, 1)
        details.append(f"wall time of this invocation: {context['wall_seconds']:.0f} s")
        print(render(results, context, details, args.repeat, enforced=not args.tiny), flush=True)
        if args.json:
            write_json(args.json, results, context, details)
        verdicts = {r.verdict for r in results}
        ok = "error" not in verdicts
        if "error" in verdicts:
            return 2
        return 1 if "fail" in verdicts and not args.tiny else 0
    except KeyboardInterrupt:
        say("interrupted: everything this harness started has been stopped")
        return 130
    finally:
        if args.keep or not ok:
            say(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
