"""Re-import rules: an imported row merged onto the stored case never loses work.

A case export is a snapshot of another system; the service moves cases on (a squad dispatches,
handles, closes). When the same case comes in again, :func:`merge_case` decides what to keep:

- the file states no status (no status column, an empty or flag-only cell, no closure time):
  the stored status, flag and closure time stay;
- the file's status is the stored one: the file's flag and closure time (if any) apply;
- the file's status is further along the workflow (上报 → 立案 → 派遣 → 处置 → 核查 → 结案/作废):
  it applies, and the change is reported;
- the file's status is behind the stored one, or another final status (结案 vs 作废): the stored
  one stays and the row is reported (``库中已到派遣，文件为上报，保留库中状态``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geo.labels import STATUSES

FINAL = ("结案", "作废")
STATUS_RANK = {s: (len(STATUSES) if s in FINAL else i) for i, s in enumerate(STATUSES)}
"""Position of each status along the workflow (结案 and 作废 share the last place)."""
KEPT_STATUS = "库中已到{stored}，文件为{file}，保留库中状态"
"""Remark for a row whose status is behind the stored one (formatted with both statuses)."""


@dataclass(frozen=True)
class Merged:
    """Outcome of :func:`merge_case`.

    Attributes
    ----------
    values : dict
        The values to store (the file's, with status, flag and closure time settled).
    change : tuple of (str, str) or None
        ``(from, to)`` when the stored status changes.
    kept : str or None
        The remark when a stored status was kept against the file's.
    same : bool
        Every compared value equals the stored one: nothing needs to be written.
    """

    values: dict[str, Any]
    change: tuple[str, str] | None
    kept: str | None
    same: bool


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-12 * max(1.0, abs(a))
    return bool(a == b)


def merge_case(row: Mapping[str, Any], stored: Mapping[str, Any], *, given: bool,
               compare: tuple[str, ...]) -> Merged:
    """Merge an imported ``row`` onto the ``stored`` case by the rules of this module.

    Parameters
    ----------
    row : mapping
        The imported values (``status``, ``status_flag``, ``closed_at`` and the others).
    stored : mapping
        The stored values of the same case (at least the keys of ``compare``).
    given : bool
        Whether the file states the status of this row.
    compare : tuple of str
        The columns compared to decide whether anything changes.
    """
    values = dict(row)
    old, new = stored["status"], row["status"]
    change = kept = None
    keep_stored = not given or (new != old and STATUS_RANK.get(new, 0) <= STATUS_RANK.get(old, 0))
    if keep_stored:
        values["status"], values["status_flag"] = old, stored.get("status_flag")
        kept = KEPT_STATUS.format(stored=old, file=new) if given else None
    elif new != old:
        change = (old, new)
    if values.get("closed_at") is None and (keep_stored or new == old):
        values["closed_at"] = stored.get("closed_at")
    same = all(_equal(values.get(c), stored.get(c)) for c in compare)
    return Merged(values, change, kept, same)
