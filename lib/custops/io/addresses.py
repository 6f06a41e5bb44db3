"""Province and city from Chinese shipping addresses, in the short names the data contract uses.

Platforms export an address as one text: ``浙江省 杭州市 西湖区 文三路 …``, ``北京市朝阳区…``,
``广西壮族自治区 南宁市 …``, sometimes with full-width spaces, commas or slashes between the
parts, or without the province. :func:`split_address` reads one address; :func:`split_addresses`
a column (each distinct address is read once).

Names follow the contract (see ``_short_region_name`` in :mod:`custops.io.parse`): ``浙江省`` →
``浙江``, ``广西壮族自治区`` → ``广西``, ``杭州市`` → ``杭州``, and further ``大兴安岭地区`` →
``大兴安岭``, ``锡林郭勒盟`` → ``锡林郭勒``, ``恩施土家族苗族自治州`` → ``恩施``. The four
municipalities (北京, 上海, 天津, 重庆) and 香港, 澳门 give the same name for province and city.
An address without a province gets one when its city is a well-known city or an autonomous
prefecture (``杭州市西湖区…`` → ``(浙江, 杭州)``); otherwise ``(None, city)``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from custops.io.contract import STRING_DTYPE

__all__ = ["CITY_PROVINCES", "PROVINCES", "split_address", "split_addresses"]


PROVINCES = (
    "北京", "上海", "天津", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南",
    "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)
# Places whose city is the province itself: the municipalities and the special regions.
_SAME_CITY = frozenset({"北京", "上海", "天津", "重庆", "香港", "澳门"})
_PROVINCE_ALIASES = {"内蒙": "内蒙古", "臺灣": "台湾", "台灣": "台湾", "澳門": "澳门"}

# Well-known cities (the provincial capitals and the largest prefecture-level cities) and all 30
# autonomous prefectures, by province: they give a province to addresses that leave it out.
_CITIES_BY_PROVINCE = {
    "河北": "石家庄 唐山 保定 邯郸 廊坊",
    "山西": "太原 大同",
    "辽宁": "沈阳 大连 鞍山",
    "吉林": "长春 吉林 延边",
    "黑龙江": "哈尔滨 大庆 齐齐哈尔",
    "江苏": "南京 苏州 无锡 常州 南通 徐州 扬州 盐城",
    "浙江": "杭州 宁波 温州 绍兴 嘉兴 金华 台州 湖州",
    "安徽": "合肥 芜湖 六安",
    "福建": "福州 厦门 泉州",
    "江西": "南昌 赣州",
    "山东": "济南 青岛 烟台 潍坊 临沂 淄博 济宁",
    "河南": "郑州 洛阳 南阳",
    "湖北": "武汉 宜昌 襄阳 恩施",
    "湖南": "长沙 株洲 岳阳 邵阳 湘西",
    "广东": "广州 深圳 东莞 佛山 珠海 汕头 惠州 中山 江门 湛江",
    "海南": "海口 三亚",
    "四川": "成都 绵阳 阿坝 甘孜 凉山",
    "贵州": "贵阳 遵义 黔西南 黔东南 黔南",
    "云南": "昆明 楚雄 红河 文山 西双版纳 大理 德宏 怒江 迪庆",
    "陕西": "西安",
    "甘肃": "兰州 临夏 甘南",
    "青海": "西宁 海北 黄南 海南 果洛 玉树 海西",
    "台湾": "台北 高雄",
    "内蒙古": "呼和浩特 包头 鄂尔多斯",
    "广西": "南宁 柳州 桂林",
    "西藏": "拉萨",
    "宁夏": "银川",
    "新疆": "乌鲁木齐 昌吉 博尔塔拉 巴音郭楞 克孜勒苏 伊犁",
}
CITY_PROVINCES: dict[str, str] = {
    city: province for province, cities in _CITIES_BY_PROVINCE.items() for city in cities.split()
}


def _alternation(names: Any) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


# Nationalities in autonomous-prefecture names (恩施土家族苗族自治州, 博尔塔拉蒙古自治州).
_ETHNIC = _alternation((
    "土家族", "苗族", "朝鲜族", "藏族", "羌族", "彝族", "布依族", "侗族", "哈尼族", "壮族", "傣族",
    "景颇族", "白族", "傈僳族", "回族", "蒙古族", "蒙古", "柯尔克孜", "哈萨克",
))
_ETHNIC_END_RE = re.compile(f"(?:{_ETHNIC})+$")

_NOISE_RE = re.compile(r"^(?:(?:收货|收件|详细|配送)?地址:?|中华人民共和国|中国大陆|中国)+ ?")
# Between parts: whitespace (full-width too, after NFKC), commas, slashes and the like.
_SEPARATORS_RE = re.compile(r"[\s,、;/|>\-_·•。\u200b\u200c\u200d\ufeff]+")
_PROVINCE_RE = re.compile(
    f"(?P<name>{_alternation([*PROVINCES, *_PROVINCE_ALIASES])})"
    "(?P<suffix>维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区|省|市)?")
# What follows a bare name when it is a road or a district, not a place: 北京东路, 河北区.
_ROAD_RE = re.compile(r"[东西南北中]?(?:大?路|大?街|大?道|巷|弄|胡同|区)")
_DIRECT_COUNTY_RE = re.compile(r"(?:省|自治区)?直辖县级?(?:行政区划|行政单位|行政区)? ?")
_KNOWN_CITY_RE = re.compile(
    f"(?P<name>{_alternation(CITY_PROVINCES)})"
    f"(?P<suffix>(?:{_ETHNIC})*自治州|州|市|地区|盟)?")
_CITY_RE = re.compile(
    r"(?:(?P<prefecture>[^ ]{2,8}?)自治州|(?P<city>[^ ]{2,5}?)(?:市|地区|盟|林区))")
# Characters no prefecture or city name has: streets, numbers, districts, counties, villages.
_NOT_IN_CITY_RE = re.compile(r"[路街道巷弄号楼栋室村乡区县旗0-9A-Za-z]|州.")
_CITY_TOKEN_RE = re.compile(r"[\u4e00-\u9fff]{2,4}")
_NOT_A_CITY_TOKEN_RE = re.compile(r".*(?:[区县旗镇乡村路街道巷弄号]$|直辖)")


def split_address(text: str | None) -> tuple[str | None, str | None]:
    """(province, city) of one Chinese address, in the contract's short names.

    ``"浙江省 杭州市 西湖区 …"`` → ``("浙江", "杭州")``; ``"北京市朝阳区…"`` → ``("北京", "北京")``;
    ``"湖北省 恩施土家族苗族自治州 恩施市"`` → ``("湖北", "恩施")``; ``"杭州市西湖区…"`` →
    ``("浙江", "杭州")`` (a well-known city); ``"义乌市…"`` → ``(None, "义乌")``. Blank, missing
    or unreadable text → ``(None, None)``.
    """
    if not isinstance(text, str):
        return None, None
    text = _SEPARATORS_RE.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    text = _NOISE_RE.sub("", text)
    if not text:
        return None, None
    province = _read_province(text)
    if province is None:
        return _read_city_alone(text)
    name, end = province
    if name in _SAME_CITY:
        return name, name
    if text.startswith("市", end):  # 吉林市: the city of the same name
        return name, name
    rest = text[end:].lstrip(" ")
    rest = _DIRECT_COUNTY_RE.sub("", rest, count=1) if rest.startswith(("省直", "自治区直", "直辖")) \
        else rest
    return name, _read_city(rest)


def split_addresses(values: pd.Series) -> pd.DataFrame:
    """:func:`split_address` over a column: a frame of ``province`` and ``city`` on its index.

    Each distinct address is read once. Missing values and non-text give missing names.
    """
    codes, uniques = pd.factorize(values)
    provinces = np.empty(len(uniques) + 1, dtype=object)
    cities = np.empty(len(uniques) + 1, dtype=object)
    provinces[-1] = cities[-1] = None  # code -1: missing
    for i, value in enumerate(uniques):
        provinces[i], cities[i] = split_address(value)
    return pd.DataFrame(
        {"province": pd.array(provinces[codes], dtype=STRING_DTYPE),
         "city": pd.array(cities[codes], dtype=STRING_DTYPE)},
        index=values.index)


def _read_province(text: str) -> tuple[str, int] | None:
    """The province at the start of ``text`` and where it ends, or None."""
    match = _PROVINCE_RE.match(text)
    if match is None:
        return None
    name = _PROVINCE_ALIASES.get(match["name"], match["name"])
    suffix = match["suffix"]
    if suffix == "市" and name not in _SAME_CITY:
        return name, match.end("name")  # 吉林市
    if suffix is None:
        if _ROAD_RE.match(text, match.end()):  # 北京东路, 河北区
            return None
        city = _KNOWN_CITY_RE.match(text)
        if city is not None and city["suffix"] and city.end() > match.end():
            return None  # 海南藏族自治州, 海南州: the prefecture in 青海
    return name, match.end()


def _read_city_alone(text: str) -> tuple[str | None, str | None]:
    """An address without a province: a known city gives its province too."""
    known = _known_city(text)
    if known is not None:
        return CITY_PROVINCES[known], known
    return None, _suffixed_city(text)


def _read_city(rest: str) -> str | None:
    """The city at the start of what follows the province."""
    if not rest:
        return None
    city = _known_city(rest) or _suffixed_city(rest)
    if city is not None:
        return city
    token, _, _ = rest.partition(" ")  # 浙江 丽水 莲都区: a part of its own
    if (" " in rest or token == rest) and _CITY_TOKEN_RE.fullmatch(token) \
            and not _NOT_A_CITY_TOKEN_RE.match(token):
        return token
    return None


def _known_city(text: str) -> str | None:
    match = _KNOWN_CITY_RE.match(text)
    if match is None or _ROAD_RE.match(text, match.end("name")):
        return None
    return match["name"]


def _suffixed_city(text: str) -> str | None:
    """``杭州市`` → 杭州, ``大兴安岭地区`` → 大兴安岭, ``恩施土家族苗族自治州`` → 恩施."""
    match = _CITY_RE.match(text)
    if match is None:
        return None
    if match["prefecture"] is not None:
        name = _ETHNIC_END_RE.sub("", match["prefecture"])
    else:
        name = match["city"]
    if len(name) < 2 or _NOT_IN_CITY_RE.search(name):
        return None
    return name
