"""GeoDataFrame adapter for siting relocation points: scenarios, coverage curves, comparisons.

:func:`locate_relocation_points` turns demand points (:func:`geo.siting.inputs.stall_demand`) and
candidates into the numeric problem of :mod:`geo.siting.solve`, solves it, and describes each chosen
site: its catchment (the area within the walking radius), the demand and cases it serves and an
estimate of the vendors it could take, and returns them with the scenario's
:class:`~geo.siting.result.SitingSummary` as a :class:`~geo.siting.result.RelocationSites`
(:func:`site_relocation_points` gives the sites frame alone). Walking distances come from a travel model with a
``distance_matrix_m(from_xy, to_xy)`` method or a square ``distance_matrix(xy)`` (see
:mod:`geo.travel`), else straight line × circuity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from shapely import points
from shapely.geometry.base import BaseGeometry

from geo.crs import require_metric
from geo.errors import InputError
from geo.labels import MODEL_NAMES as MODEL_WORDS
from geo.labels import distance_method_text, method_text, round_metres, solver_text
from geo.safe_text import formula_safe_frame
from geo.siting.problem import MODEL_NAMES, ModelName, SitingProblem, is_model
from geo.siting.result import (
    RelocationSites,
    SitingSummary,
    mean_walk_m,
    sites_frame,
    summary_dict,
    summary_of,
)
from geo.siting.solve import SitingResult, solve_matrix

FloatArray = npt.NDArray[np.float64]
DEFAULT_CIRCUITY = 1.3
MAX_SQUARE_POINTS = 6000


def walking_distances(from_xy: FloatArray, to_xy: FloatArray, *, travel: Any = None,
                      circuity: float = DEFAULT_CIRCUITY) -> FloatArray:
    """Walking distances in metres, shape (len(from_xy), len(to_xy)).

    ``travel`` may offer ``distance_matrix_m(from_xy, to_xy)`` (used as is), a ``circuity``
    attribute (straight line × that factor) or a square ``distance_matrix(xy)`` (computed on the
    stacked points, up to 6,000 of them). Without ``travel``: straight line × ``circuity``.
    """
    a, b = np.asarray(from_xy, dtype=float), np.asarray(to_xy, dtype=float)
    if travel is None or (hasattr(travel, "circuity") and not hasattr(travel,
                                                                      "distance_matrix_m")):
        c = float(getattr(travel, "circuity", circuity))
        return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1]) * c
    if hasattr(travel, "distance_matrix_m"):
        return np.asarray(travel.distance_matrix_m(a, b), dtype=float)
    if len(a) + len(b) > MAX_SQUARE_POINTS:
        raise InputError(f"路网距离需要 {len(a)} 个需求点 + {len(b)} 个候选点的方阵，超过 "
                         f"{MAX_SQUARE_POINTS} 个点；请增大需求聚合网格 cell_m 或减少候选点。")
    full = np.asarray(travel.distance_matrix(np.vstack([a, b])), dtype=float)
    return full[: len(a), len(a):]


def _catchment(xy: FloatArray, radius_m: float, travel: Any, circuity: float) -> BaseGeometry:
    """Area within ``radius_m`` walking distance of a site."""
    if travel is None or (hasattr(travel, "circuity") and not hasattr(travel,
                                                                      "distance_matrix_m")):
        c = float(getattr(travel, "circuity", circuity))
        return points(xy[0], xy[1]).buffer(radius_m / c, quad_segs=16)
    step = radius_m / 12.0
    g = np.arange(-radius_m, radius_m + step / 2, step)
    gx, gy = np.meshgrid(g, g)
    inside = np.hypot(gx, gy).ravel() <= radius_m
    sample = np.column_stack([gx.ravel()[inside] + xy[0], gy.ravel()[inside] + xy[1]])
    d = walking_distances(xy[None, :], sample, travel=travel)[0]
    reach = sample[d <= radius_m]
    if not len(reach):
        return points(xy[0], xy[1]).buffer(step)
    return gpd.GeoSeries(points(reach[:, 0], reach[:, 1])).buffer(step * 0.75).union_all()


def _ids(frame: gpd.GeoDataFrame, col: str) -> list[str]:
    values = frame[col] if col in frame.columns else frame.index
    return [str(v) for v in values]


def _prepare(demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame
             ) -> tuple[gpd.GeoDataFrame, FloatArray, FloatArray, FloatArray]:
    crs = require_metric(demand.crs, what="需求点")
    if candidates.crs is None:
        raise InputError("候选点没有坐标参考系（CRS）；请用 set_crs() 指定。")
    cand = candidates.to_crs(crs)
    if demand.empty:
        raise InputError("没有需求点；请先用 stall_demand() 由摊贩案件生成需求。")
    if cand.empty:
        raise InputError("没有候选点（可能全部被排除）；请提供候选点图层或用 candidate_grid() 生成。")
    if "weight" not in demand:
        raise InputError("需求点缺少 weight 列。")
    w = demand["weight"].to_numpy(dtype=float)
    if not np.isfinite(w).all() or (w < 0).any():
        bad = [str(i) for i in np.asarray(_ids(demand, "demand_id"))[~(np.isfinite(w) & (w >= 0))]]
        raise InputError(f"需求点权重必须为 ≥ 0 的有限数值：{', '.join(bad[:10])}。")
    dxy = np.column_stack([demand.geometry.x, demand.geometry.y])
    cxy = np.column_stack([cand.geometry.x, cand.geometry.y])
    return cand, w, dxy, cxy


def _problem(demand: gpd.GeoDataFrame, cand: gpd.GeoDataFrame, w: FloatArray, C: FloatArray,
             model: str, sites: int, radius_m: float) -> SitingProblem:
    if not is_model(model):
        raise InputError(f"model={model!r} 无效，应为 mclp、pmedian 或 lscp。")
    if model != "lscp" and sites > len(cand):
        raise InputError(f"候选点只有 {len(cand)} 个，少于要选的点数 {sites}；请减少点数或增加候选点。")
    if model != "lscp" and sites < 1:
        raise InputError(f"sites={sites} 无效，应为 ≥ 1 的整数。")
    if w.sum() <= 0:
        raise InputError("所有需求点的权重都是 0。")
    if model != "pmedian" and not (radius_m >= C).any():
        raise InputError(f"步行半径 {radius_m:g} 米内没有任何需求点与候选点配对（最近 "
                         f"{C.min():.0f} 米）；请增大半径或检查坐标系。")
    cap = cand["capacity"].to_numpy(dtype=float) if "capacity" in cand else np.full(len(cand),
                                                                                    np.nan)
    return SitingProblem(_ids(demand, "demand_id"), _ids(cand, "candidate_id"), w,
                         np.where(np.isnan(cap), np.inf, cap), C, model, sites, radius_m)


def _describe(demand: gpd.GeoDataFrame, cand: gpd.GeoDataFrame, prob: SitingProblem,
              res: SitingResult, travel: Any, circuity: float) -> gpd.GeoDataFrame:
    C, w, r = prob.cost, prob.weights, float(prob.radius_m or 0.0)
    assign = res.assignment
    served_d = np.where(assign >= 0, C[np.arange(len(C)), np.maximum(assign, 0)], np.inf)
    cases = demand["case_count"].to_numpy(dtype=float) if "case_count" in demand else w
    rows = []
    for rank, j in enumerate(res.chosen, start=1):
        mine = assign == j
        cap = prob.capacities[j]
        rows.append({"candidate_id": prob.candidate_ids[j], "rank": rank,
                     "served_weight": float(w[mine].sum()),
                     "served_share": float(w[mine].sum() / w.sum()),
                     "served_cases": float(cases[mine].sum()),
                     "served_points": int(mine.sum()),
                     "vendors_estimate": int(min(mine.sum(), cap) if np.isfinite(cap)
                                             else mine.sum()),
                     "mean_walk_m": float(np.average(served_d[mine], weights=w[mine]))
                     if w[mine].sum() > 0 else float("nan")})
    xy = np.column_stack([cand.geometry.x, cand.geometry.y])[res.chosen]
    out = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=points(xy[:, 0], xy[:, 1]),
                           crs=cand.crs)
    out["catchment"] = gpd.GeoSeries([_catchment(p, r, travel, circuity) for p in xy],
                                     crs=cand.crs)
    return out


def locate_relocation_points(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    model: ModelName = "mclp",
    sites: int = 5,
    radius_m: float = 500.0,
    travel: Any = None,
    circuity: float = DEFAULT_CIRCUITY,
    time_limit_s: float = 30.0,
) -> RelocationSites:
    """Choose relocation points, describe each one and summarise the scenario.

    Parameters
    ----------
    demand : GeoDataFrame
        Demand points in a metric CRS with ``weight`` (and optionally ``demand_id``,
        ``case_count``), e.g. from :func:`geo.siting.inputs.stall_demand`.
    candidates : GeoDataFrame
        Candidate points (``candidate_id`` and optional ``capacity`` in demand-weight units).
    model : {"mclp", "pmedian", "lscp"}, default "mclp"
    sites : int, default 5
        Number of sites (ignored by ``"lscp"``).
    radius_m : float, default 500
        Walking radius (the 10-minute life circle of GB 50180-2018).
    travel : object, optional
        Travel model (see :func:`walking_distances`); default straight line × ``circuity``.
    circuity : float, default 1.3
    time_limit_s : float, default 30

    Returns
    -------
    RelocationSites
        ``sites``: one row per chosen site (Point geometry): ``candidate_id``, ``rank``,
        ``served_weight``, ``served_share``, ``served_cases``, ``served_points``,
        ``vendors_estimate`` (demand cells served, one active pitch each, capped by
        ``capacity``), ``mean_walk_m`` and a second geometry column ``catchment``;
        ``summary``: the scenario totals and the solver's proof (``optimal``, ``gap``,
        ``method``); ``assignment``: demand id → site id (or None).
    """
    cand, w, dxy, cxy = _prepare(demand, candidates)
    C = walking_distances(dxy, cxy, travel=travel, circuity=circuity)
    prob = _problem(demand, cand, w, C, model, sites, radius_m)
    res = solve_matrix(prob, time_limit_s=time_limit_s)
    out = _describe(demand, cand, prob, res, travel, circuity)
    covered = float(w[(res.assignment >= 0) & (C[np.arange(len(C)),
                                                  np.maximum(res.assignment, 0)] <= radius_m)
                      ].sum())
    summary = SitingSummary(
        model=prob.model, model_name=MODEL_NAMES[prob.model], sites=len(res.chosen),
        radius_m=radius_m, demand_weight=float(w.sum()), covered_weight=covered,
        covered_share=covered / float(w.sum()), objective=float(res.objective),
        optimal=bool(res.optimal), gap=float(res.gap), method=res.method, solver=res.solver,
        time_s=float(res.time_s),
        distance="network" if travel is not None and not hasattr(travel, "circuity")
        else f"straight line x {getattr(travel, 'circuity', circuity):g}")
    assignment = {d: (prob.candidate_ids[j] if j >= 0 else None)
                  for d, j in zip(prob.demand_ids, res.assignment, strict=True)}
    # The dict form in ``attrs`` is kept for callers written before RelocationSites.
    out.attrs["summary"] = summary.as_dict()
    out.attrs["assignment"] = assignment
    return RelocationSites(sites=out, summary=summary, assignment=assignment)


def site_relocation_points(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    model: ModelName = "mclp",
    sites: int = 5,
    radius_m: float = 500.0,
    travel: Any = None,
    circuity: float = DEFAULT_CIRCUITY,
    time_limit_s: float = 30.0,
) -> gpd.GeoDataFrame:
    """The ``sites`` frame of :func:`locate_relocation_points` (same parameters).

    Its ``attrs["summary"]`` holds :meth:`~geo.siting.result.SitingSummary.as_dict` and
    ``attrs["assignment"]`` the assignment; :func:`geo.siting.result.summary_of` reads the
    summary back as a :class:`~geo.siting.result.SitingSummary`.
    """
    return locate_relocation_points(
        demand, candidates, model=model, sites=sites, radius_m=radius_m, travel=travel,
        circuity=circuity, time_limit_s=time_limit_s).sites


def coverage_curve(
    demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, k_max: int = 10,
    radius_m: float = 500.0, travel: Any = None, circuity: float = DEFAULT_CIRCUITY,
    time_limit_s: float = 10.0,
) -> pd.DataFrame:
    """Maximal-covering solutions for 1…``k_max`` sites (one distance matrix for all).

    Returns
    -------
    DataFrame
        Indexed by ``sites``: ``covered_weight``, ``covered_share``, ``marginal_share``,
        ``optimal``, ``gap``, ``chosen`` (comma-separated candidate ids).
    """
    cand, w, dxy, cxy = _prepare(demand, candidates)
    C = walking_distances(dxy, cxy, travel=travel, circuity=circuity)
    rows, prev = [], 0.0
    for k in range(1, min(k_max, len(cand)) + 1):
        res = solve_matrix(_problem(demand, cand, w, C, "mclp", k, radius_m),
                           time_limit_s=time_limit_s)
        share = res.objective / float(w.sum())
        rows.append({"sites": k, "covered_weight": res.objective, "covered_share": share,
                     "marginal_share": share - prev, "optimal": res.optimal, "gap": res.gap,
                     "chosen": ",".join(_ids(cand, "candidate_id")[j] for j in res.chosen)})
        prev = share
    return pd.DataFrame(rows).set_index("sites")


_COMPARE = [("点位数", "sites"), ("覆盖需求权重", "covered_weight"), ("覆盖率", "covered_share"),
            ("是否已证明最优", "optimal"), ("最优性差距", "gap"), ("求解方法", "method")]


def compare_scenarios(a: RelocationSites | gpd.GeoDataFrame, b: RelocationSites | gpd.GeoDataFrame,
                      *, names: Sequence[str] = ("方案A", "方案B")) -> pd.DataFrame:
    """Side-by-side comparison of two results of :func:`locate_relocation_points` (or their
    ``sites`` frames, :func:`site_relocation_points`).

    Returns
    -------
    DataFrame
        One row per indicator (Chinese labels), one column per scenario and a ``差值``
        (B − A) column for numeric indicators.
    """
    cols = {}
    for name, result in zip(names, (a, b), strict=True):
        s, sites = summary_of(result, what=name), sites_frame(result)
        vals = [s[k] for _, k in _COMPARE]
        vals += [float(sites["served_cases"].sum()), int(sites["vendors_estimate"].sum()),
                 float(np.nansum(sites["mean_walk_m"] * sites["served_weight"])
                       / max(float(sites["served_weight"].sum()), 1e-12))]
        cols[name] = vals
    labels = [lab for lab, _ in _COMPARE] + ["覆盖案件数", "估计可容纳摊贩数", "平均步行距离（米）"]
    df = pd.DataFrame(cols, index=labels, dtype=object)
    df["差值"] = [
        (y - x) if isinstance(x, int | float) and not isinstance(x, bool) and
        isinstance(y, int | float) and not isinstance(y, bool) else ""
        for x, y in zip(df[names[0]], df[names[1]], strict=True)]
    return df


def _site_table(sites: gpd.GeoDataFrame) -> pd.DataFrame:
    pts = sites.to_crs("EPSG:4326")
    text = {c: sites[c].astype(str) if c in sites else pd.Series([""] * len(sites),
                                                                   index=sites.index)
            for c in ("site_name", "address", "community")}
    walk = sites["mean_walk_m"].map(lambda v: round_metres(v))
    return pd.DataFrame({
        "序号": sites["rank"].astype(int), "名称": text["site_name"], "位置": text["address"],
        "所在社区": text["community"],
        "经度": pts.geometry.x.round(6), "纬度": pts.geometry.y.round(6),
        "服务案件数": sites["served_cases"].round().astype(int),
        "服务需求占比（%）": (sites["served_share"] * 100.0).round(1),
        "服务需求权重": sites["served_weight"].round(1),
        "估计可容纳摊贩数": sites["vendors_estimate"].astype(int),
        "平均步行距离（米）": walk.astype("Int64"),
        "候选点编号": sites["candidate_id"].astype(str),
    })


def siting_tables(result: RelocationSites | gpd.GeoDataFrame) -> dict[str, pd.DataFrame]:
    """Sheets for an XLSX export, in Chinese and rounded for people: ``疏导点`` and ``方案概况``.

    ``疏导点``: one row per site with its name and address-like position (when the sites were
    named, :func:`geo.siting.district.name_sites`), whole cases, shares in percent with one
    decimal and walking distances rounded to 10 m. ``方案概况``: the model, solver, method and
    distance measure in words (:mod:`geo.labels`). Text cells are already formula-safe
    (:func:`geo.safe_text.formula_safe_frame`), so writing them with ``to_excel`` or
    :func:`geo.sheets.tabular.write_xlsx_tables` never makes a formula.
    """
    sites = sites_frame(result)
    table = _site_table(sites)
    s = summary_dict(result)
    share = float(s.get("covered_share", float("nan"))) * 100.0
    gap = float(s.get("gap", float("nan"))) * 100.0
    rows = [
        ("模型", MODEL_WORDS.get(str(s.get("model", "")), str(s.get("model_name", "")))),
        ("点位数", s.get("sites", "")),
        ("步行半径（米）", round_metres(s.get("radius_m", float("nan"))) or ""),
        ("覆盖需求占比（%）", round(share, 1) if np.isfinite(share) else ""),
        ("服务案件数合计", round(float(sites["served_cases"].sum()))),
        ("平均步行距离（米）", round_metres(mean_walk_m(sites)) or ""),
        ("是否已证明最优", "是" if s.get("optimal") else "否"),
        ("最优性差距（%）", round(gap, 1) if np.isfinite(gap) else ""),
        ("求解方法", method_text(s.get("method"))), ("求解器", solver_text(s.get("solver"))),
        ("距离计算", distance_method_text(s.get("distance"))),
        ("求解用时（秒）", round(float(s.get("time_s", 0.0)), 1)),
    ]
    summary = pd.DataFrame({"指标": [k for k, _ in rows], "数值": [v for _, v in rows]},
                           dtype=object)
    return {"疏导点": formula_safe_frame(table, strip_control=True),
            "方案概况": formula_safe_frame(summary, strip_control=True)}


def siting_geojson_frames(result: RelocationSites | gpd.GeoDataFrame
                          ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """WGS84 frames for GeoJSON export: the site points and their catchment polygons."""
    sites = sites_frame(result)
    keep = [c for c in sites.columns if c not in ("geometry", "catchment")]
    pts = gpd.GeoDataFrame(sites[keep].copy(), geometry=sites.geometry.values,
                           crs=sites.crs).to_crs("EPSG:4326")
    areas = gpd.GeoDataFrame(sites[["candidate_id", "rank", "served_weight"]].copy(),
                             geometry=sites["catchment"].values, crs=sites.crs).to_crs("EPSG:4326")
    return pts, areas
