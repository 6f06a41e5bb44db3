"""Words of the reach step (04): the plan, its figures, and the plan page.

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
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
    "reach.holdout_n": {"en": "Holdout (not contacted)", "zh": "对照组人数（未触达）"},
    "reach.method.lagrangian": {"en": "Lagrangian method", "zh": "拉格朗日松弛法"},
    "reach.method.milp": {"en": "mixed-integer program", "zh": "混合整数规划"},
    "reach.rule_no_contact": {"en": "No contact key in the data: {channel}",
                              "zh": "缺少联系方式：{channel}"},
    "reach.rule_no_contact_column": {
        "en": "No contact column in the data: {channel} (the list carries customer ids to "
              "match in your tool)",
        "zh": "数据中无该联系方式列：{channel}（名单只含客户ID，请在工具中按客户ID匹配）"},
    "reach.rule_contact_column_required": {
        "en": "No contact column in the data: {channel} (not planned: contact_column_required)",
        "zh": "数据中无该联系方式列：{channel}（按设置不安排该渠道）"},
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
