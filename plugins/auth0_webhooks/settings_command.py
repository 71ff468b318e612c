"""auth0-webhooks-settings: make an Airflow match an `airflow_settings.yaml` (the Astro CLI format).

Without --url it writes through Airflow's models to the metadata database of the Airflow installed here
(AIRFLOW_HOME, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN); with --url through Airflow 3's REST API. The entries
the file lists are created or set to its values, others are left alone, the checkpoint Variable is refused.
A second run changes nothing (over REST it sends again the secrets Airflow's API hides: they cannot be
compared). Exit codes: 0 applied or nothing to do; 1 a bad file or bad usage, nothing applied; 2 Airflow
refused something (or could not be reached).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections import Counter
from typing import Any, Callable
from urllib.parse import quote

import yaml

from auth0_webhooks.names import CHECKPOINT_VARIABLE

SECTIONS = {  # section: kind, id field, {field: (Airflow's name for it, type)}; the first field is required
    "connections": ("connection", "conn_id", {
        "conn_type": ("conn_type", "text"), "conn_host": ("host", "text"), "conn_login": ("login", "text"),
        "conn_password": ("password", "text"), "conn_schema": ("schema", "text"), "conn_port": ("port", "integer"),
        "conn_extra": ("extra", "mapping")}),
    "variables": ("variable", "variable_name", {"variable_value": ("value", "value")}),
    "pools": ("pool", "pool_name", {"pool_slot": ("slots", "integer"), "pool_description": ("description", "text")}),
}
FIELDS = {kind: [name for name, _ in fields.values()] for kind, _, fields in SECTIONS.values()}
OUTCOMES = ("created", "changed", "re-sent", "unchanged", "refused", "failed")
SECRET = re.compile(r"passw|secret|token|key|authorization|credential", re.IGNORECASE)
_USERINFO = re.compile(r"(://[^/\s:]*:)[^/\s]+@")  # the password in scheme://user:password@host
Entry = tuple[str, str, dict[str, Any]]  # kind, name, the wanted fields under Airflow's names


class BadFile(Exception):
    """The file cannot be applied; the message names each entry and field at fault."""


def load(path: str) -> list[Entry]:
    """Read and check the whole file: a bad one raises BadFile, before anything is applied."""
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except OSError as exc:
        raise BadFile(f"{path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:  # what and where, never the text around it: it may hold a secret
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise BadFile(f"{path}: not YAML{where}: {getattr(exc, 'problem', None) or 'cannot parse it'}") from None
    if not isinstance(document, dict) or "airflow" not in document or not isinstance(document["airflow"] or {}, dict):
        raise BadFile(f"{path}: no `airflow:` section holding connections, variables and pools")
    errors, entries, seen = [], [], {}
    for section, items in (document["airflow"] or {}).items():
        if section not in SECTIONS or not isinstance(items or [], list):
            errors.append(f"airflow.{section}: " + ("must be a list of entries" if section in SECTIONS
                                                    else f"unknown section{_hint(str(section), SECTIONS)}"))
            continue
        kind, id_field, fields = SECTIONS[section]
        for index, item in enumerate(items or []):
            name = str(item.get(id_field) or "") if isinstance(item, dict) else ""
            where = f"{section}[{index}]" + (f" ({name})" if name else "")
            if not isinstance(item, dict):
                errors.append(f"{where}: must be a mapping of fields")
                continue
            problems = [f"{field}: required" for field in (id_field, next(iter(fields))) if item.get(field) is None
                        or item.get(field) == "" and field != "variable_value"]
            problems += [f"{key}: unknown field{_hint(str(key), [id_field, *fields])}"
                         for key in item if key != id_field and key not in fields]
            if name and (kind, name) in seen:
                problems.append(f"{id_field}: duplicate of {seen[kind, name]}")
            seen.setdefault((kind, name), where)
            want = {}
            for field, (airflow_name, type_) in fields.items():
                try:
                    want[airflow_name] = _value(type_, item.get(field))
                except ValueError as exc:
                    problems.append(f"{field}: {exc}")
            errors += [f"{where}: {problem}" for problem in problems]
            entries.append((kind, name, want))
    if errors:
        raise BadFile("\n".join(errors))
    return entries


def _hint(word: str, known: Any) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(known)})"


def _value(type_: str, value: Any) -> Any:
    """A field's value as Airflow keeps it; ValueError says what is wrong, without the value (maybe a secret)."""
    if type_ == "value":  # a variable's value: text, or anything else as JSON
        return value if isinstance(value, str) or value is None else json.dumps(value)
    if value is None or value == "":
        return None
    if type_ == "integer":
        if isinstance(value, bool) or not re.fullmatch(r"\s*-?\d+\s*", str(value)):
            raise ValueError("must be an integer")
        return int(value)
    if type_ == "mapping":
        value = _loads(value.strip()) if isinstance(value, str) else value
        if not isinstance(value, dict):
            raise ValueError("must be a mapping, or the JSON text of one")
        return value or None
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__} (put it in quotes)")
    return value


def _loads(value: Any) -> Any:
    """JSON objects and arrays in text, as data (Airflow's API re-serializes them); anything else as it is."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _plain(value: Any) -> Any:
    """A value to compare: JSON text as data; empty text and mappings as None."""
    value = _loads(value)
    return None if value in ("", {}) else value


def _stored(want: dict[str, Any]) -> dict[str, Any]:
    """The wanted fields as Airflow takes them: a connection's extra as JSON text."""
    return {key: json.dumps(value) if key == "extra" and value is not None else value for key, value in want.items()}


def _flat(label: str, value: Any) -> dict[str, Any]:
    """Mappings and lists as one value per leaf: extra.headers.Authorization."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return {leaf: leaf_value for key, inner in items
            for leaf, leaf_value in _flat(f"{label}.{key}", inner).items()} or {label: value}


def _show(label: str, value: Any, secret: bool) -> str:
    if value is None:
        return "(none)"
    text = "***" if secret or SECRET.search(label) else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def diff(want: dict[str, Any], have: dict[str, Any], secret: bool = False) -> tuple[list[str], list[str]]:
    """What differs, leaf by leaf, secrets shown as ***; and the leaves Airflow's API hides (shows as ***)."""
    changed, hidden = [], []
    for field in want:
        new, old = _flat(field, _plain(want[field])), _flat(field, _plain(have.get(field)))
        for label in sorted(new.keys() | old.keys()):
            if old.get(label) == "***" and new.get(label) is not None:
                hidden.append(label)
            elif new.get(label) != old.get(label):
                before, after = _show(label, old.get(label), secret), _show(label, new.get(label), secret)
                changed.append(f"{label} {before} -> {after}")
    return changed, hidden


class LocalAirflow:
    """Airflow's own models, on the metadata database of the Airflow installed here."""

    ATTRIBUTES = {"value": "val"}  # the Variable model's name for the value

    def __init__(self) -> None:
        from airflow.models import Connection, Pool, Variable
        from airflow.utils.session import create_session

        self.session = create_session
        self.models = {"connection": (Connection, "conn_id"), "variable": (Variable, "key"), "pool": (Pool, "pool")}

    def _row(self, session: Any, kind: str, name: str) -> Any:
        model, key = self.models[kind]
        return session.query(model).filter(getattr(model, key) == name).one_or_none()

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with self.session() as session:
            row = self._row(session, kind, name)
            return None if row is None else {f: getattr(row, self.ATTRIBUTES.get(f, f)) for f in FIELDS[kind]}

    def put(self, kind: str, name: str, want: dict[str, Any], have: dict[str, Any] | None) -> None:
        model, key = self.models[kind]
        with self.session() as session:
            row = self._row(session, kind, name)
            if row is None:
                row = model(**{key: name}, **({"include_deferred": False} if kind == "pool" else {}))
                session.add(row)
            for field, value in _stored(want).items():
                setattr(row, self.ATTRIBUTES.get(field, field), value)


class RestAirflow:
    """Airflow 3's REST API: a token (given, or from /auth/token), then /api/v2/connections|variables|pools."""

    def __init__(self, url: str, token: str | None = None, user: str | None = None, password: str | None = None):
        import requests

        self.url, self.http = url.rstrip("/"), requests.Session()
        if token is None:
            answer = self.http.post(f"{self.url}/auth/token", json={"username": user, "password": password},
                                    timeout=30)
            token = _check(answer, "the token request").json()["access_token"]
        self.token = token
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, kind: str, name: str = "", **kwargs: Any) -> Any:
        url = f"{self.url}/api/v2/{kind}s" + (f"/{quote(name, safe='')}" if name else "")
        return self.http.request(method, url, timeout=30, **kwargs)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        answer = self._call("GET", kind, name)
        return None if answer.status_code == 404 else _check(answer, f"GET {kind}").json()

    def put(self, kind: str, name: str, want: dict[str, Any], have: dict[str, Any] | None) -> None:
        body = {{"connection": "connection_id", "variable": "key", "pool": "name"}[kind]: name, **_stored(want)}
        if have is None:
            answer = self._call("POST", kind, json=body)
        else:  # a connection is sent whole; of a variable its value, of a pool the fields that differ
            mask = None if kind == "connection" else [f for f in want if kind == "variable" or want[f] != have.get(f)]
            body.update({"include_deferred": have.get("include_deferred") or False} if kind == "pool" else {})
            answer = self._call("PATCH", kind, name, json=body, params={"update_mask": mask} if mask else None)
        _check(answer, f"{'POST' if have is None else 'PATCH'} {kind}")


def _check(answer: Any, what: str) -> Any:
    """The response if Airflow accepted the request; else RuntimeError with its messages (never the input sent)."""
    if answer.ok:
        return answer
    try:
        detail = answer.json()["detail"]
        detail = detail if isinstance(detail, str) else "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in detail)
    except (ValueError, KeyError, TypeError):
        detail = answer.reason
    raise RuntimeError(f"{what}: HTTP {answer.status_code} {detail}")


def apply(airflow: Any, entries: list[Entry], dry_run: bool = False, say: Callable[[str], Any] = print) -> Counter:
    """Make Airflow match the entries; say one line per entry; return how many had each outcome."""
    counts: Counter = Counter()
    for kind, name, want in entries:
        detail, have = [], None
        try:
            if kind == "variable" and (name == CHECKPOINT_VARIABLE or name.startswith(CHECKPOINT_VARIABLE + "__")):
                outcome, detail = "refused", ["the pipeline owns its checkpoint (it writes it after each delivery; "
                                              "a settings file would move it back)"]
            elif (have := airflow.get(kind, name)) is None:
                outcome = "created"
            else:
                changed, hidden = diff(want, have, kind == "variable" and bool(SECRET.search(name)))
                detail = [", ".join(changed)] * bool(changed) + [
                    ("re-sent, as " if changed else "") + "Airflow's API hides " + ", ".join(hidden)] * bool(hidden)
                outcome = "changed" if changed else "re-sent" if hidden else "unchanged"
            if outcome in ("created", "changed", "re-sent") and not dry_run:
                airflow.put(kind, name, want, have)
        except Exception as exc:  # Airflow refused it, or cannot be reached: why, in one line
            outcome, detail = "failed", [(str(exc).strip().splitlines() or [type(exc).__name__])[0]]
        counts[outcome] += 1
        verb = f"would be {outcome}" if dry_run and outcome in ("created", "changed", "re-sent") else outcome
        say(f"{kind} {name}: {verb}" + (": " + "; ".join(detail) if detail else ""))
    return counts


def _secrets(value: Any, secret: bool = False) -> set[str]:
    """The texts held under secret-looking names, at any depth (kept out of everything printed)."""
    if isinstance(value, dict):
        return {found for key, item in value.items()
                for found in _secrets(_loads(item), secret or bool(SECRET.search(str(key))))}
    if isinstance(value, list):
        return {s for item in value for s in _secrets(item, secret)}
    return {str(value)} if secret and value is not None and len(str(value)) >= 4 else set()


def _scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auth0-webhooks-settings", description=__doc__.split("\n\n")[1])
    parser.add_argument("file", help="the settings file (Astro CLI format)")
    parser.add_argument("--url", help="Airflow's API server, e.g. http://localhost:8080 (default: the local Airflow)")
    parser.add_argument("--user", help="with --url: get a token for this user")
    parser.add_argument("--password", help="with --user: that user's password")
    parser.add_argument("--token", help="with --url: a token, instead of --user and --password")
    parser.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    try:
        args = parser.parse_args(argv)
        if [bool(args.token), bool(args.user), bool(args.password)] not in (
                ([True, False, False], [False, True, True]) if args.url else ([False, False, False],)):
            parser.error("--url needs --token, or --user and --password" if args.url
                         else "--user, --password and --token go with --url")
    except SystemExit as exc:  # bad usage exits 1, as a bad file does (2 means Airflow refused something)
        return 1 if exc.code else 0
    try:
        entries = load(args.file)
    except BadFile as exc:
        print(f"{exc}\nnothing applied: fix the file first", file=sys.stderr)
        return 1
    secrets = _secrets({"password": [args.password, args.token]}).union(
        *(_secrets({name: want["value"]} if kind == "variable" else want) for kind, name, want in entries))
    try:
        airflow = RestAirflow(args.url, args.token, args.user, args.password) if args.url else LocalAirflow()
    except Exception as exc:
        print(_scrub(f"cannot use Airflow: {exc}", secrets), file=sys.stderr)
        return 2
    secrets |= _secrets({"token": getattr(airflow, "token", None)})
    counts = apply(airflow, entries, args.dry_run, say=lambda line: print(_scrub(line, secrets), flush=True))
    summary = ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES if counts[outcome]) or "no entries"
    print(f"summary: {summary}" + " (dry run: nothing written)" * args.dry_run)
    return 2 if counts["failed"] else 0
