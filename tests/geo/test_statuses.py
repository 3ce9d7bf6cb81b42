"""The status vocabulary (geo/data/statuses.csv): export states → workflow status and flag."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from geo.cases import STATUSES
from geo.errors import InputError
from geo.io.tables import read_package_text
from geo.statuses import WORKFLOW_STATUSES, StatusVocabulary, default_statuses


@pytest.mark.parametrize(("text", "status", "flag"), [
    ("已办结", "结案", None), ("办理中", "处置", None), ("已受理", "上报", None),
    ("已退单", "作废", None), ("待受理", "上报", None), ("立案派遣", "派遣", None),
    ("挂账", "处置", "挂账"),
    ("受理", "上报", None), ("登记", "上报", None), ("区受理", "上报", None),
    ("立案", "立案", None), ("已立案", "立案", None),
    ("派遣", "派遣", None), ("已派遣", "派遣", None), ("批转", "派遣", None),
    ("处理中", "处置", None), ("处置中", "处置", None), ("处置", "处置", None),
    ("待核查", "核查", None), ("核查", "核查", None), ("核查结案", "核查", None),
    ("核实", "核查", None),
    ("办结", "结案", None), ("已结案", "结案", None), ("结案", "结案", None),
    ("已完成", "结案", None),
    ("退单", "作废", None), ("作废", "作废", None), ("不立案", "作废", None),
    ("注销", "作废", None),
    ("督查", "处置", "督查"), ("督办", "处置", "督办"), ("延期", "处置", "延期"),
])
def test_issue_status_words(text: str, status: str, flag: str | None) -> None:
    assert default_statuses().resolve(text) == (status, flag)


def test_english_words_and_todays_aliases_keep_their_meaning() -> None:
    # geo.cases._STATUS_ALIASES as of this change: wiring the vocabulary in must not alter them
    today = {"reported": "上报", "filed": "立案", "dispatched": "派遣", "handled": "处置",
             "verified": "核查", "closed": "结案", "void": "作废", "cancelled": "作废",
             "已结案": "结案", "已立案": "立案", "已派遣": "派遣", "处理中": "处置", "待核查": "核查"}
    vocab = default_statuses()
    for text, status in today.items():
        assert vocab.resolve(text) == (status, None), text
        assert vocab.resolve(text.upper())[0] == status
    for status in STATUSES:
        assert vocab.resolve(status) == (status, None)
    assert WORKFLOW_STATUSES == STATUSES


def test_whitespace_full_width_and_compound_texts() -> None:
    vocab = default_statuses()
    assert vocab.resolve("  已 办\u3000结 ") == ("结案", None)
    assert vocab.resolve("ＣＬＯＳＥＤ") == ("结案", None)
    assert vocab.resolve("区受理 登记案件") == ("上报", None)
    assert vocab.resolve("已办结（超期）") == ("结案", "超期")
    assert vocab.resolve("办理中/挂账(超期)") == ("处置", "挂账、超期")
    assert vocab.resolve("超期") == (None, "超期")  # a flag-only word has no status
    assert vocab.resolve("已办结（不知道）") == (None, None)  # an unknown part → unknown
    for empty in ("", "   ", None, float("nan")):
        assert vocab.resolve(empty) == (None, None)
    assert vocab.resolve("乱写的状态") == (None, None)


def test_resolve_many_keeps_the_index_and_uses_none() -> None:
    values = pd.Series(["已办结", None, "乱写", "挂账", "已办结"], index=[10, 11, 12, 13, 14])
    out = default_statuses().resolve_many(values)
    assert list(out.columns) == ["status", "flag"] and list(out.index) == [10, 11, 12, 13, 14]
    assert out["status"].tolist() == ["结案", None, None, "处置", "结案"]
    assert out["flag"].tolist() == [None, None, None, "挂账", None]


def test_package_file_is_well_formed() -> None:
    df = pd.read_csv(io.StringIO(read_package_text("statuses.csv")), dtype=str,
                     keep_default_na=False)
    assert list(df.columns) == ["text", "status", "flag", "note"]
    assert df["text"].is_unique
    assert set(df["status"]) - {""} <= set(STATUSES)
    assert ((df["status"] != "") | (df["flag"] != "")).all()
    assert default_statuses() is default_statuses()
    assert "已办结" in default_statuses().words()


def test_bad_vocabulary_rows_are_clear_errors() -> None:
    with pytest.raises(InputError, match="第 2 行"):
        StatusVocabulary.from_frame(pd.DataFrame({"text": ["完毕"], "status": ["完成"],
                                                  "flag": [""]}))
    with pytest.raises(InputError, match="flag"):
        StatusVocabulary.from_frame(pd.DataFrame({"text": ["完毕"], "status": ["结案"]}))
    local = StatusVocabulary.from_frame(pd.DataFrame({"text": ["完毕"], "status": ["结案"],
                                                      "flag": [""]}))
    assert local.resolve("完毕") == ("结案", None) and default_statuses().resolve("完毕") == (None, None)
