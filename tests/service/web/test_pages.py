"""Web pages: login, squad dashboard (routes with print links, hotspots, open cases with status
actions, work log), planner and admin pages; squad isolation; every value from data escaped."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pages_support import PASSWORD, XSS, Site, build_site
from siting_support import wait_job

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("pages")
    s = build_site(f"sqlite:///{folder / 'pages.db'}")
    yield s
    s.storage.engine.dispose()


def client_for(site: Site, user: str | None) -> TestClient:
    """A browser-like client (cookies kept), signed in through the login form."""
    client = TestClient(site.app, base_url="http://testserver")
    if user is not None:
        r = client.post("/login", data={"username": user, "password": PASSWORD},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
    return client


def test_login_page_and_wrong_password(site: Site) -> None:
    c = client_for(site, None)
    page = c.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    bad = c.post("/login", data={"username": "leader_sy", "password": "wrong-password"})
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    assert "xuncha_session" not in bad.headers.get("set-cookie", "")


def test_signed_out_visitor_goes_to_login(site: Site) -> None:
    r = client_for(site, None).get("/squad/shuyuan", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fsquad")


def test_login_leads_to_own_dashboard(site: Site) -> None:
    c = TestClient(site.app)
    r = c.post("/login", data={"username": "leader_sy", "password": PASSWORD},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/squad/shuyuan"
    assert "httponly" in r.headers["set-cookie"].lower()
    nxt = c.post("/login", data={"username": "planner", "password": PASSWORD,
                                 "next": "//evil.example/x"}, follow_redirects=False)
    assert nxt.headers["location"] == "/planner"  # no open redirect


def test_dashboard_shows_map_routes_hotspots_cases_and_log(site: Site) -> None:
    c = client_for(site, "leader_sy")
    page = c.get("/squad/shuyuan")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'src="/maps/shuyuan?date={site.today}"' in html
    plan = c.get(f"/api/plans/shuyuan/{site.today}").json()
    for r in plan["routes"]:
        assert r["team_name"] in html
        assert f"/api/plans/shuyuan/{site.today}/sheet.html?team={r['team']}" in html
    assert "H01" in html and "99%" in html  # the planted hotspot, Gi* 99 %
    for cid in ("SYX", "SY1", "SY2"):
        assert f'id="case-{cid}"' in html
    assert "SYS00" not in html and "XH0" not in html  # closed cases, other squad
    assert 'action="/squad/shuyuan/worklogs"' in html
    assert XSS not in html and ESCAPED in html
    links = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert links and all(u.startswith("/static/") for u in links)
    for u in links:
        assert c.get(u).status_code == 200


def test_other_squad_dashboard_is_not_found(site: Site) -> None:
    c = client_for(site, "leader_xh")
    assert c.get("/squad/shuyuan").status_code == 404
    assert c.post("/squad/shuyuan/cases/SY1/status", data={"to_status": "立案"}).status_code == 404
    assert c.get("/planner").status_code == 403 and c.get("/admin").status_code == 403


def test_status_buttons_change_the_case(site: Site) -> None:
    c = client_for(site, "leader_sy")
    r = c.post("/squad/shuyuan/cases/SY1/status", data={"to_status": "立案"},
               follow_redirects=False)
    assert r.status_code == 303 and "msg=" in r.headers["location"]
    assert c.get("/api/cases/SY1").json()["properties"]["status"] == "立案"
    # an officer may not 立案: the page says why, the case is unchanged
    o = client_for(site, "officer_sy")
    page = o.post("/squad/shuyuan/cases/SY2/status", data={"to_status": "结案"})
    assert page.status_code == 200 and "状态未改变" in page.text
    assert o.get("/api/cases/SY2").json()["properties"]["status"] == "立案"
    row = re.search(r'<tr id="case-SY1".*?</tr>', c.get("/squad/shuyuan").text, re.S)
    assert row and re.search(r'<td class="status"[^>]*>立案</td>', row.group(0))
    assert 'value="派遣"' in row.group(0)


def test_work_log_form_and_list(site: Site) -> None:
    c = client_for(site, "officer_sy")
    data = {"at": f"{site.today}T09:30", "place": "西大市场", "problem": XSS,
            "action": "劝离", "outcome": "当场办理"}
    r = c.post("/squad/shuyuan/worklogs", data=data, follow_redirects=False)
    assert r.status_code == 303 and "err" not in r.headers["location"], r.headers["location"]
    logs = c.get("/api/worklogs").json()
    assert logs["total"] == 1 and logs["items"][0]["problem"] == XSS
    html = c.get("/squad/shuyuan").text
    assert "西大市场" in html and XSS not in html and html.count(ESCAPED) >= 2
    bad = c.post("/squad/shuyuan/worklogs", data={**data, "case_id": "XH1"})
    assert "日志未保存" in bad.text


def test_replan_form(site: Site) -> None:
    c = client_for(site, "leader_sy")
    r = c.post("/squad/shuyuan/replan", data={"date": site.today,
                                               "on_duty": ["shuyuan-1", "shuyuan-3"]})
    assert r.status_code == 200 and "不在岗：书院二组" in r.text and "shuyuan-2" not in r.text.split("不在岗")[1][:20]
    plan = c.get(f"/api/plans/shuyuan/{site.today}").json()
    assert [x["team"] for x in plan["routes"]] == ["shuyuan-1", "shuyuan-3"]
    o = client_for(site, "officer_sy")
    assert o.post("/squad/shuyuan/replan", data={"date": site.today}).status_code == 403


def _job_id(r: Any) -> int:
    """The job of a planner form post (redirected to its progress page ``/siting/jobs/{id}``)."""
    assert r.status_code == 200, r.text
    hops = [h.headers["location"] for h in r.history]
    found = [re.fullmatch(r"/siting/jobs/(\d+)", h) for h in hops]
    assert found and found[0], hops
    return int(found[0].group(1))


def test_planner_page_runs_a_scenario(site: Site) -> None:
    c = client_for(site, "planner")
    assert "计算方案" in c.get("/planner").text
    r = c.post("/planner/siting", data={"name": XSS, "sites": "2", "radius_m": "400",
                                        "squads": "shuyuan", "model": "mclp"})
    job_id = _job_id(r)
    if "/siting/jobs/" in str(r.url):  # still computing: the progress page polls the API
        assert 'id="siting-job"' in r.text and "/static/js/siting.js" in r.text
        assert XSS not in r.text and ESCAPED in r.text
    job = wait_job(c, f"/api/siting/jobs/{job_id}")
    assert job["status"] == "done", job
    done = c.get(f"/siting/jobs/{job_id}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == job["result_url"]
    r = c.get(job["result_url"])
    assert re.search(r'src="/maps/siting/\d+"', r.text)
    assert XSS not in r.text and ESCAPED in r.text
    sc = c.get(f"/api/siting/scenarios/{job['scenario_id']}").json()
    for f in sc["sites"]["features"]:  # the table names each site, not its candidate id
        assert f'<td data-label="疏导点" class="site-name">{f["properties"]["site_name"]}</td>' in r.text
    assert r.text.count('class="siting-site"') == 2
    m = c.get(f"/maps/siting/{job['scenario_id']}").text
    assert XSS not in m


def test_planner_form_compares_two_counts(site: Site) -> None:
    c = client_for(site, "planner")
    form = {"name": "对比", "sites": "5", "radius_m": "400", "squads": "shuyuan",
            "model": "mclp", "compare": "1", "compare_a": "3", "compare_b": "5"}
    job = wait_job(c, f"/api/siting/jobs/{_job_id(c.post('/planner/siting', data=form))}")
    assert job["status"] == "done" and job["result_url"].startswith("/siting/compare?a="), job
    page = c.get(job["result_url"])
    assert page.status_code == 200 and page.text.count('class="siting-site"') == 8
    assert 'id="compare-form"' in c.get("/planner").text  # pick any two stored scenarios
    bad = c.post("/planner/siting", data={**form, "compare_b": "3"})
    assert "选址失败：并排比较的点数" in bad.text and "两个点数相同" in bad.text
    bad = c.post("/planner/siting", data={**form, "radius_m": "abc"})
    assert "步行半径（米）应为数字" in bad.text
    assert client_for(site, "leader_sy").get(job["result_url"]).status_code == 403


def test_admin_page_users_and_import_report(site: Site) -> None:
    c = client_for(site, "admin")
    page = c.get("/admin")
    assert page.status_code == 200 and "leader_xh" in page.text and "中队长" in page.text
    r = c.post("/admin/users", data={"username": "new_officer", "password": PASSWORD,
                                     "role": "officer", "squad_id": "xinhua"})
    assert "已添加用户 new_officer" in r.text
    assert "必须绑定" in c.post("/admin/users", data={"username": "x2", "password": PASSWORD,
                                                     "role": "officer"}).text
    comm = site.storage.communities(squads=("xinhua",)).iloc[0].geometry.representative_point()
    table = pd.DataFrame({"case_id": ["IMP1", "IMP2"], "category": ["06036", "06036"],
                          "reported_at": ["2025-05-01 08:00", "not a date"],
                          "lon": [comm.x, comm.x], "lat": [comm.y, comm.y],
                          "description": [XSS, "bad row"]})
    buf = io.BytesIO(table.to_csv(index=False).encode())
    r = c.post("/admin/import", files={"file": (f"{XSS}.csv", buf, "text/csv")},
               data={"coords": "wgs84"})
    assert r.status_code == 200 and "新增 1" in r.text and "拒绝 1" in r.text
    assert XSS not in r.text and ESCAPED in r.text and "reported_at" in r.text
    assert c.get("/api/cases/IMP1").json()["properties"]["description"] == XSS


def test_css_is_responsive_and_local() -> None:
    css = (Path(__file__).resolve().parents[3] / "service/static/css/app.css").read_text()
    assert "@media (min-width:900px)" in css and "overflow-x:auto" in css
    assert "http" not in css and "@import" not in css


def test_basemap_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from geo.maps.squad import BASEMAPS
    from service.settings import BASEMAPS as SETTING_CHOICES
    from service.settings import Settings

    assert SETTING_CHOICES == BASEMAPS
    assert Settings().basemap == "osm"
    monkeypatch.setenv("XUNCHA_BASEMAP", "local")
    monkeypatch.setenv("XUNCHA_TILE_URL", "http://gis.bureau.local/tiles/{z}/{x}/{y}.png")
    monkeypatch.setenv("XUNCHA_TILE_ATTRIBUTION", "孝南区自然资源局")
    assert Settings().map_options() == {
        "basemap": "local", "tianditu_key": None,
        "tile_url": "http://gis.bureau.local/tiles/{z}/{x}/{y}.png",
        "tile_attribution": "孝南区自然资源局"}
    monkeypatch.setenv("XUNCHA_TILE_URL", "http://gis.bureau.local/tiles/{z}.png")
    with pytest.raises(ValidationError, match="XUNCHA_TILE_URL"):
        Settings()
    monkeypatch.delenv("XUNCHA_TILE_URL")
    with pytest.raises(ValidationError, match="XUNCHA_TILE_URL"):
        Settings()
    monkeypatch.setenv("XUNCHA_BASEMAP", "tianditu")
    with pytest.raises(ValidationError, match="XUNCHA_TIANDITU_KEY"):
        Settings()
    monkeypatch.setenv("XUNCHA_BASEMAP", "none")
    assert Settings().map_options()["basemap"] == "none"


def test_map_page_uses_the_configured_local_tiles(site: Site) -> None:
    from service import pages_data

    c = client_for(site, "leader_sy")
    settings = site.app.state.settings
    url = "/tiles/{z}/{x}/{y}.png"
    site.app.state.settings = settings.model_copy(update={"basemap": "local", "tile_url": url})
    pages_data.CACHE.clear()
    try:
        page = c.get(f"/maps/shuyuan?date={site.today}")
    finally:
        site.app.state.settings = settings
        pages_data.CACHE.clear()
    assert page.status_code == 200, page.text[:300]
    assert f'"{url}"' in page.text and "openstreetmap" not in page.text


def _is_html(r: Any) -> bool:
    return r.headers["content-type"].startswith("text/html") and "<!doctype html>" in r.text


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_signed_out_pages_redirect_to_login_and_api_says_401(site: Site) -> None:
    c = client_for(site, None)
    c.headers.update(BROWSER)
    for path in ("/planner", "/admin", f"/maps/shuyuan?date={site.today}", "/maps/district"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, (path, r.status_code)
        assert r.headers["location"] == "/login?next=" + quote(path, safe="")
    # a script (no text/html in Accept) fetching a map gets 401, as a page with a login link
    script = c.get("/maps/district", headers={"Accept": "*/*"}, follow_redirects=False)
    assert script.status_code == 401 and _is_html(script)
    assert 'href="/login?next=%2Fmaps%2Fdistrict"' in script.text
    # a form posted after the session ended goes back to the page it came from
    r = c.post("/squad/shuyuan/worklogs", data={"at": f"{site.today}T08:00"},
               headers={"Referer": "http://testserver/squad/shuyuan?date=2026-05-01"},
               follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fsquad%2Fshuyuan%3Fdate%3D2026-05-01"
    foreign = c.post("/admin/users", data={"username": "x", "password": PASSWORD, "role": "admin"},
                     headers={"Referer": "https://evil.example/admin"}, follow_redirects=False)
    assert foreign.headers["location"] == "/login"  # no redirect to another site's path
    api = c.get("/api/cases")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    assert "登录" in api.json()["detail"]
    # an expired/invalid session cookie is cleared on the way to the login page
    c.cookies.set("xuncha_session", "not-a-token")
    stale = c.get("/planner", follow_redirects=False)
    assert stale.status_code == 303 and 'xuncha_session=""' in stale.headers["set-cookie"]


def test_page_errors_are_chinese_pages_and_api_errors_json(site: Site) -> None:
    c = client_for(site, "leader_xh")
    forbidden = c.get("/planner")
    assert forbidden.status_code == 403 and _is_html(forbidden)
    assert "没有权限" in forbidden.text and "规划页面仅对规划人员和管理员开放" in forbidden.text
    assert "leader_xh" in forbidden.text  # the header still shows who is signed in
    api = c.get("/api/users")
    assert api.status_code == 403 and api.headers["content-type"] == "application/json"
    other = c.get("/squad/shuyuan")
    assert other.status_code == 404 and _is_html(other) and "没有编号为「shuyuan」的中队" in other.text
    img = "<img src=x onerror=alert(1)>"
    evil = c.get("/squad/" + quote(img, safe=""))
    assert evil.status_code == 404 and img not in evil.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in evil.text
    missing = c.get("/squad/xinhua/nothing-here")
    assert missing.status_code == 404 and _is_html(missing) and "找不到页面" in missing.text
    wrong_method = c.get("/squad/xinhua/worklogs")
    assert wrong_method.status_code == 405 and _is_html(wrong_method)
    assert c.get("/api/nothing-here").json() == {"detail": "Not Found"}
    assert c.get("/nothing-here").headers["content-type"] == "application/json"
    typed = c.get("/nothing-here", headers={"Accept": "text/html,*/*"})
    assert typed.status_code == 404 and _is_html(typed)
    bad_query = c.get("/maps/xinhua?date=tomorrow")
    assert bad_query.status_code == 422 and _is_html(bad_query)
    assert "填写的内容有误" in bad_query.text and "<td>date</td>" in bad_query.text
    bad_day = c.get("/squad/xinhua?date=2026-13-45")
    assert bad_day.status_code == 400 and _is_html(bad_day)
    bad_api = c.get("/api/worklogs", params={"limit": 0})
    assert bad_api.status_code == 422 and bad_api.json()["problems"][0]["column"] == "limit"


def test_unexpected_errors_are_500_pages_without_internals() -> None:
    from fastapi import FastAPI

    from geo.errors import SolverError
    from service import handlers as errors

    app = FastAPI()
    errors.install(app)

    @app.get("/admin/boom")
    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    @app.get("/planner/solver")
    def solver() -> None:
        raise SolverError("求解器没有在时限内找到可行方案；请减少点数后重试。")

    c = TestClient(app, raise_server_exceptions=False)
    page = c.get("/admin/boom")
    assert page.status_code == 500 and _is_html(page) and "服务器内部错误" in page.text
    assert "secret" not in page.text
    api = c.get("/api/boom")
    assert api.status_code == 500 and "secret" not in api.text
    assert api.json()["detail"].startswith("服务器内部错误")
    solved = c.get("/planner/solver")
    assert solved.status_code == errors.status_for(SolverError("x")) == 500
    assert "求解器没有在时限内找到可行方案" in solved.text and _is_html(solved)


def test_one_status_table() -> None:
    from sqlalchemy.exc import IntegrityError

    from geo.errors import NotFoundError, ValidationError
    from service.errors import (
        STATUS,
        AuthError,
        ConflictError,
        PermissionDenied,
        RateLimited,
        status_for,
    )

    cases = {AuthError("x"): 401, PermissionDenied("x"): 403, NotFoundError("x"): 404,
             ConflictError("x"): 409, ValidationError("x", []): 422, RateLimited("x"): 429,
             IntegrityError("s", {}, Exception()): 409, KeyError("x"): 500}
    for exc, code in cases.items():
        assert status_for(exc) == code, exc
    assert set(STATUS.values()) <= {400, 401, 403, 404, 409, 413, 422, 429, 500}


def test_admin_page_disables_enables_and_resets_passwords(site: Site) -> None:
    admin = client_for(site, "admin")
    page = admin.get("/admin").text
    own = re.search(r'<tr id="user-admin".*?</tr>', page, re.S)
    assert own and "（本人）" in own.group(0) and "/active" not in own.group(0)
    row = re.search(r'<tr id="user-leader_xh".*?</tr>', page, re.S)
    assert row and 'action="/admin/users/leader_xh/active"' in row.group(0)
    assert 'action="/admin/users/leader_xh/password"' in row.group(0)
    leader = client_for(site, "leader_xh")  # signed in before the account is disabled
    leader.headers.update(BROWSER)
    assert leader.get("/squad/xinhua").status_code == 200
    r = admin.post("/admin/users/leader_xh/active", data={"active": "0"})
    assert r.status_code == 200 and "已停用用户 leader_xh" in r.text
    row = re.search(r'<tr id="user-leader_xh".*?</tr>', r.text, re.S)
    assert row and '<td class="state">停用</td>' in row.group(0) and "启用" in row.group(0)
    try:
        out = leader.get("/squad/xinhua", follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"].startswith("/login")
        assert leader.get("/api/auth/me").status_code == 401
    finally:
        back = admin.post("/admin/users/leader_xh/active", data={"active": "1"})
        assert "已启用用户 leader_xh" in back.text
    assert client_for(site, "leader_xh").get("/squad/xinhua").status_code == 200
    selfish = admin.post("/admin/users/admin/active", data={"active": "0"})
    assert "不能停用自己的账号" in selfish.text and 'class="flash error"' in selfish.text
    # password reset: the old password stops working, the new one signs in
    admin.post("/admin/users", data={"username": "pw_user", "password": PASSWORD,
                                     "role": "officer", "squad_id": "xinhua"})
    short = admin.post("/admin/users/pw_user/password", data={"password": "short"})
    assert "密码至少需要 8 个字符" in short.text
    done = admin.post("/admin/users/pw_user/password", data={"password": "brand-new-pass-9"})
    assert "已重置用户 pw_user 的密码" in done.text
    c = TestClient(site.app)
    assert c.post("/login", data={"username": "pw_user", "password": PASSWORD},
                  follow_redirects=False).status_code == 401
    assert c.post("/login", data={"username": "pw_user", "password": "brand-new-pass-9"},
                  follow_redirects=False).status_code == 303
    # only admins
    officer = client_for(site, "officer_sy")
    refused = officer.post("/admin/users/pw_user/active", data={"active": "0"})
    assert refused.status_code == 403 and _is_html(refused)
    assert officer.post("/admin/users/pw_user/password",
                        data={"password": "hijacked-pass-1"}).status_code == 403


def test_work_log_entry_corrected_from_the_dashboard(site: Site) -> None:
    o = client_for(site, "officer_sy")
    o.post("/squad/shuyuan/worklogs", data={"at": f"{site.today}T10:15", "place": "槐荫大道",
                                            "problem": "店外经营", "action": "劝导"})
    entry = next(e for e in o.get("/api/worklogs").json()["items"] if e["place"] == "槐荫大道")
    eid = entry["id"]
    row = re.search(rf'<tr id="log-{eid}".*?</tr>', o.get("/squad/shuyuan").text, re.S)
    assert row and f'action="/squad/shuyuan/worklogs/{eid}"' in row.group(0)
    assert 'value="槐荫大道"' in row.group(0)  # the form starts from the current values
    r = o.post(f"/squad/shuyuan/worklogs/{eid}", data={
        "at": f"{site.today}T10:45", "place": "槐荫大道 12 号", "problem": XSS,
        "action": "劝导后自行整改", "outcome": "当场办理"})
    assert r.status_code == 200 and "工作日志已修改" in r.text
    assert XSS not in r.text and ESCAPED in r.text
    got = o.get(f"/api/worklogs/{eid}").json()
    assert (got["place"], got["problem"], got["outcome"]) == ("槐荫大道 12 号", XSS, "当场办理")
    assert got["at"].startswith(f"{site.today}T10:45") and got["author"] == "officer_sy"
    # the squad leader sees the edit form; a planner and another squad do not get to edit
    assert f'action="/squad/shuyuan/worklogs/{eid}"' in client_for(site, "leader_sy").get(
        "/squad/shuyuan").text
    p = client_for(site, "planner")
    assert f'action="/squad/shuyuan/worklogs/{eid}"' not in p.get("/squad/shuyuan").text
    denied = p.post(f"/squad/shuyuan/worklogs/{eid}", data={"at": f"{site.today}T11:00"})
    assert "日志未修改" in denied.text and "只有作者" in denied.text
    x = client_for(site, "leader_xh")
    assert x.post(f"/squad/shuyuan/worklogs/{eid}",
                  data={"at": f"{site.today}T11:00"}).status_code == 404
    own_page = x.post(f"/squad/xinhua/worklogs/{eid}", data={"at": f"{site.today}T11:00"})
    assert "日志未修改" in own_page.text and f"没有编号为 {eid} 的日志" in own_page.text
    assert o.get(f"/api/worklogs/{eid}").json()["place"] == "槐荫大道 12 号"
