"""Case steps through the API on SQLite and PostGIS (``db_url``): notes required for 作废 and
退回处置, assignee kinds, photos (size, type by bytes, serving), squad isolation, the history."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from api_support import Api, build_api
from PIL import Image

from service.case_steps import MAX_PHOTOS


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    yield from build_api(db_url, photo_max_mb=1)


def _png(size: int = 16, colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), "blue").save(buf, format="JPEG")
    return buf.getvalue()


def _step(api: Api, case: str, user: str, to: str, **body: object) -> object:
    return api.post(f"/api/cases/{case}/transitions", user, json={"to_status": to, **body})


def _walk(api: Api, case: str, *targets: str) -> None:
    for target in targets:
        user = "officer_sy" if target in ("处置", "核查") else "leader_sy"
        resp = _step(api, case, user, target)
        assert resp.status_code == 200, resp.text  # type: ignore[attr-defined]


def test_void_and_send_back_need_a_note(api: Api) -> None:
    bare = _step(api, "SY1", "leader_sy", "作废")
    assert bare.status_code == 422  # type: ignore[attr-defined]
    assert "作废的理由" in bare.json()["detail"]  # type: ignore[attr-defined]
    assert _step(api, "SY1", "leader_sy", "作废", note="   ").status_code == 422  # type: ignore[attr-defined]
    assert api.get("/api/cases/SY1", "leader_sy").json()["properties"]["status"] == "上报"
    _walk(api, "SY2", "立案", "派遣", "处置", "核查")
    props = api.get("/api/cases/SY2", "leader_sy").json()["properties"]
    labels = {a["to_status"]: a for a in props["actions"]}
    assert labels["处置"]["label"] == "退回处置" and labels["处置"]["note_required"] is True
    assert labels["结案"]["label"] == "核查通过，结案" and labels["结案"]["note_required"] is False
    back = _step(api, "SY2", "leader_sy", "处置")
    assert back.status_code == 422 and "退回处置" in back.json()["detail"]  # type: ignore[attr-defined]
    ok = _step(api, "SY2", "leader_sy", "处置", note="雨棚未拆净")
    assert ok.status_code == 200  # type: ignore[attr-defined]
    last = ok.json()["properties"]["history"][-1]  # type: ignore[attr-defined]
    assert (last["from_status"], last["to_status"], last["action"], last["note"]) == (
        "核查", "处置", "退回处置", "雨棚未拆净")
    # an illegal step is a 409 whatever its note
    assert _step(api, "SY1", "leader_sy", "结案", note="x").status_code == 409  # type: ignore[attr-defined]
    void = _step(api, "SY1", "leader_sy", "作废", note="重复上报")
    assert void.status_code == 200  # type: ignore[attr-defined]


def test_assignee_kinds_and_history(api: Api) -> None:
    options = api.get("/api/cases/SY1/assignees", "leader_sy").json()
    kinds = {o["kind"] for o in options}
    assert kinds == {"team", "officer", "unit"}
    assert [o["id"] for o in options if o["kind"] == "unit"] == ["市政", "园林", "环卫", "物业", "网格员"]
    team = next(o for o in options if o["kind"] == "team")
    assert team["id"].startswith("shuyuan-") and team["kind_name"] == "巡查组"
    officer_ids = {o["id"] for o in options if o["kind"] == "officer"}
    assert "officer_sy" in officer_ids and "leader_xh" not in officer_ids
    assert all(not o["id"].startswith("xinhua") for o in options)

    _walk(api, "SY1", "立案")
    resp = _step(api, "SY1", "leader_sy", "派遣", note="今天上午处理",
                 assignee={"kind": "team", "id": team["id"]})
    assert resp.status_code == 200, resp.text  # type: ignore[attr-defined]
    props = resp.json()["properties"]  # type: ignore[attr-defined]
    assert props["assignee"] == {"kind": "team", "kind_name": "巡查组", "id": team["id"],
                                 "name": team["name"]}
    step = props["history"][-1]
    assert step["assignee"]["id"] == team["id"] and step["actor"] == "leader_sy"
    assert step["note"] == "今天上午处理" and step["from_status"] == "立案"
    assert step["at"] and step["id"] and step["photos"] == []
    assert [h["to_status"] for h in props["history"]] == ["上报", "立案", "派遣"]
    unit = _step(api, "SY1", "officer_sy", "处置", assignee={"kind": "unit", "id": "环卫"})
    assert unit.json()["properties"]["assignee"]["name"] == "环卫"  # type: ignore[attr-defined]
    # unknown unit, another squad's team or officer, an unknown kind: refused, nothing stored
    for bad in ({"kind": "unit", "id": "交警"}, {"kind": "team", "id": "xinhua-1"},
                {"kind": "officer", "id": "leader_xh"}, {"kind": "boss", "id": "x"},
                {"kind": "team", "id": "a\x00b"}):
        r = _step(api, "SY1", "officer_sy", "核查", assignee=bad)
        assert r.status_code == 422, (bad, r.text)  # type: ignore[attr-defined]
    assert api.get("/api/cases/SY1", "leader_sy").json()["properties"]["status"] == "处置"


def test_photos_checked_stored_and_served(api: Api) -> None:
    png, jpeg = _png(), _jpeg()
    files = [("photos", ("a.png", png, "image/png")), ("photos", ("b.jpg", jpeg, "image/jpeg"))]
    resp = api.post("/api/cases/SY4/steps", "leader_sy",
                    data={"to_status": "立案", "note": "现场照片两张"}, files=files)
    assert resp.status_code == 200, resp.text
    step = resp.json()["properties"]["history"][-1]
    assert step["to_status"] == "立案" and step["note"] == "现场照片两张"
    assert [p["content_type"] for p in step["photos"]] == ["image/png", "image/jpeg"]
    got = api.get(step["photos"][0]["url"], "officer_sy")
    assert got.status_code == 200 and got.content == png
    assert got.headers["content-type"] == "image/png"
    assert api.get(step["photos"][1]["url"], "leader_sy").headers["content-type"] == "image/jpeg"
    # another squad, a signed-out visitor, a wrong case for the photo: not found / 401
    assert api.get(step["photos"][0]["url"], "leader_xh").status_code == 404
    assert api.get(step["photos"][0]["url"]).status_code == 401
    pid = step["photos"][0]["id"]
    assert api.get(f"/api/cases/SY1/photos/{pid}", "leader_sy").status_code == 404

    # the type is judged by the bytes: a script named .jpg, a GIF, an empty file are refused
    for name, data in (("x.jpg", b"<script>alert(1)</script>"), ("g.gif", b"GIF89a" + b"\0" * 20),
                       ("e.png", b"")):
        r = api.post("/api/cases/SY4/steps", "leader_sy", data={"to_status": "派遣"},
                     files=[("photos", (name, data, "image/jpeg"))])
        assert r.status_code == 422, (name, r.text)
        assert "JPEG、PNG 或 WebP" in r.json()["detail"]
    # a WebP passes: the content type is the one the bytes show, not the client's
    webp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(webp, format="WEBP")
    r = api.post("/api/cases/SY4/photos", "officer_sy",
                 files=[("photos", ("w.png", webp.getvalue(), "image/png"))])
    assert r.status_code == 200, r.text
    loose = r.json()["properties"]["history"][-1]["photos"][-1]
    assert loose["content_type"] == "image/webp"
    # over photo_max_mb (1 MiB here): 413, and the step is not made either
    big = b"\xff\xd8\xff" + b"\0" * (1024 * 1024)
    r = api.post("/api/cases/SY4/steps", "leader_sy", data={"to_status": "派遣"},
                 files=[("photos", ("big.jpg", big, "image/jpeg"))])
    assert r.status_code == 413 and "1 MB" in r.json()["detail"]
    too_many = [("photos", (f"{i}.png", png, "image/png")) for i in range(MAX_PHOTOS + 1)]
    r = api.post("/api/cases/SY4/steps", "leader_sy", data={"to_status": "派遣"}, files=too_many)
    assert r.status_code == 422
    assert api.get("/api/cases/SY4", "leader_sy").json()["properties"]["status"] == "立案"
    # a refused assignee stores neither the step nor its photos
    r = api.post("/api/cases/SY4/steps", "leader_sy",
                 data={"to_status": "派遣", "assignee_kind": "team", "assignee_id": "xinhua-1"},
                 files=files)
    assert r.status_code == 422
    hist = api.get("/api/cases/SY4", "leader_sy").json()["properties"]["history"]
    assert sum(len(h["photos"]) for h in hist) == 3


def test_other_squads_cases_are_not_found_on_every_path(api: Api) -> None:
    png = [("photos", ("a.png", _png(), "image/png"))]
    calls = [
        lambda: api.get("/api/cases/XH1", "leader_sy"),
        lambda: api.get("/api/cases/XH1/assignees", "leader_sy"),
        lambda: _step(api, "XH1", "leader_sy", "立案"),
        lambda: _step(api, "XH1", "leader_sy", "作废", note="x"),
        lambda: api.post("/api/cases/XH1/steps", "leader_sy", data={"to_status": "立案"}, files=png),
        lambda: api.post("/api/cases/XH1/photos", "officer_sy", files=png),
        lambda: api.get("/api/cases/XH1/photos/1", "officer_sy"),
    ]
    for call in calls:
        r = call()
        assert r.status_code == 404, r.text  # type: ignore[attr-defined]
        assert "XH1" in r.json()["detail"]  # type: ignore[attr-defined]
    assert api.get("/api/cases/XH1", "leader_xh").json()["properties"]["status"] == "上报"
    hist = api.get("/api/cases/XH1", "leader_xh").json()["properties"]["history"]
    assert [h["photos"] for h in hist] == [[]]
    # planners see, never change or add photos
    assert api.post("/api/cases/XH1/photos", "planner", files=png).status_code == 403
    assert api.get("/api/cases/XH1", "planner").json()["properties"]["actions"] == []
