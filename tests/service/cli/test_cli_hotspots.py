"""``xuncha hotspots``: a case file in, WGS84 hotspot polygons out; bad input exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from service.commands import hotspots

LON0, LAT0 = 113.92, 30.93


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    hotspots.register(a)

    @a.command("noop")
    def _noop() -> None:  # a second command keeps "hotspots" a named subcommand
        pass

    return a


def case_table(n_noise: int = 1500, n_hot: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon = np.r_[rng.uniform(LON0 - 0.03, LON0 + 0.03, n_noise), LON0 + rng.normal(0, 3e-4, n_hot)]
    lat = np.r_[rng.uniform(LAT0 - 0.03, LAT0 + 0.03, n_noise), LAT0 + rng.normal(0, 3e-4, n_hot)]
    hours = np.r_[rng.integers(0, 24, n_noise), rng.choice([6, 7, 8], n_hot)]
    day = pd.Timestamp("2024-04-01") + pd.to_timedelta(rng.integers(0, 60, n_noise + n_hot), "D")
    times = (day + pd.to_timedelta(hours, "h") + pd.Timedelta(minutes=15)).strftime(
        "%Y-%m-%d %H:%M:%S")
    cats = np.r_[rng.choice(["06036", "06028"], n_noise), np.full(n_hot, "09006")]
    return pd.DataFrame({"case_id": [f"A{i}" for i in range(len(lon))], "category": cats,
                         "reported_at": times, "lon": lon.round(6), "lat": lat.round(6)})


def run(app: typer.Typer, *args: str) -> object:
    return CliRunner().invoke(app, ["hotspots", *args])


def test_writes_hotspot_polygons(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    case_table().to_csv(src, index=False)
    out = tmp_path / "hs.geojson"
    # only the hotspot's own cases are selected (no background): hdbscan, as the docs advise
    res = run(app, "--cases", str(src), "--category", "09006", "--method", "hdbscan",
              "--out", str(out))
    assert res.exit_code == 0, res.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1
    f = fc["features"][0]
    assert f["geometry"]["type"] == "Polygon"
    props = f["properties"]
    assert props["hotspot_id"] == "H01" and props["category"] == "09006"
    assert props["case_count"] >= 120 and props["peak_hours"] == "06:00–09:00"
    lon, lat = np.array(f["geometry"]["coordinates"][0]).mean(axis=0)
    assert abs(lon - LON0) < 0.002 and abs(lat - LAT0) < 0.002
    assert "发现 1 个热点" in res.output


def test_chinese_headers_xlsx_and_dbscan(app: typer.Typer, tmp_path: Path) -> None:
    df = case_table().rename(columns={"case_id": "案件编号", "category": "问题类型",
                                      "reported_at": "上报时间", "lon": "经度", "lat": "纬度"})
    src = tmp_path / "cases.xlsx"
    df.to_excel(src, index=False)
    out = tmp_path / "hs.geojson"
    res = run(app, "--cases", str(src), "--category", "stall", "--method", "dbscan",
              "--out", str(out))
    assert res.exit_code == 0, res.output
    assert len(json.loads(out.read_text(encoding="utf-8"))["features"]) == 1


def test_bad_inputs_exit_1_with_chinese_message(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "hs.geojson"
    src = tmp_path / "cases.csv"
    case_table().to_csv(src, index=False)
    res = run(app, "--cases", str(src), "--category", "09004", "--out", str(out))
    assert res.exit_code == 1 and "没有类别" in res.output
    res = run(app, "--cases", str(src), "--method", "kmeans", "--out", str(out))
    assert res.exit_code == 1 and "未知的聚类方法" in res.output
    bad = case_table().drop(columns=["lat"])
    bad.to_csv(src, index=False)
    res = run(app, "--cases", str(src), "--out", str(out))
    assert res.exit_code == 1 and "缺少必需的列" in res.output
    bad = case_table()
    bad["lon"] = bad["lon"].astype(object)
    bad.loc[3, "lon"] = "abc"
    bad.to_csv(src, index=False)
    res = run(app, "--cases", str(src), "--out", str(out))
    assert res.exit_code == 1 and "第 5 行" in res.output
    res = run(app, "--cases", str(tmp_path / "missing.csv"), "--out", str(out))
    assert res.exit_code == 1 and "错误" in res.output
    assert not out.exists()


def test_single_case_and_no_times_give_empty_result(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "one.csv"
    case_table().iloc[:1].to_csv(src, index=False)
    out = tmp_path / "hs.geojson"
    res = run(app, "--cases", str(src), "--out", str(out))
    assert res.exit_code == 0 and "未发现热点" in res.output
    assert json.loads(out.read_text(encoding="utf-8"))["features"] == []
    no_time = case_table().assign(reported_at="")
    no_time.to_csv(src, index=False)
    res = run(app, "--cases", str(src), "--category", "09006", "--out", str(out))
    assert res.exit_code == 0 and "没有可识别的上报时间" in res.output
    props = json.loads(out.read_text(encoding="utf-8"))["features"][0]["properties"]
    assert props["peak_hours"] == "" and props["first_seen"] is None


def test_utc_offsets_are_converted_to_local_time(app: typer.Typer, tmp_path: Path) -> None:
    times = hotspots.parse_times(pd.Series(["2024-05-01T22:30:00Z", "2024-05-02 06:30:00", ""]),
                                 tz="Asia/Shanghai")
    assert times.iloc[0].hour == 6 and times.iloc[1].hour == 6 and pd.isna(times.iloc[2])
