"""The webhook receiver as a request inspector: what a request looked like, and how to send it again.

Pure functions, no server: secret headers masked, the Standard Webhooks signature explained, a body
pretty-printed (JSON, JSON lines, gzip), a `curl` command that replays a request byte for byte, and the
two HTML pages (`/__receiver/inspect`, `/__receiver/inspect/<index>`) the receiver serves.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import shlex
import time
from typing import Any, Mapping

from auth0_webhooks.signatures import TOLERANCE_SECONDS, verify

PER_PAGE = 20
MAX_PER_PAGE = 500
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
SHOWN_CHARACTERS = 4  # of a secret header's value, when it is long enough to hide the rest
NOT_REPLAYED = frozenset({"host", "content-length", "connection", "transfer-encoding", "expect", "keep-alive"})
URL_VARIABLE = "WEBHOOK_URL"


# --------------------------------------------------------------------------- secrets and checks


def mask(value: str) -> str:
    """A secret header value as shown: its first 4 characters when it has at least 12, then `****`."""
    return (value[:SHOWN_CHARACTERS] if len(value) >= 12 else "") + "****"


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` with the values of SECRET_HEADERS masked."""
    return {name: mask(value) if name.lower() in SECRET_HEADERS else value for name, value in headers.items()}


def secret_variable(header: str) -> str:
    """The environment variable a replay takes a secret header's value from: WEBHOOK_AUTHORIZATION, ..."""
    return "WEBHOOK_" + "".join(c if c.isalnum() else "_" for c in header.upper())


def signature_problem(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """None when `verify` accepts the request's Standard Webhooks signature, else why it does not."""
    if verify([secret], headers, body, now):
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    if not lower.get("webhook-id"):
        return "no webhook-id header"
    stamp = lower.get("webhook-timestamp", "")
    try:
        skew = now - int(stamp)
    except ValueError:
        return f"webhook-timestamp {stamp!r} is not a UNIX time in seconds" if stamp else "no webhook-timestamp header"
    if abs(skew) > TOLERANCE_SECONDS:
        when = "old" if skew > 0 else "in the future"
        return f"webhook-timestamp is {abs(skew):.0f} s {when}: more than the {TOLERANCE_SECONDS} s allowed"
    if not any(part.startswith("v1,") for part in lower.get("webhook-signature", "").split()):
        return "no v1 signature in the webhook-signature header"
    return ("no v1 signature matches: signed with another secret, or the body, webhook-id or webhook-timestamp "
            "changed on the way")


# --------------------------------------------------------------------------- bodies


def decoded_body(body: bytes, content_encoding: str = "") -> bytes:
    """The body as the sender encoded it before compression (gzip undone); ValueError when it is not gzip."""
    if "gzip" in content_encoding.lower():
        try:
            return gzip.decompress(body)
        except (OSError, EOFError) as error:
            raise ValueError(f"Content-Encoding says gzip, but the body is not ({error})") from None
    return body


def pretty_body(body: bytes, content_encoding: str = "") -> str:
    """The body for reading: JSON indented, each JSON line indented in turn, else the text as it is."""
    try:
        text = decoded_body(body, content_encoding).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        return f"(cannot show: {error})"
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    try:
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        return text
    return "\n".join(json.dumps(line, indent=2, ensure_ascii=False) for line in lines)


def raw_text(body: bytes) -> str | None:
    """The body as received, when it is UTF-8 text without NUL bytes; None for binary bodies."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def curl_command(method: str, headers: Mapping[str, str], body: bytes) -> str:
    """A shell command replaying a request, byte for byte, to "$WEBHOOK_URL": every header but those curl
    sets itself (secret ones from WEBHOOK_<NAME> variables), the body on standard input."""
    text = raw_text(body)
    feed = (f"printf '%s' {shlex.quote(text)}" if text is not None
            else f"printf '%s' {base64.b64encode(body).decode()} | base64 -d")
    parts = ["curl -sS" + ("" if method == "POST" else f" -X {shlex.quote(method)}") + f' "${URL_VARIABLE}"']
    for name, value in headers.items():
        if name.lower() in NOT_REPLAYED:
            continue
        if name.lower() in SECRET_HEADERS:
            parts.append(f'-H "{name}: ${secret_variable(name)}"')
        else:
            parts.append("-H " + shlex.quote(f"{name}: {value}"))
    parts.append("--data-binary @-")
    return f"{feed} |\n  " + " \\\n  ".join(parts)


def variables_of(headers: Mapping[str, str]) -> list[str]:
    """The environment variables a replay of a request with `headers` needs."""
    return [URL_VARIABLE] + [secret_variable(name) for name in headers if name.lower() in SECRET_HEADERS]


def base64_of(body: bytes | None) -> str | None:
    return None if body is None else base64.b64encode(body).decode()


# --------------------------------------------------------------------------- pages


def page_bounds(total: int, page: Any, per_page: Any) -> tuple[int, int, int]:
    """(page, per_page, pages) for 1-based page `page`, newest first; ValueError for a bad number."""
    page, per_page = int(page or 1), int(per_page or PER_PAGE)
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"page={page} per_page={per_page}: expected page >= 1 and per_page from 1 to {MAX_PER_PAGE}")
    return page, per_page, max(1, -(-total // per_page))


def when(epoch: float) -> str:
    """A UNIX time as UTC, to the millisecond."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def check_word(value: bool | None, yes: str, no: str) -> str:
    return "not checked" if value is None else yes if value else no


_STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.bad{color:#b00020;font-weight:600}.good{color:#17703a}
pre{background:#f6f8fa;border:1px solid #ddd;padding:.8em;overflow:auto;max-height:40em;white-space:pre-wrap;
word-break:break-all}nav a{margin-right:1em}dt{font-weight:600;float:left;clear:left;width:12em}dd{margin-left:13em}"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def _cell(value: Any, css: str = "") -> str:
    return f'<td class="{css}">{html.escape(str(value))}</td>' if css else f"<td>{html.escape(str(value))}</td>"


def _verdict_css(value: bool | None) -> str:
    return "" if value is None else "good" if value else "bad"


def render_list(views: list[dict], page: int, pages: int, total: int, base: str) -> str:
    """The list page: one row per request view (newest first), links to the details and other pages."""
    rows = []
    for v in views:
        status = "no answer (dropped)" if v["dropped"] else (v["status"] or "in flight")
        rows.append(
            f'<tr data-index="{v["index"]}"><td><a href="{base}/inspect/{v["index"]}">{v["index"]}</a></td>'
            + _cell(when(v["received_at"])) + _cell(v["method"]) + _cell(v["path"])
            + _cell(status, "" if v["delivered"] else "bad") + _cell(v["content_type"] or "—")
            + _cell(f'{v["body_size"]} B') + _cell(v["log_count"])
            + _cell(check_word(v["signature_valid"], "verified", "failed"), _verdict_css(v["signature_valid"]))
            + _cell(check_word(v["authorization_matched"], "matched", "did not match"),
                    _verdict_css(v["authorization_matched"]))
            + "</tr>")
    nav = []
    if page > 1:
        nav.append(f'<a href="{base}/inspect?page={page - 1}">← newer</a>')
    if page < pages:
        nav.append(f'<a href="{base}/inspect?page={page + 1}">older →</a>')
    heads = "".join(f"<th>{h}</th>" for h in ("#", "Time (UTC)", "Method", "Path", "Status", "Content type", "Size",
                                               "Logs", "Signature", "Authorization"))
    body = (f"<h1>Requests received</h1><p>{total} request(s), newest first; page {page} of {pages}. "
            f'JSON: <a href="{base}/requests?page={page}">{base}/requests?page={page}</a></p>'
            f"<nav>{''.join(nav)}</nav><table><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            + ("" if rows else "<p>No request yet: POST to any path of this server.</p>")
            + f"<nav>{''.join(nav)}</nav>")
    return _page("Webhook receiver: requests", body)


def render_detail(view: dict, base: str) -> str:
    """One request's page: what it was, its checks, headers (secrets masked), body, and a curl replay."""
    signature = check_word(view["signature_valid"], "verified", "failed")
    if view["signature_problem"]:
        signature += f": {view['signature_problem']}"
    facts = [
        ("Received (UTC)", when(view["received_at"])), ("Method", view["method"]), ("Path", view["path"]),
        ("Status answered", "no answer (dropped)" if view["dropped"] else view["status"] or "in flight"),
        ("Delivered", "yes" if view["delivered"] else "no" + (" (client gone before the answer)"
                                                                if view["client_gone"] else "")),
        ("Content type", view["content_type"] or "—"), ("Size", f'{view["body_size"]} B'),
        ("Logs", view["log_count"]), ("Log ids", ", ".join(view["log_ids"][:5])
                                      + (" …" if len(view["log_ids"]) > 5 else "") or "—"),
        ("Signature", signature),
        ("Authorization", check_word(view["authorization_matched"], "matched", "did not match the expected value")),
    ]
    if view["parse_error"]:
        facts.append(("Body not understood", view["parse_error"]))
    dl = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts)
    headers = "".join(f"<tr>{_cell(k)}{_cell(v)}</tr>" for k, v in view["headers"].items())
    parts = [f'<p><a href="{base}/inspect">← all requests</a> · JSON: '
             f'<a href="{base}/requests/{view["index"]}">{base}/requests/{view["index"]}</a></p>',
             f"<h1>Request {view['index']}</h1><dl>{dl}</dl>",
             f"<h2>Headers</h2><table><thead><tr><th>Name</th><th>Value</th></tr></thead><tbody>{headers}</tbody>"
             "</table><p>Secret headers show their first characters only.</p>"]
    if view["body_base64"] is None:
        parts.append("<h2>Body</h2><p>Not kept: the receiver runs without bodies, or this request is older than "
                     "the bodies it keeps.</p>")
    else:
        parts += [f'<h2>Body</h2><pre id="pretty">{html.escape(view["body_pretty"])}</pre>',
                  "<h2>Raw body</h2>" + (f'<pre id="raw">{html.escape(view["body_text"])}</pre>'
                                         if view["body_text"] is not None else
                                         f'<p>Binary, base64:</p><pre id="raw">{view["body_base64"]}</pre>'),
                  "<h2>Replay with curl</h2><p>Sends the same bytes and headers to your endpoint. Set "
                  + ", ".join(f"<code>{v}</code>" for v in view["curl_variables"])
                  + " first (secret headers are not shown here). A receiver that checks signatures refuses a "
                  f"<code>webhook-timestamp</code> more than {TOLERANCE_SECONDS} s old.</p>"
                  '<button onclick="navigator.clipboard.writeText(document.getElementById(\'curl\').textContent)">'
                  f'Copy</button><pre id="curl">{html.escape(view["curl"])}</pre>']
    return _page(f"Webhook receiver: request {view['index']}", "".join(parts))
