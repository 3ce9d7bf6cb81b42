"""Case workflow rules: allowed status transitions, who may make them, deadlines and overdue flags.

A pure module (no database, no HTTP): the routers call :func:`check_transition` before writing a
:class:`service.models.CaseEvent`. The path is 上报 → 立案 → 派遣 → 处置 → 核查 → 结案, plus
作废 (void) from any state that is not final, and 核查 → 处置 (返工, rework when the field check
finds the problem unresolved). 结案 and 作废 are final.

Who may do what (squad-bound roles only within their own squad, enforced by the caller):

========  =============================================
target    roles
========  =============================================
立案      admin, squad_leader
派遣      admin, squad_leader
处置      admin, squad_leader, officer (核查 → 处置: admin, squad_leader)
核查      admin, squad_leader, officer
结案      admin, squad_leader
作废      admin, squad_leader
========  =============================================

A note is required for 作废 and for sending a case back (核查 → 处置, "退回处置"):
:func:`check_note`. Each step has a button label that says what it does (:func:`action_label`).

Planners read cases but change none. Deadlines are ``reported_at + deadline_hours(category)`` from
the category catalogue (a local working rule; 72 h for unknown categories).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from geo.catalogue import Catalogue, default_catalogue
from geo.errors import InputError, Problem, ValidationError
from geo.labels import CLOSED_STATUSES, STATUSES
from service.errors import ConflictError, PermissionDenied

STATES: tuple[str, ...] = STATUSES
FINAL: frozenset[str] = CLOSED_STATUSES
ROLES: tuple[str, ...] = ("admin", "planner", "squad_leader", "officer")
ROLE_NAMES: dict[str, str] = {"admin": "管理员", "planner": "规划", "squad_leader": "中队长",
                              "officer": "队员"}
"""The Chinese name of each role in :data:`ROLES` (page headers, the admin page)."""
SQUAD_ROLES: frozenset[str] = frozenset({"squad_leader", "officer"})

NEXT: dict[str, tuple[str, ...]] = {
    "上报": ("立案", "作废"),
    "立案": ("派遣", "作废"),
    "派遣": ("处置", "作废"),
    "处置": ("核查", "作废"),
    "核查": ("结案", "处置", "作废"),
    "结案": (),
    "作废": (),
}
"""Allowed next states for each state."""

_LEADERS = frozenset({"admin", "squad_leader"})
_FIELD = frozenset({"admin", "squad_leader", "officer"})
WHO: dict[str, frozenset[str]] = {
    "立案": _LEADERS, "派遣": _LEADERS, "处置": _FIELD, "核查": _FIELD, "结案": _LEADERS,
    "作废": _LEADERS,
}
"""Roles allowed to move a case *into* each state."""


class FieldError(ValidationError):
    """One field of a case step is wrong (422): the message (one line) says how to fix it."""

    def __init__(self, field: str, message: str, *, value: str = "") -> None:
        self.problems = [Problem(row=0, column=field, value=value[:200], message=message)]
        InputError.__init__(self, message)


class TransitionError(ConflictError):
    """The requested status change is not allowed from the case's current status (409)."""


ACTIONS: dict[tuple[str, str], str] = {
    ("上报", "立案"): "立案", ("立案", "派遣"): "派遣", ("派遣", "处置"): "开始处置",
    ("处置", "核查"): "提交核查", ("核查", "结案"): "核查通过，结案", ("核查", "处置"): "退回处置",
}
"""What the button of each step says (every step into 作废 says 作废)."""


def action_label(current: str, target: str) -> str:
    """The button label of the step ``current`` → ``target`` (``退回处置`` for 核查 → 处置)."""
    if target == "作废":
        return "作废"
    return ACTIONS.get((current, target), target)


def note_required(current: str, target: str) -> bool:
    """Whether the step ``current`` → ``target`` needs a note: 作废 and 退回处置 (核查 → 处置)."""
    return target == "作废" or (current == "核查" and target == "处置")


def check_note(current: str, target: str, note: str) -> None:
    """Raise :class:`geo.errors.ValidationError` (422) when the step needs a note and has none.

    Call after :func:`check_transition` (an illegal step is a 409 whatever its note).
    """
    if note_required(current, target) and not note.strip():
        why = "作废的理由" if target == "作废" else "退回处置的理由（核查发现什么没有处理好）"
        raise FieldError("note", f"「{action_label(current, target)}」必须填写说明：请写明{why}。")


def allowed_next(status: str, role: str) -> tuple[str, ...]:
    """The states ``role`` may move a case in ``status`` to (empty for final states)."""
    return tuple(t for t in NEXT.get(status, ()) if _role_may(status, t, role))


def _role_may(current: str, target: str, role: str) -> bool:
    if current == "核查" and target == "处置":
        return role in _LEADERS
    return role in WHO.get(target, frozenset())


def check_transition(current: str, target: str, role: str) -> None:
    """Raise unless ``role`` may move a case from ``current`` to ``target``.

    Raises
    ------
    TransitionError
        ``target`` is unknown or does not follow ``current`` (the message lists what does).
    PermissionDenied
        The transition exists but ``role`` may not make it.
    """
    if target not in STATES:
        raise TransitionError(f"未知的案件状态「{target}」；可用状态：{'、'.join(STATES)}")
    if current in FINAL:
        raise TransitionError(f"案件已{current}，不能再改为「{target}」。")
    if target not in NEXT.get(current, ()):
        options = "、".join(NEXT.get(current, ())) or "无"
        raise TransitionError(f"案件当前状态是「{current}」，不能直接改为「{target}」；"
                              f"下一步只能是：{options}。")
    if not _role_may(current, target, role):
        raise PermissionDenied(f"角色 {role} 无权把案件从「{current}」改为「{target}」。")


def closes(target: str) -> bool:
    """Whether entering ``target`` closes the case (sets ``closed_at``)."""
    return target in FINAL


def deadline(category: str, reported_at: datetime, *, catalogue: Catalogue | None = None
             ) -> datetime:
    """The handling deadline of a case: ``reported_at`` plus the category's deadline hours."""
    cat = catalogue or default_catalogue()
    return reported_at + timedelta(hours=cat.deadline_hours(category))


def is_overdue(status: str, deadline_at: datetime | None, closed_at: datetime | None,
               now: datetime) -> bool:
    """Overdue: past the deadline while open, or closed (结案) after it. Void cases never are."""
    if deadline_at is None or status == "作废":
        return False
    if status in FINAL:
        return closed_at is not None and closed_at > deadline_at
    return now > deadline_at


def overdue_flags(status: pd.Series, deadline_at: pd.Series, closed_at: pd.Series,
                  now: datetime) -> pd.Series:
    """Vectorised :func:`is_overdue` over aligned Series (tz-aware times); aligned to ``status``."""
    now_ts = pd.Timestamp(now)
    open_ = ~status.isin(list(FINAL))
    late_open = open_ & (deadline_at < now_ts)
    late_closed = (status == "结案") & closed_at.notna() & (closed_at > deadline_at)
    out = (late_open | late_closed) & deadline_at.notna()
    return pd.Series(np.asarray(out, dtype=bool), index=status.index, name="overdue")
