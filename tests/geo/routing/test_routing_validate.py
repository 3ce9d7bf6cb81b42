"""Patrol-problem validation: every problem collected, messages name the element and reason."""

from __future__ import annotations

import pytest

from geo.errors import InfeasibleError, ValidationError
from geo.routing.solve import parse_patrol_problem


def _base():
    return {
        "teams": [{"id": "A", "start": "S1", "end": "S1", "shift_s": [0, 3600], "speed_mps": 1.2}],
        "sites": [{"id": "S1", "x": 0.0, "y": 0.0}],
        "stops": [{"id": "h1", "x": 120.0, "y": -40.0, "priority": 5, "service_s": 600,
                   "windows_s": [[0, 1800]], "required": False}],
        "travel": {"metric": "euclidean"}, "objective": "priority", "time_limit_s": 5,
    }


def test_valid_problem_parses():
    p = parse_patrol_problem(_base())
    assert p.stop_ids == ("h1",) and p.site_ids == ("S1",)
    assert p.time_s[0, 0, 1] == pytest.approx((120**2 + 40**2) ** 0.5 / 1.2)
    assert p.time_limit_s == 5


def test_collects_every_problem():
    bad = _base()
    bad["teams"][0]["start"] = "nowhere"
    bad["teams"][0]["shift_s"] = [100, 50]
    bad["stops"][0]["service_s"] = -5
    bad["stops"].append({"id": "h1", "x": "a", "y": 0})
    bad["objective"] = "fastest"
    with pytest.raises(ValidationError) as info:
        parse_patrol_problem(bad)
    text = str(info.value)
    assert len(info.value.problems) >= 5
    for part in ("teams[0]（id=A）.start", "nowhere", "未知站点", "shift_s",
                 "stops[0]（id=h1）.service_s", "id 重复", "objective"):
        assert part in text


@pytest.mark.parametrize(
    ("windows", "needle"),
    [([[-10, 100]], "0 ≤ 开始"), ([[50_000, 60_000]], "班次之外"), ([], "非空列表")],
)
def test_bad_windows_name_the_stop(windows, needle):
    bad = _base()
    bad["stops"][0]["windows_s"] = windows
    with pytest.raises(ValidationError, match=needle) as info:
        parse_patrol_problem(bad)
    assert "id=h1" in str(info.value)


def test_matrix_shape_and_ids():
    bad = _base()
    bad["travel"] = {"metric": "matrix", "ids": ["S1", "h1"], "seconds": [[0, 1, 2], [1, 0, 3]]}
    with pytest.raises(ValidationError, match="2×2"):
        parse_patrol_problem(bad)
    bad["travel"] = {"metric": "matrix", "ids": ["S1"], "seconds": [[0]]}
    with pytest.raises(ValidationError, match="不在矩阵 ids 中"):
        parse_patrol_problem(bad)
    bad["travel"] = {"metric": "matrix", "ids": ["S1", "h1"], "seconds": [[0, -1], [1, 0]]}
    with pytest.raises(ValidationError, match="负数"):
        parse_patrol_problem(bad)


def test_required_stop_out_of_reach_names_stop_and_reason():
    bad = _base()
    bad["stops"][0].update(required=True, x=3000.0, y=0.0, windows_s=[[0, 600]])
    with pytest.raises(InfeasibleError) as info:
        parse_patrol_problem(bad)
    text = str(info.value)
    assert "必访点 h1" in text and "晚于时间窗最晚开始 600 秒" in text


def test_required_stop_cannot_return_in_shift():
    bad = _base()
    bad["stops"][0].update(required=True, x=1900.0, y=0.0, windows_s=[[0, 3600]])
    with pytest.raises(InfeasibleError, match="晚于班次结束"):
        parse_patrol_problem(bad)


def test_team_cannot_reach_end_site():
    bad = _base()
    bad["sites"].append({"id": "far", "x": 100_000.0, "y": 0.0})
    bad["teams"][0]["end"] = "far"
    with pytest.raises(InfeasibleError, match="队伍 A"):
        parse_patrol_problem(bad)


def test_optional_unreachable_stop_is_fine_and_distance_makes_all_required():
    p = _base()
    p["stops"][0].update(x=3000.0, windows_s=[[0, 600]])
    assert parse_patrol_problem(p).required.tolist() == [False]
    p["objective"] = "distance"
    with pytest.raises(InfeasibleError, match="h1"):
        parse_patrol_problem(p)


def test_overlapping_windows_are_merged_and_defaults():
    p = _base()
    p["stops"][0]["windows_s"] = [[1000, 2000], [0, 500], [400, 800]]
    p["stops"].append({"id": "h2", "x": 1.0, "y": 1.0})
    parsed = parse_patrol_problem(p)
    assert parsed.windows_s[0].tolist() == [[0, 800], [1000, 2000]]
    assert parsed.windows_s[1].tolist() == [[0, 3600]]
    assert parsed.priority[1] == 1 and parsed.service_s[1] == 0
