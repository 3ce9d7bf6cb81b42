"""Monthly partitions of ``cases`` on PostgreSQL (declarative range partitioning by ``reported_at``).

Migration 0013 makes ``cases`` a table ``PARTITION BY RANGE (reported_at)`` with one partition
per calendar month **in UTC**, named ``cases_y2026m05`` (rows from 2026-05-01 00:00 UTC up to,
not including, 2026-06-01 00:00 UTC), and no default partition: a row of a month that has no
partition is refused by the server, which :func:`missing_partition` turns into a message that
says which month and what to do. Every index is declared on the parent, so each partition gets
its own (GiST on ``geom``, ``(squad_id, reported_at)``, ``(reported_at, id)`` …).

Case ids cannot be unique on a partitioned table unless the key holds the partition column, and
``UNIQUE (case_id, reported_at)`` would let one case exist in two months. The registry
``case_keys (id PRIMARY KEY, case_id UNIQUE)`` therefore hands out the row ids and holds the
uniqueness of case numbers; ``cases.id`` and every table that pointed at ``cases.id``
(``case_events``, ``case_photos``) reference ``case_keys.id`` instead.

Imports call :func:`ensure_partitions` for the months of their rows, in a short transaction of
its own before the import's (``CREATE TABLE … PARTITION OF`` locks the parent exclusively, and
holding that lock for the length of an import would stop every reader); an import that fails
or is killed after it leaves at most empty partitions behind, never a row. SQLite keeps one
unpartitioned table: every function here is a no-op there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.errors import InputError
from service.errors import ConflictError

PARENT = "cases"
FIRST_YEAR, LAST_YEAR = 1970, 2200
"""Months a partition may be made for (a reported time outside is a mistake in the data)."""
_NAME = re.compile(r"^cases_y(\d{4})m(\d{2})$")


class PartitionBusy(ConflictError):  # noqa: N818 - reads better at the raise site
    """The partitions an import needs could not be made: the table stayed busy (409)."""


class MissingPartition(InputError):  # noqa: N818 - reads better at the raise site
    """A row of a month without a partition of ``cases`` (400)."""


@dataclass(frozen=True)
class Partition:
    """One monthly partition: its table name, month (first day) and bounds as stored."""

    name: str
    month: date
    bounds: str


def _bind(conn: Connection | Session) -> Connection:
    return conn.connection() if isinstance(conn, Session) else conn


def is_partitioned(conn: Connection | Session) -> bool:
    """Whether ``cases`` is a partitioned table (PostgreSQL after migration 0013)."""
    c = _bind(conn)
    if c.dialect.name != "postgresql":
        return False
    kind = c.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"),
                     {"t": PARENT}).scalar()
    return kind == "p"


def month_of(when: datetime | date) -> date:
    """The first day of ``when``'s month in UTC (a date is taken as it is)."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("naive datetime given to month_of")
        when = when.astimezone(UTC)
    return date(when.year, when.month, 1)


def months_of(times: Iterable[datetime | date | None]) -> set[date]:
    """The set of UTC months of ``times`` (``None`` skipped)."""
    return {month_of(t) for t in times if t is not None}


def partition_name(month: date) -> str:
    """``cases_y2026m05`` for May 2026."""
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def _check(month: date) -> date:
    if not isinstance(month, date) or month.day != 1:
        raise InputError(f"分区月份「{month}」无效：应为某月的第一天（如 2026-05-01）。")
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise InputError(
            f"案件时间所在月份 {month:%Y-%m} 超出可建分区的范围（{FIRST_YEAR}–{LAST_YEAR} 年）："
            "请检查文件中上报时间一列（常见原因：年份写错、把编号或 Excel 序号当成了时间）。")
    return month


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def ensure_partitions(conn: Connection | Session, months: Iterable[date]) -> list[str]:
    """Create the partitions of ``months`` that do not exist yet; the names created.

    Raises
    ------
    InputError
        If a month is not a first day, or lies outside :data:`FIRST_YEAR`–:data:`LAST_YEAR`
        (nothing is created then).
    """
    c = _bind(conn)
    wanted = sorted({_check(m) for m in months})
    if not wanted or not is_partitioned(c):
        return []
    have = {p.month for p in list_partitions(c)}
    made = []
    for m in (m for m in wanted if m not in have):
        name = partition_name(m)
        c.execute(text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} FOR VALUES "
                       f"FROM ('{m.isoformat()} 00:00:00+00') TO ('{_next(m).isoformat()} "
                       "00:00:00+00')"))
        made.append(name)
    return made


def ensure_partitions_now(engine: Engine, months: Iterable[date], *, tries: int = 20,
                          lock_timeout_s: float = 2.0) -> list[str]:
    """:func:`ensure_partitions` committed at once, in a short transaction of its own.

    Making a partition needs the parent's exclusive lock, which waits for every transaction
    that uses ``cases`` (another import, a long report) and meanwhile queues every new reader
    behind it: so each try waits at most ``lock_timeout_s`` and gives way, up to ``tries``
    times (another import making the same month at the same time is a lost race: try again).

    Raises
    ------
    PartitionBusy
        If the lock could not be had in any try (nothing created; the caller stores nothing).
    """
    wanted = {_check(m) for m in months}
    if engine.dialect.name != "postgresql" or not wanted:
        return []
    for attempt in range(tries):
        try:
            with engine.begin() as c:
                c.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_s * 1000)}ms'"))
                return ensure_partitions(c, wanted)
        except DBAPIError as exc:  # 55P03 lock timeout; 42P07 / 23505 made meanwhile
            if getattr(exc.orig, "sqlstate", None) not in ("55P03", "42P07", "23505"):
                raise
            time.sleep(min(0.05 * 2 ** attempt, 1.0))
    raise PartitionBusy("案件表正被其他导入或长时间查询占用，暂时无法新建月份分区；本次导入没有保存"
                        "任何内容，请稍后重试。")


def list_partitions(conn: Connection | Session) -> list[Partition]:
    """The partitions of ``cases``, oldest month first (empty on SQLite or unpartitioned)."""
    c = _bind(conn)
    if c.dialect.name != "postgresql":
        return []
    rows = c.execute(text(
        "SELECT child.relname, pg_get_expr(child.relpartbound, child.oid) FROM pg_inherits i "
        "JOIN pg_class child ON child.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t) AND child.relkind IN ('r', 'p')"), {"t": PARENT})
    out = []
    for name, bounds in rows:
        found = _NAME.match(str(name))
        if found:
            out.append(Partition(str(name), date(int(found[1]), int(found[2]), 1), str(bounds)))
    return sorted(out, key=lambda p: p.month)


def missing_partition(exc: BaseException, months: Iterable[date] = ()) -> MissingPartition | None:
    """A :class:`MissingPartition` explaining ``exc`` if it is the server's "no partition of
    relation cases found for row" (SQLSTATE 23514), else ``None``."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if getattr(orig, "sqlstate", None) != "23514" or "no partition" not in str(orig):
        return None
    named = ", ".join(f"{m:%Y-%m}" for m in sorted(months)) or "（未知）"
    return MissingPartition(
        f"案件表按月分区，而要写入的案件所在月份（UTC）没有分区（本次涉及月份：{named}）；"
        "没有保存任何内容。请通过导入功能写入案件（导入会先建好所需月份的分区），"
        "或由管理员调用 service.partitions.ensure_partitions 建好该月分区后重试。")


def analyze_months(engine: Engine, months: Iterable[date]) -> bool:
    """Refresh the planner's statistics of the partitions of ``months`` and of ``case_keys``
    (not of the whole table: on PostgreSQL 15 ``ANALYZE cases`` samples every partition again,
    which grows with the table); ``False`` where ``cases`` is not partitioned (nothing done)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.begin() as c:
        if not is_partitioned(c):
            return False
        have = {p.month: p.name for p in list_partitions(c)}
        names = [have[m] for m in sorted(set(months)) if m in have]
        c.execute(text("ANALYZE " + ", ".join(["case_keys", *names])))
    return True
