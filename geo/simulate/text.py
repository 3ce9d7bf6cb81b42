"""Chinese descriptions and addresses for simulated cases (used by :mod:`geo.simulate.generator`)."""

from __future__ import annotations

import math
import random

import numpy as np

_DIRS = ("东侧", "东北角", "北侧", "西北角", "西侧", "西南角", "南侧", "东南角")
_GENERIC_PLACES = ("小区门口", "巷口", "路口", "人行道上", "楼栋旁", "街角", "公交站旁", "超市门口")
_GOODS = ("水果", "蔬菜", "烤红薯", "煎饼", "玩具", "袜子鞋垫", "鲜花", "糖葫芦")
_SHOPS = ("水果店", "五金店", "餐馆", "早点铺", "烟酒店", "电动车行", "服装店")
_STRUCTS = ("雨棚", "彩钢棚", "铁皮房", "围墙", "阳光房", "储物间")
_BUILDS = ("砖混房屋", "二层钢构房", "门面房", "车库")
_STUFF = ("旧家具", "纸箱杂物", "建筑垃圾", "废旧自行车", "泡沫箱", "花盆杂物")
_NOISE = ("门店冰柜压缩机", "夜宵排档", "广场舞音响", "商铺促销音响", "夜间装修")
_NUM = "一二三四五六"
SOURCES = ("巡查发现", "12345热线", "数字城管")

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "09006": ("{place}流动摊位占道摆卖，约{n}个摊位", "{place}摊贩占用人行道经营，约{n}个摊位，影响通行"),
    "09006m": ("{place}早市摊贩占道经营，约{n}个摊位，占用车行道", "{place}早点摊、菜摊占道经营，约{n}个摊位"),
    "09006n": ("{place}夜市摊点超出划定范围占道经营，约{n}个摊位", "{place}夜宵摊占道经营，约{n}个摊位，桌椅摆上人行道"),
    "09001": ("{place}流动摊贩无照经营（{goods}），{k}辆三轮车", "{place}游商兜售{goods}，劝离后又返回"),
    "09005": ("{place}沿街{shop}出店经营，占用人行道约{m}平方米", "{place}{shop}货物摆出门外经营约{m}平方米"),
    "09002m": ("{place}早市收市后摊位未撤、垃圾未清理", "{place}早市超出规定时间经营，约{n}个摊位"),
    "09002n": ("{place}夜市摊点超时经营、油烟扰民", "{place}夜市收市后地面油污、垃圾未清理"),
    "09002": ("{place}市场管理不到位，摊位越线经营",),
    "06001": ("{place}住户私搭{struct}约{m}平方米", "{place}一楼住户占用公共空间搭建{struct}"),
    "08016": ("{place}未经审批新建{build}约{m}平方米，正在施工", "{place}院内无证建设{build}"),
    "06036": ("{place}堆放{stuff}，占用公共通道", "{place}楼道口乱堆{stuff}，存在消防隐患"),
    "06045": ("{place}公共绿地被开垦种菜约{m}平方米", "{place}居民在绿地内圈地种菜（“开心农场”）约{m}平方米",
              "{place}绿化带被踩踏毁坏，杂草丛生约{m}平方米"),
    "06028": ("{place}{noise}噪声扰民，居民投诉", "{place}{noise}声音过大，影响居民休息"),
    "06040": ("{place}巷道内私设阻车桩{k}个", "{place}私设地锁{k}个，占用公共车位"),
    "09004": ("{place}废品回收站占道堆放废品约{m}平方米", "{place}废品回收站外纸箱、旧家电乱堆乱放"),
}


def direction(dx: float, dy: float) -> str:
    """方位 of an offset in metres (east ``dx``, north ``dy``): 东侧, 西北角 … or 门口 when close."""
    if math.hypot(dx, dy) < 25.0:
        return "门口"
    sector = int(((math.degrees(math.atan2(dy, dx)) + 22.5) % 360.0) // 45.0)
    return _DIRS[sector]


def describe(category: str, landmark: str | None, kind: str, hour: int, dx: float, dy: float,
             rng: random.Random) -> str:
    """A realistic one-line description (without the simulated tag)."""
    key = category
    if category in ("09006", "09002"):
        if kind == "morning_market" or (kind == "background" and 5 <= hour < 10):
            key = category + "m"
        elif kind == "night_market" or (kind == "background" and hour >= 17):
            key = category + "n"
    templates = _TEMPLATES.get(key, ("{place}发现{category}问题",))
    place = f"{landmark}{direction(dx, dy)}" if landmark else rng.choice(_GENERIC_PLACES)
    text = rng.choice(templates)
    return text.format(
        place=place, n=rng.randint(3, 15), k=rng.randint(1, 5), m=rng.randint(3, 59), goods=rng.choice(_GOODS), shop=rng.choice(_SHOPS),
        struct=rng.choice(_STRUCTS), build=rng.choice(_BUILDS), stuff=rng.choice(_STUFF),
        noise=rng.choice(_NOISE), category=category,
    )


def address_for(street: str, community: str | None, landmark: str | None, kind: str,
                dx: float, dy: float, rng: random.Random) -> str:
    """A plausible address: 孝感市孝南区 + 街道 + 社区 + landmark or lane and number."""
    head = f"孝感市孝南区{street}{community or ''}"
    if landmark and kind == "main_road":
        return f"{head}{landmark}{rng.randint(1, 299)}号门前"
    if landmark:
        return f"{head}{landmark}{direction(dx, dy)}"
    base = (community or "").removesuffix("社区")
    lane = rng.choice(_NUM)
    return f"{head}{base}{lane}巷{rng.randint(1, 79)}号附近"


def pick_sources(
    categories: np.ndarray, stall_codes: set[str], rng: np.random.Generator
) -> np.ndarray:
    """Report channel per case: noise mostly via 12345, stalls mostly found on patrol."""
    probs = {"06028": (0.1, 0.75, 0.15), "06045": (0.5, 0.25, 0.25), "06001": (0.4, 0.35, 0.25),
             "08016": (0.35, 0.4, 0.25)}
    u = rng.random(len(categories))
    out = np.empty(len(categories), dtype=object)
    for i, (cat, x) in enumerate(zip(categories, u, strict=True)):
        p = probs.get(cat, (0.55, 0.15, 0.3) if cat in stall_codes else (0.45, 0.25, 0.3))
        out[i] = SOURCES[0] if x < p[0] else SOURCES[1] if x < p[0] + p[1] else SOURCES[2]
    return out
