"""Sign-in, tokens, session cookie, failed-login rate limit, and ``xuncha users``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import typer
from api_support import BACKENDS, PASSWORD, SECRET, Api, build_api, database_url
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from service.auth import LoginLimiter, verify_password
from service.commands.users import register
from service.errors import RateLimited
from service.models import User
from service.storage import Storage


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_auth")
    for url in database_url(request.param, folder):
        yield from build_api(url, seed=False, login_attempts_per_minute=3)


def _login(api: Api, username: str, password: str) -> Any:
    return api.client.post("/api/auth/token", data={"username": username, "password": password})


def test_token_flow_and_me(api: Api) -> None:
    resp = _login(api, "leader_sy", PASSWORD)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "bearer" and body["access_token"]
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "leader_sy" and claims["squad"] == "shuyuan"
    me = api.client.get("/api/auth/me",
                        headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "leader_sy", "role": "squad_leader", "squad_id": "shuyuan"}
    assert "set-cookie" not in resp.headers  # API tokens do not set the page cookie


def test_passwords_are_argon2_hashes(api: Api) -> None:
    with api.storage.begin() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "admin"))
    assert stored is not None
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_password(stored, PASSWORD) and not verify_password(stored, "wrong")


def test_bad_tokens_are_refused(api: Api) -> None:
    now = datetime.now(UTC)
    expired = jwt.encode({"sub": "admin", "exp": now - timedelta(minutes=1)}, SECRET, "HS256")
    forged = jwt.encode({"sub": "admin", "exp": now + timedelta(hours=1)},
                        "another-key-another-key-another-key!", "HS256")
    unknown = jwt.encode({"sub": "ghost", "exp": now + timedelta(hours=1)}, SECRET, "HS256")
    none_alg = jwt.encode({"sub": "admin", "exp": now + timedelta(hours=1)}, None, "none")
    for token, word in ((expired, "过期"), (forged, "无效"), (unknown, "不存在"), (none_alg, "无效")):
        resp = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401 and word in resp.json()["detail"]


def test_failed_logins_are_rate_limited(api: Api) -> None:
    for _ in range(3):
        assert _login(api, "planner", "wrong-password").status_code == 401
    limited = _login(api, "planner", PASSWORD)  # even the right password waits
    assert limited.status_code == 429
    assert "次数过多" in limited.json()["detail"] and int(limited.headers["retry-after"]) >= 1
    assert _login(api, "admin", PASSWORD).status_code == 200  # other usernames unaffected


def test_session_cookie_for_pages(api: Api) -> None:
    client = api.client
    resp = client.post("/api/auth/session", data={"username": "officer_sy", "password": PASSWORD})
    assert resp.status_code == 200 and resp.json()["squad_id"] == "shuyuan"
    cookie = resp.headers["set-cookie"]
    assert "xuncha_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    try:
        assert client.get("/api/auth/me").json()["username"] == "officer_sy"
        cross = client.post("/api/worklogs", json={"at": "2026-05-01T08:00:00"},
                            headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403 and "跨站" in cross.json()["detail"]
        same = client.post("/api/worklogs", json={"at": "2026-05-01T08:00:00", "problem": "x"},
                           headers={"Origin": "http://testserver"})
        assert same.status_code == 201
        assert client.post("/api/auth/logout").status_code == 204
        assert client.get("/api/auth/me").status_code == 401
    finally:
        client.cookies.clear()


def test_disabled_user_loses_access_at_once(api: Api) -> None:
    headers = api.auth("leader_xh")
    assert api.client.get("/api/auth/me", headers=headers).status_code == 200
    with api.storage.begin() as session:
        session.scalars(select(User).where(User.username == "leader_xh")).one().active = False
    try:
        assert api.client.get("/api/auth/me", headers=headers).status_code == 401
        assert _login(api, "leader_xh", PASSWORD).status_code == 401
    finally:
        with api.storage.begin() as session:
            session.scalars(select(User).where(User.username == "leader_xh")).one().active = True


def test_admin_user_endpoints(api: Api) -> None:
    new = {"username": "officer_xh", "password": "long-enough-1", "role": "officer",
           "squad_id": "xinhua"}
    assert api.post("/api/users", "leader_sy", json=new).status_code == 403
    resp = api.post("/api/users", "admin", json=new)
    assert resp.status_code == 201 and resp.json()["squad_id"] == "xinhua"
    assert api.post("/api/users", "admin", json=new).status_code == 409
    unbound = api.post("/api/users", "admin", json={**new, "username": "o2", "squad_id": None})
    assert unbound.status_code == 400 and "中队" in unbound.json()["detail"]
    names = [u["username"] for u in api.get("/api/users", "admin").json()]
    assert "officer_xh" in names


def test_login_limiter_window() -> None:
    lim = LoginLimiter(2, window_s=60)
    lim.failed("a", "1.1.1.1")
    lim.check("a", "1.1.1.1")
    lim.failed("a", "1.1.1.1")
    with pytest.raises(RateLimited):
        lim.check("A", "1.1.1.1")  # usernames are compared case-insensitively
    lim.check("a", "2.2.2.2")  # another address is not blocked
    lim.succeeded("a", "1.1.1.1")
    lim.check("a", "1.1.1.1")
    for i in range(20):  # spraying usernames from one address trips the per-address limit
        lim.failed(f"user{i}", "3.3.3.3")
    with pytest.raises(RateLimited):
        lim.check("fresh", "3.3.3.3")


def test_users_cli_reads_password_from_stdin(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_DATABASE_URL", db_url)
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    ok = runner.invoke(app, ["users", "add", "zhang", "--role", "squad_leader", "--squad",
                             "shuyuan"], input="s3cret-pass\n")
    assert ok.exit_code == 0, ok.output
    assert "zhang" in ok.output
    no_squad = runner.invoke(app, ["users", "add", "li", "--role", "officer"], input="s3cret-pass\n")
    assert no_squad.exit_code == 1 and "中队" in no_squad.output
    bad_role = runner.invoke(app, ["users", "add", "wang", "--role", "boss"], input="s3cret-pass\n")
    assert bad_role.exit_code == 1 and "角色" in bad_role.output
    dup = runner.invoke(app, ["users", "add", "zhang", "--role", "admin"], input="s3cret-pass\n")
    assert dup.exit_code == 1 and "已存在" in dup.output
    listed = runner.invoke(app, ["users", "list"])
    assert "zhang" in listed.output and "shuyuan" in listed.output
    storage = Storage(db_url)
    with storage.begin() as session:
        user = session.scalars(select(User).where(User.username == "zhang")).one()
        assert user.role == "squad_leader" and verify_password(user.password_hash, "s3cret-pass")
    storage.engine.dispose()


def _patch_user(api: Api, user: str, target: str, **body: Any) -> Any:
    return api.client.patch(f"/api/users/{target}", json=body, headers=api.auth(user))


def test_admin_disables_and_enables_a_user_over_http(api: Api) -> None:
    old_token = api.auth("leader_xh")  # issued before the account is disabled
    session_client = TestClient(api.client.app)
    assert session_client.post("/api/auth/session", data={"username": "leader_xh",
                                                          "password": PASSWORD}).status_code == 200
    assert session_client.get("/api/auth/me").status_code == 200
    assert _patch_user(api, "leader_sy", "leader_xh", active=False).status_code == 403
    try:
        off = _patch_user(api, "admin", "leader_xh", active=False)
        assert off.status_code == 200 and off.json() == {
            "username": "leader_xh", "role": "squad_leader", "squad_id": "xinhua", "active": False,
            "district_code": None}
        # the next request with the earlier token, or the earlier session cookie, is refused
        refused = api.client.get("/api/worklogs", headers=old_token)
        assert refused.status_code == 401 and "停用" in refused.json()["detail"]
        assert session_client.get("/api/auth/me").status_code == 401
        assert _login(api, "leader_xh", PASSWORD).status_code == 401
        listed = {u["username"]: u["active"] for u in api.get("/api/users", "admin").json()}
        assert "leader_xh" not in listed and listed["admin"] is True
        everyone = api.get("/api/users", "admin", params={"include_disabled": True}).json()
        assert {u["username"]: u["active"] for u in everyone}["leader_xh"] is False
    finally:
        on = _patch_user(api, "admin", "leader_xh", active=True)
        assert on.status_code == 200 and on.json()["active"] is True
    # re-enabling does not revive tokens issued before the account was disabled
    assert api.client.get("/api/auth/me", headers=old_token).status_code == 401
    assert _login(api, "leader_xh", PASSWORD).status_code == 200


def test_admin_resets_a_password_over_http(api: Api) -> None:
    new = {"username": "reset_me", "password": "first-password-1", "role": "officer",
           "squad_id": "shuyuan"}
    assert api.post("/api/users", "admin", json=new).status_code == 201
    assert _patch_user(api, "officer_sy", "reset_me", password="x" * 12).status_code == 403
    done = _patch_user(api, "admin", "reset_me", password="second-password-2")
    assert done.status_code == 200 and done.json()["active"] is True
    assert _login(api, "reset_me", "first-password-1").status_code == 401
    assert _login(api, "reset_me", "second-password-2").status_code == 200
    with api.storage.begin() as session:
        stored = session.scalars(select(User).where(User.username == "reset_me")).one()
        assert verify_password(stored.password_hash, "second-password-2")
        assert "second-password-2" not in stored.password_hash


def test_user_patch_refusals(api: Api) -> None:
    me = _patch_user(api, "admin", "admin", active=False)
    assert me.status_code == 409 and "自己" in me.json()["detail"]
    assert _patch_user(api, "admin", "ghost", active=False).status_code == 404
    empty = _patch_user(api, "admin", "planner")
    assert empty.status_code == 400 and "active" in empty.json()["detail"]
    short = _patch_user(api, "admin", "planner", password="short")
    assert short.status_code == 422 and short.json()["problems"][0]["column"] == "password"
    role = _patch_user(api, "admin", "planner", role="admin")
    assert role.status_code == 422  # only active/password may change here
    assert _patch_user(api, "admin", "planner", active=True).json()["role"] == "planner"
    assert api.client.patch("/api/users/planner", json={"active": False}).status_code == 401
