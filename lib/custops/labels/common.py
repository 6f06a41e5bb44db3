"""Words every step uses: generic column and axis names, table names, feature names.

Part of :data:`custops.labels.LABELS` (merged there; a key is defined in one module only)."""

from __future__ import annotations

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
    "table.orders": {"en": "orders", "zh": "订单"},
    "table.customers": {"en": "customers", "zh": "客户"},
    "table.events": {"en": "events", "zh": "行为事件"},
    "table.rows_shown": {"en": "{rows:,} rows; first {shown:,} shown",
                         "zh": "共 {rows:,} 行，显示前 {shown:,} 行"},
    "table.touches": {"en": "touches", "zh": "触达记录"},
    "not_available": {"en": "not available", "zh": "不可用"},
    "not_computed": {"en": "Not computed on this data", "zh": "本数据无法计算此项"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "feat.days_since_last_order": {"en": "days since last order", "zh": "未下单天数"},
    "feat.order_days": {"en": "order days", "zh": "下单天数"},
    "feat.net_spend": {"en": "spend", "zh": "消费额"},
    "feat.avg_order_value": {"en": "basket size", "zh": "客单价"},
    "feat.mean_gap_days": {"en": "gap between orders", "zh": "下单间隔"},
    "feat.events_total": {"en": "engagement", "zh": "互动"},
    # columns of the data contract, as a reason for a rejected row names them
    "column.customer_id": {"en": "customer_id", "zh": "客户ID"},
    "column.order_id": {"en": "order_id", "zh": "订单号"},
    "column.order_time": {"en": "order_time", "zh": "下单时间"},
    "column.amount": {"en": "amount", "zh": "金额"},
    "column.refund_amount": {"en": "refund_amount", "zh": "退款金额"},
    "column.channel": {"en": "channel", "zh": "渠道"},
    "column.category": {"en": "category", "zh": "品类"},
    "column.quantity": {"en": "quantity", "zh": "数量"},
    "column.is_refund": {"en": "is_refund", "zh": "是否退款"},
}
