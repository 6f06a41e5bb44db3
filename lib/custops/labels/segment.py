"""Words of the segment step (02): RFM classes, tiers, stages, pyramid, clusters.

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
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
    "cluster.high": {"en": "high {feature}", "zh": "{feature}高"},
    "cluster.low": {"en": "low {feature}", "zh": "{feature}低"},
    "cluster.average": {"en": "close to average", "zh": "接近平均"},
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
}
