"""Siting as background jobs (选址计算任务): submit, run in a worker thread, poll, fail lost jobs.

``POST /api/siting/scenarios`` and the planner's form call :func:`submit`: it checks the squads,
inserts a ``queued`` :class:`service.models.SitingJob` (a partial unique index allows one queued
or running job per user, on both backends and across workers: a second one is 429) and hands the
job to this process's small pool of daemon threads (:data:`MAX_PARALLEL`). The runner marks it
``running``, reports its steps as ``progress``/``phase``, and stores the scenario(s)
(:func:`service.scenarios.store_scenario`) and marks the job ``done`` in one transaction — or
``failed`` with the reason in Chinese.

The state is in the database, so any worker answers :func:`get_job`. A job whose process is gone
(a restart, a crash) is marked failed with :data:`RESTART_MESSAGE` the moment anyone looks at it
(:func:`is_lost`): it belongs to this process but this process is not running it, or its owner's
pid on this host is no longer alive, or its heartbeat (written every :data:`HEARTBEAT_S` by a
daemon thread) is older than :data:`STALE_S`. Correcting that state is the one write a ``GET``
of a job makes.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from geo.errors import InputError, NotFoundError, XunchaError
from service import scenarios
from service.auth import Principal
from service.errors import RateLimited
from service.models import SitingJob, utcnow
from service.schemas import ScenarioCreate, SitingJobCreate
from service.settings import Settings
from service.storage import Storage

log = logging.getLogger("xuncha.siting")

STATUS_LABELS: dict[str, str] = {"queued": "排队", "running": "计算中", "done": "完成",
                                 "failed": "失败"}
"""The job states and their Chinese names."""
ACTIVE = ("queued", "running")
RESTART_MESSAGE = "服务重启，计算中断，请重新提交。"
INTERNAL_MESSAGE = "计算出错（内部错误，已记入服务日志）；请稍后重新提交，或请管理员查看服务日志。"
MAX_PARALLEL = 2
"""Jobs computed at once by one server process (more wait as 排队)."""
HEARTBEAT_S = 5.0
STALE_S = 90.0
"""A job whose heartbeat is older than this is lost (its server is gone)."""

_lock = threading.Lock()
_local: dict[tuple[str, int], Storage] = {}
"""Jobs queued or running in this process: (database URL, job id) → its storage."""
_tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_threads: list[threading.Thread] = []
_owners: dict[int, str] = {}


def owner() -> str:
    """This process as a job owner: ``host:pid:boot`` (a new boot id in every process)."""
    pid = os.getpid()
    if pid not in _owners:
        _owners[pid] = f"{socket.gethostname()[:60]}:{pid}:{uuid.uuid4().hex[:8]}"
    return _owners[pid]


def _mine(storage: Storage, job_id: int) -> bool:
    with _lock:
        return (storage.url, job_id) in _local


def _pid_gone(job_owner: str) -> bool:
    """True if ``job_owner`` is a process of this host that no longer runs."""
    host, _, rest = job_owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:60] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but another user's process
        return False
    return False


def is_lost(storage: Storage, row: SitingJob) -> bool:
    """True if ``row`` is queued or running but no server process is computing it any more."""
    if row.status not in ACTIVE:
        return False
    if row.owner == owner():
        return not _mine(storage, row.id)
    stale = row.heartbeat_at < utcnow() - timedelta(seconds=STALE_S)
    return stale or _pid_gone(row.owner)


def _fail_row(row: SitingJob, message: str) -> None:
    row.status, row.error, row.finished_at = "failed", message, utcnow()


def result_url(ids: list[int]) -> str | None:
    """The page that shows a finished job: the scenario, or two of them side by side."""
    if len(ids) >= 2:
        return f"/siting/compare?a={ids[0]}&b={ids[1]}"
    return f"/planner?scenario={ids[0]}" if ids else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def public(row: SitingJob) -> dict[str, Any]:
    """The job as the API shows it (:class:`service.schemas.SitingJobPublic`)."""
    ids = [int(i) for i in row.scenario_ids or []]
    done = row.status == "done"
    return {"id": row.id, "status": row.status, "status_label": STATUS_LABELS[row.status],
            "progress": round(float(row.progress or 0.0), 3), "phase": row.phase or "",
            "created_by": row.created_by, "created_at": _iso(row.created_at),
            "started_at": _iso(row.started_at), "finished_at": _iso(row.finished_at),
            "scenario_id": ids[0] if done and ids else None, "scenario_ids": ids if done else [],
            "result_url": result_url(ids) if done else None,
            "error": (row.error or None) if row.status == "failed" else None,
            "params": dict(row.params or {})}


def get_job(storage: Storage, job_id: int, *, user: Principal | None = None) -> dict[str, Any]:
    """One job; a lost one is marked failed first. :class:`NotFoundError` if there is none or
    ``user`` may not see it (:func:`service.scenarios.visible`)."""
    with storage.begin() as session:
        row = session.get(SitingJob, job_id)
        if row is None or not scenarios.visible(row.params, user):
            raise NotFoundError(f"没有编号为 {job_id} 的选址计算任务。")
        if is_lost(storage, row):
            _fail_row(row, RESTART_MESSAGE)
        return public(row)


def _fail_lost_jobs_of(session: Session, storage: Storage, username: str) -> SitingJob | None:
    """Mark the user's lost jobs failed; the active job left, if any."""
    active = None
    for row in session.scalars(select(SitingJob).where(SitingJob.created_by == username,
                                                       SitingJob.status.in_(ACTIVE))):
        if is_lost(storage, row):
            _fail_row(row, RESTART_MESSAGE)
        else:
            active = row
    return active


def submit(storage: Storage, settings: Settings, body: SitingJobCreate,
           user: Principal) -> dict[str, Any]:
    """Queue a siting job for ``user`` (a district-bound user's squads by default,
    :func:`service.scenarios.scoped`); the job (status ``queued``).

    Raises
    ------
    PermissionDenied
        A squad of ``body.squads`` is outside the user's district.
    NotFoundError
        A squad of ``body.squads`` does not exist.
    InputError
        ``compare_sites`` with the set-covering model (it decides the count itself).
    RateLimited
        The user already has a queued or running job.
    """
    if body.compare_sites and body.model == "lscp":
        raise InputError("集合覆盖模型自己决定点数，不能按点数比较；请选最大覆盖或 p-中位模型。")
    body = scenarios.scoped(body, user)
    scenarios.check_squads(storage, body.squads)
    username = user.username[:64]
    with storage.begin() as session:
        busy = _fail_lost_jobs_of(session, storage, username)
    if busy is not None:
        raise _busy(busy)
    key: tuple[str, int] | None = None
    try:
        with storage.begin() as session:
            row = SitingJob(created_by=username, status="queued", progress=0.0,
                            phase="排队等待计算", params=body.model_dump(), error="",
                            owner=owner(), heartbeat_at=utcnow())
            session.add(row)
            session.flush()
            key = (storage.url, row.id)
            with _lock:  # before commit: no reader may see it unregistered
                _local[key] = storage
            out = public(row)
    except IntegrityError:  # a job of the same user was queued at the same moment
        _forget(key)
        with storage.begin() as session:
            busy = _fail_lost_jobs_of(session, storage, username)
        raise _busy(busy) from None
    except BaseException:
        _forget(key)
        raise
    _start_threads()
    _tasks.put(lambda: _run(storage, settings, int(out["id"])))
    return out


def _busy(row: SitingJob | None) -> RateLimited:
    which = f"（任务 {row.id}，{STATUS_LABELS[row.status]}）" if row is not None else ""
    return RateLimited(f"您已有一个选址计算正在进行{which}；每人同时只能计算一个，"
                       "请等它完成后再提交。", retry_after_s=5)


def _forget(key: tuple[str, int] | None) -> None:
    if key is not None:
        with _lock:
            _local.pop(key, None)


def _start_threads() -> None:
    """Start the worker threads and the heartbeat thread of this process (once)."""
    with _lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        names = {t.name for t in _threads}
        wanted = [f"siting-job-{k}" for k in range(MAX_PARALLEL)] + ["siting-heartbeat"]
        for name in wanted:
            if name not in names:
                target = _beat if name == "siting-heartbeat" else _work
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                _threads.append(thread)


def _work() -> None:
    while True:
        task = _tasks.get()
        try:
            task()
        except Exception:  # a worker thread must survive any job
            log.exception("siting job runner failed")


def _beat() -> None:
    """Every :data:`HEARTBEAT_S`, tell the database this process still runs its jobs."""
    while True:
        time.sleep(HEARTBEAT_S)
        with _lock:
            groups: dict[str, tuple[Storage, list[int]]] = {}
            for (url, job_id), storage in _local.items():
                groups.setdefault(url, (storage, []))[1].append(job_id)
        for storage, ids in groups.values():
            try:
                with storage.begin() as session:
                    session.execute(update(SitingJob).where(
                        SitingJob.id.in_(ids), SitingJob.owner == owner(),
                        SitingJob.status.in_(ACTIVE)).values(heartbeat_at=utcnow()))
            except Exception:  # the database may be briefly away; the next beat retries
                log.warning("siting job heartbeat failed", exc_info=True)


def expand(body: SitingJobCreate) -> list[ScenarioCreate]:
    """The scenarios a job computes: one, or one per number of ``compare_sites``."""
    base = body.model_dump(exclude={"compare_sites"})
    if not body.compare_sites:
        return [ScenarioCreate(**base)]
    name = body.name.strip()[:110]
    return [ScenarioCreate(**{**base, "sites": k, "name": f"{name} · {k} 个点" if name else ""})
            for k in body.compare_sites]


def _set(storage: Storage, job_id: int, *, when: tuple[str, ...], **values: Any) -> bool:
    """Update job ``job_id`` if it is in a state of ``when`` and this process owns it."""
    with storage.begin() as session:
        done = session.execute(update(SitingJob).where(
            SitingJob.id == job_id, SitingJob.status.in_(when), SitingJob.owner == owner())
            .values(heartbeat_at=utcnow(), **values))
        return bool(done.rowcount)  # type: ignore[attr-defined]


def _run(storage: Storage, settings: Settings, job_id: int) -> None:
    """Compute job ``job_id`` (in a worker thread) and record the outcome."""
    try:
        if not _set(storage, job_id, when=("queued",), status="running", started_at=utcnow(),
                    phase="开始计算", progress=0.0):
            return  # failed meanwhile (seen as lost) or not ours
        with storage.begin() as session:
            row = session.get(SitingJob, job_id)
            if row is None:
                return
            body, author = SitingJobCreate.model_validate(row.params), row.created_by
        plans = expand(body)
        results = [(plan, scenarios.run_scenario(storage, settings, plan,
                                                 progress=_reporter(storage, job_id, k, plans)))
                   for k, plan in enumerate(plans)]
        _finish(storage, job_id, results, author)
    except XunchaError as exc:
        _set(storage, job_id, when=ACTIVE, status="failed", finished_at=utcnow(),
             error=(str(exc).strip().splitlines() or ["计算失败。"])[0][:500])
    except Exception:
        log.exception("siting job %s failed", job_id)
        _set(storage, job_id, when=ACTIVE, status="failed", finished_at=utcnow(),
             error=INTERNAL_MESSAGE)
    finally:
        _forget((storage.url, job_id))


def _reporter(storage: Storage, job_id: int, k: int, plans: list[ScenarioCreate]
              ) -> scenarios.Progress:
    n = len(plans)
    which = f"（第 {k + 1}/{n} 个方案：{plans[k].sites} 个点）" if n > 1 else ""

    def report(done: float, what: str) -> None:
        _set(storage, job_id, when=("running",), progress=round((k + done) / n, 3),
             phase=f"{what}{which}"[:64])

    return report


def _finish(storage: Storage, job_id: int, results: list[tuple[ScenarioCreate, dict[str, Any]]],
            author: str) -> None:
    """Store the scenarios and mark the job done, in one transaction (nothing is stored if the
    job was marked failed meanwhile)."""
    with storage.begin() as session:
        row = session.get(SitingJob, job_id, with_for_update=True)
        if row is None or row.status != "running" or row.owner != owner():
            return
        ids = [scenarios.store_scenario(session, plan, result, author)["id"]
               for plan, result in results]
        row.status, row.progress, row.phase = "done", 1.0, "完成"
        row.scenario_ids, row.finished_at, row.heartbeat_at = ids, utcnow(), utcnow()


_FORM_LABELS = {"name": "方案名称", "model": "模型", "sites": "疏导点个数", "radius_m": "步行半径（米）",
                "days": "使用最近天数", "squads": "范围", "compare_sites": "并排比较的点数",
                "compare_a": "并排比较的第一种点数", "compare_b": "并排比较的第二种点数"}


def _number(form: FormData, name: str, default: float) -> float:
    text = str(form.get(name) or "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise InputError(f"{_FORM_LABELS[name]}应为数字，收到「{text[:20]}」。") from None


def _reason(error: dict[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    for key, text in (("ge", "不能小于 {}"), ("le", "不能大于 {}"), ("min_length", "至少 {} 个字符"),
                      ("max_length", "最多 {} 个字符")):
        if key in ctx:
            return text.format(ctx[key])
    return str(error.get("msg", "")).removeprefix("Value error, ")


def job_from_form(form: FormData) -> SitingJobCreate:
    """The job of the planner's form (``compare=1`` with ``compare_a``/``compare_b``: both
    counts side by side). :class:`InputError` in Chinese naming the field to fix."""
    compare = [int(_number(form, "compare_a", 3)), int(_number(form, "compare_b", 5))] \
        if form.get("compare") == "1" else None
    try:
        return SitingJobCreate(
            name=str(form.get("name") or ""), model=str(form.get("model") or "mclp"),  # type: ignore[arg-type]
            sites=int(_number(form, "sites", 5)), radius_m=_number(form, "radius_m", 500),
            squads=[str(s) for s in form.getlist("squads")] or None,
            days=int(_number(form, "days", 365)), compare_sites=compare)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first.get("loc", ("",))[0])
        raise InputError(f"{_FORM_LABELS.get(field, field)}：{_reason(dict(first))}。") from None
