"""``xuncha roads``: store the deployment's road network (``import``) and say what is stored (``info``).

``xuncha roads import FILE`` reads an OpenStreetMap extract (``.osm.pbf``, ``.osm``), a GraphML
graph or a bureau's own street centre lines (GeoPackage / Shapefile / GeoJSON lines) with
:func:`geo.io.osm.read_osm_network`, clips it to the deployment's service area (the union of its
communities, from the database), keeps the walkable and e-bike-able ways and the largest
connected part, and writes it as GraphML to ``Settings.roads_path()`` (``<XUNCHA_DATA_DIR>/
roads.graphml``) atomically: a temporary file in the same folder, then ``os.replace``. From then
on ``xuncha plan``, ``xuncha demo``, the service and ``solve-patrol {"metric": "network"}`` plan
on it.

Exit codes, as ``xuncha import``: 0 stored, every kept street connected; 1 stored, but parts of
the network that do not connect to the main part were left out (each listed with its length
and the communities it lies in); 2 nothing stored: the file is missing, unreadable, not a road
network, does not cover the service area or has no walkable street.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from geo.errors import XunchaError
from service.settings import Settings

console = Console()
app = typer.Typer(help="道路网络：导入并保存本辖区的道路（OSM 或自有道路中心线），供路线规划使用。",
                  no_args_is_help=True)
_OSM = (".osm.pbf", ".pbf", ".osm", ".osm.xml", ".xml", ".osm.gz", ".osm.bz2")
SHOW_PARTS = 5


def _count_osm_ways(path: Path) -> Counter[str]:
    """Highway ways of an OSM extract by fate: ``walkable`` or the dropped ``highway`` value."""
    import osmium

    from geo.io.osm import keep_way

    fmt = "pbf" if path.name.lower().endswith(".pbf") else "osm"
    if fmt == "osm" and path.name.lower().endswith((".gz", ".bz2")):
        fmt = "osm." + path.name.lower().rsplit(".", 1)[1]
    counts: Counter[str] = Counter()
    processor = (osmium.FileProcessor(osmium.io.File(str(path), fmt), osmium.osm.WAY)
                 .with_filter(osmium.filter.KeyFilter("highway")))
    for way in processor:
        tags = {t.k: t.v for t in way.tags}
        counts["walkable" if keep_way(tags) else str(tags.get("highway"))] += 1
    return counts


def _parts(graph: Any) -> list[set[Any]]:
    import networkx as nx

    return sorted(nx.weakly_connected_components(graph), key=len, reverse=True)


def _km(graph: Any) -> float:
    """Street length in km (each street once, not once per direction)."""
    return sum(float(d.get("length", 0.0)) for _, _, d in graph.edges(data=True)
               if not d.get("reversed", False)) / 1000.0


def _streets(graph: Any) -> int:
    """Number of street segments (each once, not once per direction)."""
    return sum(1 for _, _, d in graph.edges(data=True) if not d.get("reversed", False))


def _describe_part(graph: Any, nodes: set[Any], communities: Any) -> str:
    """Length, position and communities of a dropped part (Chinese)."""
    import geopandas as gpd
    from shapely import MultiLineString

    sub = graph.subgraph(nodes)
    lines = [d["geometry"] for _, _, d in sub.edges(data=True) if "geometry" in d]
    shape = MultiLineString(lines) if lines else None
    where = ""
    if shape is not None and len(communities):
        hit = communities[communities.intersects(shape)]
        if len(hit) == 0:
            near = gpd.GeoSeries([shape], crs=4326).to_crs(3857).distance(
                communities.to_crs(3857).geometry.union_all()).iloc[0]
            where = f"，在社区范围外约 {near:.0f} 米"
        else:
            where = "，位于" + "、".join(str(n) for n in hit["name"][:4]) + (f"等 {len(hit)} 个社区" if len(hit) > 4 else "")
    c = shape.centroid if shape is not None else None
    at = f"（约 {c.x:.5f}, {c.y:.5f}）" if c is not None else ""
    return f"{_km(sub):.2f} 公里、{_streets(sub)} 段道路{at}{where}"


def _write_atomic(graph: Any, target: Path) -> None:
    import osmnx

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".roads-", suffix=".graphml", dir=target.parent)
    os.close(fd)
    try:
        osmnx.save_graphml(graph, tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="道路文件：.osm.pbf、.osm、.graphml，或道路中心线 .gpkg/.shp/.geojson")],
    db: Annotated[str | None, typer.Option(help="数据库 URL（默认 XUNCHA_DATABASE_URL；取社区范围用于裁剪）")] = None,
    layer: Annotated[str | None, typer.Option(help="GeoPackage 中道路中心线所在的图层")] = None,
) -> None:
    """导入道路网络：裁剪到辖区、保留可步行/骑行的道路，保存供路线规划使用。"""
    from geo.io.osm import read_osm_network
    from service.storage import Storage

    settings = Settings()
    storage = Storage(db or settings.database_url, boundaries_dir=settings.boundaries_dir,
                      tz=settings.timezone)
    communities = storage.communities()
    if not len(communities):
        console.print("[red]数据库中没有社区边界，无法确定辖区范围；请先初始化数据库或配置 XUNCHA_BOUNDARIES_DIR。[/red]")
        raise typer.Exit(2)
    try:
        with console.status(f"读取道路网络 {file.name}…"):
            counts = _count_osm_ways(file) if file.is_file() and file.name.lower().endswith(_OSM) else None
            graph = read_osm_network(file, service_area=communities, keep_largest=False, layer=layer)
    except XunchaError as exc:
        console.print(f"[red]道路网络文件 {file} 未导入（未保存任何内容）：{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    except Exception as exc:  # pyosmium raises plain RuntimeErrors on a damaged file
        console.print(f"[red]无法读取道路网络文件 {file}（未保存任何内容）：{escape(str(exc))}；"
                      "请确认它是 OSM 导出（.osm.pbf/.osm）、GraphML 或道路中心线文件。[/red]")
        raise typer.Exit(2) from exc
    parts = _parts(graph)
    main, dropped = parts[0], parts[1:]
    in_area_ways = {d.get("osmid") for _, _, d in graph.edges(data=True)}
    kept = graph.subgraph(main).copy()
    kept_ways = {d.get("osmid") for _, _, d in kept.edges(data=True)}
    kept.graph.update(source=file.name, imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
                      parts_dropped=len(dropped),
                      edges_dropped=graph.number_of_edges() - kept.number_of_edges())
    with console.status("写入道路网络…"):
        try:
            _write_atomic(kept, settings.roads_path())
        except OSError as exc:
            console.print(f"[red]无法写入 {settings.roads_path()}：{escape(str(exc))}；请检查 XUNCHA_DATA_DIR 的权限。[/red]")
            raise typer.Exit(2) from exc
    console.print(f"已导入道路网络 {file.name} → {settings.roads_path()}")
    console.print(f"保留 {len(kept_ways)} 条道路（{_streets(kept)} 段，共 {_km(kept):.1f} 公里，"
                  f"{kept.number_of_nodes()} 个路口/节点）。")
    if counts is not None:
        other = {k: v for k, v in counts.items() if k != "walkable"}
        if other:
            top = "、".join(f"{k} {v} 条" for k, v in sorted(other.items(), key=lambda kv: -kv[1])[:6])
            console.print(f"舍弃不可步行或骑行的道路 {sum(other.values())} 条（{top}）。")
        outside = counts["walkable"] - len(in_area_ways)
        if outside > 0:
            console.print(f"舍弃辖区范围外的道路 {outside} 条。")
    console.print("规划将按路网距离计算（xuncha plan、xuncha demo、服务页面和 solve-patrol 的 metric=network）。")
    if dropped:
        console.print(f"[yellow]有 {len(dropped)} 处道路与主路网不连通，已舍弃"
                      f"（{len(in_area_ways) - len(kept_ways)} 条道路）：[/yellow]")
        for nodes in dropped[:SHOW_PARTS]:
            console.print(f"[yellow]  - {escape(_describe_part(graph, nodes, communities))}[/yellow]")
        if len(dropped) > SHOW_PARTS:
            console.print(f"[yellow]  - 另有 {len(dropped) - SHOW_PARTS} 处较小的不连通路段[/yellow]")
        console.print("[yellow]这些地方的巡查点将找不到相连的道路；请补全道路文件中缺少的连接路段或桥梁后重新导入。[/yellow]")
        raise typer.Exit(1)


@app.command("info")
def info_command() -> None:
    """显示已保存的道路网络：来源、导入时间、道路长度和范围。"""
    import osmnx

    settings = Settings()
    path = settings.roads_path()
    if not path.is_file():
        console.print(f"尚未导入道路网络（{path} 不存在）；路线规划使用直线距离 ×1.3。"
                      "导入：xuncha roads import 道路文件.osm.pbf")
        raise typer.Exit(0)
    try:
        with console.status(f"读取 {path.name}…"):
            graph = osmnx.load_graphml(path)
    except Exception as exc:  # osmnx / XML errors of many kinds
        console.print(f"[red]已保存的道路网络 {path} 无法读取：{escape(str(exc))}；请重新运行 xuncha roads import。[/red]")
        raise typer.Exit(2) from exc
    xs = [float(d["x"]) for _, d in graph.nodes(data=True)]
    ys = [float(d["y"]) for _, d in graph.nodes(data=True)]
    meta = graph.graph
    console.print(f"道路网络：{path}")
    console.print(f"来源文件：{meta.get('source', '未知')}；导入时间：{meta.get('imported_at', '未知')}")
    console.print(f"道路 {_streets(graph)} 段，共 {_km(graph):.1f} 公里，{graph.number_of_nodes()} 个节点；"
                  f"导入时舍弃不连通部分 {meta.get('parts_dropped', 0)} 处。")
    if xs:
        console.print(f"范围（经纬度）：{min(xs):.5f}, {min(ys):.5f} – {max(xs):.5f}, {max(ys):.5f}")
    console.print("路线规划使用路网距离。")


def register(root: typer.Typer) -> None:
    """Add ``roads import`` and ``roads info`` to ``root``."""
    root.add_typer(app, name="roads")
