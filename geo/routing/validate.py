"""Validate a patrol-problem dict (design.md §5) and build a :class:`PatrolProblem`.

Every problem is collected before raising one :class:`~geo.errors.ValidationError`; each names the
element (``stops[3]（id=h1）.windows_s``), the value and how to fix it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from geo.crs import require_metric, working_crs
from geo.errors import CRSError, Problem, ValidationError
from geo.routing.model import OBJECTIVES, Objective, PatrolProblem, check_reachability
from geo.travel import WALK_SPEED_MPS

_WHAT = "巡查问题"


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, value: Any, message: str) -> None:
        text = "" if value is None else str(value)
        self.problems.append(Problem(0, where, text[:80], message))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _where(kind: str, i: int, item: Any, key: str = "") -> str:
    ident = item.get("id") if isinstance(item, dict) else None
    base = f"{kind}[{i}]" + (f"（id={ident}）" if ident is not None else "")
    return f"{base}.{key}" if key else base


def _ids(c: _Collector, kind: str, items: list[Any], seen: set[str]) -> list[str]:
    out = []
    for i, item in enumerate(items):
        ident = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item, dict):
            c.add(f"{kind}[{i}]", item, "应为对象（JSON object）。")
        elif not isinstance(ident, str) or not ident.strip():
            c.add(_where(kind, i, item, "id"), ident, "缺少 id 或 id 不是非空字符串。")
        elif ident in seen:
            c.add(_where(kind, i, item, "id"), ident, "id 重复；站点与巡查点的 id 必须各不相同。")
        out.append(str(ident))
        if isinstance(ident, str):
            seen.add(ident)
    return out


def _list(c: _Collector, problem: dict[str, Any], key: str, *, nonempty: bool) -> list[Any]:
    value = problem.get(key, [] if not nonempty else None)
    if not isinstance(value, list):
        c.add(key, value, f"缺少「{key}」或不是列表。")
        return []
    if nonempty and not value:
        c.add(key, "[]", f"「{key}」不能为空。")
    return value


def _xy(c: _Collector, kind: str, items: list[Any], need: bool) -> np.ndarray:
    xy = np.zeros((len(items), 2))
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        for j, key in enumerate(("x", "y")):
            if key not in item and not need:
                continue
            v = _num(item.get(key))
            if v is None:
                c.add(_where(kind, i, item, key), item.get(key), "坐标缺失或不是有限数字。")
            else:
                xy[i, j] = v
    return xy


def _team_fields(
    c: _Collector, teams: list[Any], site_index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(teams)
    start, end = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    shift, speed = np.zeros((n, 2)), np.full(n, WALK_SPEED_MPS)
    for i, team in enumerate(teams):
        if not isinstance(team, dict):
            continue
        for key, arr in (("start", start), ("end", end)):
            sid = team.get(key)
            if sid not in site_index:
                c.add(_where("teams", i, team, key), sid, f"未知站点 id；可用站点：{sorted(site_index)}。")
            else:
                arr[i] = site_index[sid]
        sh = team.get("shift_s")
        vals = [_num(v) for v in sh] if isinstance(sh, list) and len(sh) == 2 else [None]
        if None in vals or vals[0] < 0 or vals[0] >= vals[1]:  # type: ignore[operator]
            c.add(_where("teams", i, team, "shift_s"), sh, "班次应为 [开始秒, 结束秒]，0 ≤ 开始 < 结束。")
        else:
            shift[i] = vals
        if "speed_mps" in team:
            v = _num(team["speed_mps"])
            if v is None or v <= 0:
                c.add(_where("teams", i, team, "speed_mps"), team["speed_mps"], "速度须为正数（米/秒）。")
            else:
                speed[i] = v
    return start, end, shift, speed


def _windows(c: _Collector, i: int, stop: dict[str, Any], shifts: np.ndarray) -> np.ndarray:
    raw = stop.get("windows_s")
    where = _where("stops", i, stop, "windows_s")
    if raw is None:
        return np.array([[shifts[:, 0].min(), shifts[:, 1].max()]]) if len(shifts) else np.zeros((1, 2))
    ok = isinstance(raw, list) and len(raw) > 0
    wins = []
    for w in raw if ok else []:
        vals = [_num(v) for v in w] if isinstance(w, list) and len(w) == 2 else [None]
        if None in vals or vals[0] < 0 or vals[0] > vals[1]:  # type: ignore[operator]
            ok = False
        else:
            wins.append(vals)
    if not ok:
        c.add(where, raw, "时间窗应为非空列表 [[开始秒, 结束秒], …]，0 ≤ 开始 ≤ 结束。")
        return np.zeros((1, 2))
    arr = np.array(sorted(wins), dtype=float)
    merged = [arr[0]]
    for lo, hi in arr[1:]:
        if lo <= merged[-1][1]:
            merged[-1] = np.array([merged[-1][0], max(merged[-1][1], hi)])
        else:
            merged.append(np.array([lo, hi]))
    out = np.array(merged)
    if len(shifts) and not any(
        lo <= s1 and hi >= s0 for lo, hi in out for s0, s1 in shifts
    ):
        c.add(where, raw, f"所有时间窗都在每个队伍的班次之外（班次 {shifts.tolist()}）；请检查单位是否为秒。")
    return out


def _stop_fields(
    c: _Collector, stops: list[Any], shifts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    n = len(stops)
    prio, service, req = np.ones(n), np.zeros(n), np.zeros(n, dtype=bool)
    wins: list[np.ndarray] = []
    for i, stop in enumerate(stops):
        if not isinstance(stop, dict):
            wins.append(np.zeros((1, 2)))
            continue
        for key, arr, default in (("priority", prio, 1.0), ("service_s", service, 0.0)):
            v = _num(stop.get(key, default))
            if v is None or v < 0:
                c.add(_where("stops", i, stop, key), stop.get(key), "须为非负有限数字。")
            else:
                arr[i] = v
        r = stop.get("required", False)
        if not isinstance(r, bool):
            c.add(_where("stops", i, stop, "required"), r, "须为 true 或 false。")
        req[i] = r is True
        wins.append(_windows(c, i, stop, shifts))
    return prio, service, wins, req


def _projected(c: _Collector, problem: dict[str, Any], xy: np.ndarray) -> tuple[np.ndarray, str | None]:
    crs = problem.get("crs")
    if crs is None:
        return xy, None
    try:
        src = CRS.from_user_input(crs)
    except Exception:
        c.add("crs", crs, "未知坐标系；请用 EPSG:4326（经纬度）或省略（坐标单位为米）。")
        return xy, None
    if not src.is_geographic:
        try:
            require_metric(src, what="巡查问题的坐标")
        except CRSError as exc:
            c.add("crs", crs, str(exc))
        return xy, src.to_string()
    if len(xy) == 0 or np.abs(xy[:, 1]).max() > 90 or np.abs(xy[:, 0]).max() > 180:
        c.add("crs", crs, "经纬度坐标超出范围（x=经度 −180…180，y=纬度 −90…90）。")
        return xy, None
    target = working_crs(xy[:, 0], xy[:, 1])
    tr = Transformer.from_crs(src, target, always_xy=True)
    px, py = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([px, py]), target.to_string()


def _matrix(
    c: _Collector, travel: dict[str, Any], ids: list[str]
) -> np.ndarray | None:
    mids, secs = travel.get("ids"), travel.get("seconds")
    if not isinstance(mids, list) or not all(isinstance(x, str) for x in mids):
        c.add("travel.ids", mids, "矩阵的 ids 应为字符串列表（站点与巡查点的 id）。")
        return None
    try:
        mat = np.asarray(secs, dtype=float)
    except (TypeError, ValueError):
        mat = np.zeros((0,))
    if mat.ndim != 2 or mat.shape != (len(mids), len(mids)):
        c.add("travel.seconds", f"shape={mat.shape}", f"矩阵形状应为 {len(mids)}×{len(mids)}（与 ids 一致）。")
        return None
    if not np.isfinite(mat).all() or (mat < 0).any():
        bad = np.argwhere(~np.isfinite(mat) | (mat < 0))[0]
        c.add("travel.seconds", f"[{bad[0]}][{bad[1]}]", f"矩阵有负数或非有限值（{mids[bad[0]]}→{mids[bad[1]]}）。")
        return None
    pos = {m: k for k, m in enumerate(mids)}
    missing = [x for x in ids if x not in pos]
    if missing:
        c.add("travel.ids", missing[:10], "这些站点或巡查点不在矩阵 ids 中；请补全矩阵。")
        return None
    idx = np.array([pos[x] for x in ids])
    return mat[np.ix_(idx, idx)]


def parse_patrol_problem(problem: dict[str, Any], *, check: bool = True) -> PatrolProblem:
    """Validate a patrol problem (design.md §5) and return its numeric form.

    Parameters
    ----------
    problem : dict
        ``teams``, ``sites``, ``stops``, ``travel``, ``objective``, optional ``crs`` and
        ``time_limit_s``. Defaults: ``speed_mps`` 1.2, ``priority`` 1, ``service_s`` 0,
        ``windows_s`` the union of all shifts, ``required`` false, ``travel`` euclidean (plain
        straight line; ``{"metric": "euclidean", "circuity": 1.3}`` multiplies it),
        ``objective`` priority. With a matrix, stop/site coordinates are optional.
    check : bool, default True
        Also check that every required stop is reachable by some team (InfeasibleError).

    Raises
    ------
    ValidationError
        Listing every structural problem (unknown ids, negative times, wrong matrix shape…).
    InfeasibleError
        When a required stop cannot be served by any team within its windows and shift.
    """
    c = _Collector()
    if not isinstance(problem, dict):
        raise ValidationError([Problem(0, "problem", type(problem).__name__, "应为 JSON 对象。")], _WHAT)
    seen: set[str] = set()
    teams = _list(c, problem, "teams", nonempty=True)
    sites = _list(c, problem, "sites", nonempty=True)
    stops = _list(c, problem, "stops", nonempty=False)
    team_ids = _ids(c, "teams", teams, set())
    site_ids = _ids(c, "sites", sites, seen)
    stop_ids = _ids(c, "stops", stops, seen)
    start, end, shift, speed = _team_fields(c, teams, {s: k for k, s in enumerate(site_ids)})
    prio, service, wins, req = _stop_fields(c, stops, shift)
    travel = problem.get("travel", {"metric": "euclidean"})
    metric = travel.get("metric") if isinstance(travel, dict) else None
    if metric not in ("euclidean", "matrix"):
        c.add("travel.metric", metric, "应为 euclidean 或 matrix。")
    given = problem.get("objective", "priority")
    objective: Objective = next((o for o in OBJECTIVES if o == given), "priority")
    if given not in OBJECTIVES:
        c.add("objective", given, "应为 priority 或 distance。")
    limit = problem.get("time_limit_s")
    if limit is not None and (_num(limit) is None or float(limit) <= 0):
        c.add("time_limit_s", limit, "求解时间上限须为正数（秒）。")
    xy = np.vstack([_xy(c, "sites", sites, metric != "matrix"), _xy(c, "stops", stops, metric != "matrix")])
    xy, crs = _projected(c, problem, xy)
    secs = _matrix(c, travel, site_ids + stop_ids) if metric == "matrix" else None
    circuity = _num(travel.get("circuity", 1.0)) if isinstance(travel, dict) else 1.0
    if circuity is None or circuity < 1:
        c.add("travel.circuity", travel.get("circuity"), "绕行系数须 ≥ 1。")
    if c.problems:
        raise ValidationError(c.problems, _WHAT)
    if secs is not None:
        cost = secs
        time_s = np.broadcast_to(secs, (len(teams), *secs.shape))
        dist_m = secs[None, :, :] * speed[:, None, None]
    else:
        diff = xy[:, None, :] - xy[None, :, :]
        cost = np.hypot(diff[..., 0], diff[..., 1]) * float(circuity or 1.0)
        dist_m = np.broadcast_to(cost, (len(teams), *cost.shape))
        time_s = cost[None, :, :] / speed[:, None, None]
    parsed = PatrolProblem(
        team_ids=tuple(team_ids), site_ids=tuple(site_ids), stop_ids=tuple(stop_ids),
        team_start=start, team_end=end, shift_s=shift, speed_mps=speed,
        priority=prio, service_s=service, windows_s=tuple(wins), required=req,
        cost=cost, time_s=time_s, dist_m=dist_m, objective=objective,
        time_limit_s=None if limit is None else float(limit),
        xy=None if secs is not None and "x" not in (sites[0] if sites else {}) else xy,
        crs=crs, metric=str(metric),
    )
    if check:
        check_reachability(parsed)
    return parsed
