"""The admin page's add-user form binds a user to a district (区县) as ``POST /api/users`` and
``xuncha users add --district`` do: a select of the districts by name (the code is the value),
checked like the API (unknown district, a squad of another district), and only deployment
admins (bound to no district) may use it."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from district_support import CODE, NAME, write_district
from fastapi.testclient import TestClient
from pages_support import PASSWORD, Site, build_site
from sqlalchemy import select

from geo.districts import build_district
from service.auth import create_user
from service.districts import list_districts, store_district
from service.models import User


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("admin_districts")
    s = build_site(f"sqlite:///{folder / 'admin.db'}")
    path, sq = write_district(folder, epsg=4547)
    squads = json.loads(sq.read_text(encoding="utf-8"))["squads"]
    store_district(s.storage, build_district(path, code=CODE, name=NAME, squads=squads))
    create_user(s.storage, "admin_b", PASSWORD, role="admin", district=CODE)
    yield s
    s.storage.engine.dispose()


def _client(site: Site, user: str) -> TestClient:
    client = TestClient(site.app, base_url="http://testserver")
    r = client.post("/login", data={"username": user, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def _district_of(site: Site, username: str) -> tuple[bool, str | None]:
    with site.storage.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        return (user is not None, None if user is None else user.district_code)


def _add(client: TestClient, **form: str) -> str:
    return html.unescape(client.post("/admin/users", data={"password": PASSWORD, **form}).text)


def test_the_form_offers_every_district_by_name(site: Site) -> None:
    page = _client(site, "admin").get("/admin")
    assert page.status_code == 200
    select_html = re.search(r'<select name="district_code">(.*?)</select>', page.text, re.S)
    assert select_html is not None
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', select_html.group(1))
    stored = {d.code: d.name for d in list_districts(site.storage)}
    assert len(stored) == 2 and CODE in stored
    assert options == [("", "（全部区县）"), *sorted(stored.items())]  # labels are names
    assert all(label != code for code, label in options[1:])


def test_adding_users_with_a_district(site: Site) -> None:
    admin = _client(site, "admin")
    assert "已添加用户 planner_b2" in _add(admin, username="planner_b2", role="planner",
                                          district_code=CODE)
    assert _district_of(site, "planner_b2") == (True, CODE)
    assert "已添加用户 officer_b2" in _add(admin, username="officer_b2", role="officer",
                                          squad_id="xc-a", district_code=CODE)
    assert _district_of(site, "officer_b2") == (True, CODE)
    assert "已添加用户 planner_all" in _add(admin, username="planner_all", role="planner")
    assert _district_of(site, "planner_all") == (True, None)  # no district: all of them
    row = re.search(r'<tr id="user-planner_b2".*?</tr>', admin.get("/admin").text, re.S)
    assert row is not None and f"<td>{NAME}</td>" in row.group(0)  # the table names it too


def test_a_district_that_does_not_fit_is_refused(site: Site) -> None:
    admin = _client(site, "admin")
    wrong = _add(admin, username="officer_x", role="officer", squad_id="shuyuan",
                 district_code=CODE)
    assert "未添加用户" in wrong and "不属于" in wrong
    unknown = _add(admin, username="planner_x", role="planner", district_code="999999")
    assert "未添加用户" in unknown and "没有编码为「999999」的区县" in unknown
    assert _district_of(site, "officer_x") == (False, None)
    assert _district_of(site, "planner_x") == (False, None)


def test_only_deployment_admins_may_add_district_users(site: Site) -> None:
    bound = _client(site, "admin_b")
    assert bound.get("/admin").status_code == 403
    r = bound.post("/admin/users", data={"username": "sneaky", "password": PASSWORD,
                                         "role": "admin", "district_code": ""})
    assert r.status_code == 403 and _district_of(site, "sneaky") == (False, None)
    officer = _client(site, "officer_sy")
    assert officer.post("/admin/users", data={"username": "sneaky2", "password": PASSWORD,
                                              "role": "planner",
                                              "district_code": CODE}).status_code == 403
    assert _district_of(site, "sneaky2") == (False, None)
