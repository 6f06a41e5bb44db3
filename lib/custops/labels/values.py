"""Words for category values (segments, stages, channels, strategies...), the operating
focus per segment, weekday names and time-zone names, in English and Chinese.

Re-exported by :mod:`custops.labels` (``from custops.labels import VALUES`` keeps working)."""

from __future__ import annotations

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
