"""The case pages: one case (``/cases/{id}``: map inset, description, photos, full history, the
step form) and the squad dashboard's case list parts (the list fragment the filters reload in
place, and the CSV/XLSX export of exactly what is filtered).

Every page checks the caller may see the case or squad (404 otherwise, like the API). The step
form works without script (``POST /cases/{id}/steps`` redirects back with a notice); with script
(``/static/js/cases.js``) it posts to ``POST /api/cases/{id}/steps`` and swaps the page's parts
in place (``/cases/{id}/body``, ``/squad/{id}/cases``): no reload, the list filters kept.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from shapely.geometry import mapping

from geo.errors import XunchaError
from service import case_list, pages_data
from service import case_steps as steps
from service.case_list import cases_csv, cases_xlsx
from service.case_ops import assignees_for, case_detail
from service.case_ops import transition_case as do_transition
from service.deps import SettingsDep, StorageDep
from service.errors import AuthError
from service.schemas import AssigneeIn, TransitionCreate
from service.web import PageUser, login_redirect, render, templates

router = APIRouter(include_in_schema=False)
def _back(target: str | None) -> str:
    """A same-site dashboard address to return to (the list with its filters), else ``""``."""
    if target and target.startswith("/squad/") and "//" not in target and "\\" not in target:
        return target[:600]
    return ""


def _body_ctx(storage: Any, case_id: str, user: Any) -> dict[str, Any]:
    feat = case_detail(storage, case_id, user)
    props = feat["properties"]
    photos = [p for h in props["history"] for p in h["photos"]]
    options = assignees_for(storage, case_id, user) if props["actions"] else []
    groups: dict[str, list[dict[str, str]]] = {}
    for o in options:
        groups.setdefault(o["kind_name"], []).append(o)
    return {"case": props, "feature": feat, "photos": photos, "assignee_groups": groups,
            "photo_types": ",".join(steps.PHOTO_TYPES), "max_photos": steps.MAX_PHOTOS}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: str, storage: StorageDep, settings: SettingsDep,
              user: PageUser, back: str | None = None) -> Response:
    """One case: map inset, description, photos, full history and the step form."""
    if user is None:
        return login_redirect(request)
    ctx = _body_ctx(storage, case_id, user)
    props = ctx["case"]
    comm = storage.communities(squads=(props["squad"],) if props["squad"] else None)
    comm = comm[comm["code"] == props["community_code"]] if len(comm) else comm
    outline = [mapping(g) for g in comm.geometry] if len(comm) else []
    lon, lat = ctx["feature"]["geometry"]["coordinates"]
    back_to = _back(back) or (f"/squad/{quote(props['squad'])}#cases" if props["squad"] else "")
    return render(request, "case.html", user, **ctx, back=back_to, photo_max_mb=settings.photo_max_mb,
                  inset={"lon": lon, "lat": lat, "outline": outline, "tiles": case_list.page_tiles(settings)})


@router.get("/cases/{case_id}/body", response_class=HTMLResponse)
def case_body(request: Request, case_id: str, storage: StorageDep, settings: SettingsDep,
              user: PageUser) -> Response:
    """The case page's changing part (status, assignee, photos, history, step form)."""
    if user is None:
        raise AuthError("请先登录。")
    return templates.TemplateResponse(request, "_case_body.html", {
        **_body_ctx(storage, case_id, user), "user": user, "photo_max_mb": settings.photo_max_mb})


@router.post("/cases/{case_id}/steps")
def case_step(request: Request, case_id: str, storage: StorageDep, settings: SettingsDep,
              user: PageUser, to_status: Annotated[str, Form(max_length=8)],
              note: Annotated[str, Form(max_length=2000)] = "",
              assignee: Annotated[str, Form(max_length=100)] = "",
              photos: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    """The step form without script: make the step, return to the case page with a notice."""
    if user is None:
        raise AuthError("请先登录。")
    path = f"/cases/{quote(case_id, safe='')}"
    try:
        kind, _, aid = assignee.partition(":")
        who = AssigneeIn(kind=kind, id=aid) if kind and aid else None  # type: ignore[arg-type]
        body = TransitionCreate(to_status=to_status, note=note, assignee=who)  # type: ignore[arg-type]
        limit = settings.photo_max_mb * 1024 * 1024
        files = [f for f in photos or [] if f.filename]
        steps.check_count(len(files))
        checked = [steps.check_photo(f.filename or "", f.file.read(limit + 1),
                                     max_mb=settings.photo_max_mb) for f in files]
        do_transition(storage, case_id, body, user, photos=checked)
    except (XunchaError, ValueError) as exc:
        query = urlencode({"msg": f"状态未改变：{str(exc).splitlines()[0]}", "err": "1"})
        return RedirectResponse(f"{path}?{query}", status_code=303)
    return RedirectResponse(f"{path}?{urlencode({'msg': f'已改为「{to_status}」。'})}",
                            status_code=303)


@router.get("/squad/{squad_id}/cases", response_class=HTMLResponse)
def case_list_part(request: Request, squad_id: str, storage: StorageDep,
                   user: PageUser) -> Response:
    """The dashboard's case list for the filters in the query string (an HTML fragment)."""
    if user is None:
        raise AuthError("请先登录。")
    squad = pages_data.visible_squad(storage, user, squad_id[:32])
    ctx = case_list.list_context(storage, user, squad["id"], request.query_params)
    return templates.TemplateResponse(request, "_case_list.html",
                                      {**ctx, "squad": squad, "user": user})


def _export(request: Request, squad_id: str, storage: Any, user: Any, kind: str) -> Response:
    if user is None:
        return login_redirect(request)
    squad = pages_data.visible_squad(storage, user, squad_id[:32])
    lq = case_list.parse_query(request.query_params)
    table = case_list.export_table(storage, squad["id"], lq)
    name = f"cases-{squad['id']}.{kind}"
    head = {"Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "csv":
        return Response(cases_csv(table), media_type="text/csv; charset=utf-8", headers=head)
    label = pages_data.data_label(storage, (squad["id"],))
    return Response(cases_xlsx(table, footer=label), headers=head, media_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))


@router.get("/squad/{squad_id}/cases.csv")
def export_csv(request: Request, squad_id: str, storage: StorageDep, user: PageUser) -> Response:
    """The filtered list (every matching case, the list's order) as CSV."""
    return _export(request, squad_id, storage, user, "csv")


@router.get("/squad/{squad_id}/cases.xlsx")
def export_xlsx(request: Request, squad_id: str, storage: StorageDep, user: PageUser) -> Response:
    """The filtered list as an XLSX workbook."""
    return _export(request, squad_id, storage, user, "xlsx")
