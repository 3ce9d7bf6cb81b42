"""What a case step carries besides its status: the assignee and the photos; and the history.

**Assignees** (:data:`geo.labels.ASSIGNEE_KINDS`): one of the case's squad's patrol teams (by
team id, from the squad data), one of its officers (a staff id of the squad's 城管队员, or the
username of an active officer or squad leader account of the squad), or a partner unit
(:data:`geo.labels.PARTNER_UNITS`). Another squad's team or officer is refused like an unknown
one: the message never says that it exists elsewhere.

**Photos** are kept in the database (table ``case_photos``, the bytes in a binary column): the
same code on SQLite and PostGIS, written in the transaction of the step they belong to, backed up
and deleted with the case, and served only through :func:`photo_bytes`, which checks the caller
may see the case. Each photo is at most ``settings.photo_max_mb`` MiB and must be a JPEG, PNG or
WebP *by its bytes* (the client's file name and content type are ignored); the type stored and
served is the one the bytes show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.cases import visible
from geo.labels import ASSIGNEE_KINDS, PARTNER_UNITS
from service.errors import PayloadTooLarge
from service.models import CaseEvent, CasePhoto, Squad, User
from service.schemas import AssigneeIn
from service.workflow import FieldError, action_label

MAX_PHOTOS = 6
"""Most photos one step may carry."""
PHOTO_TYPES: dict[str, str] = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
"""The photo types accepted (content type → name)."""
_OFFICER_ROLES = ("officer", "squad_leader")


@dataclass(frozen=True)
class Photo:
    """A checked photo, ready to store: its bytes, the type its bytes show, and its digest."""

    data: bytes
    content_type: str
    sha256: str


def sniff(data: bytes) -> str | None:
    """The content type shown by the first bytes (JPEG, PNG, WebP), or ``None``."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_photo(name: str, data: bytes, *, max_mb: int) -> Photo:
    """``data`` as a :class:`Photo`.

    Raises
    ------
    PayloadTooLarge
        More than ``max_mb`` MiB (413).
    FieldError
        Empty, or not a JPEG, PNG or WebP by its bytes (422).
    """
    label = visible(name or "照片", limit=60)
    if len(data) > max_mb * 1024 * 1024:
        raise PayloadTooLarge(f"照片「{label}」超过 {max_mb} MB；请压缩或缩小后重试。")
    kind = sniff(data)
    if not data or kind is None:
        raise FieldError("photos", f"「{label}」不是 JPEG、PNG 或 WebP 照片；请选择手机拍的照片"
                         "（其他格式请先转换）。")
    return Photo(data=data, content_type=kind, sha256=hashlib.sha256(data).hexdigest())


def check_count(n: int) -> None:
    """Refuse more than :data:`MAX_PHOTOS` photos in one step (422)."""
    if n > MAX_PHOTOS:
        raise FieldError("photos", f"一次最多上传 {MAX_PHOTOS} 张照片；请分几次上传。")


def add_photos(session: Session, case_pk: int, event_id: int | None, photos: list[Photo], *,
               actor: str) -> None:
    """Store ``photos`` with the case (and the step ``event_id``) in ``session``'s transaction."""
    for p in photos:
        session.add(CasePhoto(case_pk=case_pk, event_id=event_id, content_type=p.content_type,
                              size=len(p.data), sha256=p.sha256, data=p.data, uploaded_by=actor))


def _squad_data(session: Session, squad_id: str | None) -> dict[str, Any]:
    squad = session.get(Squad, squad_id) if squad_id else None
    return dict(squad.data or {}) if squad is not None else {}


def assignee_options(session: Session, squad_id: str | None) -> list[dict[str, str]]:
    """Every assignee a step of a case in ``squad_id`` may name: ``kind``, ``kind_name``, ``id``,
    ``name`` (teams, then officers, then partner units)."""
    data = _squad_data(session, squad_id)
    out = [{"kind": "team", "id": str(t.get("id")), "name": str(t.get("name") or t.get("id"))}
           for t in data.get("teams", []) if t.get("id")]
    seen: set[str] = set()
    for s in data.get("staff", []):
        if s.get("role") == "城管队员" and s.get("id"):
            seen.add(str(s["id"]))
            out.append({"kind": "officer", "id": str(s["id"]), "name": str(s.get("name") or s["id"])})
    if squad_id:
        users = session.scalars(select(User.username).where(
            User.squad_id == squad_id, User.active.is_(True), User.role.in_(_OFFICER_ROLES))
            .order_by(User.username)).all()
        out += [{"kind": "officer", "id": u, "name": u} for u in users if u not in seen]
    out += [{"kind": "unit", "id": u, "name": u} for u in PARTNER_UNITS]
    return [{**o, "kind_name": ASSIGNEE_KINDS[o["kind"]]} for o in out]


def resolve_assignee(session: Session, squad_id: str | None,
                     assignee: AssigneeIn) -> tuple[str, str, str]:
    """``(kind, id, name)`` of ``assignee`` for a case of ``squad_id``; :class:`FieldError` (422)
    when it is not one of :func:`assignee_options` (another squad's team or officer included)."""
    if assignee.kind == "unit":
        if assignee.id not in PARTNER_UNITS:
            raise FieldError("assignee.id", f"没有协作单位「{visible(assignee.id, limit=40)}」；"
                             f"可选：{'、'.join(PARTNER_UNITS)}。", value=assignee.id)
        return "unit", assignee.id, assignee.id
    for o in assignee_options(session, squad_id):
        if o["kind"] == assignee.kind and o["id"] == assignee.id:
            return o["kind"], o["id"], o["name"]
    what = ASSIGNEE_KINDS[assignee.kind]
    raise FieldError("assignee.id", f"本中队没有编号为「{visible(assignee.id, limit=40)}」的"
                     f"{what}；请从承办列表中选择。", value=assignee.id)


def assignee_dict(kind: str | None, aid: str | None, name: str | None) -> dict[str, str] | None:
    """The public form of an assignee (``None`` when there is none)."""
    if not kind or not aid:
        return None
    return {"kind": kind, "kind_name": ASSIGNEE_KINDS.get(kind, kind), "id": aid,
            "name": name or aid}


def photo_url(case_id: str, photo_id: int) -> str:
    """Where a photo of a case is served (:func:`photo_bytes`)."""
    from urllib.parse import quote

    return f"/api/cases/{quote(case_id, safe='')}/photos/{photo_id}"


def history(session: Session, case_pk: int, case_id: str, tz: str) -> list[dict[str, Any]]:
    """The steps of a case, oldest first: ``id``, ``from_status``, ``to_status``, ``action``
    (the button's words), ``at`` (ISO, deployment zone), ``actor``, ``note``, ``assignee`` and
    ``photos`` (``id``, ``url``, ``content_type``, ``size``); photos added without a step come
    last, in a step of their own with ``to_status`` ``None``."""
    zone = ZoneInfo(tz)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_pk == case_pk)
                             .order_by(CaseEvent.at, CaseEvent.id)).all()
    rows = session.execute(select(CasePhoto.id, CasePhoto.event_id, CasePhoto.content_type,
                                  CasePhoto.size).where(CasePhoto.case_pk == case_pk)
                           .order_by(CasePhoto.id)).all()
    photos: dict[int | None, list[dict[str, Any]]] = {}
    for pid, eid, ctype, size in rows:
        photos.setdefault(eid, []).append({"id": pid, "url": photo_url(case_id, pid),
                                           "content_type": ctype, "size": size})
    out = [{"id": e.id, "from_status": e.from_status, "to_status": e.to_status,
            "action": action_label(e.from_status or "", e.to_status) if e.from_status else "上报",
            "at": e.at.astimezone(zone).isoformat(), "actor": e.actor, "note": e.note,
            "assignee": assignee_dict(e.assignee_kind, e.assignee_id, e.assignee_name),
            "photos": photos.get(e.id, [])} for e in events]
    known = {e.id for e in events}
    loose = [p for eid, ps in photos.items() if eid not in known for p in ps]
    if loose:
        out.append({"id": None, "from_status": None, "to_status": None, "action": "照片",
                    "at": None, "actor": "", "note": "", "assignee": None, "photos": loose})
    return out


def photo_of_case(session: Session, case_pk: int, photo_id: int) -> CasePhoto | None:
    """The photo ``photo_id`` if it belongs to the case ``case_pk``."""
    return session.scalar(select(CasePhoto).where(CasePhoto.id == photo_id,
                                                  CasePhoto.case_pk == case_pk))
