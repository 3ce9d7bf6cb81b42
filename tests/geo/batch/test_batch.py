"""Batch analytics: chunked counts, Dask == in-process, GeoParquet round trip, bad input."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from geo.analysis.significance import confidence_bins, gi_star, neighbour_matrix
from geo.batch import ALL, BatchResult, run_batch
from geo.batch.analyse import centres
from geo.errors import FileReadError, InputError
from geo.forecast.models import METHODS, EventHistory
from geo.io.parquet import (
    iter_batches,
    list_fragments,
    read_geoparquet,
    write_case_dataset,
    write_geoparquet,
)

TZ = "Asia/Shanghai"
CATEGORIES = ("06036", "09001", "09006")
CENTRES = {"chezhan": (113.93, 30.91), "shuyuan": (113.96, 30.93), "xinhua": (113.90, 30.95)}


def build_cases(n: int = 6000, seed: int = 7) -> gpd.GeoDataFrame:
    """Simulated cases in three districts over 70 days, half in two hotspots per district."""
    rng = np.random.default_rng(seed)
    names = np.array(sorted(CENTRES))
    district = names[rng.integers(0, len(names), n)]
    cx = np.array([CENTRES[d][0] for d in district])
    cy = np.array([CENTRES[d][1] for d in district])
    hot = rng.random(n) < 0.5
    spot = rng.integers(0, 2, n) * 0.006
    lon = np.where(hot, cx + spot + rng.normal(0, 0.0008, n), cx + rng.uniform(-0.01, 0.01, n))
    lat = np.where(hot, cy + spot + rng.normal(0, 0.0008, n), cy + rng.uniform(-0.01, 0.01, n))
    start = pd.Timestamp("2025-03-01", tz=TZ)
    seconds = rng.integers(0, 70 * 86400, n)
    seconds = np.where(seconds % 86400 == 0, seconds + 1, seconds)  # no case at midnight exactly
    times = start + pd.to_timedelta(np.sort(seconds), unit="s")
    return gpd.GeoDataFrame(
        {"case_id": [f"C{i:05d}" for i in range(n)], "district": district,
         "category": np.array(CATEGORIES)[rng.integers(0, 3, n)], "reported_at": times,
         "lon": lon, "lat": lat},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


@pytest.fixture(scope="module")
def cases() -> gpd.GeoDataFrame:
    return build_cases()


@pytest.fixture(scope="module")
def dataset(cases: gpd.GeoDataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cases")
    half = len(cases) // 2  # two chunks: two part files in most partitions
    write_case_dataset(cases.iloc[:half], root, part=0)
    write_case_dataset(cases.iloc[half:], root, part=1)
    return root


@pytest.fixture(scope="module")
def in_process(dataset: Path) -> BatchResult:
    return run_batch(dataset, at="2025-05-05")


def _assert_same(a: BatchResult, b: BatchResult) -> None:
    for name in ("gi", "forecast", "trends", "stats"):
        fa, fb = getattr(a, name), getattr(b, name)
        ints = [c for c in fa.columns if not pd.api.types.is_float_dtype(fa[c])]
        # Dask workers are other processes: their text columns may use pandas' other string
        # storage (pyarrow vs python), so compare values exactly and dtypes by kind
        pdt.assert_frame_equal(fa[ints], fb[ints], check_exact=True, check_dtype=False,
                               check_column_type=False)
        assert [fa[c].dtype.kind for c in ints] == [fb[c].dtype.kind for c in ints]
        floats = [c for c in fa.columns if c not in ints]
        np.testing.assert_allclose(fa[floats].to_numpy(), fb[floats].to_numpy(), rtol=1e-12,
                                   atol=1e-12)


def test_layout_is_hive_partitioned_geoparquet(dataset: Path, cases: gpd.GeoDataFrame) -> None:
    frags = list_fragments(dataset)
    assert {f.value("district") for f in frags} == set(CENTRES)
    assert {f.value("month") for f in frags} == {"2025-03", "2025-04", "2025-05"}
    assert any(Path(f.path).name == "part-00001.parquet" for f in frags)
    batch = next(iter_batches(frags[0], batch_rows=10))
    assert batch.schema.names == ["lon", "lat", "category", "reported_at"]
    assert batch.num_rows == 10


def test_case_dataset_round_trip_keeps_crs_columns_values(dataset: Path,
                                                          cases: gpd.GeoDataFrame) -> None:
    back = read_geoparquet(dataset).sort_values("case_id").reset_index(drop=True)
    assert back.crs is not None and back.crs.equals("EPSG:4326")
    assert set(back.columns) == {*cases.columns, "month"}
    exp = cases.sort_values("case_id").reset_index(drop=True)
    assert back["district"].astype(str).tolist() == exp["district"].tolist()
    for col in ("case_id", "category", "lon", "lat"):
        assert back[col].tolist() == exp[col].tolist()
    assert (back["reported_at"] == exp["reported_at"]).all()
    assert back.geometry.geom_equals_exact(exp.geometry, tolerance=0).all()


def test_analysis_layer_round_trip(in_process: BatchResult, tmp_path: Path) -> None:
    layer = in_process.layer("gi")
    path = write_geoparquet(layer, tmp_path / "gi.parquet")
    back = read_geoparquet(path)
    assert back.crs == layer.crs and back.crs.to_epsg() == in_process.plan.crs.to_epsg()
    assert list(back.columns) == list(layer.columns)
    pdt.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                           pd.DataFrame(layer.drop(columns="geometry")), check_exact=True)
    assert back.geometry.geom_equals_exact(layer.geometry, tolerance=0).all()
    written = in_process.write(tmp_path / "out")
    assert read_geoparquet(written["forecast"]).crs.equals("EPSG:4326")


def _whole_frame_counts(cases: gpd.GeoDataFrame, res: BatchResult, district: str,
                        at: str) -> np.ndarray:
    """(categories + all, cells) counts of the whole frame, without any streaming."""
    grid = res.plan.grids[district]
    sel = cases[(cases["district"] == district) & (cases["reported_at"] < pd.Timestamp(at, tz=TZ))]
    xy = sel.to_crs(res.plan.crs).geometry
    cell = grid.cell_index(xy.x.to_numpy(), xy.y.to_numpy())
    assert (cell >= 0).all()
    cat = pd.Categorical(sel["category"], categories=res.plan.categories).codes
    n = grid.nx * grid.ny
    per_cat = np.stack([np.bincount(cell[cat == k], minlength=n) for k in range(len(CATEGORIES))])
    return np.vstack([per_cat, per_cat.sum(axis=0)])


def test_chunked_counts_and_gi_equal_the_whole_frame(cases: gpd.GeoDataFrame, dataset: Path,
                                                      in_process: BatchResult) -> None:
    small = run_batch(dataset, at="2025-05-05", batch_rows=97)  # many small chunks per file
    _assert_same(in_process, small)
    assert small.summary["cases"] == int((cases["reported_at"] < pd.Timestamp("2025-05-05",
                                                                              tz=TZ)).sum())
    for district in CENTRES:
        whole = _whole_frame_counts(cases, small, district, "2025-05-05")
        gi = small.gi[small.gi["district"] == district]
        w = neighbour_matrix(centres(small.plan.grids[district]), band_m=2 * small.plan.cell_m)
        for k, name in enumerate([*small.plan.categories, ALL]):
            rows = gi[gi["category"] == name]
            got = np.zeros(whole.shape[1], np.int64)
            got[rows["cell_id"].to_numpy()] = rows["count"].to_numpy()
            np.testing.assert_array_equal(got, whole[k])
            z = gi_star(whole[k].astype(float), w)  # the library's Gi* on the whole frame
            np.testing.assert_allclose(rows["gi_z"].to_numpy(), z[rows["cell_id"]], rtol=1e-12)
            _, bins = confidence_bins(z)
            np.testing.assert_array_equal(rows["gi_bin"].to_numpy(), bins[rows["cell_id"]])
    hot = small.gi[(small.gi["category"] == ALL) & (small.gi["gi_bin"] == 3)]
    assert len(hot) > 0  # the simulated hotspots are found


def test_forecast_on_day_counts_equals_the_model_on_exact_times(
        cases: gpd.GeoDataFrame, in_process: BatchResult) -> None:
    at = pd.Timestamp("2025-05-05", tz=TZ)
    district = "shuyuan"
    grid = in_process.plan.grids[district]
    sel = cases[(cases["district"] == district) & (cases["reported_at"] < at)]
    xy = sel.to_crs(in_process.plan.crs).geometry
    t = ((sel["reported_at"] - at) / pd.Timedelta(days=1)).to_numpy(float)
    h = EventHistory(grid.cell_index(xy.x.to_numpy(), xy.y.to_numpy()), t,
                     (grid.ny, grid.nx), grid.cell_m)
    expected = METHODS["blend"](h, 0.0, 7.0)
    fc = in_process.forecast[in_process.forecast["district"] == district]
    np.testing.assert_allclose(fc["score"].to_numpy(), expected[fc["cell_id"]], rtol=1e-9)
    assert fc["rank"].tolist() == sorted(fc["rank"].tolist())
    assert (expected[np.setdiff1d(np.arange(expected.size), fc["cell_id"])] <= 0).all()


def test_dask_local_cluster_equals_in_process(dataset: Path, in_process: BatchResult) -> None:
    t0 = time.perf_counter()
    on_dask = run_batch(dataset, at="2025-05-05", scheduler="local")  # 2 worker processes
    assert time.perf_counter() - t0 < 30
    assert on_dask.summary["scheduler"] == "local"
    _assert_same(in_process, on_dask)
    assert on_dask.summary["districts"] == in_process.summary["districts"]
    assert len(in_process.trends) > 0 and len(in_process.stats) > 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_scheduler_is_a_clear_error(dataset: Path) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="无法连接 Dask 调度器") as err:
        run_batch(dataset, scheduler=address, timeout_s=1.0)
    assert address in str(err.value)
    assert time.perf_counter() - t0 < 15


def test_bad_sources_are_file_read_errors(tmp_path: Path, cases: gpd.GeoDataFrame) -> None:
    with pytest.raises(FileReadError, match="找不到"):
        run_batch(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileReadError, match=r"没有 \.parquet"):
        run_batch(tmp_path / "empty")
    write_geoparquet(cases.drop(columns=["lon", "lat"]), tmp_path / "nolonlat.parquet")
    with pytest.raises(FileReadError, match="缺少列 lon, lat"):
        run_batch(tmp_path / "nolonlat.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(FileReadError, match="无法读取"):
        run_batch(tmp_path / "junk.parquet")
    with pytest.raises(InputError, match="预测方法"):
        run_batch(tmp_path / "nolonlat.parquet", method="oracle")
