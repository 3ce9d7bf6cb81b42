"""12345 set A without coordinates into the database, placed by name (SQLite and PostGIS).

The service builds the gazetteer from the stored communities, the landmarks and the bureau's
``<data_dir>/gazetteer.csv``; every case stores its ``location_precision``; rows no name fits are
rejected with the reason; community-level cases stay out of the hotspot, forecast and plan
inputs (and so out of the plan's stops) but stay in the case list and the community statistics.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from export_corpus import bureau_gazetteer, set_a_places
from sqlalchemy import select

import geo.analysis.hotspots
import geo.forecast.cells
from geo.errors import InputError
from geo.planning.stops import build_stops
from geo.stats import bureau_stats
from service import pages_data
from service.deployment import GAZETTEER_FILE
from service.importer import import_file
from service.models import Case
from service.plans import plan_inputs
from service.settings import Settings
from service.storage import CaseFilter, Storage

COARSE, LANDMARK = "26060001", "26060000"  # 北外社区 (community level), 西大市场: both 书院中队


@pytest.fixture
def store(db_url: str) -> Iterator[Storage]:
    st = Storage(db_url)
    st.init()
    yield st
    st.engine.dispose()


def _centre(storage: Storage, name: str) -> tuple[float, float]:
    comm = storage.communities()
    p = comm.loc[comm["name"] == name].geometry.iloc[0].representative_point()
    return p.x, p.y


def _imported(store: Storage, tmp_path: Path) -> tuple[Any, Settings]:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    (settings.data_dir / GAZETTEER_FILE).write_bytes(
        bureau_gazetteer(_centre(store, "城东社区"), _centre(store, "槐荫桥社区")))
    f = set_a_places()
    path = tmp_path / f.name
    path.write_bytes(f.data)
    return import_file(store, path, settings=settings), settings


def _precisions(store: Storage) -> dict[str, str | None]:
    with store.begin() as s:
        return dict(s.execute(select(Case.case_id, Case.location_precision)).all())  # type: ignore[arg-type]


def test_set_a_stored_with_precisions_and_reasons(store: Storage, tmp_path: Path) -> None:
    f = set_a_places()
    report, settings = _imported(store, tmp_path)
    assert report.inserted == len(f.stored)
    assert sorted({p.row for p in report.problems}) == sorted(f.rejected)
    by_row = {p.row: p for p in report.problems}
    for row, want in f.rejected.items():
        assert want.reason in by_row[row].message and by_row[row].value == want.value
    assert str(settings.data_dir / GAZETTEER_FILE) in by_row[9].message  # where to add the name
    assert _precisions(store) == {w.case_id: w.precision for w in f.stored.values()}
    located = {p.row: p.message for p in report.located}
    assert located[2] == "按地名「西大市场」定位（地标级）" and set(located) == set(f.stored)
    assert report.as_dict()["located"][0]["message"] == located[2]
    assert any("地标级 4 行、社区级 2 行" in n for n in report.notes)
    again = import_file(store, tmp_path / f.name, settings=settings)
    assert (again.inserted, again.unchanged) == (0, len(f.stored))  # placing is deterministic
    # a file with coordinates: every case a point
    table = tmp_path / "points.csv"
    x, y = _centre(store, "书院社区")
    table.write_text(f"案件编号,问题类型,上报时间,经度,纬度\nPT1,占道经营,2026-05-04 08:00,{x},{y}\n",
                     encoding="utf-8")
    assert import_file(store, table, settings=settings).inserted == 1
    assert _precisions(store)["PT1"] == "point"


def test_bad_bureau_table_stops_the_import(store: Storage, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    (tmp_path / GAZETTEER_FILE).write_text("name,lon,lat\n金桂园,abc,30.9\n", encoding="utf-8")
    f = set_a_places()
    (tmp_path / f.name).write_bytes(f.data)
    with pytest.raises(InputError, match="地名表") as err:
        import_file(store, tmp_path / f.name, settings=settings)
    assert str(tmp_path / GAZETTEER_FILE) in str(err.value) and "第 2 行" in str(err.value)
    assert _precisions(store) == {}


def test_coarse_cases_out_of_hotspots_and_plans_but_listed(store: Storage, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _imported(store, tmp_path)
    listed = set(store.query_cases(CaseFilter())["case_id"])
    assert {COARSE, LANDMARK} <= listed  # the case list keeps every case
    precise = set(store.query_cases(CaseFilter(precise=True))["case_id"])
    assert LANDMARK in precise and COARSE not in precise and "26060007" not in listed
    seen: dict[str, set[str]] = {}

    def spy(name: str, result: Any) -> Any:
        def record(cases: gpd.GeoDataFrame, *args: Any, **kwargs: Any) -> Any:
            seen[name] = set(cases["case_id"])
            return result(**kwargs)
        return record

    empty = gpd.GeoDataFrame({"hotspot_id": []}, geometry=[], crs=4326)
    monkeypatch.setattr(geo.analysis.hotspots, "find_hotspots",
                        spy("hotspots", lambda **_: empty))
    monkeypatch.setattr(geo.forecast.cells, "forecast_cells",
                        spy("forecast", lambda **_: empty.assign(rank=[])))
    settings = Settings()
    at = date(2026, 5, 20)
    pages_data.hotspots(store, settings, None, at=at)  # the map and OGC hotspot layer
    pages_data.forecast(store, settings, None, at=at)  # the forecast layer
    inputs = plan_inputs(store, "2026-05-20")
    for name in ("hotspots", "forecast"):
        assert LANDMARK in seen[name] and COARSE not in seen[name], name
    assert LANDMARK in set(inputs.open_cases["case_id"])
    assert COARSE not in set(inputs.open_cases["case_id"])
    squad = next(s for s in store.squads() if s["id"] == "shuyuan")
    stops = build_stops(squad=squad, date=inputs.day, communities=inputs.communities,
                        hotspots=None, open_cases=inputs.open_cases, tz=store.tz)
    ids = set(stops["stop_id"])
    assert f"chk-{LANDMARK}" in ids and f"chk-{COARSE}" not in ids
    stats = bureau_stats(store.query_cases(), period_start=date(2026, 5, 1),
                         period_end=date(2026, 5, 31), tz=store.tz)
    per = stats.by_community.set_index("community")["cases"]
    assert per["北外社区"] == 1 and per["城西社区"] == 1  # the coarse case counts in its community
