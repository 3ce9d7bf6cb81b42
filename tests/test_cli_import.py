"""`xuncha import`: exit 0 when every row is stored, 1 with a per-row report, 2 when unreadable."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from service.cli import app
from service.storage import Storage

runner = CliRunner()


def _rows(storage: Storage, n: int) -> list[str]:
    comm = storage.communities()
    out = []
    for i in range(n):
        p = comm.geometry.iat[i].representative_point()
        out.append(f"K{i},占道经营,2026-06-0{1 + i} 07:15,{p.x:.7f},{p.y:.7f},早市摊贩")
    return out


def test_import_exit_codes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    storage = Storage(url)
    storage.init()
    header = "案件编号,问题类型,上报时间,经度,纬度,问题描述\n"
    good = tmp_path / "good.csv"
    good.write_bytes((header + "\n".join(_rows(storage, 3)) + "\n").encode("gbk"))
    res = runner.invoke(app, ["import", str(good), "--db", url])
    assert res.exit_code == 0, res.output
    assert "新增 3" in res.output

    messy = tmp_path / "messy.csv"
    messy.write_text(header + "\n".join([*_rows(storage, 2), "K9,占道经营,2026-06-01 07:00,,30.9,x"]) + "\n",
                     encoding="utf-8")
    report = tmp_path / "report.csv"
    res = runner.invoke(app, ["import", str(messy), "--db", url, "--report", str(report)])
    assert res.exit_code == 1, res.output
    assert "更新 2" in res.output and "拒绝 1" in res.output
    assert "缺少经度" in report.read_text(encoding="utf-8-sig")
    assert storage.count_cases() == 3  # K0, K1 updated, not duplicated; K9 rejected

    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    res = runner.invoke(app, ["import", str(bad), "--db", url])
    assert res.exit_code == 2 and "缺少必需的列" in res.output
    res = runner.invoke(app, ["import", str(tmp_path / "missing.csv"), "--db", url])
    assert res.exit_code == 2
    assert storage.count_cases() == 3


def test_import_gcj02_coordinates(tmp_path: Path) -> None:
    from geo.crs import wgs84_to_gcj02

    url = f"sqlite:///{tmp_path / 'g.db'}"
    storage = Storage(url)
    storage.init()
    p = storage.communities().geometry.iat[0].representative_point()
    glon, glat = wgs84_to_gcj02([p.x], [p.y])
    f = tmp_path / "gcj.csv"
    f.write_text(f"case_id,category,reported_at,lon,lat\nG1,09006,2026-06-01 07:00,{glon[0]:.9f},{glat[0]:.9f}\n")
    res = runner.invoke(app, ["import", str(f), "--db", url, "--coords", "gcj02"])
    assert res.exit_code == 0, res.output
    case = storage.query_cases().iloc[0]
    assert abs(case["lon"] - p.x) < 1e-5 and abs(case["lat"] - p.y) < 1e-5  # ~1 m
    assert case["community_code"] == storage.communities()["code"].iat[0]
