"""Helpers for the API tests: an app on a fresh database (SQLite and PostGIS) with users and cases.

Module-scoped (one database per test module and backend) to keep the suite fast; tests that change
cases use their own case ids. Imported by the API tests (``tests/service/api/``), ``tests/service/test_auth.py`` and the fuzz run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import service.auth
from service.app import create_app
from service.auth import Principal, create_token, create_user, load_principal
from service.importer import import_table
from service.settings import Settings
from service.storage import Storage

# cheap Argon2 parameters keep the tests fast (the hash format and verification are unchanged)
service.auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

SECRET = "test-secret-key-for-xuncha-api-tests-0123456789"
PASSWORD = "correct-horse-42"
POSTGIS_URL = os.environ.get("XUNCHA_TEST_POSTGIS_URL", "")
BACKENDS = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
USERS = {  # username: (role, squad)
    "admin": ("admin", None),
    "planner": ("planner", None),
    "leader_sy": ("squad_leader", "shuyuan"),
    "officer_sy": ("officer", "shuyuan"),
    "leader_xh": ("squad_leader", "xinhua"),
}
XSS = "<script>alert(1)</script>"


@dataclass
class Api:
    """A test client on a seeded database, with bearer headers per test user."""

    client: TestClient
    storage: Storage
    principals: dict[str, Principal] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)

    def auth(self, username: str) -> dict[str, str]:
        """``Authorization`` header for ``username``: a token at the user's current token version
        (a test that revoked the user's tokens gets a fresh one, like signing in again)."""
        user = load_principal(self.storage, username) or self.principals[username]
        token = create_token(user, key=SECRET, ttl_minutes=60)
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, user: str | None = None, **kw: Any) -> Any:
        return self.client.get(path, headers=self.auth(user) if user else {}, **kw)

    def post(self, path: str, user: str | None = None, **kw: Any) -> Any:
        return self.client.post(path, headers=self.auth(user) if user else {}, **kw)


def point_in(storage: Storage, squad: str, k: int = 0) -> tuple[str, float, float]:
    """The code of the ``k``-th community of ``squad`` and a point inside it."""
    comm = storage.communities(squads=(squad,))
    row = comm.iloc[k % len(comm)]
    p = row.geometry.representative_point()
    return str(row["code"]), p.x, p.y


def seed_cases(storage: Storage) -> dict[str, dict[str, Any]]:
    """Seven cases: SY1–SY4 in 书院 (shuyuan), XH1–XH3 in 新华 (xinhua); SY2 has a script tag."""
    spec = [("SY1", "shuyuan", 0, "占道经营", "2026-05-02 07:10", "摊贩占道"),
            ("SY2", "shuyuan", 1, "06036", "2026-05-10 09:00", XSS),
            ("SY3", "shuyuan", 2, "噪声扰民", "2026-04-20 22:00", "冰柜噪声"),
            ("SY4", "shuyuan", 0, "09006", "2026-06-01 08:00", "早市"),
            ("XH1", "xinhua", 0, "占道经营", "2026-05-03 07:30", "游商"),
            ("XH2", "xinhua", 1, "06045", "2026-05-15 10:00", "毁绿种菜"),
            ("XH3", "xinhua", 2, "06001", "2026-05-20 15:00", "私搭乱建")]
    rows, out = [], {}
    for cid, squad, k, cat, at, desc in spec:
        code, x, y = point_in(storage, squad, k)
        rows.append({"case_id": cid, "category": cat, "reported_at": at, "lon": repr(x),
                     "lat": repr(y), "description": desc})
        out[cid] = {"squad": squad, "community_code": code, "lon": x, "lat": y}
    report = import_table(storage, pd.DataFrame(rows), filename="seed.csv", actor="seed")
    assert report.inserted == len(rows) and not report.problems, report.as_dict()
    return out


def stall_cases(storage: Storage, n: int, *, prefix: str, reported_at: Callable[[int], str],
                lon_step: float = 0.0, **extra: Any) -> pd.DataFrame:
    """``n`` simulated 占道经营 cases, one per community in turn, as an import table.

    Case ``i`` is ``{prefix}{i:04d}``, reported at ``reported_at(i)``, at its community's
    representative point moved ``(i % 7) * lon_step`` degrees east; ``extra`` adds columns.
    """
    comm = storage.communities()
    rows = []
    for i in range(n):
        p = comm.geometry.iat[i % len(comm)].representative_point()
        rows.append({"case_id": f"{prefix}{i:04d}", "category": "占道经营",
                     "reported_at": reported_at(i), "lon": repr(p.x + (i % 7) * lon_step),
                     "lat": repr(p.y), "description": f"模拟数据 {i}", **extra})
    return pd.DataFrame(rows)


def fresh_postgis() -> Iterator[str]:
    """A new, empty PostGIS database URL, dropped afterwards."""
    if not POSTGIS_URL:
        pytest.skip("XUNCHA_TEST_POSTGIS_URL not set (.ci/run sets it up with a real PostGIS)")
    admin_url = make_url(POSTGIS_URL)
    name = f"xuncha_api_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def database_url(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database URL for ``backend`` ("sqlite" under ``folder``, or "postgis")."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'api.db'}"
    else:
        yield from fresh_postgis()


def build_api(url: str, *, seed: bool = True, **settings: Any) -> Iterator[Api]:
    """An :class:`Api` on ``url``: users created, cases seeded, client running the lifespan."""
    cfg = Settings(database_url=url, secret_key=SECRET, **settings)
    app = create_app(cfg)
    storage: Storage = app.state.storage
    storage.init()
    principals = {name: create_user(storage, name, PASSWORD, role=role, squad=squad)
                  for name, (role, squad) in USERS.items()}
    cases = seed_cases(storage) if seed else {}
    with TestClient(app) as client:
        yield Api(client, storage, principals, cases)
    storage.engine.dispose()
