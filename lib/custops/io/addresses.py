"""Province and city from Chinese shipping addresses, in the short names the data contract uses.

Platforms export an address as one text: ``浙江省 杭州市 西湖区 文三路 …``, ``北京市朝阳区…``,
``广西壮族自治区 南宁市 …``, sometimes with full-width spaces, commas or slashes between the
parts, or without the province. :func:`split_address` reads one address; :func:`split_addresses`
a column, reading each distinct start of an address (up to its city or district) once.

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
from collections.abc import Iterable

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


def _alternation(names: Iterable[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


# Nationalities in autonomous-prefecture names (恩施土家族苗族自治州, 博尔塔拉蒙古自治州).
_ETHNIC = _alternation((
    "土家族", "苗族", "朝鲜族", "藏族", "羌族", "彝族", "布依族", "侗族", "哈尼族", "壮族", "傣族",
    "景颇族", "白族", "傈僳族", "回族", "蒙古族", "蒙古", "柯尔克孜", "哈萨克",
))
_ETHNIC_END_RE = re.compile(f"(?:{_ETHNIC})+$")

# Leading words that are not part of the place: 收货地址:, 中国.
_NOISE_RE = re.compile(r"(?:(?:(?:收货|收件|详细|配送)?地址:?|中华人民共和国|中国大陆|中国) ?)+")
_NOISE_STARTS = ("收", "详", "配", "地", "中华", "中国")
# Between parts, besides whitespace (full-width too, after NFKC): commas, slashes and the like.
_SEPARATORS_RE = re.compile("[,、;/|>\\-_·•。\u200b\u200c\u200d\u2060\ufeff]")
# The parse reads at most three parts (province, 直辖县级 part, city) within their first 32
# characters (新疆维吾尔自治区 自治区直辖县级行政区划 克孜勒苏柯尔克孜自治州), after leading words
# such as 中国, and nothing after a city, district or county (杭州市, 西湖区, 桐庐县, 鄂温克族自治旗):
# the address is cut there, so addresses that differ only in the street are read once.
_KEY_PARTS = 3
_KEY_CHARS = 32
_TEXT_CHARS = 96
_DISTRICT_CHAR_RE = re.compile("[市区县旗]")

_PROVINCE_NAMES = {name: name for name in PROVINCES} | _PROVINCE_ALIASES
_PROVINCE_SUFFIXES = {suffix[0]: suffix for suffix in (
    "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市")}
# What follows a bare name when it is a road or a district, not a place: 北京东路, 河北区.
_ROAD_RE = re.compile(r"[东西南北中]?(?:大?路|大?街|大?道|巷|弄|胡同|区)")
_ROAD_STARTS = frozenset("东西南北中大路街道巷弄胡区")
_DIRECT_COUNTY_RE = re.compile(r"(?:省|自治区)?直辖县级?(?:行政区划|行政单位|行政区)? ?")
_KNOWN_CITY_SUFFIX_RE = re.compile(f"(?:{_ETHNIC})*自治州|州|市|地区|盟")
_KNOWN_CITY_SUFFIX_STARTS = frozenset("自州市地盟") | {
    name[0] for name in _ETHNIC.split("|")}
# A name never runs over a city, district or county (the address is cut after one).
_CITY_RE = re.compile(
    r"(?:(?P<prefecture>[^ 市区县旗]{2,8}?)自治州|(?P<city>[^ 市区县旗]{2,5}?)(?:市|地区|盟|林区))")
# Characters no prefecture or city name has: streets, numbers, districts, counties, villages.
_NOT_IN_CITY_RE = re.compile(r"[路街道巷弄号楼栋室村乡区县旗0-9A-Za-z]|州.")
_CITY_TOKEN_RE = re.compile(r"[\u4e00-\u9fff]{2,4}")
_NOT_A_CITY_TOKEN_RE = re.compile(r"[市区县旗]|[镇乡村路街道巷弄号]$")


def split_address(text: str | None) -> tuple[str | None, str | None]:
    """(province, city) of one Chinese address, in the contract's short names.

    ``"浙江省 杭州市 西湖区 …"`` → ``("浙江", "杭州")``; ``"北京市朝阳区…"`` → ``("北京", "北京")``;
    ``"湖北省 恩施土家族苗族自治州 恩施市"`` → ``("湖北", "恩施")``; ``"杭州市西湖区…"`` →
    ``("浙江", "杭州")`` (a well-known city); ``"义乌市…"`` → ``(None, "义乌")``. Blank, missing
    or unreadable text → ``(None, None)``.
    """
    if not isinstance(text, str):
        return None, None
    return _split_key(_address_key(_cut_text(text)))


def split_addresses(values: pd.Series) -> pd.DataFrame:
    """:func:`split_address` over a column: a frame of ``province`` and ``city`` on its index.

    Each distinct address is cut once after its district or county (西湖区), each distinct
    such start is normalized once and each distinct normalized start is read once: addresses
    that differ only in the street cost little. Missing values and non-text give missing names
    (NaN in the contract's string dtype).
    """
    codes, uniques = pd.factorize(values)
    cuts = [_cut_text(value) if isinstance(value, str) else None
            for value in np.asarray(uniques, dtype=object)]
    cut_codes, distinct_cuts = pd.factorize(np.array(cuts, dtype=object))
    keys = [_address_key(cut) for cut in distinct_cuts]
    key_codes, distinct_keys = pd.factorize(np.array(keys, dtype=object))
    key_codes = np.append(key_codes, -1)[cut_codes]  # cut code -1 (not text) → missing
    provinces = np.empty(len(distinct_keys) + 1, dtype=object)
    cities = np.empty(len(distinct_keys) + 1, dtype=object)
    for i, key in enumerate(distinct_keys):
        provinces[i], cities[i] = _split_key(key)
    provinces[-1] = cities[-1] = None  # code -1: missing
    rows = np.append(key_codes, -1)[codes]  # value code -1 (missing) → the last slot
    return pd.DataFrame(
        {"province": pd.array(provinces, dtype=STRING_DTYPE).take(rows),
         "city": pd.array(cities, dtype=STRING_DTYPE).take(rows)},
        index=values.index)


def _cut_text(text: str) -> str:
    """The start of an address the parse may read: up to its first city, district or county."""
    first = _DISTRICT_CHAR_RE.search(text, 0, _TEXT_CHARS)
    if first is None:
        return text[:_TEXT_CHARS]
    if text[first.start()] == "市":  # the usual case, the end of 省市 or 杭州市
        return text[:first.end()]
    text = text[:_TEXT_CHARS]
    return text[:_district_end(text)]


def _address_key(text: str) -> str:
    """What the parse reads of an address: normalized, without 中国, at most 3 parts."""
    text = _SEPARATORS_RE.sub(" ", unicodedata.normalize("NFKC", text[:_TEXT_CHARS]))
    parts = text.split(None, _KEY_PARTS)
    if parts and parts[0].startswith(_NOISE_STARTS):
        text = " ".join(parts)
        noise = _NOISE_RE.match(text)
        parts = text[noise.end() if noise else 0:].split(None, _KEY_PARTS)
    key = " ".join(parts[:_KEY_PARTS])[:_KEY_CHARS]
    return key[:_district_end(key)]


def _district_end(key: str) -> int | None:
    """Where the first city, district or county ends (not 自治区, 地区, 林区, 行政区划, 直辖县级)."""
    district = _DISTRICT_CHAR_RE.search(key)
    while district is not None:
        at = district.start()
        if key[at] == "区":
            place = not key.endswith(("自治", "行政", "地", "林"), 0, at)
        elif key[at] == "县":
            place = not key.endswith("直辖", 0, at)
        else:
            place = True
        if place:
            return at + 1
        district = _DISTRICT_CHAR_RE.search(key, at + 1)
    return None


def _split_key(text: str) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    province = _read_province(text)
    if province is None:
        return _read_city_alone(text)
    name, end = province
    if name in _SAME_CITY:
        return name, name
    if name == "吉林" and text.startswith("市", end):  # 吉林市: the city of the same name
        return name, name
    rest = text[end:].lstrip(" ")
    if rest.startswith(("省直", "自治区直", "直辖")):
        rest = _DIRECT_COUNTY_RE.sub("", rest, count=1)
    return name, _read_city(rest)


def _read_province(text: str) -> tuple[str, int] | None:
    """The province at the start of ``text`` and where it ends, or None."""
    name = _PROVINCE_NAMES.get(text[:3]) or _PROVINCE_NAMES.get(text[:2])
    if name is None:
        return None
    end = 3 if text[:3] in _PROVINCE_NAMES else 2
    suffix = _PROVINCE_SUFFIXES.get(text[end:end + 1])
    if suffix is not None and text.startswith(suffix, end):
        if suffix == "市" and name not in _SAME_CITY:
            return name, end  # 吉林市: the city, read next
        return name, end + len(suffix)
    if _is_road(text, end):  # 北京东路, 河北区
        return None
    city = _known_city_match(text)
    if city is not None and city[1] > end:
        return None  # 海南藏族自治州, 海南州: the prefecture in 青海
    return name, end


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
    if _CITY_TOKEN_RE.fullmatch(token) and not _NOT_A_CITY_TOKEN_RE.search(token):
        return token
    return None


def _is_road(text: str, at: int) -> bool:
    return at < len(text) and text[at] in _ROAD_STARTS and _ROAD_RE.match(text, at) is not None


def _known_city_match(text: str) -> tuple[str, int] | None:
    """A well-known city at the start of ``text`` with its suffix (市, 州, …) and where it ends."""
    for length in (4, 3, 2):
        name = text[:length]
        if name in CITY_PROVINCES:
            suffix = (_KNOWN_CITY_SUFFIX_RE.match(text, length)
                      if text[length:length + 1] in _KNOWN_CITY_SUFFIX_STARTS else None)
            return name, suffix.end() if suffix else length
    return None


def _known_city(text: str) -> str | None:
    match = _known_city_match(text)
    if match is None or _is_road(text, len(match[0])):
        return None
    return match[0]


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
