"""Helpers for the siting tests: wait for a background siting job (``POST /api/siting/scenarios``
answers 202 with ``Location: /api/siting/jobs/{id}``) to finish."""

from __future__ import annotations

import time
from typing import Any

FINISHED = ("done", "failed")


def wait_job(client: Any, location: str, headers: dict[str, str] | None = None, *,
             timeout_s: float = 90.0) -> dict[str, Any]:
    """Poll the job at ``location`` until it is done or failed; its last state."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = client.get(location, headers=headers or {})
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["status"] in FINISHED:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout_s} s: {job}"
        time.sleep(0.05)


def run_job(client: Any, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """Submit a siting job and wait for it; the finished job (asserts 202 and ``Location``)."""
    r = client.post("/api/siting/scenarios", json=body, headers=headers)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/siting/jobs/{r.json()['id']}"
    return wait_job(client, r.headers["location"], headers)
