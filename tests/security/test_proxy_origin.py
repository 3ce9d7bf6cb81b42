"""Proxy headers and the same-origin rule for cookie writes.

- The failed-login limiter keys on :func:`service.deps.client_ip`: ``X-Forwarded-For`` counts only
  when the direct peer is in ``XUNCHA_TRUSTED_PROXIES``, so rotating the header from anywhere else
  does not reset the limit; from a trusted proxy the forwarded client address is the key.
- ``xuncha serve`` gives uvicorn ``proxy_headers=False`` unless trusted proxies are configured
  (uvicorn otherwise believes the headers from 127.0.0.1): checked on the keyword arguments and
  on the middleware uvicorn builds from them.
- A cookie-authenticated POST needs an ``Origin`` (or ``Referer``) with the request's own scheme,
  host and port; ``X-Forwarded-Proto``/``-Host`` count only from a trusted proxy. Bearer requests
  are exempt.

Tests that sign in run on SQLite and PostGIS (``db_url``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from api_support import PASSWORD, Api, build_api
from fastapi.testclient import TestClient
from starlette.requests import Request
from typer.testing import CliRunner

from geo.errors import InputError
from service.app import create_app
from service.commands.common import uvicorn_proxy_options
from service.deps import client_ip, parse_trusted_proxies
from service.settings import Settings

PROXY = ("127.0.0.1", 41000)  # the reverse proxy on this host, trusted in the fixture
STRANGER = ("203.0.113.9", 41000)  # any other direct peer
ENTRY = {"at": "2026-05-01T08:00:00", "problem": "占道经营", "action": "劝导"}


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    yield from build_api(db_url, seed=False, login_attempts_per_minute=5,
                         trusted_proxies="127.0.0.1, 10.0.0.0/8")


def _peer(api: Api, peer: tuple[str, int]) -> TestClient:
    return TestClient(api.client.app, base_url="http://testserver", client=peer)


def _wrong_login(client: TestClient, user: str, xff: str) -> int:
    return client.post("/api/auth/token", data={"username": user, "password": "wrong-password"},
                       headers={"X-Forwarded-For": xff}).status_code


# --- the login limiter and X-Forwarded-For ---------------------------------------------------


def test_rotating_forwarded_for_from_an_untrusted_peer_is_limited(api: Api) -> None:
    client = _peer(api, STRANGER)
    codes = [_wrong_login(client, "planner", f"198.51.100.{i}") for i in range(6)]
    assert codes == [401] * 5 + [429]
    right = client.post("/api/auth/token", data={"username": "planner", "password": PASSWORD},
                        headers={"X-Forwarded-For": "198.51.100.200"})
    assert right.status_code == 429 and "次数过多" in right.json()["detail"]


def test_forwarded_for_from_a_trusted_proxy_is_the_client(api: Api) -> None:
    proxy = _peer(api, PROXY)
    # six different clients behind the proxy: each has its own budget
    assert [_wrong_login(proxy, "leader_sy", f"198.51.100.{i}") for i in range(6)] == [401] * 6
    # one client behind the proxy, spoofing a left-hand entry each time: its real address (the
    # entry the proxy appended) is the key, so it is limited after five failures
    codes = [_wrong_login(proxy, "leader_sy", f"192.0.2.{i}, 198.51.100.77") for i in range(6)]
    assert codes == [401] * 5 + [429]
    # and that client's limit does not spill over to the proxy's other clients
    ok = proxy.post("/api/auth/token", data={"username": "leader_sy", "password": PASSWORD},
                    headers={"X-Forwarded-For": "198.51.100.78"})
    assert ok.status_code == 200


def _request(peer: str, headers: dict[str, str], trusted: str) -> Request:
    app = create_app(Settings(database_url="sqlite:///unused.db", secret_key="k" * 32,
                              trusted_proxies=trusted))
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "path": "/", "scheme": "http", "app": app,
        "client": (peer, 1234), "query_string": b"", "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    return Request(scope)


@pytest.mark.parametrize(("peer", "xff", "trusted", "expected"), [
    ("203.0.113.9", "1.2.3.4", "", "203.0.113.9"),  # nobody trusted: the header is ignored
    ("127.0.0.1", "1.2.3.4", "", "127.0.0.1"),  # not even from this host by default
    ("127.0.0.1", "1.2.3.4", "127.0.0.1", "1.2.3.4"),
    ("10.1.2.3", "9.9.9.9, 1.2.3.4, 10.0.0.5", "10.0.0.0/8", "1.2.3.4"),  # skip trusted hops
    ("10.1.2.3", "10.0.0.7", "10.0.0.0/8", "10.0.0.7"),  # every hop trusted: the left-most
    ("::1", "2001:db8::1", "::1", "2001:db8::1"),
    ("10.1.2.3", "", "10.0.0.0/8", "10.1.2.3"),  # a trusted peer without the header
])
def test_client_ip(peer: str, xff: str, trusted: str, expected: str) -> None:
    headers = {"X-Forwarded-For": xff} if xff else {}
    assert client_ip(_request(peer, headers, trusted)) == expected


def test_trusted_proxies_must_be_addresses() -> None:
    assert [str(n) for n in parse_trusted_proxies(" 127.0.0.1, 10.0.0.0/8 ,,::1")] == [
        "127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    for bad in ("*", "proxy.local", "10.0.0.0/33"):
        with pytest.raises(InputError, match="XUNCHA_TRUSTED_PROXIES"):
            parse_trusted_proxies(bad)
    with pytest.raises(InputError, match="不是 IP 地址"):
        create_app(Settings(database_url="sqlite:///unused.db", trusted_proxies="1.2.3"))


# --- uvicorn's proxy options --------------------------------------------------------------------


def _uvicorn_client(options: dict[str, Any], peer: str, xff: str) -> tuple[str, str]:
    """The client address and scheme the app sees when uvicorn runs with ``options``."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    config = uvicorn.Config(app, log_config=None, **options)
    config.load()
    scope = {"type": "http", "scheme": "http", "client": (peer, 1234),
             "headers": [(b"x-forwarded-for", xff.encode()), (b"x-forwarded-proto", b"https")]}
    asyncio.run(config.loaded_app(scope, None, None))  # type: ignore[arg-type]
    return seen["client"][0], seen["scheme"]


def test_uvicorn_ignores_forwarded_headers_unless_proxies_are_configured() -> None:
    plain = uvicorn_proxy_options(Settings(trusted_proxies=""))
    assert plain == {"proxy_headers": False}
    assert _uvicorn_client(plain, "127.0.0.1", "1.2.3.4") == ("127.0.0.1", "http")
    behind = uvicorn_proxy_options(Settings(trusted_proxies="10.0.0.0/8,127.0.0.1"))
    assert behind == {"proxy_headers": True, "forwarded_allow_ips": ["10.0.0.0/8", "127.0.0.1/32"]}
    assert _uvicorn_client(behind, "10.9.8.7", "1.2.3.4") == ("1.2.3.4", "https")
    assert _uvicorn_client(behind, "203.0.113.9", "1.2.3.4") == ("203.0.113.9", "http")
    with pytest.raises(InputError):
        uvicorn_proxy_options(Settings(trusted_proxies="*"))


def test_serve_passes_the_proxy_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from service.cli import app as cli

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setenv("XUNCHA_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("XUNCHA_TRUSTED_PROXIES", raising=False)
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
    monkeypatch.setenv("XUNCHA_TRUSTED_PROXIES", "10.0.0.1")
    assert CliRunner().invoke(cli, ["serve", "--workers", "2"]).exit_code == 0
    assert calls[0]["proxy_headers"] is False
    assert calls[1]["proxy_headers"] is True and calls[1]["forwarded_allow_ips"] == ["10.0.0.1/32"]


# --- same origin for cookie writes --------------------------------------------------------------


def _signed_in(api: Api, peer: tuple[str, int] = STRANGER) -> TestClient:
    client = _peer(api, peer)
    resp = client.post("/api/auth/session", data={"username": "officer_sy", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return client


def _post(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post("/api/worklogs", json=ENTRY, headers=headers)


def test_cookie_writes_need_the_same_origin(api: Api) -> None:
    browser = _signed_in(api)
    bare = _post(browser, {})
    assert bare.status_code == 403 and "缺少 Origin" in bare.json()["detail"]
    for origin in ("http://evil", "https://testserver", "http://testserver:8080", "null",
                   "http://testserver.evil.example", "testserver"):
        refused = _post(browser, {"Origin": origin})
        assert refused.status_code == 403 and "跨站" in refused.json()["detail"], origin
    # Origin wins over Referer; a Referer counts only without an Origin
    assert _post(browser, {"Origin": "http://evil",
                           "Referer": "http://testserver/squad/shuyuan"}).status_code == 403
    assert _post(browser, {"Referer": "https://testserver/squad/shuyuan"}).status_code == 403
    assert _post(browser, {"Referer": "http://testserver/squad/shuyuan"}).status_code == 201
    for origin in ("http://testserver", "http://TestServer:80"):
        assert _post(browser, {"Origin": origin}).status_code == 201, origin
    # reads need no Origin
    assert browser.get("/api/worklogs").status_code == 200


def test_bearer_writes_need_no_origin(api: Api) -> None:
    headers = api.auth("officer_sy")
    assert _post(api.client, headers).status_code == 201
    assert _post(api.client, {**headers, "Origin": "http://evil"}).status_code == 201


def test_forwarded_proto_and_host_count_only_from_a_trusted_proxy(api: Api) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "xuncha.example"}
    proxy = _signed_in(api, PROXY)
    assert _post(proxy, {**forwarded, "Origin": "https://xuncha.example"}).status_code == 201
    assert _post(proxy, {**forwarded, "Origin": "http://xuncha.example"}).status_code == 403
    assert _post(proxy, {**forwarded, "Origin": "http://testserver"}).status_code == 403
    assert _post(proxy, {"X-Forwarded-Proto": "https",
                         "Origin": "https://testserver"}).status_code == 201
    stranger = _signed_in(api, STRANGER)
    assert _post(stranger, {**forwarded, "Origin": "https://xuncha.example"}).status_code == 403
    assert _post(stranger, {**forwarded, "Origin": "http://testserver"}).status_code == 201
