"""``xuncha users add|list|passwd``: manage the service's users (passwords read from stdin)."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from geo.errors import XunchaError
from service.settings import Settings

console = Console()
users_app = typer.Typer(help="用户管理：新增用户、列出用户、修改密码。", no_args_is_help=True)

DbOption = Annotated[str | None, typer.Option(help="数据库 URL（默认 XUNCHA_DATABASE_URL）")]


def _storage(db: str | None):  # type: ignore[no-untyped-def]
    from service.storage import Storage

    settings = Settings()
    return Storage(db or settings.database_url, boundaries_dir=settings.boundaries_dir,
                   tz=settings.timezone)


def read_password() -> str:
    """The password: typed twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass("密码：")
        if getpass.getpass("再次输入密码：") != first:
            console.print("[red]两次输入的密码不一致。[/red]")
            raise typer.Exit(2)
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def add_cmd(
    username: Annotated[str, typer.Argument(help="用户名")],
    role: Annotated[str, typer.Option(help="角色：admin、planner、squad_leader 或 officer")],
    squad: Annotated[str | None, typer.Option(help="中队编号（squad_leader、officer 必填）")] = None,
    team: Annotated[str | None, typer.Option(
        help="巡查组编号（officer：手机路线页显示并确认这一组的站点，如 shuyuan-1）")] = None,
    district: Annotated[str | None, typer.Option(
        help="区县编码（admin、planner：只看这个区县的中队、案件和图层，如 420921；"
             "xuncha boundaries list 列出区县）")] = None,
    db: DbOption = None,
) -> None:
    """新增用户；密码从标准输入读取（终端里输入两次），至少 8 个字符。"""
    from service.auth import create_user
    from service.visits import set_user_team

    storage = _storage(db)
    if team and not _team_known(storage, squad, team):
        console.print(f"[red]未添加用户：[/red]中队「{squad or '无'}」没有巡查组「{team}」；"
                      "请用 xuncha users add … --squad 中队编号 --team 该中队的队伍编号。")
        raise typer.Exit(1)
    password = read_password()
    try:
        user = create_user(storage, username, password, role=role, squad=squad,
                           district=district)
        if team:
            set_user_team(storage, user.username, team)
    except XunchaError as exc:
        console.print(f"[red]未添加用户：[/red]{exc}")
        raise typer.Exit(1) from exc
    where = f"，中队 {user.squad_id}" if user.squad_id else ""
    where += f"，区县 {district}" if district else ""
    where += f"，巡查组 {team}" if team else ""
    console.print(f"已添加用户 {user.username}（角色 {user.role}{where}）。")


def _team_known(storage: Any, squad: str | None, team: str) -> bool:
    record = next((s for s in storage.squads() if s["id"] == squad), None)
    return record is not None and team in [str(t.get("id")) for t in record.get("teams", [])]


@users_app.command("team")
def team_cmd(
    username: Annotated[str, typer.Argument(help="用户名")],
    team: Annotated[str, typer.Argument(help="巡查组编号（如 shuyuan-1）；写 none 取消")],
    db: DbOption = None,
) -> None:
    """设置队员所在的巡查组（手机路线页据此显示本组路线、只允许确认本组站点）。"""
    from service.visits import set_user_team

    try:
        set_user_team(_storage(db), username, None if team.lower() == "none" else team)
    except XunchaError as exc:
        console.print(f"[red]未设置巡查组：[/red]{exc}")
        raise typer.Exit(1) from exc
    console.print(f"用户 {username} 的巡查组已设为 {team}。")


@users_app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """列出全部用户。"""
    from sqlalchemy import select

    from service.models import User

    storage = _storage(db)
    table = Table("用户名", "角色", "区县", "中队", "巡查组", "状态")
    with storage.begin() as session:
        for u in session.scalars(select(User).order_by(User.username)):
            district = u.district_code or ("" if u.squad_id else "全部")
            table.add_row(u.username, u.role, district, u.squad_id or "", u.team_id or "",
                          "启用" if u.active else "停用")
    console.print(table)


@users_app.command("passwd")
def passwd_cmd(username: Annotated[str, typer.Argument(help="用户名")],
               db: DbOption = None) -> None:
    """修改用户密码（该用户已登录的会话和令牌随即失效）；新密码从标准输入读取。"""
    from service.auth import set_password

    try:
        set_password(_storage(db), username, read_password())
    except XunchaError as exc:
        console.print(f"[red]未修改密码：[/red]{exc}")
        raise typer.Exit(1) from exc
    console.print(f"已修改用户 {username} 的密码；此前签发的令牌和登录会话已全部失效。")


def register(app: typer.Typer) -> None:
    """Add the ``users`` command group to ``app``."""
    app.add_typer(users_app, name="users")
