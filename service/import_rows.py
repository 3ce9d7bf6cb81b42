"""The ``cases`` rows of a parsed import file: one dict per valid case, ready to merge and write.

:func:`case_rows` turns the frame of :func:`geo.cases.parse_cases` into plain Python values
(tz-aware datetimes, WKT points with SRID) and computes each case's handling deadline from the
catalogue; :mod:`service.importer` merges them with the stored cases and writes them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo.cases import ParseResult
from geo.catalogue import Catalogue

__all__ = ["case_rows"]


def _datetimes(values: pd.Series) -> list[Any]:
    """Python datetimes (tz-aware) or None, vectorised."""
    arr = values.dt.tz_convert("UTC").dt.to_pydatetime() if len(values) else []
    return [None if pd.isna(v) else v for v in arr]


def case_rows(parsed: ParseResult, cat: Catalogue) -> list[dict[str, Any]]:
    """One dict per valid case: the ``cases`` columns, plus ``_row`` (file row),
    ``_given`` (the file states the status) and ``_text`` (the status as written)."""
    cases = parsed.cases
    hours = cases["category"].map({c: cat.deadline_hours(c) for c in cases["category"].unique()})
    deadline = cases["reported_at"] + pd.to_timedelta(hours, unit="h")
    lon = cases["lon"].astype(float).tolist()
    lat = cases["lat"].astype(float).tolist()
    columns: dict[str, list[Any]] = {
        "case_id": cases["case_id"].tolist(), "category": cases["category"].tolist(),
        "category_name": cases["category_name"].tolist(),
        "reported_at": _datetimes(cases["reported_at"]), "status": cases["status"].tolist(),
        "status_flag": [f if isinstance(f, str) and f else None for f in cases["status_flag"]],
        "closed_at": _datetimes(pd.to_datetime(cases["closed_at"], utc=True)),
        "deadline_at": _datetimes(deadline),
        "description": cases["description"].tolist(), "address": cases["address"].tolist(),
        "source": cases["source"].tolist(), "coord_system": cases["coord_system"].tolist(),
        "community_code": cases["community_code"].tolist(),
        "community": cases["community"].tolist(), "squad_id": cases["squad"].tolist(),
        "lon": lon, "lat": lat, "location_precision": cases["location_precision"].tolist(),
        "geom": [f"SRID=4326;POINT ({x!r} {y!r})" for x, y in zip(lon, lat, strict=True)],
        "_row": [int(r) for r in cases["row"]], "_given": cases["status_given"].tolist(),
        "_text": cases["status_text"].tolist(),
    }
    keys = list(columns)
    return [dict(zip(keys, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]
