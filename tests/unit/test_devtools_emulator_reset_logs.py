"""The emulator's fresh-backlog control (`reset_logs`), used by the benchmarks between runs."""

from __future__ import annotations

import time

import requests

from auth0_webhooks_devtools.emulator import Auth0Emulator


def test_reset_logs_replaces_the_backlog_and_keeps_tokens_and_rate_limit():
    with Auth0Emulator(logs=50, seed=4, rate_burst=3, rate_per_second=0.001) as emu, requests.Session() as session:
        token = session.post(f"{emu.base_url}/oauth/token", json={
            "grant_type": "client_credentials", "client_id": "emulator-client",
            "client_secret": "emulator-secret"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        old_ids = emu.log_ids
        emu.expire(10)  # a purged checkpoint before the reset must not make the new backlog "expired"

        answer = session.post(f"{emu.base_url}/__emulator/reset_logs", json={"count": 120}).json()

        new_ids = emu.log_ids
        assert answer == {"log_count": 120, "first_log_id": new_ids[0], "last_log_id": new_ids[-1]}
        assert len(new_ids) == 120 and new_ids == sorted(new_ids) and new_ids[0] > old_ids[-1]
        assert emu.logs[-1]["date"] <= time.strftime("%Y-%m-%dT%H:%M:%S.999Z", time.gmtime())
        page = session.get(f"{emu.base_url}/api/v2/logs", params={"from": "", "take": 100}, headers=auth)
        assert page.status_code == 200 and [log["log_id"] for log in page.json()] == new_ids[:100]
        assert session.get(f"{emu.base_url}/api/v2/logs", params={"from": old_ids[0], "take": 1},
                           headers=auth).status_code == 200  # not "older than retention"
        assert emu.stats()["rate_limit"] == {"burst": 3, "per_second": 0.001}

        assert emu.reset_logs(0) == 0 and emu.log_ids == []
        assert emu.add_logs(2) and len(emu.log_ids) == 2
