"""Where the start-up preparation runs (service.plan_prep.start_preparing): in a separate process
of lower CPU priority that opens the same database (so the server's requests never wait behind
its CPU work for the GIL), stopped by the server and leaving no plan job held; in a thread for a
database in memory. The loop itself: the whole window first, the lighter refresh after, and it
ends when the server process is gone."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import psutil
import pytest
from pages_support import Site, build_site
from sqlalchemy import select

from service import plan_prep
from service.models import Plan, PlanJob
from service.storage import Storage


@pytest.fixture
def site(tmp_path: Any) -> Iterator[Site]:
    s = build_site(f"sqlite:///{tmp_path / 'prep.db'}")
    yield s
    s.storage.engine.dispose()


def _prepared_today(storage: Storage, today: date) -> dict[str, str]:
    with storage.begin() as session:
        return {r.squad_id: r.created_by for r in session.scalars(
            select(Plan).where(Plan.plan_date == today))}


def test_a_separate_lower_priority_process_makes_todays_plans_and_stops(site: Site) -> None:
    s = site
    squads = {str(q["id"]) for q in s.storage.squads()}
    today = date.fromisoformat(s.today)
    preparer = plan_prep.start_preparing(s.storage, s.app.state.settings)
    try:
        assert preparer.thread is None and preparer.process is not None
        pid = preparer.process.pid
        assert pid is not None and pid != os.getpid()
        assert psutil.Process(pid).nice() == min(19, os.nice(0) + plan_prep.PREPARE_NICE)
        deadline = time.monotonic() + 600  # an event, not a timing: generous on a loaded machine
        while set(_prepared_today(s.storage, today)) != squads and time.monotonic() < deadline:
            assert preparer.process.is_alive()
            time.sleep(0.5)
        made = _prepared_today(s.storage, today)
        assert set(made) == squads and set(made.values()) == {plan_prep.PREPARED_BY}
    finally:
        preparer.stop()
    assert not preparer.process.is_alive()
    with s.storage.begin() as session:  # SIGTERM ran the finally blocks: no job left held
        owners = list(session.scalars(select(PlanJob.owner)))
    assert not [o for o in owners if o.endswith(f":{pid}")]


def test_a_database_in_memory_is_prepared_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []

    def fake(_storage: Any, _settings: Any, *, warm: bool) -> int:
        calls.append(warm)
        return 0

    monkeypatch.setattr(plan_prep, "prepare_window", fake)
    storage = Storage("sqlite://")
    assert not plan_prep._shareable(storage)
    assert plan_prep._shareable(Storage("sqlite:////tmp/x.db"))
    assert plan_prep._shareable(Storage("postgresql+psycopg://u@h/db"))
    preparer = plan_prep.start_preparing(storage, object(), every_s=3600)  # type: ignore[arg-type]
    assert preparer.process is None and preparer.thread is not None
    preparer.stop()
    preparer.thread.join(10)
    assert not preparer.thread.is_alive() and calls == [True]


def test_the_loop_refreshes_lighter_and_ends_with_the_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    halt = threading.Event()

    def fake(_storage: Any, _settings: Any, *, warm: bool) -> int:
        calls.append(warm)
        if len(calls) == 3:
            halt.set()
        return 0

    monkeypatch.setattr(plan_prep, "prepare_window", fake)
    plan_prep._loop(object(), object(), halt, 0.0)  # type: ignore[arg-type]
    assert calls == [True, False, False]
    calls.clear()
    plan_prep._loop(object(), object(), threading.Event(), 0.0,  # type: ignore[arg-type]
                    alive=lambda: False)  # the server process is gone: nothing more
    assert calls == []
