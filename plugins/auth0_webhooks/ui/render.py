"""The run history page as HTML: pure functions of the rows, no Airflow, no external asset (the chart is
inline SVG, the page's only script submits the DAG selector)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from auth0_webhooks.ui.history import MISSING, PAGE_SIZE, ChartPoint, Query, RunRow, page_count, report_link, run_url, \
    show, show_lag, show_time

TITLE = "Auth0 logs to webhook: run history"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px 24px;color:#1f2937;background:#fff}
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:20px 0 8px}
a{color:#0b63c5;text-decoration:none}a:hover{text-decoration:underline}
.controls{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin-bottom:12px}
.tabs a{padding:4px 10px;border:1px solid #cbd5e1;border-radius:6px;margin-right:4px}
.tabs a.active{background:#0b63c5;color:#fff;border-color:#0b63c5}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e5e7eb;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f8fafc;font-weight:600}td.start,td.end,td.status{white-space:nowrap}
td.checkpoint code{font-size:11px;word-break:break-all}td.run{word-break:break-all}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.state{padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;background:#64748b}
.state-success{background:#15803d}.state-failed{background:#b91c1c}.state-running{background:#0369a1}
.state-queued{background:#a16207}.pager{margin:10px 0;display:flex;gap:12px;align-items:center}
.muted{color:#64748b}.error{background:#fef2f2;border:1px solid #fecaca;padding:8px;white-space:pre-wrap}
.warnings li{color:#92400e}dl.report{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:14px}
dl.report dt{font-weight:600}dl.report dd{margin:0;word-break:break-all}pre.note{background:#f8fafc;padding:8px;white-space:pre-wrap}
.legend span{margin-right:16px;font-size:12px}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def _document(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def _state(state: str) -> str:
    return f'<span class="state state-{escape(state)}">{escape(state)}</span>'


def render_list(*, query: Query, rows: list[RunRow], total: int, dag_ids: list[str], chart: list[ChartPoint],
                base_url: str) -> str:
    """The list: filters, one page of runs (newest first), pager, and the chart of the selection.

    `dag_ids`: the project's DAGs the user may read (the selector shows when there are several);
    `total`: how many runs the selection holds; `chart`: its newest runs, oldest first."""
    if not dag_ids:
        body = (f"<h1>{escape(TITLE)}</h1><p id=\"no-access\" class=\"muted\">You have access to none of this "
                "project's DAGs, or none has been parsed yet: there are no runs to show.</p>")
        return _document(TITLE, body)
    pages = page_count(total)
    parts = [f"<h1>{escape(TITLE)}</h1>", '<div class="controls">', _tabs(query)]
    if len(dag_ids) > 1:
        parts.append(_dag_selector(query, dag_ids))
    parts.append(f'<span id="summary" class="muted">{total} run{"s" if total != 1 else ""}'
                 f'{" failed" if query.failed_only else ""}; page {query.page} of {pages}</span></div>')
    parts.append(_table(rows, base_url))
    parts.append(_pager(query, pages))
    parts.append("<h2>Logs delivered and lag, per run</h2>")
    parts.append(render_chart(chart))
    return _document(TITLE, "".join(parts))


def _tabs(query: Query) -> str:
    links = [(False, "All runs", "tab-all"), (True, "Failed only", "tab-failed")]
    return '<span class="tabs">' + "".join(
        f'<a id="{ident}" class="{"active" if query.failed_only is failed else ""}" '
        f'href="{escape(query.link(failed_only=failed, page=1))}">{label}</a>' for failed, label, ident in links) + "</span>"


def _dag_selector(query: Query, dag_ids: list[str]) -> str:
    options = [f'<option value=""{"" if query.dag_id else " selected"}>all pipelines</option>']
    options += [f'<option value="{escape(dag_id)}"{" selected" if dag_id == query.dag_id else ""}>{escape(dag_id)}'
                "</option>" for dag_id in dag_ids]
    hidden = '<input type="hidden" name="status" value="failed">' if query.failed_only else ""
    return (f'<form method="get" action="./">DAG <select id="dag-selector" name="dag_id" '
            f'onchange="this.form.submit()">{"".join(options)}</select>{hidden}'
            '<noscript><button type="submit">Show</button></noscript></form>')


COLUMNS = ("DAG", "Run id", "Kind", "Status", "Start (UTC)", "End (UTC)", "Logs delivered", "Checkpoint after", "Lag")


def _table(rows: list[RunRow], base_url: str) -> str:
    head = "".join(f"<th>{label}</th>" for label in COLUMNS)
    if not rows:
        return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody></tbody></table><p id="empty" class="muted">No runs.</p>'
    body = "".join(_row(row, base_url) for row in rows)
    return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _row(row: RunRow, base_url: str) -> str:
    cells = [
        ("dag", escape(row.dag_id)),
        ("run", f'<a class="report-link" href="{escape(report_link(row.dag_id, row.run_id))}">{escape(row.run_id)}</a> '
                f'<a class="airflow-link muted" target="_top" title="the run in Airflow" '
                f'href="{escape(run_url(base_url, row.dag_id, row.run_id))}">&#8599;</a>'),
        ("kind", escape(row.kind)),
        ("status", _state(row.state)),
        ("start", escape(show_time(row.start))),
        ("end", escape(show_time(row.end))),
        ("delivered num", escape(show(row.logs_delivered))),
        ("checkpoint", f"<code>{escape(show(row.checkpoint_after))}</code>"),
        ("lag num", escape(show_lag(row.lag_seconds))),
    ]
    tds = "".join(f'<td class="{css}">{content}</td>' for css, content in cells)
    return (f'<tr class="run" data-dag-id="{escape(row.dag_id)}" data-run-id="{escape(row.run_id)}" '
            f'data-state="{escape(row.state)}">{tds}</tr>')


def _pager(query: Query, pages: int) -> str:
    newer = (f'<a id="newer" href="{escape(query.link(page=query.page - 1))}">&#8249; newer</a>'
             if query.page > 1 else '<span class="muted">&#8249; newer</span>')
    older = (f'<a id="older" href="{escape(query.link(page=query.page + 1))}">older &#8250;</a>'
             if query.page < pages else '<span class="muted">older &#8250;</span>')
    return f'<div class="pager">{newer}<span>page {query.page} of {pages}, {PAGE_SIZE} a page</span>{older}</div>'


# ---- the chart ----

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 240, 56, 64, 12, 36
DELIVERED_COLOUR, LAG_COLOUR = "#0b63c5", "#d97706"


def render_chart(points: list[ChartPoint]) -> str:
    """Inline SVG: logs delivered per run as bars (left axis), lag as a line (right axis), time across."""
    if not points:
        return '<p id="chart-empty" class="muted">No run has started yet: nothing to chart.</p>'
    start, end = points[0].moment, points[-1].moment
    span = (end - start).total_seconds() or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_delivered = max([p.logs_delivered or 0 for p in points] + [1])
    lags = [p.lag_seconds for p in points if p.lag_seconds is not None]
    top_lag = max(lags + [1.0])
    bar = max(2.0, min(18.0, plot_w / (len(points) * 1.6)))

    pad = bar  # the first and last bars stay inside the axes

    def x(moment: datetime) -> float:
        offset = (moment - start).total_seconds() / span if len(points) > 1 else 0.5
        return LEFT + pad + offset * (plot_w - 2 * pad)

    def y(value: float, top: float) -> float:
        return TOP + plot_h - (value / top) * plot_h

    shapes = []
    for point in points:
        delivered = point.logs_delivered
        if delivered is not None:
            height = plot_h - (y(delivered, top_delivered) - TOP)
            shapes.append(
                f'<rect class="point delivered" data-value="{delivered}" data-run-id="{escape(point.run_id)}" '
                f'x="{x(point.moment) - bar / 2:.1f}" y="{y(delivered, top_delivered):.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{DELIVERED_COLOUR}" fill-opacity="0.75">'
                f"<title>{escape(point.run_id)}: {delivered} logs delivered</title></rect>")
    lag_points = [p for p in points if p.lag_seconds is not None]
    if len(lag_points) > 1:
        path = " ".join(f"{x(p.moment):.1f},{y(p.lag_seconds, top_lag):.1f}" for p in lag_points)
        shapes.append(f'<polyline class="lag-line" points="{path}" fill="none" stroke="{LAG_COLOUR}" stroke-width="2"/>')
    for point in lag_points:
        shapes.append(
            f'<circle class="point lag" data-value="{point.lag_seconds:g}" data-run-id="{escape(point.run_id)}" '
            f'cx="{x(point.moment):.1f}" cy="{y(point.lag_seconds, top_lag):.1f}" r="3.5" fill="{LAG_COLOUR}">'
            f"<title>{escape(point.run_id)}: lag {escape(show_lag(point.lag_seconds))}</title></circle>")
    axes = [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#94a3b8"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="{DELIVERED_COLOUR}"/>',
        f'<line x1="{LEFT + plot_w}" y1="{TOP}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="{LAG_COLOUR}"/>',
        _label(LEFT - 6, TOP + 4, str(top_delivered), "end", DELIVERED_COLOUR),
        _label(LEFT - 6, TOP + plot_h, "0", "end", DELIVERED_COLOUR),
        _label(LEFT + plot_w + 6, TOP + 4, show_lag(top_lag) if lags else MISSING, "start", LAG_COLOUR),
        _label(LEFT + plot_w + 6, TOP + plot_h, "0 s", "start", LAG_COLOUR),
        _label(LEFT, HEIGHT - 12, f"{show_time(start)} UTC", "start", "#475569"),
        _label(LEFT + plot_w, HEIGHT - 12, f"{show_time(end)} UTC", "end", "#475569"),
    ]
    legend = (f'<div class="legend"><span><i class="swatch" style="background:{DELIVERED_COLOUR}"></i>logs delivered '
              f'(left axis)</span><span><i class="swatch" style="background:{LAG_COLOUR}"></i>lag (right axis)</span>'
              f'<span class="muted">{len(points)} run{"s" if len(points) != 1 else ""}'
              f'{"" if lags else "; no report of these runs gives a lag"}</span></div>')
    return (f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="logs delivered and lag per run">'
            f'{"".join(axes)}{"".join(shapes)}</svg>{legend}')


def _label(x: float, y: float, text: str, anchor: str, colour: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="{anchor}" fill="{colour}">{escape(text)}</text>'


# ---- one run ----


def render_report(row: RunRow, *, base_url: str) -> str:
    """One run's full report: every field of the report, its warnings and error, its note, links."""
    items = "".join(
        f'<dt>{escape(label)}</dt><dd data-field="{escape(key)}">'
        f"{escape(show_lag(row.lag_seconds) if key == 'lag_seconds' else show(value))}</dd>"
        for key, label, value in row.report_items() if key not in ("warnings", "error"))
    parts = [
        '<p><a id="back" href="./">&#8249; run history</a> &middot; '
        f'<a id="airflow-run" target="_top" href="{escape(run_url(base_url, row.dag_id, row.run_id))}">'
        "the run in Airflow &#8599;</a></p>",
        f"<h1>{escape(row.dag_id)} &middot; {escape(row.run_id)}</h1>",
        f'<p>{_state(row.state)} <span class="muted">{escape(row.kind)} run; started {escape(show_time(row.start))} UTC, '
        f"ended {escape(show_time(row.end))} UTC</span></p>",
    ]
    if row.report is None:
        parts.append('<p id="no-report" class="muted">This run left no report (it did not reach its '
                     '<code>commit</code> task, or is still running).</p>')
    parts.append(f'<h2>Report</h2><dl id="report" class="report">{items}</dl>')
    parts.append("<h2>Warnings</h2>" + (
        '<ul id="warnings" class="warnings">' + "".join(f"<li>{escape(w)}</li>" for w in row.warnings) + "</ul>"
        if row.warnings else '<p id="warnings" class="muted">none</p>'))
    parts.append("<h2>Error</h2>" + (f'<div id="error" class="error">{escape(row.error)}</div>' if row.error
                                     else '<p id="error" class="muted">none</p>'))
    if row.note:
        parts.append(f'<h2>Note</h2><pre id="note" class="note">{escape(row.note)}</pre>')
    return _document(f"{row.run_id}: {TITLE}", "".join(parts))


def render_problem(message: str, status: int) -> str:
    """A refused request's page (bad parameter, unknown run)."""
    return _document(TITLE, f'<h1>{escape(TITLE)}</h1><p id="problem" class="error" data-status="{status}">'
                            f'{escape(message)}</p><p><a href="./">&#8249; run history</a></p>')
