"""The web pages' shared parts: the Jinja2 templates, rendering, the page user and the login
redirect.

Templates live in ``service/templates`` and are rendered with autoescaping on (every string from
data is escaped where it is shown). :mod:`service.routers.pages` renders the pages with
:func:`render`; :mod:`service.handlers` renders ``error.html`` with :data:`templates` and
sends signed-out visitors to the login page with :func:`login_redirect`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from service.auth import Principal, clear_session_cookie
from service.deps import KeyDep, StorageDep, get_current_user, signing_key
from service.errors import AuthError
from service.workflow import ROLE_NAMES

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
"""The page templates (``service/templates``)."""


def page_user(request: Request, storage: StorageDep, key: KeyDep) -> Principal | None:
    """The signed-in user of a page request, or None (→ login page)."""
    try:
        return get_current_user(request, storage, key, None)
    except AuthError:
        return None


PageUser = Annotated[Principal | None, Depends(page_user)]


def error_page_user(request: Request) -> Principal | None:
    """The signed-in user for an error page's header, or None (never raises: the error page
    must render whatever went wrong)."""
    try:
        return get_current_user(request, request.app.state.storage, signing_key(request), None)
    except Exception:  # the error page must render whatever went wrong
        return None


def render(request: Request, name: str, user: Principal | None, status: int = 200,
           **ctx: Any) -> HTMLResponse:
    """Template ``name`` with ``ctx``, the user for the header and the ``msg``/``err`` notice of
    the query string, with status code ``status``."""
    ctx.update(user=user, role_names=ROLE_NAMES, msg=request.query_params.get("msg"),
               err=request.query_params.get("err") == "1",
               squad_name=_squad_name(request, user))
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def _squad_name(request: Request, user: Principal | None) -> str:
    """The Chinese name of the user's squad for the page header (people never see the id)."""
    if user is None or not user.squad_id:
        return ""
    storage = getattr(request.app.state, "storage", None)
    names = {s["id"]: s["name"] for s in storage.squads()} if storage is not None else {}
    return str(names.get(user.squad_id, user.squad_id))


def _same_origin_path(request: Request) -> str | None:
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc != request.headers.get("host", "") or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_redirect(request: Request) -> RedirectResponse:
    """303 to ``/login?next=…``: back to the page asked for (a form post returns to the page it
    was posted from), and the stale session cookie, if any, removed."""
    if request.method in ("GET", "HEAD"):
        target: str | None = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = _same_origin_path(request)
    if target and (target.startswith("//") or target.startswith("/login")):
        target = None
    location = f"/login?next={quote(target, safe='')}" if target else "/login"
    response = RedirectResponse(location, status_code=303)
    if request.cookies:
        clear_session_cookie(response)
    return response
