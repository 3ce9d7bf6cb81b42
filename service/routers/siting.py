"""Relocation-point siting scenarios (疏导点选址方案) for planners.

``POST /api/siting/scenarios`` always answers ``202 Accepted`` with a job (``Location:
/api/siting/jobs/{id}``): the scenario is computed in the background (:mod:`service.siting_jobs`)
from the stored stall cases (demand weighted by recency and market hours), candidate points on a
grid inside the chosen squads' communities and a maximal-covering (or p-median / set-covering)
model. ``GET /api/siting/jobs/{id}`` says 排队 / 计算中 / 完成 / 失败 (``status``: queued,
running, done, failed), the progress, the scenario id(s) when done and the reason when failed.
One queued or running job per user (else 429). With ``compare_sites: [3, 5]`` one job computes
both counts and its result is the side-by-side page ``/siting/compare?a=ID&b=ID``.

Stored scenarios can be listed, read and drawn (``GET /maps/siting/{id}``,
``/maps/siting/compare?a=&b=``). Admins and planners only; one bound to a district computes for
its squads (the default ``squads``; another district's squad is 403) and sees only the scenarios
and jobs of its squads (any other, and a deployment-wide one, is 404 like a missing one). The
pages ``/siting/jobs/{id}`` (the job's progress, polled by ``static/js/siting.js``) and
``/siting/compare`` are here too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from service import scenarios, siting_compare, siting_jobs
from service.auth import Principal
from service.deps import SettingsDep, StorageDep, require_roles
from service.errors import PermissionDenied
from service.schemas import ErrorBody, SitingJobCreate, SitingJobPublic
from service.web import PageUser, login_redirect, render

router = APIRouter(tags=["siting"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody},
    429: {"model": ErrorBody}}
# a district-bound planner is scoped to its squads (service.scenarios.scoped / visible)
Planner = Annotated[Principal, Depends(require_roles("admin", "planner"))]
ScenarioId = Annotated[int, Path(ge=1, le=2_147_483_647)]
JobId = Annotated[int, Path(ge=1, le=2_147_483_647)]
PairId = Annotated[int, Query(ge=1, le=2_147_483_647)]
_PLANNERS = ("admin", "planner")


@router.post("/api/siting/scenarios", status_code=202, response_model=SitingJobPublic,
             responses=_ERRORS, summary="提交选址计算（后台任务）")
def post_scenario(body: SitingJobCreate, response: Response, storage: StorageDep,
                  settings: SettingsDep, user: Planner) -> dict[str, Any]:
    """Queue the computation of a scenario (or, with ``compare_sites``, of one per count) and
    answer 202 with the job; poll ``Location`` (``/api/siting/jobs/{id}``) until ``status`` is
    ``done`` (then ``scenario_id``) or ``failed`` (then ``error``). 429 while the caller has a
    job queued or running."""
    job = siting_jobs.submit(storage, settings, body, user)
    response.headers["Location"] = f"/api/siting/jobs/{job['id']}"
    return job


@router.get("/api/siting/jobs/{job_id}", response_model=SitingJobPublic, responses=_ERRORS,
            summary="选址计算任务状态")
def get_job(job_id: JobId, storage: StorageDep, user: Planner) -> dict[str, Any]:
    """The job: 排队 / 计算中 / 完成 / 失败, progress, the scenario id(s) and the result page when
    done, the reason when failed (a job cut off by a server restart shows as failed)."""
    return siting_jobs.get_job(storage, job_id, user=user)


@router.get("/api/siting/scenarios", responses=_ERRORS, summary="选址方案列表")
def get_scenarios(storage: StorageDep, user: Planner) -> list[dict[str, Any]]:
    """Stored scenarios the caller may see, with parameters and totals, newest first."""
    return scenarios.list_scenarios(storage, user=user)


@router.get("/api/siting/scenarios/{scenario_id}", responses=_ERRORS, summary="选址方案详情")
def get_one(scenario_id: ScenarioId, storage: StorageDep, user: Planner) -> dict[str, Any]:
    """One scenario with its points, catchments and stall demand."""
    return scenarios.get_scenario(storage, scenario_id, user=user)


@router.get("/maps/siting/compare", response_class=HTMLResponse, responses=_ERRORS,
            summary="两个选址方案对比地图")
def compare_map(a: PairId, b: PairId, storage: StorageDep, settings: SettingsDep,
                user: Planner) -> HTMLResponse:
    """Both scenarios' points and catchments in two colours over the stall demand."""
    return HTMLResponse(siting_compare.compare_map(storage, settings, a, b, user=user,
                                                   static_prefix="/static/vendor"))


@router.get("/maps/siting/{scenario_id}", response_class=HTMLResponse, summary="选址方案地图")
def scenario_map(scenario_id: ScenarioId, storage: StorageDep, settings: SettingsDep,
                 user: Planner) -> HTMLResponse:
    """The scenario's points and catchments over the communities (assets from /static)."""
    return HTMLResponse(scenarios.scenario_map(storage, settings, scenario_id, user=user,
                                               static_prefix="/static/vendor"))


def _planner(user: Principal) -> None:
    if user.role not in _PLANNERS:
        raise PermissionDenied("选址方案仅对规划人员和管理员开放。")


@router.get("/siting/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: JobId, storage: StorageDep, user: PageUser) -> Response:
    """The job's progress (the page polls the API); a finished job goes straight to its result."""
    if user is None:
        return login_redirect(request)
    _planner(user)
    job = siting_jobs.get_job(storage, job_id, user=user)
    if job["status"] == "done" and job["result_url"]:
        return RedirectResponse(job["result_url"], status_code=303)
    return render(request, "siting_job.html", user, job=job)


@router.get("/siting/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(request: Request, a: PairId, b: PairId, storage: StorageDep,
                 user: PageUser) -> Response:
    """Two scenarios side by side: one map with both site sets, the comparison table and each
    scenario's sites."""
    if user is None:
        return login_redirect(request)
    _planner(user)
    return render(request, "siting_compare.html", user,
                  **siting_compare.compare_page(storage, a, b, user=user))
