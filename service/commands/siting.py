"""``xuncha site``: the siting core on a generic siting problem (design.md §5).

Exit codes: 0 solved (solution written); 1 invalid problem (InputError), infeasible or solver
failure (message in Chinese on stderr); 2 the problem file cannot be read or is not JSON.

Wiring: ``from service.commands import siting; siting.register(app)`` (add
``"service.commands.siting"`` to ``COMMAND_MODULES`` in ``service/cli.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import typer

from geo.errors import XunchaError
from geo.siting.frames import siting_geojson_frames, siting_tables
from geo.siting.problem import MODEL_NAMES
from geo.siting.solve import solve_siting
from service.commands.common import read_json, write_json


def write_siting_outputs(sites: gpd.GeoDataFrame, out_dir: Path, *, stem: str = "疏导点"
                         ) -> dict[str, Path]:
    """Write a scenario from :func:`geo.siting.frames.site_relocation_points` to ``out_dir``.

    Files: ``<stem>.geojson`` (site points, WGS84), ``<stem>_服务范围.geojson`` (catchments) and
    ``<stem>.xlsx`` (sheets 疏导点 and 方案概况). Returns the paths by kind.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    pts, areas = siting_geojson_frames(sites)
    paths = {"sites": out_dir / f"{stem}.geojson", "catchments": out_dir / f"{stem}_服务范围.geojson",
             "xlsx": out_dir / f"{stem}.xlsx"}
    paths["sites"].write_text(pts.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8")
    paths["catchments"].write_text(areas.to_json(ensure_ascii=False, drop_id=True),
                                   encoding="utf-8")
    with pd.ExcelWriter(paths["xlsx"], engine="openpyxl") as xw:
        for name, table in siting_tables(sites).items():
            table.to_excel(xw, sheet_name=name, index=False)
    return paths


def site_command(
    problem: Annotated[Path, typer.Argument(help="选址问题 JSON 文件（design.md §5 格式）")],
    out: Annotated[Path, typer.Option("--out", help="输出的选址方案 JSON 文件")],
    time_limit_s: Annotated[
        float | None,
        typer.Option("--time-limit-s", help="求解时间上限（秒）；默认取问题中的值或 60 秒"),
    ] = None,
) -> None:
    """求解疏导点选址问题（最大覆盖 mclp / p-中位 pmedian / 集合覆盖 lscp），写出方案 JSON。"""
    data = read_json(problem, what="选址问题")
    try:
        solution = solve_siting(data, time_limit_s=time_limit_s)
    except XunchaError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(1) from exc
    write_json(out, solution)
    proof = "已证明最优" if solution["optimal"] else f"未证明最优（差距 {solution['gap']:.2%}）"
    typer.echo(
        f"已写出 {out}：{MODEL_NAMES.get(solution['model'], solution['model'])}模型选出 "
        f"{len(solution['chosen'])} 个点，覆盖需求权重 {solution['covered_weight']:g}，"
        f"加权距离合计 {solution['total_weighted_cost']:.1f}，{proof}（{solution['solver']}）。"
    )


def register(app: typer.Typer) -> None:
    """Add ``site`` to ``app``."""
    app.command("site")(site_command)
