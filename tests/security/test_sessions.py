"""Sessions end: a token or session cookie stops working after the events that must end it.

Every token carries the user's token version (claim ``ver``), and every request compares it with
the version in the database (:mod:`service.auth`). These tests sign in for real (``/api/auth/token``
for a bearer token, ``/api/auth/session`` for the page cookie), then change the password with
``xuncha users passwd``, reset it as an admin (``PATCH /api/users/{name}``), disable and re-enable
the account, or sign out (``POST /api/auth/logout``), and check that the earlier token and cookie
get 401 (also for a work-log write, the thing a stolen session would be used for) while a fresh
sign-in works. Each test runs on SQLite and on PostGIS (``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import typer
from api_support import PASSWORD, SECRET, Api, build_api
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from service.auth import COOKIE_NAME
from service.commands.users import register
from service.models import User

ORIGIN = {"Origin": "http://testserver"}  # what a browser on the service's own pages sends
ENTRY = {"at": "2026-05-01T08:00:00", "problem": "店外经营", "action": "劝导"}
NEW_PASSWORD = "brand-new-pass-9"


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    yield from build_api(db_url, seed=False)


def _token(api: Api, user: str, password: str = PASSWORD) -> str:
    resp = api.client.post("/api/auth/token", data={"username": user, "password": password})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _browser(api: Api, user: str, password: str = PASSWORD) -> TestClient:
    """A client signed in through the page cookie (its own cookie jar)."""
    client = TestClient(api.client.app, base_url="http://testserver")
    resp = client.post("/api/auth/session", data={"username": user, "password": password})
    assert resp.status_code == 200, resp.text
    assert client.cookies.get(COOKIE_NAME)
    return client


def _with_cookie(api: Api, value: str) -> TestClient:
    """A fresh client that presents ``value`` as the session cookie (a copied/stolen cookie)."""
    client = TestClient(api.client.app, base_url="http://testserver")
    client.cookies.set(COOKIE_NAME, value)
    return client


def _me(client: TestClient, headers: dict[str, str] | None = None) -> int:
    return client.get("/api/auth/me", headers=headers or {}).status_code


def _write_log(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post("/api/worklogs", json=ENTRY, headers=headers)


def _assert_works(api: Api, token: str, browser: TestClient) -> None:
    assert _me(api.client, _bearer(token)) == 200
    assert _me(browser) == 200
    assert _write_log(browser, ORIGIN).status_code == 201


def _assert_refused(api: Api, token: str, cookie: str) -> None:
    old = _with_cookie(api, cookie)
    bearer = api.client.get("/api/auth/me", headers=_bearer(token))
    assert bearer.status_code == 401 and "重新登录" in bearer.json()["detail"]
    assert _me(old) == 401
    write = _write_log(old, ORIGIN)
    assert write.status_code == 401, write.text
    assert _write_log(api.client, _bearer(token)).status_code == 401


def _log_count(api: Api) -> int:
    return len(api.client.get("/api/worklogs", headers=api.auth("officer_sy")).json()["items"])


def test_cli_passwd_ends_earlier_tokens_and_cookies(api: Api, db_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    token, browser = _token(api, "officer_sy"), _browser(api, "officer_sy")
    cookie = str(browser.cookies.get(COOKIE_NAME))
    _assert_works(api, token, browser)
    monkeypatch.setenv("XUNCHA_DATABASE_URL", db_url)
    cli = typer.Typer()
    register(cli)
    done = CliRunner().invoke(cli, ["users", "passwd", "officer_sy"], input=f"{NEW_PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert "失效" in done.output
    before = _log_count(api)
    _assert_refused(api, token, cookie)
    assert _me(browser) == 401
    assert _log_count(api) == before  # the refused writes stored nothing
    assert api.client.post("/api/auth/token", data={"username": "officer_sy",
                                                    "password": PASSWORD}).status_code == 401
    fresh = _browser(api, "officer_sy", NEW_PASSWORD)
    _assert_works(api, _token(api, "officer_sy", NEW_PASSWORD), fresh)


def test_admin_password_reset_ends_earlier_tokens_and_cookies(api: Api) -> None:
    admin = _token(api, "admin")
    token, browser = _token(api, "officer_sy"), _browser(api, "officer_sy")
    cookie = str(browser.cookies.get(COOKIE_NAME))
    _assert_works(api, token, browser)
    reset = api.client.patch("/api/users/officer_sy", json={"password": NEW_PASSWORD},
                             headers=_bearer(admin))
    assert reset.status_code == 200, reset.text
    _assert_refused(api, token, cookie)
    assert _me(api.client, _bearer(admin)) == 200  # only the target's sessions end
    _assert_works(api, _token(api, "officer_sy", NEW_PASSWORD),
                  _browser(api, "officer_sy", NEW_PASSWORD))


def test_disable_then_enable_does_not_revive_earlier_tokens(api: Api) -> None:
    admin = _bearer(_token(api, "admin"))
    token, browser = _token(api, "officer_sy"), _browser(api, "officer_sy")
    cookie = str(browser.cookies.get(COOKIE_NAME))
    _assert_works(api, token, browser)
    off = api.client.patch("/api/users/officer_sy", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert _me(api.client, _bearer(token)) == 401 and _me(browser) == 401
    on = api.client.patch("/api/users/officer_sy", json={"active": True}, headers=admin)
    assert on.status_code == 200 and on.json()["active"] is True
    _assert_refused(api, token, cookie)
    _assert_works(api, _token(api, "officer_sy"), _browser(api, "officer_sy"))


def test_enabling_an_active_user_changes_nothing(api: Api) -> None:
    token = _token(api, "officer_sy")
    again = api.client.patch("/api/users/officer_sy", json={"active": True},
                             headers=_bearer(_token(api, "admin")))
    assert again.status_code == 200
    assert _me(api.client, _bearer(token)) == 200


def test_logout_revokes_the_cookie_and_every_other_session(api: Api) -> None:
    browser, phone = _browser(api, "officer_sy"), _browser(api, "officer_sy")
    token = _token(api, "officer_sy")  # e.g. QGIS on the same account
    cookie = str(browser.cookies.get(COOKIE_NAME))
    _assert_works(api, token, browser)
    out = browser.post("/api/auth/logout", headers=ORIGIN)
    assert out.status_code == 204 and f'{COOKIE_NAME}=""' in out.headers["set-cookie"]
    _assert_refused(api, token, cookie)  # the old cookie value, replayed, is refused too
    assert _me(phone) == 401  # "sign out" is "sign out everywhere" (documented)
    _assert_works(api, _token(api, "officer_sy"), _browser(api, "officer_sy"))


def test_logout_with_a_bearer_token_revokes_it(api: Api) -> None:
    token = _token(api, "leader_sy")
    assert api.client.post("/api/auth/logout", headers=_bearer(token)).status_code == 204
    assert _me(api.client, _bearer(token)) == 401
    # the revoked token cannot sign the user out again (the fresh one keeps working)
    fresh = _token(api, "leader_sy")
    assert api.client.post("/api/auth/logout", headers=_bearer(token)).status_code == 204
    assert _me(api.client, _bearer(fresh)) == 200


def test_cross_site_logout_only_clears_the_cookie(api: Api) -> None:
    browser = _browser(api, "officer_sy")
    cookie = str(browser.cookies.get(COOKIE_NAME))
    out = browser.post("/api/auth/logout", headers={"Origin": "http://evil.example"})
    assert out.status_code == 204 and f'{COOKIE_NAME}=""' in out.headers["set-cookie"]
    # a foreign page cannot sign the user out of every device: nothing was revoked on the server
    assert _me(_with_cookie(api, cookie)) == 200


def test_role_or_squad_change_ends_earlier_tokens(api: Api) -> None:
    leader, officer = _token(api, "leader_xh"), _token(api, "officer_sy")
    with api.storage.begin() as session:
        session.scalars(select(User).where(User.username == "leader_xh")).one().role = "officer"
        session.scalars(select(User).where(User.username == "officer_sy")).one().squad_id = "xinhua"
    assert _me(api.client, _bearer(leader)) == 401
    assert _me(api.client, _bearer(officer)) == 401
    me = api.client.get("/api/auth/me", headers=_bearer(_token(api, "officer_sy")))
    assert me.status_code == 200 and me.json()["squad_id"] == "xinhua"


def test_tokens_carry_the_current_version(api: Api) -> None:
    first = jwt.decode(_token(api, "planner"), SECRET, algorithms=["HS256"])
    api.client.post("/api/auth/logout", headers=_bearer(_token(api, "planner")))
    second = jwt.decode(_token(api, "planner"), SECRET, algorithms=["HS256"])
    assert second["ver"] == first["ver"] + 1
    with api.storage.begin() as session:
        stored = session.scalar(select(User.token_version).where(User.username == "planner"))
    assert stored == second["ver"]


def test_page_logout_revokes_the_cookie(api: Api) -> None:
    browser = TestClient(api.client.app, base_url="http://testserver")
    signed_in = browser.post("/login", data={"username": "officer_sy", "password": PASSWORD},
                             follow_redirects=False)
    assert signed_in.status_code == 303
    cookie = str(browser.cookies.get(COOKIE_NAME))
    out = browser.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert out.status_code == 303
    assert _me(_with_cookie(api, cookie)) == 401
