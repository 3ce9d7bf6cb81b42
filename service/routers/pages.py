"""Server-rendered web pages (Chinese, Jinja2 templates in ``service/templates``) and the static
files under ``/static`` (CSS, JS and the vendored Leaflet assets the maps load).

Errors on these pages are pages too (:mod:`service.handlers`): signed-out visitors go to the login
page, other errors show ``error.html`` with the status code.

Pages: ``/login``; ``/squad/{id}`` (squad dashboard: map, today's routes with print buttons,
hotspots, open and overdue cases with status actions, work log); ``/planner`` (siting scenarios);
``/admin`` (users, imports with their reports). Signed-out visitors are sent to the login page;
forms post back here (same-origin checked by :func:`service.deps.get_current_user`) and redirect.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from geo.errors import XunchaError
from service import (
    auth,
    case_list,
    pages_data,
    pages_views,
    scenarios,
    siting_jobs,
    user_admin,
    worklog_form,
    worklogs,
)
from service.auth import Principal, clear_session_cookie, create_token, set_session_cookie
from service.case_ops import transition_case
from service.deps import KeyDep, LimiterDep, SettingsDep, StorageDep, client_ip, revocable_token
from service.districts import district_choices
from service.errors import AuthError, PermissionDenied, status_for
from service.importer import import_file
from service.schemas import TransitionCreate, WorkLogUpdate, WorkLogVoid
from service.settings import Settings
from service.storage import Storage
from service.web import PageUser, login_redirect, render

HERE = Path(__file__).resolve().parents[1]
router = APIRouter(include_in_schema=False)
router.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _back(path: str, msg: str, *, error: bool = False) -> RedirectResponse:
    query = urlencode({"msg": msg, **({"err": "1"} if error else {})})
    return RedirectResponse(f"{path}?{query}", status_code=303)


def _home(user: Principal) -> str:
    if user.squads is not None:  # a district-bound admin/planner: its district's first squad
        return f"/squad/{quote(user.squad_id or (user.squads[0] if user.squads else ''))}"
    return "/planner" if user.role == "planner" else "/admin"


def _safe_next(target: str | None) -> str | None:
    return target if target and target.startswith("/") and not target.startswith("//") else None


@router.get("/")
def home(request: Request, user: PageUser) -> Response:
    """The signed-in user's start page."""
    return login_redirect(request) if user is None else RedirectResponse(_home(user), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: PageUser, next: str | None = None) -> Response:
    """The sign-in form."""
    if user is not None:
        return RedirectResponse(_safe_next(next) or _home(user), status_code=303)
    return render(request, "login.html", None, next=_safe_next(next) or "")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, storage: StorageDep, limiter: LimiterDep, settings: SettingsDep,
          key: KeyDep, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=256)],
          next: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Check the password, set the session cookie and go to the start page (or ``next``)."""
    try:
        user = auth.sign_in(storage, limiter, username, password, ip=client_ip(request))
    except XunchaError as exc:
        return render(request, "login.html", None, status=401, login_error=str(exc),
                      next=_safe_next(next) or "", username=username)
    response = RedirectResponse(_safe_next(next) or _home(user), status_code=303)
    token = create_token(user, key=key, ttl_minutes=settings.token_ttl_minutes)
    set_session_cookie(response, token, ttl_minutes=settings.token_ttl_minutes,
                       secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, storage: StorageDep, key: KeyDep) -> Response:
    """End the session server-side (every token of the user) and clear the cookie."""
    auth.end_session(storage, revocable_token(request, None), key=key)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/squad/{squad_id}", response_class=HTMLResponse)
def squad_page(request: Request, squad_id: str, storage: StorageDep, settings: SettingsDep,
               user: PageUser, date: str | None = None) -> Response:
    """The squad dashboard."""
    if user is None:
        return login_redirect(request)
    squad = pages_data.visible_squad(storage, user, squad_id[:32])
    day = pages_data.parse_day(date, settings.timezone)
    return _dashboard(request, storage, settings, user, squad, day)


def _dashboard(request: Request, storage: Storage, settings: Settings, user: Principal,
               squad: dict[str, Any], day: date, *, status: int = 200,
               log_form: dict[str, str] | None = None, log_errors: dict[str, str] | None = None,
               log_error: str = "") -> Response:
    """The dashboard page; after a refused work-log entry, with the form's values kept and a
    message per field (``log_form``, ``log_errors``) and status ``status``."""
    ctx = pages_views.dashboard(storage, settings, user, squad, day)
    sid = str(squad["id"])
    choices = worklogs.squad_choices(storage, sid)
    ctx.update(communities=choices["communities"], stations=choices["stations"],
               teams_choice=choices["teams"],
               logs=worklogs.log_rows(storage, user, sid, tz=settings.timezone),
               log_form=log_form or {"at": ctx["now"]}, log_errors=log_errors or {},
               log_error=log_error)
    # the case list: filters, search and sort from the query string (service.case_list)
    ctx.update(case_list.list_context(storage, user, sid, request.query_params,
                                      settings=settings))
    return render(request, "dashboard.html", user, status=status, **ctx)


def _squad_path(squad_id: str, day: str = "") -> str:
    return f"/squad/{quote(squad_id)}" + (f"?date={quote(day)}" if day else "")


def _require(user: Principal | None) -> Principal:
    if user is None:
        raise AuthError("请先登录。")
    return user


@router.post("/squad/{squad_id}/cases/{case_id}/status")
def case_status(squad_id: str, case_id: str, storage: StorageDep, user: PageUser,
                to_status: Annotated[str, Form(max_length=8)],
                note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Move a case to ``to_status`` (the dashboard's status buttons)."""
    u = _require(user)
    pages_data.visible_squad(storage, u, squad_id)
    path = f"/squad/{quote(squad_id)}"
    try:
        body = TransitionCreate(to_status=to_status, note=note)  # type: ignore[arg-type]
        transition_case(storage, case_id, body, u)
    except (XunchaError, ValueError) as exc:
        return _back(path, f"案件 {case_id} 状态未改变：{str(exc).splitlines()[0]}", error=True)
    return _back(path, f"案件 {case_id} 已改为「{to_status}」。")


@router.post("/squad/{squad_id}/worklogs")
def add_worklog(request: Request, squad_id: str, storage: StorageDep, settings: SettingsDep,
                user: PageUser,
                at: Annotated[str, Form(max_length=32)] = "",
                place: Annotated[str, Form(max_length=500)] = "",
                problem: Annotated[str, Form(max_length=4000)] = "",
                action: Annotated[str, Form(max_length=4000)] = "",
                outcome: Annotated[str, Form(max_length=8)] = "",
                community_code: Annotated[str, Form(max_length=16)] = "",
                station_code: Annotated[str, Form(max_length=32)] = "",
                team_id: Annotated[str, Form(max_length=64)] = "",
                case_id: Annotated[str, Form(max_length=64)] = "",
                case_ids: Annotated[str, Form(max_length=1000)] = "",
                photo_count: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Add a work-log entry of the squad (the dashboard's log form). A refused entry shows the
    dashboard again (422, or the error's status) with every typed value kept and a message at
    each field to fix."""
    u = _require(user)
    squad = pages_data.visible_squad(storage, u, squad_id)
    form, body, errors = worklog_form.parse_new_entry(
        squad_id, at=at, place=place, problem=problem, action=action, outcome=outcome,
        community_code=community_code, station_code=station_code, team_id=team_id,
        case_id=case_id, case_ids=case_ids, photo_count=photo_count)
    if errors or body is None:
        day = pages_data.parse_day(None, settings.timezone)
        return _dashboard(request, storage, settings, u, squad, day, status=422, log_form=form,
                          log_errors=errors, log_error="日志未保存：请按提示补全或改正标出的栏目。")
    try:
        worklogs.add_log(storage, u, body, tz=settings.timezone)
    except XunchaError as exc:
        day = pages_data.parse_day(None, settings.timezone)
        msg = str(exc).splitlines()[0]
        field = worklog_form.refused_field(msg)
        return _dashboard(request, storage, settings, u, squad, day, status=status_for(exc),
                          log_form=form, log_errors={field: msg} if field else {},
                          log_error=f"日志未保存：{msg}")
    return _back(f"/squad/{quote(squad_id)}", "工作日志已保存。")


@router.post("/squad/{squad_id}/worklogs/{entry_id}")
def edit_worklog(squad_id: str, entry_id: Annotated[int, PathParam(ge=1, le=2_147_483_647)],
                 storage: StorageDep, settings: SettingsDep, user: PageUser,
                 at: Annotated[str, Form(max_length=32)],
                 place: Annotated[str, Form(max_length=500)] = "",
                 problem: Annotated[str, Form(max_length=4000)] = "",
                 action: Annotated[str, Form(max_length=4000)] = "",
                 outcome: Annotated[str, Form(max_length=8)] = "",
                 community_code: Annotated[str | None, Form(max_length=16)] = None,
                 station_code: Annotated[str | None, Form(max_length=32)] = None,
                 team_id: Annotated[str | None, Form(max_length=64)] = None,
                 case_ids: Annotated[str | None, Form(max_length=1000)] = None,
                 photo_count: Annotated[str | None, Form(max_length=8)] = None) -> Response:
    """Correct a work-log entry (the dashboard's 修改 form): author, squad leader or admin.
    Fields the form does not send stay as they are; an empty list choice clears them."""
    u = _require(user)
    pages_data.visible_squad(storage, u, squad_id)
    path = f"/squad/{quote(squad_id)}"
    extra = worklog_form.update_extra(community_code=community_code, station_code=station_code,
                                      team_id=team_id, case_ids=case_ids, photo_count=photo_count)
    try:
        worklogs.check_may_change(storage, u, entry_id)
        blank = [worklogs.FIELD_NAMES[k] for k, v in (("place", place), ("action", action))
                 if not v.strip()]
        if blank:
            return _back(path, f"日志未修改：{'、'.join(blank)}必填，不能为空。", error=True)
        body = WorkLogUpdate.model_validate({
            "at": datetime.fromisoformat(at), "place": place, "problem": problem,
            "action": action, "outcome": outcome or None, **extra})
        worklogs.update_log(storage, u, entry_id, body, tz=settings.timezone)
    except ValidationError as exc:
        return _back(path, f"日志未修改：{'；'.join(worklogs.form_errors(exc).values())}",
                     error=True)
    except (XunchaError, ValueError) as exc:
        return _back(path, f"日志未修改：{str(exc).splitlines()[0]}", error=True)
    return _back(path, "工作日志已修改。")


@router.post("/squad/{squad_id}/worklogs/{entry_id}/void")
def void_worklog(squad_id: str, entry_id: Annotated[int, PathParam(ge=1, le=2_147_483_647)],
                 storage: StorageDep, settings: SettingsDep, user: PageUser,
                 reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Void a work-log entry with a reason (the dashboard's 作废 form); it stays, marked 已作废."""
    u = _require(user)
    pages_data.visible_squad(storage, u, squad_id)
    path = f"/squad/{quote(squad_id)}"
    try:
        worklogs.check_may_change(storage, u, entry_id, verb="作废")
        worklogs.void_log(storage, u, entry_id, WorkLogVoid(reason=reason),
                          tz=settings.timezone)
    except ValidationError as exc:
        return _back(path, f"日志未作废：{'；'.join(worklogs.form_errors(exc).values())}",
                     error=True)
    except XunchaError as exc:
        return _back(path, f"日志未作废：{str(exc).splitlines()[0]}", error=True)
    return _back(path, f"日志 {entry_id} 已作废（原因：{reason.strip()[:100]}）。")


@router.get("/planner", response_class=HTMLResponse)
def planner_page(request: Request, storage: StorageDep, settings: SettingsDep, user: PageUser,
                 scenario: int | None = None) -> Response:
    """Siting scenarios: the form, stored scenarios, and the chosen one's map and table."""
    if user is None:
        return login_redirect(request)
    if user.role not in ("admin", "planner"):
        raise PermissionDenied("规划页面仅对规划人员和管理员开放。")
    current = scenarios.get_scenario(storage, scenario, user=user) if scenario else None
    rows = scenarios.list_scenarios(storage, user=user)
    return render(request, "planner.html", user, squads=pages_data.visible_squads(storage, user),
                  scenarios=pages_views.scenario_rows(rows, settings.timezone), current=current)


@router.post("/planner/siting")
async def planner_siting(request: Request, storage: StorageDep, settings: SettingsDep,
                         user: PageUser) -> Response:
    """Queue a scenario (or a 3 vs 5 comparison) from the planner form and show its progress
    (:mod:`service.siting_jobs`; the job page is ``/siting/jobs/{id}``)."""
    u = _require(user)
    if u.role not in ("admin", "planner"):
        raise PermissionDenied("只有规划人员和管理员可以计算选址方案。")
    form = await request.form()
    try:
        job = siting_jobs.submit(storage, settings, siting_jobs.job_from_form(form), u)
    except (XunchaError, ValueError) as exc:
        return _back("/planner", f"选址失败：{str(exc).splitlines()[0]}", error=True)
    return RedirectResponse(f"/siting/jobs/{job['id']}", status_code=303)


def _admin(user: Principal | None) -> Principal:
    u = _require(user)
    if u.role != "admin":
        raise PermissionDenied("管理页面仅对管理员开放。")
    if u.district_code is not None:  # users and imports span every district
        raise PermissionDenied(f"管理页面仅对不绑定区县的管理员开放（你绑定区县 {u.district_code}）。")
    return u


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, storage: StorageDep, settings: SettingsDep,
               user: PageUser) -> Response:
    """Users, squads and case imports with their per-row reports."""
    if user is None:
        return login_redirect(request)
    _admin(user)
    districts = district_choices(storage)
    return render(request, "admin.html", user, districts=districts,
                  district_names={d["code"]: d["label"] for d in districts},
                  **pages_views.admin_page(storage, settings.timezone))


@router.post("/admin/users")
def admin_add_user(storage: StorageDep, user: PageUser,
                   username: Annotated[str, Form(max_length=64)],
                   password: Annotated[str, Form(max_length=256)],
                   role: Annotated[str, Form(max_length=16)],
                   squad_id: Annotated[str, Form(max_length=32)] = "",
                   district_code: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Add a user from the admin form (deployment admins only), bound to a district if one is
    chosen (``district_code``; empty: every district)."""
    _admin(user)
    try:
        auth.create_user(storage, username, password, role=role, squad=squad_id or None,
                         district=district_code or None)
    except XunchaError as exc:
        return _back("/admin", f"未添加用户：{exc}", error=True)
    return _back("/admin", f"已添加用户 {username}。")


@router.post("/admin/users/{username}/active")
def admin_user_active(storage: StorageDep, user: PageUser,
                      username: Annotated[str, PathParam(max_length=64)],
                      active: Annotated[str, Form(pattern="^[01]$")]) -> Response:
    """Disable (``active=0``) or enable (``1``) a user from the admin page."""
    u = _admin(user)
    on = active == "1"
    try:
        user_admin.update_user(storage, u, username, active=on)
    except XunchaError as exc:
        return _back("/admin", f"用户 {username} 未改变：{exc}", error=True)
    return _back("/admin", f"已{'启用' if on else '停用'}用户 {username}"
                           f"{'' if on else '（其登录立即失效）'}。")


@router.post("/admin/users/{username}/password")
def admin_user_password(storage: StorageDep, user: PageUser,
                        username: Annotated[str, PathParam(max_length=64)],
                        password: Annotated[str, Form(max_length=256)]) -> Response:
    """Set a new password for a user from the admin page."""
    u = _admin(user)
    try:
        user_admin.update_user(storage, u, username, password=password)
    except XunchaError as exc:
        return _back("/admin", f"用户 {username} 的密码未修改：{exc}", error=True)
    return _back("/admin", f"已重置用户 {username} 的密码。")


@router.post("/admin/import")
def admin_import(storage: StorageDep, settings: SettingsDep, user: PageUser,
                 file: Annotated[UploadFile, File()],
                 coords: Annotated[str, Form(max_length=32)] = "") -> Response:
    """Import a case file from the admin form; the report is listed on the page.

    An empty ``coords`` lets the importer decide from the headers (``经度(百度)`` → BD-09) and
    the values (zone-prefixed Gauss–Krüger), else WGS84."""
    u = _admin(user)
    limit = settings.max_upload_mb * 1024 * 1024
    data = file.file.read(limit + 1)
    if len(data) > limit:
        return _back("/admin", f"文件超过上限 {settings.max_upload_mb} MB。", error=True)
    try:
        rep = import_file(storage, data, filename=file.filename or "", coords=coords or None,
                          actor=u.username, max_bytes=limit, settings=settings)
    except XunchaError as exc:
        return _back("/admin", f"无法导入：{str(exc).splitlines()[0]}", error=True)
    pages_data.CACHE.clear()
    return _back("/admin", f"导入完成：新增 {rep.inserted}，更新 {rep.updated}，拒绝 {rep.rejected} 行。",
                 error=rep.rejected > 0)
