"""Case file upload through the API: per-row report, atomicity, size limit, roles."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from api_support import BACKENDS, Api, build_api, database_url, point_in


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api_import")
    for url in database_url(request.param, folder):
        yield from build_api(url, max_upload_mb=1)


def _csv(api: Api, n: int, prefix: str, *, chinese: bool = False) -> bytes:
    rows = []
    for i in range(n):
        _code, x, y = point_in(api.storage, ("shuyuan", "chezhan")[i % 2], i)
        rows.append({"case_id": f"{prefix}{i}", "category": "占道经营",
                     "reported_at": f"2026-05-{1 + i % 28:02d} 07:00", "lon": x, "lat": y})
    df = pd.DataFrame(rows)
    if chinese:
        df.columns = ["案件编号", "问题类型", "上报时间", "经度", "纬度"]
    return df.to_csv(index=False).encode("gbk" if chinese else "utf-8")


def _upload(api: Api, user: str, data: bytes, name: str = "cases.csv", **form: str):  # type: ignore[no-untyped-def]
    return api.post("/api/cases/import", user, files={"file": (name, data, "text/csv")},
                    data=form)


def _count(api: Api, prefix: str) -> int:
    feats = api.get("/api/cases", "admin", params={"limit": 10000}).json()["features"]
    return sum(f["id"].startswith(prefix) for f in feats)


def test_upload_reports_every_rejected_row_and_stores_the_rest(api: Api) -> None:
    text = _csv(api, 6, "UP").decode().splitlines()
    text[3] = text[3].replace("占道经营", "外星人入侵")  # data row 3 = spreadsheet row 4
    resp = _upload(api, "planner", "\n".join(text).encode())
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["n_rows"], report["inserted"], report["rejected"]) == (6, 5, 1)
    assert report["problems"][0]["row"] == 4 and report["problems"][0]["column"] == "category"
    assert _count(api, "UP") == 5
    again = _upload(api, "admin", "\n".join(text).encode()).json()
    assert (again["inserted"], again["updated"]) == (0, 5)  # re-import updates, no duplicates
    assert _count(api, "UP") == 5


def test_gbk_chinese_headers(api: Api) -> None:
    resp = _upload(api, "admin", _csv(api, 4, "GBK", chinese=True))
    assert resp.json()["inserted"] == 4 and _count(api, "GBK") == 4


def test_unreadable_and_oversized_files_store_nothing(api: Api) -> None:
    bad = _upload(api, "admin", b"\x00\x01\x02garbage", name="x.xls")
    assert bad.status_code == 400 and ".xlsx" in bad.json()["detail"]
    big = _csv(api, 2, "BIG") + b"#" * (1024 * 1024 + 10)
    resp = _upload(api, "admin", big)
    assert resp.status_code == 413 and "MB" in resp.json()["detail"]
    assert _count(api, "BIG") == 0
    missing = _upload(api, "admin", b"a,b\n1,2\n")
    assert missing.status_code in (400, 422) and missing.json()["detail"]


def test_squad_users_cannot_import(api: Api) -> None:
    data = _csv(api, 2, "ROLE")
    assert _upload(api, "leader_sy", data).status_code == 403
    assert _upload(api, "officer_sy", data).status_code == 403
    assert api.client.post("/api/cases/import", files={"file": ("c.csv", data)}).status_code == 401
    assert _count(api, "ROLE") == 0


def test_gcj02_upload_is_converted(api: Api) -> None:
    from geo.crs import wgs84_to_gcj02

    _code, x, y = point_in(api.storage, "guangchang", 0)
    gx, gy = wgs84_to_gcj02(x, y)
    data = pd.DataFrame([{"case_id": "GCJ1", "category": "09006", "reported_at": "2026-05-01 08:00",
                          "lon": float(gx), "lat": float(gy)}]).to_csv(index=False).encode()
    assert _upload(api, "admin", data, coords="gcj02").json()["inserted"] == 1
    got = api.get("/api/cases/GCJ1", "admin").json()
    assert got["geometry"]["coordinates"] == pytest.approx([x, y], abs=2e-5)
    assert io.BytesIO(data).read()  # the upload itself is left untouched


def test_dry_run_and_map_on_the_api(api: Api) -> None:
    data = _csv(api, 3, "DRY").decode().replace("category", "细类").encode()
    plain = _upload(api, "admin", data)
    assert plain.status_code == 400 and "--map" in plain.json()["detail"]  # no category column
    dry = api.post("/api/cases/import?dry_run=1&map=细类=category", "admin",
                   files={"file": ("c.csv", data, "text/csv")})
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["dry_run"] is True and body["inserted"] == 3 and body["batch_id"] == 0
    assert "问题类型 category ← 细类（--map 指定）" in body["mapping"]
    assert _count(api, "DRY") == 0
    real = api.post("/api/cases/import?map=细类=category", "admin",
                    files={"file": ("c.csv", data, "text/csv")}).json()
    assert real["inserted"] == 3 and real["status_changes"] == [] and _count(api, "DRY") == 3
    bad = api.post("/api/cases/import?map=细类=kind", "admin",
                   files={"file": ("c.csv", data, "text/csv")})
    assert bad.status_code == 400 and "角色" in bad.json()["detail"]
