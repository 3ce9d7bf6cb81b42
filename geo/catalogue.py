"""The case-category catalogue: GB/T 47678.5-2026 事项 codes, names and legacy aliases.

The catalogue is a data file (``geo/data/categories.csv``) so a bureau can extend it. It holds every
non-component 事项 of GB/T 47678.5-2026 附录 C (classes 06 市容环境, 07 宣传广告, 08 施工管理,
09 街面秩序, 10 其他; the numbering gaps 06031, 07005, 09007 are as transcribed). Columns:

``code``
    5 digits (2-digit 大类 + 3-digit 小类).
``name``
    The standard's Chinese name.
``group``
    A coarse xuncha group (stall, structure, clutter, green, noise, sanitation, advertising, …).
``department``
    The usual handling department (城管 / 市政 / 园林 / 环卫).
``severity``, ``deadline_hours``
    Patrol priority 1–5 and handling deadline in hours. **Both are a local working rule of xuncha,
    not part of the standard**; a bureau should set them from its own 立结案标准.
``aliases``
    ``;``-separated legacy codes and names: older Chinese names (CJ/T 214 / GB/T 30428.2 era),
    China-Mobile ``大类-小类`` codes (``04-06``), Beijing 6-digit codes (``200501``), AI-vision labels.
``note`` (optional)
    Why an alias maps where it does, where that is an inference.

Resolution (:meth:`Catalogue.resolve`), in order:

1. the code, name or an alias (ignoring whitespace, brackets, ``-``/``_``/``/`` and full width);
2. a number: a 5-digit code; an 11-digit 事项代码 (6-digit admin code + 5-digit code) by its last
   five digits; a 4-digit code that lost its leading zero in Excel (``9006``); ``09-006``;
3. a code followed by a name (``09006 占道经营``, ``5-1 无照经营游商``, ``02_无照经营游商``): a
   catalogue code wins, else the name part, else the code part by rule 4;
4. legacy numeric forms. ``NN-MM`` (two-digit 大类) follows the GB/T 30428.2 numbering inferred
   from the China-Mobile enum: 大类 01→06, 02→07, 03→08, 04→09 (**+5**), 小类 unchanged, so
   ``04-06`` → 09006. ``C-N`` (one-digit 大类, CJ/T 214 / Beijing style) maps to the Beijing code
   ``200C0N`` where that code is a known alias (``5-1`` → 200501 → 09001; the Beijing 街面秩序
   numbering equals the CJ/T 214 mini-program list);
5. ``大类-小类`` text (``街面秩序-店外经营``, ``市容环境/私搭乱建``, ``A>B>C``): the most specific
   (last) part that resolves; then the value with bracketed text removed, or without a trailing 类.

Ambiguity across editions: in CJ/T 214 and the Beijing scheme 大类 04 is 突发事件 and 05 街面秩序,
while the GB/T 30428.2 inference has 04 = 街面秩序. The default here is the GB/T 30428.2 inference
for two-digit forms (``04-01`` → 09001) and no numeric rule for ``05-NN`` (its 47678.5 counterpart
is unknown). :meth:`Catalogue.ambiguity` returns a message for such values, to show as a warning.
Not in the catalogue: component (部件) matters of classes 01–05, CJ/T 214 突发事件 other than
snow/ice and cables, 黑车拉客 (a traffic-police matter).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from geo.errors import InputError, Problem, ValidationError
from geo.io.tables import read_catalogue

STALL_CODES = ("09006", "09001", "09005", "09002")
"""Street-trading categories: the demand for stall-relocation points (疏导点)."""

LEGACY_SHIFT = {"01": "06", "02": "07", "03": "08", "04": "09"}
"""Two-digit legacy 事件大类 (GB/T 30428.2, inferred) → GB/T 47678.5 大类."""

AMBIGUOUS_LEGACY_CLASSES = {
    "04": "GB/T 30428.2（推断）为街面秩序，CJ/T 214/北京旧编号为突发事件",
    "05": "CJ/T 214/北京旧编号为街面秩序，GB/T 30428.2 中含义未确认",
}
"""Legacy two-digit 大类 whose meaning depends on the edition that produced the data."""

_PUNCT = re.compile(r"[\s（）()、,，·\-_/]+")
_HIER = re.compile(r"\s*[-－—–>＞|｜/\\]\s*")
_BRACKETS = re.compile(r"[（(][^（()）]*[)）]")
_CODE_THEN_NAME = re.compile(r"^([0-9][0-9._\-]*)[\s_:：、.]*([^\s0-9._\-].*)$")
_LEGACY2 = re.compile(r"^(\d{2})[-_.](\d{2})$")
_SPLIT3 = re.compile(r"^(\d{2})[-_.](\d{3})$")
_LEGACY1 = re.compile(r"^(\d)[-_.](\d{1,2})$")


def _clean(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def _norm(text: str) -> str:
    return _PUNCT.sub("", _clean(text)).lower()


def _prefix_len(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


@dataclass(frozen=True)
class Catalogue:
    """Lookup of categories by code, name or alias.

    Treat an instance as read-only; :meth:`with_aliases` returns a new one.

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
        """Return the 5-digit code for a code, name, alias or legacy form; ``None`` if unknown.

        See the module docstring for the rules (``09006 占道经营``, ``04-06``, ``5-1 无照经营游商``,
        ``街面秩序-店外经营`` …).
        """
        text = _clean(value)
        if not _norm(text):
            return None
        code = self._exact(text) or self._numeric(text)
        if code:
            return code
        m = _CODE_THEN_NAME.match(text)
        if m:
            num = m.group(1).rstrip("._-")
            return self._numeric(num, legacy=False) or self._named(m.group(2)) or self._numeric(num)
        return self._named(text)

    def _exact(self, text: str) -> str | None:
        return self._lookup.get(_norm(text))

    def _numeric(self, text: str, *, legacy: bool = True) -> str | None:
        """Codes written as numbers; ``legacy=False`` keeps only unambiguous 47678.5 forms."""
        t = text.strip()
        if t.endswith(".0") and t[:-2].isdigit():
            t = t[:-2]
        if t.isdigit():
            cand = {5: t, 11: t[-5:], 4: t.zfill(5)}.get(len(t))
            return cand if cand in self.table.index else None
        m = _SPLIT3.match(t)
        if m and m.group(1) + m.group(2) in self.table.index:
            return m.group(1) + m.group(2)
        if not legacy:
            return None
        m = _LEGACY2.match(t)
        if m:
            if m.group(1) in LEGACY_SHIFT:
                cand = f"{LEGACY_SHIFT[m.group(1)]}0{m.group(2)}"
                return cand if cand in self.table.index else None
            return None
        m = _LEGACY1.match(t)
        if m:
            return self._lookup.get(f"200{m.group(1)}{int(m.group(2)):02d}")
        return None

    def _named(self, text: str) -> str | None:
        parts = [p for p in _HIER.split(text) if _norm(p)]
        for part in reversed(parts):
            code = self._exact(part) or self._exact(part.removesuffix("类"))
            if code:
                return code
        bare = _BRACKETS.sub("", text)
        if bare != text and _norm(bare):
            return self._named(bare)
        return None

    def resolve_many(self, values: pd.Series) -> pd.Series:
        """Vectorised :meth:`resolve` (each distinct value looked up once)."""
        uniq = {v: self.resolve(v) for v in pd.unique(values.astype(str))}
        return values.astype(str).map(uniq)

    def ambiguity(self, value: str) -> str | None:
        """A Chinese warning when ``value`` is a legacy code whose meaning depends on the edition.

        ``None`` when the value is unambiguous (or unknown). Use it to warn, not to reject.
        """
        t = _clean(value)
        m = re.match(r"^(\d{2})[-_.](\d{2})(?!\d)", t)
        named = _CODE_THEN_NAME.match(t)
        if named and self._named(named.group(2)):
            return None  # the name part settles the edition question
        if m and m.group(1) in AMBIGUOUS_LEGACY_CLASSES:
            code = self.resolve(t)
            got = f"按默认规则识别为 {code} {self.name(code)}" if code else "未能按编号识别"
            return (f"旧编码「{t}」的大类 {m.group(1)} 在不同版本中含义不同"
                    f"（{AMBIGUOUS_LEGACY_CLASSES[m.group(1)]}），{got}；"
                    "请核对数据来源采用的标准版本，必要时在本地别名表中指定。")
        if re.fullmatch(r"\d{4}(\.0)?", t) and (code := self.resolve(t)):
            return (f"编码「{t}」只有 4 位，已按丢失前导零的国标编码识别为 {code} "
                    f"{self.name(code)}；请把该列设为文本格式后重新导出。")
        return None

    def closest(self, value: str, *, n: int = 3, cutoff: float = 0.4) -> list[tuple[str, str]]:
        """Up to ``n`` ``(code, name)`` suggestions for an unrecognised ``value``, best first.

        Similarity is :class:`difflib.SequenceMatcher` on the normalised text against every name
        and alias (codes too when the value contains digits); a category scores its best key.
        Parts of a ``大类-小类`` value are compared on their own as well.
        """
        queries = {_norm(value), *(_norm(p) for p in _HIER.split(_clean(value)))} - {""}
        with_digits = any(ch.isdigit() for q in queries for ch in q)
        best: dict[str, tuple[float, int, int]] = {}
        matcher = difflib.SequenceMatcher(autojunk=False)
        for key, code in self._lookup.items():
            if key.isdigit() and not with_digits:
                continue
            matcher.set_seq1(key)
            for q in queries:
                matcher.set_seq2(q)
                if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
                    continue
                # ties: longer common prefix, then nearer number (09007 → 09006, 09008, 09005)
                near = -abs(int(key) - int(q)) if key.isdigit() and q.isdigit() else 0
                score = (matcher.ratio(), _prefix_len(key, q), near)
                if score[0] >= cutoff and score > best.get(code, (0.0, 0, 0)):
                    best[code] = score
        ranked = sorted(best, key=lambda c: (tuple(-x for x in best[c]), c))[: max(int(n), 0)]
        return [(c, self.name(c)) for c in ranked]

    def with_aliases(self, frame: pd.DataFrame) -> Catalogue:
        """A new catalogue extended by a deployment's local alias table (this one is unchanged).

        Parameters
        ----------
        frame : pandas.DataFrame
            Columns ``alias`` (or 别名) and ``code`` (or 编码); one row per local name or code.
            Row numbers in messages count the header as row 1. A local alias overrides a shipped
            alias with the same text.

        Raises
        ------
        InputError
            If a column is missing; :class:`geo.errors.ValidationError` (an InputError) naming
            every row whose code is not in the catalogue, whose alias is empty or a catalogue code,
            or whose alias repeats an earlier row with a different code.
        """
        cols = {_clean(c).lower(): c for c in frame.columns}
        a_col = cols.get("alias", cols.get("别名"))
        c_col = cols.get("code", cols.get("编码"))
        if a_col is None or c_col is None:
            raise InputError("本地别名表需要两列：alias（别名）和 code（国标编码）；"
                             f"现有列：{'、'.join(map(str, frame.columns)) or '无'}。")
        problems: list[Problem] = []
        added: dict[str, tuple[str, int, str]] = {}
        for i, (alias, code) in enumerate(zip(frame[a_col], frame[c_col], strict=True), start=2):
            alias_t = "" if pd.isna(alias) else _clean(alias)
            code_t = "" if pd.isna(code) else _clean(code)
            if code_t.removesuffix(".0").isdigit() and len(code_t.removesuffix(".0")) == 4:
                code_t = code_t.removesuffix(".0").zfill(5)
            key = _norm(alias_t)
            if not key:
                problems.append(Problem(i, str(a_col), alias_t, "别名为空；请填写本地使用的类别名称或编码。"))
            elif key in self.table.index and key != code_t:
                problems.append(Problem(i, str(a_col), alias_t,
                                        "别名不能是另一个国标编码；请改用本地名称。"))
            elif code_t not in self.table.index:
                hint = self.resolve(code_t) if code_t else None
                tip = f"「{code_t}」对应的编码是 {hint}，" if hint else ""
                problems.append(Problem(i, str(c_col), code_t,
                                        f"编码不在类别目录中（别名「{alias_t}」）；{tip}"
                                        "请填写 5 位国标编码，如 09006。"))
            elif key in added and added[key][0] != code_t:
                problems.append(Problem(i, str(a_col), alias_t,
                                        f"别名与第 {added[key][1]} 行重复但编码不同；请只保留一个。"))
            else:
                added[key] = (code_t, i, alias_t)
        if problems:
            raise ValidationError(problems, what="本地别名表")
        table = self.table.copy()
        for code, _, text in added.values():
            table.at[code, "aliases"] = ";".join(filter(None, [table.at[code, "aliases"], text]))
        local = {key: code for key, (code, _, _) in added.items()}
        return Catalogue(table=table, _lookup={**self._lookup, **local})

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


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The catalogue shipped with xuncha, read and indexed once per process (treat as read-only)."""
    return Catalogue.from_frame(read_catalogue())
