"""``xuncha site`` on a local Typer app: exit codes 0 / 1 / 2 and the written solution."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from geo.siting.solve import evaluate_siting
from service.commands import siting

PROBLEM = {
    "demand": [{"id": "a", "x": 0.0, "y": 0.0, "weight": 2.0},
               {"id": "b", "x": 100.0, "y": 0.0, "weight": 1.0},
               {"id": "c", "x": 900.0, "y": 0.0, "weight": 4.0}],
    "candidates": [{"id": "L", "x": 50.0, "y": 0.0, "capacity": None},
                   {"id": "R", "x": 950.0, "y": 0.0, "capacity": None},
                   {"id": "M", "x": 500.0, "y": 0.0, "capacity": None}],
    "cost": {"metric": "euclidean"}, "model": "mclp", "sites": 1, "radius_m": 120,
}


def _app() -> typer.Typer:
    app = typer.Typer()
    siting.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command so that typer keeps "site" as a subcommand
        """Nothing."""

    return app


def test_site_writes_a_checked_solution(tmp_path: Path) -> None:
    src, out = tmp_path / "p.json", tmp_path / "out" / "s.json"
    src.write_text(json.dumps(PROBLEM), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["site", str(src), "--out", str(out), "--time-limit-s", "5"])
    assert res.exit_code == 0, res.output
    sol = json.loads(out.read_text(encoding="utf-8"))
    assert sol["chosen"] == ["R"] and sol["covered_weight"] == 4.0 and sol["optimal"] is True
    assert sol["assignment"] == {"a": None, "b": None, "c": "R"}
    assert evaluate_siting(PROBLEM, sol["chosen"])["covered_weight"] == sol["covered_weight"]
    assert "已证明最优" in res.output


def test_site_bad_problem_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "p.json"
    src.write_text(json.dumps({**PROBLEM, "sites": 5}), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["site", str(src), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 1
    assert "少于要选的点数" in res.output
    assert not (tmp_path / "s.json").exists()


def test_site_unreadable_json_exits_2(tmp_path: Path) -> None:
    src = tmp_path / "p.json"
    src.write_text("{not json", encoding="utf-8")
    res = CliRunner().invoke(_app(), ["site", str(src), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 2 and "无法读取" in res.output
    res = CliRunner().invoke(_app(), ["site", str(tmp_path / "missing.json"), "--out", "x.json"])
    assert res.exit_code == 2


def test_write_siting_outputs(tmp_path: Path) -> None:
    import geopandas as gpd
    import pandas as pd
    from shapely import points

    from geo.siting.frames import site_relocation_points

    xy = [(500_000.0 + 40 * i, 3_420_000.0 + 25 * (i % 3)) for i in range(12)]
    demand = gpd.GeoDataFrame({"weight": [1.0] * 12}, geometry=points(xy), crs="EPSG:4547")
    cand = gpd.GeoDataFrame({"candidate_id": ["p1", "p2"]},
                            geometry=points([xy[2], xy[9]]), crs="EPSG:4547")
    sites = site_relocation_points(demand, cand, sites=2, radius_m=200)
    paths = siting.write_siting_outputs(sites, tmp_path / "o")
    pts = gpd.read_file(paths["sites"])
    assert len(pts) == 2 and set(pts["candidate_id"]) == {"p1", "p2"}
    assert gpd.read_file(paths["catchments"]).geom_type.eq("Polygon").all()
    sheet = pd.read_excel(paths["xlsx"], sheet_name="疏导点")
    assert sheet["服务需求权重"].sum() == 12.0
