"""Fixtures of the storage tests: a migrated, seeded storage on a fresh PostGIS database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import fresh_postgis

from service.storage import Storage


@pytest.fixture
def pg() -> Iterator[Storage]:
    """A migrated, seeded storage on a fresh PostGIS database (skips without one)."""
    for url in fresh_postgis():
        s = Storage(url)
        s.init()
        yield s
        s.engine.dispose()
