"""Cases (案件): list as GeoJSON with filters and paging, CSV export, report, import, detail and
status transitions. Squad-bound users see and change only their squad's cases (others: 404).

A case id in a path or body is normalised (:func:`geo.cases.normalise_case_id`) by
:mod:`service.case_ops` before any lookup; reporting a case whose id names another squad's case
answers exactly as ``GET`` of that id does (404), and never changes the stored case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile

from service.auth import Principal
from service.case_ops import (
    case_detail,
    cases_csv,
    collection_bytes,
    create_case,
    query_page,
    resolve_categories,
    transition_case,
)
from service.deps import CurrentUser, SettingsDep, StorageDep, require_roles
from service.errors import PayloadTooLarge, PermissionDenied
from service.geojson import GEOJSON, aware, geojson_response, month_range, parse_bbox
from service.importer import import_file
from service.schemas import (
    CaseCreate,
    ErrorBody,
    Feature,
    FeatureCollection,
    ImportReportPublic,
    Status,
    TransitionCreate,
)
from service.storage import CaseFilter

router = APIRouter(prefix="/api", tags=["cases"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
    404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
Importer = Annotated[Principal, Depends(require_roles("admin", "planner"))]


async def case_filter(
    user: CurrentUser,
    settings: SettingsDep,
    start: Annotated[datetime | None, Query(description="上报时间下限（含）；不带时区按部署时区")] = None,
    end: Annotated[datetime | None, Query(description="上报时间上限（不含）")] = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="月份 YYYY-MM")] = None,
    category: Annotated[list[str] | None, Query(description="类别代码或名称，可重复")] = None,
    community: Annotated[str | None, Query(max_length=64, description="社区代码或名称")] = None,
    status: Annotated[list[Status] | None, Query(description="状态，可重复")] = None,
    squad: Annotated[str | None, Query(max_length=32, description="中队编号")] = None,
    bbox: Annotated[str | None, Query(max_length=200,
                                      description="最小经度,最小纬度,最大经度,最大纬度")] = None,
    overdue: Annotated[bool | None, Query(
        description="true：超期未结（未结案/作废且已过处置时限）；false：其余案件")] = None,
) -> CaseFilter:
    """The caller's case filter: query parameters, always limited to the caller's squad."""
    tz = settings.timezone
    lo, hi = aware(start, tz), aware(end, tz)
    if month:
        m0, m1 = month_range(month, tz)
        lo, hi = max(lo, m0) if lo else m0, min(hi, m1) if hi else m1
    squads = user.squads
    if squad is not None:
        if not user.may_see(squad):
            raise PermissionDenied(f"无权查看中队「{squad}」的案件。")
        squads = (squad,)
    return CaseFilter(squads=squads, start=lo, end=hi, categories=resolve_categories(category),
                      community=community or None, status=tuple(status) if status else None,
                      bbox=parse_bbox(bbox), overdue=overdue)


FilterDep = Annotated[CaseFilter, Depends(case_filter)]


@router.get("/cases", response_model=FeatureCollection, responses=_ERRORS, summary="案件列表（GeoJSON）")
def list_cases(
    storage: StorageDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Cases the caller may see, newest first, as a FeatureCollection (RFC 7946).

    ``numberMatched`` is the number of matching cases, ``numberReturned`` this page's size; each
    feature has ``case_id``, ``category``, ``squad``, ``community``, ``status``, ``reported_at``,
    ``deadline_at``, ``overdue`` and more. Repeated queries are answered from a cache that
    every change to the cases invalidates (in all worker processes).
    """
    page = query_page(storage, flt, limit=limit, offset=offset)
    return Response(collection_bytes(page), media_type=GEOJSON)


@router.get("/cases.csv", responses={**_ERRORS, 200: {"content": {"text/csv": {}}}},
            summary="导出案件（CSV）")
def export_cases(storage: StorageDep, flt: FilterDep) -> Response:
    """The same filters as ``GET /api/cases``; every matching case the caller may see."""
    body = cases_csv(storage.query_cases(flt))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="cases.csv"'})


@router.post("/cases", response_model=Feature, status_code=201,
             responses={**_ERRORS, 409: {"model": ErrorBody}}, summary="上报案件")
def report_case(body: CaseCreate, storage: StorageDep, user: CurrentUser) -> Response:
    """Report one case (status 上报); it is joined to its community and squad by location."""
    case_id = create_case(storage, body, user)
    return geojson_response(case_detail(storage, case_id, user), status_code=201)


@router.post("/cases/import", response_model=ImportReportPublic,
             responses={**_ERRORS, 413: {"model": ErrorBody}}, summary="导入案件文件")
def import_cases(
    storage: StorageDep,
    settings: SettingsDep,
    user: Importer,
    file: Annotated[UploadFile, File(description="CSV（UTF-8/GBK）、XLSX 或 GeoJSON")],
    coords: Annotated[str, Form(max_length=32)] = "wgs84",
) -> ImportReportPublic:
    """Import a case file (admin, planner): valid rows are stored in one transaction, every
    rejected row is reported; an unreadable file stores nothing (400), an oversized one 413."""
    if user.squads is not None:  # import_file may write any squad's rows: district-wide roles only
        raise PermissionDenied("只有管理员和规划人员可以导入案件文件。")
    limit = settings.max_upload_mb * 1024 * 1024
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"文件超过上限 {settings.max_upload_mb} MB；请拆分后分批导入。")
    report = import_file(storage, data, filename=file.filename or "", coords=coords,
                         actor=user.username, max_bytes=limit, settings=settings)
    return ImportReportPublic(**report.as_dict())


@router.get("/cases/{case_id}", response_model=Feature, responses=_ERRORS, summary="案件详情")
def get_case(case_id: str, storage: StorageDep, user: CurrentUser) -> Response:
    """One case with its status history (who, when, note), deadline and overdue flag."""
    return geojson_response(case_detail(storage, case_id, user))


@router.post("/cases/{case_id}/transitions", response_model=Feature,
             responses={**_ERRORS, 409: {"model": ErrorBody}}, summary="案件状态流转")
def transition(case_id: str, body: TransitionCreate, storage: StorageDep,
               user: CurrentUser) -> Response:
    """Move the case to ``to_status`` (上报 → 立案 → 派遣 → 处置 → 核查 → 结案, or 作废);
    illegal transitions get 409, a role that may not make this one 403."""
    transition_case(storage, case_id, body, user)
    return geojson_response(case_detail(storage, case_id, user))
