"""Plans made ahead, so that no dashboard of the plan window waits for the planner.

:func:`start_preparing` (at start-up, in a daemon thread; safe in every worker: the plan jobs
make each plan once) runs :func:`prepare_window` now and then every :data:`REFRESH_S`:

1. the missing plans of every squad for today and tomorrow (the days people open first);
2. the missing plans of the rest of the read window (+2 … +7 days,
   :data:`service.pages_data.PLAN_WINDOW`), and, once a day, those days' plans made ahead on an
   earlier day again (:func:`stale_prepared`), so a plan made ahead uses yesterday's cases;
   a plan somebody generated (``POST``, ``xuncha plan``, a page view) is never replaced;
3. the first time, the heavy imports, then the dashboard layers (hotspots, and the forecast of
   its map) of every squad for today and tomorrow, and once the plans are made those of the
   rest of the window (:func:`warm_layers`; later runs: today and tomorrow). Each layer is
   stored once per data version for every worker (:mod:`service.analysis_layers`), so the first
   dashboard of any day of the window reads stored rows; a layer already stored for the
   current version is only read.

Today's plan follows the clock (:func:`service.plan_clock.prepare`): a server started during
the shift plans only what is left of it, from then. A whole window for five squads is about
40 plans (1–2 s of CPU each) at the first start; after that a few a day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from geo.errors import InputError, NotFoundError
from geo.planning.clock import day_start
from service.models import Plan
from service.pages_data import PLAN_WINDOW
from service.plan_clock import prepare, remake
from service.settings import Settings
from service.storage import Storage

_log = logging.getLogger("service.pages_data")  # where these messages were always logged
PREPARED_BY = "prepare"
"""``created_by`` of the plans made ahead (the only ones the daily refresh replaces)."""
REFRESH_S = 3600.0
"""How often the preparing thread looks for missing (a new day in the window) or stale plans."""
FIRST_DAYS = (0, 1)
"""Prepared first: today and tomorrow."""


def prepare_plans(storage: Storage, settings: Settings, *, days: Sequence[int] = FIRST_DAYS,
                  now: datetime | None = None) -> int:
    """Make the missing plans of every squad for today + each of ``days`` under the shared plan
    job (today's from ``now``, :func:`service.plan_clock.prepare`); how many were made."""
    now = now or datetime.now(ZoneInfo(settings.timezone))
    made = 0
    for offset in days:
        day = now.date() + timedelta(days=offset)
        for squad in storage.squads():
            made += prepare(storage, settings, squad, day, now=now, actor=PREPARED_BY)
    return made


def stale_prepared(storage: Storage, day: date, today: date, tz: str) -> list[str]:
    """Squads whose plan of ``day`` was made ahead (:data:`PREPARED_BY`) before ``today``."""
    with storage.begin() as session:
        return list(session.scalars(select(Plan.squad_id).where(
            Plan.plan_date == day, Plan.created_by == PREPARED_BY,
            Plan.created_at < day_start(today, tz))).all())


def refresh_stale(storage: Storage, settings: Settings, *, now: datetime | None = None) -> int:
    """Plan again the days +2 … +7 whose plans were made ahead on an earlier day; how many."""
    now = now or datetime.now(ZoneInfo(settings.timezone))
    squads = {str(sq["id"]): sq for sq in storage.squads()}
    done = 0
    for offset in range(FIRST_DAYS[-1] + 1, PLAN_WINDOW[1] + 1):
        day = now.date() + timedelta(days=offset)
        for sid in stale_prepared(storage, day, now.date(), settings.timezone):
            if sid in squads:
                remake(storage, settings, squads[sid], day, actor=PREPARED_BY)
                done += 1
    return done


def warm_layers(storage: Storage, settings: Settings, *, days: Sequence[int] = FIRST_DAYS,
                now: datetime | None = None) -> int:
    """Compute and store the dashboard layers of every squad for today + each of ``days``: the
    hotspot table and the map's hotspots and forecast (:mod:`service.analysis_layers`); how many
    layers were computed (those stored for the current data version are only read)."""
    from service import layer_store, pages_data
    from service.pages_views import hotspot_rows

    today = (now or datetime.now(ZoneInfo(settings.timezone))).date()
    before = layer_store.writes()
    for offset in days:
        day = today + timedelta(days=offset)
        for squad in storage.squads():
            sid = str(squad["id"])
            hotspot_rows(storage, settings, sid, day)
            with suppress(InputError, NotFoundError):  # too few cases, no area: no forecast
                pages_data.forecast(storage, settings, (sid,), at=day, top=60)
    return layer_store.writes() - before


def warm_dashboards(storage: Storage, settings: Settings) -> None:
    """Import the heavy libraries of the first layer and sheet and store the dashboard layers
    of every squad for today and tomorrow (:func:`warm_layers`)."""
    import geo.analysis.hotspots  # scipy, sklearn: seconds on first use
    import geo.sheets  # noqa: F401

    warm_layers(storage, settings)


def prepare_window(storage: Storage, settings: Settings, *, warm: bool = True) -> int:
    """Steps 1–3 of the module text once (the whole window's layers when ``warm``, else today's
    and tomorrow's); how many plans were made or made again."""
    t0 = time.perf_counter()
    made = prepare_plans(storage, settings)
    if warm:
        warm_dashboards(storage, settings)
    made += prepare_plans(storage, settings,
                          days=range(FIRST_DAYS[-1] + 1, PLAN_WINDOW[1] + 1))
    made += refresh_stale(storage, settings)
    n = warm_layers(storage, settings,
                    days=range(PLAN_WINDOW[1] + 1) if warm else FIRST_DAYS)
    _log.info("提前生成计划：%d 个，图层 %d 个，用时 %.1f 秒", made, n, time.perf_counter() - t0)
    return made


def start_preparing(storage: Storage, settings: Settings, *, every_s: float = REFRESH_S,
                    stop: threading.Event | None = None) -> threading.Thread:
    """Run :func:`prepare_window` in a daemon thread now and every ``every_s`` until ``stop``."""
    halt = stop or threading.Event()

    def run() -> None:
        warm = True
        while not halt.is_set():
            try:
                prepare_window(storage, settings, warm=warm)
                warm = False
            except Exception:  # a failure here must not stop the service; requests retry
                _log.exception("提前生成计划失败")
            halt.wait(every_s)

    thread = threading.Thread(target=run, name="xuncha-prepare-plans", daemon=True)
    thread.start()
    return thread
