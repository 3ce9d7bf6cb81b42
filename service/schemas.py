"""Request and response models (``*Create`` in, ``*Public`` out) and GeoJSON shapes (RFC 7946).

Text fields of requests that are stored as given (work-log entries, transition notes) refuse
control characters (:data:`Line`, :data:`FreeText`: 422 with a Chinese reason), and a case id
that links to a case is normalised (:data:`CaseRef`), so neither database ever sees a NUL. The
fields of :class:`CaseCreate` are judged by :func:`geo.cases.parse_cases` like an imported row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from geo.cases import find_control, normalise_case_id
from geo.labels import AssigneeKind, Status

# query parameters of the case filter, shared by GET /api/cases and the case tiles
StartQuery = Annotated[datetime | None, Query(description="上报时间下限（含）；不带时区按部署时区")]
EndQuery = Annotated[datetime | None, Query(description="上报时间上限（不含）")]
MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="月份 YYYY-MM")]
CategoryQuery = Annotated[list[str] | None, Query(description="类别代码或名称，可重复")]
CommunityQuery = Annotated[str | None, Query(max_length=64, description="社区代码或名称")]
StatusQuery = Annotated[list[Status] | None, Query(description="状态，可重复")]
SquadQuery = Annotated[str | None, Query(max_length=32, description="中队编号")]


@dataclass(frozen=True)
class CaseQuery:
    """The case filter's query parameters (:func:`service.deps.case_query` reads them)."""

    start: datetime | None = None
    end: datetime | None = None
    month: str | None = None
    category: list[str] | None = None
    community: str | None = None
    status: list[Status] | None = None
    squad: str | None = None

Outcome = Literal["当场办理", "转告受理", "代行受理", "告知路径", "耐心解释"]
"""Reception outcomes of a work-log entry (城管进社区工作日志)."""

Role = Literal["admin", "planner", "squad_leader", "officer"]


def _line(value: str) -> str:
    char = find_control(value)
    if char is not None:
        raise ValueError(f"含控制字符 {char}；不能有 NUL、换行、制表符等不可见字符，请删除后重试。")
    return value


def _free_text(value: str) -> str:
    char = find_control(value, free_text=True)
    if char is not None:
        raise ValueError(f"含控制字符 {char}；除换行和制表符外不能有 NUL 等不可见字符，请删除后重试。")
    return value


def _case_ref(value: str | None) -> str | None:
    return normalise_case_id(value) if value else None


Line = Annotated[str, AfterValidator(_line)]
"""One line of text: no control character at all."""
FreeText = Annotated[str, AfterValidator(_free_text)]
"""Free text: tab and line breaks allowed, no other control character."""
CaseRef = Annotated[str | None, AfterValidator(_case_ref)]
"""A case id given to link a case, normalised by :func:`geo.cases.normalise_case_id` (``""``:
no case linked)."""


def _filled(value: str) -> str:
    value = _free_text(value)
    if not value.strip():
        raise ValueError("必填：不能为空，请填写。")
    return value


Filled = Annotated[str, AfterValidator(_filled)]
"""Required free text: not empty, not only spaces (a work-log entry's problem, a void reason)."""
LinkedCase = Annotated[str, AfterValidator(normalise_case_id)]
"""One id of the linked cases of a work-log entry, normalised."""


class ErrorBody(BaseModel):
    """Every error response: a Chinese message and, for validation errors, every problem."""

    detail: str
    problems: list[dict[str, Any]] = []


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


DistrictCode = Annotated[str, Field(min_length=1, max_length=12, description=(
    "绑定的区县编码（xuncha boundaries list）：管理员、规划人员只看该区县的中队"))]
"""The code of the district an admin or planner is bound to (:class:`service.models.District`)."""


class UserPublic(BaseModel):
    username: str
    role: Role
    squad_id: str | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    squad_id: str | None = None
    district_code: DistrictCode | None = None


class UserRecord(UserPublic):
    """A user as user administration shows it: with the district an admin or planner is bound to."""

    district_code: str | None = Field(default=None, description="绑定的区县；空为面向全部区县")


class UserAdmin(UserRecord):
    """A user as the administrator sees it: with its district and whether the account is in use."""

    active: bool = True


class UserUpdate(BaseModel):
    """What an administrator may change: disable/enable the account, set a new password."""

    model_config = ConfigDict(extra="forbid")
    active: bool | None = Field(default=None, description="false 停用，true 启用；两者都使此前"
                                "签发的令牌和会话永久失效（启用后须重新登录）")
    password: str | None = Field(default=None, min_length=8, max_length=256,
                                 description="新密码（此前签发的令牌和会话随即失效）")
    district_code: DistrictCode | None = Field(
        default=None, description="绑定到该区县；null 解除绑定（面向全部区县）；不给则不变。"
        "改变后该用户此前的令牌和会话随即失效")


class SquadPublic(BaseModel):
    id: str
    name: str
    street: str = ""
    communities: list[str] = []
    teams: list[Any] = []


class Geometry(BaseModel):
    type: str
    coordinates: Any


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str | int | None = None
    geometry: Geometry | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    numberMatched: int | None = None  # noqa: N815 (OGC API – Features member names)
    numberReturned: int | None = None  # noqa: N815
    links: list[dict[str, Any]] = []


class CaseCreate(BaseModel):
    """A case reported through the API (one row of the case table)."""

    model_config = ConfigDict(extra="forbid")
    case_id: str | None = Field(default=None, max_length=64,
                                description="留空则自动生成（XC + 日期 + 随机码）")
    category: str = Field(min_length=1, max_length=64, description="5 位代码或中文名称")
    reported_at: datetime | None = Field(default=None, description="缺省为现在；不带时区按部署时区")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coords: str = Field(default="wgs84", max_length=32,
                        description="wgs84、cgcs2000、gcj02、bd09 或 EPSG:编号")
    description: str = Field(default="", max_length=4000)
    address: str = Field(default="", max_length=500)
    source: str = Field(default="", max_length=64)


class AssigneeIn(BaseModel):
    """Whom a case step hands the case to: a team or officer of the case's squad (by id), or a
    partner unit (市政, 园林, 环卫, 物业, 网格员: ``geo.labels.PARTNER_UNITS``)."""

    model_config = ConfigDict(extra="forbid")
    kind: AssigneeKind = Field(description="team 巡查组、officer 队员、unit 协作单位")
    id: Line = Field(min_length=1, max_length=64, description="巡查组编号、队员编号（或用户名）"
                     "或协作单位名称")


class TransitionCreate(BaseModel):
    """A status change of a case, with a note (required for 作废 and 退回处置) and an assignee."""

    model_config = ConfigDict(extra="forbid")
    to_status: Status
    note: FreeText = Field(default="", max_length=2000,
                           description="说明；作废和退回处置（核查 → 处置）必须填写理由")
    assignee: AssigneeIn | None = Field(default=None, description="承办：巡查组、队员或协作单位")


class CaseEventPublic(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    note: str
    assignee: dict[str, str] | None = None
    photos: list[dict[str, Any]] = []


class ImportReportPublic(BaseModel):
    """What an import stored, kept and rejected (``dry_run``: nothing was stored)."""

    batch_id: int
    n_rows: int
    inserted: int
    updated: int
    rejected: int
    problems: list[dict[str, Any]]
    unchanged: int = 0
    dry_run: bool = False
    mapping: list[str] = []
    notes: list[str] = []
    status_changes: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    located: list[dict[str, Any]] = []


class WorkLogCreate(BaseModel):
    """One entry of the 城管进社区工作日志: when, where, what problem, what was done, outcome."""

    model_config = ConfigDict(extra="forbid")
    at: datetime = Field(description="时间；不带时区按部署时区")
    place: FreeText = Field(default="", max_length=500, description="地点（网页表单必填）")
    problem: Filled = Field(default="", max_length=4000, validate_default=True,
                            description="发现问题（必填）")
    action: FreeText = Field(default="", max_length=4000, description="处置情况（网页表单必填）")
    outcome: Outcome | None = Field(default=None, description="接待结果")
    squad_id: Line | None = Field(default=None, max_length=32,
                                  description="中队；中队用户可省略（即本中队）")
    community_code: Line | None = Field(default=None, max_length=16)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    case_id: CaseRef = Field(default=None, max_length=64,
                             description="关联案件编号（按案件编号规则规范化）")
    case_ids: list[LinkedCase] = Field(default_factory=list, max_length=20,
                                       description="关联案件编号（可多个；case_id 并入其中）")
    station_code: Line | None = Field(default=None, max_length=32, description="社区工作站")
    team_id: Line | None = Field(default=None, max_length=64, description="队伍（巡查组）")
    photo_count: int = Field(default=0, ge=0, le=999, description="照片张数")


class WorkLogUpdate(BaseModel):
    """A correction of a work-log entry: only the fields given change (``null`` clears the
    outcome, community, position or case). The squad and the author never change."""

    model_config = ConfigDict(extra="forbid")
    at: datetime | None = Field(default=None, description="时间；不带时区按部署时区")
    place: FreeText | None = Field(default=None, max_length=500)
    problem: Filled | None = Field(default=None, max_length=4000)
    action: FreeText | None = Field(default=None, max_length=4000)
    outcome: Outcome | None = Field(default=None, description="接待结果")
    community_code: Line | None = Field(default=None, max_length=16)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    case_id: CaseRef = Field(default=None, max_length=64)
    case_ids: list[LinkedCase] | None = Field(default=None, max_length=20)
    station_code: Line | None = Field(default=None, max_length=32)
    team_id: Line | None = Field(default=None, max_length=64)
    photo_count: int | None = Field(default=None, ge=0, le=999)


class WorkLogVoid(BaseModel):
    """Void (作废) a work-log entry: it stays in the log, marked with the reason."""

    model_config = ConfigDict(extra="forbid")
    reason: Filled = Field(default="", max_length=500, validate_default=True,
                           description="作废原因（必填）")


class WorkLogPublic(BaseModel):
    id: int
    squad_id: str
    community_code: str | None
    author: str
    at: datetime
    place: str
    lon: float | None
    lat: float | None
    problem: str
    action: str
    outcome: str
    case_id: str | None
    created_at: datetime
    case_ids: list[str] = []
    station_code: str | None = None
    team_id: str | None = None
    photo_count: int = 0
    voided: bool = False
    voided_at: datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None


class WorkLogPage(BaseModel):
    total: int
    items: list[WorkLogPublic]


class ScenarioCreate(BaseModel):
    """Parameters of a siting scenario."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=128, description="方案名称")
    model: Literal["mclp", "pmedian", "lscp"] = "mclp"
    sites: int = Field(default=5, ge=1, le=30, description="疏导点个数（lscp 忽略）")
    radius_m: float = Field(default=500, ge=50, le=3000, description="步行覆盖半径（米）")
    squads: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=20, description="只考虑这些中队的辖区；缺省全区")
    days: int = Field(default=365, ge=7, le=3650, description="使用最近多少天的摊贩类案件")
    spacing_m: float = Field(default=150, ge=50, le=1000, description="候选点网格间距（米）")


def _two_counts(value: list[int] | None) -> list[int] | None:
    if value is not None and len(set(value)) != len(value):
        raise ValueError("两个点数相同，无从比较；请填两个不同的点数，如 3 和 5。")
    return value


SiteCount = Annotated[int, Field(ge=1, le=30)]


class SitingJobCreate(ScenarioCreate):
    """Parameters of a siting job: one scenario, or with ``compare_sites`` one scenario per
    number of points (e.g. 3 and 5), computed with the same parameters and shown side by side."""

    compare_sites: Annotated[list[SiteCount] | None, AfterValidator(_two_counts)] = Field(
        default=None, min_length=2, max_length=2,
        description="同时计算两种点数并并排比较（如 [3, 5]；此时忽略 sites，集合覆盖模型不适用）")


SitingJobStatus = Literal["queued", "running", "done", "failed"]


class SitingJobPublic(BaseModel):
    """A siting job as ``GET /api/siting/jobs/{id}`` shows it."""

    id: int
    status: SitingJobStatus = Field(description="queued 排队 / running 计算中 / done 完成 / failed 失败")
    status_label: str = Field(description="状态的中文名：排队、计算中、完成、失败")
    progress: float = Field(description="完成比例 0–1（按计算步骤估计）")
    phase: str = Field(description="当前步骤（中文）；失败时是失败前的最后一步")
    created_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    scenario_id: int | None = Field(default=None, description="完成后：（第一个）选址方案编号")
    scenario_ids: list[int] = Field(default_factory=list, description="完成后：全部方案编号")
    result_url: str | None = Field(default=None, description="完成后：查看结果的页面")
    error: str | None = Field(default=None, description="失败时：原因（中文）")
    params: dict[str, Any]
