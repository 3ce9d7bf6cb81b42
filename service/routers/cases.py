"""Cases (案件): list as GeoJSON with filters and paging, CSV export, report, import, detail and
status transitions. Squad-bound users see and change only their squad's cases (others: 404).

A case id in a path or body is normalised (:func:`geo.cases.normalise_case_id`) by
:mod:`service.case_ops` before any lookup; reporting a case whose id names another squad's case
answers exactly as ``GET`` of that id does (404), and never changes the stored case.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from geo.errors import InputError
from service import case_steps as steps
from service.auth import Principal
from service.case_features import case_page
from service.case_list import cases_csv_stream
from service.case_ops import (
    add_case_photos,
    assignees_for,
    case_detail,
    case_filter_for,
    collection_bytes,
    create_case,
    photo_bytes,
    transition_case,
)
from service.deps import CaseQueryDep, CurrentUser, SettingsDep, StorageDep, require_roles
from service.errors import PayloadTooLarge, PermissionDenied
from service.geojson import GEOJSON, dumps, geojson_response, parse_bbox
from service.importer import import_file
from service.schemas import (
    AssigneeIn,
    AssigneeKind,
    CaseCreate,
    ErrorBody,
    Feature,
    FeatureCollection,
    FreeText,
    ImportReportPublic,
    Line,
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
    query: CaseQueryDep,
    bbox: Annotated[str | None, Query(max_length=200,
                                      description="最小经度,最小纬度,最大经度,最大纬度")] = None,
    overdue: Annotated[bool | None, Query(
        description="true：超期未结（未结案/作废且已过处置时限）；false：其余案件")] = None,
) -> CaseFilter:
    """The caller's case filter: query parameters, always limited to the caller's squad."""
    flt = case_filter_for(user, settings.timezone, query, precise=False)
    return replace(flt, bbox=parse_bbox(bbox), overdue=overdue)


FilterDep = Annotated[CaseFilter, Depends(case_filter)]


@router.get("/cases", response_model=FeatureCollection, responses={**_ERRORS, 304: {}},
            summary="案件列表（GeoJSON）")
def list_cases(
    request: Request,
    storage: StorageDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=200, description=(
        "翻页游标：上一页 links 中 rel=next 的链接已带上；与 offset 不能同时使用"))] = None,
) -> Response:
    """Cases the caller may see, newest first, as a FeatureCollection (RFC 7946).

    ``numberMatched`` is the number of matching cases: exact up to 10 000 (a capped count per
    query and data version); above that PostGIS gives the query planner's estimate and adds
    ``"numberMatchedEstimated": true``, SQLite counts exactly once per query and data version.
    ``numberReturned`` is this page's size; each feature has ``case_id``, ``category``,
    ``squad``, ``community``, ``status``, ``reported_at``, ``deadline_at``, ``overdue`` and more.
    A full page carries ``links`` with ``rel: next``: the next page by keyset (``cursor`` = the
    last row's report time and row id), one indexed query whatever the depth, and every case
    exactly once even while cases are added. ``offset`` still works. Repeated queries are
    answered from a cache that every change to the cases invalidates (in all worker processes);
    the ``ETag`` lets a client ask ``If-None-Match`` and get 304.
    """
    from service.case_cache import decode_cursor, encode_cursor, etag, not_modified, versions

    if cursor is not None:
        if offset:
            raise InputError("cursor 与 offset 不能同时使用；翻页请只用 next 链接。")
        flt = replace(flt, after=decode_cursor(cursor))
    version = versions(storage)[0]
    page = case_page(storage, flt, limit=limit, offset=offset, version=version)
    tag = etag(version, page.digest, page.matched, page.returned)
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    extra: dict[str, Any] = {} if page.exact else {"numberMatchedEstimated": True}
    if page.returned == limit and page.last is not None:
        nxt = request.url.remove_query_params(["offset", "cursor"]).include_query_params(
            cursor=encode_cursor(page.last))
        extra["links"] = [{"href": str(nxt), "rel": "next", "type": GEOJSON}]
    return Response(collection_bytes(page, **extra), media_type=GEOJSON, headers={"ETag": tag})


@router.get("/cases.csv", responses={**_ERRORS, 200: {"content": {"text/csv": {}}}},
            summary="导出案件（CSV）")
def export_cases(storage: StorageDep, flt: FilterDep) -> Response:
    """The same filters as ``GET /api/cases``; every matching case the caller may see, written
    a few thousand rows at a time (the export starts at once and never holds every row)."""
    return StreamingResponse(cases_csv_stream(storage, flt), media_type="text/csv; charset=utf-8",
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
    coords: Annotated[str, Form(max_length=32, description=(
        "坐标系 wgs84、cgcs2000、gcj02、bd09 或 EPSG:编号；留空按表头和数值判断"))] = "",
    dry_run: Annotated[bool, Query(description="只检查：返回列的对应关系和问题，不保存")] = False,
    mapping: Annotated[list[str] | None, Query(
        alias="map", max_length=50, description="列的用途 列名=角色，可重复（同 xuncha import --map）")
    ] = None,
    allow_future: Annotated[bool, Query(description="接受晚于当前时间一天以上的时间")] = False,
) -> Response:
    """Import a case file (admin, planner): valid rows are stored in one transaction, every
    rejected row is reported; an unreadable file stores nothing (400), an oversized one 413.

    The answer also lists which column filled which role (``mapping``), the reader's ``notes``,
    every status changed (``status_changes``) and every stored status kept against an older one
    in the file (``notices``). ``dry_run=1`` answers the same and stores nothing.
    """
    from geo.case_columns import parse_map

    if user.squads is not None:  # import_file may write any squad's rows: district-wide roles only
        raise PermissionDenied("只有不绑定中队或区县的管理员和规划人员可以导入案件文件。")
    columns = parse_map(mapping or [])
    limit = settings.max_upload_mb * 1024 * 1024
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"文件超过上限 {settings.max_upload_mb} MB；请拆分后分批导入。")
    report = import_file(storage, data, filename=file.filename or "", coords=coords or None,
                         actor=user.username, max_bytes=limit, settings=settings,
                         columns=columns, dry_run=dry_run, allow_future=allow_future)
    # the documented fields of ImportReportPublic, and the mapping, notes, status changes and
    # kept statuses (a superset of the model: the reply is written as is)
    return Response(dumps(report.as_dict()), media_type="application/json")


@router.get("/cases/{case_id}", response_model=Feature, responses=_ERRORS, summary="案件详情")
def get_case(case_id: str, storage: StorageDep, user: CurrentUser) -> Response:
    """One case with its status history (who, when, note), deadline and overdue flag."""
    return geojson_response(case_detail(storage, case_id, user))


@router.post("/cases/{case_id}/transitions", response_model=Feature,
             responses={**_ERRORS, 409: {"model": ErrorBody}}, summary="案件状态流转")
def transition(case_id: str, body: TransitionCreate, storage: StorageDep,
               user: CurrentUser) -> Response:
    """Move the case to ``to_status`` (上报 → 立案 → 派遣 → 处置 → 核查 → 结案, or 作废) with a
    ``note`` (required for 作废 and for 退回处置, 核查 → 处置: 422 without) and an ``assignee``
    (a team or officer of the case's squad, or a partner unit: 422 otherwise); illegal
    transitions get 409, a role that may not make this one 403."""
    transition_case(storage, case_id, body, user)
    return geojson_response(case_detail(storage, case_id, user))


PhotoFiles = Annotated[list[UploadFile] | None, File(
    description="照片（JPEG、PNG 或 WebP，按文件内容判断；每张不超过 photo_max_mb MB，最多 6 张）")]


def _read_photos(files: list[UploadFile] | None, max_mb: int) -> list[steps.Photo]:
    """Read and check the uploaded photos (at most ``max_mb`` MiB each is read)."""
    files = [f for f in files or [] if f.filename or f.size]
    steps.check_count(len(files))
    limit = max_mb * 1024 * 1024
    return [steps.check_photo(f.filename or "", f.file.read(limit + 1), max_mb=max_mb)
            for f in files]


@router.post("/cases/{case_id}/steps", response_model=Feature,
             responses={**_ERRORS, 409: {"model": ErrorBody}, 413: {"model": ErrorBody}},
             summary="案件状态流转（表单，可带照片）")
def step(
    case_id: str,
    storage: StorageDep,
    settings: SettingsDep,
    user: CurrentUser,
    to_status: Annotated[Status, Form(description="新状态")],
    note: Annotated[FreeText, Form(max_length=2000, description="说明；作废、退回处置必填")] = "",
    assignee_kind: Annotated[AssigneeKind | None, Form(description="承办类型")] = None,
    assignee_id: Annotated[Line, Form(max_length=64, description="承办编号或协作单位")] = "",
    photos: PhotoFiles = None,
) -> Response:
    """The transition of ``POST /api/cases/{id}/transitions`` as a multipart form, with photos:
    the step, its assignee and its photos are stored in one transaction (nothing is stored when
    any of them is refused)."""
    assignee = AssigneeIn(kind=assignee_kind, id=assignee_id) \
        if assignee_kind and assignee_id else None
    if assignee_kind and not assignee_id:
        raise steps.FieldError("assignee_id", "选择了承办类型，请再选择具体的承办人或单位。")
    body = TransitionCreate(to_status=to_status, note=note, assignee=assignee)
    transition_case(storage, case_id, body, user,
                    photos=_read_photos(photos, settings.photo_max_mb))
    return geojson_response(case_detail(storage, case_id, user))


@router.post("/cases/{case_id}/photos", response_model=Feature,
             responses={**_ERRORS, 413: {"model": ErrorBody}}, summary="给案件添加照片")
def add_photos(case_id: str, storage: StorageDep, settings: SettingsDep, user: CurrentUser,
               photos: PhotoFiles = None) -> Response:
    """Attach photos to the case's latest step without changing its status."""
    add_case_photos(storage, case_id, _read_photos(photos, settings.photo_max_mb), user)
    return geojson_response(case_detail(storage, case_id, user))


@router.get("/cases/{case_id}/photos/{photo_id}", responses={
    **_ERRORS, 200: {"content": {t: {} for t in steps.PHOTO_TYPES}}}, summary="案件照片")
def get_photo(case_id: str, photo_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
              storage: StorageDep, user: CurrentUser) -> Response:
    """A photo of a case the caller may see, with the content type its bytes show."""
    data, content_type = photo_bytes(storage, case_id, photo_id, user)
    return Response(data, media_type=content_type, headers={
        "Cache-Control": "private, max-age=86400", "Content-Disposition": "inline",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.get("/cases/{case_id}/assignees", responses=_ERRORS, summary="案件可选承办")
def case_assignees(case_id: str, storage: StorageDep,
                   user: CurrentUser) -> list[dict[str, str]]:
    """Whom a step of the case may hand it to: its squad's teams and officers, partner units."""
    return assignees_for(storage, case_id, user)
