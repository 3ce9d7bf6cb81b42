"""``xuncha solve-patrol`` via a local Typer app: exit codes 0/1/2 and the written solution."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from geo.routing.solve import check_solution
from service.commands import routing

PROBLEM = {
    "teams": [{"id": "A", "start": "S1", "end": "S1", "shift_s": [0, 28800], "speed_mps": 1.2}],
    "sites": [{"id": "S1", "x": 0.0, "y": 0.0}],
    "stops": [{"id": "h1", "x": 120.0, "y": -40.0, "priority": 5, "service_s": 600,
               "windows_s": [[0, 10800]], "required": False},
              {"id": "h2", "x": -200.0, "y": 90.0, "priority": 2, "service_s": 300,
               "windows_s": [[3600, 7200]], "required": True}],
    "travel": {"metric": "euclidean"}, "objective": "priority", "time_limit_s": 5,
}


def _app() -> typer.Typer:
    app = typer.Typer()
    routing.register(app)
    app.command("noop")(lambda: None)  # keep "solve-patrol" as a named sub-command
    return app


def test_solve_patrol_ok(tmp_path):
    src, out = tmp_path / "p.json", tmp_path / "out" / "s.json"
    src.write_text(json.dumps(PROBLEM), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out),
                                      "--time-limit-s", "0.5"])
    assert res.exit_code == 0, res.output
    assert "已写出" in res.output
    sol = json.loads(out.read_text(encoding="utf-8"))
    assert sol["priority_total"] == 7 and sol["unvisited"] == []
    assert check_solution(PROBLEM, sol) == []
    h2 = next(v for r in sol["routes"] for v in r["visits"] if v["id"] == "h2")
    assert 3600 <= h2["arrive_s"] <= 7200


def test_solve_patrol_ortools(tmp_path):
    src, out = tmp_path / "p.json", tmp_path / "s.json"
    src.write_text(json.dumps(PROBLEM), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out),
                                      "--solver", "ortools", "--time-limit-s", "0.5"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8"))["solver"] == "ortools"


def test_solve_patrol_infeasible_and_invalid(tmp_path):
    bad = json.loads(json.dumps(PROBLEM))
    bad["stops"][1]["windows_s"] = [[0, 10]]  # 182 m away at 1.2 m/s: unreachable by 10 s
    src, out = tmp_path / "p.json", tmp_path / "s.json"
    src.write_text(json.dumps(bad), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 1
    assert "必访点 h2" in res.output and not out.exists()
    bad["teams"][0]["start"] = "S9"
    src.write_text(json.dumps(bad), encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(out)])
    assert res.exit_code == 1 and "未知站点" in res.output


def test_solve_patrol_unreadable(tmp_path):
    src = tmp_path / "p.json"
    src.write_text("{not json", encoding="utf-8")
    res = CliRunner().invoke(_app(), ["solve-patrol", str(src), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 2 and "无法读取" in res.output
    res = CliRunner().invoke(_app(), ["solve-patrol", str(tmp_path / "none.json"),
                                      "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 2
