"""`xuncha export --format geoparquet` and `xuncha batch`: the stored cases out as partitioned
GeoParquet, analysed in-process, with the documented exit codes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from geo.io.parquet import read_geoparquet
from service.cli import app
from service.storage import Storage

runner = CliRunner()


def _csv(storage: Storage, path: Path, n: int) -> None:
    comm = storage.communities()
    rows = []
    for i in range(n):
        p = comm.geometry.iat[i % len(comm)].representative_point()
        day = 1 + i % 28
        month = 9 + (i // 28) % 2
        rows.append(f"B{i:04d},占道经营,2026-{month:02d}-{day:02d} 07:15,{p.x:.7f},{p.y:.7f},早市摊贩")
    path.write_text("案件编号,问题类型,上报时间,经度,纬度,问题描述\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")


@pytest.fixture
def stored(tmp_path: Path) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    storage = Storage(url)
    storage.init()
    _csv(storage, tmp_path / "cases.csv", 300)
    res = runner.invoke(app, ["import", str(tmp_path / "cases.csv"), "--db", url])
    assert res.exit_code == 0, res.output
    return url, 300


def test_export_then_batch(stored: tuple[str, int], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    url, n = stored
    monkeypatch.setenv("XUNCHA_DATABASE_URL", url)
    out = tmp_path / "parquet"
    res = runner.invoke(app, ["export", "--format", "geoparquet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{n:,}" in res.output
    months = sorted(p.name for p in out.glob("district=*/month=*"))
    assert {"month=2026-09", "month=2026-10"} <= set(months)
    back = read_geoparquet(out)
    assert isinstance(back, gpd.GeoDataFrame) and len(back) == n
    assert back.crs is not None and back.crs.to_epsg() == 4326

    results = tmp_path / "results"
    res = runner.invoke(app, ["batch", "--source", str(out), "--out", str(results)])
    assert res.exit_code == 0, res.output
    assert (results / "summary.json").is_file()


def test_export_refuses_unknown_format_and_empty_db(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Storage(url).init()
    monkeypatch.setenv("XUNCHA_DATABASE_URL", url)
    res = runner.invoke(app, ["export", "--format", "shp", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "geoparquet" in res.output
    res = runner.invoke(app, ["export", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "没有案件" in res.output


def test_batch_unreadable_source_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["batch", "--source", str(tmp_path / "missing"),
                              "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
