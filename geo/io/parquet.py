"""GeoParquet export and chunked reading of case datasets (pyarrow).

Writing
    :func:`write_geoparquet` writes any GeoDataFrame (cases, hotspot grids, forecast cells) to one
    GeoParquet file: WKB geometry, the CRS as PROJJSON in the ``geo`` metadata (geopandas'
    ``to_parquet``). :func:`write_case_dataset` writes cases as a *directory dataset* partitioned
    the Hive way, ``DIR/district=<id>/month=YYYY-MM/part-00000.parquet``: every file is a valid
    GeoParquet file; the partition columns live only in the path (as ``pyarrow.dataset`` and
    DuckDB expect). Call it once per chunk with a new ``part`` to write 10 million cases in
    bounded memory.

Reading
    :func:`list_fragments` lists the files of a dataset (or one file) with their partition
    values; :func:`iter_batches` yields ``pyarrow.RecordBatch`` chunks of a few columns only
    (``lon, lat, category, reported_at`` by default) — no geometry objects per point — so the
    batch analytics (:mod:`geo.batch`) stream any number of cases. :func:`read_geoparquet` reads
    a file or dataset back into a GeoDataFrame.

Other tools
    DuckDB: ``INSTALL spatial; LOAD spatial; SELECT * FROM read_parquet('DIR/**/*.parquet',
    hive_partitioning = true)`` (the ``geometry`` column is GEOMETRY in DuckDB ≥ 1.1, else use
    ``ST_GeomFromWKB(geometry)``). Apache Sedona: ``sedona.read.format("geoparquet").load("DIR")``.
    Partition values are URI-encoded in the paths (``%E4%B9%A6`` …); plain ASCII ids read the same
    everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.errors import FileReadError, InputError

STREAM_COLUMNS: tuple[str, ...] = ("lon", "lat", "category", "reported_at")
"""Columns the streaming analytics read (WGS84 lon/lat in degrees)."""
CASE_PARTITIONS: tuple[str, ...] = ("district", "month")
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_BATCH_ROWS = 1_000_000

__all__ = ["CASE_PARTITIONS", "DEFAULT_BATCH_ROWS", "STREAM_COLUMNS", "Fragment", "iter_batches",
           "list_fragments", "read_geoparquet", "write_case_dataset", "write_geoparquet"]


@dataclass(frozen=True)
class Fragment:
    """One Parquet file of a dataset and its Hive partition values.

    Attributes
    ----------
    path : str
        The file.
    partitions : tuple of (str, str)
        ``(key, value)`` pairs from ``key=value`` directories, outermost first (decoded).
    """

    path: str
    partitions: tuple[tuple[str, str], ...] = ()

    def value(self, key: str) -> str | None:
        """Partition value of ``key``, or None when the path has no such directory."""
        return dict(self.partitions).get(key)


def write_geoparquet(gdf: gpd.GeoDataFrame, path: str | Path, *,
                     compression: str = "zstd") -> Path:
    """Write a GeoDataFrame to one GeoParquet file (WKB geometry, CRS in the metadata).

    Raises
    ------
    InputError
        If the frame has no CRS (GeoParquet readers would have to guess it).
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError("只能把 GeoDataFrame 写成 GeoParquet；请先用 geopandas 建立带几何列的表。")
    if gdf.crs is None:
        raise InputError("图层没有坐标参考系（CRS），无法写出 GeoParquet；请先 set_crs()，例如 EPSG:4326。")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_parquet(out, index=False, compression=compression, geometry_encoding="WKB")
    return out


def _month_column(times: pd.Series, tz: str) -> pd.Series:
    t = times if pd.api.types.is_datetime64_any_dtype(times) else pd.to_datetime(
        times, errors="coerce", format="mixed")
    if t.isna().any():
        rows = ", ".join(str(i) for i in t.index[t.isna().to_numpy()][:10])
        raise InputError(f"有 {int(t.isna().sum())} 条案件的 reported_at 无效（索引 {rows}）；"
                         "请补全上报时间后再导出。")
    if t.dt.tz is not None:
        t = t.dt.tz_convert(tz)
    return t.dt.strftime("%Y-%m")


def write_case_dataset(
    cases: gpd.GeoDataFrame,
    directory: str | Path,
    *,
    partition_by: Sequence[str] = CASE_PARTITIONS,
    part: int = 0,
    tz: str = DEFAULT_TZ,
) -> list[Path]:
    """Write cases as a Hive-partitioned GeoParquet directory dataset.

    Parameters
    ----------
    cases : GeoDataFrame
        Point cases in EPSG:4326 with ``lon``, ``lat``, ``category``, ``reported_at`` (and any
        other columns). ``lon``/``lat`` are taken from the geometry when absent. ``month`` is
        derived from ``reported_at`` (in ``tz``) when it is a partition key and not a column.
    directory : str or Path
        Dataset root; created when missing.
    partition_by : sequence of str
        Partition keys, outermost first (default ``district``, ``month``).
    part : int
        Chunk number: the file name ``part-00000.parquet``; use a new number per chunk.
    tz : str
        Time zone of the month boundaries.

    Returns
    -------
    list of Path
        The files written, one per partition present in the chunk.

    Raises
    ------
    InputError
        No CRS, a geographic CRS other than lon/lat, a missing partition column or time.
    """
    if cases.crs is None:
        raise InputError("案件没有坐标参考系（CRS）；请先 set_crs('EPSG:4326')。")
    gdf = cases.to_crs("EPSG:4326") if not cases.crs.equals("EPSG:4326") else cases.copy()
    if "lon" not in gdf.columns or "lat" not in gdf.columns:
        gdf["lon"] = gdf.geometry.x
        gdf["lat"] = gdf.geometry.y
    keys = list(partition_by)
    if "month" in keys and "month" not in gdf.columns:
        if "reported_at" not in gdf.columns:
            raise InputError("按月分区需要 reported_at（上报时间）列；请补上或去掉 month 分区。")
        gdf["month"] = _month_column(gdf["reported_at"], tz)
    missing = [k for k in keys if k not in gdf.columns]
    if missing:
        raise InputError(f"案件缺少分区列 {', '.join(missing)}；请补上这些列，或改用 partition_by=…。")
    root = Path(directory)
    written: list[Path] = []
    if not keys:
        return [write_geoparquet(gdf, root / f"part-{part:05d}.parquet")]
    for values, sub in gdf.groupby(keys, sort=True, observed=True, dropna=False):
        vals = values if isinstance(values, tuple) else (values,)
        sub_dir = root.joinpath(*(f"{k}={quote(str(v), safe='')}" for k, v in
                                  zip(keys, vals, strict=True)))
        body = gpd.GeoDataFrame(sub.drop(columns=keys), geometry=gdf.geometry.name, crs=gdf.crs)
        written.append(write_geoparquet(body, sub_dir / f"part-{part:05d}.parquet"))
    return written


def list_fragments(source: str | Path) -> list[Fragment]:
    """The Parquet files of a dataset directory (sorted), or the one file ``source``.

    Raises
    ------
    FileReadError
        If the path does not exist or the directory holds no ``.parquet`` file.
    """
    root = Path(source)
    if not root.exists():
        raise FileReadError(f"找不到 GeoParquet 文件或目录：{root}；请检查路径。")
    if root.is_file():
        return [Fragment(str(root))]
    files = sorted(p for p in root.rglob("*.parquet") if p.is_file())
    if not files:
        raise FileReadError(f"目录 {root} 中没有 .parquet 文件；请先用 xuncha export --format "
                            "geoparquet 或 write_case_dataset() 导出案件。")
    out = []
    for f in files:
        parts = tuple((k, unquote(v)) for k, _, v in
                      (d.partition("=") for d in f.relative_to(root).parts[:-1] if "=" in d))
        out.append(Fragment(str(f), parts))
    return out


def _open(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError as exc:
        raise FileReadError(f"找不到 Parquet 文件：{path}；请检查路径。") from exc
    except (OSError, pa.ArrowException) as exc:
        raise FileReadError(f"无法读取 Parquet 文件 {path}（{exc}）；"
                            "请确认它是完整有效的（Geo）Parquet 文件。") from exc


def iter_batches(
    fragment: Fragment | str | Path,
    *,
    columns: Sequence[str] = STREAM_COLUMNS,
    optional: Sequence[str] = (),
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Yield record batches of at most ``batch_rows`` rows with only the requested columns.

    ``optional`` columns are included when the file has them. No geometry is decoded.

    Raises
    ------
    FileReadError
        The file cannot be opened or read, or a required column is missing.
    """
    path = fragment.path if isinstance(fragment, Fragment) else str(fragment)
    pf = _open(path)
    names = set(pf.schema_arrow.names)
    missing = [c for c in columns if c not in names]
    if missing:
        raise FileReadError(
            f"Parquet 文件 {path} 缺少列 {', '.join(missing)}；流式分析需要 "
            f"{', '.join(columns)}（lon/lat 为 WGS84 经纬度），请用 write_case_dataset() 重新导出。")
    wanted = list(columns) + [c for c in optional if c in names and c not in columns]
    try:
        yield from pf.iter_batches(batch_size=max(1, int(batch_rows)), columns=wanted)
    except (OSError, pa.ArrowException) as exc:
        raise FileReadError(f"读取 Parquet 文件 {path} 时出错（{exc}）；文件可能已损坏，请重新导出。") from exc


def read_geoparquet(source: str | Path, *, columns: Sequence[str] | None = None
                    ) -> gpd.GeoDataFrame:
    """Read a GeoParquet file or a Hive-partitioned dataset into one GeoDataFrame.

    Only for data that fits in memory (analysis layers, a selection of cases).

    Raises
    ------
    FileReadError
        Missing path, not Parquet, or no GeoParquet ``geo`` metadata.
    """
    path = Path(source)
    if not path.exists():
        raise FileReadError(f"找不到 GeoParquet 文件或目录：{path}；请检查路径。")
    try:
        return gpd.read_parquet(path, columns=list(columns) if columns is not None else None)
    except ValueError as exc:
        raise FileReadError(f"{path} 不是 GeoParquet（缺少 geo 元数据或几何列：{exc}）；"
                            "请用 write_geoparquet() 导出。") from exc
    except (OSError, pa.ArrowException) as exc:
        raise FileReadError(f"无法读取 {path}（{exc}）；请确认它是完整有效的 GeoParquet。") from exc
