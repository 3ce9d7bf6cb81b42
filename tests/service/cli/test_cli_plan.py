"""``xuncha plan``: stored plans, plan JSON, sheets and map per squad, exit codes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from pyproj import Transformer
from shapely.geometry import Point
from typer.testing import CliRunner

from geo.boundaries import load_default
from service.commands import plan as plan_cmd
from service.importer import import_table
from service.plans import last_visits, load_plan
from service.storage import Storage

DAY = date(2026, 5, 12)
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    plan_cmd.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps "plan" a subcommand
        return None

    return app


def _cases() -> pd.DataFrame:
    """A morning-market stall hotspot in 车站中队's first community, and two due open cases.

    80 closed clutter cases spread over the squad's area give the density contrast hotspots
    are measured against.
    """
    area = load_default()
    code = area.squad("chezhan")["communities"][0]
    comm = area.communities.to_crs(4547)
    c = comm.set_index("code").loc[code, "geometry"].representative_point()
    rng = np.random.default_rng(7)
    n = 60
    xs, ys = c.x + rng.normal(0, 12, n), c.y + rng.normal(0, 12, n)
    squad_area = comm[comm["squad"] == "chezhan"].union_all()
    x0, y0, x1, y1 = squad_area.bounds
    bx, by = rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)
    keep = [squad_area.contains(Point(x, y)) for x, y in zip(bx, by, strict=True)]
    bx, by = bx[keep][:80], by[keep][:80]
    days = rng.integers(1, 20, n)
    hours = rng.integers(6, 9, n)
    times = [pd.Timestamp(DAY) - pd.Timedelta(days=int(d)) + pd.Timedelta(hours=int(h))
             for d, h in zip(days, hours, strict=True)]
    to_ll = Transformer.from_crs(4547, 4326, always_xy=True)
    lon, lat = to_ll.transform(xs, ys)
    df = pd.DataFrame({"case_id": [f"T{i:03d}" for i in range(n)], "category": "09006",
                       "reported_at": [t.isoformat() for t in times], "lon": lon, "lat": lat,
                       "status": "结案", "description": "［模拟］早市摊贩占道"})
    bl, bt = to_ll.transform(bx, by)
    bg = pd.DataFrame({"case_id": [f"B{i:03d}" for i in range(len(bl))], "category": "06036",
                       "reported_at": (pd.Timestamp(DAY) - pd.Timedelta(days=6, hours=10)).isoformat(),
                       "lon": bl, "lat": bt, "status": "结案", "description": "［模拟］乱堆杂物"})
    df = pd.concat([df, bg], ignore_index=True)
    df.loc[:1, "status"] = "派遣"  # reported ≥ 1 day ago, 24 h deadline: due or overdue
    df.loc[:1, "reported_at"] = [(pd.Timestamp(DAY) - pd.Timedelta(hours=20)).isoformat(),
                                 (pd.Timestamp(DAY) - pd.Timedelta(days=3)).isoformat()]
    return df


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    st = Storage(url)
    report = import_table(st, _cases())
    assert report.rejected == 0
    st.engine.dispose()
    return url


def test_plan_command_writes_and_stores_a_feasible_plan(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(_app(), ["plan", "--date", DAY.isoformat(), "--squad", "chezhan",
                                 "--out", str(out), "--db", db, "--time-limit", "0.5"])
    assert res.exit_code == 0, res.output
    assert "可行" in res.output and "车站中队" in res.output
    data = json.loads((out / "chezhan" / "plan.json").read_text(encoding="utf-8"))
    assert data["squad"] == "chezhan" and data["feasible"] and data["violations"] == []
    assert [r["team"] for r in data["routes"]] == ["chezhan-1", "chezhan-2"]
    kinds = {v["kind"] for r in data["routes"] for v in r["visits"]}
    assert {"热点", "复查", "社区巡查"} <= kinds
    morning = next(v for r in data["routes"] for v in r["visits"] if v["kind"] == "热点")
    assert "06:00" <= morning["arrive"][11:16] <= "09:00"
    for team in ("车站一组", "车站二组"):
        for ext in ("pdf", "xlsx", "html"):
            f = out / "chezhan" / f"{DAY.isoformat()}_车站中队_{team}.{ext}"
            assert f.is_file() and f.stat().st_size > 500, f
    assert (out / "chezhan" / "map.html").stat().st_size > 1000
    assert not (out / "shuyuan").exists()
    st = Storage(db)
    stored = load_plan(st, "chezhan", DAY)
    assert stored is not None and stored["n_visited"] == data["n_visited"]
    codes = set(load_default().squad("chezhan")["communities"])
    assert set(last_visits(st, "chezhan", DAY + timedelta(days=1))) == codes
    st.engine.dispose()


def test_plan_command_unavailable_team_and_bad_input(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["plan", "--date", DAY.isoformat(), "--squad", "chezhan", "--out", str(out),
            "--db", db, "--time-limit", "0.5", "--no-sheets", "--no-map"]
    res = runner.invoke(_app(), [*args, "--unavailable", "chezhan-2"])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "chezhan" / "plan.json").read_text(encoding="utf-8"))
    assert [r["team"] for r in data["routes"]] == ["chezhan-1"]
    assert data["unavailable_teams"] == ["chezhan-2"]
    assert not list((out / "chezhan").glob("*.pdf"))
    res = runner.invoke(_app(), [*args, "--unavailable", "nosuch-9"])
    assert res.exit_code == 1 and "未知的队伍" in res.output
    res = runner.invoke(_app(), ["plan", "--date", DAY.isoformat(), "--squad", "nosuch",
                                 "--out", str(out), "--db", db])
    assert res.exit_code == 1 and "没有编号" in res.output
    res = runner.invoke(_app(), ["plan", "--date", "2026-13-01", "--out", str(out), "--db", db])
    assert res.exit_code == 1
