"""Two real worker processes behave as one service: the app factory of ``xuncha serve --workers
2`` under uvicorn on a free port, over a seeded database (SQLite, and PostGIS where configured).

Each request goes over its own keep-alive connection, and the worker process that accepted it is
found from the operating system's socket table (psutil), so the test knows it reached both
workers. It checks that the failed-login limit counts across the workers, that a status change
made through one worker is visible at once through the other (case list and map ETag, both of
which the workers cache), and that one plan asked for concurrently through both is computed once.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
import pytest
from api_support import database_url
from pages_support import PASSWORD, SECRET, TZ, build_site
from sqlalchemy import func, select

from service.auth import create_token, load_principal
from service.case_cache import versions
from service.models import Plan, PlanJob
from service.storage import Storage

ROOT = Path(__file__).resolve().parents[2]


class Conn:
    """One keep-alive HTTP connection to the server, and the worker process that accepted it."""

    def __init__(self, port: int, server: psutil.Process) -> None:
        self.port = port
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.http.connect()
        self.local_port = self.http.sock.getsockname()[1]
        self.request("GET", "/health")
        self.pid = _owner(server, port, self.local_port)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        self.http.request(method, path, body=body, headers=headers or {})
        resp = self.http.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self) -> None:
        self.http.close()


def _owner(server: psutil.Process, port: int, local_port: int) -> int | None:
    """The worker process holding the server side of the connection from ``local_port``."""
    for _ in range(20):
        for proc in server.children(recursive=True):
            try:
                conns = proc.net_connections(kind="tcp")
            except psutil.Error:
                continue
            for c in conns:
                if c.laddr and c.laddr.port == port and c.raddr and c.raddr.port == local_port:
                    return proc.pid
        time.sleep(0.05)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A seeded database served by two worker processes; yields the storage, port, server and
    one connection to each worker."""
    folder = tmp_path_factory.mktemp(f"workers_{request.param}")
    gen = database_url(request.param, folder)
    url = next(gen)
    site = build_site(url)
    site.storage.engine.dispose()
    port = _free_port()
    env = {**os.environ, "XUNCHA_DATABASE_URL": url, "XUNCHA_SECRET_KEY": SECRET,
           "XUNCHA_TIMEZONE": TZ, "XUNCHA_LOGIN_ATTEMPTS_PER_MINUTE": "5"}
    log = (folder / "server.log").open("wb")
    # what ``xuncha serve --workers 2`` runs (the app factory in each worker process), with a
    # worker start-up allowance for a loaded test machine (uvicorn's default of 5 s kills and
    # restarts workers that are still importing)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                             "--timeout-worker-healthcheck", "120", "--timeout-keep-alive", "600",
                             "--no-access-log"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = psutil.Process(proc.pid)
    try:
        workers: dict[int, Conn] = {}
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, (folder / "server.log").read_text()[-3000:]
            try:
                conn = Conn(port, server)
            except OSError:
                time.sleep(0.3)
                continue
            if conn.pid is not None and conn.pid not in workers:
                workers[conn.pid] = conn
            else:
                conn.close()
        assert len(workers) == 2, "没能连到两个工作进程：" + (folder / "server.log").read_text()[-3000:]
        yield {"storage": Storage(url, tz=TZ), "port": port, "server": server,
               "conns": list(workers.values()), "site": site}
        for c in workers.values():
            c.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        gen.close()


def _auth(storage: Storage, username: str) -> dict[str, str]:
    user = load_principal(storage, username)
    assert user is not None
    return {"Authorization": f"Bearer {create_token(user, key=SECRET, ttl_minutes=60)}"}


def test_the_connections_reach_two_processes(served: dict[str, Any]) -> None:
    a, b = served["conns"]
    assert a.pid != b.pid and {a.pid, b.pid} <= {p.pid for p in served["server"].children()}


def test_failed_logins_are_counted_across_workers(served: dict[str, Any]) -> None:
    conns = served["conns"]
    form = urlencode({"username": "officer_sy", "password": "wrong-password"}).encode()
    head = {"Content-Type": "application/x-www-form-urlencoded"}
    codes = [conns[i % 2].request("POST", "/api/auth/token", body=form, headers=head)[0]
             for i in range(6)]
    assert codes == [401] * 5 + [429]  # 3 failures on each worker: one limit of 5 for both
    # the right password is refused too while the limit holds, on either worker
    good = urlencode({"username": "officer_sy", "password": PASSWORD}).encode()
    for c in conns:
        status, headers, _body = c.request("POST", "/api/auth/token", body=good, headers=head)
        assert status == 429 and int(headers["retry-after"]) > 0


def _case_status(conn: Conn, auth: dict[str, str], case_id: str) -> str:
    status, _h, body = conn.request("GET", "/api/cases?squad=shuyuan&limit=500", headers=auth)
    assert status == 200
    found = [f for f in json.loads(body)["features"] if f["id"] == case_id]
    assert len(found) == 1
    return str(found[0]["properties"]["status"])


def test_a_status_change_is_seen_by_the_other_worker_at_once(served: dict[str, Any]) -> None:
    storage, (a, b) = served["storage"], served["conns"]
    auth = _auth(storage, "leader_sy")
    today = date.today().isoformat()
    tags = {}
    for c in (a, b):  # fill both workers' caches (a page is cached from its second request)
        for _ in range(3):
            assert _case_status(c, auth, "SY1") == "上报"
        status, headers, _ = c.request("GET", f"/maps/shuyuan?date={today}", headers=auth)
        assert status == 200
        tags[c.pid] = headers["etag"]
        again = c.request("GET", f"/maps/shuyuan?date={today}",
                          headers={**auth, "If-None-Match": headers["etag"]})
        assert again[0] == 304
    body = json.dumps({"to_status": "立案", "note": "核实属实"}).encode()
    moved = a.request("POST", "/api/cases/SY1/transitions", body=body,
                      headers={**auth, "Content-Type": "application/json"})
    assert moved[0] == 200, moved[2][:500]
    for _ in range(5):  # every worker, every time
        for c in (b, a):
            assert _case_status(c, auth, "SY1") == "立案"
            status, headers, _ = c.request("GET", f"/maps/shuyuan?date={today}",
                                           headers={**auth, "If-None-Match": tags[c.pid]})
            assert status == 200 and headers["etag"] != tags[c.pid]


def test_one_plan_is_computed_once_under_concurrent_requests(served: dict[str, Any]) -> None:
    storage, port, server = served["storage"], served["port"], served["server"]
    auth = _auth(storage, "officer_sy")
    day = date.today() + timedelta(days=3)
    before = int(versions(storage)[1])
    extra = [Conn(port, server) for _ in range(4)]
    conns = [*served["conns"], *extra]  # both workers for sure, and a few more connections
    try:
        with ThreadPoolExecutor(len(conns)) as pool:
            answers = list(pool.map(
                lambda c: c.request("GET", f"/api/plans/shuyuan/{day}", headers=auth), conns))
    finally:
        for c in extra:
            c.close()
    assert [a[0] for a in answers] == [200] * len(conns), [a[2][:300] for a in answers]
    plans = [json.loads(a[2]) for a in answers]
    assert all(p == plans[0] for p in plans)
    assert int(versions(storage)[1]) == before + 1  # one commit wrote the plans table
    with storage.begin() as session:
        assert session.scalar(select(func.count()).select_from(Plan).where(
            Plan.squad_id == "shuyuan", Plan.plan_date == day)) == 1
        assert session.scalar(select(func.count()).select_from(PlanJob)) == 0
    storage.engine.dispose()
