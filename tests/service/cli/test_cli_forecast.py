"""``xuncha forecast`` through Typer: GeoJSON output checked numerically, bad input → exit 1."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from pyproj import Geod
from typer.testing import CliRunner

from service.commands import forecast as forecast_cmd

HOT = (-87.6300, 41.8800)  # central Chicago: any city works
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    forecast_cmd.register(a)

    @a.command()
    def noop() -> None:  # a second command keeps Typer in sub-command mode
        """Unused."""

    return a


def _write_cases(path: Path, *, n: int = 600, n_hot: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 90, n), unit="D")
    lon = HOT[0] - 0.02 + rng.uniform(0, 0.04, n)
    lat = HOT[1] - 0.015 + rng.uniform(0, 0.03, n)
    lon[:n_hot], lat[:n_hot] = HOT[0], HOT[1]
    df = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "category": "theft",
                       "reported_at": t.strftime("%Y-%m-%d %H:%M:%S"), "lon": lon, "lat": lat})
    df.to_csv(path, index=False)
    return df


def _run(app: typer.Typer, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["forecast", *args])
    return res.exit_code, res.output


def _load(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    return data["features"]


def test_forecast_geojson_cells_ranks_and_cutoff(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    df = _write_cases(src)
    out = tmp_path / "f.geojson"
    code, text = _run(app, "--cases", str(src), "--at", "2024-03-01", "--cell-m", "200",
                      "--method", "naive_all", "--out", str(out))
    assert code == 0, text
    feats = _load(out)
    ranks = [f["properties"]["rank"] for f in feats]
    scores = [f["properties"]["score"] for f in feats]
    assert sorted(ranks) == list(range(1, len(feats) + 1))
    assert all(a >= b for a, b in itertools.pairwise(scores))
    # naive_all counts: the scores sum to the cases reported before --at, no later ones
    n_before = int((pd.to_datetime(df["reported_at"]) < pd.Timestamp("2024-03-01")).sum())
    assert n_before < len(df)
    assert sum(scores) == pytest.approx(n_before)
    for f in feats[:20]:
        ring = np.array(f["geometry"]["coordinates"][0])
        assert f["geometry"]["type"] == "Polygon" and ring.shape == (5, 2)
        area, perim = GEOD.polygon_area_perimeter(ring[:, 0], ring[:, 1])
        assert area > 0  # counter-clockwise exterior (RFC 7946)
        assert area == pytest.approx(200.0**2, rel=0.01)
        assert perim == pytest.approx(800.0, rel=0.01)
    top = np.array(feats[0]["geometry"]["coordinates"][0])
    assert top[:, 0].min() <= HOT[0] <= top[:, 0].max()
    assert top[:, 1].min() <= HOT[1] <= top[:, 1].max()
    assert feats[0]["properties"]["score"] >= 0.8 * 120 * 60 / 90


def test_default_method_and_later_cases_ignored(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    df = _write_cases(src)
    out1, out2 = tmp_path / "a.geojson", tmp_path / "b.geojson"
    assert _run(app, "--cases", str(src), "--at", "2024-03-01", "--out", str(out1))[0] == 0
    # a burst elsewhere after --at must not change the forecast
    burst = pd.DataFrame({"case_id": [f"z{i}" for i in range(300)], "category": "theft",
                          "reported_at": "2024-03-02 10:00:00", "lon": HOT[0] + 0.015,
                          "lat": HOT[1] + 0.01})
    pd.concat([df, burst]).to_csv(src, index=False)
    assert _run(app, "--cases", str(src), "--at", "2024-03-01", "--out", str(out2))[0] == 0
    a, b = _load(out1), _load(out2)
    assert [f["properties"] for f in a] == [f["properties"] for f in b]
    top = np.array(a[0]["geometry"]["coordinates"][0])
    assert top[:, 0].min() <= HOT[0] <= top[:, 0].max()


def test_area_file_and_chinese_headers(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    df = _write_cases(src)
    df.columns = ["案件编号", "问题类型", "上报时间", "经度", "纬度"]
    df["上报时间"] = df["上报时间"] + "+08:00"  # converted to --tz (Asia/Shanghai): same clock
    df.to_csv(src, index=False)
    area = tmp_path / "area.geojson"
    x0, y0, x1, y1 = HOT[0] - 0.005, HOT[1] - 0.005, HOT[0] + 0.005, HOT[1] + 0.005
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    area.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
                                                           "coordinates": [ring]}}]}))
    out = tmp_path / "f.geojson"
    code, text = _run(app, "--cases", str(src), "--at", "2024-03-01", "--area", str(area),
                      "--out", str(out))
    assert code == 0, text
    feats = _load(out)
    # ~840 m × 1110 m box in 150 m cells: 6–7 columns × 8–9 rows
    assert 40 <= len(feats) <= 72
    pts = np.vstack([np.array(f["geometry"]["coordinates"][0]) for f in feats])
    assert pts[:, 0].min() > x0 - 0.002 and pts[:, 0].max() < x1 + 0.002


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2020-01-01"], "之前没有任何案件"),
        (["--at", "2024/03/01"], "YYYY-MM-DD"),
        (["--at", "2024-03-01", "--cell-m", "0.2"], "网格过大"),
        (["--at", "2024-03-01", "--method", "magic"], "未知的预测方法"),
    ],
)
def test_bad_options_exit_1(app: typer.Typer, tmp_path: Path, args: list[str],
                            message: str) -> None:
    src = tmp_path / "cases.csv"
    _write_cases(src)
    code, text = _run(app, "--cases", str(src), *args, "--out", str(tmp_path / "x.geojson"))
    assert code == 1
    assert message in text
    assert not (tmp_path / "x.geojson").exists()


def test_bad_rows_and_files_exit_1(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    df = _write_cases(src, n=20, n_hot=5).astype(str)
    df.loc[3, "reported_at"] = ""
    df.loc[7, "lat"] = "abc"
    df.to_csv(src, index=False)
    code, text = _run(app, "--cases", str(src), "--at", "2024-03-01", "--out",
                      str(tmp_path / "x.geojson"))
    assert code == 1
    assert "第 5 行" in text and "reported_at" in text and "第 9 行" in text
    code, text = _run(app, "--cases", str(tmp_path / "missing.csv"), "--at", "2024-03-01",
                      "--out", str(tmp_path / "x.geojson"))
    assert code == 1 and "找不到文件" in text
    df.drop(columns=["lon"]).to_csv(src, index=False)
    code, text = _run(app, "--cases", str(src), "--at", "2024-03-01", "--out",
                      str(tmp_path / "x.geojson"))
    assert code == 1 and "lon" in text


def test_single_case_and_one_point(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    df = _write_cases(src, n=30, n_hot=30)
    df.to_csv(src, index=False)
    out = tmp_path / "f.geojson"
    assert _run(app, "--cases", str(src), "--at", "2024-06-01", "--out", str(out))[0] == 0
    feats = _load(out)
    assert len(feats) == 1 and feats[0]["properties"]["rank"] == 1
    df.iloc[:1].to_csv(src, index=False)
    assert _run(app, "--cases", str(src), "--at", "2024-06-01", "--out", str(out))[0] == 0
    assert len(_load(out)) == 1
