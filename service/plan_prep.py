"""Plans made ahead: at start-up, the missing plans of every squad for today and tomorrow
(:func:`prepare_plans`, in a daemon thread by :func:`start_preparing`), under the shared plan
job of :func:`service.pages_data.get_plan`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta

import pandas as pd

from service.pages_data import get_plan
from service.plans import load_plan
from service.settings import Settings
from service.storage import Storage

_log = logging.getLogger("service.pages_data")  # where these messages were always logged


def prepare_plans(storage: Storage, settings: Settings, *, days: Sequence[int] = (0, 1)) -> int:
    """Make the missing plans of every squad for today (+ ``days``) under the shared plan job, so
    the first dashboard of the morning reads a stored plan; how many were made."""
    today = pd.Timestamp.now(tz=settings.timezone).date()
    made = 0
    for offset in days:
        day = today + timedelta(days=offset)
        for squad in storage.squads():
            if load_plan(storage, squad["id"], day) is None:
                get_plan(storage, settings, squad, day, actor="prepare")
                made += 1
    return made


def start_preparing(storage: Storage, settings: Settings) -> threading.Thread:
    """Run :func:`prepare_plans` in a daemon thread (at start-up; safe in every worker: the plan
    jobs make each plan once) and warm the heavy imports of the first layer and sheet."""

    def run() -> None:
        try:
            prepare_plans(storage, settings)
            import geo.analysis.hotspots  # scipy, sklearn: seconds on first use
            import geo.sheets  # noqa: F401
        except Exception:  # a failure here must not stop the service; requests retry
            _log.exception("提前生成今明两天的计划失败")

    thread = threading.Thread(target=run, name="xuncha-prepare-plans", daemon=True)
    thread.start()
    return thread
