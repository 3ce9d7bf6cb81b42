"""Siting as background jobs over HTTP, on SQLite and PostGIS: submit (202 + Location) → poll →
done with the scenario; 3 vs 5 points in one job and their comparison; a failing job says why; a
job cut off by a server restart shows as failed; one queued or running job per user (429);
squad leaders and officers may not submit or read jobs.

The seeded cases (tests/pages_support.py): 30 stall cases (09006) in one 书院 community and 20
background 09001 stall cases spread over 书院 (50 stall cases), none in 新华.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import BACKENDS, database_url
from fastapi.testclient import TestClient
from pages_support import PASSWORD, XSS, Site, build_site
from siting_support import run_job, wait_job
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service import scenarios, siting_jobs
from service.models import SitingJob, utcnow

STALL_CASES_SY = 50
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"
BODY = {"sites": 2, "radius_m": 400, "squads": ["shuyuan"]}


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, TestClient]]:
    folder: Path = tmp_path_factory.mktemp("siting-jobs")
    for url in database_url(request.param, folder):
        s = build_site(url, basemap="none")
        with TestClient(s.app) as client:
            yield s, client
        _drain(s)
        s.storage.engine.dispose()


def _drain(s: Site, timeout_s: float = 60.0) -> None:
    """Wait until this process runs no job of ``s`` (so the engine can be disposed)."""
    deadline = time.monotonic() + timeout_s
    while any(url == s.storage.url for url, _ in list(siting_jobs._local)):
        assert time.monotonic() < deadline, "a siting job is still running"
        time.sleep(0.05)


def _jobs(s: Site) -> int:
    with s.storage.begin() as session:
        return int(session.scalar(select(func.count()).select_from(SitingJob)) or 0)


def test_job_runs_and_stores_the_scenario(site: tuple[Site, TestClient]) -> None:
    s, client = site
    h = s.auth("planner")
    r = client.post("/api/siting/scenarios", json={**BODY, "name": XSS}, headers=h)
    assert r.status_code == 202, r.text
    first = r.json()
    assert r.headers["location"] == f"/api/siting/jobs/{first['id']}"
    assert first["status"] in ("queued", "running") and first["status_label"] in ("排队", "计算中")
    assert first["scenario_id"] is None and first["created_by"] == "planner"
    job = wait_job(client, r.headers["location"], h)
    assert job["status"] == "done" and job["status_label"] == "完成", job
    assert job["progress"] == 1.0 and job["error"] is None and job["phase"] == "完成"
    assert job["started_at"] <= job["finished_at"]
    sid = job["scenario_id"]
    assert job["scenario_ids"] == [sid] and job["result_url"] == f"/planner?scenario={sid}"
    sc = client.get(f"/api/siting/scenarios/{sid}", headers=h).json()
    assert sc["name"] == XSS and sc["created_by"] == "planner"
    assert sc["summary"]["sites"] == 2 and 0 < sc["summary"]["covered_share"] <= 1
    names = [f["properties"]["site_name"] for f in sc["sites"]["features"]]
    ids = [f["properties"]["candidate_id"] for f in sc["sites"]["features"]]
    assert len(names) == 2 and all(n and n not in ids for n in names)  # named, not "g71"
    demand = sc["demand"]["features"]
    assert sum(f["properties"]["case_count"] for f in demand) == STALL_CASES_SY
    assert sid in [x["id"] for x in client.get("/api/siting/scenarios", headers=h).json()]
    page = client.get(f"/maps/siting/{sid}", headers=h)
    assert page.status_code == 200 and "摊贩需求" in page.text and XSS not in page.text


def test_three_vs_five_in_one_job(site: tuple[Site, TestClient]) -> None:
    s, client = site
    h = s.auth("planner")
    job = run_job(client, {**BODY, "name": "书院", "compare_sites": [3, 5]}, h)
    assert job["status"] == "done", job
    a, b = job["scenario_ids"]
    assert job["result_url"] == f"/siting/compare?a={a}&b={b}"
    three, five = (client.get(f"/api/siting/scenarios/{i}", headers=h).json() for i in (a, b))
    assert [three["name"], five["name"]] == ["书院 · 3 个点", "书院 · 5 个点"]
    assert len(three["sites"]["features"]) == 3 and len(five["sites"]["features"]) == 5
    # both proven optimal: five points cover at least what three cover
    assert three["summary"]["optimal"] and five["summary"]["optimal"]
    assert five["summary"]["covered_weight"] >= three["summary"]["covered_weight"] - 1e-9
    m = client.get(f"/maps/siting/compare?a={a}&b={b}", headers=h)
    assert m.status_code == 200, m.text
    assert f"3 个点（方案 {a}）" in m.text and f"5 个点（方案 {b}）" in m.text
    assert "/static/vendor/leaflet/leaflet.js" in m.text and "摊贩需求" in m.text
    assert client.get(f"/maps/siting/compare?a={a}&b={a}", headers=h).status_code == 400
    assert client.get(f"/maps/siting/compare?a={a}&b=99999", headers=h).status_code == 404
    assert client.get(f"/maps/siting/compare?a={a}&b={b}",
                      headers=s.auth("leader_sy")).status_code == 403


def test_compare_page_table(site: tuple[Site, TestClient]) -> None:
    s, client = site
    h = s.auth("planner")
    job = run_job(client, {**BODY, "name": XSS, "compare_sites": [3, 5]}, h)
    a, b = job["scenario_ids"]
    pair = [client.get(f"/api/siting/scenarios/{i}", headers=h).json() for i in (a, b)]
    web = TestClient(s.app, base_url="http://testserver")
    assert web.post("/login", data={"username": "planner", "password": PASSWORD},
                    follow_redirects=False).status_code == 303
    page = web.get(job["result_url"])
    assert page.status_code == 200, page.text
    html = page.text
    assert XSS not in html and ESCAPED_XSS in html
    assert f'src="/maps/siting/compare?a={a}&amp;b={b}"' in html
    for sc in pair:
        share = f"{sc['summary']['covered_share'] * 100:.1f}%"
        assert share in html, share
        for f in sc["sites"]["features"]:
            assert f["properties"]["site_name"] in html
    served = sum(round(f["properties"]["served_cases"]) for f in pair[1]["sites"]["features"])
    assert f"{served} 件" in html
    assert html.count('class="siting-site"') == 8  # 3 + 5 site rows
    assert web.get(f"/siting/compare?a={a}&b={a}").status_code == 400


def test_failed_job_says_why(site: tuple[Site, TestClient]) -> None:
    s, client = site
    h = s.auth("planner")
    job = run_job(client, {**BODY, "squads": ["xinhua"]}, h)  # 新华 has no stall case
    assert job["status"] == "failed" and job["status_label"] == "失败", job
    assert "摊贩类案件" in job["error"] and job["scenario_id"] is None
    assert job["result_url"] is None
    before = _jobs(s)
    r = client.post("/api/siting/scenarios", json={**BODY, "squads": ["nowhere"]}, headers=h)
    assert r.status_code == 404 and "没有中队 nowhere" in r.json()["detail"]
    r = client.post("/api/siting/scenarios", json={**BODY, "model": "lscp",
                                                  "compare_sites": [3, 5]}, headers=h)
    assert r.status_code == 400 and "集合覆盖" in r.json()["detail"]
    assert client.post("/api/siting/scenarios", json={**BODY, "compare_sites": [3, 3]},
                       headers=h).status_code == 422
    assert _jobs(s) == before  # refused requests leave no job
    assert client.get("/api/siting/jobs/99999", headers=h).status_code == 404


def _row(s: Site, **values: Any) -> int:
    with s.storage.begin() as session:
        row = SitingJob(status="running", progress=0.3, phase="生成候选点并求解选址模型",
                        params=dict(BODY), error="", started_at=utcnow(), **values)
        session.add(row)
        session.flush()
        return row.id


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_restart_marks_running_jobs_failed(site: tuple[Site, TestClient]) -> None:
    s, client = site
    h = s.auth("admin")
    now = utcnow()
    host = socket.gethostname()[:60]
    restarted = _row(s, created_by="gone1", owner=f"{host}:{_dead_pid()}:0ld0b00t",
                     heartbeat_at=now)
    silent = _row(s, created_by="gone2", owner="other-host:4242:abcd",
                  heartbeat_at=now - timedelta(minutes=10))
    orphan = _row(s, created_by="gone3", owner=siting_jobs.owner(), heartbeat_at=now)
    alive = _row(s, created_by="elsewhere", owner="other-host:4343:abcd", heartbeat_at=now)
    for job_id in (restarted, silent, orphan):
        job = client.get(f"/api/siting/jobs/{job_id}", headers=h).json()
        assert job["status"] == "failed" and job["status_label"] == "失败", job
        assert job["error"] == "服务重启，计算中断，请重新提交。"
        assert job["finished_at"] is not None
    job = client.get(f"/api/siting/jobs/{alive}", headers=h).json()
    assert job["status"] == "running" and job["status_label"] == "计算中"  # its server beats
    assert job["progress"] == 0.3
    with s.storage.begin() as session:  # the failure is stored, not only shown
        assert session.get(SitingJob, restarted).status == "failed"  # type: ignore[union-attr]
        session.get(SitingJob, alive).status = "failed"  # type: ignore[union-attr]
    # a job lost in a restart does not block its user's next one
    _row(s, created_by="admin", owner=f"{host}:{_dead_pid()}:0ld0b00t", heartbeat_at=now)
    assert run_job(client, BODY, h)["status"] == "done"


def test_one_running_job_per_user(site: tuple[Site, TestClient],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    s, client = site
    gate = threading.Event()
    real = scenarios.run_scenario

    def held(*args: Any, **kw: Any) -> dict[str, Any]:
        gate.wait(timeout=30)
        return real(*args, **kw)

    monkeypatch.setattr(scenarios, "run_scenario", held)
    try:
        h = s.auth("planner")
        r = client.post("/api/siting/scenarios", json=BODY, headers=h)
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 10
        while client.get(r.headers["location"], headers=h).json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        again = client.post("/api/siting/scenarios", json={**BODY, "sites": 3}, headers=h)
        assert again.status_code == 429, again.text
        assert "每人同时只能计算一个" in again.json()["detail"]
        assert f"任务 {r.json()['id']}" in again.json()["detail"]
        assert again.headers["retry-after"] == "5"
        other = client.post("/api/siting/scenarios", json=BODY, headers=s.auth("admin"))
        assert other.status_code == 202, other.text  # another user is not limited
    finally:
        gate.set()
    assert wait_job(client, r.headers["location"], h)["status"] == "done"
    assert wait_job(client, other.headers["location"], h)["status"] == "done"
    assert run_job(client, BODY, h)["status"] == "done"  # free again


def test_the_database_allows_one_active_job_per_user(site: tuple[Site, TestClient]) -> None:
    s, _ = site
    base = {"created_by": "racer", "params": {}, "error": "", "owner": "x:1:y",
            "heartbeat_at": utcnow()}
    with s.storage.begin() as session:
        session.add(SitingJob(status="done", **base))
        session.add(SitingJob(status="failed", **base))
        session.add(SitingJob(status="queued", **base))
    with pytest.raises(IntegrityError), s.storage.begin() as session:
        session.add(SitingJob(status="running", **base))
        session.flush()
    with s.storage.begin() as session:
        for row in session.scalars(select(SitingJob).where(SitingJob.created_by == "racer")):
            row.status = "failed"


@pytest.mark.parametrize("user", ["leader_sy", "officer_sy"])
def test_squad_roles_may_not_site(site: tuple[Site, TestClient], user: str) -> None:
    s, client = site
    before = _jobs(s)
    r = client.post("/api/siting/scenarios", json=BODY, headers=s.auth(user))
    assert r.status_code == 403, r.text
    assert client.get("/api/siting/jobs/1", headers=s.auth(user)).status_code == 403
    assert client.post("/api/siting/scenarios", json=BODY).status_code == 401
    assert _jobs(s) == before
