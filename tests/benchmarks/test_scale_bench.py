"""``benchmarks/scale.py`` helpers: the fixed tile set lies on the simulated districts, result
rows merge by size, and ``benchmarks/report.py`` renders the scale JSON (batch and PostGIS)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import _scale_postgis as sp  # noqa: E402
import _scale_report  # noqa: E402

from service.tiles import lonlat_bounds  # noqa: E402


def test_tile_set_is_fixed_and_every_tile_covers_a_district() -> None:
    tiles = sp.tile_set(8)
    assert tiles == sp.tile_set(8)
    counts = {z: sum(t[0] == z for t in tiles) for z in sp.ZOOMS}
    # 8 districts of ~8 km hold only ~15 distinct z12 tiles (~9.8 km); finer zooms get all 16
    assert counts[14] == counts[16] == sp.TILES_PER_ZOOM and 12 <= counts[12] <= 16
    assert len(set(tiles)) == len(tiles)
    for z, x, y in tiles:
        lon0, lat0, lon1, lat1 = lonlat_bounds(z, x, y)
        assert any(lon0 < ox + 0.08 and lon1 > ox and lat0 < oy + 0.07 and lat1 > oy
                   for ox, oy in map(sp.district_origin, range(8))), (z, x, y)
    # moved clear of the embedded 孝南区 (113.89–113.96E)
    assert min(sp.district_origin(d)[0] for d in range(8)) > 113.96


def _lat(p50: float) -> dict[str, Any]:
    return {"requests": 16, "p50_ms": p50, "p95_ms": 2 * p50, "max_ms": 3 * p50,
            "client_cpu_ms_mean": 1.0, "bytes_mean": 1234}


def test_report_renders_batch_and_postgis_rows() -> None:
    batch = {"cases": 1_000_000, "write_s": 8.0, "dataset_mb": 43.0, "results_equal": True,
             "in_process": {"seconds": 3.5, "peak_rss_mb": 380},
             "dask_local_2_workers": {"seconds": 25.0, "peak_rss_mb": 1040}, "run_utc": "x"}
    pg = {"cases": 1_000_000, "squads": 32, "districts": 8, "csv_files": 12,
          "import": {"seconds": 200.0, "rows_per_s": 5000, "peak_rss_mb": 900, "rejected": 0,
                     "cpu_s": {"client": 100.0, "reader_workers": 40.0, "db_backends": 30.0}},
          "tiles": {"z12_all": _lat(40.0), "z16_month": _lat(7.0)},
          "case_list_bbox_month": _lat(20.0)}
    d = {"rows": [batch], "postgis": {"machine": {"date": "2026-12-01T12:00"}, "rows": [pg],
                                      "import_path": "p", "tiles": "t", "case_list": "c"}}
    text = _scale_report.scale(d)
    assert "| 1,000,000 | 8.0 | 43 | 3.5 | 380 | 25.0 | 1,040 | ✓ | x |" in text
    assert "| 1,000,000 | 32 in 8 | 12 | 200.0 | 5,000 | 900 | 100 + 40 + 30 | 0 |" in text
    assert "| 1,000,000 | tile z12, all | 16 | 40 | 80 | 120 | 1,234 |" in text
    assert "| 1,000,000 | case list, bbox + month | 16 | 20 | 40 | 60 | 1,234 |" in text
    assert "postgis" not in _scale_report.scale({"rows": [batch]}).lower()


def test_rows_merge_by_size() -> None:
    import scale

    old = [{"cases": 1, "v": "old"}, {"cases": 3, "v": "old"}]
    assert scale._merge(old, [{"cases": 1, "v": "new"}]) == [{"cases": 1, "v": "new"},
                                                             {"cases": 3, "v": "old"}]
