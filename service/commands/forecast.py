"""``xuncha forecast``: score grid cells by expected cases in the next days (design.md §5).

Input: a case table (CSV/XLSX/GeoJSON, read by :func:`geo.io.tables.read_table`) with columns
``case_id, category, reported_at, lon, lat`` (WGS84; the Chinese headers 案件编号, 问题类型,
上报时间, 经度, 纬度 are accepted too). ``reported_at`` is read as naive local wall-clock time:
a trailing UTC offset (``+08:00``, ``Z``) is ignored, and a case is used when its
``reported_at`` is before ``--at`` 00:00 of the same local clock.

Output: one RFC 7946 Polygon Feature (WGS84) per grid cell with ``cell_id``, ``score`` and
``rank`` (1 = highest), sorted by rank. Exit 0 on success, 1 on bad input (message in Chinese).

Wiring: ``from service.commands import forecast; forecast.register(app)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import geopandas as gpd
import numpy as np
import pandas as pd
import typer

from geo.errors import InputError, Problem, ValidationError, XunchaError
from geo.forecast.cells import DEFAULT_METHOD, METHODS, forecast_cells
from geo.io.tables import read_geofile, read_table, write_geojson

_ALIASES = {
    "案件编号": "case_id",
    "问题类型": "category",
    "上报时间": "reported_at",
    "经度": "lon",
    "纬度": "lat",
}
_REQUIRED = ("reported_at", "lon", "lat")
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _parse_cases(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """Validate the table (collecting every problem) and build the cases GeoDataFrame."""
    df = df.rename(columns={k: v for k, v in _ALIASES.items() if k in df.columns})
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        probs = [Problem(0, c, "", "缺少必需的列；需要 case_id, category, reported_at, lon, lat。")
                 for c in missing]
        raise ValidationError(probs, what="案件表")
    text = df["reported_at"].astype(str).str.strip().str.replace(_OFFSET, "", regex=True)
    t = pd.to_datetime(text.where(text != ""), errors="coerce", format="mixed")
    lon = pd.to_numeric(df["lon"], errors="coerce")
    lat = pd.to_numeric(df["lat"], errors="coerce")
    problems: list[Problem] = []
    for i in np.flatnonzero(t.isna().to_numpy()):
        problems.append(Problem(int(i) + 2, "reported_at", str(df["reported_at"].iloc[i]),
                                "上报时间缺失或无法识别；请使用 YYYY-MM-DD HH:MM:SS。"))
    bad_xy = ~(lon.between(-180, 180) & lat.between(-90, 90)).to_numpy()
    for i in np.flatnonzero(bad_xy):
        problems.append(Problem(int(i) + 2, "lon/lat", f"{df['lon'].iloc[i]}, {df['lat'].iloc[i]}",
                                "经纬度缺失或超出范围；经度 -180~180，纬度 -90~90（WGS84）。"))
    if problems:
        problems.sort(key=lambda p: p.row)
        raise ValidationError(problems, what="案件表")
    keep = [c for c in ("case_id", "category") if c in df.columns]
    return gpd.GeoDataFrame(
        df[keep].assign(reported_at=t.to_numpy()),
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


def _parse_at(at: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(pd.to_datetime(at, format="%Y-%m-%d"))
    except (TypeError, ValueError):
        raise InputError(f"--at「{at}」不是 YYYY-MM-DD 格式的日期，例如 2024-05-20。") from None
    return ts


def _read_area(path: Path) -> gpd.GeoDataFrame:
    area = read_geofile(path)
    if area.crs is None:
        area = area.set_crs("EPSG:4326")  # RFC 7946 GeoJSON has no CRS member: WGS84
    return area


def forecast(
    cases: Annotated[Path, typer.Option("--cases", help="案件表（CSV/XLSX/GeoJSON），经纬度为 WGS84")],
    at: Annotated[str, typer.Option("--at", help="预测起点日期 YYYY-MM-DD（只用此前上报的案件）")],
    out: Annotated[Path, typer.Option("--out", help="输出 GeoJSON 文件")],
    horizon_days: Annotated[float, typer.Option("--horizon-days", help="预测天数")] = 7.0,
    cell_m: Annotated[float, typer.Option("--cell-m", help="网格边长（米）")] = 150.0,
    area: Annotated[
        Path | None, typer.Option("--area", help="研究区域多边形文件；默认用案件范围（凸包）")
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help=f"预测方法：{', '.join(METHODS)}")
    ] = DEFAULT_METHOD,
) -> None:
    """预测下一时段各网格的案件热度：每个网格一个多边形，含 cell_id、score、rank（1 为最高）。"""
    try:
        t_at = _parse_at(at)
        gdf = _parse_cases(read_table(cases))
        area_gdf = _read_area(area) if area is not None else None
        result = forecast_cells(
            gdf, at=t_at, horizon_days=horizon_days, cell_m=cell_m, area=area_gdf, method=method
        )
        write_geojson(result[["cell_id", "score", "rank", "geometry"]], out)
    except XunchaError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(code=1) from None
    top = result.iloc[0]
    typer.echo(
        f"已用 {result.attrs['n_training']} 条 {t_at.date()} 之前的案件（方法 {method}）"
        f"预测 {len(result)} 个 {cell_m:g} 米网格，最高分网格 {int(top['cell_id'])}"
        f"（score={float(top['score']):.3g}）；已写入 {out}"
    )


def register(app: typer.Typer) -> None:
    """Add ``forecast`` to the ``xuncha`` Typer app."""
    app.command("forecast")(forecast)
