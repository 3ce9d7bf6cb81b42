"""Relocation-point siting scenarios (疏导点选址方案) for planners.

``POST /api/siting/scenarios`` computes a scenario from the stored stall cases (demand weighted by
recency and market hours, :func:`geo.siting.inputs.stall_demand`), candidate points on a grid
inside the chosen squads' communities, and a maximal-covering (or p-median / set-covering) model
(:func:`geo.siting.frames.site_relocation_points`); the result is stored and can be listed, read
and drawn (``GET /maps/siting/{id}``). Admins and planners only. The computation and storage are
:mod:`service.scenarios`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse

from service import scenarios
from service.auth import Principal
from service.deps import SettingsDep, StorageDep, require_roles
from service.schemas import ErrorBody, ScenarioCreate

router = APIRouter(tags=["siting"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}}
Planner = Annotated[Principal, Depends(require_roles("admin", "planner"))]
ScenarioId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.post("/api/siting/scenarios", status_code=201, responses=_ERRORS,
             summary="计算疏导点选址方案")
def post_scenario(body: ScenarioCreate, storage: StorageDep, settings: SettingsDep,
                  user: Planner) -> dict[str, Any]:
    """Compute and store a scenario: chosen points (GeoJSON), walking catchments and totals
    (covered demand weight and share, optimality proof)."""
    return scenarios.create_scenario(storage, settings, body, user)


@router.get("/api/siting/scenarios", responses=_ERRORS, summary="选址方案列表")
def get_scenarios(storage: StorageDep, _user: Planner) -> list[dict[str, Any]]:
    """Stored scenarios with parameters and totals, newest first."""
    return scenarios.list_scenarios(storage)


@router.get("/api/siting/scenarios/{scenario_id}", responses=_ERRORS, summary="选址方案详情")
def get_one(scenario_id: ScenarioId, storage: StorageDep, _user: Planner) -> dict[str, Any]:
    """One scenario with its points and catchments."""
    return scenarios.get_scenario(storage, scenario_id)


@router.get("/maps/siting/{scenario_id}", response_class=HTMLResponse, summary="选址方案地图")
def scenario_map(scenario_id: ScenarioId, storage: StorageDep, settings: SettingsDep,
                 _user: Planner) -> HTMLResponse:
    """The scenario's points and catchments over the communities (assets from /static)."""
    return HTMLResponse(scenarios.scenario_map(storage, settings, scenario_id,
                                               static_prefix="/static/vendor"))
