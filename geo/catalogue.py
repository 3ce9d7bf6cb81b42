"""The case-category catalogue: national codes (GB/T 30428.2 / GB/T 47678.5), names and aliases.

The catalogue is a data file (``geo/data/categories.csv``) so a bureau can extend it. Columns:
``code`` (5 digits), ``name``, ``group`` (stall, structure, clutter, green, noise, …), ``department``,
``severity`` (1–5, used for patrol priority), ``deadline_hours`` (a local working rule, not part of
the standard) and ``aliases`` (legacy codes and local names, ``;``-separated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from geo.io import read_catalogue

STALL_CODES = ("09006", "09001", "09005", "09002")
"""Street-trading categories: the demand for stall-relocation points (疏导点)."""

_PUNCT = re.compile(r"[\s（）()、,，·\-_/]+")


def _norm(text: str) -> str:
    return _PUNCT.sub("", str(text)).strip().lower()


@dataclass(frozen=True)
class Catalogue:
    """Lookup of categories by code, name or alias.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per category, indexed by ``code``.
    """

    table: pd.DataFrame
    _lookup: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Catalogue:
        """Build a catalogue from a frame with the columns of ``categories.csv``."""
        table = df.astype(str).set_index("code", drop=False)
        lookup: dict[str, str] = {}
        for row in table.itertuples(index=False):
            keys = [row.code, row.name, *[a for a in str(row.aliases).split(";") if a]]
            for key in keys:
                lookup.setdefault(_norm(key), row.code)
        return cls(table=table, _lookup=lookup)

    def resolve(self, value: str) -> str | None:
        """Return the 5-digit code for a code, Chinese name or alias; ``None`` if unknown.

        A value like ``"09006 占道经营"`` (code and name together) resolves by its code.
        """
        key = _norm(value)
        if not key:
            return None
        if key in self._lookup:
            return self._lookup[key]
        head = re.match(r"^(\d{5})", key)
        if head and head.group(1) in self._lookup:
            return self._lookup[head.group(1)]
        return None

    def resolve_many(self, values: pd.Series) -> pd.Series:
        """Vectorised :meth:`resolve` (each distinct value looked up once)."""
        uniq = {v: self.resolve(v) for v in pd.unique(values.astype(str))}
        return values.astype(str).map(uniq)

    def name(self, code: str) -> str:
        """The Chinese name of ``code`` (the code itself if unknown)."""
        return str(self.table["name"].get(code, code))

    def codes_in_group(self, group: str) -> list[str]:
        """Codes whose ``group`` column equals ``group`` (e.g. ``"stall"``)."""
        return self.table.index[self.table["group"] == group].tolist()

    def severity(self, code: str) -> int:
        """Severity 1–5 of ``code`` (2 if unknown)."""
        sev = self.table["severity"].get(code)
        return int(sev) if sev is not None else 2

    def deadline_hours(self, code: str) -> int:
        """Local handling deadline for ``code`` in hours (72 if unknown)."""
        value = self.table["deadline_hours"].get(code)
        return int(value) if value else 72


def default_catalogue() -> Catalogue:
    """The catalogue shipped with xuncha."""
    return Catalogue.from_frame(read_catalogue())
