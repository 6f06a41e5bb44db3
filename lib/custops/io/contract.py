"""The data contract: tables, columns, header and value spellings, file names, default time zone.

The one place to extend when a new header, value spelling or file name turns up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORIES",
    "EVENT_TYPES",
    "ORDER_CHANNELS",
    "DATABASE_SUFFIXES",
    "DEFAULT_TZ",
    "FALSE_TOKENS",
    "MAIN_TIME_COLUMN",
    "NULL_TOKENS",
    "STRING_DTYPE",
    "TABLE_FILE_STEMS",
    "TABLE_NAMES",
    "TABLE_SCHEMAS",
    "TABLE_SUFFIXES",
    "TRUE_TOKENS",
    "UNIQUE_KEYS",
    "ColumnSpec",
]


DEFAULT_TZ = "Asia/Shanghai"
TABLE_NAMES = ("orders", "customers", "events", "touches")


try:  # pandas >= 2.3: the NaN-based string dtype that is pandas 3's default ``str``
    STRING_DTYPE: Any = pd.StringDtype(na_value=np.nan)
except TypeError:  # pragma: no cover - pandas 2.2
    STRING_DTYPE = pd.StringDtype()


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract.

    Parameters
    ----------
    name : str
        Column name after loading.
    kind : str
        How values are parsed: ``"id"``, ``"time"``, ``"amount"``, ``"integer"``, ``"boolean"``,
        ``"category"``, ``"gender"``, ``"region"`` or ``"text"``.
    required : bool
        The table cannot be used without this column; blank values reject the row.
    synonyms : tuple of str
        Other headers read as this column. Headers are compared after removing case, spaces,
        underscores, hyphens, dots and a unit in brackets, so ``"Customer ID"``, ``"customerId"``
        and ``"customer_id"`` are the same header, and ``"金额(元)"`` is ``"金额"``.
    values : mapping of str to tuple of str
        Canonical value → other spellings (compared the same way as headers). Values not listed
        are kept as they are.
    """

    name: str
    kind: str
    required: bool = False
    synonyms: tuple[str, ...] = ()
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_CUSTOMER_ID_SYNONYMS = (
    "客户ID", "用户ID", "会员ID", "会员编号", "客户编号", "用户编号", "客户编码", "会员卡号",
    "客户号", "用户号", "买家ID", "顾客ID", "customer", "userid", "memberid", "buyerid", "custid",
    "clientid", "uid",
)


TRUE_TOKENS = ("1", "1.0", "true", "t", "yes", "y", "是", "对", "有", "√", "✓")
FALSE_TOKENS = ("0", "0.0", "false", "f", "no", "n", "否", "不", "没有", "×", "✗")


NULL_TOKENS = (
    "", "null", "none", "nan", "nat", "na", "n/a", "#n/a", "<na>", "-", "--", "—", "未知", "不详",
    "无", "空", "(空)", "（空）", "unknown",
)


def _consent(channel_en: str, channel_zh: str) -> ColumnSpec:
    return ColumnSpec(
        f"consent_{channel_en}",
        "boolean",
        synonyms=(
            f"{channel_zh}授权", f"允许{channel_zh}", f"是否允许{channel_zh}", f"{channel_zh}同意",
            f"{channel_en}consent", f"{channel_en}optin",
        ),
    )


TABLE_SCHEMAS: dict[str, tuple[ColumnSpec, ...]] = {
    "orders": (
        ColumnSpec("customer_id", "id", True, _CUSTOMER_ID_SYNONYMS),
        ColumnSpec("order_id", "id", True, (
            "订单号", "订单编号", "订单ID", "订单编码", "单号", "orderno", "ordernumber", "order",
        )),
        ColumnSpec("order_time", "time", True, (
            "下单时间", "支付时间", "订单时间", "创建时间", "付款时间", "成交时间", "交易时间",
            "下单日期", "支付日期", "订单日期", "付款日期", "日期", "时间", "orderdate",
            "orderdatetime", "createdat", "createtime", "paytime", "paidat", "paymenttime",
            "purchasetime", "purchasedate", "date", "datetime", "time", "timestamp",
        )),
        ColumnSpec("amount", "amount", True, (
            "实付金额", "订单金额", "金额", "支付金额", "实付", "付款金额", "成交金额", "实收金额",
            "销售额", "订单总额", "paidamount", "orderamount", "totalamount", "payment",
            "paymentamount", "total", "sales", "gmv", "revenue",
        )),
        ColumnSpec("channel", "category", False, (
            "渠道", "下单渠道", "销售渠道", "平台", "saleschannel", "platform",
        ), values={
            "app": ("应用", "手机app"),
            "mini_program": ("小程序", "微信小程序", "miniprogram", "mini program", "mp"),
            "web": ("官网", "网站", "网页", "pc", "h5", "website"),
            "store": ("门店", "线下", "线下门店", "实体店", "offline"),
        }),
        ColumnSpec("category", "category", False, (
            "品类", "类目", "商品类目", "商品品类", "分类", "productcategory",
        ), values={
            "fresh": ("生鲜",), "snacks": ("零食", "休闲零食"), "beauty": ("美妆", "美妆个护", "个护"),
            "home": ("家居", "家居日用", "日用"), "apparel": ("服饰", "服装"),
            "digital": ("数码", "3c", "数码电子"), "baby": ("母婴",),
        }),
        ColumnSpec("quantity", "integer", False, (
            "数量", "件数", "商品数量", "购买数量", "qty", "items", "units",
        )),
        ColumnSpec("is_refund", "boolean", False, (
            "是否退款", "退款", "退款标记", "退款标识", "refund", "refunded", "refundflag",
        )),
    ),
    "customers": (
        ColumnSpec("customer_id", "id", True, _CUSTOMER_ID_SYNONYMS),
        ColumnSpec("signup_time", "time", False, (
            "注册时间", "注册日期", "开卡时间", "入会时间", "创建时间", "signupdate", "registertime",
            "registrationdate", "registeredat", "createdat", "joindate", "joinedat",
        )),
        ColumnSpec("gender", "gender", False, ("性别", "sex"), values={
            "M": ("男", "男性", "男士", "先生", "m", "male", "man"),
            "F": ("女", "女性", "女士", "f", "female", "woman"),
        }),
        ColumnSpec("birth_year", "integer", False, ("出生年份", "出生年", "yearofbirth")),
        ColumnSpec("province", "region", False, ("省份", "省", "所在省份", "所在省", "state")),
        ColumnSpec("city", "region", False, ("城市", "所在城市", "市")),
        ColumnSpec("city_tier", "integer", False, ("城市等级", "城市级别", "城市线级", "tier"),
                   values={"1": ("一线",), "2": ("二线",), "3": ("三线",), "4": ("四线",),
                           "5": ("五线",)}),
        ColumnSpec("occupation", "text", False, ("职业", "job", "profession")),
        ColumnSpec("acquisition_channel", "category", False, (
            "获客渠道", "来源渠道", "注册渠道", "来源", "渠道", "source", "signupchannel",
            "acquisition",
        ), values={
            "organic": ("自然", "自然流量"), "search_ads": ("搜索广告", "搜索"), "douyin": ("抖音",),
            "wechat_referral": ("微信推荐", "老带新", "好友推荐"),
            "offline_store": ("线下门店", "门店", "线下"), "kol": ("达人", "网红"),
        }),
        _consent("push", "推送"),
        _consent("sms", "短信"),
        _consent("wecom", "企微"),
        _consent("email", "邮件"),
        _consent("phone", "电话"),
        ColumnSpec("phone", "text", False, (
            "手机号", "手机", "手机号码", "电话", "联系电话", "mobile", "phonenumber", "tel",
        )),
        # Contact keys of the channels (personal data: only the channel exports keep them in
        # full, see docs/security.md). WeCom: the external contact's userid (外部联系人 userid)
        # and the staff member who owns the contact (跟进员工 userid).
        ColumnSpec("email", "text", False, (
            "邮箱", "电子邮箱", "邮件地址", "邮箱地址", "电子邮件", "emailaddress", "mail",
        )),
        ColumnSpec("wecom_external_id", "text", False, (
            "外部联系人ID", "外部联系人userid", "企微外部联系人ID", "企微ID", "企业微信ID",
            "externaluserid", "externalcontactid", "wecomid", "wecomexternalid",
        )),
        ColumnSpec("wecom_owner", "text", False, (
            "跟进员工", "添加人", "所属员工", "企微员工", "负责员工", "跟进人", "owner",
            "followuser", "wecomowner", "staffid",
        )),
        ColumnSpec("push_token", "text", False, (
            "推送令牌", "设备令牌", "推送ID", "设备ID", "registrationid", "devicetoken",
            "pushtoken", "deviceid",
        )),
    ),
    "events": (
        ColumnSpec("customer_id", "id", True, _CUSTOMER_ID_SYNONYMS),
        ColumnSpec("event_time", "time", True, (
            "事件时间", "行为时间", "发生时间", "时间", "time", "timestamp", "eventat", "occurredat",
        )),
        ColumnSpec("event_type", "category", True, (
            "事件类型", "行为类型", "事件", "类型", "event", "type", "action",
        ), values={
            "visit": ("访问", "浏览"), "check_in": ("签到", "checkin"), "cart_add": (
                "加购", "加入购物车", "addtocart"), "share": ("分享",), "referral": ("推荐", "邀请"),
            "review": ("评价", "评论"), "complaint": ("投诉",),
        }),
        ColumnSpec("referred_customer_id", "id", False, (
            "被推荐客户ID", "被推荐人ID", "被推荐用户ID", "被邀请人ID", "referreduserid", "referredid",
        )),
    ),
    "touches": (
        ColumnSpec("customer_id", "id", True, _CUSTOMER_ID_SYNONYMS),
        ColumnSpec("campaign_id", "id", True, (
            "活动ID", "活动编号", "营销活动ID", "campaign", "activityid",
        )),
        ColumnSpec("channel", "category", False, ("渠道", "触达渠道", "发送渠道"), values={
            "push": ("推送", "app推送", "apppush"), "sms": ("短信",),
            "wecom": ("企微", "企业微信"), "email": ("邮件", "邮箱", "e-mail"),
            "phone": ("电话", "外呼"),
        }),
        ColumnSpec("sent_time", "time", True, (
            "发送时间", "触达时间", "推送时间", "时间", "sendtime", "sentat", "time",
        )),
        ColumnSpec("group", "category", True, ("分组", "组别", "实验分组", "testgroup", "variant",
                                                 "arm"), values={
            "treatment": ("实验组", "处理组", "干预组", "test"),
            "control": ("对照组", "控制组", "holdout"),
        }),
        ColumnSpec("converted", "boolean", False, ("是否转化", "转化", "conversion", "isconverted")),
        ColumnSpec("revenue", "amount", False, ("收入", "转化金额", "成交金额", "amount")),
    ),
}


def _vocabulary(table: str, column: str) -> tuple[str, ...]:
    spec = next(s for s in TABLE_SCHEMAS[table] if s.name == column)
    return tuple(spec.values)


#: The contract's value vocabularies (the only place they are listed; labels translate them).
ORDER_CHANNELS = _vocabulary("orders", "channel")
CATEGORIES = _vocabulary("orders", "category")
EVENT_TYPES = _vocabulary("events", "event_type")

MAIN_TIME_COLUMN = {
    "orders": "order_time", "customers": "signup_time", "events": "event_time",
    "touches": "sent_time",
}


UNIQUE_KEYS = {"orders": ("order_id", "is_refund"), "customers": ("customer_id",)}


TABLE_FILE_STEMS = {
    "orders": ("orders", "order", "订单"),
    "customers": ("customers", "customer", "客户", "会员"),
    "events": ("events", "event", "事件", "行为"),
    "touches": ("touches", "touch", "触达", "营销触达"),
}


TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".log", ".dat", ".xlsx", ".xlsm", ".parquet", ".pq")
DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb")
