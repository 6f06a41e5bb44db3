"""Platform export shapes for the preset tests: seeded generators with their own ground truth.

Each generator writes one export, shaped like a real platform's file, into a folder and returns
an :class:`Expected` whose totals are computed from the generator's own records (integer cents),
never by the loader: net revenue with refunds netted, purchase orders, refunds, customers, and
the source rows that must be set aside (per preset rule) or rejected (per reason).

Shapes (the columns and value spellings of the real files, with their usual traps):

- :func:`online_retail` — UCI "Online Retail II": one row per invoice line, US dates, ``C…``
  cancellation invoices, ``A…`` bad-debt adjustments, non-product stock codes, guests.
- :func:`taobao` — Taobao/Tmall seller 订单报表: GBK, ``="3345…"`` order numbers, statuses,
  partial and full refunds in 退款金额, addresses to derive province and city from.
- :func:`shopify` — Shopify orders export: one row per line item, order fields on the first.
- :func:`transaction_log` — the CDNOW master file: ``customer yyyymmdd quantity amount``.
- :func:`sample_with_contacts` — the shipped sample whose customers table carries real-looking
  phones, e-mails, WeCom ids and owners (:data:`FULL_CONTACT` finds them in any file read
  with :func:`file_text`): for the exports and personal-data tests.

Counting conventions the expectations assume (the tests check them against the loader):

- A source row is *set aside* by the first preset rule it matches, before any row check, so an
  adjustment row with no customer counts under its rule, not as ``missing customer_id``
  (``docs/data.md``, *The mapping language*: rules run before the row checks, one rule a row).
- Rows are counted as read from the file: lines for line-item exports, where rules and checks
  apply line by line (after order-level cells are copied to every line of the order).
- A refund shares its order's id; a fully refunded order is one refund row of amount 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

__all__ = [
    "FULL_CONTACT",
    "Expected",
    "file_text",
    "online_retail",
    "sample_with_contacts",
    "shopify",
    "taobao",
    "taobao_excel_saved",
    "transaction_log",
]


@dataclass
class Expected:
    """What loading an export must give, from the generator's ground truth.

    Attributes
    ----------
    path : Path
        The export file written.
    rows_read : int
        Data rows in the file (lines for line-item exports; header and blank lines excluded).
    set_aside : dict
        Preset rule name → source rows it sets aside (first matching rule wins).
    rejected : dict
        Reject reason → source rows rejected (after the rules).
    net_revenue_cents : int
        Sum of kept amounts with refunds netted, in cents.
    orders : int
        Distinct order ids kept (a sale and its refund share an id; a cancellation invoice has
        an id of its own).
    purchases : int
        Rows of the orders table with ``is_refund`` false: the orders kept, less those refunded
        in full (a fully refunded order is one refund row of amount 0, not a sale).
    refunds : int
        Rows with ``is_refund`` true: partial and full refunds, cancellation invoices.
    customers : int
        Distinct customer ids among the kept orders.
    customer_regions : dict
        Customer id → (province, city), short names as the contract has them, where the export
        has an address.
    details : dict
        Anything else a test may want (order ids, the refunded orders, …).
    """

    path: Path
    rows_read: int
    set_aside: dict[str, int]
    rejected: dict[str, int]
    net_revenue_cents: int
    orders: int
    purchases: int
    refunds: int
    customers: int
    customer_regions: dict[str, tuple[str, str]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def net_revenue(self) -> float:
        return self.net_revenue_cents / 100

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.set_aside.values()) - sum(self.rejected.values())


def _cents(value: float) -> int:
    return int(round(value * 100))


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _csv_line(fields: Sequence[str], raw: Iterable[int] = ()) -> str:
    """One CSV line; the fields at positions ``raw`` are written as they are (no quoting)."""
    raw = set(raw)
    out = []
    for index, value in enumerate(fields):
        if index in raw:
            out.append(value)
            continue
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow([value])
        out.append(buffer.getvalue())
    return ",".join(out)


def _random_times(rng: np.random.Generator, n: int, start: dt.datetime, end: dt.datetime,
                  *, whole_minutes: bool = False) -> list[dt.datetime]:
    span = int((end - start).total_seconds())
    seconds = np.sort(rng.integers(0, span, size=n))
    if whole_minutes:
        seconds = seconds - seconds % 60
    return [start + dt.timedelta(seconds=int(s)) for s in seconds]


# --- UCI Online Retail II ------------------------------------------------------------------

ONLINE_RETAIL_COLUMNS = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate",
                         "Price", "Customer ID", "Country"]

# Stock codes that are not products (the dataset's own codes and descriptions).
NON_PRODUCT_CODES = {
    "POST": ("POSTAGE", 1800),
    "M": ("Manual", 295),
    "D": ("Discount", 1500),
    "BANK CHARGES": ("Bank Charges", 1500),
    "DOT": ("DOTCOM POSTAGE", 11689),
    "C2": ("CARRIAGE", 5000),
    "AMAZONFEE": ("AMAZON FEE", 11586),
}

_PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 255),
    ("71053", "WHITE METAL LANTERN", 339),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", 275),
    ("84029G", "KNITTED UNION FLAG HOT WATER BOTTLE", 339),
    ("22752", "SET 7 BABUSHKA NESTING BOXES", 765),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 425),
    ("22633", "HAND WARMER UNION JACK", 185),
    ("22423", "REGENCY CAKESTAND 3 TIER", 1275),
    ("47566", "PARTY BUNTING", 495),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 169),
    ("20725", "LUNCH BAG RED RETROSPOT", 165),
    ("22197", "SMALL POPCORN HOLDER", 85),
    ("21212", "PACK OF 72 RETROSPOT CAKE CASES", 55),
    ("22086", "PAPER CHAIN KIT 50'S CHRISTMAS ", 295),
    ("85099B", "JUMBO BAG RED RETROSPOT", 208),
    ("23084", "RABBIT NIGHT LIGHT", 179),
    ("22960", "JAM MAKING SET WITH JARS", 425),
    ("21034", "REX CASH+CARRY JUMBO SHOPPER", 95),
    ("79323W", "WHITE CHERRY LIGHTS", 675),
    ("90200A", 'BLUE SWEETHEART BRACELET, "LOVE"', 425),  # comma and quotes: must be quoted
]

_COUNTRIES = ["United Kingdom"] * 8 + ["Germany", "France", "EIRE", "Netherlands", "Spain",
                                       "Australia", "Switzerland", "Norway"]


def online_retail(folder: str | Path, *, seed: int = 7, invoices: int = 420,
                  customers: int = 160, fmt: str = "csv",
                  filename: str | None = None) -> Expected:
    """Write a UCI "Online Retail II" shaped file (one row per invoice line).

    Columns ``Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID,
    Country``; ``InvoiceDate`` as ``12/20/2010 5:01`` (US month/day, hour without a leading
    zero) in CSV, real dates in xlsx; ``Customer ID`` as ``12346.0`` or blank (guests).

    Purchase invoices have 1–8 lines; some carry a non-product line (POST, M, C2, BANK
    CHARGES, DOT for guests). About one purchase in twelve of a known customer is later
    cancelled in part: a ``C…`` invoice of the same customer with negative quantities of some
    of its lines (sometimes with a ``D`` discount line). Three ``A…`` bad-debt adjustments
    (stock code ``B``, blank customer) and ``AMAZONFEE`` lines are there too, and guest lines with
    a negative quantity and price 0 (stock written off), as in the real file.

    Set aside by rule: ``adjustments`` (invoice starts with ``A``), then ``non-product`` (the
    stock codes in :data:`NON_PRODUCT_CODES`). Rejected: ``missing customer_id`` (guests).
    Amount = Quantity × Price; an invoice is one order, a ``C`` invoice one refund.

    Parameters
    ----------
    fmt : {"csv", "xlsx"}
        CSV in UTF-8 (the Kaggle copy's shape), or one sheet ``Year 2010-2011`` of a workbook
        with real date cells and float customer ids.
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    customer_ids = list(range(12346, 12346 + customers))
    country_of = {c: _COUNTRIES[int(rng.integers(len(_COUNTRIES)))] for c in customer_ids}
    times = _random_times(rng, invoices, dt.datetime(2009, 12, 1, 7, 45),
                          dt.datetime(2011, 12, 9, 12, 50), whole_minutes=True)

    # (invoice, code, description, quantity, time, price_cents, customer or None, country)
    lines: list[tuple[str, str, str, int, dt.datetime, int, int | None, str]] = []
    number = 489434
    cancellations: list[tuple[dt.datetime, int, list[tuple[str, str, int, int]]]] = []
    for when in times:
        guest = rng.random() < 0.15
        customer = None if guest else customer_ids[int(rng.integers(len(customer_ids)))]
        country = "United Kingdom" if guest else country_of[customer]
        invoice = str(number)
        number += 1
        product_lines = []
        for index in rng.choice(len(_PRODUCTS), size=int(rng.integers(1, 9)), replace=False):
            code, description, price = _PRODUCTS[int(index)]
            quantity = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 24, 48]))
            if rng.random() < 0.03:
                price = 0  # free samples have price 0 in the real file
            product_lines.append((code, description, quantity, price))
            lines.append((invoice, code, description, quantity, when, price, customer, country))
        roll = rng.random()
        if guest and roll < 0.3:
            code = "DOT"
        elif not guest and roll < 0.12:
            code = str(rng.choice(["POST", "POST", "M", "C2", "BANK CHARGES"]))
        else:
            code = ""
        if code:
            description, price = NON_PRODUCT_CODES[code]
            price += int(rng.integers(0, 500)) if code in ("DOT", "M") else 0
            lines.append((invoice, code, description, 1, when, price, customer, country))
        if not guest and rng.random() < 0.085:
            later = when + dt.timedelta(days=int(rng.integers(1, 40)),
                                        minutes=int(rng.integers(1, 600)))
            take = max(1, int(rng.integers(1, len(product_lines) + 1)))
            returned = []
            for code, description, quantity, price in product_lines[:take]:
                back = int(rng.integers(1, quantity + 1))
                returned.append((code, description, -back, price))
            if rng.random() < 0.3:
                returned.append(("D", "Discount", -1, int(rng.integers(100, 2000))))
            cancellations.append((later, customer, returned))
        if rng.random() < 0.02:  # stock written off: guest line, negative quantity, price 0
            code, description, _price = _PRODUCTS[int(rng.integers(len(_PRODUCTS)))]
            lines.append((str(number), code, "damaged", -int(rng.integers(1, 30)), when, 0,
                          None, "United Kingdom"))
            number += 1

    for later, customer, returned in cancellations:
        invoice = f"C{number}"
        number += 1
        for code, description, quantity, price in returned:
            lines.append((invoice, code, description, quantity, later, price, customer,
                          country_of[customer]))
    adjustment_times = _random_times(rng, 3, dt.datetime(2011, 8, 1), dt.datetime(2011, 8, 31),
                                     whole_minutes=True)
    for index, when in enumerate(adjustment_times):
        price = 1106206 if index == 0 else -1106206
        lines.append((f"A{563185 + index}", "B", "Adjust bad debt", 1, when, price, None,
                      "United Kingdom"))
    for when in _random_times(rng, 4, dt.datetime(2010, 1, 1), dt.datetime(2011, 11, 30),
                              whole_minutes=True):
        description, price = NON_PRODUCT_CODES["AMAZONFEE"]
        lines.append((f"C{number}", "AMAZONFEE", description, -1, when,
                      price + int(rng.integers(0, 9000)), None, "United Kingdom"))
        number += 1
    lines.sort(key=lambda line: (line[4], line[0]))

    # Ground truth, line by line: first the rules, then the row checks.
    set_aside = {"adjustments": 0, "non-product": 0}
    rejected = {"missing customer_id": 0}
    kept_orders: set[str] = set()
    kept_refunds: set[str] = set()
    kept_customers: set[int] = set()
    invoice_lines: dict[str, list[str]] = {}
    net = 0
    for invoice, code, _description, quantity, _when, price, customer, _country in lines:
        invoice_lines.setdefault(invoice, []).append(code)
        if invoice.startswith("A"):
            set_aside["adjustments"] += 1
        elif code in NON_PRODUCT_CODES:
            set_aside["non-product"] += 1
        elif customer is None:
            rejected["missing customer_id"] += 1
        else:
            net += quantity * price
            kept_customers.add(customer)
            (kept_refunds if invoice.startswith("C") else kept_orders).add(invoice)
    kept = kept_orders | kept_refunds

    name = filename or f"online_retail_II.{fmt}"
    path = folder / name
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(ONLINE_RETAIL_COLUMNS)
            for invoice, code, description, quantity, when, price, customer, country in lines:
                writer.writerow([
                    invoice, code, description, quantity,
                    f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}",
                    _price_text(price), "" if customer is None else f"{customer}.0", country])
    elif fmt == "xlsx":
        import pandas as pd

        frame = pd.DataFrame(
            [(invoice, code, description, quantity, when, price / 100,
              float("nan") if customer is None else float(customer), country)
             for invoice, code, description, quantity, when, price, customer, country in lines],
            columns=ONLINE_RETAIL_COLUMNS)
        frame.to_excel(path, sheet_name="Year 2010-2011", index=False)
    else:
        raise ValueError(f"fmt must be 'csv' or 'xlsx', got {fmt!r}")
    return Expected(
        path=path,
        rows_read=len(lines),
        set_aside=set_aside,
        rejected=rejected,
        net_revenue_cents=net,
        orders=len(kept),
        purchases=len(kept_orders),
        refunds=len(kept_refunds),
        customers=len(kept_customers),
        details={"invoices": len(invoice_lines), "kept_invoices": sorted(kept)},
    )


def _price_text(cents: int) -> str:
    """Prices as the dataset's CSV copies write them: ``2.55``, ``2.1``, ``18.0``, ``-11062.06``."""
    return repr(cents / 100)


# --- Taobao / Tmall 订单报表 -----------------------------------------------------------------

TAOBAO_COLUMNS = [
    "订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费", "买家支付积分",
    "总金额", "返点积分", "买家实际支付金额", "买家实际支付积分", "订单状态", "买家留言",
    "收货人姓名", "收货地址", "运送方式", "联系电话", "联系手机", "订单创建时间", "订单付款时间",
    "宝贝标题", "宝贝种类", "物流单号", "物流公司", "订单备注", "宝贝总数量", "店铺Id",
    "店铺名称", "订单关闭原因", "是否手机订单", "退款金额",
]

TAOBAO_PAID_STATUSES = ["交易成功", "卖家已发货，等待买家确认", "买家已付款，等待卖家发货"]

# (address as Taobao writes it, province and city as the contract keeps them)
_TAOBAO_PLACES = [
    ("浙江省 杭州市 西湖区 文三路478号华星时代广场", "浙江", "杭州"),
    ("浙江省 宁波市 鄞州区 天童南路588号", "浙江", "宁波"),
    ("广东省 深圳市 南山区 科技园南区高新南七道", "广东", "深圳"),
    ("广东省 广州市 天河区 天河路385号", "广东", "广州"),
    ("江苏省 南京市 鼓楼区 中山北路30号", "江苏", "南京"),
    ("上海 上海市 浦东新区 张杨路500号", "上海", "上海"),
    ("北京 北京市 朝阳区 建国路87号", "北京", "北京"),
    ("广西壮族自治区 南宁市 青秀区 民族大道136号", "广西", "南宁"),
    ("新疆维吾尔自治区 乌鲁木齐市 天山区 解放北路", "新疆", "乌鲁木齐"),
    ("内蒙古自治区 呼和浩特市 新城区 新华大街", "内蒙古", "呼和浩特"),
    ("四川省 成都市 武侯区 人民南路四段", "四川", "成都"),
    ("湖北省 武汉市 洪山区 珞喻路1037号", "湖北", "武汉"),
    ("山东省 青岛市 市南区 香港中路", "山东", "青岛"),
    ("宁夏回族自治区 银川市 兴庆区 解放西街", "宁夏", "银川"),
]

_TAOBAO_NICKS = ["小鱼儿", "糖糖", "阿狸", "jenny_wang", "大白", "木子李", "晴天", "lucky",
                 "喵小姐", "老张", "tb", "cc", "豆豆妈", "阳光男孩", "momo"]
_TAOBAO_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_TAOBAO_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明"]
_TAOBAO_ITEMS = [
    ("2024新款夏季碎花连衣裙女,显瘦中长款", 15900),  # a comma in the title: quoted
    ("纯棉短袖T恤 男 宽松 圆领", 5900),
    ("家用304不锈钢保温杯 500ml", 8900),
    ("无线蓝牙耳机 降噪 超长续航", 19900),
    ("婴儿湿巾 80抽*6包", 3990),
    ("新疆阿克苏冰糖心苹果 5斤装", 4680),
    ("补水保湿面膜 10片装", 6900),
    ("办公室午睡枕 \"记忆棉\"", 4500),  # quotes in the title
]
_TAOBAO_CARRIERS = ["中通快递", "圆通速递", "韵达快递", "申通快递", "顺丰速运", "极兔速递"]


def _taobao_records(rng: np.random.Generator, orders: int) -> list[dict[str, Any]]:
    buyers = []
    for index in range(orders // 3):
        nick = _TAOBAO_NICKS[int(rng.integers(len(_TAOBAO_NICKS)))]
        nick = f"tb{rng.integers(10**6, 10**7)}{index:03d}" if nick == "tb" else (
            f"{nick}{index:03d}")
        place = _TAOBAO_PLACES[int(rng.integers(len(_TAOBAO_PLACES)))]
        name = (_TAOBAO_SURNAMES[int(rng.integers(len(_TAOBAO_SURNAMES)))]
                + "".join(rng.choice(_TAOBAO_GIVEN, size=int(rng.integers(1, 3)))))
        phone = f"1{rng.choice([3, 5, 7, 8, 9])}{rng.integers(0, 10**9):09d}"
        buyers.append((nick, name, place, phone))
    created = _random_times(rng, orders, dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 30))
    ids = rng.choice(10**15, size=orders, replace=False)
    statuses = ["交易成功"] * 70 + ["交易关闭"] * 10 + ["等待买家付款"] * 5 + (
        ["卖家已发货，等待买家确认"] * 8 + ["买家已付款，等待卖家发货"] * 7)
    records = []
    for index in range(orders):
        nick, name, place, phone = buyers[int(rng.integers(len(buyers)))]
        status = statuses[int(rng.integers(len(statuses)))]
        count = int(rng.integers(1, 4))
        title, price = _TAOBAO_ITEMS[int(rng.integers(len(_TAOBAO_ITEMS)))]
        goods = price * count
        postage = 0 if goods >= 9900 or rng.random() < 0.6 else int(rng.choice([500, 800, 1000]))
        coupon = int(rng.choice([0, 0, 0, 300, 500, 1000])) if goods > 2000 else 0
        payable = goods + postage - coupon
        paid_time = created[index] + dt.timedelta(seconds=int(rng.integers(20, 3600)))
        if status == "等待买家付款":
            paid_time, actual, refund, reason = None, 0, 0, ""
        elif status == "交易关闭" and rng.random() < 0.5:  # closed before paying
            paid_time, actual, refund, reason = None, 0, 0, "买家未付款"
        elif status == "交易关闭":  # paid, then refunded in full before shipping
            actual, refund, reason = payable, payable, "退款"
        else:
            actual, reason = payable, ""
            roll = rng.random()
            if status == "交易成功" and roll < 0.05:
                refund = actual  # refunded in full after the sale (售后): status stays 成功
            elif roll < 0.14:
                refund = int(rng.integers(1, actual))  # partial refund, to the cent
            else:
                refund = 0
        records.append({
            "id": f"3345{ids[index]:015d}", "buyer": nick, "receiver": name, "place": place,
            "phone": phone, "status": status, "created": created[index], "paid": paid_time,
            "goods": goods, "postage": postage, "payable": payable, "actual": actual,
            "refund": refund, "title": title, "count": count, "reason": reason,
            "carrier": _TAOBAO_CARRIERS[int(rng.integers(len(_TAOBAO_CARRIERS)))]
            if status in ("交易成功", "卖家已发货，等待买家确认") else "",
            "mobile": rng.random() < 0.8,
        })
    return records


def _taobao_line(record: dict[str, Any], order_id: str) -> str:
    time_text = "%Y-%m-%d %H:%M:%S"
    fields = [
        order_id, record["buyer"], f"{record['buyer'][:3]}***@163.com",
        _money(record["goods"]), _money(record["postage"]), "0",
        _money(record["payable"]), "0", _money(record["actual"]), "0", record["status"], "",
        record["receiver"], record["place"][0] + f"({_postcode(record['phone'])})", "快递", "",
        record["phone"], record["created"].strftime(time_text),
        record["paid"].strftime(time_text) if record["paid"] else "",
        record["title"], "1", f"7{record['phone'][3:]}" if record["carrier"] else "",
        record["carrier"], "", str(record["count"]), "123456789", "小王的杂货铺",
        record["reason"], "手机订单" if record["mobile"] else "", _money(record["refund"]),
    ]
    return _csv_line(fields, raw=[0])


def _postcode(phone: str) -> str:
    """A six-digit postcode, as Taobao appends to an address (derived, so stable)."""
    return f"{(int(phone[-6:]) % 900000) + 100000:06d}"


def _taobao_truth(records: list[dict[str, Any]], path: Path) -> Expected:
    set_aside = {"closed": 0, "unpaid": 0, "no payment time": 0}
    kept = []
    for record in records:
        if record["status"] == "交易关闭":
            set_aside["closed"] += 1
        elif record["status"] == "等待买家付款":
            set_aside["unpaid"] += 1
        elif record["paid"] is None:
            set_aside["no payment time"] += 1
        else:
            kept.append(record)
    full = sum(1 for r in kept if r["refund"] and r["refund"] >= r["actual"])
    buyers = {r["buyer"]: (r["place"][1], r["place"][2]) for r in kept}
    return Expected(
        path=path,
        rows_read=len(records),
        set_aside=set_aside,
        rejected={},
        net_revenue_cents=sum(r["actual"] - r["refund"] for r in kept),
        orders=len(kept),
        purchases=len(kept) - full,
        refunds=sum(1 for r in kept if r["refund"] > 0),
        customers=len(buyers),
        customer_regions=buyers,
        details={
            "full_refunds": full,
            "partial_refunds": sum(1 for r in kept if 0 < r["refund"] < r["actual"]),
            "order_ids": [r["id"] for r in kept],
            # the purchases' amounts: orders refunded in full are not purchases
            "gross_cents": sum(r["actual"] for r in kept if not r["refund"] >= r["actual"]),
            "closed_unpaid": sum(1 for r in records
                                 if r["status"] == "交易关闭" and r["paid"] is None),
        },
    )


def taobao(folder: str | Path, *, seed: int = 11, orders: int = 600,
           filename: str = "ExportOrderList20240701.csv") -> Expected:
    """Write a Taobao/Tmall 订单报表 (one row per order) as GBK CSV, as the seller centre does.

    ``订单编号`` is written ``="3345…"`` (19 digits; the ``=""`` keeps Excel from rounding it);
    ``订单付款时间`` is blank for unpaid orders; ``买家实际支付金额`` is what the buyer paid (0
    when unpaid); ``退款金额`` is 0, part of it, or all of it (a fully refunded order nets to 0
    and still counts as a refund). Addresses are ``省 市 区 街道(邮编)``, with municipalities
    written ``上海 上海市`` and autonomous regions in full.

    Set aside by rule, in this order: ``closed`` (订单状态 交易关闭, paid or not), ``unpaid``
    (等待买家付款) and ``no payment time`` (付款时间 blank; no row reaches this rule here, the
    two before catch every unpaid order). Nothing is rejected. Customers: distinct 买家会员名
    of the kept orders, with province and city from 收货地址.
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = _taobao_records(rng, orders)
    path = folder / filename
    text = "\r\n".join([_csv_line(TAOBAO_COLUMNS)]
                       + [_taobao_line(r, f'="{r["id"]}"') for r in records]) + "\r\n"
    path.write_bytes(text.encode("gbk"))
    return _taobao_truth(records, path)


def taobao_excel_saved(folder: str | Path, *, seed: int = 11, orders: int = 600,
                       filename: str = "ExportOrderList20240701.csv",
                       damaged: str = "one") -> Expected:
    """The Taobao export after a round trip through Excel: order numbers in scientific notation.

    Opening the CSV in Excel turns a 19-digit ``订单编号`` into a number (``3.34568E+18``) and saving
    writes that back: the digits are gone and orders cannot be told apart. ``damaged="one"``
    damages a single row (the clear stop must not need many); ``"all"`` damages every row, as a
    real round trip does. The loader must stop with a :class:`~custops.errors.DataError` that
    says so (and mentions Excel). The returned truth is that of the undamaged file.
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = _taobao_records(rng, orders)
    damaged_rows = {len(records) // 2} if damaged == "one" else set(range(len(records)))
    lines = [_csv_line(TAOBAO_COLUMNS)]
    for index, record in enumerate(records):
        order_id = (f"{float(record['id']):.5E}".replace("E+0", "E+") if index in damaged_rows
                    else f'="{record["id"]}"')
        lines.append(_taobao_line(record, order_id))
    path = folder / filename
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    expected = _taobao_truth(records, path)
    expected.details["damaged_rows"] = sorted(damaged_rows)
    return expected


# --- Shopify orders export -------------------------------------------------------------------

SHOPIFY_COLUMNS = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping City", "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone",
    "Notes", "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference",
    "Refunded Amount", "Vendor", "Outstanding Balance", "Employee", "Location", "Device ID", "Id",
    "Tags", "Risk Level", "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Phone",
    "Receipt Number", "Duties", "Billing Province Name", "Shipping Province Name", "Payment ID",
    "Payment Terms Name", "Next Payment Due At", "Payment References",
]

# Order-level columns: Shopify fills them on an order's first line only.
SHOPIFY_ORDER_COLUMNS = {
    "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount",
    "Shipping Method", "Billing Name", "Billing Street", "Billing Address1", "Billing Address2",
    "Billing Company", "Billing City", "Billing Zip", "Billing Province", "Billing Country",
    "Billing Phone", "Shipping Name", "Shipping Street", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes",
    "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount", "Vendor",
    "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags", "Risk Level",
    "Source", "Tax 1 Name", "Tax 1 Value", "Phone", "Receipt Number", "Duties",
    "Billing Province Name", "Shipping Province Name", "Payment ID", "Payment Terms Name",
    "Next Payment Due At", "Payment References",
}

_SHOPIFY_PROVINCES = [("ZJ", "Zhejiang"), ("GD", "Guangdong"), ("JS", "Jiangsu"),
                      ("SH", "Shanghai"), ("BJ", "Beijing"), ("SC", "Sichuan")]
_SHOPIFY_ITEMS = [
    ("Linen Shirt - White / M", 32900, "LS-W-M"),
    ("Linen Shirt - Navy / L", 32900, "LS-N-L"),
    ('Ceramic Mug 12oz "Morning"', 8800, "MUG-12"),
    ("Tote Bag, Canvas", 12900, "TOTE-C"),
    ("Gift Card", 20000, ""),
    ("Tea Sampler (6 x 20g)", 15800, "TEA-6"),
]


def shopify(folder: str | Path, *, seed: int = 23, orders: int = 380,
            filename: str = "orders_export_1.csv") -> Expected:
    """Write a Shopify orders export: one row per line item, order fields on the first line.

    ``Name`` (``#1001``) is the order and is on every line, as are ``Email``, ``Created at``
    (``2024-03-05 14:22:11 +0800``) and the ``Lineitem …`` columns; ``Financial Status``,
    ``Paid at``, ``Total``, ``Refunded Amount``, ``Billing Province``, ``Phone`` and the other
    order fields are on the first line only (blank on the others). ``Total`` is what the order
    cost (items − discount + shipping + taxes); ``Refunded Amount`` is netted.

    Financial status: paid, partially_refunded, refunded (kept; the last nets to 0 and counts as
    a refund), pending and voided (set aside by rule ``not paid``, every line of the order).
    A few point-of-sale orders have no ``Email`` (all lines): rejected as ``missing
    customer_id``.
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = ["li.wei", "anna", "zhang.min", "sam", "chen_jing", "mike", "yuki"]
    domains = ["gmail.com", "qq.com", "163.com", "outlook.com"]
    emails = [f"{names[int(rng.integers(len(names)))]}{index}@"
              f"{domains[int(rng.integers(len(domains)))]}" for index in range(orders // 2)]
    province_of = {email: _SHOPIFY_PROVINCES[int(rng.integers(len(_SHOPIFY_PROVINCES)))]
                   for email in emails}
    phone_of = {email: f"+86 1{rng.choice([3, 5, 8])}{rng.integers(0, 10**9):09d}"
                for email in emails}
    created = _random_times(rng, orders, dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 30))
    statuses = ["paid"] * 75 + ["partially_refunded"] * 8 + ["refunded"] * 5 + (
        ["pending"] * 7 + ["voided"] * 5)
    rows: list[list[str]] = []
    truth = []
    for index in range(orders):
        name = f"#{1001 + index}"
        guest = rng.random() < 0.03
        email = "" if guest else emails[int(rng.integers(len(emails)))]
        status = statuses[int(rng.integers(len(statuses)))]
        when = created[index]
        when_text = when.strftime("%Y-%m-%d %H:%M:%S") + " +0800"
        items = [_SHOPIFY_ITEMS[int(i)]
                 for i in rng.choice(len(_SHOPIFY_ITEMS), size=int(rng.integers(1, 5)),
                                     replace=False)]
        quantities = [int(rng.integers(1, 4)) for _ in items]
        subtotal = sum(price * q for (_, price, _), q in zip(items, quantities, strict=True))
        discount = int(subtotal * 0.1) if rng.random() < 0.2 else 0
        shipping = 0 if subtotal - discount >= 29900 else 1500
        taxes = 0
        total = subtotal - discount + shipping + taxes
        if status == "refunded":
            refunded = total
        elif status == "partially_refunded":
            refunded = int(rng.integers(100, total))
        else:
            refunded = 0
        paid_text = "" if status in ("pending", "voided") else (
            (when + dt.timedelta(seconds=int(rng.integers(1, 120)))).strftime(
                "%Y-%m-%d %H:%M:%S") + " +0800")
        province = province_of.get(email, ("SH", "Shanghai"))
        phone = phone_of.get(email, "")
        for line_index, ((item, price, sku), quantity) in enumerate(
                zip(items, quantities, strict=True)):
            values = {
                "Name": name, "Email": email, "Created at": when_text,
                "Lineitem quantity": str(quantity), "Lineitem name": item,
                "Lineitem price": _money(price), "Lineitem compare at price": "",
                "Lineitem sku": sku, "Lineitem requires shipping": "true",
                "Lineitem taxable": "true",
                "Lineitem fulfillment status": "fulfilled" if status != "pending" else "pending",
                "Lineitem discount": "0.00",
            }
            if line_index == 0:
                values.update({
                    "Financial Status": status, "Paid at": paid_text,
                    "Fulfillment Status": "fulfilled" if paid_text else "unfulfilled",
                    "Accepts Marketing": str(rng.choice(["yes", "no"])), "Currency": "CNY",
                    "Subtotal": _money(subtotal - discount), "Shipping": _money(shipping),
                    "Taxes": _money(taxes), "Total": _money(total),
                    "Discount Code": "WELCOME10" if discount else "",
                    "Discount Amount": _money(discount),
                    "Shipping Method": "Standard" if shipping else "Free shipping",
                    "Billing Name": "Customer", "Billing Province": province[0],
                    "Billing Country": "CN", "Billing Province Name": province[1],
                    "Shipping Province": province[0], "Shipping Country": "CN",
                    "Shipping Province Name": province[1], "Billing Phone": phone,
                    "Cancelled at": when_text if status == "voided" else "",
                    "Payment Method": "Shopify Payments" if not guest else "Cash",
                    "Refunded Amount": _money(refunded), "Outstanding Balance": "0.00",
                    "Id": str(5_600_000_000_000 + index * 7919), "Risk Level": "Low",
                    "Source": "pos" if guest else "web", "Phone": phone,
                    "Payment ID": f"c{rng.integers(10**10, 10**11)}.1",
                })
            rows.append([values.get(column, "") for column in SHOPIFY_COLUMNS])
        truth.append({"name": name, "email": email, "status": status, "total": total,
                      "refunded": refunded, "lines": len(items), "province": province[1]})

    path = folder / filename
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SHOPIFY_COLUMNS)
        writer.writerows(rows)

    set_aside = {"not paid": 0}
    rejected = {"missing customer_id": 0}
    kept = []
    for order in truth:
        if order["status"] in ("pending", "voided"):
            set_aside["not paid"] += order["lines"]
        elif not order["email"]:
            rejected["missing customer_id"] += order["lines"]
        else:
            kept.append(order)
    return Expected(
        path=path,
        rows_read=len(rows),
        set_aside=set_aside,
        rejected=rejected,
        net_revenue_cents=sum(o["total"] - o["refunded"] for o in kept),
        orders=len(kept),
        purchases=sum(1 for o in kept if o["refunded"] < o["total"]),
        refunds=sum(1 for o in kept if o["refunded"] > 0),
        customers=len({o["email"] for o in kept}),
        details={"order_names": [o["name"] for o in kept],
                 "provinces": {o["email"]: o["province"] for o in kept}},
    )


# --- CDNOW-style transaction log ---------------------------------------------------------------


def transaction_log(folder: str | Path, *, seed: int = 31, customers: int = 300,
                    header: bool = False, iso_dates: bool = False,
                    filename: str = "CDNOW_master.txt") -> Expected:
    """Write a CDNOW-style transaction log: ``customer date quantity amount``, space-aligned.

    The CDNOW master file (Fader & Hardie) has no order ids and no header: one line per
    purchase, ``   00001 19970101  1   11.77`` — customer id zero-padded, date ``yyyymmdd``,
    number of CDs, dollars. A customer sometimes has two lines on one day; some amounts are
    ``0.00``. ``header=True`` adds a ``customer_id date quantity amount`` line first (and
    writes CRLF line ends, as a file saved on Windows); ``iso_dates=True`` writes
    ``1997-01-01``. Each line is one order (no refunds, nothing set aside or rejected).
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.date(1997, 1, 1)
    records: list[tuple[int, dt.date, int, int]] = []
    for customer in range(1, customers + 1):
        first = start + dt.timedelta(days=int(rng.integers(0, 90)))
        purchases = 1 + int(rng.poisson(1.5)) if rng.random() < 0.6 else 1
        day = first
        for purchase in range(purchases):
            if purchase:
                day = day + dt.timedelta(days=int(rng.integers(0, 160)))
                if day > dt.date(1998, 6, 30):
                    break
            quantity = 1 + int(rng.poisson(1.2))
            cents = 0 if rng.random() < 0.01 else int(quantity * rng.integers(899, 1599))
            records.append((customer, day, quantity, cents))
            if rng.random() < 0.04:  # a second purchase the same day
                records.append((customer, day, 1, int(rng.integers(899, 1599))))
    records.sort(key=lambda r: (r[0], r[1]))
    lines = ["customer_id date quantity amount"] if header else []
    for customer, day, quantity, cents in records:
        date_text = day.isoformat() if iso_dates else day.strftime("%Y%m%d")
        lines.append(f"   {customer:05d} {date_text} {quantity:>2} {_money(cents):>7}")
    path = Path(folder) / filename
    newline = "\r\n" if header else "\n"
    path.write_bytes((newline.join(lines) + newline).encode("ascii"))
    same_day = len(records) - len({(c, d) for c, d, _, _ in records})
    return Expected(
        path=path,
        rows_read=len(records),
        set_aside={},
        rejected={},
        net_revenue_cents=sum(r[3] for r in records),
        orders=len(records),
        purchases=len(records),
        refunds=0,
        customers=len({r[0] for r in records}),
        details={"same_day_repeats": same_day,
                 "first_date": min(r[1] for r in records),
                 "last_date": max(r[1] for r in records)},
    )


# -- the sample with full contact keys -----------------------------------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
# A full contact key of :func:`sample_with_contacts` (masked forms such as 139****0001 do not
# match).
FULL_CONTACT = re.compile(r"(?<!\d)139\d{8}(?!\d)|kehu\d{5}@example\.com|wmQx7Z\d{10}")


def sample_with_contacts(data: str | Path) -> pd.DataFrame:
    """Copy the shipped sample into the new folder ``data`` with real-looking contact keys in
    its customers table: a phone for 9 in 10 customers, an e-mail for 1 in 3, a WeCom external
    id for those who consented to WeCom, and an owning staff member for all. Returns the
    customers table written.

    The other tables carry contact keys outside the contract, as real exports do: the event log
    a ``mobile`` column (the customer's phone), the touches an unnamed-looking ``receiver``
    (the customer's e-mail, else phone) and an ``openid``, the orders a buyer's note (买家留言)
    with a phone number inside the text."""
    data = Path(data)
    data.mkdir(parents=True)
    customers = pd.read_csv(SAMPLE / "customers.csv", dtype=str)
    n = len(customers)
    customers["phone"] = [f"139{i:08d}" if i % 10 else "" for i in range(n)]
    customers["email"] = [f"kehu{i:05d}@example.com" if i % 3 == 0 else "" for i in range(n)]
    customers["wecom_external_id"] = [f"wmQx7Z{i:010d}" if consent == "1" else ""
                                      for i, consent in enumerate(customers["consent_wecom"])]
    customers["wecom_owner"] = [f"staff{i % 7}" for i in range(n)]
    customers.to_csv(data / "customers.csv", index=False)
    phone = customers.set_index("customer_id")["phone"]
    email = customers.set_index("customer_id")["email"]
    events = pd.read_csv(SAMPLE / "events.csv", dtype=str, keep_default_na=False)
    events["mobile"] = events["customer_id"].map(phone).fillna("").to_numpy()
    events.to_csv(data / "events.csv", index=False)
    touches = pd.read_csv(SAMPLE / "touches.csv", dtype=str, keep_default_na=False)
    by_email = touches["customer_id"].map(email).fillna("")
    touches["receiver"] = by_email.where(by_email.ne(""), touches["customer_id"].map(phone)
                                         ).fillna("").to_numpy()
    touches["openid"] = [f"wmQx7Z{i:010d}" for i in range(len(touches))]
    touches.to_csv(data / "touches.csv", index=False)
    orders = pd.read_csv(SAMPLE / "orders.csv", dtype=str, keep_default_na=False)
    orders["买家留言"] = [f"请联系 {p}，谢谢" if i % 50 == 0 and isinstance(p, str) and p else ""
                       for i, p in enumerate(orders["customer_id"].map(phone))]
    orders.to_csv(data / "orders.csv", index=False)
    return customers


def file_text(path: Path) -> str:
    """A file as text: every column of a Parquet file (numbers too: a phone may be read as
    one), every cell of a workbook, else the bytes."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(str).to_csv()
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        return "\n".join(str(c) for s in book.worksheets
                         for r in s.iter_rows(values_only=True) for c in r)
    return path.read_bytes().decode("utf-8", errors="replace")
