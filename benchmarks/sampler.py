"""Peak RSS of Airflow task processes, sampled from /proc on a background thread.

A task process of Airflow 3.3 sets its title to `airflow worker -- <task instance id>`. Only the
processes of one session (the `airflow standalone` this harness started) are looked at, so that
another Airflow on the machine is never measured.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TITLE_PREFIX = "airflow worker -- "


def _session_of(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # state ppid pgrp session ...
    return int(fields[3]) if len(fields) > 3 else None


def _title(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _rss_mb(pid: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class RssSampler:
    """Every `every` seconds, the VmRSS of each task process of `session`; keeps the peak per task
    instance id (the part of the title after the prefix)."""

    def __init__(self, session: int, every: float = 0.2) -> None:
        self.session = session
        self.every = every
        self.peaks: dict[str, float] = {}
        self._others: set[str] = set()  # pids outside the session: never read again
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak(self, ti_ids: set[str] | None = None) -> dict[str, float]:
        """Peaks (MB) by task instance id, for the given ids or all."""
        with self._lock:
            return {k: v for k, v in self.peaks.items() if ti_ids is None or k in ti_ids}

    def sample(self) -> None:
        """One pass over /proc."""
        try:
            pids = [name for name in os.listdir("/proc") if name.isdigit()]
        except OSError:
            return
        alive = set(pids)
        self._others &= alive
        for pid in pids:
            if pid in self._others:
                continue
            if _session_of(pid) != self.session:
                self._others.add(pid)
                continue
            title = _title(pid)
            if not title.startswith(TITLE_PREFIX):
                continue
            rss = _rss_mb(pid)
            if rss is None:
                continue
            key = title[len(TITLE_PREFIX):].split()[0]
            with self._lock:
                self.peaks[key] = max(rss, self.peaks.get(key, 0.0))

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()
