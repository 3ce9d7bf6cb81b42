"""Helpers for the page, plan, layer and browser tests: an app with the page/plan/map/layer
routers on a fresh SQLite database, users per role and a few days of cases built in code.

The cases: a cluster of 30 stall cases (占道经营) in one 书院 community over the last three weeks
(enough for a hotspot) over 60 closed background cases, a few other open cases, one of them with the description
``<script>alert(1)</script>`` (case ``SYX``), and six cases in 新华.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from argon2 import PasswordHasher
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

import service.auth
from service.app import ROUTERS, create_app
from service.auth import COOKIE_NAME, Principal, create_token, create_user, load_principal
from service.importer import import_table
from service.settings import Settings
from service.storage import Storage

service.auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

SECRET = "test-secret-key-for-xuncha-page-tests-0123456789"
PASSWORD = "correct-horse-42"
XSS = "<script>alert(1)</script>"
TZ = "Asia/Shanghai"
MY_ROUTERS = ("pages", "plans", "maps", "hotspots", "forecast", "siting")
USERS = {  # username: (role, squad)
    "admin": ("admin", None),
    "planner": ("planner", None),
    "leader_sy": ("squad_leader", "shuyuan"),
    "officer_sy": ("officer", "shuyuan"),
    "leader_xh": ("squad_leader", "xinhua"),
}


@dataclass
class Site:
    """An app on a seeded database."""

    app: FastAPI
    storage: Storage
    principals: dict[str, Principal] = field(default_factory=dict)
    today: str = ""

    def auth(self, username: str) -> dict[str, str]:
        """``Authorization`` header for ``username``: a token at the user's current token version
        (a test that revoked the user's tokens gets a fresh one, like signing in again)."""
        user = load_principal(self.storage, username) or self.principals[username]
        token = create_token(user, key=SECRET, ttl_minutes=60)
        return {"Authorization": f"Bearer {token}"}


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BrowserOrigin:
    """ASGI wrapper that adds the ``Origin`` a browser sends with a form it posts from one of the
    service's own pages, which ``TestClient`` leaves out.

    Only a cookie-carrying unsafe request with neither ``Origin`` nor ``Referer`` gets one (its own
    ``scheme://host``); a test that sends either header, or none with a bearer token, is passed
    through unchanged, so the cross-site refusals stay tested. ``tests/security`` tests the
    service without this wrapper (a cookie write with neither header is refused there).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _UNSAFE:
            headers = dict(scope["headers"])
            cookie = headers.get(b"cookie", b"")
            if (COOKIE_NAME.encode() + b"=" in cookie and b"origin" not in headers
                    and b"referer" not in headers and b"authorization" not in headers):
                host = headers.get(b"host", b"testserver")
                origin = scope.get("scheme", "http").encode() + b"://" + host
                scope = {**scope, "headers": [*scope["headers"], (b"origin", origin)]}
        await self.app(scope, receive, send)


def make_app(url: str, **settings: Any) -> tuple[FastAPI, Storage]:
    """The service with this helper's routers included (whether or not ROUTERS lists them);
    ``settings`` are further :class:`Settings` fields (e.g. ``basemap="none"``). Cookie form posts
    get the ``Origin`` a browser would send (:class:`BrowserOrigin`)."""
    import importlib

    app = create_app(Settings(database_url=url, secret_key=SECRET, **settings))
    for name in MY_ROUTERS:
        if name not in ROUTERS:
            app.include_router(importlib.import_module(f"service.routers.{name}").router)
    app.add_middleware(BrowserOrigin)
    return app, app.state.storage


def _point(storage: Storage, squad: str, k: int) -> tuple[float, float]:
    comm = storage.communities(squads=(squad,))
    p = comm.iloc[k % len(comm)].geometry.representative_point()
    return p.x, p.y


def seed_cases(storage: Storage, now: datetime) -> pd.DataFrame:
    """Import the test cases (see the module docstring); returns the table."""
    rng = np.random.default_rng(7)
    rows: list[dict[str, Any]] = []

    # The closed history (the market and the background) keeps the times of day it would have at
    # 16:00, whenever the tests run: its hours decide the stall stops' time windows and so which
    # shift (team) gets them; open cases keep their age relative to now (deadlines, overdue).
    four_pm = now.replace(hour=16, minute=0, second=0, microsecond=0)

    def add(cid: str, squad: str, k: int, cat: str, days_ago: float, desc: str,
            jitter_m: float = 0.0, status: str = "") -> None:
        x, y = _point(storage, squad, k)
        dx, dy = rng.normal(0, jitter_m, 2) / 111_000 if jitter_m else (0.0, 0.0)
        when = now - timedelta(days=days_ago)
        if status == "结案":
            when = datetime.combine(when.date(), (four_pm - timedelta(days=days_ago)).time(),
                                    when.tzinfo)
        at = when.strftime("%Y-%m-%d %H:%M")
        rows.append({"case_id": cid, "category": cat, "reported_at": at, "lon": f"{x + dx:.6f}",
                     "lat": f"{y + dy:.6f}", "description": desc, "address": f"{cid} 门口",
                     "status": status or "上报"})

    for i in range(30):
        add(f"SYS{i:02d}", "shuyuan", 0, "09006", 1 + (i % 20) + 0.3, "早市摊贩占道", 6.0,
            status="结案")
    for i in range(60):  # background: the hotspot must be denser than the area's mean
        add(f"SYB{i:02d}", "shuyuan", i, ("06036", "06045", "09001")[i % 3],
            1 + (i % 25) + 0.5, "背景案件", 200.0, status="结案")
    add("SYX", "shuyuan", 1, "06036", 3.2, XSS)
    add("SY1", "shuyuan", 2, "06028", 2.1, "冰柜噪声扰民")
    add("SY2", "shuyuan", 3, "06001", 6.0, "私搭雨棚", status="立案")
    for i in range(6):
        add(f"XH{i}", "xinhua", i, "06045", 2 + i, "毁绿种菜")
    table = pd.DataFrame(rows)
    closed = table["status"] == "结案"
    table.loc[closed, "closed_at"] = table.loc[closed, "reported_at"]
    report = import_table(storage, table, filename="seed.csv", actor="seed")
    assert report.inserted == len(table) and not report.problems, report.as_dict()
    return table


def build_site(url: str, **settings: Any) -> Site:
    """App, storage, users and cases (``today`` = the plan day used by the tests)."""
    app, storage = make_app(url, **settings)
    storage.init()
    principals = {name: create_user(storage, name, PASSWORD, role=role, squad=squad)
                  for name, (role, squad) in USERS.items()}
    now = datetime.now(ZoneInfo(TZ))
    seed_cases(storage, now)
    return Site(app, storage, principals, today=now.date().isoformat())


def open_site(tmp_path_factory: Any, name: str) -> Any:
    """A module-scoped site over HTTP: yields ``(site, client)``, disposes the engine after."""
    from fastapi.testclient import TestClient

    folder = tmp_path_factory.mktemp(name)
    s = build_site(f"sqlite:///{folder / (name + '.db')}")
    with TestClient(s.app) as client:
        yield s, client
    s.storage.engine.dispose()


def get_as(site: tuple[Site, Any], path: str, user: str, **kw: Any) -> Any:
    """GET ``path`` as ``user`` (bearer token of that test user)."""
    s, client = site
    return client.get(path, headers=s.auth(user), **kw)
