"""Read limits for case tables: every check runs on the raw bytes, before a file is expanded.

:class:`ReadLimits` says how large a case table :func:`geo.io.tables.read_table` accepts. An XLSX
is inspected with :mod:`zipfile` and a streaming XML scan *before* openpyxl expands it (member
sizes, counted while decompressing so a lying header cannot hide a bomb; shared strings; rows x
columns of each sheet), a CSV's width and line lengths are checked on the raw bytes before pandas
parses it, and a GeoJSON's coordinates are counted before any row is built. The scan of an XLSX
also collects each worksheet's merged ranges (``<mergeCell ref=…>``) for the reader.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

import numpy as np

from geo.errors import FileReadError

MAX_TABLE_BYTES = 200 * 1024 * 1024
"""Default size limit for a case file (200 MiB, about 1.5 million rows of CSV)."""

_MIB = 1024 * 1024
_CHUNK = 1 << 20
_ADVICE = "请删除多余内容或拆分后分批导入，或请管理员调高该设置。"
HEADER_SCAN_ROWS = 30
"""Rows at the top of a table searched for the header row (title rows above it are skipped)."""


@dataclass(frozen=True)
class ReadLimits:
    """How large a case table :func:`geo.io.tables.read_table` accepts; every check runs before expansion.

    Attributes
    ----------
    max_bytes : int
        Size of the file itself.
    max_columns : int
        Columns of the table (CSV header, XLSX sheet width, GeoJSON property names).
    max_line_bytes : int
        Longest physical line of a CSV file, in bytes.
    max_cells : int
        Rows x columns of the table (an XLSX sheet's extent, a CSV's lines x header width).
    max_uncompressed_bytes : int
        Uncompressed size of each member of an XLSX file; all members together may have twice this.
    max_shared_strings : int
        Shared strings (declared ``uniqueCount`` and actual ``<si>`` entries) of an XLSX file.
    max_shared_chars : int
        Total text length of an XLSX file's shared strings, in characters.
    max_vertices : int
        Coordinates (positions) of all geometries of a GeoJSON file.
    max_members : int
        Members of an XLSX archive.
    hints : Mapping[str, str]
        For each field name, the setting that relaxes it, quoted in the error message (default
        ``ReadLimits.<field>``).
    """

    max_bytes: int = MAX_TABLE_BYTES
    max_columns: int = 200
    max_line_bytes: int = 64 * 1024
    max_cells: int = 20_000_000
    max_uncompressed_bytes: int = 512 * _MIB
    max_shared_strings: int = 2_000_000
    max_shared_chars: int = 64 * _MIB
    max_vertices: int = 5_000_000
    max_members: int = 10_000
    hints: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def exceeded(self, name: str, found: str, allowed: str) -> ReadLimitError:
        """The error for limit ``name``: ``found`` (what was found) is more than ``allowed``."""
        hint = self.hints.get(name, f"ReadLimits.{name}")
        return ReadLimitError(f"{found}，超过上限 {allowed}（{hint}）；{_ADVICE}", limit=name)


class ReadLimitError(FileReadError):
    """A file exceeds one of the :class:`ReadLimits` (``limit`` names the field); nothing was read."""

    def __init__(self, message: str, limit: str = "") -> None:
        super().__init__(message)
        self.limit = limit


def size_text(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", _MIB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{int(n)} B"


def _num(n: int) -> str:
    return f"{n:,}"


def check_csv(data: bytes, lim: ReadLimits) -> None:
    """Width (the widest of the first lines), line lengths and lines x width, on the raw bytes."""
    width, pos = 1, 0  # the widest of the first lines: the header may sit below title rows
    for _ in range(HEADER_SCAN_ROWS):
        end = data.find(b"\n", pos)
        line = data[pos: end if end >= 0 else len(data)]
        n = line.count(b",") + 1  # ',' and '"' never occur inside a GBK/GB18030/UTF-8 character
        if n > lim.max_columns:
            with contextlib.suppress(csv.Error):  # a field longer than csv's limit: keep the count
                n = len(next(csv.reader([line.decode("latin-1")]), []))
            if n > lim.max_columns:
                raise lim.exceeded("max_columns", f"CSV 表头有 {_num(n)} 列",
                                   f"{_num(lim.max_columns)} 列")
        width = max(width, n)
        if end < 0:
            break
        pos = end + 1
    lines, start = 0, 0  # lines ended so far; where the current line starts
    for lo in range(0, len(data), _CHUNK):  # in blocks: the positions of "\n" take 8 bytes each
        block = np.frombuffer(data, dtype=np.uint8, count=min(_CHUNK, len(data) - lo), offset=lo)
        ends = np.flatnonzero(block == 0x0A) + lo
        lengths = np.diff(ends, prepend=start - 1) - 1
        too_long = np.flatnonzero(lengths > lim.max_line_bytes + 1)  # + 1: a "\r" before "\n"
        if too_long.size:
            lines += int(too_long[0])
            start = int(ends[too_long[0]] - lengths[too_long[0]])
        elif ends.size:
            lines, start = lines + ends.size, int(ends[-1]) + 1
        if too_long.size or lo + block.size - start > lim.max_line_bytes + 1:
            stop = data.find(b"\n", start)
            length = (stop if stop >= 0 else len(data)) - start
            raise lim.exceeded("max_line_bytes", f"CSV 第 {_num(lines + 1)} 行长 {size_text(length)}",
                               size_text(lim.max_line_bytes))
    rows = lines + (not data.endswith(b"\n")) - 1
    if rows * width > lim.max_cells:
        raise lim.exceeded("max_cells", f"CSV 有 {_num(rows)} 行 × {width} 列 = "
                           f"{_num(rows * width)} 个单元格", f"{_num(lim.max_cells)} 个单元格")


def _column(ref: str) -> int:
    """1-based column of a cell reference such as ``"AB12"`` (0 if it has no letters)."""
    col = 0
    for ch in ref:
        if not "A" <= ch <= "Z":
            break
        col = col * 26 + ord(ch) - 64
    return col


def _extent(ref: str) -> int:
    """Cells of a range such as ``"A1:XFD1048576"`` (0 if unreadable)."""
    try:
        lo, _, hi = ref.upper().replace("$", "").partition(":")
        hi = hi or lo
        rows = int(hi.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) - int(lo.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return (rows + 1) * (_column(hi) - _column(lo) + 1)
    except ValueError:
        return 0


class _XmlScan:
    """Streaming counts over one XML member of an XLSX file (expat: bounded memory, no DTD).

    Counts shared strings and their text, and each sheet's cells and extent (last row x widest
    column, which is what pandas allocates), raising as soon as a limit is passed.
    """

    def __init__(self, lim: ReadLimits, name: str) -> None:
        self.lim, self.name = lim, name
        self.strings = self.chars = self.cells = self.row = self.col = 0
        self.max_row = self.max_col = 0
        self.in_data = False  # inside <sheetData> (nothing after it holds cells)
        self.merged: list[str] = []  # <mergeCell ref="D4:D6"/> of a worksheet
        p = expat.ParserCreate(namespace_separator=" ")
        p.buffer_text = True  # text in pieces of at most 8 KiB
        p.StartElementHandler = self._start
        p.StartDoctypeDeclHandler = self._doctype
        self.parser: Any = p

    def feed(self, chunk: bytes, final: bool = False) -> None:
        """Parse the next chunk; past malformed XML (or a binary member) openpyxl's expat stops
        too, so the scan just stops counting."""
        if self.parser is not None:
            try:
                self.parser.Parse(chunk, final)
            except expat.ExpatError:
                self.parser = None

    def _doctype(self, *_args: object) -> None:
        raise FileReadError(f"XLSX 成员「{self.name}」含有 DTD 声明（Excel 从不写入，可能是恶意文件）；"
                            "请在 Excel 中打开并另存为 .xlsx 后重试。")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag, lim = name.rpartition(" ")[2], self.lim
        if tag == "c" and self.in_data:
            ref = attrs.get("r")
            self.col = _column(ref) if ref else self.col + 1
            self.cells += 1
            if self.col > self.max_col:
                self.max_col = self.col
                if self.col > lim.max_columns:
                    raise lim.exceeded("max_columns", f"XLSX 工作表「{self.name}」至少有 "
                                       f"{_num(self.col)} 列", f"{_num(lim.max_columns)} 列")
            self.max_row = max(self.max_row, self.row)
            extent = max(self.max_row * self.max_col, self.cells)
            if extent > lim.max_cells:
                raise lim.exceeded("max_cells", f"XLSX 工作表「{self.name}」至少有 {_num(self.max_row)} "
                                   f"行 × {_num(self.max_col)} 列", f"{_num(lim.max_cells)} 个单元格")
        elif tag == "row" and self.in_data:
            r = attrs.get("r", "")
            self.row, self.col = (int(r) if r.isdigit() else self.row + 1), 0
        elif tag == "si":
            self.strings += 1
            if self.strings > lim.max_shared_strings:
                raise lim.exceeded("max_shared_strings", f"XLSX 共享字符串至少有 {_num(self.strings)} 个",
                                   f"{_num(lim.max_shared_strings)} 个")
        elif tag == "sheetData":
            self.in_data = True
        elif tag == "mergeCell" and len(self.merged) < lim.max_cells:
            self.merged.append(attrs.get("ref", ""))
        elif tag == "sst":
            self._declared(attrs)
            self.parser.CharacterDataHandler = self._text  # only shared strings' text is counted
        elif tag == "dimension" and _extent(attrs.get("ref", "")) > lim.max_cells:
            raise lim.exceeded("max_cells", f"XLSX 工作表「{self.name}」声明的范围 {attrs['ref']} 有 "
                               f"{_num(_extent(attrs['ref']))} 个单元格", f"{_num(lim.max_cells)} 个")

    def _declared(self, attrs: dict[str, str]) -> None:
        lim = self.lim
        unique, count = attrs.get("uniqueCount", ""), attrs.get("count", "")
        if unique.isdigit() and int(unique) > lim.max_shared_strings:
            raise lim.exceeded("max_shared_strings", f"XLSX 声明有 {_num(int(unique))} 个共享字符串",
                               f"{_num(lim.max_shared_strings)} 个")
        if count.isdigit() and int(count) > lim.max_cells:
            raise lim.exceeded("max_cells", f"XLSX 声明有 {_num(int(count))} 个文本单元格",
                               f"{_num(lim.max_cells)} 个单元格")

    def _text(self, text: str) -> None:
        self.chars += len(text)
        if self.chars > self.lim.max_shared_chars:
            raise self.lim.exceeded(
                "max_shared_chars", f"XLSX 共享字符串总长至少 {size_text(self.chars)}（"
                f"{_num(self.chars)} 个字符，成员「{self.name}」）", size_text(self.lim.max_shared_chars))


def _check_layout(infos: list[zipfile.ZipInfo], lim: ReadLimits) -> None:
    """Member count, duplicate names, overlapping members (a non-recursive zip bomb), sizes."""
    if len(infos) > lim.max_members:
        raise lim.exceeded("max_members", f"XLSX 压缩包有 {_num(len(infos))} 个成员",
                           f"{_num(lim.max_members)} 个")
    if len({i.filename for i in infos}) < len(infos):
        raise FileReadError("XLSX 压缩包里有重名的成员（可能是恶意文件）；请在 Excel 中另存为 .xlsx 后重试。")
    spans = sorted((i.header_offset, i.header_offset + 30 + i.compress_size, i.filename) for i in infos)
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            raise FileReadError(f"XLSX 压缩包的成员「{first}」与「{second}」相互重叠（zip 炸弹的特征）；"
                                "请在 Excel 中另存为 .xlsx 后重试。")
    for i in infos:
        if i.file_size > lim.max_uncompressed_bytes:
            raise lim.exceeded("max_uncompressed_bytes", f"XLSX 成员「{i.filename}」解压后有 "
                               f"{size_text(i.file_size)}", size_text(lim.max_uncompressed_bytes))
    declared = sum(i.file_size for i in infos)
    if declared > 2 * lim.max_uncompressed_bytes:
        raise lim.exceeded("max_uncompressed_bytes", f"XLSX 各成员解压后共 {size_text(declared)}",
                           f"{size_text(2 * lim.max_uncompressed_bytes)}（单个成员上限的两倍）")


def _member_chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, lim: ReadLimits,
                   budget: list[int]) -> Iterator[bytes]:
    """The decompressed chunks of ``info``, counted: a lying size header cannot pass the caps."""
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(_CHUNK):
            size += len(chunk)
            budget[0] -= len(chunk)
            if size > lim.max_uncompressed_bytes:
                raise lim.exceeded("max_uncompressed_bytes", f"XLSX 成员「{info.filename}」实际解压大小"
                                   f"（文件头声称 {size_text(info.file_size)}）", size_text(lim.max_uncompressed_bytes))
            if budget[0] < 0:
                raise lim.exceeded("max_uncompressed_bytes", "XLSX 各成员实际解压大小之和",
                                   f"{size_text(2 * lim.max_uncompressed_bytes)}（单个成员上限的两倍）")
            yield chunk


def check_xlsx(data: bytes, lim: ReadLimits) -> dict[str, list[str]]:
    """Every member decompressed with counting caps and every XML member scanned, before openpyxl.

    Returns the merged ranges (``"D4:D6"``) of each member that has any, by member name.
    """
    merged: dict[str, list[str]] = {}
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise FileReadError(f"Excel 文件无法读取：{exc}；请确认是 .xlsx 格式且未加密。") from exc
    with zf:
        infos = zf.infolist()
        _check_layout(infos, lim)
        budget = [2 * lim.max_uncompressed_bytes]
        for info in infos:
            scan = _XmlScan(lim, info.filename)  # every member: whatever expat reads, openpyxl may
            try:
                for chunk in _member_chunks(zf, info, lim, budget):
                    scan.feed(chunk)
                scan.feed(b"", True)
                if scan.merged:
                    merged[info.filename] = scan.merged
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                    NotImplementedError) as exc:
                raise FileReadError(f"Excel 文件已损坏或已加密（成员「{info.filename}」：{exc}）；"
                                    "请在 Excel 中另存为 .xlsx 后重试。") from exc
    return merged


def count_positions(geometry: Any, lim: ReadLimits, counted: int) -> int:
    """``counted`` plus the positions of ``geometry`` (raises past ``lim.max_vertices``)."""
    geoms, arrays = [geometry], []
    while geoms:
        g = geoms.pop()
        if isinstance(g, Mapping):
            if isinstance(g.get("geometries"), list):
                geoms.extend(g["geometries"])
            arrays.append(g.get("coordinates"))
        while arrays:
            a = arrays.pop()
            if isinstance(a, list) and a:
                if isinstance(a[0], int | float):
                    counted += 1
                    if counted > lim.max_vertices:
                        raise lim.exceeded("max_vertices", f"GeoJSON 至少有 {_num(counted)} 个坐标点",
                                           f"{_num(lim.max_vertices)} 个")
                else:
                    arrays.extend(a)
    return counted


def check_shape(rows: int, columns: int, lim: ReadLimits, what: str) -> None:
    """Raise if a table of ``rows`` x ``columns`` passes ``lim`` (``what``: CSV, XLSX, GeoJSON)."""
    if columns > lim.max_columns:
        raise lim.exceeded("max_columns", f"{what} 有 {_num(columns)} 列", f"{_num(lim.max_columns)} 列")
    if rows * columns > lim.max_cells:
        raise lim.exceeded("max_cells", f"{what} 有 {_num(rows)} 行 × {_num(columns)} 列",
                           f"{_num(lim.max_cells)} 个单元格")


