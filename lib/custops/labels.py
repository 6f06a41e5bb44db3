"""User-facing labels in English and Chinese, in one dictionary; ``lang`` chooses.

Notebooks and figures never type a label twice: they call :func:`t` with a key, or
:func:`value_label` for a category value (segment, stage, channel...). Text templates use
``str.format`` fields, so generated interpretations read naturally in both languages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from custops.errors import ParameterError

__all__ = [
    "FOCUS",
    "LABELS",
    "LANGS",
    "VALUES",
    "WEEKDAYS",
    "ZONES",
    "check_lang",
    "focus",
    "health_words",
    "not_computable_words",
    "reason_words",
    "t",
    "value_label",
    "value_labels",
    "zone_name",
]

LANGS = ("en", "zh")

LABELS: dict[str, dict[str, str]] = {
    # generic
    "customers": {"en": "Customers", "zh": "客户数"},
    "customer_share": {"en": "Share of customers", "zh": "客户占比"},
    "revenue": {"en": "Revenue", "zh": "收入"},
    "revenue_share": {"en": "Share of revenue", "zh": "收入占比"},
    "orders": {"en": "Orders", "zh": "订单数"},
    "month": {"en": "Month", "zh": "月份"},
    "share": {"en": "Share", "zh": "占比"},
    "count": {"en": "Count", "zh": "数量"},
    "high_value": {"en": "High value (top 20%)", "zh": "高价值（前20%）"},
    "rest": {"en": "Other buyers", "zh": "其他成交客户"},
    "unknown": {"en": "Unknown", "zh": "未知"},
    "hour": {"en": "Hour of day", "zh": "小时"},
    "weekday": {"en": "Weekday", "zh": "星期"},
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
    # notebook titles (report index, dashboard landing page)
    "notebook.01_profile": {"en": "01 · Customer profile", "zh": "01 · 用户画像"},
    "notebook.02_segment": {"en": "02 · Segments: tier, class, stage", "zh": "02 · 分级、分类、分阶段"},
    "notebook.03_churn": {"en": "03 · Churn warning", "zh": "03 · 流失预警"},
    "notebook.04_reach": {"en": "04 · Reach plan", "zh": "04 · 触达计划"},
    # custops validate
    "validate.title": {"en": "Data check", "zh": "数据检查"},
    "validate.source": {"en": "source", "zh": "数据来源"},
    "validate.as_of": {"en": "as of", "zh": "截至"},
    "validate.no_as_of": {"en": "not given (no future-date check)", "zh": "未指定（不检查未来时间）"},
    "validate.tz": {"en": "time zone", "zh": "时区"},
    "validate.table": {"en": "table", "zh": "表"},
    "validate.file": {"en": "file", "zh": "文件"},
    "validate.rows_read": {"en": "read", "zh": "读取行数"},
    "validate.rows_kept": {"en": "kept", "zh": "保留"},
    "validate.rows_rejected": {"en": "rejected", "zh": "拒绝"},
    "validate.dates": {"en": "dates", "zh": "时间范围"},
    "validate.customers": {"en": "customers", "zh": "客户数"},
    "validate.total": {"en": "total", "zh": "合计"},
    "validate.not_found": {"en": "(not found)", "zh": "（未找到）"},
    "validate.reasons": {"en": "Rejected rows by reason", "zh": "被拒绝的行（按原因）"},
    "validate.none": {"en": "none", "zh": "无"},
    "validate.warnings": {"en": "Warnings", "zh": "提示"},
    "table.orders": {"en": "orders", "zh": "订单"},
    "table.customers": {"en": "customers", "zh": "客户"},
    "table.events": {"en": "events", "zh": "行为事件"},
    "table.touches": {"en": "touches", "zh": "触达记录"},
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
    # segments (02)
    "seg.rfm_title": {"en": "RFM classes (R/F/M high vs the {cut})",
                      "zh": "RFM 八类客户（以{cut}为分界）"},
    "seg.cut_mean": {"en": "mean", "zh": "均值"},
    "seg.cut_median": {"en": "median", "zh": "中位数"},
    "seg.segment": {"en": "Segment", "zh": "分群"},
    "seg.focus": {"en": "Operating focus", "zh": "运营重点"},
    "seg.mean_recency": {"en": "Mean days since last order", "zh": "平均未下单天数"},
    "seg.mean_orders": {"en": "Mean orders", "zh": "平均订单数"},
    "seg.mean_spend": {"en": "Mean net spend (¥)", "zh": "平均净消费（¥）"},
    "seg.rfm_text": {
        "en": "{top} is the largest class ({top_n:,} buyers); important-value customers are "
              "{iv_share:.0%} of buyers and bring {iv_rev:.0%} of revenue.",
        "zh": "人数最多的是{top}（{top_n:,} 人）；重要价值客户占成交客户的 {iv_share:.0%}，"
              "贡献 {iv_rev:.0%} 的收入。",
    },
    "seg.scores_title": {"en": "RFM scores (1–5): customers in each R × F cell",
                         "zh": "RFM 评分（1–5）：每个 R × F 格中的客户数"},
    "seg.r_score": {"en": "R score (5 = most recent)", "zh": "R 评分（5 = 最近）"},
    "seg.f_score": {"en": "F score (5 = most frequent)", "zh": "F 评分（5 = 最频繁）"},
    "seg.tier_title": {"en": "Value tiers of buyers", "zh": "成交客户价值分级"},
    "seg.tier_text": {
        "en": "VIP and large customers are {top_share:.0%} of buyers and bring {top_rev:.0%} of "
              "net revenue.",
        "zh": "VIP 与大客户占成交客户的 {top_share:.0%}，贡献 {top_rev:.0%} 的净收入。",
    },
    "seg.grade_title": {"en": "Prospect grades (never bought)", "zh": "潜在客户分级（未成交）"},
    "seg.grade_text": {
        "en": "{a:,} grade-A prospects are engaged (cart adds, visits, check-ins) but have not "
              "bought yet: the first place to convert. The reach plan (04) picks prospects by "
              "each one's predicted incremental revenue against the channel's cost, not by "
              "grade, so its lists hold B–D grades too; grade A comes first for personal "
              "follow-up.",
        "zh": "{a:,} 位 A 级潜在客户活跃（加购、访问、签到）但尚未成交：最值得优先转化。"
              "04 的触达计划按每位客户的预测增量收入与渠道成本挑选潜在客户，而不是按等级，"
              "所以名单中也会有 B–D 级；A 级是人工跟进的首选。",
    },
    "seg.stage_title": {"en": "Lifecycle stages", "zh": "用户生命周期阶段"},
    "seg.stage_text": {
        "en": "{decline:,} buyers are in decline (silent for more than {multiple:g}× their own "
              "usual gap) and {churned:,} have churned (silent > {churn_days} days).",
        "zh": "{decline:,} 位客户处于衰退期（沉默超过自身常规间隔的 {multiple:g} 倍），"
              "{churned:,} 位已流失（超过 {churn_days} 天未下单）。",
    },
    "seg.class_title": {"en": "Customer classes", "zh": "客户分类"},
    "seg.pyramid_title": {"en": "From customer pool to true fans", "zh": "从客户池到铁杆粉丝"},
    "seg.pyramid_text": {
        "en": "{fans:,} true fans (repeat buyers who refer others and write reviews) — "
              "{fan_share:.1%} of buyers. Look after them: they recruit and give feedback.",
        "zh": "{fans:,} 位铁杆粉丝（复购、转介绍且评价的客户），占成交客户 {fan_share:.1%}。"
              "维护好他们：他们会带来新客户并提供反馈。",
    },
    "seg.cluster_title": {"en": "Behavioural clusters (k-means)", "zh": "行为聚类（K 均值）"},
    "seg.cluster": {"en": "Cluster", "zh": "客群"},
    "seg.description": {"en": "In plain words", "zh": "描述"},
    "seg.migration_title": {"en": "Segment migration: {before} → {after}",
                            "zh": "分群迁移：{before} → {after}"},
    "seg.migration_text": {"en": "Largest moves: {moves}.", "zh": "最大的迁移：{moves}。"},
    "seg.move": {"en": "{n:,} {src} → {dst}", "zh": "{n:,} 位{src}→{dst}"},
    "seg.matrix_title": {"en": "Transition matrix (customers)", "zh": "迁移矩阵（客户数）"},
    "seg.from": {"en": "From", "zh": "迁出"},
    "seg.to": {"en": "To", "zh": "迁入"},
    # churn (03)
    "churn.reason_complaint": {"en": "complained {n} time(s)", "zh": "投诉过 {n} 次"},
    "churn.reason_overdue": {"en": "no order for {days} days; usually orders every {gap} days",
                             "zh": "已 {days} 天未下单；平时约每 {gap} 天下单一次"},
    "churn.reason_single": {"en": "only one order day, {days} days ago",
                            "zh": "仅下过一天单，距今 {days} 天"},
    "churn.reason_falling": {"en": "orders fell: {recent} in the last 90 days vs {before:.1f} "
                                   "per 90 days before",
                             "zh": "下单减少：近 90 天 {recent} 单，此前平均每 90 天 {before:.1f} 单"},
    "churn.reason_idle": {"en": "no visit or other activity for {days} days",
                          "zh": "已 {days} 天无访问等互动"},
    "churn.reason_healthy": {"en": "buying at their usual rhythm", "zh": "按平时节奏正常下单"},
    "churn.backtest_title": {"en": "Backtest: fitted {horizon} days ago, graded on what happened "
                                   "since", "zh": "回测：{horizon} 天前拟合，用此后的真实结果评估"},
    "churn.model": {"en": "Model", "zh": "模型"},
    "churn.auc": {"en": "AUC", "zh": "AUC"},
    "churn.brier": {"en": "Brier score", "zh": "Brier 分数"},
    "churn.lift": {"en": "Top-decile lift", "zh": "前 10% 提升度"},
    "churn.capture": {"en": "Top-decile capture", "zh": "前 10% 捕获率"},
    "churn.lift_ceiling": {
        "en": "Every model's top 10% are all churners here, so top-decile lift and capture sit "
              "at their ceiling (1 ÷ churn rate = {ceiling:.2f}) and cannot tell the models "
              "apart; AUC and Brier score do.",
        "zh": "各模型得分最高的 10% 全部是流失客户，因此前 10% 提升度和覆盖率都处于上限"
              "（1 ÷ 流失率 = {ceiling:.2f}），无法区分模型；请看 AUC 与 Brier 分数。"},
    "churn.backtest_rule_text": {
        "en": "On this data the plain RFM rule ranks churners as well as the models (AUC "
              "{auc:.3f}; gradient boosting {supervised:.3f}, BG/NBD {btyd:.3f}; AUCs within "
              "{tie} count as a tie and the simpler model wins), so the rule drives the risk "
              "bands below. Its top 10% of scores hold {capture:.0%} of the customers who then "
              "stopped buying. BG/NBD predicted {pred:,.0f} orders in the window; "
              "{actual:,.0f} happened.",
        "zh": "在本数据上，简单的 RFM 规则对流失客户的排序不逊于模型（AUC {auc:.3f}；梯度提升 "
              "{supervised:.3f}，BG/NBD {btyd:.3f}；AUC 相差不超过 {tie} 视为持平，取更简单的"
              "模型），因此下方风险分层使用该规则。其得分最高的 10% 覆盖了此后流失客户的 "
              "{capture:.0%}。BG/NBD 预测该期间 {pred:,.0f} 单，实际 {actual:,.0f} 单。",
    },
    "churn.backtest_text": {
        "en": "On this data the {winner} model ranks churners best (AUC {auc:.3f} vs {baseline:.3f} "
              "for the plain RFM rule); it drives the risk bands below. Its top 10% of scores "
              "hold {capture:.0%} of the customers who then stopped buying. BG/NBD predicted "
              "{pred:,.0f} orders in the window; {actual:,.0f} happened.",
        "zh": "在本数据上，{winner}模型对流失客户的排序最好（AUC {auc:.3f}，RFM 规则基线为 "
              "{baseline:.3f}），下方风险分层使用该模型。其得分最高的 10% 覆盖了此后流失客户的 "
              "{capture:.0%}。BG/NBD 预测该期间 {pred:,.0f} 单，实际 {actual:,.0f} 单。",
    },
    "churn.backtest_rule_text_model": {
        "en": "On this data the plain RFM rule ranks churners as well as the models (AUC "
              "{auc:.3f}; gradient boosting {supervised:.3f}, {btyd_model} {btyd:.3f}; AUCs "
              "within {tie} count as a tie and the simpler model wins), so the rule drives the "
              "risk bands below. Its top 10% of scores hold {capture:.0%} of the customers who "
              "then stopped buying. {btyd_model} predicted {pred:,.0f} orders in the window; "
              "{actual:,.0f} happened.",
        "zh": "在本数据上，简单的 RFM 规则对流失客户的排序不逊于模型（AUC {auc:.3f}；梯度提升 "
              "{supervised:.3f}，{btyd_model} {btyd:.3f}；AUC 相差不超过 {tie} 视为持平，取更简单"
              "的模型），因此下方风险分层使用该规则。其得分最高的 10% 覆盖了此后流失客户的 "
              "{capture:.0%}。{btyd_model} 预测该期间 {pred:,.0f} 单，实际 {actual:,.0f} 单。",
    },
    "churn.backtest_text_model": {
        "en": "On this data the {winner} model ranks churners best (AUC {auc:.3f} vs "
              "{baseline:.3f} for the plain RFM rule); it drives the risk bands below. Its top "
              "10% of scores hold {capture:.0%} of the customers who then stopped buying. "
              "{btyd_model} predicted {pred:,.0f} orders in the window; {actual:,.0f} happened.",
        "zh": "在本数据上，{winner}模型对流失客户的排序最好（AUC {auc:.3f}，RFM 规则基线为 "
              "{baseline:.3f}），下方风险分层使用该模型。其得分最高的 10% 覆盖了此后流失客户的 "
              "{capture:.0%}。{btyd_model} 预测该期间 {pred:,.0f} 单，实际 {actual:,.0f} 单。",
    },
    "churn.btyd_compare_text_model": {
        "en": "The second table fits three buy-till-you-die models at the test date and grades "
              "each on the orders every buyer then placed (RMSE per customer; ★ the best "
              "usable one, the simpler on a tie). The BTYD scores use the best: {btyd_model}.",
        "zh": "第二张表在测试日拟合三种 BTYD 模型，并用每位客户此后的实际下单评估（按客户的 "
              "均方根误差；★ 为通过健康检查中最好的模型，持平时取更简单者）。BTYD 得分使用其中"
              "最好的模型：{btyd_model}。",
    },
    "churn.btyd_title_model": {"en": "Buy-till-you-die model ({btyd_model} + Gamma-Gamma)",
                               "zh": "BTYD 模型（{btyd_model} + Gamma-Gamma）"},
    "churn.btyd_model_used": {
        "en": "P(alive), expected orders and the BTYD churn probability (no order in the next "
              "{horizon} days) come from {btyd_model}, the purchase model that best predicted "
              "the backtest's holdout orders.",
        "zh": "存活概率、预计订单数与 BTYD 流失概率（未来 {horizon} 天无订单）来自 {btyd_model}："
              "在回测留出期对订单预测最准的购买模型。",
    },
    "churn.calibration_title": {"en": "Calibration: predicted vs actual churn rate",
                                "zh": "校准：预测流失率与实际流失率"},
    "churn.predicted": {"en": "Predicted churn probability", "zh": "预测流失概率"},
    "churn.actual": {"en": "Actual churn rate", "zh": "实际流失率"},
    "churn.btyd_title": {"en": "Buy-till-you-die model (BG/NBD + Gamma-Gamma)",
                         "zh": "BTYD 模型（BG/NBD + Gamma-Gamma）"},
    "churn.parameter": {"en": "Parameter", "zh": "参数"},
    "churn.value": {"en": "Value", "zh": "取值"},
    "churn.btyd_text": {
        "en": "{alive:.0%} of buyers are probably still alive (P(alive) ≥ 0.5); together they "
              "are expected to place {orders:,.0f} orders in the next {horizon} days and bring "
              "¥{value:,.0f} in discounted value over {value_days} days.",
        "zh": "{alive:.0%} 的成交客户大概率仍活跃（存活概率 ≥ 0.5）；预计未来 {horizon} 天共下 "
              "{orders:,.0f} 单，{value_days} 天折现价值合计 ¥{value:,.0f}。",
    },
    "churn.palive_title": {"en": "Probability alive (buyers)", "zh": "存活概率分布（成交客户）"},
    "churn.risk_title": {"en": "Risk bands × value tiers (customers)",
                         "zh": "风险分层 × 价值分级（客户数）"},
    "churn.risk_text": {
        "en": "{high:,} buyers are at high risk, holding {value_share:.0%} of expected value; "
              "{hv_high:,} of them are VIP or large customers — save those first.",
        "zh": "{high:,} 位客户处于高风险，占预期价值的 {value_share:.0%}；其中 {hv_high:,} 位是 "
              "VIP 或大客户——优先挽留。",
    },
    "churn.priority_title": {"en": "Warning list: active buyers at risk, by value saved",
                             "zh": "预警名单：仍活跃但有风险的客户（按可挽回价值排序）"},
    "churn.priority_text": {
        "en": "{n:,} active buyers are at high or medium risk. The list is ordered by the "
              "expected value a retention saves (churn probability × expected value): retain "
              "them before they go.",
        "zh": "{n:,} 位仍活跃的客户处于高或中风险。名单按挽留可保住的预期价值排序（流失概率 × "
              "预期价值）：在流失前挽留。"},
    "churn.recall_title": {"en": "Recall list: buyers already churned, most valuable first",
                           "zh": "召回名单：已流失客户（高价值优先）"},
    "churn.recall_text": {
        "en": "{n:,} buyers have already churned; together they used to bring ¥{value:,.0f} "
              "over the value horizon. Recall the most valuable first (high-value: 1:1 "
              "call-back or a strong offer; the rest: low-cost channels).",
        "zh": "{n:,} 位客户已经流失；他们在价值周期内原本贡献 ¥{value:,.0f}。优先召回高价值客户"
              "（高价值：一对一回访或强力优惠；其余：低成本渠道）。"},
    "churn.already_churned_text": {
        "en": "{churned:,} buyers have already churned and are not in the bands: see the "
              "recall list.",
        "zh": "另有 {churned:,} 位客户已流失，不计入风险分层：见召回名单。"},
    "quality.rows_set_aside": {"en": "set aside", "zh": "规则排除"},
    "quality.set_aside": {"en": "Set aside by the mapping's rules", "zh": "按映射规则排除"},
    "quality.orders_line": {
        "en": "Orders: {orders:,} ({purchases:,} purchases, {refunds:,} refunds); gross "
              "{gross:,.2f}, net {net:,.2f} (refunds netted)",
        "zh": "订单: {orders:,} 个 (购买 {purchases:,}, 退款 {refunds:,}); 总额 {gross:,.2f}, "
              "净额 {net:,.2f} (扣除退款)"},
    "not_available": {"en": "not available", "zh": "不可用"},
    "not_computed": {"en": "Not computed on this data", "zh": "本数据无法计算此项"},
    # why a step could not run (custops.errors.NotComputable: key and fields)
    "nc.churn_few_buyers": {
        "en": "churn: only {n:,} buyer(s) at the {which} snapshot; a churn model needs at least "
              "{minimum} — the history is too short for the horizon or there are too few buyers",
        "zh": "流失预警：{which}快照只有 {n:,} 位成交客户，流失模型至少需要 {minimum} 位——"
              "历史数据比预测期短，或成交客户太少"},
    "nc.churn_few_buyers_on": {
        "en": "churn: only {n:,} buyer(s) at the {which} snapshot ({date}); a churn model needs "
              "at least {minimum} — the history is too short for the horizon or there are too "
              "few buyers",
        "zh": "流失预警：{which}快照（{date}）只有 {n:,} 位成交客户，流失模型至少需要 {minimum} "
              "位——历史数据比预测期短，或成交客户太少"},
    "nc.snapshot_earlier": {"en": "earlier", "zh": "较早的"},
    "nc.snapshot_later": {"en": "later", "zh": "较晚的"},
    "nc.churn_few_outcomes": {
        "en": "churn: in {where} {left:,} buyer(s) churned and {stayed:,} stayed; at least "
              "{minimum} of each are needed to learn and grade churn",
        "zh": "流失预警：{where}中 {left:,} 位成交客户流失、{stayed:,} 位留存；学习和评估流失"
              "需要两类各至少 {minimum} 位"},
    "nc.where_backtest_training": {"en": "the backtest's training snapshot",
                                   "zh": "回测的训练快照"},
    "nc.where_backtest_test": {"en": "the backtest's test snapshot", "zh": "回测的检验快照"},
    "nc.where_training": {"en": "the training snapshot", "zh": "训练快照"},
    "nc.rfm_no_spend": {
        "en": "RFM classes: no buyer with a positive net spend (every order was refunded or "
              "there are no orders)",
        "zh": "RFM 分类：没有净消费为正的客户（所有订单都已退款，或没有订单）"},
    "nc.clusters_no_buyers": {"en": "behavioural clusters: no buyers to cluster",
                              "zh": "行为聚类：没有可聚类的成交客户"},
    "index.title": {"en": "custops report", "zh": "custops 客户运营报告"},
    "index.as_of": {"en": "as of", "zh": "截至"},
    "index.data": {"en": "data", "zh": "数据"},
    "index.finished": {"en": "finished", "zh": "完成于"},
    "index.exports": {"en": "Files for the operators:", "zh": "运营文件："},
    "index.key_numbers": {"en": "Key numbers", "zh": "关键数字"},
    "index.change": {"en": "change since the run as of {as_of}",
                     "zh": "与截至 {as_of} 的上次运行相比"},
    "index.tomorrow": {"en": "What to do tomorrow", "zh": "明天要做的事"},
    "index.reports": {"en": "Reports", "zh": "报告"},
    # a time zone shown with a time: its name (ZONES) and offset, else the offset alone
    "index.zone_named": {"en": "{name}, {offset}", "zh": "{name}"},
    "index.seconds": {"en": "{seconds:.1f} s", "zh": "{seconds:.1f} 秒"},
    "digest.customers": {"en": "Customers", "zh": "客户数"},
    "digest.active_buyers": {"en": "Active buyers", "zh": "活跃购买客户"},
    "digest.revenue_365d": {"en": "Net revenue, last 365 days", "zh": "近 365 天净收入"},
    "digest.at_risk_value": {"en": "Value at risk (active buyers at high or medium risk)",
                             "zh": "流失风险价值（高、中风险的活跃客户）"},
    "digest.churned_value": {"en": "Value of churned buyers to recall",
                             "zh": "待召回的已流失客户价值"},
    "digest.contacts_planned": {"en": "Contacts planned", "zh": "计划触达人次"},
    "digest.plan_cost": {"en": "Cost of the plan", "zh": "触达成本"},
    "digest.expected_incremental_revenue": {"en": "Expected incremental revenue (prediction)",
                                            "zh": "预期增量收入（预测）"},
    "digest.unchanged": {"en": "unchanged", "zh": "无变化"},
    "digest.no_previous": {"en": "first run in this folder", "zh": "此文件夹的首次运行"},
    "digest.action_plan": {
        "en": "Approve the reach plan: {n:,} contacts, cost {cost}, expected incremental "
              "revenue {revenue}.",
        "zh": "审批触达计划：{n:,} 人次，成本 {cost}，预期增量收入 {revenue}。"},
    "digest.action_retain": {
        "en": "Retain {n:,} active buyers at risk, highest value saved first ({value} at stake).",
        "zh": "挽留 {n:,} 位有流失风险的活跃客户，按可挽回价值从高到低（涉及价值 {value}）。"},
    "digest.action_recall": {
        "en": "Recall {n:,} buyers who already churned, high value first ({value}).",
        "zh": "召回 {n:,} 位已流失客户，高价值优先（涉及价值 {value}）。"},
    "digest.action_channel": {
        "en": "Send the {channel} list: {n:,} contacts, cost {cost}.",
        "zh": "发送{channel}名单：{n:,} 人次，成本 {cost}。"},
    "digest.action_control": {
        "en": "Do not contact the {n:,} customers of the control group (they measure the "
              "plan's effect).",
        "zh": "不要触达对照组的 {n:,} 位客户（用于衡量计划效果）。"},
    "health.not_fitted": {"en": "{model} could not be fitted: {reason}",
                          "zh": "{model} 无法拟合：{reason}"},
    "health.not_converged": {"en": "{model} did not converge; its numbers are not used",
                             "zh": "{model} 未收敛，其结果不用于决策"},
    "health.boundary": {"en": "{model} ran to a boundary ({limit}); when this is no_dropout, "
                              "the data show no evidence that customers stop buying, so "
                              "P(alive) is not informative here",
                        "zh": "{model} 的参数落在边界（{limit}）；若为 no_dropout，说明数据中看不到"
                              "客户停止购买的证据，P(存活) 在此不具参考价值"},
    "health.poorly_determined": {
        "en": "{model}: parameters poorly determined — the data pin down some combination of "
              "them only weakly (Hessian condition number above {threshold:,.0f}); read the "
              "parameters together, not one by one",
        "zh": "{model}：参数估计不稳定——数据只能弱地确定其中某些参数组合（海森矩阵条件数超过 "
              "{threshold:,.0f}）；请整体解读参数，不要逐个解读",
    },
    "health.few_repeat_buyers": {"en": "{model}: too few repeat buyers to fit reliably",
                                 "zh": "{model}：复购客户太少，无法可靠拟合"},
    "health.nonpositive_spend_excluded": {
        "en": "Gamma-Gamma: {count} repeat buyer(s) with zero or negative average spend were "
              "left out of the fit",
        "zh": "Gamma-Gamma：{count} 位平均复购金额为零或负的客户未参与拟合"},
    "health.spend_frequency_correlation": {
        "en": "Gamma-Gamma assumes spend does not depend on frequency, but they correlate "
              "({value:.2f}) here: read expected value with care",
        "zh": "Gamma-Gamma 假设客单价与购买频次无关，但此处二者相关（{value:.2f}）：预期价值"
              "仅供参考"},
    "health.value_from_average_order": {
        "en": "no usable Gamma-Gamma fit: expected value = expected orders × each buyer's own "
              "average order value",
        "zh": "Gamma-Gamma 不可用：预期价值 = 预期订单数 × 客户自身平均客单价"},
    "churn.btyd_unusable": {
        "en": "BG/NBD is not used on this data: {why}. P(alive), expected orders and expected "
              "value are not available (empty, not 0); churn risk comes from the backtest "
              "winner and priorities from each buyer's past spend over the value horizon.",
        "zh": "本数据不使用 BG/NBD：{why}。P(存活)、预期订单与预期价值不可用（留空，不是 0）；"
              "流失风险来自回测胜出的模型，优先级按客户在价值周期内的历史消费排序。"},
    "churn.btyd_model": {"en": "Buy-till-you-die model", "zh": "BTYD 模型"},
    "churn.usable": {"en": "Passes its health check", "zh": "通过健康检查"},
    "churn.predicted_orders": {"en": "Predicted repeat orders", "zh": "预测复购单数"},
    "churn.actual_orders": {"en": "Actual repeat orders", "zh": "实际复购单数"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "churn.btyd_compare_text": {
        "en": "The second table fits three buy-till-you-die models at the test date and grades "
              "each on the orders every buyer then placed (RMSE per customer; ★ the best "
              "usable one, the simpler on a tie). The scores below use BG/NBD.",
        "zh": "第二张表在测试日拟合三种 BTYD 模型，并用每位客户此后的实际下单评估（按客户的 "
              "均方根误差；★ 为通过健康检查中最好的模型，持平时取更简单者）。下方得分使用 BG/NBD。"},
    "churn.btyd_findings": {"en": "Health: {findings}.", "zh": "健康检查：{findings}。"},
    "health.title": {"en": "Health of this run", "zh": "本次运行的健康检查"},
    "health.none": {"en": "No warnings: every model and section ran on this data.",
                    "zh": "无警告：所有模型与分析均已在本数据上完成。"},
    "churn.exports_title": {"en": "Lists for the operators", "zh": "运营名单"},
    "churn.exports_text": {
        "en": "Written: {files} — the warning list (retain) and the recall list (win back), "
              "each in priority order, phones masked; match customers in your CRM by "
              "customer id.",
        "zh": "已生成：{files}——预警名单（挽留）与召回名单（唤回），均按优先级排序，手机号已"
              "脱敏；请按客户 ID 在 CRM 中匹配客户。"},
    "churn.value_at_stake": {"en": "Value to recall (¥)", "zh": "可召回价值（¥）"},
    "churn.customer": {"en": "Customer", "zh": "客户"},
    "churn.probability": {"en": "Churn probability", "zh": "流失概率"},
    "churn.expected_value": {"en": "Expected value (¥)", "zh": "预期价值（¥）"},
    "churn.reason": {"en": "Reason", "zh": "原因"},
    "churn.strategy": {"en": "Strategy", "zh": "策略"},
    "churn.tier": {"en": "Tier", "zh": "分级"},
    "churn.stage": {"en": "Stage", "zh": "阶段"},
    "churn.strategy_title": {"en": "Suggested strategies", "zh": "建议策略"},
    "churn.trend_title": {"en": "Churn over time (silent > {days} days)",
                          "zh": "流失趋势（超过 {days} 天未下单）"},
    "churn.newly": {"en": "Newly churned", "zh": "新增流失"},
    "churn.reactivated": {"en": "Reactivated", "zh": "召回"},
    "churn.rate": {"en": "Churn rate", "zh": "流失率"},
    "churn.trend_text": {
        "en": "{last_new:,} buyers churned in {last_month} ({change}); the churned share of all "
              "buyers is {rate:.0%}. The worst month was {peak_month} with {peak:,}.",
        "zh": "{last_month} 新增流失 {last_new:,} 人（{change}）；流失客户占全部成交客户的 "
              "{rate:.0%}。最严重的月份是 {peak_month}，新增流失 {peak:,} 人。",
    },
    "churn.vs_avg": {"en": "{diff:+.0%} vs the 12-month average", "zh": "较 12 个月均值 {diff:+.0%}"},
    "churn.model_supervised": {"en": "gradient boosting", "zh": "梯度提升"},
    "churn.model_btyd": {"en": "BG/NBD", "zh": "BG/NBD"},
    "churn.model_rfm_rule": {"en": "RFM rule (baseline)", "zh": "RFM 规则（基线）"},
    # reach (04)
    "reach.uplift_title": {"en": "Who a contact actually changes: uplift from past campaigns",
                           "zh": "触达真正能改变谁：基于历史活动的增量效果"},
    "reach.uplift_text": {
        "en": "Learned from {campaigns} randomized campaign(s) ({rows:,} campaign rows, treated "
              "and held out; larger histories are sampled). On held-out customers, targeting by the model's uplift gains a Qini of "
              "{qini:,.1f} incremental conversions over random targeting. Customers with negative "
              "uplift (contact makes them less likely to buy) are never contacted.",
        "zh": "基于 {campaigns} 个含对照组的随机活动（{rows:,} 条活动记录，含触达组与对照组；记录过多时抽样）学习。在留出客户上，按模型"
              "增量排序比随机触达多带来 Qini {qini:,.1f} 个增量转化。增量为负（打扰反而降低购买）"
              "的客户不会被触达。",
    },
    "reach.uplift_measured_channels": {
        "en": "Uplift per channel: measured in past campaigns for {measured} (each customer "
              "gets the best of the channel's arms); assumed for {assumed} (the campaigns' "
              "overall uplift × the channel's stated effect).",
        "zh": "各渠道增量：{measured} 为历史活动实测（每位客户取该渠道效果最好的方案）；"
              "{assumed} 为假设（历史活动的总体增量 × 该渠道设定的相对效果）。",
    },
    "reach.uplift_all_assumed": {
        "en": "Uplift per channel: the past campaigns do not say which channel each customer "
              "received, so every channel uses the campaigns' overall uplift × its stated "
              "effect (an assumption).",
        "zh": "各渠道增量：历史活动未记录每位客户的触达渠道，因此所有渠道都使用历史活动的"
              "总体增量 × 该渠道设定的相对效果（假设）。",
    },
    "reach.none": {"en": "none", "zh": "无"},
    "reach.assumed_text": {
        "en": "No randomized campaign history in the data: the plan uses ASSUMED uplifts per "
              "lifecycle stage (parameters, shown below). Run a campaign with a holdout to "
              "replace them with measured effects.",
        "zh": "数据中没有随机对照活动：计划使用按生命周期阶段的**假设**增量（参数见下表）。"
              "请带对照组开展一次活动，以实测效果替代假设。",
    },
    "reach.qini_x": {"en": "Share of customers targeted (by predicted uplift)",
                     "zh": "触达客户占比（按预测增量排序）"},
    "reach.qini_y": {"en": "Incremental conversions", "zh": "增量转化数"},
    "reach.model_curve": {"en": "Uplift model", "zh": "增量模型"},
    "reach.random_curve": {"en": "Random targeting", "zh": "随机触达"},
    "reach.plan_title": {"en": "The plan: contacts, cost and expected return per channel",
                         "zh": "触达计划：各渠道人数、成本与预期回报"},
    "reach.channel": {"en": "Channel", "zh": "渠道"},
    "reach.contacts": {"en": "Contacts", "zh": "触达人数"},
    "reach.cost": {"en": "Cost", "zh": "成本"},
    "reach.incremental": {"en": "Expected incremental revenue", "zh": "预期增量收入"},
    "reach.roi": {"en": "ROI", "zh": "投资回报率"},
    "reach.total": {"en": "Total", "zh": "合计"},
    "reach.plan_text": {
        "en": "Contact {contacts:,} customers for {cost:,.0f} (budget {budget:,.0f}); expected "
              "incremental revenue {revenue:,.0f}, ROI {roi:.1f}×. The plan is within "
              "{gap:.2%} of the best possible ({method}). A randomized holdout of {n_control:,} "
              "customers ({share:.0%}) is kept uncontacted so the effect can be measured: it "
              "detects a lift of {mde:.1%} or more (baseline conversion {baseline:.1%}).",
        "zh": "触达 {contacts:,} 位客户，成本 {cost:,.0f}（预算 {budget:,.0f}）；预期增量收入 "
              "{revenue:,.0f}，ROI {roi:.1f} 倍。该计划与理论最优相差不超过 {gap:.2%}（{method}）。"
              "随机保留 {n_control:,} 位客户（{share:.0%}）作为对照组不触达，用于衡量效果：可检测 "
              "{mde:.1%} 及以上的转化提升（基线转化率 {baseline:.1%}）。",
    },
    "reach.rule_consent": {"en": "No consent: {channel}", "zh": "未授权：{channel}"},
    "reach.rule_no_list": {"en": "No opt-out list in the data: {channel} (all allowed)",
                           "zh": "数据中无退订名单：{channel}（全部允许）"},
    "reach.rule_not_eligible": {"en": "Not eligible (consent, caps): {channel}",
                                "zh": "不可触达（授权、频次限制）：{channel}"},
    "reach.rule_fatigue": {"en": "Fatigue cap (7 days)", "zh": "疲劳度上限（7 天）"},
    "reach.rule_wecom_cap": {"en": "WeCom mass-message cap", "zh": "企业微信群发次数上限"},
    "reach.excluded_title": {"en": "Excluded by rule", "zh": "因规则排除"},
    "reach.rule": {"en": "Rule", "zh": "规则"},
    "reach.segment_title": {"en": "Plan by RFM class", "zh": "按 RFM 分类的计划"},
    "reach.curve_title": {"en": "Budget curve: where more budget stops paying",
                          "zh": "预算曲线：预算增加到哪里不再划算"},
    "reach.spend": {"en": "Spend", "zh": "花费"},
    "reach.net_value": {"en": "Incremental value net of cost", "zh": "扣除成本后的增量价值"},
    "reach.current_budget": {"en": "current budget", "zh": "当前预算"},
    "reach.curve_text": {
        "en": "At the current budget one more unit of spend returns {marginal:.1f} in net "
              "incremental value; beyond {saturation:,.0f} it returns less than 1.",
        "zh": "在当前预算下，每多花 1 元可带来 {marginal:.1f} 元净增量价值；超过 {saturation:,.0f} "
              "后回报低于 1。",
    },
    "reach.curve_sampled": {
        "en": "(Curve estimated on a random sample of {n:,} customers, scaled up; the plan "
              "above uses everyone.)",
        "zh": "（曲线基于随机抽取的 {n:,} 位客户估算并按比例放大；上方计划使用全部客户。）",
    },
    "reach.time_title": {"en": "Send times (before each customer's habit, outside quiet hours)",
                         "zh": "发送时间（在客户习惯之前、勿扰时段之外）"},
    "reach.time_text": {
        "en": "Messages go out {lead} minutes before each customer's usual hour, never between "
              "{quiet_start}:00 and {quiet_end}:00. Most common slot: {top}.",
        "zh": "消息在客户习惯时段前 {lead} 分钟发出，{quiet_start}:00 至 {quiet_end}:00 不发送。"
              "最常见时段：{top}。",
    },
    "reach.readout_title": {"en": "Readout of finished campaigns", "zh": "已完成活动复盘"},
    "reach.campaign": {"en": "Campaign", "zh": "活动"},
    "reach.lift": {"en": "Lift (95% CI)", "zh": "提升（95% 置信区间）"},
    "reach.rates": {"en": "Conversion treated / control", "zh": "转化率 实验组 / 对照组"},
    "reach.readout_text": {
        "en": "{campaign}: conversion {rate_t:.1%} contacted vs {rate_c:.1%} holdout, lift "
              "{lift:+.1%} (95% CI {low:+.1%} to {high:+.1%}); incremental revenue "
              "{revenue:,.0f}.",
        "zh": "{campaign}：触达组转化率 {rate_t:.1%}，对照组 {rate_c:.1%}，提升 {lift:+.1%}"
              "（95% 置信区间 {low:+.1%} 至 {high:+.1%}）；增量收入 {revenue:,.0f}。",
    },
    "reach.exports_title": {"en": "Contact lists", "zh": "触达名单"},
    "reach.exports_text": {
        "en": "Files for the operators (CSV with every contact for tools; Excel for people, the "
              "first {rows:,} contacts per channel sheet; phones masked): {files}",
        "zh": "供运营使用的文件（CSV 含全部名单，用于导入工具；Excel 便于查看，每个渠道工作表含前 "
              "{rows:,} 人；手机号已脱敏）：{files}",
    },
    # dashboards
    "dash.intro": {"en": "Interactive view · data as of {as_of} · {source}",
                   "zh": "交互视图 · 数据截至 {as_of} · {source}"},
    "dash.source_run": {"en": "report {run}", "zh": "报告 {run}"},
    "dash.source_data": {"en": "computed from {data}", "zh": "由 {data} 计算"},
    "dash.below": {"en": "The full report follows below the panel.",
                   "zh": "完整报告见面板下方。"},
    "dash.view": {"en": "View", "zh": "视图"},
    "dash.all": {"en": "All", "zh": "全部"},
    "dash.reset": {"en": "Reset filters", "zh": "重置筛选"},
    "dash.rfm_class": {"en": "RFM class", "zh": "RFM 分类"},
    "dash.value_tier": {"en": "Value tier", "zh": "价值分级"},
    "dash.lifecycle_stage": {"en": "Lifecycle stage", "zh": "生命周期阶段"},
    "dash.orders_between": {"en": "Orders in", "zh": "订单月份"},
    "dash.last_order_between": {"en": "Last order in", "zh": "最近下单月份"},
    "dash.net_revenue": {"en": "Net revenue", "zh": "净收入"},
    "dash.top_tiers": {"en": "VIP + large", "zh": "VIP + 大客户"},
    "dash.value_at_risk": {"en": "Expected value at risk", "zh": "风险客户预期价值"},
    "dash.empty": {"en": "No customers match these filters.",
                   "zh": "没有符合筛选条件的客户。"},
    "dash.failed": {"en": "This view cannot be drawn for the selected customers; widen the "
                          "filters.",
                    "zh": "所选客户无法生成该视图，请放宽筛选条件。"},
    "dash.download": {"en": "Download priority list (CSV)", "zh": "下载优先级名单（CSV）"},
    "dash.budget": {"en": "Budget (CNY)", "zh": "预算（元）"},
    "dash.capacity": {"en": "Most contacts per channel for this campaign (0 switches a channel "
                            "off); the plan is re-optimized on every change.",
                      "zh": "本次活动各渠道最多触达人数（设为 0 即关闭该渠道）；每次调整都会重新优化计划。"},
    "dash.download_contacts": {"en": "Download contact list (CSV)",
                               "zh": "下载触达名单（CSV）"},
    "dash.contacts_title": {"en": "Contact list: first {rows} of {total:,}",
                            "zh": "触达名单：共 {total:,} 人，显示前 {rows} 人"},
    "dash.holdout": {"en": "Holdout (not contacted)", "zh": "对照组（不触达）"},
    "dash.send_time": {"en": "Send time", "zh": "发送时间"},
    "dash.wecom_tags": {"en": "WeCom tags", "zh": "企业微信标签"},
    "dash.group": {"en": "Group", "zh": "分组"},
    "dash.phone": {"en": "Phone (masked)", "zh": "手机号（已脱敏）"},
    "dash.rank": {"en": "Priority rank", "zh": "优先级排名"},
    "dash.risk_band": {"en": "Risk band", "zh": "风险等级"},
    "dash.landing_title": {"en": "Customer operations dashboards", "zh": "客户运营看板"},
    "dash.landing_run": {"en": "Showing report {run}: data as of {as_of}, finished {finished}.",
                         "zh": "当前报告 {run}：数据截至 {as_of}，生成于 {finished}。"},
    "dash.landing_no_run": {"en": "No finished report: each dashboard computes from {data}.",
                            "zh": "没有已完成的报告：各看板直接由 {data} 计算。"},
    "dash.busy_title": {"en": "Dashboards busy", "zh": "看板繁忙"},
    "dash.busy_text": {"en": "Every dashboard kernel is in use right now. This page retries by "
                               "itself in a few seconds; no need to reload.",
                       "zh": "看板的计算资源暂时全部占用。本页会在几秒后自动重试，无需手动刷新。"},
    "cluster.high": {"en": "high {feature}", "zh": "{feature}高"},
    "cluster.low": {"en": "low {feature}", "zh": "{feature}低"},
    "cluster.average": {"en": "close to average", "zh": "接近平均"},
    "feat.days_since_last_order": {"en": "days since last order", "zh": "未下单天数"},
    "feat.order_days": {"en": "order days", "zh": "下单天数"},
    "feat.net_spend": {"en": "spend", "zh": "消费额"},
    "feat.avg_order_value": {"en": "basket size", "zh": "客单价"},
    "feat.mean_gap_days": {"en": "gap between orders", "zh": "下单间隔"},
    "feat.events_total": {"en": "engagement", "zh": "互动"},
    # report openings: what each notebook answers (shown in the run's language)
    "intro.01_profile": {
        "en": "Who are our customers, how is value spread among them, and how do they come "
              "back? This is the first rung of the data ladder — describe — learning needs from "
              "what customers did, not from asking them: how many customers are real and "
              "active, how concentrated value is (the 2/8 rule), what high-value buyers look "
              "like, when people order, how cohorts retain, where the repurchase magic numbers "
              "are, and which acquisition channels bring customers who stay.",
        "zh": "我们的客户是谁、价值如何分布、他们如何回购？这是数据阶梯的第一级——描述：从行为而不是"
              "问卷了解需求。本报告回答：真实活跃的客户有多少、价值集中度（二八原则）、高价值客户画像、"
              "下单时间、同期群留存、复购魔法数字，以及哪些获客渠道带来留得住的客户。",
    },
    "intro.02_segment": {
        "en": "The core framework of customer operations: every later action — whom to save, "
              "whom to reach, with what — is chosen per segment. Which of the eight RFM classes "
              "each buyer is in and what to do with each; how value splits across small / "
              "medium / large / VIP tiers; which prospects are worth converting; where each "
              "customer is in the lifecycle; who the true fans are; and who moved where over "
              "the last quarter.",
        "zh": "分级、分类、分阶段是用户运营的核心框架：后续的挽留与触达都按分群选择。本报告给出 RFM "
              "八类客户及运营重点、小/中/大/VIP 价值分级、潜在客户 A/B/C/D 分级、生命周期阶段"
              "（新手期 → 成长期 → 成熟期 → 衰退期 → 流失期）、铁杆粉丝，以及近一个季度的分群迁移。",
    },
    "intro.03_churn": {
        "en": "Who is about to stop buying, how sure are we, why, and what should we do — "
              "high-value customers first. Three buy-till-you-die models (BG/NBD, Modified "
              "BG/NBD, Pareto/NBD; the one that best predicts a holdout period scores, with "
              "Gamma-Gamma spend) and a gradient-boosted classifier trained on this company's own "
              "history score every buyer; both are backtested against a plain RFM rule, and the "
              "best one drives the risk bands.",
        "zh": "谁即将停止购买、把握有多大、原因是什么、应该怎么做——优先挽留高价值客户。BTYD 模型"
              "（BG/NBD、改进 BG/NBD、Pareto/NBD 三者中预测留出期订单最准的一个，配合 Gamma-Gamma 消费模型）"
              "与基于本公司历史训练的梯度提升模型同时为每位客户打分；两者都"
              "经过回测（一个周期前拟合，用此后真实行为评估）并与 RFM 规则基线比较，效果最好的模型"
              "决定风险分层。",
    },
    "intro.04_reach": {
        "en": "The right message to the right customer at the right time — without harassing "
              "anyone — and proof afterwards that it worked: which customers a contact actually "
              "changes (uplift from past randomised campaigns), whom to contact by which channel "
              "within budget, capacity, consent, fatigue caps and quiet hours, when to send, how "
              "large a holdout must stay uncontacted, where more budget stops paying, and what "
              "finished campaigns returned. The contact lists are written for the operators' "
              "tools.",
        "zh": "把合适的信息在合适的时间发给合适的客户——不打扰——并在事后证明有效。本报告回答：触达真正"
              "能改变哪些客户（基于历史随机活动的增量模型）、在预算、渠道容量、授权、疲劳度和勿扰时段"
              "约束下通过哪个渠道触达谁、何时发送、需要保留多大的对照组来衡量效果、预算增加到哪里不再"
              "划算，以及已完成活动的真实回报。触达名单可直接导入运营工具。",
    },
    "attr.section_title": {"en": "Who the high-value buyers are", "zh": "高价值客户画像"},
    "attr.figure_title": {"en": "Share of buyers by attribute: high-value vs other buyers",
                          "zh": "各属性的客户占比：高价值客户与其他成交客户"},
    "seg.cluster_profile": {"en": "What sets each cluster apart: feature means relative to all "
                                  "buyers (1 = average)",
                            "zh": "各客群的特点：特征均值相对全部成交客户（1 = 平均）"},
    "seg.cluster_ratio": {"en": "× average", "zh": "相对平均"},
    "cname.days_since_last_order.high": {"en": "dormant", "zh": "沉睡"},
    "cname.days_since_last_order.low": {"en": "recent", "zh": "近期活跃"},
    "cname.order_days.high": {"en": "frequent", "zh": "高频"},
    "cname.order_days.low": {"en": "infrequent", "zh": "低频"},
    "cname.net_spend.high": {"en": "high spend", "zh": "高消费"},
    "cname.net_spend.low": {"en": "low spend", "zh": "低消费"},
    "cname.avg_order_value.high": {"en": "big basket", "zh": "高客单"},
    "cname.avg_order_value.low": {"en": "small basket", "zh": "低客单"},
    "cname.mean_gap_days.high": {"en": "long gaps", "zh": "长间隔"},
    "cname.mean_gap_days.low": {"en": "short gaps", "zh": "短间隔"},
    "cname.events_total.high": {"en": "engaged", "zh": "高互动"},
    "cname.events_total.low": {"en": "low engagement", "zh": "低互动"},
    "cname.average": {"en": "average buyers", "zh": "普通客户"},
    "churn.log_likelihood": {"en": "Log-likelihood", "zh": "对数似然"},
    "churn.rmse": {"en": "RMSE", "zh": "均方根误差"},
    "churn.palive_axis": {"en": "P(alive): chance the buyer is still active",
                          "zh": "存活概率（客户仍在购买的概率）"},
    "churn.rank_note": {"en": "# counts only the customers this list holds.",
                        "zh": "# 为本名单内的排名。"},
    "btyd.bgnbd.r": {"en": "BG/NBD r — shape of purchase rates across buyers",
                     "zh": "BG/NBD r：客户购买频率分布的形状"},
    "btyd.bgnbd.alpha": {"en": "BG/NBD alpha — scale of purchase rates (days)",
                         "zh": "BG/NBD α：客户购买频率分布的尺度（天）"},
    "btyd.bgnbd.a": {"en": "BG/NBD a — drop-out chance after a purchase (first shape)",
                     "zh": "BG/NBD a：每次购买后流失概率分布的第一个形状参数"},
    "btyd.bgnbd.b": {"en": "BG/NBD b — drop-out chance after a purchase (second shape)",
                     "zh": "BG/NBD b：每次购买后流失概率分布的第二个形状参数"},
    "btyd.gamma_gamma.p": {"en": "Gamma-Gamma p — shape of one order's spend",
                           "zh": "Gamma-Gamma p：单笔订单金额分布的形状"},
    "btyd.gamma_gamma.q": {"en": "Gamma-Gamma q — shape of average spend across buyers",
                           "zh": "Gamma-Gamma q：客户平均消费分布的形状"},
    "btyd.gamma_gamma.gamma": {"en": "Gamma-Gamma gamma — scale of average spend across buyers",
                               "zh": "Gamma-Gamma γ：客户平均消费分布的尺度"},
    "exports.scratch": {"en": "This notebook runs on its own: its files are written to {path}",
                        "zh": "本笔记本单独运行：导出文件写入 {path}"},
    "reach.holdout_n": {"en": "Holdout (not contacted)", "zh": "对照组人数（未触达）"},
    "reach.method.lagrangian": {"en": "Lagrangian method", "zh": "拉格朗日松弛法"},
    "reach.method.milp": {"en": "mixed-integer program", "zh": "混合整数规划"},
    # exports: contact lists and the plan page (exports engineer)
    "exports.col_customer_id": {"en": "customer_id", "zh": "客户ID"},
    "exports.col_phone": {"en": "phone", "zh": "手机号"},
    "exports.col_email": {"en": "email", "zh": "邮箱"},
    "exports.col_wecom_external_id": {"en": "wecom_external_userid", "zh": "外部联系人ID"},
    "exports.col_wecom_owner": {"en": "wecom_owner_userid", "zh": "跟进员工ID"},
    "exports.col_push_token": {"en": "push_token", "zh": "推送设备令牌"},
    "exports.col_wecom_tags": {"en": "wecom_tags", "zh": "企业微信标签"},
    "exports.col_send_date": {"en": "send_date", "zh": "发送日期"},
    "exports.col_send_time": {"en": "send_time", "zh": "发送时间"},
    "exports.col_time_zone": {"en": "time_zone", "zh": "时区"},
    "exports.col_strategy": {"en": "strategy", "zh": "策略"},
    "exports.col_reason": {"en": "reason", "zh": "原因"},
    "exports.col_segment": {"en": "segment", "zh": "客户分类"},
    "exports.col_lifecycle_stage": {"en": "lifecycle_stage", "zh": "生命周期阶段"},
    "exports.col_value_tier": {"en": "value_tier", "zh": "价值分级"},
    "exports.col_expected_incremental_revenue": {"en": "expected_incremental_revenue",
                                                 "zh": "预期增量收入（元）"},
    "exports.col_channel": {"en": "channel", "zh": "渠道"},
    "exports.col_group": {"en": "group", "zh": "分组"},
    "exports.prospect_segment": {"en": "Prospect ({grade})", "zh": "潜在客户（{grade}）"},
    "exports.reason_prospect": {"en": "never ordered yet ({segment}); a first-order offer",
                                "zh": "尚未下单（{segment}），适合首单转化"},
    "exports.reason_uplift": {"en": "the uplift model expects a contact to raise their "
                                    "conversion", "zh": "增量模型预计触达能提升其转化"},
    "reach.rule_no_contact": {"en": "No contact key in the data: {channel}",
                              "zh": "缺少联系方式：{channel}"},
    "reach.rule_no_contact_column": {
        "en": "No contact column in the data: {channel} (the list carries customer ids to "
              "match in your tool)",
        "zh": "数据中无该联系方式列：{channel}（名单只含客户ID，请在工具中按客户ID匹配）"},
    "reach.measured_revenue": {"en": "Measured incremental revenue", "zh": "实测增量收入"},
    "reach.roi_defined": {"en": "ROI = incremental revenue × margin ({margin:.0%}) ÷ cost",
                          "zh": "投资回报率 = 增量收入 × 毛利率（{margin:.0%}）÷ 成本"},
    "reach.n_control": {"en": "Holdout", "zh": "对照组人数"},
    "plan.title": {"en": "Reach plan for {date}", "zh": "{date} 触达计划"},
    "plan.subtitle": {"en": "Data as of {as_of} · campaign {campaign} · for approval",
                      "zh": "数据截至 {as_of} · 活动 {campaign} · 待审批"},
    "plan.summary": {"en": "Summary", "zh": "摘要"},
    "plan.by_channel": {"en": "Contacts per channel", "zh": "各渠道触达"},
    "plan.rules": {"en": "Rules applied", "zh": "执行的规则"},
    "plan.contacts": {"en": "Contacts", "zh": "触达人数"},
    "plan.cost": {"en": "Cost (budget {budget})", "zh": "成本（预算 {budget}）"},
    "plan.revenue": {"en": "Expected incremental revenue (prediction)",
                     "zh": "预期增量收入（预测）"},
    "plan.interval": {"en": "Likely range (90%)", "zh": "可能区间（90%）"},
    "plan.roi": {"en": "ROI", "zh": "投资回报率"},
    "plan.holdout": {"en": "Holdout (not contacted, measures the effect)",
                     "zh": "对照组（不触达，用于衡量效果）"},
    "plan.holdout_value": {"en": "{n:,} customers ({share:.0%}); detects a lift of {mde:.1%}",
                           "zh": "{n:,} 人（{share:.0%}），可检测 {mde:.1%} 的提升"},
    "plan.excluded": {"en": "Excluded", "zh": "排除"},
    "plan.rule_caps": {"en": "Contact caps: at most {touches} touches per customer in 7 days; "
                             "WeCom mass messages {per_day} a day",
                       "zh": "频次上限：每位客户 7 天内最多 {touches} 次；企业微信群发每天 {per_day} 次"},
    "plan.rule_quiet": {"en": "Quiet hours: nothing sent from {start} to {end} (customer's "
                              "time, {zone}); each send {lead} minutes before the customer's "
                              "usual hour",
                        "zh": "勿扰时段：{start} 至 {end} 不发送（客户当地时间，{zone}）；"
                              "在客户习惯时段前 {lead} 分钟发送"},
    "plan.rule_consent": {"en": "Consent: only customers who allowed the channel",
                          "zh": "授权：仅触达允许该渠道的客户"},
    "plan.rule_contact": {"en": "Contact key: only customers with the phone, e-mail or WeCom "
                                "id the channel needs",
                          "zh": "联系方式：仅触达有该渠道所需手机号、邮箱或企微ID的客户"},
    "plan.rule_optimizer": {"en": "Optimizer: {method}, within {gap} of the best plan",
                            "zh": "优化方法：{method}，与最优方案相差不超过 {gap}"},
    "plan.uplift_model": {"en": "Uplift learned from past randomized campaigns",
                          "zh": "增量效果来自历史随机对照活动"},
    "plan.uplift_assumed": {"en": "Uplift ASSUMED per lifecycle stage (no campaign history)",
                            "zh": "增量效果为按生命周期阶段的假设值（无历史活动）"},
    "plan.files": {"en": "Lists: {files}", "zh": "名单文件：{files}"},
    "plan.approved": {"en": "Approved by / date", "zh": "审批人 / 日期"},
    "plan.sheet": {"en": "Plan", "zh": "计划"},
    "plan.sheet_control": {"en": "Holdout", "zh": "对照组"},
    "reach.plan_text_money": {
        "en": "Contact {contacts:,} customers for {cost} (budget {budget}); expected "
              "incremental revenue {revenue}, ROI {roi}. The plan is within "
              "{gap:.2%} of the best possible ({method}). A randomized holdout of {n_control:,} "
              "customers ({share:.0%}) is kept uncontacted so the effect can be measured: it "
              "detects a lift of {mde:.1%} or more (baseline conversion {baseline:.1%}). {roi_defined}.",
        "zh": "触达 {contacts:,} 位客户，成本 {cost}（预算 {budget}）；预期增量收入 "
              "{revenue}，投资回报率 {roi}。该计划与理论最优相差不超过 {gap:.2%}（{method}）。"
              "随机保留 {n_control:,} 位客户（{share:.0%}）作为对照组不触达，用于衡量效果：可检测 "
              "{mde:.1%} 及以上的转化提升（基线转化率 {baseline:.1%}）。{roi_defined}。",
    },
    "reach.curve_text_plan": {
        "en": "At the budget of {budget} the plan spends {spend} on the customers it contacts "
              "(the holdout is not contacted) for a net incremental value of {net}; one more "
              "yuan spent on contacts there returns {marginal} net.",
        "zh": "预算 {budget} 时，计划在触达客户上花费 {spend}（对照组不触达），扣除成本后的增量价值为 "
              "{net}；此时每多花 1 元可再带来 {marginal} 净增量价值。",
    },
    "reach.curve_beyond": {
        "en": "Beyond a spend of {spend} (budget {budget}) one more yuan returns less than ¥1 net.",
        "zh": "花费超过 {spend}（预算 {budget}）后，每多花 1 元带来的净增量价值低于 1 元。",
    },
    "reach.curve_all_pay": {
        "en": "Up to a budget of {budget} each extra yuan still returns at least ¥1 net.",
        "zh": "预算直到 {budget}，每多花 1 元仍能带来至少 1 元净增量价值。",
    },
    "reach.net_value_contacted": {"en": "Net incremental value of the contacted customers",
                                  "zh": "触达客户扣除成本后的增量价值"},
    "reach.budget_axis": {"en": "Budget", "zh": "预算"},
    "reach.exports_text_lists": {
        "en": "Files for the operators, in `{folder}`: {files}. `plan.xlsx` / `plan.html` is the "
              "one-page plan to approve (its list sheets show contact keys masked, the first "
              "{rows:,} rows each). Each `contacts_<channel>.csv` is that channel's full list for "
              "its tool, with the phone, e-mail or WeCom id in full: personal data, readable by "
              "the report's owner only. `control_list.csv` is the holdout: do not contact.",
        "zh": "供运营使用的文件（位于 `{folder}`）：{files}。`plan.xlsx` / `plan.html` 是待审批的一页计划"
              "（其名单工作表中联系方式已脱敏，每个渠道前 {rows:,} 行）。每个 `contacts_<渠道>.csv` 是该渠道"
              "工具可直接导入的完整名单，含完整手机号、邮箱或企微ID：属于个人信息，仅报告所有者可读。"
              "`control_list.csv` 是对照组：请勿触达。",
    },
    "plan.subtitle_plain": {"en": "Data as of {as_of} · for approval",
                            "zh": "数据截至 {as_of} · 待审批"},
    "reach.readout_text_money": {
        "en": "{campaign}: conversion {rate_t:.1%} contacted vs {rate_c:.1%} holdout, lift "
              "{lift:+.1%} (95% CI {low:+.1%} to {high:+.1%}); measured incremental revenue "
              "{revenue}.",
        "zh": "{campaign}：触达组转化率 {rate_t:.1%}，对照组 {rate_c:.1%}，提升 {lift:+.1%}"
              "（95% 置信区间 {low:+.1%} 至 {high:+.1%}）；实测增量收入 {revenue}。",
    },
    "plan.per_contact": {"en": "Cost per contact", "zh": "单次成本"},
    "plan.total": {"en": "Total", "zh": "合计"},
}

# Operating focus per segment (DOMAIN.md and the seeds).
FOCUS: dict[str, dict[str, str]] = {
    "important_value": {"en": "Keep them: VIP service, exclusive perks, early access",
                        "zh": "重点维护：VIP 服务、专属权益、新品优先"},
    "important_development": {"en": "Raise frequency: membership, points, cross-sell",
                              "zh": "提升频次：会员、积分、交叉销售"},
    "important_retention": {"en": "Win back actively: 1:1 call-back, personal offer",
                            "zh": "主动挽回：一对一回访、个性化优惠"},
    "important_winback": {"en": "Recall with a strong incentive before they are gone",
                          "zh": "强激励召回，防止彻底流失"},
    "general_value": {"en": "Grow the basket: bundles, upsell", "zh": "提升客单价：组合购、升级推荐"},
    "general_development": {"en": "Nurture: newcomer coupons, first repeat (破零)",
                            "zh": "培育：新客券、促成首次复购（破零）"},
    "general_retention": {"en": "Low-cost reminders (push, mass messages)",
                          "zh": "低成本提醒（推送、群发）"},
    "general_winback": {"en": "Low priority: low-cost mass reach only",
                        "zh": "低优先级：仅低成本批量触达"},
    "newcomer": {"en": "Guidance, first repeat (破零), newcomer perks",
                 "zh": "新手引导、促成首次复购（破零）、新人福利"},
    "growth": {"en": "Build stickiness: coupons, points, tasks, tiers",
               "zh": "培养粘性：优惠券、积分、任务、等级"},
    "mature": {"en": "Raise ARPU: frequency, basket, cross-category",
               "zh": "提升 ARPU：频次、客单价、跨品类"},
    "decline": {"en": "Early warning and retention", "zh": "预警与挽留"},
    "churned": {"en": "Recall high-value churned first", "zh": "优先召回高价值流失客户"},
}

# Category values shown to users (segments, stages, channels...): value -> {lang: label}.
VALUES: dict[str, dict[str, str]] = {
    # reach channels
    "push": {"en": "App push", "zh": "App 推送"},
    "sms": {"en": "SMS", "zh": "短信"},
    "wecom_1v1": {"en": "WeCom 1:1", "zh": "企业微信一对一"},
    "wecom_mass": {"en": "WeCom mass message", "zh": "企业微信群发"},
    "email": {"en": "E-mail", "zh": "邮件"},
    "phone": {"en": "Phone call-back", "zh": "电话回访"},
    "wecom": {"en": "WeCom", "zh": "企业微信"},
    "treatment": {"en": "Contacted", "zh": "触达组"},
    "control": {"en": "Holdout", "zh": "对照组"},
    # churn risk bands and strategies
    "high_risk": {"en": "High risk", "zh": "高风险"},
    "medium_risk": {"en": "Medium risk", "zh": "中风险"},
    "low_risk": {"en": "Low risk", "zh": "低风险"},
    "already_churned": {"en": "Already churned", "zh": "已流失"},
    "recall_high_value": {"en": "Recall (high value): phone/SMS with a reward",
                          "zh": "高价值召回：电话/短信 + 奖励"},
    "recall_low_cost": {"en": "Low-cost recall: push or mass message",
                        "zh": "低成本召回：推送或群发"},
    "onboarding": {"en": "New-user churn: fix onboarding, first-repeat coupon",
                   "zh": "新用户流失：优化新手引导、首次复购券"},
    "service_callback": {"en": "Service: call back, ask what they need",
                         "zh": "服务策略：回访、了解需求"},
    "price_subsidy": {"en": "Price: targeted subsidy", "zh": "价格策略：定向补贴"},
    "product_offer": {"en": "Product: differentiated offer for their group",
                      "zh": "产品策略：差异化推荐"},
    "monitor": {"en": "Monitor", "zh": "持续观察"},
    # RFM classes (DOMAIN.md)
    "important_value": {"en": "Important value", "zh": "重要价值客户"},
    "important_development": {"en": "Important development", "zh": "重要发展客户"},
    "important_retention": {"en": "Important retention", "zh": "重要保持客户"},
    "important_winback": {"en": "Important win-back", "zh": "重要挽留客户"},
    "general_value": {"en": "General value", "zh": "一般价值客户"},
    "general_development": {"en": "General development", "zh": "一般发展客户"},
    "general_retention": {"en": "General retention", "zh": "一般保持客户"},
    "general_winback": {"en": "General win-back", "zh": "一般挽留客户"},
    # value tiers, prospect grades, classes, stages
    "vip": {"en": "VIP", "zh": "VIP"},
    "large": {"en": "Large", "zh": "大客户"},
    "medium": {"en": "Medium", "zh": "中客户"},
    "small": {"en": "Small", "zh": "小客户"},
    "A": {"en": "Grade A", "zh": "A级"},
    "B": {"en": "Grade B", "zh": "B级"},
    "C": {"en": "Grade C", "zh": "C级"},
    "D": {"en": "Grade D", "zh": "D级"},
    "prospect": {"en": "Prospect", "zh": "潜在客户"},
    "ordinary": {"en": "Ordinary", "zh": "普通客户"},
    "loyal": {"en": "Loyal", "zh": "忠诚客户"},
    "lost": {"en": "Lost", "zh": "流失客户"},
    "newcomer": {"en": "Newcomer", "zh": "新手期"},
    "growth": {"en": "Growth", "zh": "成长期"},
    "mature": {"en": "Mature", "zh": "成熟期"},
    "decline": {"en": "Decline", "zh": "衰退期"},
    "churned": {"en": "Churned", "zh": "流失期"},
    "new": {"en": "New since then", "zh": "期间新增"},
    "none": {"en": "Not a buyer", "zh": "未成交"},
    "pool": {"en": "Customer pool (私域)", "zh": "客户池（私域）"},
    "buyers": {"en": "Buyers", "zh": "成交客户"},
    "repeat": {"en": "Repeat buyers", "zh": "复购客户"},
    "true_fans": {"en": "True fans", "zh": "铁杆粉丝"},
    "M": {"en": "Male", "zh": "男"},
    "F": {"en": "Female", "zh": "女"},
    # order channels
    "app": {"en": "App", "zh": "App"},
    "mini_program": {"en": "Mini-program", "zh": "小程序"},
    "web": {"en": "Web", "zh": "网页"},
    "store": {"en": "Store", "zh": "门店"},
    # categories
    "fresh": {"en": "Fresh food", "zh": "生鲜"},
    "snacks": {"en": "Snacks", "zh": "零食"},
    "beauty": {"en": "Beauty", "zh": "美妆"},
    "home": {"en": "Home", "zh": "家居"},
    "apparel": {"en": "Apparel", "zh": "服饰"},
    "digital": {"en": "Digital", "zh": "数码"},
    "baby": {"en": "Mother & baby", "zh": "母婴"},
    # acquisition channels
    "organic": {"en": "Organic", "zh": "自然流量"},
    "search_ads": {"en": "Search ads", "zh": "搜索广告"},
    "douyin": {"en": "Douyin ads", "zh": "抖音广告"},
    "wechat_referral": {"en": "WeChat referral", "zh": "微信转介绍"},
    "offline_store": {"en": "Offline store", "zh": "线下门店"},
    "kol": {"en": "KOL", "zh": "达人推广"},
    # occupations
    "office_worker": {"en": "Office worker", "zh": "白领"},
    "student": {"en": "Student", "zh": "学生"},
    "freelancer": {"en": "Freelancer", "zh": "自由职业"},
    "civil_servant": {"en": "Civil servant", "zh": "公务员"},
    "retired": {"en": "Retired", "zh": "退休"},
    "self_employed": {"en": "Self-employed", "zh": "个体经营"},
    "unknown": {"en": "Unknown", "zh": "未知"},
    "other": {"en": "Other", "zh": "其他"},
    # exports: prospects' own strategy (exports engineer)
    "prospect_first_order": {"en": "First order: newcomer offer", "zh": "首单转化：新人礼包"},
}

# Display names of the common time zones (IANA name -> {lang: name}); any other zone is shown
# as its offset from UTC (``UTC+05:45``) by :func:`zone_name`.
_CHINA = {"en": "China time", "zh": "北京时间"}
ZONES: dict[str, dict[str, str]] = {
    "Asia/Shanghai": _CHINA, "Asia/Chongqing": _CHINA, "Asia/Chungking": _CHINA,
    "Asia/Harbin": _CHINA, "PRC": _CHINA,
    "Asia/Hong_Kong": {"en": "Hong Kong time", "zh": "香港时间"},
    "Asia/Macau": {"en": "Macau time", "zh": "澳门时间"},
    "Asia/Taipei": {"en": "Taipei time", "zh": "台北时间"},
    "Asia/Singapore": {"en": "Singapore time", "zh": "新加坡时间"},
    "Asia/Kuala_Lumpur": {"en": "Malaysia time", "zh": "马来西亚时间"},
    "Asia/Bangkok": {"en": "Bangkok time", "zh": "曼谷时间"},
    "Asia/Jakarta": {"en": "Jakarta time", "zh": "雅加达时间"},
    "Asia/Tokyo": {"en": "Japan time", "zh": "东京时间"},
    "Asia/Seoul": {"en": "Korea time", "zh": "首尔时间"},
    "Asia/Kolkata": {"en": "India time", "zh": "印度时间"},
    "Asia/Dubai": {"en": "Gulf time", "zh": "迪拜时间"},
    "Australia/Sydney": {"en": "Sydney time", "zh": "悉尼时间"},
    "Europe/London": {"en": "UK time", "zh": "伦敦时间"},
    "Europe/Paris": {"en": "Paris time", "zh": "巴黎时间"},
    "Europe/Berlin": {"en": "Berlin time", "zh": "柏林时间"},
    "Europe/Moscow": {"en": "Moscow time", "zh": "莫斯科时间"},
    "America/New_York": {"en": "US Eastern time", "zh": "美国东部时间"},
    "America/Chicago": {"en": "US Central time", "zh": "美国中部时间"},
    "America/Denver": {"en": "US Mountain time", "zh": "美国山地时间"},
    "America/Los_Angeles": {"en": "US Pacific time", "zh": "美国太平洋时间"},
}

WEEKDAYS = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
}


def focus(segment: str, lang: str = "en") -> str:
    """The operating focus for a segment or stage (empty when none is defined)."""
    return FOCUS.get(segment, {}).get(check_lang(lang), "")


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise a clear error."""
    if lang not in LANGS:
        raise ParameterError(f"lang={lang!r} is not supported; use one of {', '.join(LANGS)}")
    return lang


def t(key: str, lang: str = "en", **fields) -> str:
    """The label for ``key`` in ``lang``, formatted with ``fields``."""
    check_lang(lang)
    try:
        text = LABELS[key][lang]
    except KeyError as exc:
        raise KeyError(f"no label {key!r} for lang {lang!r}; add it to custops.labels") from exc
    return text.format(**fields) if fields else text


def value_label(value, lang: str = "en") -> str:
    """A category value as users read it; unknown values are shown as they are."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return t("unknown", lang)
    entry = VALUES.get(str(value))
    return entry[lang] if entry else str(value)


def value_labels(values: Iterable, lang: str = "en") -> list[str]:
    """:func:`value_label` for each value."""
    return [value_label(v, lang) for v in values]


def _reason_words(code: str, lang: str) -> str:
    sep = "; " if lang == "en" else "；"
    words = []
    for part in str(code).split(";"):
        kind, _, shown = part.partition(":")
        fields: dict[str, Any] = {}
        for item in filter(None, shown.split(",")):
            key, _, value = item.partition("=")
            fields[key] = float(value) if "." in value or "e" in value else int(value)
        words.append(t(f"churn.reason_{kind}", lang, **fields))
    return sep.join(words)


def reason_words(codes: pd.Series, lang: str = "en") -> pd.Series:
    """Churn reason codes (:func:`custops.churn.reason_codes`, e.g.
    ``overdue:days=45,gap=30;idle:days=70``) in words of ``lang``; missing stays missing."""
    codes = pd.Series(codes)
    values = codes.astype("object")
    present = values.notna() & (values != "")
    words = {code: _reason_words(code, lang) for code in values[present].unique()}
    return values.where(~present, values.map(words))


def health_words(entry: dict[str, Any], lang: str = "en") -> str:
    """One warning of a run (``{"step", "code", ...numbers}``) in words of ``lang``: the label
    ``health.<code>`` filled with the entry's numbers, else the reason it carries (said in
    ``lang`` when the entry has the reason's key: :meth:`custops.errors.NotComputable.record`)."""
    fields = {k: v for k, v in entry.items() if k not in ("step", "code")}
    if fields.get("reason_key") in LABELS:  # a NotComputable's reason, said in ``lang``
        fields["reason"] = not_computable_words(fields["reason_key"],
                                                fields.get("reason_params") or {}, lang)
    key = f"health.{entry.get('code')}"
    if key in LABELS:
        return t(key, lang, **fields)
    return str(fields.get("reason") or entry.get("code"))


def not_computable_words(key: str, params: dict[str, Any], lang: str = "en") -> str:
    """Why a step could not run (:class:`custops.errors.NotComputable`'s key and fields) in
    words of ``lang``; a field named ``<name>_label`` holds a label key and fills ``{<name>}``."""
    fields = {(name[:-len("_label")] if name.endswith("_label") else name):
              (t(value, lang) if name.endswith("_label") else value)
              for name, value in params.items()}
    return t(key, lang, **fields)


def zone_name(tz: str, offset: str, lang: str = "en") -> str:
    """A time zone as readers of ``lang`` know it: its name (:data:`ZONES`; with the offset
    in English) for the common zones, else its offset from UTC. ``offset``: ``+0800`` (as
    ``strftime("%z")`` gives it, at the time shown: summer time moves it)."""
    check_lang(lang)
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    names = ZONES.get(str(tz))
    return t("index.zone_named", lang, name=names[lang], offset=offset) if names else offset
