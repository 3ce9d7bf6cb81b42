"""Parsing and validation of the generic siting problem (design.md §5 "Siting problem").

Every problem found is collected before raising one :class:`~geo.errors.InputError` whose
message (Simplified Chinese) names each wrong field, id and value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, get_args

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

from geo.crs import working_crs
from geo.errors import InputError
from geo.labels import MODEL_NAMES as LABEL_MODEL_NAMES

FloatArray = npt.NDArray[np.float64]
ModelName = Literal["mclp", "pmedian", "lscp"]
"""The siting models: maximal covering, p-median, location set covering."""
MODELS: tuple[ModelName, ...] = get_args(ModelName)
MODEL_NAMES: dict[str, str] = LABEL_MODEL_NAMES


def is_model(name: object) -> TypeGuard[ModelName]:
    """True when ``name`` is one of :data:`MODELS`."""
    return name in MODELS


@dataclass
class SitingProblem:
    """A validated siting problem in numeric form.

    Attributes
    ----------
    demand_ids, candidate_ids : list of str
    weights : ndarray (n,)
        Demand weights, all ≥ 0, positive sum.
    capacities : ndarray (m,)
        Capacity per candidate in demand-weight units; ``inf`` where none is given.
    cost : ndarray (n, m)
        Cost (metres for Euclidean problems) from each demand point to each candidate.
    model : ModelName
        ``"mclp"``, ``"pmedian"`` or ``"lscp"``.
    sites : int
        Number of sites to open (ignored by ``"lscp"``).
    radius_m : float or None
        Coverage radius in the units of ``cost``; required by mclp and lscp.
    """

    demand_ids: list[str]
    candidate_ids: list[str]
    weights: FloatArray
    capacities: FloatArray
    cost: FloatArray
    model: ModelName
    sites: int
    radius_m: float | None

    @property
    def capacitated(self) -> bool:
        """True when at least one candidate has a finite capacity."""
        return bool(np.isfinite(self.capacities).any())


def _num(v: Any) -> float | None:
    """``v`` as a finite float, or None when it is not a finite number."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _points(rows: Any, what: str, errs: list[str], *, need_xy: bool, value_key: str
            ) -> tuple[list[str], FloatArray, FloatArray]:
    """Validate a list of point objects; returns ids, xy (nan when absent) and the value column."""
    label = "需求点" if what == "demand" else "候选点"
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        errs.append(f"「{what}」应为对象列表（{label}）。")
        return [], np.zeros((0, 2)), np.zeros(0)
    ids: list[str] = []
    xy = np.full((len(rows), 2), np.nan)
    vals = np.full(len(rows), np.nan)
    for k, r in enumerate(rows):
        where = f"{what}[{k}]"
        if not isinstance(r, Mapping):
            errs.append(f"{where} 应为对象，实际为 {type(r).__name__}。")
            ids.append(f"#{k}")
            continue
        rid = r.get("id")
        if rid is None or str(rid).strip() == "":
            errs.append(f"{where} 缺少 id。")
        ids.append(str(rid) if rid is not None else f"#{k}")
        x, y = _num(r.get("x")), _num(r.get("y"))
        if x is None or y is None:
            if need_xy:
                errs.append(f"{label} {ids[-1]}（{where}）的坐标 x/y 缺失或不是有限数值："
                            f"x={r.get('x')!r}, y={r.get('y')!r}。")
        else:
            xy[k] = (x, y)
        raw = r.get(value_key, 1.0 if value_key == "weight" else None)
        if raw is None:
            continue
        v = _num(raw)
        if v is None or v < 0:
            kind = "权重 weight" if value_key == "weight" else "容量 capacity"
            errs.append(f"{label} {ids[-1]}（{where}）的{kind}={raw!r} 无效，应为 ≥ 0 的有限数值。")
        else:
            vals[k] = v
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        errs.append(f"{label} id 重复：{', '.join(dup[:10])}；每个 id 必须唯一。")
    return ids, xy, vals


def _euclidean(dxy: FloatArray, cxy: FloatArray, crs: Any) -> FloatArray:
    """Straight-line distances in metres (lon/lat projected to a working CRS first)."""
    if crs is not None and str(crs).upper() in ("EPSG:4326", "WGS84", "EPSG:4490"):
        allxy = np.vstack([dxy, cxy])
        target = working_crs(allxy[:, 0], allxy[:, 1])
        tr = Transformer.from_crs(str(crs), target, always_xy=True)
        px, py = tr.transform(allxy[:, 0], allxy[:, 1])
        allxy = np.column_stack([px, py])
        dxy, cxy = allxy[: len(dxy)], allxy[len(dxy):]
    return np.hypot(dxy[:, None, 0] - cxy[None, :, 0], dxy[:, None, 1] - cxy[None, :, 1])


def _cost(problem: Mapping[str, Any], dxy: FloatArray, cxy: FloatArray, errs: list[str]
          ) -> FloatArray | None:
    spec = problem.get("cost", {"metric": "euclidean"})
    metric = spec.get("metric") if isinstance(spec, Mapping) else None
    n, m = len(dxy), len(cxy)
    if metric == "euclidean":
        if np.isnan(dxy).any() or np.isnan(cxy).any():
            return None
        circ = _num(spec.get("circuity", 1.0))
        if circ is None or circ < 1.0:
            errs.append(f"cost.circuity={spec.get('circuity')!r} 无效，应为 ≥ 1 的数值（绕行系数）。")
            return None
        return _euclidean(dxy, cxy, problem.get("crs")) * circ
    if metric == "matrix":
        try:
            C = np.asarray(spec.get("values"), dtype=np.float64)
        except (TypeError, ValueError):
            errs.append("cost.values 不是数值矩阵；请给出 需求点数 × 候选点数 的数值二维数组。")
            return None
        if C.shape != (n, m):
            errs.append(f"cost.values 的形状为 {C.shape}，应为 需求点数 × 候选点数 = ({n}, {m})；"
                        "每行对应一个需求点，每列对应一个候选点。")
            return None
        bad = ~np.isfinite(C) | (C < 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            errs.append(f"cost.values 有 {int(bad.sum())} 个无效值（负数或非有限数），例如第 {i + 1} 行"
                        f"第 {j + 1} 列 = {C[i, j]!r}；代价必须是 ≥ 0 的有限数值。")
            return None
        return C
    errs.append(f"cost.metric={metric!r} 无效，应为 \"euclidean\" 或 \"matrix\"。")
    return None


def _model_options(problem: Mapping[str, Any], errs: list[str]
                   ) -> tuple[ModelName, int, float | None]:
    model = problem.get("model", "mclp")
    if not is_model(model):
        errs.append(f"model={model!r} 无效，应为 \"mclp\"、\"pmedian\" 或 \"lscp\"。")
    sites_raw = problem.get("sites", 1)
    sites = sites_raw if isinstance(sites_raw, int) and not isinstance(sites_raw, bool) else 0
    if model != "lscp" and sites < 1:
        errs.append(f"sites={sites_raw!r} 无效，应为 ≥ 1 的整数（要选的疏导点数）。")
    r_raw = problem.get("radius_m")
    radius = _num(r_raw) if r_raw is not None else None
    if r_raw is not None and (radius is None or radius <= 0):
        errs.append(f"radius_m={r_raw!r} 无效，应为 > 0 的数值（米）。")
        radius = None
    elif r_raw is None and model in ("mclp", "lscp"):
        errs.append(f"模型 {model} 需要覆盖半径 radius_m（米），例如 500。")
    return (model if is_model(model) else "mclp"), sites, radius


def parse_problem(problem: Mapping[str, Any]) -> SitingProblem:
    """Validate a siting problem given as JSON-like data and return it in numeric form.

    Raises
    ------
    InputError
        Listing every problem found (missing or empty demand, bad ids, negative weights, a cost
        matrix of the wrong shape, fewer candidates than sites, a radius covering nothing, ...).
    """
    if not isinstance(problem, Mapping):
        raise InputError("选址问题应为 JSON 对象（含 demand、candidates、model 等字段）。")
    errs: list[str] = []
    model, sites, radius = _model_options(problem, errs)
    metric = problem.get("cost", {}).get("metric") if isinstance(problem.get("cost"), Mapping) \
        else None
    need_xy = metric in (None, "euclidean")
    dem = problem.get("demand")
    if not dem:
        errs.append("没有需求点（demand 为空）；请至少提供一个需求点。")
    cands = problem.get("candidates")
    if not cands:
        errs.append("没有候选点（candidates 为空）；请提供候选点或用网格生成。")
    did, dxy, w = _points(dem or [], "demand", errs, need_xy=need_xy, value_key="weight")
    cid, cxy, cap = _points(cands or [], "candidates", errs, need_xy=need_xy, value_key="capacity")
    if cid and model != "lscp" and sites > len(cid):
        errs.append(f"候选点只有 {len(cid)} 个，少于要选的点数 sites={sites}；请减少 sites 或增加候选点。")
    if did and not errs and float(np.nansum(w)) <= 0:
        errs.append("所有需求点的权重都是 0，没有需要覆盖的需求。")
    C = _cost(problem, dxy, cxy, errs) if did and cid else None
    if (C is not None and radius is not None and model in ("mclp", "lscp") and not errs
            and not (radius >= C).any()):
        errs.append(f"覆盖半径 radius_m={radius:g} 内没有任何需求点与候选点配对（最近距离 "
                    f"{float(C.min()):.1f}）；请增大半径或检查坐标单位/坐标系。")
    if errs:
        raise InputError(f"选址问题有 {len(errs)} 处错误：\n" + "\n".join(f"  - {e}" for e in errs))
    assert C is not None
    return SitingProblem(did, cid, np.nan_to_num(w, nan=1.0), np.where(np.isnan(cap), np.inf, cap),
                         C, model, sites, radius)
