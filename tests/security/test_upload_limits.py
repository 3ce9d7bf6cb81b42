"""Uploads that would exhaust the server are refused quickly, before they are expanded.

Each malicious file is built in code, small: an XLSX whose shared strings declare or contain more
than the limit, one whose sheet expands to many rows (with and without a ``dimension``, or with a
far-away cell), zip members that lie about their size or overlap, a DTD; a CSV with a 1M-column
header and one with a 10 MB line; a GeoJSON with too many coordinates. Each is refused by
:func:`geo.io.tables.read_table` with the limit named, by the capped worker
(:func:`service.upload_worker.read_upload`), through ``POST /api/cases/import`` (413 for a
limit, 400 for a malformed file, the Chinese message naming the setting) and by ``xuncha import``
(exit 2). The worker's memory and time caps stop a runaway parse that passes every limit.

The HTTP and CLI tests need ``service.importer.import_file`` to read through
:func:`service.upload_worker.read_upload` with the service's settings.
"""

from __future__ import annotations

import functools
import io
import json
import resource
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from api_support import Api, build_api, database_url, point_in
from typer.testing import CliRunner

from geo.errors import FileReadError
from geo.io.tables import ReadLimitError, ReadLimits, read_table
from service.cli import app as cli_app
from service.errors import PayloadTooLarge
from service.settings import Settings
from service.upload_worker import read_upload

MIB = 1024 * 1024
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SMALL = ReadLimits(max_columns=20, max_line_bytes=4096, max_cells=10_000,
                   max_uncompressed_bytes=4 * MIB, max_shared_strings=1000,
                   max_shared_chars=1 * MIB, max_vertices=1000, max_members=50)
"""Small limits: the geo-level tests stay fast."""
ENV = {"XUNCHA_UPLOAD_MAX_COLUMNS": "20", "XUNCHA_UPLOAD_MAX_LINE_KB": "4",
       "XUNCHA_UPLOAD_MAX_CELLS": "10000", "XUNCHA_UPLOAD_MAX_UNCOMPRESSED_MB": "4",
       "XUNCHA_UPLOAD_MAX_SHARED_STRINGS": "1000", "XUNCHA_UPLOAD_MAX_SHARED_CHARS_MB": "1",
       "XUNCHA_UPLOAD_MAX_VERTICES": "1000", "XUNCHA_MAX_UPLOAD_MB": "16"}
"""The same limits as service settings (environment of the CLI, keyword arguments of the app)."""
SETTINGS = {k.removeprefix("XUNCHA_").lower(): int(v) for k, v in ENV.items()}


# ---------------------------------------------------------------- files built in code

def xlsx(sheet: bytes, shared: bytes | None = None, *, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal workbook (one sheet, optional shared strings) as openpyxl reads it."""
    over = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>' if shared else "")
    members = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            f'worksheet+xml"/>{over}</Types>').encode(),
        "_rels/.rels": (
            b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            b'</Relationships>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook {NS} xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
            '</sheets></workbook>').encode(),
        "xl/_rels/workbook.xml.rels": (
            b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            b'</Relationships>'),
        "xl/worksheets/sheet1.xml": sheet,
        **({"xl/sharedStrings.xml": shared} if shared else {}),
        **(extra or {}),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def sheet_xml(rows: int, cols: int = 2, *, dimension: str | None = None, shared: bool = False) -> bytes:
    """A sheet of ``rows`` x ``cols`` cells (numbers, or shared string 0 in every cell)."""
    letters = [chr(65 + c) for c in range(cols)]
    cell = ('<c r="{}{}" t="s"><v>0</v></c>' if shared else '<c r="{}{}"><v>7</v></c>')
    body = "".join(f'<row r="{r}">' + "".join(cell.format(col, r) for col in letters) + "</row>"
                   for r in range(1, rows + 1))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0"?><worksheet {NS}>{dim}<sheetData>{body}</sheetData></worksheet>'.encode()


def shared_xml(strings: list[str], *, declared: int | None = None) -> bytes:
    n = len(strings) if declared is None else declared
    items = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return f'<?xml version="1.0"?><sst {NS} count="{n}" uniqueCount="{n}">{items}</sst>'.encode()


def lie_about_size(data: bytes, member: str, size: int) -> bytes:
    """``data`` with ``member``'s uncompressed size set to ``size`` in both of its headers."""
    raw, name = bytearray(data), member.encode()
    local = raw.find(b"PK\x03\x04")
    while raw[local + 30: local + 30 + len(name)] != name:
        local = raw.find(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", raw, local + 22, size)
    central = raw.find(b"PK\x01\x02")
    while raw[central + 46: central + 46 + len(name)] != name:
        central = raw.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", raw, central + 24, size)
    return bytes(raw)


def streamed_bomb(mib: int) -> bytes:
    """A workbook whose shared strings expand to ``mib`` MiB (written in chunks: little memory)."""
    buf = io.BytesIO(xlsx(sheet_xml(2, 1, shared=True)))
    item = b"<si><t>" + b"A" * 1011 + b"</t></si>"  # 1 KiB
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
        fh.write(f'<?xml version="1.0"?><sst {NS} count="5" uniqueCount="5">'.encode())
        for _ in range(mib):
            fh.write(item * 1024)
        fh.write(b"</sst>")
    return buf.getvalue()


def good_xlsx() -> bytes:
    return xlsx(sheet_xml(3, 2, dimension="A1:B3", shared=True), shared_xml(["占道经营"]))


def refused(source: bytes, limit: str, *words: str, limits: ReadLimits = SMALL,
            filename: str = "") -> ReadLimitError:
    """Assert ``read_table`` refuses ``source`` by ``limit`` within 5 s, message holding ``words``."""
    t0 = time.perf_counter()
    with pytest.raises(ReadLimitError) as info:
        read_table(source, filename=filename, limits=limits)
    assert time.perf_counter() - t0 < 5
    assert info.value.limit == limit, str(info.value)
    for w in (*words, f"ReadLimits.{limit}", "超过上限"):
        assert w in str(info.value), str(info.value)
    return info.value


# ---------------------------------------------------------------- geo.io.tables.read_table

def test_small_handmade_files_still_read() -> None:
    df = read_table(good_xlsx(), limits=SMALL)  # positive control for every XLSX built here
    assert df.shape == (2, 2) and set(df.iloc[:, 0]) == {"占道经营"}
    csv = read_table(b"a,b\n1,2\n3,4\n", limits=SMALL)
    assert csv.to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}
    line = {"type": "LineString", "coordinates": [[0.0, 0.0]] * 999}
    geo = read_table(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": line, "properties": {"id": 1}}]}).encode(), limits=SMALL)
    assert list(geo["id"]) == ["1"]


def test_xlsx_shared_strings_that_contain_more_than_the_limit() -> None:
    text = "巡" * (MIB + 10)  # 1 Mi characters and a bit, 3 MiB of UTF-8, compressed to ~3 KiB
    bomb = xlsx(sheet_xml(2, 1, shared=True), shared_xml([text]))
    assert len(bomb) < 50_000
    err = refused(bomb, "max_shared_chars", "共享字符串总长", "1 MiB")
    assert "xl/sharedStrings.xml" in str(err)
    many = xlsx(sheet_xml(2, 1, shared=True), shared_xml(["x"] * 1001, declared=5))
    refused(many, "max_shared_strings", "1,001")  # counted, whatever the header declares


def test_xlsx_shared_strings_that_declare_more_than_the_limit() -> None:
    bomb = xlsx(sheet_xml(2, 1, shared=True), shared_xml(["x"], declared=2_000_000_000))
    refused(bomb, "max_shared_strings", "2,000,000,000")


def test_xlsx_member_that_expands_past_the_limit_with_default_limits() -> None:
    text = "A" * (8 * MIB)
    bomb = lie_about_size(xlsx(sheet_xml(2, 1, shared=True), shared_xml([text])),
                          "xl/sharedStrings.xml", 1 << 30)  # declared 1 GiB, as in the report
    err = refused(bomb, "max_uncompressed_bytes", "1 GiB", "512 MiB", limits=ReadLimits())
    assert "xl/sharedStrings.xml" in str(err)
    real = xlsx(sheet_xml(2, 1, shared=True), shared_xml([text]))  # honest 8 MiB, cap 4 MiB
    refused(real, "max_uncompressed_bytes", "4 MiB")


def test_xlsx_member_whose_header_lies_small_is_refused_as_corrupt() -> None:
    bomb = lie_about_size(xlsx(sheet_xml(2, 1, shared=True), shared_xml(["A" * (8 * MIB)])),
                          "xl/sharedStrings.xml", 1000)
    t0 = time.perf_counter()
    with pytest.raises(FileReadError, match=r"已损坏.*sharedStrings") as info:
        read_table(bomb, limits=SMALL)
    assert not isinstance(info.value, ReadLimitError) and time.perf_counter() - t0 < 5


def test_xlsx_sheet_that_expands_to_many_rows() -> None:
    rows = sheet_xml(20_000)  # 40,000 cells, no dimension: counted while streaming
    assert len(xlsx(rows)) < 200_000
    refused(xlsx(rows), "max_cells", "行 × 2 列", "10,000")
    lying = sheet_xml(20_000, dimension="A1:B2")  # a dimension that lies small changes nothing
    refused(xlsx(lying), "max_cells", "至少有")
    declared = sheet_xml(2, dimension="A1:XFD1048576")
    refused(xlsx(declared), "max_cells", "A1:XFD1048576")
    far = (f'<?xml version="1.0"?><worksheet {NS}><sheetData><row r="1"><c r="A1"><v>1</v></c>'
           '</row><row r="900000"><c r="B900000"><v>1</v></c></row></sheetData></worksheet>')
    refused(xlsx(far.encode()), "max_cells", "900,000 行")  # two cells, 1.8M for pandas
    wide = f'<worksheet {NS}><sheetData><row r="1"><c r="XFD1"><v>1</v></c></row></sheetData></worksheet>'
    refused(xlsx(wide.encode()), "max_columns", "16,384 列")


def test_zip_bombs_with_many_or_overlapping_members_and_dtds() -> None:
    many = xlsx(sheet_xml(2), extra={f"xl/media/{i}.bin": b"" for i in range(60)})
    refused(many, "max_members", "65 个成员")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/a.xml", b"<a/>" * 1000)
        zf.writestr("xl/b.xml", b"<b/>" * 1000)
    raw = bytearray(buf.getvalue())
    second = raw.find(b"PK\x01\x02", raw.find(b"PK\x01\x02") + 4)
    struct.pack_into("<I", raw, second + 42, 10)  # b.xml's data starts inside a.xml's
    with pytest.raises(FileReadError, match="相互重叠"):
        read_table(bytes(raw), limits=SMALL)
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;'
              b'&a;&a;&a;&a;&a;&a;&a;">]><sst ' + NS.encode() + b'><si><t>&b;</t></si></sst>')
    with pytest.raises(FileReadError, match="DTD"):
        read_table(xlsx(sheet_xml(2, shared=True), laughs), limits=SMALL)


def test_csv_with_a_million_columns_is_refused_before_pandas() -> None:
    header = b",".join(b"c%d" % i for i in range(1_000_000))
    refused(header + b"\n" + b"1\n", "max_columns", "1,000,000 列", "200 列", limits=ReadLimits())
    quoted = b'"a,b,c",' * 10 + b"x\n1\n"  # commas inside quotes are not columns
    assert len(read_table(quoted, limits=SMALL).columns) == 11


def test_csv_with_one_10_mb_line_is_refused() -> None:
    data = b"case_id,description\n1,short\n2," + b"x" * (10 * MIB) + b"\n3,short\n"
    refused(data, "max_line_bytes", "第 3 行", "10 MiB", "64 KiB", limits=ReadLimits())
    refused(b"a,b\n" + b"1,2\n" * 6000, "max_cells", "6,000 行 × 2 列")


def test_geojson_with_too_many_vertices_or_columns() -> None:
    line = {"type": "LineString", "coordinates": [[114.0, 30.9]] * 1001}
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": line,
                                                        "properties": {"id": 1}}]}
    refused(json.dumps(doc).encode(), "max_vertices", "1,001 个坐标点")
    nested = {"type": "GeometryCollection", "geometries": [
        {"type": "MultiPolygon", "coordinates": [[[[0, 0]] * 600]]},
        {"type": "GeometryCollection", "geometries": [{"type": "MultiPoint",
                                                       "coordinates": [[1, 1]] * 600}]}]}
    doc["features"][0]["geometry"] = nested
    refused(json.dumps(doc).encode(), "max_vertices", "GeoJSON")
    wide = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None, "properties": {f"p{i}": i for i in range(30)}}]}
    refused(json.dumps(wide).encode(), "max_columns", "30 列")


# ---------------------------------------------------------------- service.upload_worker

def _settings(**kw: int) -> Settings:
    return Settings.model_validate({"database_url": "sqlite://", **SETTINGS, **kw})


def test_worker_returns_the_table_and_names_the_setting() -> None:
    data = b"a,b\n" + b"1,2\n" * 1000
    t0 = time.perf_counter()
    df = read_upload(data, filename="x.csv", settings=_settings())
    assert time.perf_counter() - t0 < 5  # a fresh interpreter: about 0.5 s
    pd.testing.assert_frame_equal(df, read_table(data))
    with pytest.raises(PayloadTooLarge, match="XUNCHA_UPLOAD_MAX_COLUMNS") as info:
        read_upload(b"a," * 30 + b"z\n", filename="x.csv", settings=_settings())
    assert "31 列" in str(info.value)
    with pytest.raises(FileReadError, match=r"相互重叠|无法读取") as bad:
        read_upload(b"PK\x03\x04 broken", filename="x.xlsx", settings=_settings())
    assert not isinstance(bad.value, PayloadTooLarge)  # malformed: 400, not 413


def test_worker_memory_cap_stops_a_runaway_parse(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"  # within every limit below, but needs far more than 256 MiB
    path.write_bytes(b"a,b,c,d\n" + b"\xe5\xb7\xa1\xe6\x9f\xa5,2,3,4\n" * 1_500_000)
    roomy = _settings(upload_max_cells=10_000_000, max_upload_mb=64, import_memory_mb=256)
    small = read_upload(b"a,b\n1,2\n", filename="x.csv", settings=roomy)
    assert small.shape == (1, 2)  # the cap leaves room for a small parse
    t0 = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="内存上限 256 MiB（XUNCHA_IMPORT_MEMORY_MB）"):
        read_upload(path, filename="", settings=roomy, max_bytes=64 * MIB)
    assert time.perf_counter() - t0 < 30


def test_worker_time_cap_stops_a_runaway_parse() -> None:
    slow = xlsx(sheet_xml(60_000, 5))  # 300,000 cells: openpyxl needs well over 3 s
    roomy = _settings(upload_max_cells=1_000_000, upload_max_uncompressed_mb=64)
    fast = roomy.model_copy(update={"import_timeout_s": 3})  # below the settings' own minimum
    assert read_upload(good_xlsx(), filename="x.xlsx", settings=fast).shape == (2, 2)
    t0 = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match=r"超时.*3 秒.*XUNCHA_IMPORT_TIMEOUT_S"):
        read_upload(slow, filename="x.xlsx", settings=fast)
    assert time.perf_counter() - t0 < 8


# ---------------------------------------------------------------- HTTP upload and CLI

@functools.cache
def attack_files() -> list[tuple[str, bytes, int, list[str]]]:
    """(file name, bytes, status, words of the message) for the service-level tests."""
    return [
        ("bomb.xlsx", streamed_bomb(256), 413, ["256.8 MiB", "XUNCHA_UPLOAD_MAX_UNCOMPRESSED_MB"]),
        ("chars.xlsx", xlsx(sheet_xml(2, 1, shared=True), shared_xml(["巡" * (MIB + 1)])), 413,
         ["共享字符串总长", "XUNCHA_UPLOAD_MAX_SHARED_CHARS_MB"]),
        ("rows.xlsx", xlsx(sheet_xml(20_000)), 413, ["XUNCHA_UPLOAD_MAX_CELLS"]),
        ("lying.xlsx", lie_about_size(good_xlsx(), "xl/worksheets/sheet1.xml", 1 << 30), 413,
         ["1 GiB", "XUNCHA_UPLOAD_MAX_UNCOMPRESSED_MB"]),
        ("wide.csv", b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n1\n", 413,
         ["1,000,000 列", "XUNCHA_UPLOAD_MAX_COLUMNS"]),
        ("line.csv", b"case_id,x\n1," + b"x" * (10 * MIB) + b"\n", 413,
         ["第 2 行", "XUNCHA_UPLOAD_MAX_LINE_KB"]),
        ("v.geojson", json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {}, "geometry": {
                "type": "LineString", "coordinates": [[114, 30]] * 5000}}]}).encode(), 413,
         ["坐标点", "XUNCHA_UPLOAD_MAX_VERTICES"]),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100, 400, ["Excel"]),
    ]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    for url in database_url("sqlite", tmp_path_factory.mktemp("upload_limits")):
        yield from build_api(url, seed=False, **SETTINGS)


@pytest.mark.parametrize("case", range(len(attack_files())))
def test_http_upload_refuses_fast_without_growing_the_app(api: Api, case: int) -> None:
    name, data, status, words = attack_files()[case]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    resp = api.post("/api/cases/import", "admin", files={"file": (name, data)})
    assert time.perf_counter() - t0 < 15, "the upload was parsed instead of refused"
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert all(w in detail for w in words), detail
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown_mib < 200, f"the app's peak memory grew by {grown_mib:.0f} MiB"


def test_http_upload_of_a_good_file_still_imports(api: Api) -> None:
    _code, x, y = point_in(api.storage, "shuyuan")
    csv = f"case_id,category,reported_at,lon,lat\nLIM1,占道经营,2026-05-01 07:00,{x},{y}\n"
    resp = api.post("/api/cases/import", "admin", files={"file": ("ok.csv", csv.encode())})
    assert resp.status_code == 200 and resp.json()["inserted"] == 1, resp.text


def test_cli_import_refuses_with_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    for name, data, _status, words in attack_files()[1:]:
        path = tmp_path / name
        path.write_bytes(data)
        t0 = time.perf_counter()
        res = runner.invoke(cli_app, ["import", str(path), "--db", url], env=ENV)
        assert time.perf_counter() - t0 < 15, name
        assert res.exit_code == 2, (name, res.output)
        flat = "".join(res.output.split())  # rich wraps long lines
        assert all("".join(w.split()) in flat for w in words), (name, res.output)
