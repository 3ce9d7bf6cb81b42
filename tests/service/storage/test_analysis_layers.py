"""Analysis layers computed once per data version and served as stored rows, on both backends.

Two :class:`Storage` objects on one database stand in for two worker processes; the in-process
first level (:data:`service.analysis_layers.CACHE`) is cleared before each "other worker" read,
as another process would not have it. Checked: a layer is computed once and the other worker
reads the stored row (equal to the computed frame, column types included); concurrent requests
that cannot share a thread lock still compute once (the layer's ``plan_jobs`` row); a status
change is a new data version that both workers see at once, and the old version's row is pruned;
new cases show in the other worker's layer at once; the start-up preparation stores the
dashboard layers once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from pages_support import TZ, Site, build_site
from sqlalchemy import select, update

from service import analysis_layers, layer_store, plan_prep
from service.case_ops import transition_case
from service.importer import import_table
from service.models import AnalysisLayer, PlanJob
from service.schemas import TransitionCreate
from service.storage import Storage
from service.workflow import allowed_next


@pytest.fixture
def two(db_url: str) -> Iterator[tuple[Site, Storage]]:
    """The seeded site (worker A) and a second storage on the same database (worker B)."""
    site = build_site(db_url)
    other = Storage(db_url, tz=TZ)
    analysis_layers.CACHE.clear()
    yield site, other
    other.engine.dispose()
    site.storage.engine.dispose()


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
              delay_s: float = 0.0) -> list[int]:
    """Count (and optionally slow down) calls of ``module.name``."""
    calls: list[int] = []
    real = getattr(module, name)

    def wrapped(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        time.sleep(delay_s)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, wrapped)
    return calls


def _hotspots(storage: Storage, site: Site) -> Any:
    return analysis_layers.hotspots(storage, site.app.state.settings, ("shuyuan",))


def _rows(storage: Storage, kind: str) -> list[tuple[str, str]]:
    with storage.begin() as session:
        return [(r.layer_key, r.version) for r in session.execute(
            select(AnalysisLayer.layer_key, AnalysisLayer.version)
            .where(AnalysisLayer.kind == kind))]


def test_a_layer_is_computed_once_and_read_by_the_other_worker(
        two: tuple[Site, Storage], monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.analysis.hotspots as hs

    site, other = two
    calls = _counting(monkeypatch, hs, "find_hotspots")
    first = _hotspots(site.storage, site)
    assert calls == [1] and len(first) >= 1 and int(first["case_count"].max()) >= 25
    assert len(_rows(site.storage, "hotspots")) == 1
    analysis_layers.CACHE.clear()  # worker B has no in-process copy
    read = _hotspots(other, site)
    assert calls == [1]  # not computed again
    pd.testing.assert_frame_equal(pd.DataFrame(first), pd.DataFrame(read), check_exact=True)
    assert read.crs == first.crs and read.attrs["ranking"] == first.attrs["ranking"]
    assert isinstance(read["first_seen"].dtype, pd.DatetimeTZDtype)
    assert isinstance(read["hour_profile"].iloc[0], list)
    # the in-process first level answers the same version without a database read of the row
    monkeypatch.setattr(layer_store, "read_layer", lambda *a, **k: pytest.fail("row read"))
    assert _hotspots(other, site) is _hotspots(other, site)


def test_concurrent_requests_compute_once_across_processes(
        two: tuple[Site, Storage], monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.analysis.significance as sig

    site, other = two
    calls = _counting(monkeypatch, sig, "hotspot_grid", delay_s=0.6)
    # a lock per call: the threads can meet only at the database job row, as two processes do
    monkeypatch.setattr(layer_store, "_lock", lambda *_a: threading.Lock())
    settings = site.app.state.settings
    out: dict[str, Any] = {}

    def ask(name: str, storage: Storage) -> None:
        out[name] = analysis_layers.significance(storage, settings, ("shuyuan",), cell_m=120.0)

    threads = [threading.Thread(target=ask, args=(n, s))
               for n, s in (("a", site.storage), ("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert calls == [1]
    assert len(out["a"]) == len(out["b"]) > 0
    assert len(_rows(site.storage, "gi")) == 1
    with site.storage.begin() as session:  # the job row is gone once the layer is stored
        assert session.scalars(select(PlanJob)).all() == []


def test_a_status_change_is_a_new_version_on_every_worker(
        two: tuple[Site, Storage], monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.analysis.hotspots as hs

    site, other = two
    calls = _counting(monkeypatch, hs, "find_hotspots")
    _hotspots(site.storage, site)
    analysis_layers.CACHE.clear()
    _hotspots(other, site)
    (key, old), = _rows(site.storage, "hotspots")
    leader = site.principals["leader_sy"]
    step = TransitionCreate.model_validate({"to_status": allowed_next("上报", leader.role)[0],
                                            "note": "测试"})
    transition_case(site.storage, "SY1", step, leader)  # worker A
    assert analysis_layers.data_version(other, ("shuyuan",)) != old.split(":")[0]
    _hotspots(other, site)  # worker B, its first level still holding the old version
    assert calls == [1, 1]  # the new version was computed, not the old one served
    analysis_layers.CACHE.clear()
    _hotspots(site.storage, site)  # worker A reads B's row
    assert calls == [1, 1]
    rows = _rows(site.storage, "hotspots")
    assert len(rows) == 1 and rows[0][0] == key and rows[0][1] != old  # old version pruned


def test_new_cases_show_in_the_other_workers_layer_at_once(two: tuple[Site, Storage]) -> None:
    site, other = two
    before = _hotspots(other, site)
    top = before.sort_values("case_count", ascending=False).iloc[0]
    now = datetime.now(ZoneInfo(TZ))
    table = pd.DataFrame([{
        "case_id": f"NEW{i}", "category": "09006", "description": "占道（模拟）",
        "reported_at": (now - timedelta(hours=5 + i)).strftime("%Y-%m-%d %H:%M"),
        "lon": f"{top['center_lon']:.6f}", "lat": f"{top['center_lat']:.6f}",
        "address": "新增案件门口", "status": "上报"} for i in range(12)])
    assert import_table(site.storage, table, filename="new.csv", actor="test").inserted == 12
    after = _hotspots(other, site)  # no cache clearing: the version key alone decides
    grown = after.sort_values("case_count", ascending=False).iloc[0]
    assert int(grown["case_count"]) > int(top["case_count"])
    assert int(after["case_count"].sum()) > int(before["case_count"].sum())


def test_old_rows_are_pruned_and_preparation_stores_dashboard_layers(
        two: tuple[Site, Storage]) -> None:
    site, other = two
    settings = site.app.state.settings
    made = plan_prep.warm_layers(site.storage, settings, days=(0,))
    assert made >= 2  # hotspots and forecast of at least 书院
    assert plan_prep.warm_layers(other, settings, days=(0,)) == 0  # stored: only read
    analysis_layers.CACHE.clear()
    assert plan_prep.warm_layers(other, settings, days=(0,)) == 0
    with site.storage.begin() as session:
        kinds = set(session.scalars(select(AnalysisLayer.kind).distinct()))
    assert kinds == {"hotspots", "forecast"}
    n = layer_store.stored_count(site.storage)
    with site.storage.begin() as session:  # as if made three days ago
        session.execute(update(AnalysisLayer).values(
            created_at=datetime.now(UTC) - timedelta(days=3)))
    assert layer_store.prune(site.storage) == n
    assert layer_store.stored_count(site.storage) == 0


def test_layer_keys_name_kind_scope_and_parameters() -> None:
    base = layer_store.layer_key("gi", ("a", "b"), {"days": 90, "at": str(date(2026, 1, 1))})
    assert base == layer_store.layer_key("gi", ("b", "a"), {"at": "2026-01-01", "days": 90})
    assert base != layer_store.layer_key("gi", ("a",), {"days": 90, "at": "2026-01-01"})
    assert base != layer_store.layer_key("gi", None, {"days": 90, "at": "2026-01-01"})
    assert base != layer_store.layer_key("trends", ("a", "b"), {"days": 90, "at": "2026-01-01"})
    assert base != layer_store.layer_key("gi", ("a", "b"), {"days": 91, "at": "2026-01-01"})
