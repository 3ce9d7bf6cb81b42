"""Case-table reading (CSV encodings, XLSX, GeoJSON) and per-row validation."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import box

from geo import crs
from geo.cases import parse_cases
from geo.catalogue import default_catalogue
from geo.errors import FileReadError
from geo.io.tables import read_table

HEADER = "case_id,category,reported_at,lon,lat,description\n"


def _communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["420902001001", "420902001002"], "name": ["甲社区", "乙社区"],
         "squad": ["shuyuan", "xinhua"]},
        geometry=[box(113.90, 30.90, 113.92, 30.92), box(113.92, 30.90, 113.94, 30.92)],
        crs=4326,
    )


def test_messy_file_reports_every_bad_row_precisely(tmp_path: Path) -> None:
    rows = [
        "A1,09006,2026-03-05 07:30,113.91,30.91,西大市场早市占道",  # good (row 2)
        "A2,占道经营,2026/3/5 8:00,,30.91,缺经度",  # missing lon (row 3)
        "A3,09006,2026-03-05 07:30,abc,30.91,非数字",  # non-numeric (row 4)
        "A4,09006,2026-03-05 07:30,30.91,113.91,填反",  # swapped (row 5)
        "A5,火星事件,2026-03-05 07:30,113.91,30.91,未知类别",  # unknown category (row 6)
        "A6,09006,昨天早上,113.91,30.91,时间错",  # bad time (row 7)
        "A1,09006,2026-03-05 07:30,113.91,30.91,重复",  # duplicate id (row 8)
        "A7,06001,2026-03-05 07:30,114.50,30.50,区外",  # outside service area (row 9)
        "A8,私搭乱建,2026年3月6日 9时5分,113.93,30.91,好的",  # good (row 10)
    ]
    path = tmp_path / "messy.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    res = parse_cases(read_table(path), communities=_communities())
    assert res.n_rows == 9
    assert list(res.cases["case_id"]) == ["A1", "A8"]
    by_row = {p.row: p for p in res.problems}
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9]
    assert "缺少经度" in by_row[3].message and by_row[3].column == "lon"
    assert by_row[4].value == "abc" and "不是数字" in by_row[4].message
    assert "填反" in by_row[5].message
    assert by_row[6].column == "category" and by_row[6].value == "火星事件"
    assert by_row[7].column == "reported_at" and by_row[7].value == "昨天早上"
    assert "第 2 行" in by_row[8].message
    assert "服务区域" in by_row[9].message
    a8 = res.cases.set_index("case_id").loc["A8"]
    assert a8["category"] == "06001" and a8["community"] == "乙社区" and a8["squad"] == "xinhua"
    assert a8["reported_at"] == pd.Timestamp("2026-03-06 09:05", tz="Asia/Shanghai")


def test_gbk_file_with_chinese_headers_imports(tmp_path: Path) -> None:
    text = "案件编号,问题类型,上报时间,经度,纬度,问题描述,所属社区\nB1,占道经营,2026-04-01 06:40,113.91,30.91,早市摊贩占道,甲社区\n"
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gbk"))
    res = parse_cases(read_table(path), communities=_communities())
    assert res.problems == []
    row = res.cases.iloc[0]
    assert row["category"] == "09006" and row["description"] == "早市摊贩占道"
    assert row["category_name"] == "占道经营"


def test_utf8_bom_and_xlsx_and_geojson(tmp_path: Path) -> None:
    text = HEADER + "C1,09001,2026-04-01T06:40:00+08:00,113.91,30.91,游商\n"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(text.encode("utf-8-sig"))
    assert read_table(bom).columns[0] == "case_id"
    df = pd.read_csv(io.StringIO(text), dtype=str)
    xlsx = tmp_path / "cases.xlsx"
    df.to_excel(xlsx, index=False)
    gj = tmp_path / "cases.geojson"
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.91, 30.91]},
         "properties": {"case_id": "C1", "category": "09001", "reported_at": "2026-04-01 06:40"}}
    ]}), encoding="utf-8")
    for path in (bom, xlsx, gj):
        res = parse_cases(read_table(path), communities=_communities())
        assert res.problems == [], path
        assert res.cases.iloc[0]["reported_at"] == pd.Timestamp("2026-04-01 06:40", tz="Asia/Shanghai")


def test_gcj02_input_lands_within_1m_of_truth() -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(113.90, 113.94, 50)
    lat = rng.uniform(30.90, 30.92, 50)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    table = pd.DataFrame({"case_id": [f"G{i}" for i in range(50)], "category": "09006",
                          "reported_at": "2026-04-01 07:00", "lon": glon.astype(str),
                          "lat": glat.astype(str)})
    res = parse_cases(table, coords="gcj02", communities=_communities())
    assert len(res.cases) == 50
    _, _, dist = Geod(ellps="WGS84").inv(res.cases["lon"], res.cases["lat"], lon, lat)
    assert np.max(np.abs(dist)) < 1.0
    assert set(res.cases["coord_system"]) == {"gcj02"}


def test_bd09_and_projected_epsg_inputs() -> None:
    lon, lat = np.array([113.91]), np.array([30.91])
    blon, blat = crs.wgs84_to_bd09(lon, lat)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(4547)
    for coords, x, y in (("bd09", blon[0], blat[0]), ("EPSG:4547", pts.x[0], pts.y[0])):
        table = pd.DataFrame({"case_id": ["X"], "category": ["09006"], "reported_at": ["2026-04-01"],
                              "lon": [str(x)], "lat": [str(y)]})
        res = parse_cases(table, coords=coords, communities=_communities())
        assert res.cases["lon"].iloc[0] == pytest.approx(113.91, abs=1e-7), coords
        assert res.cases["lat"].iloc[0] == pytest.approx(30.91, abs=1e-7), coords


def test_missing_columns_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="缺少必需的列"):
        parse_cases(pd.DataFrame({"case_id": ["1"], "lon": ["1"]}))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FileReadError, match="空"):
        read_table(empty)
    with pytest.raises(FileReadError, match="找不到"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(FileReadError, match="上限"):
        read_table(b"a,b\n1,2\n" * 100, max_bytes=50)
    with pytest.raises(FileReadError, match="xlsx"):
        read_table(b"\xd0\xcf\x11\xe0 old excel", filename="old.xls")


def test_free_text_categories_for_foreign_data() -> None:
    table = pd.DataFrame({"case_id": ["1"], "category": ["THEFT"], "reported_at": ["2018-01-01 10:00"],
                          "lon": ["-87.6"], "lat": ["41.8"]})
    res = parse_cases(table, catalogue=False, tz="America/Chicago")
    assert res.problems == [] and res.cases["category"].iloc[0] == "THEFT"


def test_catalogue_resolves_codes_names_and_legacy_aliases() -> None:
    cat = default_catalogue()
    assert cat.resolve("09006") == "09006"
    assert cat.resolve("占道经营") == "09006"
    assert cat.resolve("04-06") == "09006"
    assert cat.resolve("早（夜）市管理问题") == "09002"
    assert cat.resolve("毁绿种菜") == "06045"
    assert cat.resolve("09006 占道经营") == "09006"
    assert cat.resolve("不存在") is None
    assert set(cat.codes_in_group("stall")) >= {"09006", "09001", "09005", "09002"}
