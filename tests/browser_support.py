"""What the browser tests share: Debian's Chromium for playwright, and a real uvicorn server.

``playwright_or_skip()`` returns ``sync_playwright`` or skips with the reason (fails instead when
``XUNCHA_REQUIRE_BROWSER`` is set, as in CI); ``serve(app)`` runs an app on a free port of
127.0.0.1 in a thread and yields its base URL; ``offline`` is the route handler of an office
network without internet; ``screenshot_dir`` is where a test's screenshots are kept.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def playwright_or_skip() -> Any:
    """``playwright.sync_api.sync_playwright``, or skip (fail under XUNCHA_REQUIRE_BROWSER)."""
    reason = ""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason, sync_playwright = "playwright is not installed", None
    if not reason and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason:
        if os.environ.get("XUNCHA_REQUIRE_BROWSER"):
            pytest.fail(f"XUNCHA_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(reason)
    return sync_playwright


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, *, start_s: float = 20.0) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port in a thread; yield ``http://127.0.0.1:PORT``."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_s
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def offline(route: Any) -> None:
    """Playwright route handler for an office network without internet: only 127.0.0.1 answers."""
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def screenshot_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Where a test's screenshots go: ``$XUNCHA_TEST_ARTIFACTS/NAME`` if set (CI keeps them),
    else a fresh tmp dir."""
    root = os.environ.get("XUNCHA_TEST_ARTIFACTS")
    folder = Path(root) / name if root else tmp_path_factory.mktemp(f"{name}-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder
