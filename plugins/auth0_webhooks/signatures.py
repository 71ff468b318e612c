"""Standard Webhooks signatures: sign on the sending side, verify on the receiving side (a receiver's code:
README, "Verifying requests on the receiving side"; drop duplicates by `webhook-id`).

`verify` checks the `v1` HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}" against each
secret (several while rotating), and refuses timestamps more than 5 minutes off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from contextlib import suppress
from typing import Mapping, Sequence

TOLERANCE_SECONDS = 300


def decode_secret(secret: str) -> bytes:
    """A Standard Webhooks secret (`whsec_<base64>`) as key bytes; any other string as its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        with suppress(ValueError):  # not base64 (binascii.Error): the string itself is the key
            return base64.b64decode(secret[len("whsec_"):], validate=True)
    return secret.encode("utf-8")


def _digest(key: bytes, message_id: str, timestamp: int | str, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign(message_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """`webhook-signature` value: `v1,<base64 HMAC-SHA256>` per secret, space-separated."""
    return " ".join(f"v1,{_digest(decode_secret(s), message_id, timestamp, body)}" for s in secrets)


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
    """Whether a request carries a valid, fresh signature by one of `secrets` (header names any case)."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    message_id, stamp = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    try:
        skew = abs((time.time() if now is None else now) - int(stamp))
    except ValueError:
        return False
    if not message_id or skew > TOLERANCE_SECONDS:
        return False
    offered = [part[3:] for part in lower.get("webhook-signature", "").split() if part.startswith("v1,")]
    for secret in secrets:
        expected = _digest(decode_secret(secret), message_id, stamp, body)
        if any(hmac.compare_digest(candidate, expected) for candidate in offered):
            return True
    return False
