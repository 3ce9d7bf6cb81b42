"""Template contexts of the web pages: the squad dashboard, the planner and the admin page.

Values are handed to Jinja2 templates with autoescaping on, so every string from data is escaped
where it is shown; nothing here builds HTML.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select

from geo.errors import InputError
from service import pages_data
from service.auth import Principal
from service.models import ImportBatch, User, WorkLogEntry
from service.settings import Settings
from service.storage import Storage
from service.workflow import ROLE_NAMES
from service.worklogs import may_change

MAX_LOGS = 30
OUTCOMES = ("当场办理", "转告受理", "代行受理", "告知路径", "耐心解释")


def _hm(text: str | None) -> str:
    return datetime.fromisoformat(text).strftime("%H:%M") if text else ""


def team_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per team route: name, shift, number of stops, distance and the stops."""
    rows = []
    for r in plan.get("routes", []):
        shift = r.get("shift") or [None, None]
        rows.append({
            "team": r.get("team"), "team_name": r.get("team_name") or r.get("team"),
            "members": "、".join(map(str, r.get("members", []))),
            "shift": f"{_hm(shift[0])}–{_hm(shift[1])}", "n_visits": len(r.get("visits", [])),
            "distance_km": round(float(r.get("distance_m") or 0) / 1000, 1),
            "stops": [{"seq": v.get("seq"), "arrive": _hm(v.get("arrive")), "kind": v.get("kind"),
                       "community": v.get("community"), "what": v.get("what")}
                      for v in r.get("visits", [])]})
    return rows


def hotspot_rows(storage: Storage, settings: Settings, squad_id: str, day: date,
                 n: int = 15) -> list[dict[str, Any]]:
    """The squad's top hotspots of the 90 days before ``day`` (empty when too few cases)."""
    try:
        hs = pages_data.hotspots(storage, settings, (squad_id,), at=day)
    except InputError:
        return []
    return [{"hotspot_id": r.get("hotspot_id"),
             "category": r.get("dominant_category_name") or r.get("category") or "",
             "community": r.get("community") or "", "case_count": r.get("case_count"),
             "peak_hours": r.get("peak_hours") or "",
             "gi": f"{int(r['gi_confidence'])}%" if pd.notna(r.get("gi_confidence"))
             and r.get("gi_confidence") else "不显著"}
            for _, r in hs.head(n).iterrows()]


def work_logs(storage: Storage, squad_id: str, tz: str,
              user: Principal | None = None) -> list[dict[str, Any]]:
    """The squad's latest work-log entries (``may_edit``: whether ``user`` may correct one)."""
    zone = ZoneInfo(tz)
    with storage.begin() as session:
        rows = session.scalars(select(WorkLogEntry).where(WorkLogEntry.squad_id == squad_id)
                               .order_by(WorkLogEntry.at.desc(), WorkLogEntry.id.desc())
                               .limit(MAX_LOGS)).all()
        return [{"id": e.id, "at": e.at.astimezone(zone).strftime("%m-%d %H:%M"),
                 "at_input": e.at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
                 "author": e.author, "place": e.place, "problem": e.problem, "action": e.action,
                 "outcome": e.outcome, "case_id": e.case_id or "",
                 "may_edit": user is not None and may_change(user, e)} for e in rows]


def dashboard(storage: Storage, settings: Settings, user: Principal, squad: dict[str, Any],
              day: date) -> dict[str, Any]:
    """Everything the squad dashboard shows, except the case list (one page of it, with its
    filters: :func:`service.case_list.list_context`)."""
    plan = pages_data.get_plan(storage, settings, squad, day, actor=user.username)
    sid = squad["id"]
    return {
        "squad": squad, "day": day.isoformat(), "plan": plan, "teams": team_rows(plan),
        "all_teams": [{"id": t.get("id"), "name": t.get("name") or t.get("id")}
                      for t in squad.get("teams", [])],
        "unavailable": set(plan.get("unavailable_teams", [])),
        "hotspots": hotspot_rows(storage, settings, sid, day),
        "logs": work_logs(storage, sid, settings.timezone, user),
        "communities": storage.communities(squads=(sid,))[["code", "name"]].to_dict("records"),
        "outcomes": OUTCOMES, "may_replan": user.role in ("admin", "planner", "squad_leader"),
        "may_log": user.role in ("admin", "squad_leader", "officer"),
        "now": datetime.now(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M"),
        "data_label": pages_data.data_label(storage, (sid,)),
    }


def local_time(text: str | None, tz: str) -> str:
    """An ISO time (UTC when it has no zone, as SQLite returns it) as ``YYYY-MM-DD HH:MM`` in
    the deployment zone; ``""`` when missing or unreadable."""
    if not text:
        return ""
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        return ""
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return str(ts.tz_convert(tz).strftime("%Y-%m-%d %H:%M"))


def scenario_rows(scenarios: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """Stored siting scenarios with ``created`` (local time) for the planner's table."""
    return [{**s, "created": local_time(s.get("created_at"), tz)} for s in scenarios]


def admin_page(storage: Storage, tz: str) -> dict[str, Any]:
    """Users and import batches (with their per-row reports)."""
    zone = ZoneInfo(tz)
    with storage.begin() as session:
        users = [{"username": u.username, "role": ROLE_NAMES.get(u.role, u.role),
                  "squad": u.squad_id or "", "district": u.district_code or "",
                  "active": bool(u.active)}
                 for u in session.scalars(select(User).order_by(User.username)).all()]
        batches = [{"id": b.id, "filename": b.filename, "coords": b.coords,
                    "at": b.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    "by": b.created_by, "rows": b.n_rows, "inserted": b.n_inserted,
                    "updated": b.n_updated, "rejected": b.n_rejected,
                    "problems": list(b.report or [])[:200]}
                   for b in session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc())
                                            .limit(30)).all()]
    return {"users": users, "batches": batches, "squads": storage.squads(),
            "roles": ROLE_NAMES}
