"""Words of the dashboards (Voila pages and their landing page).

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
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
}
