"""Where cases come from: the discovery-source vocabulary (巡查发现, 12345热线, 市民投诉 …).

Each case's source text maps to one of :data:`DISCOVERY_KINDS` through ``geo/data/sources.csv``
(:func:`default_sources`); only ``patrol`` depends on where the squads went
(:mod:`geo.analysis.effort` scores it per patrol-hour).
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

DISCOVERY_KINDS = ("patrol", "complaint", "hotline_12345", "video", "referral")
"""How a case was found: by the squad's patrol, a citizen's complaint, the 12345 hotline, video,
or referred (上级交办, 监督员上报, 数字城管派件)."""

DISCOVERY_NAMES = {"patrol": "巡查发现", "complaint": "群众投诉", "hotline_12345": "12345热线",
                   "video": "视频发现", "referral": "交办转办"}
"""Chinese name of each discovery kind."""

EFFORT_KINDS = frozenset({"patrol"})
"""Kinds whose counts depend on where the squads patrolled (scored per patrol-hour)."""

_SPACE = re.compile(r"\s+")


def _key(text: object) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text))).lower()


@dataclass(frozen=True)
class SourceVocabulary:
    """Lookup of export source texts (``来源``) → discovery kind.

    Attributes
    ----------
    table : pandas.DataFrame
        The vocabulary rows (columns ``text``, ``kind``, ``note``).
    """

    table: pd.DataFrame
    _lookup: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> SourceVocabulary:
        """Build a vocabulary from a frame with the columns of ``sources.csv``.

        Raises
        ------
        InputError
            If a column is missing, a text is empty or a kind is not in :data:`DISCOVERY_KINDS`.
        """
        missing = [c for c in ("text", "kind") if c not in df.columns]
        if missing:
            raise InputError(f"来源词表缺少列「{'、'.join(missing)}」；需要 text、kind 两列。")
        table = df.fillna("").astype(str)
        lookup: dict[str, str] = {}
        for i, row in enumerate(table.itertuples(index=False), start=2):
            key, kind = _key(row.text), row.kind.strip()
            if not key:
                raise InputError(f"来源词表第 {i} 行的 text 为空；请填写导出文件中的来源文字。")
            if kind not in DISCOVERY_KINDS:
                raise InputError(f"来源词表第 {i} 行（「{row.text}」）的 kind「{kind}」无效；"
                                 f"请使用 {'/'.join(DISCOVERY_KINDS)} 之一。")
            lookup.setdefault(key, kind)
        return cls(table=table, _lookup=lookup)

    def resolve(self, text: object) -> str | None:
        """The discovery kind of a source text; ``None`` when empty or unknown.

        Whitespace and full-width forms are ignored, English is case-insensitive. A text that is
        not in the table takes the kind of the longest known word it contains
        (``孝南区12345转办`` → ``hotline_12345``).
        """
        if text is None or (isinstance(text, float) and pd.isna(text)):
            return None
        key = _key(text)
        if not key:
            return None
        if key in self._lookup:
            return self._lookup[key]
        hits = [w for w in self._lookup if len(w) >= 2 and w in key]
        return self._lookup[max(hits, key=len)] if hits else None

    def resolve_many(self, values: pd.Series) -> pd.Series:
        """Vectorised :meth:`resolve` on the index of ``values`` (``None`` where unknown)."""
        uniq = {v: self.resolve(v) for v in pd.unique(values.astype(object))}
        return pd.Series([uniq[v] for v in values.astype(object)], index=values.index,
                         dtype=object, name="discovery")


@lru_cache(maxsize=1)
def default_sources() -> SourceVocabulary:
    """The vocabulary shipped with xuncha (``geo/data/sources.csv``), read once per process."""
    text = read_package_text("sources.csv")
    return SourceVocabulary.from_frame(pd.read_csv(io.StringIO(text), dtype=str,
                                                   keep_default_na=False))
