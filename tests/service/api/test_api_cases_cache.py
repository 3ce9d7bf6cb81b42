"""The ``overdue`` case filter and the version-checked cache of case pages (SQLite and PostGIS)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from api_support import BACKENDS, Api, build_api, database_url, point_in

from service.case_cache import PAGES, data_version
from service.importer import import_table
from service.storage import CaseFilter, Storage
from service.workflow import FINAL


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_cases_cache")
    for url in database_url(request.param, folder):
        yield from build_api(url)


def _ids(api: Api, user: str = "admin", **params: object) -> set[str]:
    resp = api.get("/api/cases", user, params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["numberReturned"] == len(body["features"])
    return {f["properties"]["case_id"] for f in body["features"]}


def test_overdue_filter_matches_the_rule_at_any_instant(api: Api) -> None:
    cases = api.storage.query_cases(CaseFilter())
    # between the seeded deadlines: some cases are already late, others not yet
    for as_of in (datetime(2026, 5, 3, 12, tzinfo=UTC), datetime(2026, 5, 20, tzinfo=UTC)):
        late = {r.case_id for r in cases.itertuples()
                if r.status not in FINAL and r.deadline_at is not pd.NaT
                and r.deadline_at < pd.Timestamp(as_of)}
        got = set(api.storage.query_cases(CaseFilter(overdue=True, as_of=as_of))["case_id"])
        rest = set(api.storage.query_cases(CaseFilter(overdue=False, as_of=as_of))["case_id"])
        assert got == late and rest == set(cases["case_id"]) - late
    assert 0 < len(late) < len(cases)


def test_overdue_query_parameter(api: Api) -> None:
    _code, x, y = point_in(api.storage, "shuyuan", 3)
    assert api.post("/api/cases", "leader_sy", json={
        "case_id": "OD-NEW", "category": "09006", "lon": x, "lat": y}).status_code == 201
    late = _ids(api, overdue="true")
    assert {"SY1", "SY3", "XH1", "XH2"} <= late and "OD-NEW" not in late  # new: due tomorrow
    assert "OD-NEW" in _ids(api, overdue="false") and not late & _ids(api, overdue="false")
    assert _ids(api, "leader_sy", overdue="true") == {c for c in late if c.startswith("SY")}
    # voiding a late case takes it off the list at once (the cache is invalidated)
    assert api.post("/api/cases/SY3/transitions", "leader_sy",
                    json={"to_status": "作废", "note": "重复上报"}).status_code == 200
    assert _ids(api, overdue="true") == late - {"SY3"}
    assert api.get("/api/cases", "admin", params={"overdue": "maybe"}).status_code == 422


def test_cache_serves_repeats_and_sees_every_change(api: Api) -> None:
    params = {"month": "2026-05"}
    first = api.get("/api/cases", "admin", params=params).json()
    api.get("/api/cases", "admin", params=params)  # stored on the second sighting
    hits = PAGES.hits
    assert api.get("/api/cases", "admin", params=params).json() == first
    assert PAGES.hits == hits + 1
    version = data_version(api.storage)
    # a write through another Storage on the same database (as another worker process would do)
    other = Storage(api.storage.url)
    _code, x, y = point_in(other, "xinhua", 4)
    when = datetime(2026, 5, 25, 9, tzinfo=UTC).isoformat()
    report = import_table(other, pd.DataFrame([{
        "case_id": "CACHE1", "category": "09006", "reported_at": when, "lon": repr(x),
        "lat": repr(y)}]), filename="other.csv", actor="other")
    other.engine.dispose()
    assert report.inserted == 1 and int(data_version(api.storage)) > int(version)
    after = api.get("/api/cases", "admin", params=params).json()
    assert after["numberMatched"] == first["numberMatched"] + 1
    assert "CACHE1" in {f["id"] for f in after["features"]}
    # a squad-bound caller never gets the admin's cached page
    assert "CACHE1" not in _ids(api, "leader_sy", **params)
    # OGC items share the cache and still carry their own links and time stamp
    items = api.get("/collections/cases/items", "admin",
                    params={"datetime": "2026-05-01/2026-05-31", "limit": 2}).json()
    assert items["numberReturned"] == 2 and items["numberMatched"] == after["numberMatched"]
    assert any(link["rel"] == "next" for link in items["links"]) and items["timeStamp"]


def test_cached_page_expires_when_a_listed_case_becomes_overdue(api: Api) -> None:
    _code, x, y = point_in(api.storage, "nanda", 0)
    due = datetime.now(UTC) + timedelta(seconds=3)
    soon = (due - timedelta(hours=24)).isoformat()
    import_table(api.storage, pd.DataFrame([{
        "case_id": "SOON1", "category": "09006", "reported_at": soon, "lon": repr(x),
        "lat": repr(y)}]), filename="soon.csv", actor="t")  # 09006: due 24 h after report
    params = {"squad": "nanda", "start": soon}
    hits = PAGES.hits
    for _ in range(3):  # stored on the second request, served from the cache on the third
        first = api.get("/api/cases", "admin", params=params).json()["features"]
        assert [f["properties"]["overdue"] for f in first] == [False]
    assert PAGES.hits == hits + 1
    # the cached page lives only until the listed case's deadline
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.3)
    again = api.get("/api/cases", "admin", params=params).json()["features"]
    assert [f["properties"]["overdue"] for f in again] == [True]
