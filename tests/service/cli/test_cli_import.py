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


def test_import_map_dry_run_and_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    storage = Storage(url)
    storage.init()
    pts = [storage.communities().geometry.iat[i].representative_point() for i in range(2)]
    f = tmp_path / "export.csv"
    f.write_text("任务号,案件类型,细类,上报时间,经度,纬度,当前阶段\n" + "".join(
        f"M{i},市一体化平台,占道经营,2026-06-0{1 + i} 07:15,{p.x:.7f},{p.y:.7f},立案派遣\n"
        for i, p in enumerate(pts)), encoding="utf-8")
    # 细类 is no known header: 案件类型 (= 市一体化平台) is the only category column, every row fails
    res = runner.invoke(app, ["import", str(f), "--db", url, "--dry-run"])
    assert res.exit_code == 1 and "试运行，未保存任何数据" in res.output
    assert "案件类型" in res.output and "市一体化平台" in res.output
    assert storage.count_cases() == 0
    res = runner.invoke(app, ["import", str(f), "--db", url, "--dry-run", "--map", "细类=category"])
    assert res.exit_code == 0, res.output
    assert "细类（--map 指定）" in res.output and "共 2 行：将新增 2" in res.output
    assert storage.count_cases() == 0
    res = runner.invoke(app, ["import", str(f), "--db", url, "--map", "细类=问题类型"])
    assert res.exit_code == 0 and "新增 2" in res.output
    assert set(storage.query_cases()["status"]) == {"派遣"}
    older = tmp_path / "older.csv"
    older.write_text(f.read_text(encoding="utf-8").replace("立案派遣", "待受理"), encoding="utf-8")
    res = runner.invoke(app, ["import", str(older), "--db", url, "--map", "细类=category"])
    assert res.exit_code == 0, res.output
    assert "库中已到派遣，文件为上报，保留库中状态" in res.output
    assert set(storage.query_cases()["status"]) == {"派遣"}
    res = runner.invoke(app, ["import", str(f), "--db", url, "--map", "细类=kind"])
    assert res.exit_code == 2 and "角色" in res.output


def test_import_bd09_header_and_future_times(tmp_path: Path) -> None:
    from geo.crs import wgs84_to_bd09

    url = f"sqlite:///{tmp_path / 'b.db'}"
    storage = Storage(url)
    storage.init()
    p = storage.communities().geometry.iat[0].representative_point()
    bx, by = wgs84_to_bd09([p.x], [p.y])
    f = tmp_path / "baidu.csv"
    f.write_text("编号,小类,发现时间,经度(百度),纬度(百度)\n"
                 f"B1,占道经营,2026-06-01 07:00,{bx[0]:.9f},{by[0]:.9f}\n"
                 f"B2,占道经营,2099-06-01 07:00,{bx[0]:.9f},{by[0]:.9f}\n", encoding="utf-8")
    res = runner.invoke(app, ["import", str(f), "--db", url])
    assert res.exit_code == 1 and "BD-09" in res.output and "晚于当前时间" in res.output
    case = storage.query_cases().iloc[0]
    assert abs(case["lon"] - p.x) < 1e-6 and abs(case["lat"] - p.y) < 1e-6
    assert case["coord_system"] == "bd09"
    res = runner.invoke(app, ["import", str(f), "--db", url, "--allow-future"])
    assert res.exit_code == 0, res.output
    assert storage.count_cases() == 2
