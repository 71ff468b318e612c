"""Results, targets and the Markdown report (table, machine, details); JSON output."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Target:
    """A bound on a measurement: `op` is ">=", "<=" or "<"."""

    op: str
    value: float

    def holds(self, measured: float) -> bool:
        """Whether the measurement meets the target."""
        if self.op == ">=":
            return measured >= self.value
        if self.op == "<=":
            return measured <= self.value
        if self.op == "<":
            return measured < self.value
        raise ValueError(f"unknown target operator {self.op!r}")

    def ratio(self, measured: float) -> float | None:
        """measured / target (None when the target is 0)."""
        return measured / self.value if self.value else None


@dataclass
class Result:
    """One row of the table: a metric of a benchmark, measured once per repetition."""

    benchmark: str
    metric: str
    unit: str
    values: list[float] = field(default_factory=list)
    target: Target | None = None
    text: str | None = None  # shown instead of the median, for side-by-side comparisons
    error: str | None = None
    decimals: int = 0

    @property
    def measured(self) -> float | None:
        """The median over repetitions (None when nothing was measured)."""
        finite = [v for v in self.values if v is not None]
        return statistics.median(finite) if finite else None

    @property
    def verdict(self) -> str:
        """"pass", "fail", "info" (no target) or "error"."""
        if self.measured is None and (self.error or self.text is None):
            return "error"
        if self.error:
            return "fail"  # some repetitions measured, others failed
        if self.target is None or self.measured is None:
            return "info"
        return "pass" if self.target.holds(self.measured) else "fail"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        data.update(measured=self.measured, verdict=self.verdict,
                    ratio=self.target.ratio(self.measured) if self.target and self.measured is not None else None)
        return data


def number(value: float | None, decimals: int = 0) -> str:
    """12,345 or 1,234.5; "inf" and "n/a" as such."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:,.{decimals}f}"


def _measured(result: Result) -> str:
    if result.error and result.measured is None:
        return "error"
    if result.text is not None:
        return result.text
    shown = f"{number(result.measured, result.decimals)} {result.unit}".strip()
    if len(result.values) > 1:
        shown += f" (n={len(result.values)}: {', '.join(number(v, result.decimals) for v in result.values)})"
    return shown


def _target(result: Result) -> str:
    if result.target is None:
        return "—"
    op = {">=": "≥", "<=": "≤", "<": "<"}[result.target.op]
    return f"{op} {number(result.target.value, result.decimals)} {result.unit}".strip()


def _ratio(result: Result) -> str:
    if result.target is None or result.measured is None:
        return "—"
    ratio = result.target.ratio(result.measured)
    return "—" if ratio is None else f"{ratio:.2f}"


def table(results: list[Result], repeat: int, enforced: bool) -> str:
    """The Markdown table: benchmark | target | measured | ratio | pass/fail."""
    lines = [
        f"| benchmark | target | measured (median of {repeat}) | ratio to target | pass/fail |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        verdict = result.verdict if enforced or result.verdict in ("info", "error") else f"({result.verdict}, not enforced)"
        lines.append(f"| {result.benchmark}: {result.metric} | {_target(result)} | {_measured(result)} | "
                     f"{_ratio(result)} | {verdict} |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM, Python, date (UTC)."""
    model, memory_kb = platform.processor() or "unknown", 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(), "cpu": model, "ram_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def git_description(repo: Path) -> str:
    """HEAD's short id, and whether the working tree has changes."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def render(results: list[Result], context: dict[str, Any], details: list[str], repeat: int, enforced: bool) -> str:
    """The whole Markdown report."""
    info = context["machine"]
    head = [
        "## auth0_logs_to_webhook benchmarks",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram_gb']} GB RAM, Python {info['python']}",
        f"- DAG source: {context['source']}",
        f"- settings: {json.dumps(context['settings'], sort_keys=True)}",
        f"- mode: {'tiny (targets reported, not enforced)' if not enforced else 'full'}; repeat {repeat}",
        "",
        table(results, repeat, enforced),
    ]
    if details:
        head += ["", "### Details", ""] + [f"- {line}" for line in details]
    return "\n".join(head) + "\n"


def write_json(path: Path, results: list[Result], context: dict[str, Any], details: list[str]) -> None:
    """Write every result, the context and the details as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**context, "results": [r.as_dict() for r in results], "details": details}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
