"""Load an Astro-CLI-format `airflow_settings.yaml` into the Airflow metadata database.

`python -m auth0_webhooks_devtools.airflow_settings airflow_settings.yaml`
Connections and Variables that already exist are left as they are (a user's edits in the UI
win), unless `--overwrite`. The checkpoint Variable is refused: it belongs to the pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from auth0_webhooks.names import CHECKPOINT_VARIABLE


def read_settings(path: str) -> dict[str, list[dict[str, Any]]]:
    """The `airflow:` section of the file: connections, variables (pools are ignored)."""
    with open(path, encoding="utf-8") as stream:
        document = yaml.safe_load(stream) or {}
    section = document.get("airflow") or {}
    return {"connections": section.get("connections") or [], "variables": section.get("variables") or []}


def apply_settings(settings: dict[str, list[dict[str, Any]]], overwrite: bool = False) -> list[str]:
    """Create the connections and variables; return one line per action."""
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    done = []
    with create_session() as session:
        for item in settings["connections"]:
            conn_id = item["conn_id"]
            existing = session.query(Connection).filter(Connection.conn_id == conn_id).one_or_none()
            if existing is not None and not overwrite:
                done.append(f"connection {conn_id}: kept (exists)")
                continue
            if existing is not None:
                session.delete(existing)
                session.flush()
            extra = item.get("conn_extra")
            session.add(Connection(
                conn_id=conn_id, conn_type=item.get("conn_type"), host=item.get("conn_host"),
                login=item.get("conn_login"), password=item.get("conn_password"),
                schema=item.get("conn_schema"), port=item.get("conn_port"),
                extra=json.dumps(extra) if isinstance(extra, dict) else extra,
            ))
            done.append(f"connection {conn_id}: {'replaced' if existing else 'created'}")
    for item in settings["variables"]:
        key, value = item["variable_name"], item["variable_value"]
        if key == CHECKPOINT_VARIABLE:
            done.append(f"variable {key}: refused (the pipeline owns its checkpoint)")
            continue
        if Variable.get(key, default_var=None) is not None and not overwrite:
            done.append(f"variable {key}: kept (exists)")
            continue
        Variable.set(key, value if isinstance(value, str) else json.dumps(value))
        done.append(f"variable {key}: set")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="airflow_settings.yaml")
    parser.add_argument("--overwrite", action="store_true", help="replace existing connections and variables")
    args = parser.parse_args(argv)
    for line in apply_settings(read_settings(args.path), overwrite=args.overwrite):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
