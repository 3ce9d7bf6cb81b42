"""Two stored siting scenarios side by side (e.g. 3 vs 5 points): one map with both site sets in
two colours over the stall demand, and a table of what each covers.

The map is :func:`geo.maps.compare.comparison_map`, the table
:func:`geo.siting.result.compare_site_sets` (numbers rounded for people, site names from
:func:`geo.siting.district.name_sites`); this module turns stored scenarios
(:func:`service.scenarios.get_scenario`) into their inputs. The page is
``/siting/compare?a=ID&b=ID`` (:mod:`service.routers.siting`).
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
from shapely.geometry import shape

from geo.errors import InputError
from geo.labels import distance_method_text
from geo.maps.siting import COMPARE_COLOURS
from service import scenarios
from service.auth import Principal
from service.settings import Settings
from service.storage import Storage


def load_pair(storage: Storage, a: int, b: int, *,
              user: Principal | None = None) -> list[dict[str, Any]]:
    """Stored scenarios ``a`` and ``b`` (404 if either is missing or ``user`` may not see it;
    400 if they are the same)."""
    if a == b:
        raise InputError("请选两个不同的方案进行比较（a 和 b 是同一个方案）。")
    return [scenarios.get_scenario(storage, a, user=user),
            scenarios.get_scenario(storage, b, user=user)]


def label(sc: dict[str, Any]) -> str:
    """``3 个点（方案 12）``: how the map legend and the table name a scenario."""
    return f"{sc['summary'].get('sites', '?')} 个点（方案 {sc['id']}）"


def sites_frame(sc: dict[str, Any]) -> gpd.GeoDataFrame:
    """A stored scenario's sites as geo's comparison takes them: WGS84 points with their walking
    catchment in ``catchment`` and the summary in ``attrs``."""
    feats = sc.get("sites", {}).get("features", [])
    if not feats:
        raise InputError(f"方案 {sc['id']} 没有疏导点，无法比较。")
    pts = gpd.GeoDataFrame.from_features(feats, crs=4326)
    areas = {f.get("id"): shape(f["geometry"])
             for f in sc.get("catchments", {}).get("features", []) if f.get("geometry")}
    found = [areas.get(f.get("id")) for f in feats]
    if all(g is not None for g in found):
        pts["catchment"] = gpd.GeoSeries(found, crs=4326, index=pts.index)
    pts.attrs["summary"] = dict(sc.get("summary", {}))
    return pts


def _squads(pair: list[dict[str, Any]]) -> tuple[str, ...] | None:
    chosen: set[str] = set()
    for sc in pair:
        squads = sc.get("params", {}).get("squads")
        if not squads:
            return None  # one of them is the whole district
        chosen.update(squads)
    return tuple(sorted(chosen))


def compare_map(storage: Storage, settings: Settings, a: int, b: int, *,
                static_prefix: str, user: Principal | None = None) -> str:
    """The comparison map page (HTML): both site sets and their catchments in two colours over
    the communities and the stall demand, scripts loaded from ``static_prefix``."""
    from geo.maps.compare import comparison_map

    pair = load_pair(storage, a, b, user=user)
    demand = next((d for d in map(scenarios.demand_frame, pair) if d is not None), None)
    m = comparison_map({label(sc): sites_frame(sc) for sc in pair},
                       communities=storage.communities(squads=_squads(pair)), demand=demand,
                       title="疏导点方案比较：" + " 与 ".join(label(sc) for sc in pair),
                       static_prefix=static_prefix, **settings.map_options())
    return str(m.get_root().render())


def _text(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _share(percent: Any) -> str:
    ok = isinstance(percent, int | float) and math.isfinite(percent)
    return f"{percent:.1f}%" if ok else "—"


def compare_rows(pair: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The comparison table, one row per measure and one value per scenario (a measure of the
    pair, one value), rounded for people; the template escapes every text."""
    from geo.siting.result import compare_site_sets

    table = compare_site_sets({label(sc): sites_frame(sc) for sc in pair})
    cols = table.to_dict("records")
    summaries = [sc.get("summary", {}) for sc in pair]
    shared = int(cols[1]["与首个方案相同的点位"])
    return [
        ("方案名称", [str(sc["name"]) for sc in pair]),
        ("模型", [str(s.get("model_name", "")) for s in summaries]),
        ("疏导点个数", [_text(c["点位数"], " 个") for c in cols]),
        ("步行半径", [_text(round(float(s.get("radius_m", 0))), " 米") for s in summaries]),
        ("覆盖需求占比", [_share(c["覆盖需求占比（%）"]) for c in cols]),
        ("覆盖案件数", [_text(c["覆盖案件数"], " 件") for c in cols]),
        ("平均步行距离", [_text(c["平均步行距离（米）"], " 米") for c in cols]),
        ("两方案共有的点位", [f"{shared} 个"]),  # one cell across both columns
        ("是否已证明最优", ["是" if s.get("optimal") else "否" for s in summaries]),
        ("距离算法", [distance_method_text(s.get("distance")) for s in summaries]),
        ("疏导点", [str(c["疏导点"]) for c in cols]),
    ]


def compare_page(storage: Storage, a: int, b: int, *,
                 user: Principal | None = None) -> dict[str, Any]:
    """What the comparison page shows: both scenarios, their labels and colours, the table and
    the map's address."""
    pair = load_pair(storage, a, b, user=user)
    return {"pair": pair, "labels": [label(sc) for sc in pair],
            "colours": list(COMPARE_COLOURS[:2]), "rows": compare_rows(pair),
            "map_url": f"/maps/siting/compare?a={a}&b={b}"}
