"""The run history page's FastAPI app, mounted by Airflow's api-server under history.URL_PREFIX (plugin.py).

Authentication is Airflow's: the user comes from the `Authorization: Bearer` header or the `_token` cookie
the Airflow UI sets (`get_user`, as Airflow's own API does); no token is refused with 401, a bad one with
403. Authorization is the auth manager's: the list only holds runs of the DAGs the user may read
(`get_authorized_dag_ids`), and a report is shown only when the user may read that DAG's runs.
The data is read from the metadata database, one page at a time.
"""

from __future__ import annotations

from typing import Annotated, Sequence

from fastapi import FastAPI, Query as Param, status
from fastapi.responses import HTMLResponse
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.configuration import conf
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.models.xcom import XComModel

from auth0_webhooks.names import DAG_ID
from auth0_webhooks.ui.history import CHART_RUNS, PAGE_SIZE, PIPELINE_DAG_PREFIX, REPORT_TASK_ID, REPORT_XCOM_KEYS, \
    Query, QueryError, RunRow, chart_points, is_project_dag, parse_query
from auth0_webhooks.ui.render import render_list, render_problem, render_report


def base_url() -> str:
    """Where the Airflow UI is, for links to a run's page: [api] base_url, or this server's root."""
    return (conf.get("api", "base_url", fallback="") or "").rstrip("/")


def readable_project_dags(user, session: Session) -> list[str]:
    """The project's DAGs (the default pipeline and every auth0_logs_to_webhook__<name>) the user may read."""
    project = session.scalars(select(DagModel.dag_id).where(or_(
        DagModel.dag_id == DAG_ID, DagModel.dag_id.startswith(PIPELINE_DAG_PREFIX, autoescape=True)))).all()
    allowed = get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)
    return sorted(dag_id for dag_id in project if dag_id in allowed and is_project_dag(dag_id))


def _selection(dag_ids: Sequence[str], failed_only: bool):
    condition = DagRun.dag_id.in_(dag_ids)
    return and_(condition, DagRun.state == "failed") if failed_only else condition


def _runs(session: Session, where, *, limit: int, offset: int = 0) -> list[RunRow]:
    """One page of runs, newest first, each with its report (one query for the runs, one for the reports)."""
    runs = session.execute(
        select(DagRun.id, DagRun.dag_id, DagRun.run_id, DagRun.run_type, DagRun.state, DagRun.start_date,
               DagRun.end_date)
        .where(where).order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(limit).offset(offset)).all()
    reports = _reports(session, [run.id for run in runs])
    return [RunRow(dag_id=run.dag_id, run_id=run.run_id, run_type=str(run.run_type), state=str(run.state),
                   start=run.start_date, end=run.end_date, report=reports.get(run.id)) for run in runs]


def _reports(session: Session, dag_run_ids: list[int]) -> dict[int, dict]:
    """{DagRun.id: report} of the runs whose `commit` task left one (XCom REPORT_XCOM_KEYS, the first found)."""
    if not dag_run_ids:
        return {}
    rows = session.execute(
        select(XComModel.dag_run_id, XComModel.key, XComModel.value).where(
            XComModel.dag_run_id.in_(dag_run_ids), XComModel.task_id == REPORT_TASK_ID,
            XComModel.key.in_(REPORT_XCOM_KEYS), XComModel.map_index == -1)).all()
    reports: dict[int, dict] = {}
    for row in sorted(rows, key=lambda row: REPORT_XCOM_KEYS.index(row.key), reverse=True):
        value = XComModel.deserialize_value(row)
        if isinstance(value, dict):
            reports[row.dag_run_id] = value  # the preferred key comes last and wins
    return reports


def list_page(user, session: Session, query: Query) -> str:
    dag_ids = readable_project_dags(user, session)
    selected = [query.dag_id] if query.dag_id else dag_ids
    selected = [dag_id for dag_id in selected if dag_id in dag_ids]  # a DAG the user may not read: nothing
    where = _selection(selected, query.failed_only)
    total = session.scalar(select(func.count()).select_from(DagRun).where(where)) or 0
    rows = _runs(session, where, limit=PAGE_SIZE, offset=query.offset)
    chart = chart_points(_runs(session, where, limit=CHART_RUNS))
    return render_list(query=query, rows=rows, total=total, dag_ids=dag_ids, chart=chart, base_url=base_url())


def report_page(user, session: Session, dag_id: str, run_id: str) -> tuple[int, str]:
    allowed = is_project_dag(dag_id) and get_auth_manager().is_authorized_dag(
        method="GET", access_entity=DagAccessEntity.RUN, user=user,
        details=DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id, session=session)))
    run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none() \
        if allowed else None
    if run is None:  # the same answer for a run that does not exist and one the user may not see
        return status.HTTP_404_NOT_FOUND, render_problem(f"No run {run_id!r} of DAG {dag_id!r} that you may see.", 404)
    row = RunRow(dag_id=run.dag_id, run_id=run.run_id, run_type=str(run.run_type), state=str(run.state),
                 start=run.start_date, end=run.end_date, report=_reports(session, [run.id]).get(run.id), note=run.note)
    return status.HTTP_200_OK, render_report(row, base_url=base_url())


def create_app() -> FastAPI:
    app = FastAPI(title="Auth0 logs to webhook: run history", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def runs(user: GetUserDep, session: SessionDep, dag_id: Annotated[str | None, Param()] = None,
             status_: Annotated[str | None, Param(alias="status")] = None,
             page: Annotated[str | None, Param()] = None) -> HTMLResponse:
        try:
            query = parse_query(dag_id, status_, page)
        except QueryError as problem:
            return HTMLResponse(render_problem(str(problem), 400), status_code=400)
        return HTMLResponse(list_page(user, session, query))

    @app.get("/run", response_class=HTMLResponse)
    def run(user: GetUserDep, session: SessionDep, dag_id: str, run_id: str) -> HTMLResponse:
        code, page = report_page(user, session, dag_id, run_id)
        return HTMLResponse(page, status_code=code)

    return app
