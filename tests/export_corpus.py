"""A corpus of real case-export shapes, built in code (no file of a bureau is copied).

Each builder takes WGS84 points inside the service area and returns a :class:`CorpusFile`: the
file's name and bytes and, per spreadsheet row, what must happen to it — stored with a given
case id, category, status and flag, or rejected with a reason containing a given text.

Shapes (domain.md §2.1, §2.2):

``eurbanmis_stat_gbk.csv``
    eUrbanMIS stat table ``to_stat_info`` fields, GBK; ``coordinate_x/_y`` zone-prefixed 3°
    Gauss-Krüger (zone 38, EPSG:4526); ``rec_type_name`` = 市一体化平台 next to ``sub_type_name``;
    ``archive_time`` (no status column: a closure time means 结案); one future time.
``rec_list.csv``
    eUrbanMIS REC_LIST API fields (``taskNum``, ``longitude``/``latitude``, ``eventStateName``);
    one row with swapped lon/lat.
``12345_setB.csv``
    12345 field set B (``taskId``, ``levelOne``–``levelFour``, ``coordx``/``coordy``) below a
    title row and a blank row; 年月日 times; statuses 办理中 / 已办结 / 已退单 / 办理中（超期）.
``title_merged.xlsx``
    A title row (merged) and an export-time row above the header, merged 大类/小类/当前阶段 cells,
    Excel serial dates, ``经度(百度)``/``纬度(百度)`` (BD-09).
``12345_setA.csv``
    12345 field set A: no coordinates at all (rows rejected: 无坐标, until a gazetteer exists).
``12345_setA_places.csv`` (:func:`set_a_places`, not in :func:`corpus`)
    12345 field set A with 小区 and 街道 columns, placed by name through the gazetteer (with the
    bureau table of :func:`bureau_gazetteer`).
``eurbanmis_ui.csv``
    Chinese UI export: 案件类型 (= 市一体化平台) before 大类 and 小类, ``X坐标`` = northing and
    ``Y坐标`` = 6°-zone-prefixed easting (zone 19, EPSG:4497), eUrbanMIS stage strings, legacy
    category names.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import openpyxl
import pandas as pd
from pyproj import Transformer

from geo.crs import wgs84_to_bd09

Point = tuple[float, float]


@dataclass(frozen=True)
class Stored:
    """A row that must be stored as this case."""

    case_id: str
    category: str
    status: str
    flag: str | None = None
    precision: str | None = None  # location_precision, when the file places rows by name


@dataclass(frozen=True)
class Rejected:
    """A row that must be rejected with a reason containing ``reason``."""

    reason: str
    value: str | None = None  # the value the report must show, when given


@dataclass
class CorpusFile:
    name: str
    data: bytes
    rows: dict[int, Stored | Rejected] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # texts the report's notes must contain

    @property
    def stored(self) -> dict[int, Stored]:
        return {r: e for r, e in self.rows.items() if isinstance(e, Stored)}

    @property
    def rejected(self) -> dict[int, Rejected]:
        return {r: e for r, e in self.rows.items() if isinstance(e, Rejected)}


def _gk(points: list[Point], epsg: int) -> list[tuple[float, float]]:
    tr = Transformer.from_crs(4326, epsg, always_xy=True)
    return [tuple(round(v, 2) for v in tr.transform(x, y)) for x, y in points]  # type: ignore[misc]


def excel_serial(text: str) -> float:
    """Excel's day number of a wall-clock time (1900 date system)."""
    return (pd.Timestamp(text) - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)


def _csv(rows: list[list[object]]) -> str:
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False, header=False)
    return buf.getvalue()


def eurbanmis_stat_gbk(points: list[Point]) -> CorpusFile:
    xy = _gk(points, 4526)
    future = (datetime.now() + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    head = ["rec_id", "task_num", "create_time", "event_desc", "address", "event_src_name",
            "rec_type_name", "event_type_name", "main_type_name", "sub_type_name",
            "community_name", "coordinate_x", "coordinate_y", "archive_time", "hang_num"]
    spec = [
        ("9001", "XN2605001", "2026-05-03 08:15:00", "西大市场门口游商", "街面秩序", "无照经营游商", ""),
        ("9002", "XN2605002", "2026-05-04 09:00:00", "店门口堆放纸箱", "市容环境", "乱堆物料",
         "2026-05-05 10:00:00"),
        ("9003", "XN2605003", "2026-05-05 10:30:00", "水果店出店经营", "街面秩序", "出店经营",
         "2026-05-06 11:00:00"),
        ("9004", "XN2605004", "2026-05-06 11:00:00", "不明问题", "其他", "其他事件", ""),
        ("9005", "XN2605005", future, "时间填错", "街面秩序", "占道经营", ""),
        ("9006", "XN2605006", "2026-05-08 07:40:00", "屋顶加建", "市容环境", "私搭乱建", ""),
    ]
    rows: list[list[object]] = [head]
    for (rec, task, t, desc, main, sub, arch), (x, y) in zip(spec, xy, strict=False):
        rows.append([rec, task, t, desc, "书院街", "监督员上报", "市一体化平台", "事件", main, sub,
                     "书院社区", f"{x:.2f}", f"{y:.2f}", arch, "0"])
    data = _csv(rows).encode("gbk")
    return CorpusFile("eurbanmis_stat_gbk.csv", data, {
        2: Stored("XN2605001", "09001", "上报"),
        3: Stored("XN2605002", "06036", "结案"),
        4: Stored("XN2605003", "09005", "结案"),
        5: Rejected("无法识别的问题类型", "其他事件"),
        6: Rejected("晚于当前时间"),
        7: Stored("XN2605006", "06001", "上报"),
    }, notes=("EPSG:4526", "sub_type_name"))


def rec_list(points: list[Point]) -> CorpusFile:
    head = ["id", "taskNum", "address", "eventDesc", "longitude", "latitude", "createTime",
            "archiveTime", "eventSrcName", "mainTypeName", "subTypeName", "recTypeName",
            "eventStateName"]
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points[:4]
    rows: list[list[object]] = [head,
        [1, "RL001", "槐荫大道", "早市占道", x0, y0, "2026-05-03T08:15:00+08:00", "", "12345",
         "街面秩序", "占道经营", "市一体化平台", "处理中"],
        [2, "RL002", "城站路", "坐标填反", y1, x1, "2026-05-03 09:00:00", "", "监督员上报",
         "街面秩序", "占道经营", "市一体化平台", "立案派遣"],
        [3, "RL003", "长征路", "违法建设", x2, y2, "2026-05-04 09:00:00", "2026-05-04 12:00:00",
         "监督员上报", "施工管理", "违法建设", "市一体化平台", "结案"],
        [4, "RL004", "乾坤大道", "冰柜噪声", x3, y3, "2026-05-04 22:00:00", "", "12345",
         "市容环境", "噪声扰民", "市一体化平台", "作废"],
    ]
    return CorpusFile("rec_list.csv", _csv(rows).encode("utf-8"), {
        2: Stored("RL001", "09006", "处置"),
        3: Rejected("填反"),
        4: Stored("RL003", "08016", "结案"),
        5: Stored("RL004", "06028", "作废"),
    })


def set_b(points: list[Point]) -> CorpusFile:
    head = ["taskId", "reportDept", "serviceType", "infoTypeName", "levelOne", "levelTwo",
            "levelThree", "levelFour", "streetName", "communityName", "coordx", "coordy",
            "address", "discription", "status", "orderTime", "discoverTime", "createTime",
            "endTime"]
    spec = [
        ("GD260501", "占道经营", "", "办理中", "2026年5月3日 8时15分", ""),
        ("GD260502", "噪声", "噪声扰民", "已办结", "2026年5月4日 21时0分", "2026-05-05 10:00:00"),
        ("GD260503", "路桩", "违规设置路桩", "已退单", "2026年5月5日 9时30分", ""),
        ("GD260504", "废品", "废品收购", "办理中（超期）", "2026年5月6日 10时", ""),
        ("GD260505", "其他", "飞碟降落", "办理中", "2026年5月7日 8时", ""),
        ("GD260506", "绿化", "毁绿种菜", "待办理", "2026年5月8日 7时45分", ""),
    ]
    width = len(head)
    rows: list[list[object]] = [["12345热线工单导出（2026年5月）", *[""] * (width - 1)],
                                [""] * width, head]
    for (tid, l3, l4, status, t, end), (x, y) in zip(spec, points, strict=False):
        rows.append([tid, "12345", "城市管理", "投诉", "城市管理", "市容秩序", l3, l4, "书院街道",
                     "书院社区", f"{x:.7f}", f"{y:.7f}", "书院街", "群众反映", status, t, "",
                     "2026-05-09 09:00:00", end])
    text = _csv(rows).replace("\n" + "," * (width - 1) + "\n", "\n\n", 1)  # a truly blank line
    return CorpusFile("12345_setB.csv", text.encode("utf-8-sig"), {
        4: Stored("GD260501", "09006", "处置"),
        5: Stored("GD260502", "06028", "结案"),
        6: Stored("GD260503", "06040", "作废"),
        7: Stored("GD260504", "09004", "处置", "超期"),
        8: Rejected("无法识别的问题类型", "飞碟降落"),
        9: Stored("GD260506", "06045", "派遣"),
    }, notes=("levelFour",))


def title_merged_xlsx(points: list[Point]) -> CorpusFile:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["孝南区数字城管案件明细（2026年5月）"])
    ws.merge_cells("A1:I1")
    ws.append(["导出时间：2026-06-01 09:00"])
    ws.append(["序号", "任务号", "上报时间", "大类", "小类", "经度(百度)", "纬度(百度)", "当前阶段",
               "问题描述"])
    bd = [tuple(float(v[0]) for v in wgs84_to_bd09([x], [y])) for x, y in points]
    spec = [
        ("SZ001", "2026-05-03 07:30", "街面秩序", "占道经营", "立案派遣"),
        ("SZ002", "2026-05-03 08:00", None, None, "处理中"),
        ("SZ003", "2026-05-04 09:15", None, "店外经营", "待受理"),
        ("SZ004", "2026-05-05 10:00", "市容环境", "乱堆乱放", "挂账"),
        ("SZ005", "2026-05-06 11:30", "市容环境", "私搭乱建", None),
        ("SZ006", "2026-05-07 12:00", "市容环境", "暴露垃圾", "结案"),
    ]
    for i, ((cid, t, main, sub, stage), (x, y)) in enumerate(zip(spec, bd, strict=False)):
        ws.append([i + 1, cid, excel_serial(t), main, sub, None if cid == "SZ006" else x, y,
                   stage, "巡查发现"])
    ws.merge_cells("D4:D6")  # 街面秩序 over three rows
    ws.merge_cells("E4:E5")  # 占道经营 over two rows
    ws.merge_cells("H7:H8")  # 挂账 over two rows
    buf = io.BytesIO()
    wb.save(buf)
    return CorpusFile("title_merged.xlsx", buf.getvalue(), {
        4: Stored("SZ001", "09006", "派遣"),
        5: Stored("SZ002", "09006", "处置"),
        6: Stored("SZ003", "09005", "上报"),
        7: Stored("SZ004", "06036", "处置", "挂账"),
        8: Stored("SZ005", "06001", "处置", "挂账"),
        9: Rejected("缺少经度"),
    }, notes=("bd09", "第 3 行"))


def set_a() -> CorpusFile:
    head = ["12345工单编号", "12345受理时间", "12345工单来源", "12345诉求地址", "12345工单类型",
            "12345内容描述", "主办单位", "一级业务分类", "二级业务分类", "三级业务分类",
            "四级业务分类", "五级业务分类"]
    rows: list[list[object]] = [head]
    for i, addr in enumerate(["书院街12号", "城站路3号", "槐荫大道88号"]):
        rows.append([f"2605{i:04d}", f"{excel_serial('2026-05-03 09:00') + i:.3f}", "电话",
                     addr, "投诉举报类", "门口摆摊", "孝南区城管局", "城市管理", "市容秩序",
                     "占道经营", "", ""])
    return CorpusFile("12345_setA.csv", _csv(rows).encode("utf-8"),
                      {r: Rejected("无坐标") for r in (2, 3, 4)})


def eurbanmis_ui(points: list[Point]) -> CorpusFile:
    xy = _gk(points, 4497)
    head = ["任务号", "案件类型", "大类", "小类", "问题描述", "问题地址", "X坐标", "Y坐标", "当前阶段",
            "发现时间", "结案时间"]
    spec = [
        ("UI001", "市一体化平台", "街面秩序", "无照经营", "区受理 登记案件", "2026/5/3 8:15", ""),
        ("UI002", "市一体化平台", "街面秩序", "店外经营", "批转区派遣", "2026/5/3 9:00", ""),
        ("UI003", "市一体化平台", "市容环境", "违章搭建", "区派遣 批转区直部门", "2026/5/4 10:00", ""),
        ("UI004", "机动中队采集", "市容环境", "乱堆物料", "核查结案", "2026/5/4 11:00", ""),
        ("UI005", "市一体化平台", "街面秩序", "占道经营", "市结案审核阶段 结案", "2026/5/5 7:30",
         "2026/5/6 10:00"),
        ("UI006", "市一体化平台", "宣传广告", "违规广告牌", "神秘阶段", "2026/5/5 8:00", ""),
    ]
    rows: list[list[object]] = [head]
    for (cid, rec, main, sub, stage, t, end), (e, n) in zip(spec, xy, strict=False):
        rows.append([cid, rec, main, sub, "巡查发现", "书院街", f"{n:.2f}", f"{e:.2f}", stage, t, end])
    return CorpusFile("eurbanmis_ui.csv", _csv(rows).encode("utf-8"), {
        2: Stored("UI001", "09001", "上报"),
        3: Stored("UI002", "09005", "立案"),
        4: Stored("UI003", "06001", "派遣"),
        5: Stored("UI004", "06036", "核查"),
        6: Stored("UI005", "09006", "结案"),
        7: Rejected("无法识别的案件状态", "神秘阶段"),
    }, notes=("EPSG:4497", "小类"))


def set_a_places() -> CorpusFile:
    """12345 field set A with 小区编号/名称/地址, 物业公司 and 街道, placed by name (geo.gazetteer):
    a landmark in the address, a community (居委会 variant) in the address, a compound by its
    name alone (no address), a bureau entry (:func:`bureau_gazetteer`), a bureau entry replacing
    a built-in landmark, two communities at once (ambiguous), the same with the 街道 deciding,
    and a street address no name fits."""
    head: list[object] = [
            "12345工单编号", "12345受理时间", "12345工单来源", "12345诉求地址", "12345工单类型",
            "12345内容描述", "主办单位", "小区编号", "小区名称", "小区地址", "物业公司", "街道",
            "一级业务分类", "二级业务分类", "三级业务分类"]
    spec = [  # (诉求地址, 小区名称, 小区地址, 街道)
        ("孝南区西大市场东门", "", "", "书院街道"),
        ("湖北省孝感市孝南区北外社区居委会旁", "", "", "书院街道"),
        ("", "红卫还建", "", "经济开发区"),
        ("", "金桂园", "金桂园小区3栋", "广场街道"),
        ("槐荫公园南门", "", "", "广场街道"),
        ("城西社区与城东社区交界处", "", "", ""),
        ("城西社区与城东社区交界处", "", "", "广场街道"),
        ("书院街12号", "", "", "书院街道"),
    ]
    rows: list[list[object]] = [head]
    for i, (addr, name, caddr, street) in enumerate(spec):
        rows.append([f"2606{i:04d}", f"{excel_serial('2026-05-03 09:00') + i:.3f}", "电话", addr,
                     "投诉举报类", "门口摆摊", "孝南区城管局", f"XQ{i:03d}" if name else "", name,
                     caddr, "某物业" if name else "", street, "城市管理", "市容秩序", "占道经营"])
    return CorpusFile("12345_setA_places.csv", _csv(rows).encode("utf-8"), {
        2: Stored("26060000", "09006", "上报", precision="landmark"),
        3: Stored("26060001", "09006", "上报", precision="community"),
        4: Stored("26060002", "09006", "上报", precision="landmark"),
        5: Stored("26060003", "09006", "上报", precision="landmark"),
        6: Stored("26060004", "09006", "上报", precision="landmark"),
        7: Rejected("无法唯一定位", "城西社区与城东社区交界处"),
        8: Stored("26060006", "09006", "上报", precision="community"),
        9: Rejected("按地名也无法定位", "书院街12号"),
    }, notes=("按地名库定位", "地标级 4 行", "社区级 2 行"))


def bureau_gazetteer(golden: Point, park: Point) -> bytes:
    """A bureau's own gazetteer CSV for :func:`set_a_places`: 金桂园小区 at ``golden`` and 槐荫公园
    (replacing the built-in landmark) at ``park``."""
    return _csv([["name", "lon", "lat", "kind", "community"],
                 ["金桂园小区", f"{golden[0]:.7f}", f"{golden[1]:.7f}", "小区", "城东社区"],
                 ["槐荫公园", f"{park[0]:.7f}", f"{park[1]:.7f}", "地标", ""]]).encode("utf-8")


def corpus(points: list[Point]) -> list[CorpusFile]:
    """Every corpus file, built around ``points`` (at least six, inside the service area)."""
    return [eurbanmis_stat_gbk(points), rec_list(points), set_b(points),
            title_merged_xlsx(points), set_a(), eurbanmis_ui(points)]
