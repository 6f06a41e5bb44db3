"""Tests for custops.io.addresses: province and city from Chinese shipping addresses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custops.io import addresses
from custops.io.addresses import CITY_PROVINCES, PROVINCES, split_address, split_addresses
from custops.io.contract import STRING_DTYPE

ADDRESSES = [
    # provinces, with and without spaces, full-width spaces, commas and slashes between parts
    ("浙江省 杭州市 西湖区 文三路 478号 华星时代广场", "浙江", "杭州"),
    ("浙江省杭州市余杭区五常街道文一西路969号", "浙江", "杭州"),
    ("广东省 深圳市 南山区 科技园 深南大道10000号", "广东", "深圳"),
    ("江苏省,苏州市,工业园区,星湖街328号", "江苏", "苏州"),
    ("四川省\u3000成都市\u3000武侯区\u3000人民南路四段12号", "四川", "成都"),
    ("湖南省/长沙市/岳麓区/麓山南路932号", "湖南", "长沙"),
    ("山东省，青岛市，市南区，香港中路10号", "山东", "青岛"),
    ("河北省 石家庄市 长安区 中山东路", "河北", "石家庄"),
    ("安徽省 六安市 金安区 梅山南路", "安徽", "六安"),
    ("海南省 三亚市 吉阳区 迎宾路", "海南", "三亚"),
    ("陕西西安市雁塔区小寨东路", "陕西", "西安"),
    ("浙江 温州 鹿城区 车站大道", "浙江", "温州"),
    ("浙江 丽水 莲都区 中山街", "浙江", "丽水"),
    ("江苏省镇江市京口区", "江苏", "镇江"),
    # municipalities: the same name for province and city
    ("北京市朝阳区建国路88号SOHO现代城", "北京", "北京"),
    ("北京 北京市 海淀区 中关村大街1号", "北京", "北京"),
    ("上海 上海市 浦东新区 世纪大道100号", "上海", "上海"),
    ("上海市黄浦区南京东路299号", "上海", "上海"),
    ("天津市 和平区 南京路189号", "天津", "天津"),
    ("天津市河北区中山路", "天津", "天津"),
    ("重庆 重庆市 渝中区 解放碑", "重庆", "重庆"),
    ("重庆市万州区高笋塘", "重庆", "重庆"),
    # autonomous regions
    ("广西壮族自治区 南宁市 青秀区 民族大道", "广西", "南宁"),
    ("广西壮族自治区桂林市秀峰区", "广西", "桂林"),
    ("内蒙古自治区 呼和浩特市 赛罕区", "内蒙古", "呼和浩特"),
    ("内蒙古自治区 呼和浩特市", "内蒙古", "呼和浩特"),
    ("内蒙古自治区 锡林郭勒盟 锡林浩特市", "内蒙古", "锡林郭勒"),
    ("新疆维吾尔自治区 乌鲁木齐市 天山区 解放北路", "新疆", "乌鲁木齐"),
    ("新疆维吾尔自治区 伊犁哈萨克自治州 伊宁市", "新疆", "伊犁"),
    ("新疆维吾尔自治区 自治区直辖县级行政区划 石河子市", "新疆", "石河子"),
    ("西藏自治区 拉萨市 城关区 北京中路", "西藏", "拉萨"),
    ("西藏自治区阿里地区噶尔县", "西藏", "阿里"),
    ("宁夏回族自治区 银川市 兴庆区", "宁夏", "银川"),
    ("宁夏回族自治区银川市金凤区", "宁夏", "银川"),
    # autonomous prefectures, 地区, 林区, 省直辖 and 吉林市
    ("湖北省 恩施土家族苗族自治州 恩施市 舞阳大街", "湖北", "恩施"),
    ("湖北省恩施州恩施市", "湖北", "恩施"),
    ("湖北省 省直辖县级行政区划 仙桃市 干河街道", "湖北", "仙桃"),
    ("湖北省 神农架林区 松柏镇", "湖北", "神农架"),
    ("吉林省 延边朝鲜族自治州 延吉市", "吉林", "延边"),
    ("吉林省吉林市船营区", "吉林", "吉林"),
    ("云南省 西双版纳傣族自治州 景洪市", "云南", "西双版纳"),
    ("贵州省 黔东南苗族侗族自治州 凯里市", "贵州", "黔东南"),
    ("青海省 海西蒙古族藏族自治州 德令哈市", "青海", "海西"),
    ("黑龙江省 大兴安岭地区 加格达奇区", "黑龙江", "大兴安岭"),
    # special administrative regions and 台湾
    ("香港特别行政区 九龙 油尖旺区 弥敦道", "香港", "香港"),
    ("澳门特别行政区 氹仔 花城公园", "澳门", "澳门"),
    ("台湾省 台北市 中正区", "台湾", "台北"),
    # leading words
    ("中国 广东省 广州市 天河区 天河路", "广东", "广州"),
    ("收货地址：福建省厦门市思明区", "福建", "厦门"),
    # no province: a well-known city or autonomous prefecture gives it, another city does not
    ("杭州市西湖区文三路", "浙江", "杭州"),
    ("深圳南山区科技园", "广东", "深圳"),
    ("海南藏族自治州 共和县", "青海", "海南"),
    ("义乌市稠州北路", None, "义乌"),
    # a province without a city
    ("浙江省 西湖区 文三路", "浙江", None),
]

UNREADABLE = [None, "", "   ", "\u3000", "未知", "abc 123", "南京西路1号", "北京东路8号",
              "中山路12号", "河北区", "x"]


@pytest.mark.parametrize(("text", "province", "city"), ADDRESSES)
def test_split_address(text, province, city):
    assert split_address(text) == (province, city)


@pytest.mark.parametrize("text", UNREADABLE)
def test_blank_missing_or_unreadable_addresses_give_nothing(text):
    assert split_address(text) == (None, None)


@pytest.mark.parametrize("value", [np.nan, pd.NA, 123, b"\xe6\xb5\x99"])
def test_values_that_are_not_text_give_nothing(value):
    assert split_address(value) == (None, None)


def test_the_table_covers_every_autonomous_region_and_municipality():
    provinces = {province for _, province, _ in ADDRESSES}
    assert {"内蒙古", "广西", "西藏", "宁夏", "新疆", "北京", "上海", "天津", "重庆", "香港",
            "澳门"} <= provinces
    assert provinces - {None} <= set(PROVINCES)


AUTONOMOUS_PREFECTURES = set(
    "延边 恩施 湘西 阿坝 甘孜 凉山 黔西南 黔东南 黔南 楚雄 红河 文山 西双版纳 大理 德宏 怒江 迪庆 "
    "临夏 甘南 海北 黄南 海南 果洛 玉树 海西 昌吉 博尔塔拉 巴音郭楞 克孜勒苏 伊犁".split())


def test_well_known_cities_and_all_autonomous_prefectures_give_their_province():
    assert set(CITY_PROVINCES.values()) <= set(PROVINCES)
    assert len(AUTONOMOUS_PREFECTURES) == 30 and AUTONOMOUS_PREFECTURES <= set(CITY_PROVINCES)
    assert len(set(CITY_PROVINCES) - AUTONOMOUS_PREFECTURES) >= 30
    for city, province in CITY_PROVINCES.items():
        suffix = "州" if city in AUTONOMOUS_PREFECTURES else "市"
        assert split_address(f"{city}{suffix} 某某区 某某路") == (province, city)
        assert split_address(f"{city}{suffix}某某区") == (province, city)


def generated_addresses(n: int, seed: int) -> tuple[list, list]:
    """``n`` addresses in the forms platforms export, with the expected (province, city)."""
    rng = np.random.default_rng(seed)
    places = [  # (province spellings, province, [(city spellings, city)], districts)
        (("浙江省", "浙江"), "浙江", [(("杭州市", "杭州"), "杭州"), (("丽水市",), "丽水"),
                                   (("温州市", "温州"), "温州")], ("西湖区", "莲都区", "鹿城区")),
        (("广东省", "广东"), "广东", [(("深圳市", "深圳"), "深圳"), (("梅州市",), "梅州")],
         ("南山区", "梅江区")),
        (("广西壮族自治区", "广西"), "广西", [(("南宁市", "南宁"), "南宁"), (("百色市",), "百色")],
         ("青秀区", "右江区")),
        (("新疆维吾尔自治区", "新疆"), "新疆",
         [(("乌鲁木齐市", "乌鲁木齐"), "乌鲁木齐"), (("巴音郭楞蒙古自治州",), "巴音郭楞"),
          (("阿克苏地区",), "阿克苏")], ("天山区", "库尔勒市", "阿克苏市")),
        (("内蒙古自治区", "内蒙古"), "内蒙古",
         [(("呼和浩特市", "呼和浩特"), "呼和浩特"), (("锡林郭勒盟",), "锡林郭勒")],
         ("赛罕区", "锡林浩特市")),
        (("西藏自治区", "西藏"), "西藏", [(("拉萨市", "拉萨"), "拉萨"), (("阿里地区",), "阿里")],
         ("城关区", "噶尔县")),
        (("宁夏回族自治区", "宁夏"), "宁夏", [(("银川市", "银川"), "银川"), (("固原市",), "固原")],
         ("兴庆区", "原州区")),
        (("湖北省", "湖北"), "湖北", [(("恩施土家族苗族自治州", "恩施州"), "恩施"),
                                   (("武汉市", "武汉"), "武汉"), (("神农架林区",), "神农架")],
         ("恩施市", "洪山区", "松柏镇")),
        (("吉林省", "吉林"), "吉林", [(("吉林市",), "吉林"), (("延边朝鲜族自治州",), "延边")],
         ("船营区", "延吉市")),
        (("北京市", "北京"), "北京", [(("北京市", ""), "北京")], ("朝阳区", "海淀区")),
        (("上海市", "上海"), "上海", [(("上海市", ""), "上海")], ("浦东新区", "黄浦区")),
        (("重庆市", "重庆"), "重庆", [(("重庆市", ""), "重庆")], ("渝中区", "万州区")),
        (("香港特别行政区", "香港"), "香港", [(("",), "香港")], ("九龙", "中西区")),
    ]
    separators = [" ", " ", "", "\u3000", "，", ",", "/", " , ", "  "]
    texts: list = []
    expected: list = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.03:
            texts.append([None, np.nan, "", "  ", "未知", "南京西路8号"][rng.integers(6)])
            expected.append((None, None))
            continue
        province_spellings, province, cities, districts = places[rng.integers(len(places))]
        city_spellings, city = cities[rng.integers(len(cities))]
        separator = separators[rng.integers(len(separators))]
        city_text = city_spellings[rng.integers(len(city_spellings))]
        province_text = province_spellings[rng.integers(len(province_spellings))]
        if separator == "" and province_text == province and city not in CITY_PROVINCES:
            city_text = city_spellings[0]  # 浙江丽水…: glued, a bare unknown city is not read
        street = f"{['文三路', '解放北路', '民族大道', '中山街'][rng.integers(4)]}{rng.integers(1, 999)}号"
        if rng.random() < 0.15 and city_text.endswith(("市", "州", "盟", "地区")) \
                and province not in ("北京", "上海", "重庆"):
            parts = [city_text, districts[rng.integers(len(districts))], street]  # no province
            province = CITY_PROVINCES.get(city)
        else:
            parts = [province_text, city_text, districts[rng.integers(len(districts))], street]
        text = separator.join(part for part in parts if part)
        if rng.random() < 0.05:
            text = "中国 " + text
        texts.append(text)
        expected.append((province, city))
    return texts, expected


def test_generated_addresses_are_read_as_generated():
    texts, expected = generated_addresses(3000, seed=1)
    assert [split_address(text) for text in texts] == expected


@pytest.mark.parametrize("dtype", [object, STRING_DTYPE, "category"])
def test_split_addresses_equals_split_address_on_each_value(dtype):
    texts, _ = generated_addresses(4000, seed=2)
    rng = np.random.default_rng(3)
    index = pd.Index(rng.permutation(len(texts)) * 10 + 7, name="row")
    values = pd.Series(texts, index=index, dtype=dtype)
    frame = split_addresses(values)
    assert list(frame.columns) == ["province", "city"]
    assert frame.index.equals(index)
    assert frame["province"].dtype == STRING_DTYPE and frame["city"].dtype == STRING_DTYPE
    scalar = [split_address(text) if isinstance(text, str) else (None, None) for text in texts]
    expected = pd.DataFrame(scalar, columns=["province", "city"], index=index, dtype=object)
    pd.testing.assert_frame_equal(frame.astype(object).where(frame.notna(), None), expected)


def test_split_addresses_of_no_rows_and_of_only_missing_values():
    empty = split_addresses(pd.Series([], dtype=object))
    assert list(empty.columns) == ["province", "city"] and len(empty) == 0
    missing = split_addresses(pd.Series([None, np.nan, "", "  "], index=list("abcd")))
    assert list(missing.index) == list("abcd")
    assert missing.isna().all().all()


def test_split_addresses_reads_each_place_once(monkeypatch):
    """Addresses that differ only in the street (or are repeated) cost one read."""
    calls: list[str] = []
    read = addresses._split_key

    def counting(key):
        calls.append(key)
        return read(key)

    monkeypatch.setattr(addresses, "_split_key", counting)
    streets = [f"文三路{number}号{number % 7}栋" for number in range(500)]
    values = pd.Series([f"浙江省 杭州市 西湖区 {street}" for street in streets]
                       + [f"北京市朝阳区{street}" for street in streets] * 2)
    frame = split_addresses(values)
    assert sorted(calls) == ["北京市", "浙江省 杭州市"]
    assert frame.iloc[0].tolist() == ["浙江", "杭州"] and frame.iloc[-1].tolist() == ["北京", "北京"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(list("浙江省杭州市西湖区北京吉林海南藏族自治州县旗路 ，/\u3000")),
            max_size=40),
    st.text(max_size=20)), max_size=30))
def test_any_text_gives_known_provinces_and_the_same_answer_row_by_row(texts):
    scalar = [split_address(text) for text in texts]
    for province, city in scalar:
        assert province is None or province in PROVINCES
        assert city is None or (isinstance(city, str) and len(city) >= 2)
    frame = split_addresses(pd.Series(texts, dtype=object))
    assert [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)] \
        == scalar
