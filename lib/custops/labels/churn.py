"""Words of the churn step (03): backtest, risk bands, reasons, lists, BTYD models.

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
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
    "churn.backtest_sample": {
        "en": "Graded on the buyers among a random sample of {customers:,} of the {of:,} "
              "customers (at this size an AUC's standard error is a few thousandths at most).",
        "zh": "在 {of:,} 位客户中随机抽取 {customers:,} 位，用其中的购买客户进行回测（此规模下"
              " AUC 的标准误至多千分之几）。"},
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
    "churn.btyd_compare_text": {
        "en": "The second table fits three buy-till-you-die models at the test date and grades "
              "each on the orders every buyer then placed (RMSE per customer; ★ the best "
              "usable one, the simpler on a tie). The scores below use BG/NBD.",
        "zh": "第二张表在测试日拟合三种 BTYD 模型，并用每位客户此后的实际下单评估（按客户的 "
              "均方根误差；★ 为通过健康检查中最好的模型，持平时取更简单者）。下方得分使用 BG/NBD。"},
    "churn.btyd_findings": {"en": "Health: {findings}.", "zh": "健康检查：{findings}。"},
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
}
