"""``xuncha hotspots``/``forecast`` with ``--effort``: the exposure-aware ranking from an effort
file or the database, and its messages (unknown sources, records without a duration, no effort).

The district is built in code: uniform background cases (half patrol-found, half complaints)
over about 6 x 6.6 km, a heavily patrolled ordinary market BUSY (200 patrol-found cases after
40 patrol-hours there) and a rarely patrolled true hotspot CORNER 2.5 km away (90 patrol-found
cases after 2 hours, plus 30 complaints). Routine 1-hour visits on a 500 m lattice cover the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from service.commands import forecast as forecast_cmd
from service.commands import hotspots

LON0, LAT0 = 113.92, 30.93
BUSY = (LON0, LAT0)
CORNER = (LON0 + 0.02, LAT0 + 0.015)


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    hotspots.register(a)
    forecast_cmd.register(a)
    return a


def district(seed: int = 0) -> pd.DataFrame:
    """Cases of 60 days (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_bg = 1500
    parts = [
        (rng.uniform(LON0 - 0.03, LON0 + 0.03, n_bg), rng.uniform(LAT0 - 0.03, LAT0 + 0.03, n_bg),
         np.where(rng.random(n_bg) < 0.5, "巡查发现", "12345热线")),
        (BUSY[0] + rng.normal(0, 2e-4, 200), BUSY[1] + rng.normal(0, 2e-4, 200),
         np.full(200, "巡查发现")),
        (CORNER[0] + rng.normal(0, 2e-4, 120), CORNER[1] + rng.normal(0, 2e-4, 120),
         np.r_[np.full(90, "巡查发现"), np.full(30, "市民投诉")]),
    ]
    lon = np.concatenate([p[0] for p in parts])
    lat = np.concatenate([p[1] for p in parts])
    n = len(lon)
    day = pd.Timestamp("2024-04-01") + pd.to_timedelta(rng.uniform(0, 60, n), "D")
    return pd.DataFrame({"case_id": [f"A{i}" for i in range(n)], "category": "09006",
                         "reported_at": day.strftime("%Y-%m-%d %H:%M:%S"),
                         "lon": lon.round(6), "lat": lat.round(6),
                         "source": np.concatenate([p[2] for p in parts])})


def effort_rows() -> pd.DataFrame:
    """40 h at BUSY, 2 h at CORNER, 1 h at each point of a 500 m lattice."""
    glon, glat = np.meshgrid(np.arange(LON0 - 0.03, LON0 + 0.0301, 0.005),
                             np.arange(LAT0 - 0.03, LAT0 + 0.0301, 0.0045))
    lattice = pd.DataFrame({"lon": glon.ravel(), "lat": glat.ravel(), "duration_s": 3600.0})
    far = (np.hypot(lattice["lon"] - CORNER[0], lattice["lat"] - CORNER[1]) > 0.006)
    spots = pd.DataFrame({"lon": [BUSY[0], CORNER[0]], "lat": [BUSY[1], CORNER[1]],
                          "duration_s": [40 * 3600.0, 2 * 3600.0]})
    return pd.concat([spots, lattice[far]], ignore_index=True)


def _run(app: typer.Typer, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def _near(lonlat: tuple[float, float], coords: list, tol: float = 0.002) -> bool:
    lon, lat = np.asarray(coords[0]).mean(axis=0)
    return abs(lon - lonlat[0]) < tol and abs(lat - lonlat[1]) < tol


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("effort")
    out = {"cases": d / "cases.csv", "effort": d / "effort.csv"}
    district().to_csv(out["cases"], index=False)
    effort_rows().to_csv(out["effort"], index=False)
    return out


def test_hotspots_default_is_background_and_says_counts(app: typer.Typer, files: dict[str, Path],
                                                        tmp_path: Path) -> None:
    out = tmp_path / "hs.geojson"
    code, text = _run(app, "hotspots", "--cases", str(files["cases"]), "--out", str(out))
    assert code == 0, text
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["ranking"] == "counts" and fc["ranking_label"].startswith("按案件数")
    props = [f["properties"] for f in fc["features"]]
    assert len(props) == 2 and all("expected_cases" in p for p in props)  # the background method
    busy = next(f for f in fc["features"] if _near(BUSY, f["geometry"]["coordinates"]))
    assert busy["properties"]["case_count"] > 150  # raw counts: the busy market is the biggest
    helptext = CliRunner().invoke(app, ["hotspots", "--help"]).output
    assert "background" in helptext and "--effort" in helptext


def test_exposure_puts_the_rarely_patrolled_hotspot_first(app: typer.Typer,
                                                          files: dict[str, Path],
                                                          tmp_path: Path) -> None:
    out = tmp_path / "hs.geojson"
    code, text = _run(app, "hotspots", "--cases", str(files["cases"]), "--out", str(out),
                      "--effort", str(files["effort"]))
    assert code == 0, text
    assert "按巡查时长校正" in text
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["ranking"] == "exposure" and fc["effort"] == "file"
    first, second = fc["features"]
    assert _near(CORNER, first["geometry"]["coordinates"])
    assert _near(BUSY, second["geometry"]["coordinates"])
    a, b = first["properties"], second["properties"]
    assert a["rank"] == 1 and b["rank"] == 2
    assert b["case_count"] > a["case_count"]  # more cases at BUSY, but found by 40 h of patrols
    assert a["exposure_score"] > b["exposure_score"]
    assert a["other_cases"] >= 25 and b["patrol_cases"] >= 180
    # the complaints at CORNER count as they are: its score is at least its complaints
    assert a["exposure_score"] >= a["other_cases"]


def test_forecast_with_effort_ranks_the_corner_cell_first(app: typer.Typer,
                                                          files: dict[str, Path],
                                                          tmp_path: Path) -> None:
    plain, ranked = tmp_path / "plain.geojson", tmp_path / "ranked.geojson"
    common = ("forecast", "--cases", str(files["cases"]), "--at", "2024-06-01", "--cell-m", "150")
    code, text = _run(app, *common, "--out", str(plain))
    assert code == 0, text
    code, text = _run(app, *common, "--out", str(ranked), "--effort", str(files["effort"]))
    assert code == 0, text
    p, r = (json.loads(f.read_text(encoding="utf-8")) for f in (plain, ranked))
    assert p["ranking"] == "counts" and r["ranking"] == "exposure"
    assert _near(BUSY, p["features"][0]["geometry"]["coordinates"], tol=0.0015)
    assert _near(CORNER, r["features"][0]["geometry"]["coordinates"], tol=0.0015)
    assert "排序：按巡查时长校正" in text


def test_unknown_sources_are_complaints_and_said_so(app: typer.Typer, files: dict[str, Path],
                                                    tmp_path: Path) -> None:
    cases = district()
    cases.loc[:9, "source"] = "奇怪渠道"
    cases.loc[10:14, "source"] = ""
    src = tmp_path / "cases.csv"
    cases.to_csv(src, index=False)
    out = tmp_path / "hs.geojson"
    code, text = _run(app, "hotspots", "--cases", str(src), "--out", str(out),
                      "--effort", str(files["effort"]))
    assert code == 0, text
    assert "15 条案件的来源未知或为空（「奇怪渠道」）" in text and "按投诉类原样计数" in text
    notes = json.loads(out.read_text(encoding="utf-8"))["notes"]
    assert any("来源未知" in n for n in notes)
    # no source column at all: every case counts as it is, and the output says so
    cases.drop(columns=["source"]).to_csv(src, index=False)
    code, text = _run(app, "hotspots", "--cases", str(src), "--out", str(out),
                      "--effort", str(files["effort"]))
    assert code == 0 and "没有来源列" in text


def test_effort_without_duration_is_a_clear_error(app: typer.Typer, files: dict[str, Path],
                                                  tmp_path: Path) -> None:
    rows = effort_rows()
    rows["duration_s"] = rows["duration_s"].astype(object)
    rows.loc[[1, 4], "duration_s"] = ""
    bad = tmp_path / "effort.csv"
    rows.to_csv(bad, index=False)
    out = tmp_path / "hs.geojson"
    code, text = _run(app, "hotspots", "--cases", str(files["cases"]), "--out", str(out),
                      "--effort", str(bad))
    # spreadsheet row numbers: header is row 1, rows 1 and 4 of the frame are rows 3 and 6
    assert code == 1 and "记录（行号）3、6 没有时长" in text and "--effort-default-minutes" in text
    assert not out.exists()
    code, text = _run(app, "hotspots", "--cases", str(files["cases"]), "--out", str(out),
                      "--effort", str(bad), "--effort-default-minutes", "30")
    assert code == 0 and "2 条巡查记录没有时长，按默认 30 分钟计" in text
    code, text = _run(app, "forecast", "--cases", str(files["cases"]), "--at", "2024-06-01",
                      "--out", str(out), "--effort", str(bad))
    assert code == 1 and "没有时长" in text


def test_no_effort_records_keep_the_counts_and_say_so(app: typer.Typer, files: dict[str, Path],
                                                      tmp_path: Path) -> None:
    empty = tmp_path / "plans.json"
    empty.write_text('{"plans": []}', encoding="utf-8")
    out = tmp_path / "hs.geojson"
    code, text = _run(app, "hotspots", "--cases", str(files["cases"]), "--out", str(out),
                      "--effort", str(empty))
    assert code == 0 and "没有巡查记录" in text and "按案件数" in text
    assert json.loads(out.read_text(encoding="utf-8"))["ranking"] == "counts"


def test_plan_json_as_effort(app: typer.Typer, files: dict[str, Path], tmp_path: Path) -> None:
    rows = effort_rows()
    plan = {"date": "2024-05-01", "routes": [{"team": "t1", "visits": [
        {"stop_id": f"s{i}", "kind": "热点", "lon": r.lon, "lat": r.lat,
         "community_code": None, "service_s": r.duration_s} for i, r in enumerate(rows.itertuples())
    ]}]}
    src = tmp_path / "plan.json"
    src.write_text(json.dumps({"plans": [plan]}), encoding="utf-8")
    out = tmp_path / "hs.geojson"
    code, text = _run(app, "hotspots", "--cases", str(files["cases"]), "--out", str(out),
                      "--effort", str(src))
    assert code == 0, text
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["ranking"] == "exposure" and _near(CORNER, fc["features"][0]["geometry"]["coordinates"])
    src.write_text(json.dumps({"foo": 1}), encoding="utf-8")
    code, text = _run(app, "hotspots", "--cases", str(files["cases"]), "--out", str(out),
                      "--effort", str(src))
    assert code == 1 and "巡查记录 JSON 无法识别" in text


def test_effort_auto_reads_the_stored_plans(app: typer.Typer, files: dict[str, Path],
                                            tmp_path: Path) -> None:
    from datetime import date, timedelta

    from pages_support import build_site

    from service.models import Plan

    url = f"sqlite:///{tmp_path / 'x.db'}"
    site = build_site(url)
    out = tmp_path / "hs.geojson"
    args = ("hotspots", "--cases", str(files["cases"]), "--out", str(out), "--effort", "auto",
            "--db", url)
    code, text = _run(app, *args)
    assert code == 0 and "没有巡查记录" in text  # no plan on the cases' days: the counts
    assert json.loads(out.read_text(encoding="utf-8"))["effort"] == "none"
    rows = effort_rows()
    with site.storage.begin() as session:
        for d in range(4):  # the same hours, spread over four plan days of the cases' period
            visits = [{"stop_id": f"s{i}", "kind": "热点", "lon": r.lon, "lat": r.lat,
                       "community_code": None, "service_s": r.duration_s / 4}
                      for i, r in enumerate(rows.itertuples())]
            day = date(2024, 5, 1) + timedelta(days=d)
            session.add(Plan(squad_id="shuyuan", plan_date=day, created_by="t",
                             data={"date": day.isoformat(), "routes": [{"team": "t",
                                                                        "visits": visits}]}))
    site.storage.engine.dispose()
    code, text = _run(app, *args)
    assert code == 0, text
    assert "数据库中已保存的计划" in text
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["ranking"] == "exposure" and fc["effort"] == "planned"
    assert _near(CORNER, fc["features"][0]["geometry"]["coordinates"])
