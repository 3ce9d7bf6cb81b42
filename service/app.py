"""The xuncha web service: ``create_app(settings)`` builds a FastAPI app around one Storage.

Nothing is connected at import time: the engine is created when the app starts (or on the first
request). Routers live one per resource in :mod:`service.routers`; to add one, write
``service/routers/<name>.py`` exposing ``router`` and append ``<name>`` to :data:`ROUTERS`.

Authentication is required everywhere except ``/health``, ``/api/auth/*``, the OpenAPI docs
(``/docs``, ``/redoc``, ``/openapi.json``) and whatever public pages and static assets a router
declares without the ``CurrentUser`` dependency (the login page).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import handlers, plan_prep
from service.auth import LoginLimiter
from service.deps import parse_trusted_proxies
from service.settings import Settings
from service.storage import Storage

ROUTERS: tuple[str, ...] = (
    "health",
    "auth",
    "users",
    "squads",
    "communities",
    "cases",
    "worklogs",
    "ogc",
    "plans",
    "maps",
    "tiles",  # /tiles/cases/{z}/{x}/{y}.mvt (the case layer as vector tiles)
    "hotspots",
    "forecast",
    "siting",
    "stats",  # /stats page, /api/stats and /api/stats.xlsx (考核统计)
    "case_pages",  # the case page, the dashboard case list and its exports
    "officer",  # /route (the officer's phone page), visits, re-planning from now
    "pages",  # last: it owns "/" and mounts /static
)
"""Router modules under :mod:`service.routers`, included in this order."""

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}

TAGS = [
    {"name": "health", "description": "服务状态"},
    {"name": "auth", "description": "登录与令牌"},
    {"name": "users", "description": "用户管理（管理员）"},
    {"name": "squads", "description": "中队"},
    {"name": "communities", "description": "社区与工作站"},
    {"name": "cases", "description": "案件：查询、上报、导入、状态流转"},
    {"name": "worklogs", "description": "城管进社区工作日志"},
    {"name": "ogc", "description": "OGC API – Features（QGIS 可直接添加）"},
    {"name": "plans", "description": "巡查计划与路线单"},
    {"name": "maps", "description": "地图"},
    {"name": "hotspots", "description": "热点图层"},
    {"name": "forecast", "description": "案件预测"},
    {"name": "siting", "description": "疏导点选址"},
]


def _lifespan(storage: Storage, settings: Settings) -> Callable[[FastAPI], AsyncIterator[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        storage.init()  # migrate and seed a new database; fails fast on a bad URL
        preparer = None
        if settings.prepare_plans:  # the plan window ahead, once across all workers, in a process
            preparer = plan_prep.start_preparing(storage, settings)
            # heavy imports and pyproj's set-up in the worker thread the first requests reuse
            await anyio.to_thread.run_sync(plan_prep.warm_thread, settings)
        yield
        if preparer is not None:
            preparer.stop()
        storage.engine.dispose()

    return lifespan  # type: ignore[return-value]


class _Guard:
    """Pure ASGI middleware: refuse oversized bodies before they are read (413) and add security
    headers to every response (cheaper than ``@app.middleware("http")``)."""

    def __init__(self, app: ASGIApp, *, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes
        self.headers = [(k.lower().encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit_bytes:
            mb = self.limit_bytes // 1024 // 1024
            response = JSONResponse({"detail": f"请求体超过上限 {mb} MB；请拆分后分批导入。",
                                     "problems": []}, status_code=413)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _v in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, *, storage: Storage | None = None) -> FastAPI:
    """Build the service for ``settings`` (default: read and validate the ``XUNCHA_*`` environment).

    Parameters
    ----------
    settings : Settings, optional
        Validated settings; ``Settings()`` when omitted.
    storage : Storage, optional
        A storage to use instead of one built from ``settings.database_url`` (tests, embedding).
    """
    settings = settings or Settings()
    trusted_proxies = parse_trusted_proxies(settings.trusted_proxies)  # a typo fails at start-up
    storage = storage or Storage(settings.database_url, boundaries_dir=settings.boundaries_dir,
                                 tz=settings.timezone)
    app = FastAPI(
        title="巡查 xuncha",
        description="城管中队的案件、工作日志、热点、巡查路线与疏导点选址服务。"
                    "除 /health、/api/auth/token 和文档外，所有接口都需要登录"
                    "（Authorization: Bearer 令牌，或网页的会话 Cookie）。",
        version="0.1.0",
        openapi_tags=TAGS,
        lifespan=_lifespan(storage, settings),  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.login_limiter = LoginLimiter(settings.login_attempts_per_minute)
    app.state.trusted_proxies = trusted_proxies  # X-Forwarded-* believed only from these peers
    handlers.install(app)
    # oversized bodies are refused before they are read (the import route checks the real size)
    app.add_middleware(_Guard, limit_bytes=settings.max_upload_mb * 1024 * 1024 + 64 * 1024)
    for name in ROUTERS:
        module = importlib.import_module(f"service.routers.{name}")
        app.include_router(module.router)
    return app
