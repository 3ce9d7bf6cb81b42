"""The pure case-workflow rules: transitions, roles, deadlines, overdue flags."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from service.errors import ConflictError, PermissionDenied
from service.workflow import (
    FINAL,
    NEXT,
    STATES,
    TransitionError,
    allowed_next,
    check_transition,
    deadline,
    is_overdue,
    overdue_flags,
)

MAIN_PATH = ["上报", "立案", "派遣", "处置", "核查", "结案"]


def test_main_path_and_void_are_allowed_for_admin() -> None:
    for a, b in itertools.pairwise(MAIN_PATH):
        check_transition(a, b, "admin")
    for state in STATES:
        if state not in FINAL:
            check_transition(state, "作废", "admin")
    check_transition("核查", "处置", "squad_leader")  # rework after a failed check


@pytest.mark.parametrize("current", STATES)
@pytest.mark.parametrize("target", STATES)
def test_every_other_pair_is_refused(current: str, target: str) -> None:
    if target in NEXT[current]:
        return
    with pytest.raises(TransitionError) as info:
        check_transition(current, target, "admin")
    assert isinstance(info.value, ConflictError)
    assert current in str(info.value) and target in str(info.value)


def test_final_states_have_no_successors() -> None:
    assert allowed_next("结案", "admin") == () and allowed_next("作废", "admin") == ()
    with pytest.raises(TransitionError, match="已结案"):
        check_transition("结案", "作废", "admin")


def test_roles() -> None:
    assert allowed_next("上报", "officer") == ()
    assert allowed_next("上报", "squad_leader") == ("立案", "作废")
    assert allowed_next("派遣", "officer") == ("处置",)
    assert allowed_next("核查", "officer") == ()  # closing and rework are for leaders
    assert allowed_next("核查", "squad_leader") == ("结案", "处置", "作废")
    assert all(allowed_next(s, "planner") == () for s in STATES)
    with pytest.raises(PermissionDenied, match="officer"):
        check_transition("上报", "立案", "officer")
    with pytest.raises(TransitionError, match="未知"):
        check_transition("上报", "完成", "admin")


def test_deadline_from_catalogue() -> None:
    t = datetime(2026, 5, 1, 7, 0, tzinfo=UTC)
    assert deadline("09006", t) == t + timedelta(hours=24)
    assert deadline("09005", t) == t + timedelta(hours=48)
    assert deadline("not-a-code", t) == t + timedelta(hours=72)


def test_overdue_scalar_and_vector_agree() -> None:
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    due = t0 + timedelta(hours=24)
    now = t0 + timedelta(hours=30)
    cases = [("处置", due, None, True), ("上报", now + timedelta(hours=1), None, False),
             ("结案", due, due - timedelta(hours=1), False),
             ("结案", due, due + timedelta(hours=1), True), ("作废", due, None, False),
             ("上报", None, None, False)]
    for status, dl, closed, expect in cases:
        assert is_overdue(status, dl, closed, now) is expect, (status, dl, closed)
    flags = overdue_flags(pd.Series([c[0] for c in cases], index=list("abcdef")),
                          pd.to_datetime(pd.Series([c[1] for c in cases], index=list("abcdef")),
                                         utc=True),
                          pd.to_datetime(pd.Series([c[2] for c in cases], index=list("abcdef")),
                                         utc=True), now)
    assert list(flags.index) == list("abcdef")
    assert flags.tolist() == [c[3] for c in cases]
