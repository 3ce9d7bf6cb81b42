"""``GET /health``: liveness and database reachability (no login needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.deps import StorageDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="服务状态")
def health(storage: StorageDep) -> Any:
    """``{"status": "ok", "database": "ok"}``; 503 when the database cannot be reached."""
    try:
        storage.init()
        with storage.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return {"status": "ok", "database": "ok"}
