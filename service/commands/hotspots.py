"""``xuncha hotspots``: density hotspots of a case file as GeoJSON polygons (design.md §5).

Input: a case table (CSV/XLSX/GeoJSON, read by :func:`geo.io.tables.read_table`) with columns
``case_id, category, reported_at, lon, lat`` (WGS84; the Chinese headers 案件编号, 问题类型,
上报时间, 经度, 纬度 are accepted). ``reported_at`` with a UTC offset is converted to ``--tz``
(Asia/Shanghai by default); without one it is local time in ``--tz``. Rows with missing or
unreadable times still count spatially; their time fields are left out (a note says how many).

Output: an RFC 7946 FeatureCollection, one Polygon feature per hotspot (WGS84) with
``hotspot_id``, ``case_count``, ``category``, ``peak_hours`` and the other properties of
:func:`geo.analysis.hotspots.find_hotspots`. No hotspot: an empty FeatureCollection, exit 0.
Bad input (unreadable file, missing columns, bad coordinates, unknown category): exit 1 with a
message in Chinese.

Wiring: ``from service.commands import hotspots; hotspots.register(app)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import numpy as np
import pandas as pd
import typer

from geo.analysis.hotspots import find_hotspots, hotspots_to_geojson
from geo.errors import Problem, ValidationError, XunchaError
from geo.io.tables import read_table

_ALIASES = {"案件编号": "case_id", "问题类型": "category", "上报时间": "reported_at",
            "经度": "lon", "纬度": "lat", "问题名称": "category_name", "所属社区": "community",
            "中队": "squad"}
_REQUIRED = ("category", "lon", "lat")
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def parse_times(values: pd.Series, *, tz: str) -> pd.Series:
    """Text times → tz-aware times in ``tz`` (offsets honoured, naive = local); NaT if unreadable."""
    text = values.astype(str).str.strip()
    text = text.where(~text.isin(["", "nan", "NaT", "None"]))
    aware = text.str.contains(_OFFSET, regex=True, na=False)
    out = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {tz}]")
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], errors="coerce", format="mixed")
        out[~aware] = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], errors="coerce", format="mixed",
                                    utc=True).dt.tz_convert(tz)
    return out


def read_cases(path: Path, *, tz: str = "Asia/Shanghai") -> tuple[gpd.GeoDataFrame, int]:
    """Read and check a case file; return the cases (EPSG:4326) and the count without a time.

    Raises
    ------
    ValidationError
        Missing columns or bad coordinates (every bad row listed).
    FileReadError
        The file cannot be read.
    """
    df = read_table(path)
    df = df.rename(columns={k: v for k, v in _ALIASES.items() if k in df.columns})
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise ValidationError([Problem(0, c, "", "缺少必需的列；需要 case_id, category, "
                                       "reported_at, lon, lat（或 问题类型、经度、纬度 等）。")
                               for c in missing], what="案件表")
    lon = pd.to_numeric(df["lon"], errors="coerce")
    lat = pd.to_numeric(df["lat"], errors="coerce")
    bad = ~(lon.between(-180, 180) & lat.between(-90, 90)).to_numpy()
    if bad.any():
        raise ValidationError(
            [Problem(int(i) + 2, "lon/lat", f"{df['lon'].iloc[i]}, {df['lat'].iloc[i]}",
                     "经纬度缺失或超出范围；经度 -180~180，纬度 -90~90（WGS84）。")
             for i in np.flatnonzero(bad)], what="案件表")
    if "reported_at" in df.columns:
        t = parse_times(df["reported_at"], tz=tz)
    else:
        t = pd.Series(pd.NaT, index=df.index, dtype=f"datetime64[ns, {tz}]")
    keep = [c for c in ("case_id", "category", "category_name", "community", "squad")
            if c in df.columns]
    gdf = gpd.GeoDataFrame(df[keep].assign(reported_at=t.to_numpy()),
                           geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    gdf["category"] = gdf["category"].astype(str).str.strip()
    return gdf, int(t.isna().sum())


def hotspots(
    cases: Annotated[Path, typer.Option("--cases", help="案件表（CSV/XLSX/GeoJSON），经纬度为 WGS84")],
    out: Annotated[Path, typer.Option("--out", help="输出 GeoJSON 文件（WGS84）")],
    category: Annotated[str | None, typer.Option(
        "--category", help="类别代码（如 09006，可逗号分隔）或类别组（stall、structures、clutter、"
        "green、noise、bollards、recycling）；默认全部")] = None,
    method: Annotated[str, typer.Option("--method", help="聚类方法：hdbscan 或 dbscan")] = "hdbscan",
    min_cases: Annotated[int | None, typer.Option(
        "--min-cases", help="热点最少案件数（默认 max(10, 0.2% 案件数)）")] = None,
    eps_m: Annotated[float, typer.Option("--eps-m", help="DBSCAN 邻域半径（米）")] = 50.0,
    buffer_m: Annotated[float, typer.Option("--buffer-m", help="热点多边形外扩距离（米）")] = 20.0,
    at: Annotated[str | None, typer.Option(
        "--at", help="参考日期 YYYY-MM-DD：只用此前的案件，近期权重从此日起算")] = None,
    half_life_days: Annotated[float, typer.Option(
        "--half-life-days", help="近期权重半衰期（天）")] = 30.0,
    gi_cell_m: Annotated[float, typer.Option(
        "--gi-cell-m", help="Gi* 显著性网格边长（米），0 表示不计算")] = 100.0,
    tz: Annotated[str, typer.Option("--tz", help="时区")] = "Asia/Shanghai",
) -> None:
    """找出案件密集的热点：每个热点一个多边形，含 hotspot_id、case_count、category、peak_hours 等。"""
    if method not in ("hdbscan", "dbscan"):
        typer.echo(f"错误：未知的聚类方法「{method}」；可选 hdbscan 或 dbscan。", err=True)
        raise typer.Exit(code=1)
    try:
        gdf, no_time = read_cases(cases, tz=tz)
        result = find_hotspots(
            gdf, category=category, method=method,  # type: ignore[arg-type]
            min_cases=min_cases, eps_m=eps_m, buffer_m=buffer_m, at=at,
            half_life_days=half_life_days, gi_cell_m=gi_cell_m or None,
        )
        fc = hotspots_to_geojson(result)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    except XunchaError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(code=1) from None
    except OSError as exc:
        typer.echo(f"错误：无法写入 {out}：{exc.strerror}", err=True)
        raise typer.Exit(code=1) from None
    if no_time:
        typer.echo(f"注意：{no_time} 条案件没有可识别的上报时间，时段统计（高峰时段等）不含这些案件。")
    if len(result) == 0:
        typer.echo(f"未发现热点（案件太少或分布均匀）；已写入空的 GeoJSON：{out}")
        return
    top = result.iloc[0]
    typer.echo(f"发现 {len(result)} 个热点；最高分 {top['hotspot_id']}：{int(top['case_count'])} 件，"
               f"高峰时段 {top['peak_hours'] or '无明显高峰'}。已写入 {out}")


def register(app: typer.Typer) -> None:
    """Add ``hotspots`` to the ``xuncha`` Typer app."""
    app.command("hotspots")(hotspots)
