"""Words of the profile step (01): data quality, customer base, concentration, attributes,
order times, cohorts, repurchase, channels.

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    # data quality
    "dq.title": {"en": "Data quality", "zh": "数据质量"},
    "dq.table": {"en": "Table", "zh": "数据表"},
    "dq.rows_read": {"en": "Rows read", "zh": "读取行数"},
    "dq.rows_kept": {"en": "Rows kept", "zh": "保留行数"},
    "dq.rows_rejected": {"en": "Rows rejected", "zh": "拒绝行数"},
    "dq.date_min": {"en": "First date", "zh": "最早日期"},
    "dq.date_max": {"en": "Last date", "zh": "最晚日期"},
    "dq.customers": {"en": "Customers", "zh": "客户数"},
    "dq.text": {
        "en": "{kept:,} of {read:,} order rows were kept; {rejected:,} were set aside "
              "(see artifacts/rejects.csv){reasons}.",
        "zh": "订单共读取 {read:,} 行，保留 {kept:,} 行，{rejected:,} 行被拒绝"
              "（见 artifacts/rejects.csv）{reasons}。",
    },
    # why order rows were rejected (custops.io reasons: "missing customer_id", ...)
    "dq.reason_missing": {"en": "missing {column}", "zh": "缺少{column}"},
    "dq.reason_unparseable": {"en": "unparseable {column}", "zh": "{column}无法解析"},
    "dq.reason_after_as_of": {"en": "{column} after as_of", "zh": "{column}晚于截止日期"},
    "dq.reason_duplicate": {"en": "duplicate {column}", "zh": "{column}重复"},
    "dq.reason_wrong_fields": {"en": "wrong number of fields", "zh": "字段数与表头不符"},
    "dq.reason_count": {"en": "{reason} {count:,}", "zh": "{reason} {count:,} 行"},
    # customer base
    "base.title": {"en": "Customer base", "zh": "客户基础"},
    "base.known": {"en": "Known customers", "zh": "已知客户"},
    "base.prospects": {"en": "Prospects (never bought)", "zh": "潜在客户（未成交）"},
    "base.buyers": {"en": "Buyers", "zh": "成交客户"},
    "base.repeat": {"en": "Repeat buyers", "zh": "复购客户"},
    "base.active": {"en": "Active buyers (last {days} days)", "zh": "活跃客户（近{days}天）"},
    "base.zombie": {"en": "Zombie share", "zh": "僵尸粉占比"},
    "base.text": {
        "en": "{buyers:,} of {known:,} known customers have bought; {repeat:,} bought on two or "
              "more days and {active:,} bought in the last {days} days. {zombie:.0%} of known "
              "customers showed no sign of life (no order, no event) in the last {days} days — "
              "zombie fans: count active users, not total users.",
        "zh": "{known:,} 位已知客户中 {buyers:,} 位已成交，{repeat:,} 位在两天及以上下过单，"
              "{active:,} 位在近 {days} 天内下单。{zombie:.0%} 的客户近 {days} 天既无订单也无"
              "行为——这是“僵尸粉”：要看活跃用户，而不是总用户。",
    },
    "monthly.title": {"en": "New and active buyers per month", "zh": "每月新增与活跃成交客户"},
    "monthly.new": {"en": "New buyers", "zh": "新成交客户"},
    "monthly.active": {"en": "Active buyers", "zh": "活跃成交客户"},
    # concentration
    "conc.title": {"en": "Value concentration (2/8 rule)", "zh": "价值集中度（二八原则）"},
    "conc.x": {"en": "Share of buyers, ranked by spend", "zh": "按消费排序的客户占比"},
    "conc.y": {"en": "Cumulative share of net revenue", "zh": "累计净收入占比"},
    "conc.curve": {"en": "Customers", "zh": "客户"},
    "conc.equality": {"en": "Equal spend", "zh": "均等消费"},
    "conc.mark": {"en": "top {pct:.0%} → {value:.0%}", "zh": "前{pct:.0%} → {value:.0%}"},
    "conc.top": {"en": "Top {pct:g}% of buyers", "zh": "前 {pct:g}% 客户"},
    "conc.text": {
        "en": "The top 1% of buyers bring {top1:.0%} of net revenue, the top 5% {top5:.0%} and "
              "the top 20% {top20:.0%} (Gini {gini:.2f}). {verdict}",
        "zh": "前 1% 的客户贡献了 {top1:.0%} 的净收入，前 5% 贡献 {top5:.0%}，前 20% 贡献 "
              "{top20:.0%}（基尼系数 {gini:.2f}）。{verdict}",
    },
    "conc.verdict_strong": {
        "en": "Value is at least as concentrated as the 2/8 rule says: serve the top tier best.",
        "zh": "价值集中程度达到或超过二八原则：优先服务好头部客户。",
    },
    "conc.verdict_weak": {
        "en": "Value is less concentrated than the 2/8 rule: growth lies in the broad middle.",
        "zh": "价值集中程度低于二八原则：增长空间在腰部客户。",
    },
    # attributes
    "attr.title": {"en": "Who the high-value buyers are: {attribute}",
                   "zh": "高价值客户画像：{attribute}"},
    "attr.text": {
        "en": "Most over-represented among high-value buyers: {items}.",
        "zh": "高价值客户中占比明显偏高的：{items}。",
    },
    "attr.none": {"en": "No attribute stands out.", "zh": "没有明显突出的属性。"},
    "attr.gender": {"en": "Gender", "zh": "性别"},
    "attr.age_band": {"en": "Age band", "zh": "年龄段"},
    "attr.province": {"en": "Province", "zh": "省份"},
    "attr.city_tier": {"en": "City tier", "zh": "城市等级"},
    "attr.occupation": {"en": "Occupation", "zh": "职业"},
    "attr.acquisition_channel": {"en": "Acquisition channel", "zh": "获客渠道"},
    "attr.favourite_category": {"en": "Favourite category", "zh": "偏好品类"},
    "attr.favourite_channel": {"en": "Favourite order channel", "zh": "偏好下单渠道"},
    "heat.title": {"en": "When customers order (hour × weekday)", "zh": "下单时间分布（小时 × 星期）"},
    "heat.text": {
        "en": "Orders peak on {day} at {hour}:00. Reach customers shortly before their habit, "
              "not after it.",
        "zh": "下单高峰在{day} {hour}:00。触达要在用户习惯之前，而不是之后。",
    },
    # cohorts and repurchase
    "cohort.title": {"en": "Cohort retention by first-order month",
                     "zh": "按首单月份的同期群留存"},
    "cohort.x": {"en": "Months since first order", "zh": "首单后月数"},
    "cohort.y": {"en": "First-order month", "zh": "首单月份"},
    "cohort.average": {"en": "All cohorts (weighted)", "zh": "全部同期群（加权）"},
    "cohort.curve_title": {"en": "Retention curves (share of cohort ordering in month k)",
                           "zh": "留存曲线（第 k 月仍下单的占比）"},
    "cohort.text": {
        "en": "On average {m1:.0%} of a cohort orders again in the month after its first order, "
              "{m3:.0%} in month 3 and {m6:.0%} in month 6.",
        "zh": "平均而言，一个同期群在首单后第 1 个月有 {m1:.0%} 再次下单，第 3 个月 {m3:.0%}，"
              "第 6 个月 {m6:.0%}。",
    },
    "repurchase.title": {"en": "Repurchase magic numbers: chance of another order",
                         "zh": "复购魔法数字：再次下单的概率"},
    "repurchase.x": {"en": "Order days so far", "zh": "已下单天数"},
    "repurchase.y": {"en": "P(next order within {days} days)", "zh": "{days} 天内再次下单概率"},
    "repurchase.text": {
        "en": "After the first order {p1:.0%} order again within {days} days; after the second "
              "{p2:.0%} ({lift2:+.0%} relative). The biggest jump comes after order {jump_at} "
              "({jump:+.0%}). From {loyal_at} orders on, {loyal_p:.0%}+ come back: that is where "
              "a loyal customer starts on this data. {seed_check}",
        "zh": "首单后 {days} 天内再次下单的比例为 {p1:.0%}；第二单后为 {p2:.0%}"
              "（相对提升 {lift2:+.0%}）。最大的跃升出现在第 {jump_at} 单之后（{jump:+.0%}）。"
              "下单 {loyal_at} 次起，{loyal_p:.0%} 以上会回来：这就是本数据中忠诚客户的起点。"
              "{seed_check}",
    },
    "repurchase.seed_yes": {
        "en": "This agrees with the seeds' claim (+30% after one repurchase).",
        "zh": "这与文章中“复购一次留存提升 30%”的说法一致。",
    },
    "repurchase.seed_no": {
        "en": "The seeds claim +30% after one repurchase; this data shows {lift2:+.0%}.",
        "zh": "文章称复购一次留存提升 30%；本数据为 {lift2:+.0%}。",
    },
    "repurchase.no_loyal": {"en": "no order count", "zh": "没有任何下单次数"},
    # channels
    "chan.title": {"en": "Acquisition-channel quality", "zh": "获客渠道质量"},
    "chan.users": {"en": "Users", "zh": "用户数"},
    "chan.buyers": {"en": "Buyers", "zh": "成交客户"},
    "chan.conversion": {"en": "Conversion", "zh": "转化率"},
    "chan.retention": {"en": "Retention", "zh": "留存率"},
    "chan.retained": {"en": "Retained users", "zh": "留存用户"},
    "chan.value": {"en": "Net revenue per user (¥)", "zh": "人均净收入（¥）"},
    "chan.text": {
        "en": "Retained users = Σ users × retention = {retained:,.0f}. {best} keeps {best_ret:.0%} "
              "of its users, {worst} only {worst_ret:.0%}: judge channels by retained users and "
              "value, not by sign-ups.",
        "zh": "留存用户 = Σ 渠道用户数 × 留存率 = {retained:,.0f}。{best} 的留存率为 "
              "{best_ret:.0%}，{worst} 仅 {worst_ret:.0%}：评估渠道看留存与价值，而不是注册数。",
    },
    "quality.rows_set_aside": {"en": "set aside", "zh": "规则排除"},
    "quality.set_aside": {"en": "Set aside by the mapping's rules", "zh": "按映射规则排除"},
    "quality.orders_line": {
        "en": "Orders: {orders:,} ({purchases:,} purchases, {refunds:,} refunds); gross "
              "{gross:,.2f}, net {net:,.2f} (refunds netted)",
        "zh": "订单: {orders:,} 个 (购买 {purchases:,}, 退款 {refunds:,}); 总额 {gross:,.2f}, "
              "净额 {net:,.2f} (扣除退款)"},
    "attr.section_title": {"en": "Who the high-value buyers are", "zh": "高价值客户画像"},
    "attr.figure_title": {"en": "Share of buyers by attribute: high-value vs other buyers",
                          "zh": "各属性的客户占比：高价值客户与其他成交客户"},
}
