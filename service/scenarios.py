"""Relocation-point siting scenarios (疏导点选址方案): compute, store, list, read and draw them.

A scenario is computed from the stored stall cases (demand weighted by recency and market hours,
:func:`geo.siting.inputs.stall_demand`), candidate points on a grid inside the chosen squads'
communities, and a maximal-covering (or p-median / set-covering) model
(:func:`geo.siting.frames.site_relocation_points`); the result is stored as JSON (summary, sites
and catchments as GeoJSON). The API (:mod:`service.routers.siting`) and the planner page
(:mod:`service.routers.pages`) both call these functions.

A planner or admin bound to a district computes only for its squads (:func:`scoped`: they are
the default) and sees only the scenarios of its squads (:func:`visible`); a missing and an
invisible scenario get the same 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.errors import InputError, NotFoundError
from service.auth import Principal
from service.errors import PermissionDenied
from service.geojson import frame_features
from service.models import SitingScenario
from service.schemas import ScenarioCreate
from service.settings import Settings
from service.storage import CaseFilter, Storage

SITE_PROPS = ["candidate_id", "rank", "site_name", "community", "address", "landmark",
              "landmark_m", "served_weight", "served_share", "served_cases", "served_points",
              "vendors_estimate", "mean_walk_m"]
"""The properties of each chosen site in a stored result."""
DEMAND_PROPS = ["demand_id", "weight", "case_count"]
"""The properties of each stall-demand point in a stored result (the map's demand layer)."""

Progress = Callable[[float, str], None]
"""A progress callback: the fraction done (0–1) and what is being done, in Chinese."""
Body = TypeVar("Body", bound=ScenarioCreate)
MAX_SQUADS = 20
"""The most squads one scenario covers (:attr:`ScenarioCreate.squads`)."""


def _landmarks(settings: Settings) -> gpd.GeoDataFrame | None:
    """Exclusion layers (schools, main roads, green space) of the deployment, if it has them."""
    return _read_landmarks(settings.boundaries_dir)


@lru_cache(maxsize=4)
def _read_landmarks(directory: Path | None) -> gpd.GeoDataFrame | None:
    """Read once per boundary folder: the files do not change while the service runs."""
    from geo.boundaries import load_default
    from geo.errors import XunchaError

    try:
        area = load_default(directory) if directory else load_default()
    except (XunchaError, OSError):
        return None
    return area.landmarks


def check_squads(storage: Storage, squads: list[str] | None) -> None:
    """Raise :class:`NotFoundError` (naming the known squads) if a squad in ``squads`` is unknown."""
    known = {s["id"] for s in storage.squads()}
    unknown = [s for s in squads or () if s not in known]
    if unknown:
        raise NotFoundError(f"没有中队 {'、'.join(unknown)}；可用：{'、'.join(sorted(known))}。")


def visible(params: Mapping[str, Any] | None, user: Principal | None) -> bool:
    """Whether a scenario or job computed with ``params`` is visible to ``user``.

    A deployment-wide user (and ``None``: the tools) sees every one; a district-bound user only
    those whose ``squads`` are all theirs (a deployment-wide scenario, ``squads`` None, spans
    other districts: not visible).
    """
    allowed = None if user is None else user.squads
    if allowed is None:
        return True
    chosen = (params or {}).get("squads") or ()
    return bool(chosen) and set(chosen) <= set(allowed)


def scoped(body: Body, user: Principal) -> Body:
    """``body`` within ``user``'s scope: a district-bound user's ``squads`` default to theirs.

    Raises
    ------
    PermissionDenied
        A squad of ``body.squads`` is outside the user's district, or the district has no squad.
    InputError
        The district has more squads than one scenario covers and none were chosen.
    """
    allowed = user.squads
    if allowed is None:
        return body
    where = f"你绑定区县 {user.district_code}" if user.district_code else "你的范围"
    if not allowed:
        raise PermissionDenied(f"{where}还没有中队，无法选址；请先用 xuncha boundaries import 导入"
                               "该区县的中队。")
    outside = [s[:32] for s in body.squads or () if s not in allowed]
    if outside:
        raise PermissionDenied(f"无权为中队「{'、'.join(outside)}」选址（{where}，可选中队："
                               f"{'、'.join(allowed)}）。")
    if body.squads:
        return body
    if len(allowed) > MAX_SQUADS:
        raise InputError(f"{where}，共 {len(allowed)} 个中队，一个方案最多 {MAX_SQUADS} 个；"
                         "请在范围（squads）中选出要考虑的中队。")
    return body.model_copy(update={"squads": list(allowed)})


def _has_stalls(cases: pd.DataFrame) -> bool:
    """True if a case is of a stall category (by code or name, as the demand counts them)."""
    from geo.siting.inputs import STALL_CATEGORIES, STALL_NAMES

    names = cases["category_name"].astype(str) if "category_name" in cases else None
    codes = cases["category"].astype(str).str.strip()
    hit = codes.isin(STALL_CATEGORIES) | codes.isin(STALL_NAMES)
    return bool((hit | names.isin(STALL_NAMES)).any() if names is not None else hit.any())


def _no_progress(_done: float, _what: str) -> None:
    return None


def run_scenario(storage: Storage, settings: Settings, params: ScenarioCreate, *,
                 progress: Progress = _no_progress) -> dict[str, Any]:
    """Compute a scenario and return its JSON result (summary, sites, catchments, demand).

    ``progress`` is told the fraction done and the step (读取案件, 求解选址模型 …).

    Raises
    ------
    NotFoundError
        A squad in ``params.squads`` does not exist.
    InputError
        No case in the chosen squads and days.
    """
    from geo.siting.district import relocation_scenario
    from geo.siting.frames import siting_geojson_frames
    from geo.siting.inputs import STALL_NAMES

    check_squads(storage, params.squads)
    squads = tuple(params.squads) if params.squads else None
    progress(0.05, "读取案件")
    at = pd.Timestamp.now(tz=settings.timezone).normalize() + pd.Timedelta(days=1)
    cases = storage.query_cases(CaseFilter(squads=squads, precise=True,
                                           start=at - pd.Timedelta(days=params.days),
                                           end=at))
    if len(cases) == 0:
        raise InputError("所选范围和时段内没有案件，无法选址；请扩大时段或中队范围。")
    if not _has_stalls(cases):
        raise InputError(f"所选范围最近 {params.days} 天内没有摊贩类案件（{'、'.join(STALL_NAMES)}），"
                         "无法选址；请扩大时段或换一个中队范围。")
    progress(0.2, "生成候选点并求解选址模型")
    scenario = relocation_scenario(
        cases, at=at, communities=storage.communities(squads=squads),
        landmarks=_landmarks(settings), model=params.model, sites=params.sites,
        radius_m=params.radius_m, spacing_m=params.spacing_m, window_days=params.days,
        working_crs=settings.working_crs, time_limit_s=20.0)
    progress(0.9, "整理结果")
    sites, demand, kept = scenario.sites, scenario.demand, scenario.candidates
    pts, areas = siting_geojson_frames(sites)
    summary = {k: (v.item() if hasattr(v, "item") else v)
               for k, v in sites.attrs.get("summary", {}).items()}
    return {"summary": summary, "n_demand": len(demand), "n_candidates": len(kept),
            "sites": {"type": "FeatureCollection",
                      "features": frame_features(pts, id_column="candidate_id",
                                                 properties=SITE_PROPS)},
            "catchments": {"type": "FeatureCollection",
                           "features": frame_features(areas, id_column="candidate_id")},
            "demand": {"type": "FeatureCollection",
                       "features": frame_features(demand.to_crs(4326), id_column="demand_id",
                                                  properties=DEMAND_PROPS)}}


def _public(row: SitingScenario, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "name": row.name, "created_at": row.created_at.isoformat(),
                           "created_by": row.created_by, "params": row.params,
                           "summary": (row.result or {}).get("summary", {})}
    if full:
        out.update({k: v for k, v in (row.result or {}).items() if k != "summary"})
    return out


def default_name(body: ScenarioCreate) -> str:
    """The scenario's name: as typed, else ``5 个点 · 500 米``."""
    return body.name.strip() or f"{body.sites} 个点 · {body.radius_m:g} 米"


def store_scenario(session: Session, body: ScenarioCreate, result: dict[str, Any],
                   created_by: str) -> dict[str, Any]:
    """Store a computed ``result`` of ``body`` in ``session``; the stored scenario (public form)."""
    row = SitingScenario(name=default_name(body), created_by=created_by,
                         params=body.model_dump(), result=result)
    session.add(row)
    session.flush()
    return _public(row)


def create_scenario(storage: Storage, settings: Settings, body: ScenarioCreate,
                    user: Principal) -> dict[str, Any]:
    """Compute, store and return a scenario in the caller's thread (``user`` is recorded as its
    author); the API and the planner page run it as a job (:mod:`service.siting_jobs`)."""
    result = run_scenario(storage, settings, body)
    with storage.begin() as session:
        return store_scenario(session, body, result, user.username)


def list_scenarios(storage: Storage, *, user: Principal | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
    """Stored scenarios ``user`` may see (:func:`visible`), newest first (without features)."""
    newest = select(SitingScenario).order_by(SitingScenario.id.desc())
    with storage.begin() as session:
        if user is not None and user.squads is not None:  # the parameters are small
            pairs = session.execute(select(SitingScenario.id, SitingScenario.params)
                                    .order_by(SitingScenario.id.desc())).all()
            ids = [i for i, params in pairs if visible(params, user)][:limit]
            newest = newest.where(SitingScenario.id.in_(ids))
        rows = session.scalars(newest.limit(limit)).all()
        return [_public(r, full=False) for r in rows]


def get_scenario(storage: Storage, scenario_id: int, *,
                 user: Principal | None = None) -> dict[str, Any]:
    """One stored scenario; :class:`NotFoundError` if there is none or ``user`` may not see it
    (:func:`visible`; the same answer, so a district user learns nothing of other districts)."""
    with storage.begin() as session:
        row = session.get(SitingScenario, scenario_id)
        if row is None or not visible(row.params, user):
            raise NotFoundError(f"没有编号为 {scenario_id} 的选址方案。")
        return _public(row)


def demand_frame(result: dict[str, Any]) -> gpd.GeoDataFrame | None:
    """The stall-demand points of a stored scenario (``weight``, ``case_count``; EPSG:4326), or
    None for a scenario stored before demand was kept."""
    feats = result.get("demand", {}).get("features", [])
    return gpd.GeoDataFrame.from_features(feats, crs=4326) if feats else None


def scenario_frames(result: dict[str, Any]) -> tuple[gpd.GeoDataFrame | None,
                                                       gpd.GeoDataFrame | None]:
    """The ``relocation`` and ``catchments`` map layers of a stored scenario."""
    feats = result.get("sites", {}).get("features", [])
    if not feats:
        return None, None
    pts = gpd.GeoDataFrame.from_features(feats, crs=4326)
    pts["site_id"] = pts["candidate_id"]
    pts["covered_weight"] = pts["served_weight"]
    pts["radius_m"] = result.get("params", {}).get("radius_m")
    areas = gpd.GeoDataFrame.from_features(result.get("catchments", {}).get("features", []),
                                           crs=4326)
    if len(areas):
        areas["site_id"] = areas["candidate_id"]
    return pts, areas if len(areas) else None


def scenario_map(storage: Storage, settings: Settings, scenario_id: int, *,
                 static_prefix: str, user: Principal | None = None) -> str:
    """The map page (HTML) of stored scenario ``scenario_id`` (404 unless ``user`` may see it):
    its points and catchments over the communities and the stall demand, with the map scripts
    loaded from ``static_prefix``."""
    from geo.maps.squad import squad_map

    sc = get_scenario(storage, scenario_id, user=user)
    pts, areas = scenario_frames(sc)
    squads = tuple(sc["params"].get("squads") or ()) or None
    m = squad_map(communities=storage.communities(squads=squads), relocation=pts,
                  catchments=areas, demand=demand_frame(sc), **settings.map_options(),
                  static_prefix=static_prefix, title=f"疏导点选址：{sc['name']}")
    return str(m.get_root().render())
