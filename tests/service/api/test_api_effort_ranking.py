"""The hotspot and forecast layers rank by patrol exposure when the period has effort data.

On the page-test site (sqlite), two more clusters are imported in 书院: BUSY (向阳社区, 60 cases
found by patrol) and CORNER (城西社区, 25 found by patrol and 10 complaints). Stored plans put 40
patrol-hours at BUSY and 2 at CORNER over the last weeks. With the plans the layers are ranked
by exposure (CORNER above BUSY), ``exposure=false`` gives the counts (BUSY first); the response says
which ranking (``ranking``, Chinese ``ranking_label``) and where the effort came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from pages_support import TZ, Site, build_site, get_as
from shapely.geometry import shape

from geo.labels import RANKING_NAMES
from service import pages_data
from service.importer import import_table
from service.models import ConfirmedVisit, Plan


def _spot(site: Site, k: int) -> tuple[float, float]:
    comm = site.storage.communities(squads=("shuyuan",))
    p = comm.iloc[k].geometry.representative_point()
    return float(p.x), float(p.y)


def _import(site: Site, now: datetime) -> None:
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    for name, k, sources in (("BUSY", 4, ["巡查发现"] * 60),
                             ("CORNER", 5, ["巡查发现"] * 25 + ["12345热线"] * 10)):
        x, y = _spot(site, k)
        for i, src in enumerate(sources):
            dx, dy = rng.normal(0, 6.0, 2) / 111_000
            at = (now - timedelta(days=1 + i % 20, hours=2)).strftime("%Y-%m-%d %H:%M")
            rows.append({"case_id": f"{name}{i:02d}", "category": "09006", "reported_at": at,
                         "lon": f"{x + dx:.6f}", "lat": f"{y + dy:.6f}", "source": src,
                         "description": "占道经营", "status": "结案", "closed_at": at})
    report = import_table(site.storage, pd.DataFrame(rows), filename="effort.csv", actor="t")
    assert report.inserted == len(rows), report.as_dict()


def _plans(site: Site, today: date) -> None:
    """Ten days of plans: 4 h a day at BUSY, 12 minutes a day at CORNER."""
    (bx, by), (cx, cy) = _spot(site, 4), _spot(site, 5)
    with site.storage.begin() as session:
        for d in range(1, 11):
            day = today - timedelta(days=d)
            visits = [{"stop_id": "hs-busy", "kind": "热点", "lon": bx, "lat": by,
                       "community_code": None, "service_s": 4 * 3600.0},
                      {"stop_id": "hs-corner", "kind": "热点", "lon": cx, "lat": cy,
                       "community_code": None, "service_s": 720.0}]
            session.add(Plan(squad_id="shuyuan", plan_date=day, created_by="t",
                             data={"date": day.isoformat(), "routes": [
                                 {"team": "shuyuan-1", "visits": visits}]}))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, TestClient]]:
    folder = tmp_path_factory.mktemp("effort_api")
    s = build_site(f"sqlite:///{folder / 'effort.db'}")
    now = datetime.now(ZoneInfo(TZ))
    _import(s, now)
    with TestClient(s.app) as client:
        yield s, client
    s.storage.engine.dispose()


def _at(features: list[dict[str, Any]], lonlat: tuple[float, float]) -> dict[str, Any]:
    return next(f["properties"] for f in features
                if shape(f["geometry"]).distance(shapely.Point(*lonlat)) < 0.0005)


def _first_near(features: list[dict[str, Any]], lonlat: tuple[float, float]) -> bool:
    return shape(features[0]["geometry"]).distance(shapely.Point(*lonlat)) < 0.0005


def test_without_effort_the_counts_are_kept_and_said(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    fc = get_as(site, "/api/hotspots", "leader_sy").json()
    assert fc["ranking"] == "counts" and fc["effort"] == "none"
    assert fc["ranking_label"] == RANKING_NAMES["counts"]
    assert any("没有巡查记录" in n for n in fc["notes"])
    assert _first_near(fc["features"], _spot(s, 4))  # BUSY: most cases
    cells = get_as(site, "/api/forecast?top=3", "leader_sy").json()
    assert cells["ranking"] == "counts"


def test_stored_plans_make_the_exposure_ranking_the_default(
        site: tuple[Site, TestClient]) -> None:
    s, _ = site
    _plans(s, datetime.now(ZoneInfo(TZ)).date())
    pages_data.CACHE.clear()
    fc = get_as(site, "/api/hotspots", "leader_sy").json()
    assert fc["ranking"] == "exposure" and fc["effort"] == "planned"
    assert fc["ranking_label"] == RANKING_NAMES["exposure"]
    corner, busy = _at(fc["features"], _spot(s, 5)), _at(fc["features"], _spot(s, 4))
    assert busy["case_count"] > corner["case_count"]  # more cases where the patrols went
    assert corner["rank"] < busy["rank"]  # the rarely patrolled hotspot ranks above
    assert corner["exposure_score"] > busy["exposure_score"]
    assert corner["other_cases"] == 10 and corner["patrol_cases"] == 25
    assert busy["patrol_cases"] >= 55 and busy["other_cases"] <= 2
    ranks = [f["properties"]["rank"] for f in fc["features"]]
    assert ranks == sorted(ranks) and ranks[0] == 1
    # the seeded cases carry no source: treated as complaints, and said so
    assert any("来源未知或为空" in n for n in fc["notes"])
    plain = get_as(site, "/api/hotspots?exposure=false", "leader_sy").json()
    assert plain["ranking"] == "counts" and plain["notes"] == []
    assert _first_near(plain["features"], _spot(s, 4))
    assert "rank" not in plain["features"][0]["properties"]
    cells = get_as(site, "/api/forecast?top=400", "leader_sy").json()
    assert cells["ranking"] == "exposure" and cells["features"][0]["properties"]["rank"] == 1
    assert _at(cells["features"], _spot(s, 5))["rank"] < _at(cells["features"], _spot(s, 4))["rank"]
    off = get_as(site, "/api/forecast?top=400&exposure=false", "leader_sy").json()
    assert off["ranking"] == "counts"
    assert _at(off["features"], _spot(s, 5))["rank"] > _at(off["features"], _spot(s, 4))["rank"]
    # another squad's leader sees none of it, and no effort of 书院
    other = get_as(site, "/api/hotspots", "leader_xh").json()
    assert other["features"] == [] or other["effort"] == "none"


def test_confirmed_visits_take_their_duration_from_the_plan(
        site: tuple[Site, TestClient]) -> None:
    s, _ = site
    today = datetime.now(ZoneInfo(TZ)).date()
    with s.storage.begin() as session:
        for d, stop in ((1, "hs-busy"), (2, "hs-busy"), (2, "gone")):
            session.add(ConfirmedVisit(squad_id="shuyuan", team_id="shuyuan-1",
                                       plan_date=today - timedelta(days=d), stop_id=stop,
                                       kind="热点", confirmed_at=datetime.now(ZoneInfo(TZ)),
                                       officer="officer_sy"))
    fc = get_as(site, "/api/hotspots", "leader_sy").json()
    assert fc["ranking"] == "exposure" and fc["effort"] == "confirmed"
    assert any("1 条到达确认找不到对应计划的站点时长，按 240 分钟计" in n for n in fc["notes"])
    # the stop that is in no plan has no position either: left out, and said so
    assert any("1 条巡查记录没有地点" in n for n in fc["notes"])
