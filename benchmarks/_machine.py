"""Machine information recorded with every benchmark result."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys


def machine_info() -> dict[str, object]:
    """Platform, CPU count, Python version and the current date/time (UTC)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
