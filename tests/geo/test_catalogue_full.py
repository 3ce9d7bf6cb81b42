"""The whole GB/T 47678.5 catalogue (classes 06–10), legacy forms, suggestions and local aliases."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from geo.catalogue import Catalogue, default_catalogue
from geo.errors import InputError, ValidationError
from geo.io.tables import read_catalogue

DOMAIN = Path("/work/shared/domain.md")

# domain.md §1.3, classes 06–10 (transcription of GB/T 47678.5-2026 附录 C 表 C.1)
_SECTION_13 = """
06001 私搭乱建 · 06002 店面无证装修 · 06003 违章接坡 · 06004 建筑物外立面污损 · 06005 临街阳台、屋顶脏乱差
06006 擅自在临街的建筑物上挂彩旗 · 06007 沿街晾挂 · 06008 擅自架设管线、杆线设施 · 06009 空调室外机低挂
06010 暴露垃圾 · 06011 积存垃圾渣土 · 06012 道路不洁 · 06013 道路破损 · 06014 道路遗撒(洒) · 06015 沙(河)滩不洁
06016 交通标线不清晰 · 06017 绿地脏乱 · 06018 绿化弃料 · 06019 非装饰性吊挂 · 06020 焚烧垃圾、树叶 · 06021 病虫害
06022 非法伐树 · 06023 堤岸破损 · 06024 水域秩序乱象 · 06025 水域不洁 · 06026 河道污染 · 06027 油烟污染
06028 噪声扰民 · 06029 露天烧烤 · 06030 乱倒乱排污水、废水 · 06032 非正规垃圾填埋场 · 06033 乱丢弃医疗废物
06034 废弃车辆 · 06035 废弃家具设备 · 06036 乱堆杂物 · 06037 动物尸体 · 06038 擅自饲养家禽家畜 · 06039 违章开设道口
06040 私设地锁、阻车桩 · 06041 垃圾未分类 · 06042 垃圾站（箱）满溢 · 06043 遮阳篷（棚、伞）破损 · 06044 节庆装饰物破损
06045 非法占绿毁绿 · 06046 占用河道 · 06047 公园秩序 · 06048 边坡（挡土墙）破损 · 06049 台阶破损 · 06050 路缘石缺损
06051 盲道缺损 · 06052 无障碍坡道破损
07001 非法小广告 · 07002 街头散发广告 · 07003 违规户外广告 · 07004 广告语言文字不规范 · 07006 违规牌匾标识
07007 违规标语宣传品 · 07008 公益性宣传品缺损
08001 施工扰民 · 08002 施工占道 · 08003 无证掘路 · 08004 工地扬尘 · 08005 施工废弃料 · 08006 施工物料乱堆放
08007 施工工地围挡问题 · 08008 施工工地道路未硬化 · 08009 施工工地出入口道路破损 · 08010 施工完成后未场光地净
08011 渣土运输车辆未安装密闭装置 · 08012 施工工地车轮夹带 · 08013 违规高空悬吊作业 · 08014 预埋件设施裸露
08015 施工公示牌污损 · 08016 无证建设
09001 无照经营游商 · 09002 早（夜）市管理问题 · 09003 流浪乞讨 · 09004 废品收购乱象 · 09005 店外经营 · 09006 占道经营
09008 非法出版物销售 · 09009 机动车乱停放 · 09010 非机动车乱停放 · 09011 共享单车乱象 · 09012 占用消防通道
09013 临街屠宰 · 09014 畜力车进城 · 09015 无证餐饮 · 09016 违规设置停车场 · 09017 违规占用桥下空间
09018 履带车（铁轮车）违规上路行驶 · 09019 占用无障碍通道 · 09020 农贸市场秩序问题 · 09021 占道洗车 · 09022 占道促销宣传
10001 道路积雪、结冰 · 10002 架空线缆脱落
"""
EXPECTED = dict(re.findall(r"(\d{5}) ([^·\n]+?)\s*(?=·|\n)", _SECTION_13))


def test_expected_list_is_the_whole_section() -> None:
    # 51 + 7 + 16 + 21 + 2 entries; the numbering gaps are not entries
    assert len(EXPECTED) == 97
    assert not {"06031", "07005", "09007"} & set(EXPECTED)
    if DOMAIN.exists():  # the copy above matches the shared reference where it is available
        text = DOMAIN.read_text(encoding="utf-8")
        section = text.split("### 1.3", 1)[1].split("### 1.4", 1)[0]
        codes = set(re.findall(r"\b(0[6-9]\d{3}|10\d{3})\b", section))
        assert codes - {"06031", "07005", "09007"} == set(EXPECTED)


def test_every_code_of_classes_06_to_10_is_present_with_its_name() -> None:
    cat = default_catalogue()
    table = read_catalogue().set_index("code")
    assert set(table.index) == set(EXPECTED)
    for code, name in EXPECTED.items():
        assert cat.name(code) == name, code
        assert cat.resolve(code) == code
        assert cat.resolve(name) == code, name
    assert table["department"].str.split("/").explode().isin(["城管", "市政", "园林", "环卫"]).all()
    assert table["severity"].astype(int).between(1, 5).all()
    assert (table["deadline_hours"].astype(int) > 0).all()


def test_aliases_are_unambiguous_across_rows() -> None:
    cat = default_catalogue()
    owner: dict[str, str] = {}
    for code, aliases in read_catalogue().set_index("code")["aliases"].items():
        for alias in filter(None, aliases.split(";")):
            assert owner.setdefault(alias, code) == code, f"{alias}: {owner[alias]} / {code}"
            assert cat.resolve(alias) == code, alias


@pytest.mark.parametrize(("value", "code"), [
    ("06004", "06004"), ("06042", "06042"), ("07006", "07006"), ("09019", "09019"),
    ("10001", "10001"),
    ("非法张贴小广告", "07001"), ("渣土车未密闭运输", "08011"), ("垃圾满溢", "06042"),
    ("占压盲道", "09019"), ("乱堆物料堆", "06036"), ("商业噪音", "06028"),
    ("违章张贴悬挂广告牌匾", "07003"), ("占道废品收购", "09004"), ("焚烧树叶/垃圾", "06020"),
    ("道路撒遗", "06014"), ("废弃家具设施", "06035"),
    ("01-01", "06001"), ("04-06", "09006"), ("01-98", "06042"), ("03-11", "08011"),
    ("200101", "06001"), ("200598", "09019"), ("200501", "09001"),
    ("5-1 无照经营游商", "09001"), ("街面秩序-店外经营", "09005"), ("市容环境-私搭乱建", "06001"),
    ("跨店经营", "09005"), ("出店经营", "09005"), ("占道撑伞", "09006"),
    ("02_无照经营游商", "09001"), ("08_占道撑伞", "09006"),
])
def test_issue_examples_resolve(value: str, code: str) -> None:
    assert default_catalogue().resolve(value) == code


@pytest.mark.parametrize(("value", "code"), [
    ("09006 占道经营", "09006"),  # code + name: the code wins
    ("09006 店外经营", "09006"),
    ("５-４", "09005"),  # one-digit legacy class → Beijing 200504
    ("02-03", "07003"),  # two-digit legacy class: +5 rule without an explicit alias
    ("09-006", "09006"),
    ("42010209006", "09006"),  # 11-digit 事项代码 = admin code + matter code
    ("9006", "09006"), ("9006.0", "09006"),  # Excel dropped the leading zero
    ("  ０９００６ ", "09006"),
    ("市容秩序>街面秩序>无照经营游商", "09001"),
    ("百姓生活-噪声扰民", "06028"),
    ("街面秩序类-占道经营类", "09006"),
    ("占道经营（流动）", "09006"),
])
def test_more_legacy_forms(value: str, code: str) -> None:
    assert default_catalogue().resolve(value) == code


@pytest.mark.parametrize("value", [
    "05-01",  # CJ/T 214 街面秩序 vs unknown GB/T 30428.2 class: no numeric default
    "06-06 公共设施损坏",  # China-Mobile "其他": no 47678.5 counterpart
    "09007", "06031",  # numbering gaps
    "2001", "2026-03-05", "不存在", "", "   ",
])
def test_unknown_or_unsupported_values_do_not_resolve(value: str) -> None:
    assert default_catalogue().resolve(value) is None


def test_ambiguous_legacy_codes_are_flagged() -> None:
    cat = default_catalogue()
    note = cat.ambiguity("04-01")
    assert note is not None and "09001" in note and "突发事件" in note
    assert cat.ambiguity("05-01") is not None
    assert cat.ambiguity("04-01 无照经营游商") is None  # the name settles it
    assert cat.ambiguity("01-01") is None
    assert cat.ambiguity("09006") is None
    assert "前导零" in (cat.ambiguity("9006") or "")


def test_closest_suggests_codes_for_messages() -> None:
    cat = default_catalogue()
    assert cat.closest("占道经营摊")[0] == ("09006", "占道经营")
    assert cat.closest("垃圾箱溢满")[0][0] == "06042"
    assert [c for c, _ in cat.closest("09007")] == ["09006", "09008", "09005"]
    assert len(cat.closest("占道经营摊", n=1)) == 1
    assert cat.closest("完全无关的文字xyz") == []


def test_local_aliases_extend_without_touching_the_package() -> None:
    base = default_catalogue()
    before = read_catalogue()
    local = pd.DataFrame({"alias": ["流动小贩", "门前乱摆", "9005", "店外经营（本地）"],
                          "code": ["09001", "9005", "09005", "09005"]})
    ext = base.with_aliases(local)
    assert ext.resolve("流动小贩") == "09001"
    assert ext.resolve("门前乱摆") == "09005"  # code without its leading zero accepted
    assert ext.resolve("占道经营") == "09006"  # shipped entries still there
    assert "流动小贩" in ext.table.at["09001", "aliases"]
    # the shipped catalogue and the package file are unchanged
    assert base.resolve("流动小贩") is None and default_catalogue().resolve("流动小贩") is None
    pd.testing.assert_frame_equal(read_catalogue(), before)
    # a local alias overrides a shipped one; Chinese headers work too
    over = base.with_aliases(pd.DataFrame({"别名": ["垃圾满溢"], "编码": ["06010"]}))
    assert over.resolve("垃圾满溢") == "06010" and base.resolve("垃圾满溢") == "06042"


def test_local_alias_errors_name_the_row() -> None:
    cat = default_catalogue()
    bad = pd.DataFrame({"alias": ["流动小贩", "门前乱摆", "", "09006", "流动小贩"],
                        "code": ["09001", "99999", "09005", "09001", "09005"]})
    with pytest.raises(ValidationError) as err:
        cat.with_aliases(bad)
    rows = {(p.row, p.column) for p in err.value.problems}
    assert rows == {(3, "code"), (4, "alias"), (5, "alias"), (6, "alias")}
    assert "第 3 行" in str(err.value) and "99999" in str(err.value)
    with pytest.raises(ValidationError, match="09006"):
        cat.with_aliases(pd.DataFrame({"alias": ["摆摊"], "code": ["占道经营"]}))
    with pytest.raises(InputError, match="alias"):
        cat.with_aliases(pd.DataFrame({"name": ["摆摊"], "code": ["09006"]}))


def test_default_catalogue_is_cached_and_from_frame_still_builds_fresh() -> None:
    assert default_catalogue() is default_catalogue()
    fresh = Catalogue.from_frame(read_catalogue())
    assert fresh is not default_catalogue() and fresh.resolve("占压盲道") == "09019"
