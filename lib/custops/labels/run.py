"""Words of a run: report titles and openings, custops validate, index.html, the key numbers
and actions, the health box, and why a step could not run.

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
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
    "nc.btyd_no_customers": {"en": "no customers to fit", "zh": "没有可用于拟合的客户"},
    "nc.btyd_no_repeat_buyers": {
        "en": "no customer has a repeat purchase in the window, so the model cannot be "
              "estimated; use a longer history",
        "zh": "观察期内没有客户复购，模型无法估计；请使用更长的历史数据"},
    "nc.btyd_no_positive_spend": {
        "en": "no repeat buyer has a positive average spend (refunds only?)",
        "zh": "没有复购客户的平均消费为正（是否全部退款？）"},
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
    "health.title": {"en": "Health of this run", "zh": "本次运行的健康检查"},
    "health.none": {"en": "No warnings: every model and section ran on this data.",
                    "zh": "无警告：所有模型与分析均已在本数据上完成。"},
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
}
