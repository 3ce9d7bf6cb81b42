"""``xuncha boundaries import|list``: districts (区县) with their communities and squads.

``xuncha boundaries import FILE --district-code 420921 --district-name 孝昌县`` reads a
GeoPackage, Shapefile or GeoJSON of communities in any CRS, validates it (closed, valid polygons;
no two communities overlapping by more than ``--max-overlap-m2`` square metres, default 1 m², the
slivers of digitised shared edges, neither in the file nor with another stored district; every
community in exactly one squad; a new district code unless ``--replace``) and stores the district, its squads, communities and one work station per
community in one transaction. Exit 0: stored; exit 2: nothing stored (every problem is listed,
naming the file, the feature, the community and what to fix). The embedded 孝南区 default is the
first district of every new database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from geo.cases import visible
from geo.districts import DEFAULT_MAX_OVERLAP_M2
from geo.errors import InputError, ValidationError
from service.commands.common import read_json
from service.settings import Settings

console = Console()
boundaries_app = typer.Typer(help="区县边界：导入区县的社区与中队、列出已有区县。",
                             no_args_is_help=True)
DbOption = Annotated[str | None, typer.Option(help="数据库 URL（默认 XUNCHA_DATABASE_URL）")]


def _storage(db: str | None) -> Any:
    from service.storage import Storage

    settings = Settings()
    return Storage(db or settings.database_url, boundaries_dir=settings.boundaries_dir,
                   tz=settings.timezone)


def _plain(value: object) -> str:
    return escape("\n".join(visible(line, limit=2000) for line in str(value).splitlines()))


def _squads(path: Path | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    doc = read_json(path, what="中队")
    squads = doc.get("squads") if isinstance(doc, dict) else doc
    if not isinstance(squads, list) or not all(isinstance(s, dict) for s in squads):
        console.print(f"[red]未导入：[/red]{_plain(path.name)} 应为 "
                      '{"squads": [{"id": …, "name": …, "communities": [社区编号…]}]}。')
        raise typer.Exit(2)
    return squads


@boundaries_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="社区边界：GeoPackage、Shapefile（.shp/.zip）或 GeoJSON，"
                                              "需有 code、name 列，可有 squad、street 列")],
    district_code: Annotated[str, typer.Option(help="区县编码（行政区划代码，如 420921）")],
    district_name: Annotated[str, typer.Option(help="区县名称（如 孝昌县）")],
    city: Annotated[str, typer.Option(help="所属城市（如 孝感市）")] = "",
    squads: Annotated[Path | None, typer.Option(
        help="中队文件 squads.json（每个中队的 id、name、communities）；缺省用边界文件的 squad 列")] = None,
    crs: Annotated[str | None, typer.Option(
        help="文件没有声明坐标系时指明，如 EPSG:4547（CGCS2000 3 度带 114E）")] = None,
    layer: Annotated[str | None, typer.Option(help="GeoPackage 图层名（缺省第一个）")] = None,
    max_overlap_m2: Annotated[float, typer.Option(
        min=0.0, help="两个社区允许重叠的最大面积（平方米），容忍共用边界的数字化误差")]
        = DEFAULT_MAX_OVERLAP_M2,
    replace: Annotated[bool, typer.Option(
        "--replace", help="替换同编码的已有区县（去掉的社区、中队不能还有案件或用户）")] = False,
    db: DbOption = None,
) -> None:
    """导入一个区县的社区边界与中队。成功退出码 0；有问题时什么都不保存，退出码 2。"""
    from geo.districts import build_district
    from service.districts import store_district

    records = _squads(squads)
    storage = _storage(db)
    try:
        with console.status(f"正在读取并校验 {file.name} …"):
            layers = build_district(file, code=district_code, name=district_name, city=city,
                                    squads=records, crs=crs, layer=layer,
                                    max_overlap_m2=max_overlap_m2)
            summary = store_district(storage, layers, replace=replace,
                                     max_overlap_m2=max_overlap_m2)
    except ValidationError as exc:
        _print_problems(file, exc)
        raise typer.Exit(2) from exc
    except InputError as exc:
        console.print(f"[red]未导入（{_plain(file.name)}）：[/red]{_plain(exc)}")
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        console.print(f"[red]数据库无法保存区县 {_plain(district_code)}，未做任何修改：[/red]"
                      f"{_plain(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}")
        raise typer.Exit(2) from exc
    console.print(f"已导入区县 {_plain(summary.code)} {_plain(summary.name)}：中队 {summary.squads} 个，"
                  f"社区 {summary.communities} 个，工作站 {summary.stations} 个"
                  f"（文件坐标系 {_plain(layers.source_crs)}，已转为 WGS84 保存）。")


def _print_problems(file: Path, exc: ValidationError) -> None:
    console.print(f"[red]未导入任何数据，边界文件 {_plain(file.name)} 有 {len(exc.problems)} 处问题：[/red]")
    for p in exc.problems[:200]:
        where = "中队文件：" if p.column == "squads" else ("" if p.row else "文件：")
        console.print(Text(f"  - {where}{visible(p.message)}"))
    if len(exc.problems) > 200:
        console.print(f"…… 另有 {len(exc.problems) - 200} 处问题。")


@boundaries_app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """列出已有区县及其中队、社区、工作站数量。"""
    from service.districts import list_districts

    table = Table("编码", "名称", "城市", "中队", "社区", "工作站")
    for d in list_districts(_storage(db)):
        table.add_row(d.code, Text(visible(d.name)), Text(visible(d.city)), str(d.squads),
                      str(d.communities), str(d.stations))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``boundaries`` command group to ``app``."""
    app.add_typer(boundaries_app, name="boundaries")
