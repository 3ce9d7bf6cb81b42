"""Exposure-aware ranking of hotspot polygons and forecast cells (geo.analysis.effort_zones),
on data built in code (metres in UTM 50N around Xiaogan)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis.effort_zones import (
    effort_adjustment,
    effort_table,
    patrol_found,
    rank_cells_by_exposure,
    rank_hotspots_by_exposure,
)
from geo.errors import InputError

CRS = "EPSG:32650"
X0, Y0 = 300_000.0, 3_420_000.0
BUSY, CORNER, PLAIN = (X0 + 250, Y0 + 250), (X0 + 1750, Y0 + 1750), (X0 + 1250, Y0 + 250)


def _points(xy: np.ndarray, **cols: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)


def district() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A 2 km square of 500 m zones. BUSY: an ordinary place patrolled 40 h (20 patrol finds).
    CORNER: a true hotspot patrolled 2 h (6 patrol finds, 3 complaints). Every other zone:
    1 h and one patrol find. Cases in WGS84 as the readers give them."""
    rng = np.random.default_rng(1)
    xy, src = [], []
    for (cx, cy), n_patrol, n_other in ((BUSY, 20, 0), (CORNER, 6, 3)):
        xy.append(np.column_stack([cx + rng.normal(0, 5, n_patrol + n_other),
                                   cy + rng.normal(0, 5, n_patrol + n_other)]))
        src += ["巡查发现"] * n_patrol + ["12345热线"] * n_other
    centres = [(X0 + 250 + 500 * i, Y0 + 250 + 500 * j) for i in range(4) for j in range(4)]
    others = [c for c in centres if c not in (BUSY, CORNER)]
    xy.append(np.array(others) + 30.0)
    src += ["巡查发现"] * len(others)
    cases = _points(np.vstack(xy), source=src).to_crs(4326)
    hours = {BUSY: 40.0, CORNER: 2.0} | {c: 1.0 for c in others}
    lonlat = gpd.GeoSeries(gpd.points_from_xy([c[0] for c in hours], [c[1] for c in hours]),
                           crs=CRS).to_crs(4326)
    visits = pd.DataFrame({"lon": lonlat.x, "lat": lonlat.y,
                           "duration_s": [h * 3600 for h in hours.values()]})
    return cases, visits


def _square(c: tuple[float, float], r: float = 40.0) -> shapely.Polygon:
    return shapely.box(c[0] - r, c[1] - r, c[0] + r, c[1] + r)


def test_rarely_patrolled_hotspot_ranks_above_heavily_patrolled_ordinary_place() -> None:
    cases, visits = district()
    adj = effort_adjustment(cases, visits, zone_m=500.0, crs=CRS)
    hotspots = gpd.GeoDataFrame({"hotspot_id": ["H01", "H02"], "case_count": [20, 9]},
                                geometry=[_square(BUSY), _square(CORNER)], crs=CRS)
    patrol, notes = patrol_found(cases)
    assert notes == () and patrol.sum() == 20 + 6 + 14
    ranked = rank_hotspots_by_exposure(hotspots, cases, adj, patrol).set_index("hotspot_id")
    assert ranked.loc["H01", "case_count"] > ranked.loc["H02", "case_count"]
    assert ranked.loc["H02", "rank"] == 1 and ranked.loc["H01", "rank"] == 2
    assert ranked.loc["H02", "patrol_cases"] == 6 and ranked.loc["H02", "other_cases"] == 3
    # the numbers: zone factor = rate · H / y with rate = (r0 k + y) / (k + h)
    r0, k, h_ref = 40 / 56.0, adj.scores.prior_hours, 56.0 / 16  # 40 + 2 + 14 zones x 1 h
    f_busy = (r0 * k + 20) / (k + 40) * h_ref / 20
    f_corner = (r0 * k + 6) / (k + 2) * h_ref / 6
    assert adj.scores.district_rate == pytest.approx(r0)
    assert ranked.loc["H01", "exposure_score"] == pytest.approx(20 * f_busy)
    assert ranked.loc["H02", "exposure_score"] == pytest.approx(3 + 6 * f_corner)


def test_cells_recombine_patrol_and_other_forecasts() -> None:
    cases, visits = district()
    adj = effort_adjustment(cases, visits, zone_m=500.0, crs=CRS)
    cells = gpd.GeoDataFrame({"cell_id": [0, 1, 2], "score": [20.0, 9.0, 1.0],
                              "rank": [1, 2, 3], "score_patrol": [20.0, 6.0, 1.0],
                              "score_other": [0.0, 3.0, 0.0]},
                             geometry=[_square(BUSY), _square(CORNER), _square(PLAIN)], crs=CRS)
    out = rank_cells_by_exposure(cells, adj).set_index("cell_id")
    f = adj.factor
    zone = adj.zone_of(gpd.GeoDataFrame(geometry=cells.geometry.centroid, crs=CRS))
    expected = cells["score_other"] + cells["score_patrol"] * zone.map(f).to_numpy()
    assert out.loc[cells["cell_id"], "score"].to_numpy() == pytest.approx(expected.to_numpy())
    assert out.loc[1, "rank"] == 1 and out.loc[0, "rank"] > 1


def test_unknown_sources_are_complaints_and_said_so() -> None:
    cases = pd.DataFrame({"source": ["巡查发现", "奇怪渠道", "", None, "12345热线"]})
    patrol, notes = patrol_found(cases)
    assert patrol.tolist() == [True, False, False, False, False]
    assert len(notes) == 1 and notes[0].startswith("3 条案件的来源未知或为空（「奇怪渠道」）")
    assert "按投诉类原样计数" in notes[0]
    patrol, notes = patrol_found(pd.DataFrame({"x": [1, 2]}))
    assert not patrol.any() and "没有来源列" in notes[0]


def test_effort_without_duration_is_an_error_naming_the_rows() -> None:
    cases, visits = district()
    visits = visits.astype({"duration_s": object})
    visits.loc[[2, 5], "duration_s"] = ""
    with pytest.raises(InputError, match=r"记录（行号）2、5 没有时长"):
        effort_adjustment(cases, visits, zone_m=500.0, crs=CRS)
    adj = effort_adjustment(cases, visits, zone_m=500.0, crs=CRS, default_duration_s=1800)
    assert any("2 条巡查记录没有时长，按默认 30 分钟计" in n for n in adj.notes)
    with pytest.raises(InputError, match="巡查记录为空"):
        effort_adjustment(cases, visits.iloc[:0], zone_m=500.0, crs=CRS)
    with pytest.raises(InputError, match="没有坐标"):
        effort_adjustment(cases, visits.drop(columns=["lon", "lat"]), zone_m=500.0, crs=CRS)


def test_community_zones_take_records_by_code_where_they_have_no_position() -> None:
    cases, visits = district()
    comm = gpd.GeoDataFrame({"code": ["W", "E"]}, geometry=[
        shapely.box(X0, Y0, X0 + 1000, Y0 + 2000), shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 2000)],
        crs=CRS).to_crs(4326)
    records = pd.DataFrame({"lon": [visits["lon"][0], None], "lat": [visits["lat"][0], None],
                            "community_code": [None, "E"], "duration_s": [36000.0, 7200.0]})
    adj = effort_adjustment(cases, records, communities=comm)
    t = adj.scores.table
    assert t.loc["W", "patrol_hours"] == pytest.approx(10.0)
    assert t.loc["E", "patrol_hours"] == pytest.approx(2.0)
    assert adj.factor["E"] > adj.factor["W"]  # fewer hours per find in the east


def test_effort_table_reads_plans_records_and_features() -> None:
    visit = {"stop_id": "s1", "kind": "热点", "lon": 113.9, "lat": 30.9, "community_code": "C1",
             "service_s": 900.0}
    plan = {"date": "2026-03-02", "routes": [{"team": "t", "visits": [visit, visit]}]}
    for data in (plan, [plan], {"plans": [plan]}):
        t = effort_table(data)
        assert len(t) == 2 and t["service_s"].tolist() == [900.0, 900.0]
        assert t["date"].tolist() == ["2026-03-02"] * 2
    rec = effort_table([{"经度": 113.9, "纬度": 30.9, "时长（秒）": 60}])
    assert rec.loc[1, "lon"] == 113.9 and rec.loc[1, "duration_s"] == 60
    fc = effort_table({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.9, 30.9]},
         "properties": {"duration_s": 120}}]})
    assert fc.loc[1, "lon"] == 113.9 and fc.loc[1, "duration_s"] == 120
    with pytest.raises(InputError, match="无法识别"):
        effort_table({"foo": 1})
