"""Storage and import, run against SQLite and a real PostGIS server (same tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from geo.errors import FileReadError
from service.importer import import_file, import_table
from service.storage import CaseFilter, Storage


def _point_in(storage: Storage, code: str) -> tuple[float, float]:
    comm = storage.communities()
    p = comm.set_index("code").loc[code, "geometry"].representative_point()
    return p.x, p.y


def _table(storage: Storage, n: int = 3, prefix: str = "T") -> pd.DataFrame:
    comm = storage.communities()
    rows = []
    for i in range(n):
        code = comm["code"].iat[i % len(comm)]
        x, y = _point_in(storage, code)
        rows.append({"case_id": f"{prefix}{i}", "category": "占道经营",
                     "reported_at": f"2026-05-0{1 + i % 9} 07:{i % 60:02d}", "lon": str(x),
                     "lat": str(y), "description": f"摊贩占道 {i}"})
    return pd.DataFrame(rows)


def test_new_database_is_seeded_with_xiaonan(storage: Storage) -> None:
    squads = storage.squads()
    assert [s["id"] for s in squads] == sorted(["shuyuan", "xinhua", "guangchang", "chezhan", "nanda"])
    comm = storage.communities()
    assert len(comm) == 53 and comm.crs.to_epsg() == 4326
    assert comm.geometry.is_valid.all()
    assert len(storage.stations()) == 53
    storage._ready = False
    storage.init()  # idempotent: no second seeding
    assert len(storage.communities()) == 53


def test_import_stores_valid_rows_and_joins_community(storage: Storage) -> None:
    table = _table(storage, 5)
    table.loc[2, "lon"] = "not-a-number"
    report = import_table(storage, table, filename="t.csv", actor="tester")
    assert (report.inserted, report.updated, report.rejected) == (4, 0, 1)
    assert report.problems[0].row == 4 and report.problems[0].column == "lon"
    cases = storage.query_cases()
    assert sorted(cases["case_id"]) == ["T0", "T1", "T3", "T4"]
    first = storage.communities()["code"].iat[0]
    t0 = cases.set_index("case_id").loc["T0"]
    assert t0["community_code"] == first and t0["category"] == "09006"
    assert t0["reported_at"] == pd.Timestamp("2026-05-01 07:00", tz="Asia/Shanghai")
    assert t0["deadline_at"] - t0["reported_at"] == pd.Timedelta(hours=24)
    hist = storage.get_case("T0")
    assert hist is not None and hist["history"][0]["to_status"] == "上报"


def test_reimport_updates_never_duplicates(storage: Storage) -> None:
    table = _table(storage, 3)
    import_table(storage, table)
    table["status"] = "结案"
    table["description"] = "已处理"
    report = import_table(storage, table)
    assert (report.inserted, report.updated) == (0, 3)
    assert storage.count_cases() == 3
    case = storage.get_case("T1")
    assert case is not None and case["description"] == "已处理" and case["status"] == "结案"
    assert [h["to_status"] for h in case["history"]] == ["上报", "结案"]


def test_unreadable_file_stores_nothing(storage: Storage, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"case_id,lon\n1,2\n")
    with pytest.raises(FileReadError):
        import_file(storage, bad)
    assert storage.count_cases() == 0


def test_failed_transaction_stores_nothing(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.importer as importer

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_existing", boom)
    with pytest.raises(RuntimeError):
        import_table(storage, _table(storage, 3))
    assert storage.count_cases() == 0
    with storage.begin() as s:
        assert s.execute(text("select count(*) from import_batches")).scalar() == 0


def test_query_filters(storage: Storage) -> None:
    import_table(storage, _table(storage, 20))
    all_cases = storage.query_cases()
    sq = all_cases["squad"].iat[0]
    only = storage.query_cases(CaseFilter(squads=(sq,)))
    assert len(only) == (all_cases["squad"] == sq).sum() and set(only["squad"]) == {sq}
    start = datetime.fromisoformat("2026-05-03T00:00:00+08:00")
    later = storage.query_cases(CaseFilter(start=start, end=start + timedelta(days=2)))
    assert set(later["reported_at"].dt.day) <= {3, 4} and len(later) > 0
    x, y = all_cases["lon"].iat[0], all_cases["lat"].iat[0]
    box = storage.query_cases(CaseFilter(bbox=(x - 1e-6, y - 1e-6, x + 1e-6, y + 1e-6)))
    assert all_cases["case_id"].iat[0] in set(box["case_id"])
    assert len(storage.query_cases(CaseFilter(categories=("06001",)))) == 0
    page = storage.query_cases(CaseFilter(limit=5, offset=5))
    assert len(page) == 5 and list(page["case_id"]) == list(all_cases["case_id"][5:10])
