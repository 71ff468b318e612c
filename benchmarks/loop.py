"""The yardstick for the pipeline: a plain sequential Python loop that reads every page of logs
(checkpoint mode, take=100) and POSTs it to the webhook as a JSON array with the pipeline's
headers. Run as its own process, so that it does not share a CPU lock with the emulator:

    python -m benchmarks.loop --auth0 URL --client-id ID --client-secret S --webhook URL \
        --authorization "Bearer ..." [--signing-secret whsec_...] --count N

Prints one JSON object: {"logs", "requests", "seconds", "logs_per_minute"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import requests

from auth0_webhooks import USER_AGENT
from auth0_webhooks.signatures import sign
from auth0_webhooks.webhook_client import webhook_id


def run(auth0: str, client_id: str, client_secret: str, webhook: str, authorization: str,
        signing_secret: str | None, count: int) -> dict:
    """Read and send `count` logs from the oldest, one page after the other; return the timing."""
    session = requests.Session()
    started = time.perf_counter()
    token = session.post(f"{auth0}/oauth/token", json={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret,
        "audience": f"{auth0}/api/v2/"}, timeout=30)
    token.raise_for_status()
    read_headers = {"Authorization": f"Bearer {token.json()['access_token']}", "User-Agent": USER_AGENT}
    sent, posts, last = 0, 0, ""
    while sent < count:
        page = session.get(f"{auth0}/api/v2/logs", params={"from": last, "take": 100},
                           headers=read_headers, timeout=30)
        page.raise_for_status()
        logs = page.json()
        if not logs:
            break
        body = json.dumps(logs, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        message_id, stamp = webhook_id(logs), int(time.time())
        headers = {"Content-Type": "application/json", "Authorization": authorization, "User-Agent": USER_AGENT,
                   "webhook-id": message_id, "webhook-timestamp": str(stamp)}
        if signing_secret:
            headers["webhook-signature"] = sign(message_id, stamp, body, [signing_secret])
        session.post(webhook, data=body, headers=headers, timeout=30).raise_for_status()
        sent, posts, last = sent + len(logs), posts + 1, logs[-1]["log_id"]
    seconds = time.perf_counter() - started
    return {"logs": sent, "requests": posts, "seconds": seconds, "logs_per_minute": sent / seconds * 60}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth0", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--webhook", required=True)
    parser.add_argument("--authorization", required=True)
    parser.add_argument("--signing-secret")
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.auth0, args.client_id, args.client_secret, args.webhook, args.authorization,
                         args.signing_secret, args.count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
