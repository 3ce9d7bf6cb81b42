"""Plans made ahead, so that no dashboard of the plan window waits for the planner.

:func:`start_preparing` (at start-up, in a separate process of lower CPU priority, so that no
request waits behind it for the GIL; safe in every worker: the plan jobs in the database make
each plan and layer once) runs :func:`prepare_window` now and then every :data:`REFRESH_S`:

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
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
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
"""How often the preparation looks for missing (a new day in the window) or stale plans."""
FIRST_DAYS = (0, 1)
"""Prepared first: today and tomorrow."""
PREPARE_NICE = 10
"""How much lower the preparing process's CPU priority is than the server's (``os.nice``)."""


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


def import_heavy(settings: Settings) -> None:
    """Import the libraries of the first plan, layer and sheet (scipy, sklearn, the solver:
    seconds on first use) and make the first transformer to the working CRS (pyproj reads its
    database then), so that the first request of a process does not pay for them."""
    import geopandas as gpd
    import shapely

    import geo.analysis.hotspots
    import geo.planning.day
    import geo.sheets  # noqa: F401

    point = gpd.GeoSeries([shapely.Point(113.92, 30.92)], crs="EPSG:4326")
    point.to_crs(settings.working_crs).to_crs("EPSG:4326")  # both ways, as a dashboard does (a point in 孝南区)


def warm_dashboards(storage: Storage, settings: Settings) -> None:
    """Import the heavy libraries (:func:`import_heavy`) and store the dashboard layers of every
    squad for today and tomorrow (:func:`warm_layers`)."""
    import_heavy(settings)
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


def _loop(storage: Storage, settings: Settings, halt: threading.Event, every_s: float,
          alive: Callable[[], bool] = lambda: True) -> None:
    """:func:`prepare_window` now (whole window) and every ``every_s`` (lighter) until ``halt``
    is set or ``alive()`` turns false (checked each second)."""
    warm = True
    while not halt.is_set() and alive():
        try:
            prepare_window(storage, settings, warm=warm)
            warm = False
        except Exception:  # a failure here must not stop the service; requests retry
            _log.exception("提前生成计划失败")
        waited = 0.0
        while waited < every_s and alive() and not halt.wait(min(1.0, every_s - waited)):
            waited += 1.0


def _prepare_process(url: str, boundaries_dir: Path | None, tz: str, settings: Settings,
                     every_s: float, parent: int) -> None:
    """Body of the preparing process (spawned, its priority lowered by :func:`start_preparing`):
    open its own engine on the same database and run :func:`_loop` while the server process
    ``parent`` lives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops this
    signal.signal(signal.SIGTERM, _exit)  # finally blocks run: a held plan job is released
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     [prepare] %(message)s")
    _log.setLevel(logging.INFO)
    storage = Storage(url, boundaries_dir=boundaries_dir, tz=tz)
    try:
        _loop(storage, settings, threading.Event(), every_s, alive=lambda: os.getppid() == parent)
    finally:
        storage.engine.dispose()


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _shareable(storage: Storage) -> bool:
    """Whether another process can open ``storage``'s database by its URL (not in memory)."""
    url = storage.url.lower()
    return type(storage) is Storage and not (
        url.startswith("sqlite") and (":memory:" in url or "mode=memory" in url
                                      or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:")))


@dataclass
class Preparer:
    """The running preparation (:func:`start_preparing`): a process, or a thread of this
    process when the database cannot be opened by another process (in memory)."""

    process: BaseProcess | None
    thread: threading.Thread | None
    halt: threading.Event

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the preparation: the process gets SIGTERM (its ``finally`` blocks release the
        plan job it holds; the plan is made by whoever needs it next), the thread stops within
        a second once its current round is done."""
        self.halt.set()
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout_s)


def start_preparing(storage: Storage, settings: Settings, *, every_s: float = REFRESH_S,
                    stop: threading.Event | None = None, in_process: bool = False) -> Preparer:
    """Run :func:`prepare_window` now and every ``every_s`` in a separate process (``spawn``,
    lower CPU priority, :data:`PREPARE_NICE`; it opens the database by ``storage.url``), so that
    the requests of this process never wait behind its CPU work for the GIL; the plan jobs make
    each plan and layer once across the processes. ``in_process`` (or a database in memory): in
    a daemon thread of this process instead, until ``stop`` is set. Stop it with
    :meth:`Preparer.stop`; it also stops by itself once this process is gone."""
    halt = stop or threading.Event()
    if in_process or not _shareable(storage):
        thread = threading.Thread(target=_loop, args=(storage, settings, halt, every_s),
                                  name="xuncha-prepare-plans", daemon=True)
        thread.start()
        return Preparer(None, thread, halt)
    process = multiprocessing.get_context("spawn").Process(
        target=_prepare_process, name="xuncha-prepare-plans", daemon=True,
        args=(storage.url, storage.boundaries_dir, storage.tz, settings, every_s, os.getpid()))
    process.start()
    # lowered at once: the child's imports (seconds) must not slow this process's first requests
    with suppress(OSError, AttributeError):
        own = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, process.pid or 0, min(19, own + PREPARE_NICE))
    return Preparer(process, None, halt)


def warm_thread(settings: Settings) -> None:
    """:func:`import_heavy` in the calling thread, a failure only logged (the first request
    then imports the libraries itself); the start-up hook runs it in the worker thread the
    first requests reuse (pyproj sets itself up once per thread: about 0.1 s per CRS pair)."""
    try:
        import_heavy(settings)
    except Exception:
        _log.exception("预先导入分析库失败")
