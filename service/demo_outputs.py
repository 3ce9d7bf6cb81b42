"""Files the demo writes per squad (combined route-sheet PDF and XLSX, map) and ``index.html``.

Every string from data is escaped before it reaches HTML (``html.escape``), and written to XLSX
as formula-safe text (:func:`geo.sheets.tabular.write_xlsx_tables`). The maps load Leaflet & co.
from a copy of the service's vendored assets beside them (``<out>/vendor``, referenced by a
relative path), so they work when opened from disk without internet.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

if TYPE_CHECKING:
    from geo.planning.model import DailyPlan

VENDOR_SOURCE = Path(__file__).resolve().parent / "static" / "vendor"
"""The service's vendored Leaflet assets (``scripts/vendor_leaflet.sh``)."""


def vendor_beside(out: Path) -> Path:
    """Copy the vendored map assets to ``out/vendor`` (once) and return that folder."""
    dest = out / "vendor"
    if not (dest / "leaflet" / "leaflet.js").is_file():
        shutil.copytree(VENDOR_SOURCE, dest, dirs_exist_ok=True)
    return dest


def relative_prefix(vendor: Path, page_folder: Path) -> str:
    """The ``static_prefix`` a page in ``page_folder`` uses to reach ``vendor`` (``../../vendor``)."""
    return Path(os.path.relpath(vendor, page_folder)).as_posix()


SHEET_COLUMNS = {"team_name": "队伍", "seq": "序号", "arrive": "到达", "depart": "离开",
                 "kind": "类型", "community": "社区", "address": "地址", "what": "巡查内容",
                 "category_name": "问题类型", "required": "必访"}


def squad_sheet_files(plan: Any, folder: Path, *, communities: gpd.GeoDataFrame,
                      data_label: str) -> tuple[Path, Path]:
    """Write the squad's route sheets: all teams in one PDF, and one XLSX table of all stops."""
    from geo.sheets import render_pdf_many, team_sheets, write_xlsx_tables

    name = str(plan.squad.get("name", plan.squad_id))
    stem = f"{plan.date.isoformat()}_{name}_路线单"
    pdf = folder / f"{stem}.pdf"
    pdf.write_bytes(render_pdf_many(team_sheets(plan, plan.squad, communities=communities,
                                                data_label=data_label)))
    xlsx = folder / f"{stem}.xlsx"
    visits = plan.visits_frame()
    table = pd.DataFrame(visits.drop(columns="geometry"))[list(SHEET_COLUMNS)]
    table = table.rename(columns=SHEET_COLUMNS)
    table["必访"] = table["必访"].map({True: "是", False: ""})
    table["签字"] = ""
    write_xlsx_tables(xlsx, {
        "巡查路线": table,
        "说明": pd.DataFrame({"说明": [f"{name} {plan.date.isoformat()} 巡查路线单", data_label]})},
        footer=data_label)
    return pdf, xlsx


def squad_map_file(plan: Any, folder: Path, *, communities: gpd.GeoDataFrame,
                   stations: gpd.GeoDataFrame, cases: gpd.GeoDataFrame,
                   hotspots: gpd.GeoDataFrame | None, forecast: gpd.GeoDataFrame | None,
                   relocation: gpd.GeoDataFrame | None, catchments: gpd.GeoDataFrame | None,
                   data_label: str) -> Path:
    """Write the squad's Folium map: boundaries, stations, cases, hotspots, forecast, routes.

    ``folder`` is ``<out>/squads/<id>``; the map's scripts come from ``<out>/vendor``.
    """
    from geo.maps.squad import squad_map

    sid = plan.squad_id
    area = communities.to_crs(4326).union_all()

    def inside(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        if gdf is None or len(gdf) == 0:
            return None
        sub = gdf[gdf.to_crs(4326).intersects(area)]
        return sub if len(sub) else None

    m = squad_map(
        communities=communities, stations=stations[stations["squad"] == sid], cases=cases,
        hotspots=inside(hotspots), forecast=inside(forecast), routes=plan.routes_frame(),
        stops=plan.visits_frame(), relocation=inside(relocation), catchments=inside(catchments),
        title=f"{plan.squad.get('name', sid)} {plan.date.isoformat()} 巡查地图",
        data_label=data_label, forecast_top=60,
        static_prefix=relative_prefix(vendor_beside(folder.parent.parent), folder))
    path = folder / "map.html"
    m.save(str(path))
    return path


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>'


def _squad_rows(squads: list[dict[str, Any]]) -> str:
    rows = []
    for s in squads:
        state = "可行" if s["feasible"] else "有问题"
        rows.append(
            "<tr>" + "".join(f"<td>{c}</td>" for c in (
                html.escape(s["name"]), _link(s["map"], "地图"), _link(s["pdf"], "路线单 PDF"),
                _link(s["xlsx"], "路线单 XLSX"), str(s["teams"]), str(s["stops"]),
                f"{s['distance_km']} 公里", html.escape(state))) + "</tr>")
    return "\n".join(rows)


def _hotspot_rows(hotspots: gpd.GeoDataFrame | None, n: int = 15) -> str:
    if hotspots is None or len(hotspots) == 0:
        return "<tr><td colspan='5'>没有发现热点</td></tr>"
    rows = []
    for r in hotspots.head(n).itertuples():
        cells = (getattr(r, "hotspot_id", ""), getattr(r, "dominant_category_name", ""),
                 getattr(r, "community", ""), getattr(r, "case_count", ""),
                 getattr(r, "peak_hours", ""))
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return "\n".join(rows)


def index_html(result: Any, *, hotspots: gpd.GeoDataFrame | None,
               relocation: gpd.GeoDataFrame | None) -> str:
    """The demo's landing page: links to every squad's map and sheets, hotspots, timings."""
    files = result.files
    extra = [(k, v) for k, v in (("hotspots", "热点 GeoJSON"), ("forecast", "下周预测 GeoJSON"),
                                 ("relocation", "疏导点 GeoJSON"), ("relocation_xlsx", "疏导点 XLSX"),
                                 ("district_map", "全区地图"), ("cases_csv", "模拟案件 CSV"),
                                 ("summary", "运行摘要 JSON")) if k in files]
    links = " · ".join(_link(str(files[k].relative_to(result.out)), label) for k, label in extra)
    timing = "，".join(f"{html.escape(k)} {v:.1f} 秒" for k, v in result.timings.items())
    n_reloc = 0 if relocation is None else len(relocation)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xuncha 巡查演示 {html.escape(result.day.isoformat())}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em;max-width:1100px}}
table{{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
.sim{{background:#fff3cd;border:1px solid #e0b000;padding:.6em 1em;margin-bottom:1em}}</style></head>
<body>
<h1>孝南区城管巡查 · {html.escape(result.day.isoformat())} 计划</h1>
<p class="sim"><b>模拟数据：</b>本页所有案件均为 xuncha 按规则生成的模拟数据（{result.counts.get('cases_simulated', 0)} 起，
覆盖 53 个社区，社区边界为近似范围），仅用于演示，不代表真实情况。</p>
<p>导入 {result.counts.get('cases_imported', 0)} 起案件（拒绝 {result.counts.get('cases_rejected', 0)} 起），
发现 {result.counts.get('hotspots', 0)} 个热点，建议 {n_reloc} 个疏导点。 {links}</p>
<p>{html.escape(result.squads_note)}</p>
<h2>各中队巡查计划</h2>
<table><tr><th>中队</th><th>地图</th><th>路线单</th><th>表格</th><th>队伍</th><th>巡查点</th><th>总路程</th><th>检查</th></tr>
{_squad_rows(result.squads)}
</table>
<h2>近 90 天主要热点</h2>
<table><tr><th>编号</th><th>问题类型</th><th>社区</th><th>案件数</th><th>高发时段</th></tr>
{_hotspot_rows(hotspots)}
</table>
<p style="color:#666">用时：{timing}</p>
</body></html>
"""


FORMATS = ("pdf", "xlsx", "html")
"""Route-sheet formats :func:`write_plan_files` writes."""


def write_plan_files(plan: DailyPlan, out: Path, *, communities: gpd.GeoDataFrame,
                     stations: gpd.GeoDataFrame | None = None,
                     hotspots: gpd.GeoDataFrame | None = None, data_label: str = "",
                     formats: Sequence[str] = FORMATS, with_map: bool = True) -> list[Path]:
    """Write ``plan.json``, the route sheets and the squad map of ``plan`` into ``out``.

    Returns the files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "plan.json"]
    written[0].write_text(json.dumps(plan.to_json(), ensure_ascii=False, indent=1),
                          encoding="utf-8")
    comm = communities[communities["squad"] == plan.squad_id] if "squad" in communities else communities
    if formats:
        from geo import sheets

        renderers: dict[str, Callable[[Any], bytes | str]] = {
            "pdf": sheets.render_pdf, "xlsx": sheets.render_xlsx, "html": sheets.render_html}
        for sheet in sheets.team_sheets(plan, plan.squad, communities=comm, data_label=data_label):
            for fmt in formats:
                body = renderers[fmt](sheet)
                path = out / sheets.sheet_filename(sheet, ext=fmt)
                if isinstance(body, str):
                    path.write_text(body, encoding="utf-8")
                else:
                    path.write_bytes(body)
                written.append(path)
    if with_map:
        written.append(_write_map(plan, out, comm, stations, hotspots, data_label))
    return written


def _write_map(plan: DailyPlan, out: Path, comm: gpd.GeoDataFrame,
               stations: gpd.GeoDataFrame | None, hotspots: gpd.GeoDataFrame | None,
               data_label: str) -> Path:
    from geo.maps.squad import squad_map

    sid = plan.squad_id
    st = stations[stations["squad"] == sid] if stations is not None and "squad" in stations else stations
    hs = hotspots[hotspots["squad"] == sid] if hotspots is not None and "squad" in hotspots else hotspots
    prefix = relative_prefix(vendor_beside(out.parent), out)  # works from disk, offline
    m = squad_map(communities=comm, stations=st, hotspots=hs if hs is not None and len(hs) else None,
                  static_prefix=prefix,
                  routes=plan.routes_frame(), stops=plan.visits_frame(),
                  title=f"{plan.squad.get('name', sid)} {plan.date.isoformat()} 巡查计划",
                  data_label=data_label)
    path = out / "map.html"
    m.save(str(path))
    return path
