r"""Text rules for case tables: case ids and control characters (one rule on every path).

- A case id is what :func:`normalise_case_id` makes of it (Unicode NFKC, surrounding whitespace
  removed; control, format and other invisible characters, empty and over-long ids rejected).
  Every lookup of a user-given id uses the same function, so ``"SIM1 "``, ``"\tSIM1"`` and
  ``"ＳＩＭ１"`` all name case ``SIM1``. Ids are case-sensitive (``sim1`` is another id).
- No text cell may contain a control character (NUL and the other C0/C1 codes, or a lone
  surrogate); only the free-text columns ``description`` and ``address`` may contain tab and line
  breaks (``\r\n`` and ``\r`` are stored as ``\n``). A row with such a cell is rejected with a
  Chinese reason; the offending value is reported with the characters escaped (``\x00``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd

from geo.errors import InputError, Problem

CASE_ID_MAX_LEN = 64
"""Longest case id (the database column is ``VARCHAR(64)``)."""
FREE_TEXT = ("description", "address")
"""Columns that may contain tab and line breaks (every other text column: no control character)."""
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FREE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ID_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def visible(text: str, *, limit: int = 200) -> str:
    r"""``text`` (at most ``limit`` characters) with every non-printable character escaped
    (``\x00``, ``\u200b``), safe to show in a report, a log or a database column."""
    return "".join(c if c.isprintable() or c == " " else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   for c in text[:limit])


def find_control(text: str, *, free_text: bool = False) -> str | None:
    """The first control character (or lone surrogate) in ``text``, escaped as by
    :func:`visible`, or ``None``; with ``free_text`` tab and line breaks are allowed."""
    found = (_FREE_CONTROL_RE if free_text else _CONTROL_RE).search(text)
    return visible(found.group(0)) if found else None


def _normalise_id(raw: str) -> tuple[str, str | None]:
    """``(id, None)`` for a valid case id, ``("", reason)`` otherwise (see normalise_case_id)."""
    if raw.isascii() and raw.isprintable():  # fast path: the usual ``SIM2026…`` ids
        text = raw.strip()
    else:
        text = unicodedata.normalize("NFKC", raw).strip()
        bad = next((c for c in text if unicodedata.category(c) in _ID_BAD_CATEGORIES
                    or (c.isspace() and c != " ")), None)
        if bad is not None:
            return "", (f"案件编号含控制字符或不可见字符（{visible(bad)}）；"
                        "请只用字母、数字、汉字和 - _ / . 等可见字符。")
    if not text:
        return "", "案件编号为空；每行需要唯一的案件编号。"
    if len(text) > CASE_ID_MAX_LEN:
        return "", f"案件编号超过 {CASE_ID_MAX_LEN} 个字符（{len(text)} 个）；请使用更短的编号。"
    return text, None


def normalise_case_id(raw: str) -> str:
    r"""The canonical form of a user-given case id — the one rule for create, import and lookup.

    Unicode NFKC (full-width ``ＳＩＭ１`` → ``SIM1``, ideographic space → space), then surrounding
    whitespace removed. Case is kept (ids are case-sensitive).

    Parameters
    ----------
    raw : str
        The id as the user gave it (JSON field, path segment, file cell).

    Returns
    -------
    str
        The normalised id, 1–64 characters, no control, format or other invisible character.

    Raises
    ------
    InputError
        If the id is empty, too long or contains such a character (NUL, tab or newline inside,
        zero-width space, …); the message says what to fix.

    Examples
    --------
    >>> normalise_case_id(" ＳＩＭ２０２６ \t")
    'SIM2026'
    """
    text, reason = _normalise_id(str(raw))
    if reason is not None:
        raise InputError(reason)
    return text


def column_of(df: pd.DataFrame, names: dict[str, str], col: str, i: int | np.integer) -> str:
    """The file's name of the column that gave row ``i`` its ``col`` value (a fallback column
    when the preferred one was empty there)."""
    per_row = f"_col_{col}"
    if per_row in df:
        return str(df[per_row].iat[i])
    return names.get(col, col)


def row_problems(mask: np.ndarray, df: pd.DataFrame, col: str, names: dict[str, str],
                 message: str | pd.Series, *, values: pd.Series | None = None) -> list[Problem]:
    """One :class:`Problem` per row of ``mask`` for column ``col`` (value from ``values`` when
    given, else from the cell; a per-row ``message`` series or one text)."""
    idx = np.flatnonzero(mask)
    msgs = message if isinstance(message, pd.Series) else None
    vals = df[col] if values is None else values
    return [
        Problem(int(df["row"].iat[i]), column_of(df, names, col, i), str(vals.iat[i]),
                str(msgs.iat[i]) if msgs is not None else str(message))
        for i in idx
    ]


def check_text(df: pd.DataFrame, names: dict[str, str], columns: Iterable[str]) -> list[Problem]:
    """Reject cells with control characters in ``columns`` (``case_id`` is judged by
    :func:`check_ids`); the cells are cleaned so later checks report only real problems."""
    out: list[Problem] = []
    for col in [c for c in columns if c in df and c != "case_id"]:
        pattern = _FREE_CONTROL_RE if col in FREE_TEXT else _CONTROL_RE
        values = df[col].astype(str)
        suspect = ~values.map(str.isprintable).astype(bool)  # cheap pre-filter
        if not suspect.any():
            continue
        mask = (suspect & values.str.contains(pattern, regex=True)).to_numpy()
        if not mask.any():
            continue
        for i in np.flatnonzero(mask):
            value = values.iat[i]
            first = pattern.search(value)
            char = visible(first.group(0)) if first else ""
            allowed = "（可以有换行和制表符）" if col in FREE_TEXT else ""
            out.append(Problem(int(df["row"].iat[i]), column_of(df, names, col, i), visible(value),
                               f"含控制字符 {char}；文本中不能有 NUL 等不可见控制字符{allowed}，"
                               "请删除后重新导入。"))
        df.loc[mask, col] = values[mask].str.replace(pattern, "", regex=True)
    return out


def check_ids(df: pd.DataFrame, names: dict[str, str], *, unique: bool = True) -> list[Problem]:
    """Normalise ``df["case_id"]`` in place; a problem per bad id and (``unique``) per repeat."""
    raw = df["case_id"].astype(str)
    ids = raw.str.strip()
    slow = ~(raw.map(str.isascii) & raw.map(str.isprintable)).astype(bool) | (ids == "") \
        | (ids.str.len() > CASE_ID_MAX_LEN)  # the rest: plain ids, stripped
    out: list[Problem] = []
    for i in np.flatnonzero(slow.to_numpy()):
        text, reason = _normalise_id(raw.iat[i])
        ids.iat[i] = text
        if reason is not None:
            out.append(Problem(int(df["row"].iat[i]), column_of(df, names, "case_id", i),
                               visible(raw.iat[i]), reason))
    df["case_id"] = ids
    dup = (ids != "") & ids.duplicated(keep="first")
    if unique and dup.any():
        first_row = df.loc[~ids.duplicated(keep="first")].set_index("case_id")["row"]
        msg = ids[dup].map(lambda v: f"与第 {int(first_row[v])} 行的案件编号重复；同一文件中编号须唯一。")
        out += row_problems(dup.to_numpy(), df, "case_id", names, msg.reindex(df.index).fillna(""))
    return out


def as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text; missing values (None, NaN, NaT) become ``""``."""
    out = pd.DataFrame(index=table.index)
    for col in table.columns:
        values = table[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):  # fast path: ISO text in UTC
            text = values.dt.tz_convert("UTC").dt.tz_localize(None).astype(str) + "Z"
        else:
            text = values.astype(str)
        out[str(col)] = text.where(values.notna(), "")
    return out
