"""Shared fixtures: storages on SQLite and on a real PostGIS server, the ../shared folder."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.storage import Storage

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POSTGIS_URL = os.environ.get("XUNCHA_TEST_POSTGIS_URL", "")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder; tests that need it skip where it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared is not present (a user's fresh clone); CI has it")
    return SHARED


def _fresh_postgis_db() -> Iterator[str]:
    admin_url = make_url(POSTGIS_URL)
    name = f"xuncha_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database URL: a SQLite file, and (where configured) a PostGIS database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'xuncha.db'}"
        return
    if not POSTGIS_URL:
        if os.environ.get("XUNCHA_REQUIRE_POSTGIS"):
            pytest.fail("XUNCHA_REQUIRE_POSTGIS is set but XUNCHA_TEST_POSTGIS_URL is not")
        pytest.skip("XUNCHA_TEST_POSTGIS_URL not set (.ci/run sets it up with a real PostGIS)")
    yield from _fresh_postgis_db()


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    """An initialised storage (migrated, seeded with the embedded Xiaonan default)."""
    st = Storage(db_url)
    st.init()
    yield st
    st.engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Skipped tests grouped by reason, one line each (``-ra`` printed one line per test file)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reasons[str(reason).removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped, by reason")
        for reason, n in reasons.most_common():
            terminalreporter.write_line(f"{n:5d} × {reason}")
