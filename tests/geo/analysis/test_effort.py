"""Patrol-effort-aware scores (geo.analysis.effort) on data built in code."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis.effort import (
    PatrolExposure,
    exposure_aware_scores,
    patrol_exposure,
    place_of,
    rotation_floor,
)
from geo.analysis.sources import DISCOVERY_KINDS, SourceVocabulary, default_sources
from geo.errors import InputError
from geo.grid import make_grid
from geo.simulate.text import SOURCES


def _district() -> tuple[pd.DataFrame, pd.DataFrame]:
    """18 ordinary places (5 h, 2-3 patrol finds each), BUSY (ordinary, 40 h, 20 finds, 1
    complaint) and CORNER (a true hotspot: 2 h, 4 finds, 3 complaints)."""
    visits = [("BUSY", 40.0), ("CORNER", 2.0)] + [(f"P{i:02d}", 5.0) for i in range(18)]
    finds = {"BUSY": 20, "CORNER": 4} | {f"P{i:02d}": 2 + i % 2 for i in range(18)}
    complaints = {"BUSY": 1, "CORNER": 3}
    v = pd.DataFrame([{"community_code": c, "duration_s": h * 3600} for c, h in visits])
    rows = [{"community_code": c, "source": "巡查发现"} for c, n in finds.items() for _ in range(n)]
    rows += [{"community_code": c, "source": s} for c, n in complaints.items()
             for s in ["12345热线", "市民投诉", "上级交办"][:n]]
    return v, pd.DataFrame(rows)


def test_rarely_patrolled_hotspot_ranks_above_heavily_patrolled_ordinary_place() -> None:
    visits, cases = _district()
    res = exposure_aware_scores(cases, patrol_exposure(visits, key="community_code"),
                                key="community_code")
    t = res.table
    # raw counts put the busy ordinary place first (21 vs 7 cases): the feedback loop
    assert t.loc["BUSY", "raw_count"] == 21 and t.loc["CORNER", "raw_count"] == 7
    assert t["raw_count"].idxmax() == "BUSY"
    # per patrol-hour the corner is the hotspot: 4/2 h vs 20/40 h, plus its complaints
    assert t.loc["CORNER", "score"] > t.loc["BUSY", "score"]
    assert t.loc["CORNER", "rank"] == 1
    assert t.loc["BUSY", "rank"] > 1
    r0 = (20 + 4 + sum(2 + i % 2 for i in range(18))) / (40 + 2 + 18 * 5)
    assert res.district_rate == pytest.approx(r0)
    assert res.reference_hours == pytest.approx((40 + 2 + 90) / 20)
    k, h_ref = res.prior_hours, res.reference_hours
    assert t.loc["CORNER", "score"] == pytest.approx(3 + (r0 * k + 4) / (k + 2) * h_ref)
    assert t.loc["BUSY", "score"] == pytest.approx(1 + (r0 * k + 20) / (k + 40) * h_ref)


def test_complaints_count_as_they_are() -> None:
    visits, cases = _district()
    extra = pd.DataFrame({"community_code": "QUIET",
                          "source": ["12345", "市民投诉", "视频发现", "监督员上报", "上级交办"]})
    exp = patrol_exposure(visits, key="community_code")
    res = exposure_aware_scores(pd.concat([cases, extra]), exp, key="community_code")
    q = res.table.loc["QUIET"]
    assert q["other_cases"] == 5 and q["patrol_cases"] == 0 and q["patrol_hours"] == 0
    # never patrolled: its patrol rate is the district rate, its complaints are added unchanged
    assert q["patrol_rate"] == pytest.approx(res.district_rate)
    assert q["score"] - q["patrol_rate"] * res.reference_hours == pytest.approx(5.0)
    # more patrol-hours at QUIET (finding nothing) changes only the patrol part
    more = pd.concat([visits, pd.DataFrame({"community_code": ["QUIET"], "duration_s": [36000]})])
    res2 = exposure_aware_scores(pd.concat([cases, extra]),
                                 patrol_exposure(more, key="community_code"), key="community_code")
    q2 = res2.table.loc["QUIET"]
    assert q2["other_cases"] == 5 and q2["patrol_rate"] < q["patrol_rate"]
    assert q2["score"] - q2["patrol_rate"] * res2.reference_hours == pytest.approx(5.0)


def test_unknown_sources_are_complaints_and_said_so() -> None:
    visits, cases = _district()
    odd = pd.DataFrame({"community_code": "P00", "source": ["奇怪渠道", "", None]})
    res = exposure_aware_scores(pd.concat([cases, odd], ignore_index=True),
                                patrol_exposure(visits, key="community_code"),
                                key="community_code")
    assert res.table.loc["P00", "other_cases"] == 3
    assert res.table.loc["P00", "patrol_cases"] == 2
    note = next(n for n in res.notes if "来源未知" in n)
    assert note.startswith("3 条案件") and "「奇怪渠道」" in note and "投诉类" in note


def test_no_source_column_means_raw_counts_and_is_said() -> None:
    visits, cases = _district()
    res = exposure_aware_scores(cases.drop(columns="source"),
                                patrol_exposure(visits, key="community_code"),
                                key="community_code")
    assert any("没有来源列" in n for n in res.notes)
    assert (res.table["patrol_cases"] == 0).all()
    assert res.table.index[0] == "BUSY"  # raw counts rank: the note is why
    assert list(res.table.index) == list(res.table.sort_values(
        "raw_count", ascending=False, kind="stable").index)


def test_record_without_duration_is_an_error_naming_the_row_or_takes_the_default() -> None:
    visits = pd.DataFrame({"community_code": ["A", "B", "C", "D"],
                           "duration_s": [1800, None, None, None],
                           "start": [None, "2026-05-01 09:00", None, None],
                           "end": [None, "2026-05-01 09:40", "2026-05-01 10:00", None]},
                          index=[2, 3, 4, 5])  # spreadsheet row numbers, as read_table numbers them
    with pytest.raises(InputError) as err:
        patrol_exposure(visits, key="community_code")
    assert "4、5 没有时长" in str(err.value) and "default_duration_s" in str(err.value)
    exp = patrol_exposure(visits, key="community_code", default_duration_s=1200)
    assert exp.hours.to_dict() == pytest.approx({"A": 0.5, "B": 40 / 60, "C": 1 / 3, "D": 1 / 3})
    assert exp.notes == ("2 条巡查记录没有时长，按默认 20 分钟计。",)
    assert exp.last_visit["C"] == pd.Timestamp("2026-05-01 10:00")
    assert pd.isna(exp.last_visit["A"])


def test_bad_durations_are_listed_together() -> None:
    visits = pd.DataFrame({"community_code": ["A", "B", "C"],
                           "duration_s": ["半小时", None, 600],
                           "start": [None, "2026-05-01 10:00", None],
                           "end": [None, "2026-05-01 09:00", None]})
    with pytest.raises(InputError) as err:
        patrol_exposure(visits, key="community_code", default_duration_s=600)
    msg = str(err.value)
    assert "0 的时长无法识别" in msg and "1 的时长为负" in msg


def test_shrinkage_keeps_a_lucky_short_visit_below_a_steady_hotspot() -> None:
    hours = {"LUCKY": 0.1, "STEADY": 10.0} | {f"P{i}": 10.0 for i in range(10)}
    finds = {"LUCKY": 1, "STEADY": 30} | {f"P{i}": 10 for i in range(10)}
    exp = pd.Series(hours)
    cases = pd.DataFrame({"community_code": [c for c, n in finds.items() for _ in range(n)],
                          "source": "巡查发现"})
    t = exposure_aware_scores(cases, exp, key="community_code").table
    assert 1 / 0.1 > 30 / 10  # the unshrunk rate would put LUCKY first
    assert t.loc["LUCKY", "score"] < t.loc["STEADY", "score"]
    assert t.loc["STEADY", "rank"] == 1
    assert t.loc["LUCKY", "patrol_rate"] < 2.0  # near the district rate (≈1.3/h), not 10/h


def test_no_patrol_hours_is_a_clear_error() -> None:
    cases = pd.DataFrame({"community_code": ["A"], "source": ["巡查发现"]})
    with pytest.raises(InputError, match="总时长为 0"):
        exposure_aware_scores(cases, pd.Series({"A": 0.0}), key="community_code")
    with pytest.raises(InputError, match="prior_hours"):
        exposure_aware_scores(cases, pd.Series({"A": 1.0}), key="community_code", prior_hours=0)


def test_vocabulary_maps_real_source_texts() -> None:
    v = default_sources()
    assert {s: v.resolve(s) for s in ["巡查发现", " 巡查 发现 ", "监督员上报", "12345", "12345热线",
                                      "市民投诉", "视频发现", "上级交办", "ＰＡＴＲＯＬ"]} == {
        "巡查发现": "patrol", " 巡查 发现 ": "patrol", "监督员上报": "referral",
        "12345": "hotline_12345", "12345热线": "hotline_12345", "市民投诉": "complaint",
        "视频发现": "video", "上级交办": "referral", "ＰＡＴＲＯＬ": "patrol"}
    assert v.resolve("孝南区12345转办") == "hotline_12345"  # longest contained word
    assert v.resolve("不知道") is None and v.resolve("") is None and v.resolve(None) is None
    assert all(v.resolve(s) in DISCOVERY_KINDS for s in SOURCES)  # the simulator's texts
    with pytest.raises(InputError, match="kind「police」无效"):
        SourceVocabulary.from_frame(pd.DataFrame({"text": ["110"], "kind": ["police"]}))


def test_rotation_floor_lifts_places_not_visited_lately() -> None:
    score = pd.Series({"A": 10.0, "B": 1.0, "C": 0.5, "D": 2.0})
    last = pd.Series({"A": pd.Timestamp("2026-05-01"), "B": pd.Timestamp("2026-05-18"),
                      "C": pd.Timestamp("2026-04-01")})
    rf = rotation_floor(score, last, at="2026-05-20", max_gap_days=14, floor=5.0)
    assert rf["overdue"].to_dict() == {"A": True, "B": False, "C": True, "D": True}
    assert rf["floored"].to_dict() == {"A": 10.0, "B": 1.0, "C": 5.0, "D": 5.0}
    assert rf.loc["D", "days_since"] == np.inf and rf.loc["B", "days_since"] == 2.0


def test_places_by_grid_and_by_community_polygons() -> None:
    crs = "EPSG:4547"
    grid = make_grid((0.0, 0.0, 299.0, 99.0), cell_m=100, crs=crs)
    pts = gpd.GeoDataFrame({"duration_s": [600, 1200, 60]},
                           geometry=gpd.points_from_xy([50, 250, 5000], [50, 50, 50]), crs=crs)
    exp = patrol_exposure(pts, grid=grid)
    assert exp.hours.to_dict() == pytest.approx({0: 600 / 3600, 2: 1200 / 3600})
    assert any("未计入巡查时长" in n for n in exp.notes)
    comm = gpd.GeoDataFrame({"code": ["X", "Y"]}, geometry=[shapely.box(0, 0, 150, 100),
                                                             shapely.box(150, 0, 300, 100)], crs=crs)
    assert place_of(pts, communities=comm).tolist() == ["X", "Y", None]
    assert isinstance(patrol_exposure(pts, communities=comm), PatrolExposure)
    cases = pts.assign(source=["巡查发现", "12345", "巡查发现"])
    t = exposure_aware_scores(cases, exp, grid=grid, places=grid["cell_id"].tolist()).table
    assert sorted(t.index) == [0, 1, 2]  # every cell scored, the case outside left out
    assert t.loc[1, "patrol_hours"] == 0 and t.loc[2, "other_cases"] == 1
    with pytest.raises(InputError, match="只指定一种地点"):
        place_of(pts, grid=grid, communities=comm)
