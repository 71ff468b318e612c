"""The emulator's fault injection settings: random fault shares per endpoint and scripted actions.

`FaultConfig.draw` picks a random fault for one answer; `validate_action` checks a scripted one
("ok", an HTTP status, "drop", "hang[:seconds]", "malformed[:kind]"). The emulator applies them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class FaultConfig:
    """Probabilities of injected faults for one endpoint ("token" or "logs")."""

    error_500: float = 0.0
    error_503: float = 0.0
    error_429: float = 0.0
    drop: float = 0.0
    hang: float = 0.0
    hang_seconds: float = 5.0
    malformed: float = 0.0

    def draw(self, rng: random.Random) -> str | None:
        """One random action ("500", "503", "429", "drop", "hang", "malformed") or None."""
        roll, total = rng.random(), 0.0
        for action, share in (("500", self.error_500), ("503", self.error_503), ("429", self.error_429),
                              ("drop", self.drop), ("hang", self.hang), ("malformed", self.malformed)):
            total += share
            if roll < total:
                return action
        return None


MALFORMED_KINDS = ("not_json", "not_list", "no_log_id")
FAULT_ENDPOINTS = ("token", "logs")


def validate_action(action: str) -> str:
    """Check one scripted action: ok, drop, hang[:s], malformed[:kind] or an HTTP status."""
    name, _, arg = str(action).partition(":")
    valid = (
        (name in ("ok", "drop") and not arg)
        or (name == "hang" and (not arg or _is_number(arg)))
        or (name == "malformed" and (not arg or arg in MALFORMED_KINDS))
        or (name.isdigit() and 100 <= int(name) <= 599 and not arg)
    )
    if not valid:
        raise ValueError(f"unknown fault action {action!r}")
    return str(action)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
