"""Words of the exported files: contact lists' headers and values.

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "exports.scratch": {"en": "This notebook runs on its own: its files are written to {path}",
                        "zh": "本笔记本单独运行：导出文件写入 {path}"},
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
}
