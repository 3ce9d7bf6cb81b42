"""The SQL page path of the case list and the OGC case items (:mod:`service.case_features`):
the same filter rules as ``Storage.case_query``, the same features as the Python path, counts
that say when they are estimates, keyset pages, and ETags on the OGC items (SQLite and PostGIS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_support import BACKENDS, Api, build_api, database_url
from sqlalchemy import update

from service import case_features, case_ops
from service.case_cache import PAGES
from service.models import Case
from service.storage import CaseFilter


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_case_features")
    for url in database_url(request.param, folder):
        for a in build_api(url):
            with a.storage.begin() as s:  # microseconds and a late closure: exact ISO text
                s.execute(update(Case).where(Case.case_id == "SY1").values(
                    status="结案", closed_at=datetime(2026, 6, 1, 3, 4, 5, 120000, tzinfo=UTC)))
                s.execute(update(Case).where(Case.case_id == "XH1").values(
                    deadline_at=datetime.now(UTC) + timedelta(days=3)))
            yield a


def _filters(api: Api) -> list[CaseFilter]:
    may = datetime(2026, 5, 1, tzinfo=UTC)
    return [CaseFilter(), CaseFilter(squads=("shuyuan",)), CaseFilter(squads=()),
            CaseFilter(start=may, end=may + timedelta(days=9)), CaseFilter(status=("上报", "结案")),
            CaseFilter(categories=("09006",)), CaseFilter(bbox=(113.8, 30.8, 113.95, 30.95)),
            CaseFilter(overdue=True), CaseFilter(overdue=False, as_of=may + timedelta(days=5)),
            CaseFilter(precise=True), CaseFilter(community=api.cases["SY3"]["community_code"]),
            CaseFilter(squads=("xinhua", "shuyuan"), start=may)]


def test_where_clause_selects_what_case_query_selects(api: Api) -> None:
    st = api.storage
    for flt in _filters(api):
        with st.begin() as s:
            want = set(s.scalars(st.case_query(flt).with_only_columns(Case.id)))
        p = case_features._Params(st.engine.dialect.name == "postgresql")
        got = {r[0] for r in case_features._execute(
            st, f"SELECT id FROM cases WHERE {case_features.where_sql(flt, p)}", p.bound())}
        assert got == want, flt
    assert len(want) > 0  # the last filter matches something: the comparison is not vacuous


def test_pages_equal_the_python_path(api: Api) -> None:
    """Features (parsed JSON: PostGIS writes them in SQL), counts, next-page keys, the earliest
    deadline that turns an overdue flag, for full and short pages and the keyset page after."""
    for flt in _filters(api):
        for limit in (2, 100):
            PAGES.clear()
            old = case_ops.query_page(api.storage, flt, limit=limit, version="t")
            PAGES.clear()
            new = case_features.case_page(api.storage, flt, limit=limit, version="t")
            assert json.loads(new.features) == json.loads(old.features), (flt, limit)
            assert (new.returned, new.matched, new.last, new.stale_at, new.exact) == \
                (old.returned, old.matched, old.last, old.stale_at, True)
            if new.last is not None:
                PAGES.clear()
                after = replace(flt, after=new.last)
                assert json.loads(case_features.case_page(api.storage, after, limit=limit,
                                                          version="t").features) == \
                    json.loads(case_ops.query_page(api.storage, after, limit=limit,
                                                   version="t").features)
    PAGES.clear()
    sy1 = next(f for f in json.loads(case_features.case_page(
        api.storage, CaseFilter(), limit=100, version="u").features) if f["id"] == "SY1")
    assert sy1["properties"]["closed_at"] == "2026-06-01T11:04:05.120000+08:00"
    assert sy1["properties"]["overdue"] is True  # closed after its deadline
    assert sy1["geometry"]["coordinates"] == [round(api.cases["SY1"]["lon"], 7),
                                              round(api.cases["SY1"]["lat"], 7)]


def test_counts_above_the_cap_say_whether_they_are_estimates(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_features, "COUNT_CAP", 3)
    PAGES.clear()
    n, exact = case_features.count_matches(api.storage, CaseFilter(), version="cap")
    if api.storage.engine.dialect.name == "postgresql":
        assert not exact and n >= 4  # the planner's estimate, never below the cap
    else:
        assert exact and n == 7
    assert case_features.count_matches(api.storage, CaseFilter(squads=("xinhua",)),
                                       version="cap") == (3, True)
    PAGES.clear()
    body = api.get("/api/cases", "admin", params={"limit": 2}).json()
    assert body.get("numberMatchedEstimated", False) is not exact
    items = api.get("/ogc/collections/cases/items", "admin", params={"limit": 2}).json()
    assert items.get("numberMatchedEstimated", False) is not exact
    PAGES.clear()


def test_ogc_items_walk_by_keyset_and_answer_304(api: Api) -> None:
    url, seen = "/ogc/collections/cases/items?limit=3", []
    while url:
        page = api.get(url, "admin")
        assert page.status_code == 200
        seen += [f["id"] for f in page.json()["features"]]
        nxt = [ln["href"] for ln in page.json()["links"] if ln["rel"] == "next"]
        assert all("cursor=" in h for h in nxt)
        url = nxt[0].removeprefix("http://testserver") if nxt else ""
    assert len(seen) == len(set(seen)) == 7
    first = api.get("/ogc/collections/cases/items", "leader_sy", params={"limit": 2})
    tag = first.headers["etag"]
    assert tag.startswith("W/")
    again = api.client.get("/ogc/collections/cases/items?limit=2",
                           headers={**api.auth("leader_sy"), "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    with api.storage.begin() as s:  # any write to the cases: a new data version, a new tag
        s.execute(update(Case).where(Case.case_id == "SY4").values(description="改过"))
    changed = api.client.get("/ogc/collections/cases/items?limit=2",
                             headers={**api.auth("leader_sy"), "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_other_layers_and_single_features_carry_etags(api: Api) -> None:
    for path in ("/ogc/collections/communities/items?limit=5",
                 "/ogc/collections/cases/items/SY3"):
        r = api.get(path, "leader_sy")
        assert r.status_code == 200, r.text
        tag = r.headers["etag"]
        same = api.client.get(path, headers={**api.auth("leader_sy"), "If-None-Match": tag})
        assert same.status_code == 304
    communities = "/ogc/collections/communities/items?limit=5"
    tag = api.get(communities, "leader_sy").headers["etag"]
    # the admin sees every squad's communities: a squad leader's tag never matches
    other = api.client.get(communities, headers={**api.auth("admin"), "If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag
