"""Where Management API tokens are kept between runs, so that a run every 5 minutes does not
spend the tenant's monthly machine-to-machine token quota (one token lasts 24 hours)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class CachedToken:
    """An access token and the UNIX time at which it stops being valid."""

    access_token: str
    expires_at: float


class TokenCache(Protocol):
    """Storage for one token per (tenant, client, audience, secret)."""

    def load(self, key: str) -> CachedToken | None: ...

    def save(self, key: str, token: CachedToken) -> None: ...

    def drop(self, key: str) -> None: ...


def cache_key(base_url: str, client_id: str, client_secret: str, audience: str) -> str:
    """A key that changes whenever any credential changes; it reveals none of them."""
    material = "\n".join((base_url, client_id, client_secret, audience)).encode()
    return hashlib.sha256(material).hexdigest()[:32]


class MemoryTokenCache:
    """Tokens kept for the life of the process (tests, one-off scripts)."""

    def __init__(self) -> None:
        self._tokens: dict[str, CachedToken] = {}

    def load(self, key: str) -> CachedToken | None:
        return self._tokens.get(key)

    def save(self, key: str, token: CachedToken) -> None:
        self._tokens[key] = token

    def drop(self, key: str) -> None:
        self._tokens.pop(key, None)


class FileTokenCache:
    """Tokens kept in files readable by their owner only (mode 0600), one per key."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "auth0_webhooks"
        self.directory = Path(directory or os.environ.get("AUTH0_WEBHOOKS_TOKEN_CACHE", default))

    def _path(self, key: str) -> Path:
        return self.directory / f"token-{key}.json"

    def load(self, key: str) -> CachedToken | None:
        try:
            data = json.loads(self._path(key).read_text())
            return CachedToken(str(data["access_token"]), float(data["expires_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: str, token: CachedToken) -> None:
        with suppress(OSError):  # a cache that cannot be written only costs a token request next run
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".token-")
            with os.fdopen(handle, "w") as stream:  # mkstemp creates the file with mode 0600
                json.dump({"access_token": token.access_token, "expires_at": token.expires_at}, stream)
            os.replace(temporary, self._path(key))

    def drop(self, key: str) -> None:
        with suppress(OSError):
            self._path(key).unlink()
