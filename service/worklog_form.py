"""The dashboard's work-log forms: reading the typed values into the schemas of
:mod:`service.worklogs`, with a Chinese message per field to fix (the routes are in
:mod:`service.routers.pages`)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import ValidationError

from service import worklogs
from service.schemas import WorkLogCreate


def case_list(text: str) -> list[str]:
    """Case ids typed in one box, separated by commas, 、 or spaces."""
    return [t for t in re.split(r"[\s,，、;；]+", text) if t]


def parse_new_entry(squad_id: str, *, at: str, place: str, problem: str, action: str,
                    outcome: str, community_code: str, station_code: str, team_id: str,
                    case_id: str, case_ids: str, photo_count: str
                    ) -> tuple[dict[str, str], WorkLogCreate | None, dict[str, str]]:
    """The log form's values (to show again), the entry to add (None when it cannot be built)
    and the message per field to fix (empty when the entry may be added)."""
    form = {"at": at, "place": place, "problem": problem, "action": action, "outcome": outcome,
            "community_code": community_code, "station_code": station_code, "team_id": team_id,
            "case_ids": " ".join(t for t in (case_id, case_ids) if t), "photo_count": photo_count}
    errors: dict[str, str] = {}
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(at) if at else None
    except ValueError:
        errors["at"] = "时间：格式不对，请用日期时间选择器（如 2026-05-06 07:40）。"
    for name in worklogs.FORM_REQUIRED:
        if not form[name].strip():
            errors[name] = f"{worklogs.FIELD_NAMES[name]}：必填：不能为空，请填写。"
    if photo_count and not photo_count.isdigit():
        errors["photo_count"] = "照片张数：请填写 0 到 999 之间的整数。"
    body: WorkLogCreate | None = None
    try:
        body = WorkLogCreate.model_validate({
            "at": when or datetime.now(), "place": place, "problem": problem, "action": action,
            "outcome": outcome or None, "squad_id": squad_id,
            "community_code": community_code or None, "station_code": station_code or None,
            "team_id": team_id or None, "case_ids": case_list(form["case_ids"]),
            "photo_count": int(photo_count) if photo_count.isdigit() else 0})
    except ValidationError as exc:
        errors = {**worklogs.form_errors(exc), **errors}
    return form, body, errors


def refused_field(msg: str) -> str:
    """The form field a refusal of :func:`service.worklogs.add_log` is about ("" if none)."""
    return next((f for word, f in (("案件", "case_ids"), ("工作站", "station_code"),
                                   ("队伍", "team_id"), ("社区", "community_code"))
                 if word in msg), "")


def update_extra(*, community_code: str | None, station_code: str | None, team_id: str | None,
                 case_ids: str | None, photo_count: str | None) -> dict[str, object]:
    """The optional fields of the 修改 form it sent (an empty list choice clears one)."""
    given = {"community_code": community_code, "station_code": station_code, "team_id": team_id}
    extra: dict[str, object] = {k: v or None for k, v in given.items() if v is not None}
    if case_ids is not None:
        extra["case_ids"], extra["case_id"] = case_list(case_ids), None
    if photo_count is not None:
        extra["photo_count"] = int(photo_count) if photo_count.isdigit() else photo_count
    return extra
