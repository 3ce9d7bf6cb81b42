"""``xuncha import`` and ``xuncha serve``: cases into the database, and the web service.

``xuncha import`` never ends in a traceback: a bad row is reported in the per-row table (exit 1),
a file that cannot be read or stored is one Chinese sentence (exit 2). Text from the file is
printed literally (never read as Rich markup) and with control characters escaped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from geo.cases import visible
from geo.errors import FileReadError, InputError
from service.commands.common import uvicorn_proxy_options
from service.settings import Settings

if TYPE_CHECKING:
    from service.importer import ImportReport

console = Console()


def _storage(db: str | None) -> object:
    from service.storage import Storage

    settings = Settings()
    return Storage(db or settings.database_url, boundaries_dir=settings.boundaries_dir,
                   tz=settings.timezone)


def import_cmd(
    file: Annotated[Path, typer.Argument(help="案件文件：CSV（UTF-8/GBK）、XLSX 或 GeoJSON")],
    coords: Annotated[str | None, typer.Option(
        help="坐标系：wgs84、cgcs2000、gcj02、bd09 或 EPSG:编号；默认按表头和数值判断"
             "（如「经度(百度)」为 bd09、带带号的高斯坐标按带号），否则为 wgs84")] = None,
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="指定列的用途：列名=角色（可重复），例如 --map 小类=category --map 备注=ignore；"
                      "角色：case_id category reported_at lon lat description address source "
                      "status closed_at community，或 ignore")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="只检查：显示列的对应关系和问题，不保存任何数据")] = False,
    allow_future: Annotated[bool, typer.Option(
        "--allow-future", help="接受晚于当前时间一天以上的时间（计划或模拟数据）")] = False,
    db: Annotated[str | None, typer.Option(help="数据库 URL（默认 XUNCHA_DATABASE_URL）")] = None,
    report: Annotated[Path | None, typer.Option(help="把逐行问题报告另存为 CSV")] = None,
) -> None:
    """导入案件文件。全部入库退出码 0；部分行被拒退出码 1（其余行已入库）；文件无法读取退出码 2。

    重新导入不会让库中案件的状态倒退：文件没有状态时保留库中状态；文件状态落后时保留库中状态并逐行说明。
    """
    from geo.case_columns import parse_map
    from service.importer import import_file

    storage = _storage(db)
    try:
        columns = parse_map(map_ or [])
        with console.status(f"正在读取、校验{'（试运行）' if dry_run else '并导入'} {file.name} …"):
            result = import_file(storage, file, coords=coords,  # type: ignore[arg-type]
                                 settings=Settings(), columns=columns, dry_run=dry_run,
                                 allow_future=allow_future)
    except FileReadError as exc:
        console.print(f"[red]无法读取文件，未导入任何数据：[/red]{_plain(exc)}")
        raise typer.Exit(2) from exc
    except InputError as exc:
        console.print(f"[red]输入有误，未导入任何数据：[/red]{_plain(exc)}")
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        console.print("[red]数据库无法保存这个文件，未导入任何数据：[/red]"
                      f"{_plain(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}；"
                      "请检查 --db 数据库是否可用、文件内容是否含数据库不接受的值。")
        raise typer.Exit(2) from exc
    _print_report(result, dry_run=dry_run)
    if result.problems:
        _print_problems(result.problems, report)
        raise typer.Exit(1)


def _print_report(result: ImportReport, *, dry_run: bool) -> None:
    """Mapping, notes, counts, status changes and kept statuses of an import report."""
    console.print(Text("列的对应关系：\n  " + "\n  ".join(visible(m) for m in result.mapping)))
    for note in result.notes:
        console.print(Text(f"说明：{visible(note)}"))
    same = f"（其中未变 {result.unchanged}）" if result.unchanged else ""
    head, will = ("试运行，未保存任何数据：", "将") if dry_run else ("", "")
    batch = "" if dry_run else f"（批次 {result.batch_id}）"
    console.print(f"{head}共 {result.n_rows} 行：{will}新增 {result.inserted}，更新 {result.updated}"
                  f"{same}，拒绝 {result.rejected}{batch}")
    if result.status_changes:
        table = Table("行", "案件编号", "原状态", "新状态", title="状态变更")
        for c in result.status_changes[:200]:
            table.add_row(str(c["row"]), Text(visible(c["case_id"], limit=64)), c["from_status"],
                          c["to_status"])
        console.print(table)
    if result.notices:
        table = Table("行", "列", "值", "说明", title="保留库中状态的行")
        for p in result.notices[:200]:
            table.add_row(str(p.row), Text(visible(str(p.column), limit=40)),
                          Text(visible(str(p.value), limit=40)), Text(visible(p.message)))
        console.print(table)


def _plain(value: object) -> str:
    """``value`` as text for ``console.print``: control characters escaped, markup escaped."""
    return escape("\n".join(visible(line, limit=2000) for line in str(value).splitlines()))


def _print_problems(problems: list, report: Path | None) -> None:
    table = Table("行", "列", "值", "问题", title="被拒绝的行")
    for p in problems[:200]:
        table.add_row(str(p.row), Text(visible(str(p.column), limit=40)),
                      Text(visible(str(p.value), limit=40)), Text(visible(str(p.message))))
    console.print(table)
    if len(problems) > 200:
        console.print(f"…… 另有 {len(problems) - 200} 处问题；用 --report 保存完整报告。")
    if report is not None:
        import pandas as pd

        from geo.safe_text import formula_safe

        rows = [{k: formula_safe(v) for k, v in vars(p).items()} for p in problems]
        pd.DataFrame(rows).to_csv(report, index=False, encoding="utf-8-sig")
        console.print(f"完整报告已保存到 {report}")


def serve_cmd(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="工作进程数（多核机器可设为 CPU 核数；每个进程各自连接数据库）")] = 1,
    access_log: Annotated[bool, typer.Option(help="逐条记录请求日志")] = True,
) -> None:
    """启动 Web 服务（API、地图和中队页面）。"""
    import uvicorn

    from service.app import create_app

    # the first dashboard should not wait for the planner: plan today and tomorrow at start-up
    # unless XUNCHA_PREPARE_PLANS says otherwise
    prepare = "XUNCHA_PREPARE_PLANS" not in os.environ
    # validate the environment once, before any worker starts
    settings = Settings(prepare_plans=True) if prepare else Settings()
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, access_log=access_log,
                    **uvicorn_proxy_options(settings))
        return
    # each worker process imports the factory and reads the same XUNCHA_* environment;
    # a loaded machine starts workers slowly: a generous health check stops a restart loop
    if prepare:
        os.environ["XUNCHA_PREPARE_PLANS"] = "1"
    try:
        uvicorn.run("service.app:create_app", factory=True, host=host, port=port,
                    workers=workers, timeout_worker_healthcheck=60,
                    **uvicorn_proxy_options(settings), access_log=access_log)
    finally:
        if prepare:
            os.environ.pop("XUNCHA_PREPARE_PLANS", None)


def register(app: typer.Typer) -> None:
    """Add ``import`` and ``serve`` to ``app``."""
    app.command("import")(import_cmd)
    app.command("serve")(serve_cmd)
