"""The case-status vocabulary: real export states mapped onto xuncha's workflow statuses.

Exports from 数字城管 (eUrbanMIS), 12345 hotlines and vendor platforms name case states in many ways
(待受理, 办理中, 已办结, 已退单, 立案派遣, 挂账 …). ``geo/data/statuses.csv`` maps each known text to
one of the workflow statuses 上报 / 立案 / 派遣 / 处置 / 核查 / 结案 / 作废 and, optionally, a
flag (挂账, 督查, 督办, 延期, 返工, 超期) that is not a workflow step. Columns: ``text``, ``status``
(empty for a flag-only word such as 超期), ``flag``, ``note`` (source or reasoning).

Decisions worth knowing (details in the file's ``note`` column):

* 待受理 / 已受理 / 登记 / 区受理 → 上报 (taken in, not yet filed); 已立案 / 待派遣 → 立案.
* 立案派遣 → 派遣: eUrbanMIS ``eventStateId`` 3 covers filing and dispatch together and is followed
  by 4 处理中, and dispatch is when the handling clock starts.
* 挂账, 督查, 督办, 延期, 返工 → 处置 with that flag (the case is still being handled).
* 已退单 / 不立案 / 注销 / 撤销 → 作废 (not handled by this bureau).

:meth:`StatusVocabulary.resolve` also reads compound values: ``办理中（超期）``,
``处理中/延期`` → the status of the first part that has one, flags of all parts joined with 、.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from geo.errors import InputError
from geo.io.tables import read_package_text
from geo.labels import STATUSES

WORKFLOW_STATUSES = STATUSES
"""The workflow statuses a vocabulary entry may map to (same order as ``geo.cases.STATUSES``)."""

_SPACE = re.compile(r"\s+")
_PARTS = re.compile(r"[\s()\[\]【】/、,;|\-—]+")  # applied after NFKC (full width folded)


def _key(text: object) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text))).lower()


@dataclass(frozen=True)
class StatusVocabulary:
    """Lookup of export status texts → ``(status, flag)``.

    Attributes
    ----------
    table : pandas.DataFrame
        The vocabulary rows (columns ``text``, ``status``, ``flag``, ``note``).
    """

    table: pd.DataFrame
    _lookup: dict[str, tuple[str | None, str | None]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> StatusVocabulary:
        """Build a vocabulary from a frame with the columns of ``statuses.csv``.

        Raises
        ------
        InputError
            If a column is missing, a row has no text, or a status is not a workflow status.
        """
        missing = [c for c in ("text", "status", "flag") if c not in df.columns]
        if missing:
            raise InputError(f"状态词表缺少列「{'、'.join(missing)}」；需要 text、status、flag 三列。")
        table = df.fillna("").astype(str)
        lookup: dict[str, tuple[str | None, str | None]] = {}
        for i, row in enumerate(table.itertuples(index=False), start=2):
            key, status, flag = _key(row.text), row.status.strip(), row.flag.strip()
            if not key:
                raise InputError(f"状态词表第 {i} 行的 text 为空；请填写导出文件中的状态文字。")
            if status and status not in WORKFLOW_STATUSES:
                raise InputError(f"状态词表第 {i} 行（「{row.text}」）的 status「{status}」无效；"
                                 f"请使用 {'/'.join(WORKFLOW_STATUSES)} 之一，或留空只作标记。")
            if not status and not flag:
                raise InputError(f"状态词表第 {i} 行（「{row.text}」）的 status 和 flag 都为空；"
                                 "请至少填写一项。")
            lookup.setdefault(key, (status or None, flag or None))
        return cls(table=table, _lookup=lookup)

    def resolve(self, text: object) -> tuple[str | None, str | None]:
        """``(status, flag)`` for an export status text; ``(None, None)`` if unknown.

        Whitespace and full-width forms are ignored and English is case-insensitive. A compound
        text (``已办结（超期）``) takes the status of its first part that has one and the flags of
        all its parts; it is unknown if any part is unknown.
        """
        if text is None or (isinstance(text, float) and pd.isna(text)):
            return None, None
        key = _key(text)
        if not key:
            return None, None
        if key in self._lookup:
            return self._lookup[key]
        parts = [_key(p) for p in _PARTS.split(unicodedata.normalize("NFKC", str(text))) if p]
        hits = [self._lookup.get(p) for p in parts]
        if len(parts) < 2 or any(h is None for h in hits):
            return None, None
        found = [h for h in hits if h is not None]
        status = next((s for s, _ in found if s), None)
        flags = list(dict.fromkeys(f for _, f in found if f))
        return status, "、".join(flags) or None

    def resolve_many(self, values: pd.Series) -> pd.DataFrame:
        """Vectorised :meth:`resolve`: a frame with columns ``status`` and ``flag`` (``None`` where
        unknown or absent), on the index of ``values``; each distinct text is looked up once."""
        text = values.astype(str).where(values.notna(), "")
        uniq = {v: self.resolve(v) for v in pd.unique(text)}
        pairs = [uniq[v] for v in text]
        return pd.DataFrame({"status": pd.Series([p[0] for p in pairs], dtype=object),
                             "flag": pd.Series([p[1] for p in pairs], dtype=object)}
                            ).set_axis(values.index)

    def words(self) -> list[str]:
        """Every known status text, in file order (for messages listing accepted values)."""
        return self.table["text"].tolist()


@lru_cache(maxsize=1)
def default_statuses() -> StatusVocabulary:
    """The vocabulary shipped with xuncha (``geo/data/statuses.csv``), read once per process."""
    text = read_package_text("statuses.csv")
    return StatusVocabulary.from_frame(pd.read_csv(io.StringIO(text), dtype=str,
                                                   keep_default_na=False))
