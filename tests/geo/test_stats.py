"""geo.stats.bureau_stats on a small dataset built here, every figure counted by hand."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from geo.errors import InputError
from geo.stats import address_key, bureau_stats, patrol_coverage

TZ = "Asia/Shanghai"


def _t(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text).tz_localize(TZ)


# id, squad, community code/name, reported, status, closed, deadline, address, category, source
ROWS = [
    ("C1", "A", "c1", "甲社区", "2026-05-02 08:00", "结案", "2026-05-02 10:00", "2026-05-02 12:00",
     "西大 市场北门", "09006", "12345"),           # on time, 2 h
    ("C2", "A", "c1", "甲社区", "2026-05-05 08:00", "结案", "2026-05-06 08:00", "2026-05-05 12:00",
     "西大市场北门", "09006", "监督员上报"),       # closed late: overdue, 24 h
    ("C3", "A", "c1", "甲社区", "2026-05-10 08:00", "处置", None, "2026-05-10 12:00",
     "西大市场北门 ", "09006", "12345"),           # open past deadline: overdue
    ("C4", "A", "c2", "乙社区", "2026-05-12 08:00", "结案", "2026-05-12 14:00", "2026-05-13 08:00",
     "", "06001", "12345"),                       # on time, 6 h, no address
    ("C5", "A", "c2", "乙社区", "2026-05-20 08:00", "作废", None, "2026-05-21 08:00",
     "西大市场北门", "09006", "12345"),           # void: only in `voided`
    ("C6", "A", "c2", "乙社区", "2026-05-25 08:00", "上报", None, "2026-06-20 08:00",
     "槐荫大道1号", "06001", ""),                   # open, not yet due
    ("C7", "B", "c3", "丙社区", "2026-05-03 08:00", "结案", "2026-05-03 12:00", None,
     "新华路", "06045", "12345"),                   # closed, no deadline, 4 h
    ("C8", "A", "c1", "甲社区", "2026-04-30 23:00", "结案", "2026-05-01 01:00", "2026-05-01 12:00",
     "西大市场北门", "09006", "12345"),           # before the period
    ("C9", "A", "c1", "甲社区", "2026-05-31 22:00", "结案", "2026-06-01 01:00", "2026-06-01 12:00",
     "其他", "06028", "12345"),                     # last evening of the period, on time, 3 h
]


def cases() -> pd.DataFrame:
    cols = ["case_id", "squad", "community_code", "community", "reported_at", "status",
            "closed_at", "deadline_at", "address", "category", "source"]
    df = pd.DataFrame(ROWS, columns=cols)
    for c in ("reported_at", "closed_at", "deadline_at"):
        df[c] = pd.to_datetime(df[c]).dt.tz_localize(TZ)
    df["category_name"] = df["category"].map({"09006": "占道经营", "06001": "私搭乱建",
                                              "06045": "毁绿种菜", "06028": "噪声"})
    return df


COMMS = pd.DataFrame({"code": ["c1", "c2", "c3"], "name": ["甲社区", "乙社区", "丙社区"],
                      "squad": ["A", "A", "B"]})
VISITS = pd.DataFrame({"community_code": ["c1", "c1", "c2", "c3"],
                       "visit_date": [date(2026, 5, 2), date(2026, 5, 30), date(2026, 5, 20),
                                      date(2026, 6, 2)]})  # c3's visit is after the period


@pytest.fixture(scope="module")
def stats():  # type: ignore[no-untyped-def]
    return bureau_stats(cases(), period_start=date(2026, 5, 1), period_end=date(2026, 5, 31),
                        tz=TZ, as_of=_t("2026-06-10 00:00"), communities=COMMS, visits=VISITS,
                        stale_days=7)


def _row(table: pd.DataFrame, **keys: str) -> dict[str, float]:
    sel = table
    for k, v in keys.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, sel
    return dict(sel.iloc[0])


def test_totals_equal_the_hand_count(stats) -> None:  # type: ignore[no-untyped-def]
    t = dict(stats.total.iloc[0])
    # C1 C2 C3 C4 C6 C7 C9 (C5 void, C8 before the period)
    assert (t["cases"], t["voided"], t["closed"]) == (7, 1, 5)
    assert t["closure_rate"] == pytest.approx(5 / 7)
    assert t["on_time"] == 3  # C1 C4 C9
    assert t["on_time_rate"] == pytest.approx(3 / 4)  # closed with a deadline: C1 C2 C4 C9
    assert t["overdue"] == 2  # C2 closed late, C3 open past its deadline
    assert t["overdue_rate"] == pytest.approx(2 / 6)  # with a deadline: C1 C2 C3 C4 C6 C9
    assert t["median_hours"] == pytest.approx(4.0)  # 2, 24, 6, 4, 3
    assert (t["recurrent_groups"], t["no_address"]) == (1, 1)


def test_per_squad_and_per_community(stats) -> None:  # type: ignore[no-untyped-def]
    a = _row(stats.by_squad, squad="A")
    assert (a["cases"], a["voided"], a["closed"], a["on_time"], a["overdue"]) == (6, 1, 4, 3, 2)
    assert a["median_hours"] == pytest.approx(4.5)  # 2, 24, 6, 3
    assert a["recurrent_groups"] == 1
    b = _row(stats.by_squad, squad="B")
    assert (b["cases"], b["closed"], b["on_time"], b["overdue"]) == (1, 1, 0, 0)
    assert math.isnan(b["on_time_rate"]) and math.isnan(b["overdue_rate"])  # no deadline
    assert list(stats.by_squad["squad"]) == ["A", "B"]  # most cases first
    c1 = _row(stats.by_community, community_code="c1")
    assert (c1["community"], c1["cases"], c1["closed"], c1["on_time"], c1["overdue"]) == (
        "甲社区", 4, 3, 2, 2)
    assert c1["on_time_rate"] == pytest.approx(2 / 3) and c1["median_hours"] == pytest.approx(3.0)
    assert c1["recurrent_groups"] == 1
    c2 = _row(stats.by_community, community_code="c2")
    assert (c2["cases"], c2["voided"], c2["closed"], c2["no_address"], c2["recurrent_groups"]) == (
        2, 1, 1, 1, 0)


def test_categories_sources_and_recurrence(stats) -> None:  # type: ignore[no-untyped-def]
    src = {r.source: r.count for r in stats.by_source[stats.by_source["squad"] == "A"].itertuples()}
    assert src == {"12345": 4, "监督员上报": 1, "（未填）": 1}
    cat = {r.category: r.count for r in stats.by_category[stats.by_category["squad"] == "A"]
           .itertuples()}
    assert cat == {"09006": 3, "06001": 2, "06028": 1}
    rec = stats.recurrence
    assert len(rec) == 1  # C1 C2 C3: the void C5 and the earlier C8 do not count
    g = rec.iloc[0]
    assert (g["category"], g["count"], g["case_ids"], g["community_code"]) == (
        "09006", 3, "C1、C2、C3", "c1")
    assert g["first_reported"] == _t("2026-05-02 08:00")


def test_patrol_coverage(stats) -> None:  # type: ignore[no-untyped-def]
    cov = stats.coverage
    assert list(cov["community_code"]) == ["c3", "c2", "c1"]  # never, 11 days, 1 day
    by = {r.community_code: r for r in cov.itertuples()}
    assert by["c3"].last_visit is None and by["c3"].stale
    assert by["c2"].days_since == 11 and by["c2"].stale
    assert by["c1"].days_since == 1 and not by["c1"].stale
    loose = patrol_coverage(COMMS, VISITS, last_day=date(2026, 5, 31), stale_days=12)
    assert list(loose["stale"]) == [True, False, False]


def test_threshold_and_errors() -> None:
    two = bureau_stats(cases(), period_start=date(2026, 5, 1), period_end=date(2026, 5, 31),
                       tz=TZ, as_of=_t("2026-06-10 00:00"), min_repeats=2)
    assert sorted(two.recurrence["count"]) == [3]  # 06001 at C4 has no address, C6 elsewhere
    empty = bureau_stats(cases(), period_start=date(2025, 1, 1), period_end=date(2025, 1, 31),
                         tz=TZ)
    assert int(empty.total.iloc[0]["cases"]) == 0 and empty.by_squad.empty
    assert math.isnan(empty.total.iloc[0]["closure_rate"])
    with pytest.raises(InputError, match="早于"):
        bureau_stats(cases(), period_start=date(2026, 5, 2), period_end=date(2026, 5, 1), tz=TZ)
    with pytest.raises(InputError, match="缺少列"):
        bureau_stats(cases().drop(columns="status"), period_start=date(2026, 5, 1),
                     period_end=date(2026, 5, 31), tz=TZ)
    assert address_key(" 西大 市场\tA ") == "西大市场a" and address_key(None) == ""
