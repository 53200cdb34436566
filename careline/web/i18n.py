"""The dashboard's interface text in Chinese and English: one small catalogue.

Language: ``?lang=zh|en`` (remembered in a cookie), else the cookie, else
``CARELINE_DEFAULT_LANGUAGE``. A key missing from a language falls back to
English, then to the key itself, so a gap shows rather than breaks the page.
"""

from __future__ import annotations

from typing import Callable

from fastapi import Request

LANGUAGES = ("zh", "en")
COOKIE = "careline_lang"

CATALOGUE: dict[str, dict[str, str]] = {
    "title": {"zh": "养老服务调度中心", "en": "Care dispatch center"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "user": {"zh": "账号", "en": "User"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "账号或密码错误", "en": "Wrong user or password"},
    "login_refused": {
        "zh": "登录失败次数过多或系统繁忙，请稍后再试",
        "en": "Too many attempts or too busy; please wait",
    },
    "session_expired": {"zh": "登录已过期，请重新登录", "en": "Your session has ended; please log in again"},
    "live": {"zh": "实时", "en": "Live"},
    "offline_feed": {"zh": "连接中断，正在重连", "en": "Reconnecting"},
    "region": {"zh": "区域", "en": "Region"},
    "all_regions": {"zh": "全部", "en": "All"},
    "show": {"zh": "显示", "en": "Show"},
    "emergencies": {"zh": "紧急呼叫", "en": "Emergencies"},
    "no_emergencies": {"zh": "暂无紧急呼叫", "en": "No open emergency"},
    "alerts": {"zh": "告警", "en": "Alerts"},
    "no_alerts": {"zh": "暂无告警", "en": "No alert"},
    "queues": {"zh": "服务队列", "en": "Queues"},
    "no_queues": {"zh": "暂无服务请求", "en": "No request"},
    "requests": {"zh": "待处理请求", "en": "Open requests"},
    "caregivers": {"zh": "护理员", "en": "Caregivers"},
    "map": {"zh": "地图", "en": "Map"},
    "service_type": {"zh": "服务类型", "en": "Service"},
    "service_area": {"zh": "服务片区", "en": "Area"},
    "priority": {"zh": "优先级", "en": "Priority"},
    "waiting": {"zh": "等待中", "en": "Waiting"},
    "longest_wait": {"zh": "最长等待", "en": "Longest wait"},
    "sla": {"zh": "达标率", "en": "SLA"},
    "status": {"zh": "状态", "en": "Status"},
    "age": {"zh": "时长", "en": "Age"},
    "step": {"zh": "升级环节", "en": "Escalation step"},
    "elder": {"zh": "老人", "en": "Elder"},
    "phone": {"zh": "电话", "en": "Phone"},
    "request": {"zh": "请求", "en": "Request"},
    "caregiver": {"zh": "护理员", "en": "Caregiver"},
    "holder": {"zh": "当前护理员", "en": "Held by"},
    "available": {"zh": "空闲", "en": "Available"},
    "busy": {"zh": "忙碌", "en": "Busy"},
    "offline": {"zh": "离线", "en": "Offline"},
    "acknowledge": {"zh": "确认接警", "en": "Acknowledge"},
    "acknowledged_by": {"zh": "已接警", "en": "Acknowledged by"},
    "cancel": {"zh": "取消", "en": "Cancel"},
    "reassign": {"zh": "改派", "en": "Reassign"},
    "assign": {"zh": "指派", "en": "Assign"},
    "send_offer": {"zh": "派单", "en": "Send offer"},
    "mark_unavailable": {"zh": "设为不可用", "en": "Mark unavailable"},
    "mark_available": {"zh": "恢复可用", "en": "Mark available"},
    "new_request": {"zh": "代客下单", "en": "New request for a caller"},
    "elder_id": {"zh": "老人编号", "en": "Elder id"},
    "duration": {"zh": "时长(分钟)", "en": "Minutes"},
    "window_start": {"zh": "开始时间", "en": "From"},
    "window_end": {"zh": "结束时间", "en": "Until"},
    "submit": {"zh": "提交", "en": "Submit"},
    "done": {"zh": "已完成", "en": "Done"},
    "unacknowledged_emergency": {"zh": "紧急呼叫未确认", "en": "Emergency not acknowledged"},
    "escalated": {"zh": "无人接单，需人工处理", "en": "Nobody accepted: operator needed"},
    "sla_breach": {"zh": "超时未派", "en": "SLA breached"},
    "no_show": {"zh": "护理员未签到", "en": "Caregiver not checked in"},
    "late": {"zh": "护理员将迟到", "en": "Caregiver running late"},
    "nobody_on_the_way": {"zh": "无人前往！", "en": "Nobody on the way!"},
    "call_emergency_services": {"zh": "请拨打急救电话", "en": "Call emergency services: dial"},
    "address": {"zh": "地址", "en": "Address"},
    "record_outcome": {"zh": "记录结果", "en": "Record outcome"},
    "outcome_note": {"zh": "处理经过（必填）", "en": "What happened (required)"},
    "loose_ends": {"zh": "待跟进事项", "en": "Loose ends"},
    "no_loose_ends": {"zh": "暂无待跟进事项", "en": "No loose end"},
    "call_back": {"zh": "回拨", "en": "Call back"},
    "close": {"zh": "关闭", "en": "Close"},
    "loose.hangup": {"zh": "菜单中挂断", "en": "Hung up in the menu"},
    "loose.unknown_caller": {"zh": "未登记来电", "en": "Unknown caller"},
    "loose.unknown_sms": {"zh": "未登记号码短信", "en": "SMS from an unknown phone"},
    "loose.complaint": {"zh": "投诉待回访", "en": "Complaint to follow up"},
    "loose.followup": {"zh": "投诉回访", "en": "Complaint follow-up"},
    "loose.followup_due": {"zh": "投诉回访已到期", "en": "Complaint follow-up due"},
    "outcome.resolved_by_phone": {"zh": "电话处理", "en": "Resolved by phone"},
    "outcome.helper_on_site": {"zh": "护理员已到场", "en": "Helper on site"},
    "outcome.family_attended": {"zh": "家属已到场", "en": "Family attended"},
    "outcome.ambulance_called": {"zh": "已呼叫救护车", "en": "Ambulance called"},
    "outcome.false_alarm": {"zh": "误报", "en": "False alarm"},
    "outcome.served_by_phone": {"zh": "电话解决", "en": "Served by phone"},
    "outcome.arranged_another_way": {"zh": "另行安排", "en": "Arranged another way"},
    "outcome.rescheduled": {"zh": "已改约", "en": "Rescheduled"},
    "outcome.no_longer_needed": {"zh": "不再需要", "en": "No longer needed"},
    "outcome.elder_unreachable": {"zh": "联系不上老人", "en": "Elder unreachable"},
    "outcome.called_back": {"zh": "已回拨", "en": "Called back"},
    "outcome.no_answer": {"zh": "无人接听", "en": "No answer"},
    "outcome.registered": {"zh": "已登记", "en": "Registered"},
    "outcome.not_needed": {"zh": "无需处理", "en": "Not needed"},
    "outcome.handled": {"zh": "已处理", "en": "Handled"},
    "admin": {"zh": "账号管理", "en": "Accounts"},
    "audit": {"zh": "操作日志", "en": "Audit log"},
    "role": {"zh": "角色", "en": "Role"},
    "name": {"zh": "姓名", "en": "Name"},
    "scope": {"zh": "管辖区域", "en": "Region scope"},
    "active": {"zh": "启用", "en": "Active"},
    "add_operator": {"zh": "新增账号", "en": "Add account"},
    "deactivate": {"zh": "停用", "en": "Deactivate"},
    "reactivate": {"zh": "重新启用", "en": "Reactivate"},
    "unlock": {"zh": "解除登录锁定", "en": "Unlock login"},
    "who": {"zh": "操作人", "en": "Who"},
    "action": {"zh": "操作", "en": "Action"},
    "target": {"zh": "对象", "en": "Target"},
    "at": {"zh": "时间", "en": "At"},
    "outcome": {"zh": "结果", "en": "Outcome"},
    "more": {"zh": "还有", "en": "more"},
    "total": {"zh": "合计", "en": "Total"},
    "personal_hidden": {"zh": "个人信息已隐藏", "en": "personal data hidden"},
    "refused.closed": {"zh": "请求已结束", "en": "The request is already closed"},
    "refused.in_progress": {"zh": "服务进行中，无法操作", "en": "The visit is in progress"},
    "refused.not_eligible": {"zh": "该护理员无法接单", "en": "That caregiver cannot take it"},
    "refused.same_caregiver": {"zh": "该护理员已持有此请求", "en": "That caregiver already holds it"},
    "refused.unknown_request": {"zh": "找不到该请求", "en": "No such request"},
    "refused.unknown_caregiver": {"zh": "找不到该护理员", "en": "No such caregiver"},
    "refused.not_emergency": {"zh": "不是紧急呼叫", "en": "Not an emergency"},
    "refused.invalid": {"zh": "输入有误", "en": "Invalid input"},
    "refused.conflict": {"zh": "数据已被他人修改，请重试", "en": "Changed meanwhile; try again"},
    "evv_review": {"zh": "电子核查", "en": "EVV review"},
    "evv_open": {"zh": "待核查的电子签到异常", "en": "EVV flags to review"},
    "evv_reviewed": {"zh": "最近核查结果", "en": "Recently reviewed"},
    "no_evv_flags": {"zh": "暂无待核查异常", "en": "No EVV flag to review"},
    "evv_flag": {"zh": "异常", "en": "Flag"},
    "visit": {"zh": "服务记录", "en": "Visit"},
    "provider": {"zh": "服务商", "en": "Provider"},
    "note": {"zh": "备注", "en": "Note"},
    "review": {"zh": "核查", "en": "Review"},
    "evv_outcomes_help": {
        "zh": "认可：服务属实，照常结算；驳回：无法核实，不予结算；更正：中心资料有误已更正，不计入服务商违规（驳回、更正须填写备注）。",
        "en": "Accepted: the visit took place, payable. Rejected: not verified, not payable. Corrected: the "
        "center's data was wrong and was put right; not held against the provider. Rejected and "
        "corrected need a note.",
    },
    "evv.outside_geofence": {"zh": "签到位置超出范围", "en": "Outside the geofence"},
    "evv.too_early": {"zh": "签到过早", "en": "Checked in too early"},
    "evv.wrong_phone": {"zh": "签到电话不符", "en": "Wrong phone"},
    "evv.missing_location": {"zh": "缺少位置", "en": "No location"},
    "evv.short_visit": {"zh": "服务时长不足", "en": "Visit too short"},
    "evv.incomplete_checklist": {"zh": "服务项目未完成", "en": "Checklist incomplete"},
    "evv_outcome.accepted": {"zh": "认可", "en": "Accepted"},
    "evv_outcome.rejected": {"zh": "驳回（不予结算）", "en": "Rejected (not payable)"},
    "evv_outcome.corrected": {"zh": "更正", "en": "Corrected"},
    "refused.already_reviewed": {"zh": "该异常已核查", "en": "That flag is already reviewed"},
    "refused.note_required": {"zh": "驳回或更正须填写备注", "en": "Rejected and corrected need a note"},
    "refused.unknown_flag": {"zh": "该服务记录没有此异常", "en": "The visit carries no such flag"},
    "refused.unknown_visit": {"zh": "找不到该服务记录", "en": "No such visit"},
    "kpis_live": {"zh": "服务商实时考核", "en": "Provider evaluation, live"},
    "kpis_help": {
        "zh": "最近24小时滚动窗口，由流处理窗口表实时计算；月度合同考核报告为最终结果。",
        "en": "Rolling window of the last 24 h, kept live by the stream worker's windowed table; "
        "the monthly contract report is the settled version.",
    },
    "no_kpis": {"zh": "窗口内暂无考核数据", "en": "Nothing to evaluate in the window yet"},
    "kpi.window": {"zh": "窗口", "en": "Window"},
    "kpi.updated": {"zh": "更新于", "en": "updated"},
    "kpi.score": {"zh": "综合评分", "en": "Score"},
    "kpi.offers": {"zh": "派单", "en": "Offers"},
    "kpi.acceptance": {"zh": "接单率", "en": "Accepted"},
    "kpi.median_accept": {"zh": "接单用时中位数", "en": "Median to accept"},
    "kpi.visits": {"zh": "应到服务", "en": "Visits due"},
    "kpi.on_time": {"zh": "准时率", "en": "On time"},
    "kpi.completion": {"zh": "完成率", "en": "Completed"},
    "kpi.no_shows": {"zh": "未到", "en": "No-shows"},
    "kpi.evv": {"zh": "电子核查合规", "en": "EVV compliant"},
    "kpi.stars": {"zh": "平均星级", "en": "Mean stars"},
    "kpi.satisfaction": {"zh": "满意度(平滑)", "en": "Satisfaction (smoothed)"},
    "kpi.complaints": {"zh": "每百次投诉", "en": "Complaints / 100"},
    "priority.routine": {"zh": "常规", "en": "routine"},
    "priority.urgent": {"zh": "紧急", "en": "urgent"},
    "priority.asap": {"zh": "尽快", "en": "asap"},
    "priority.stat": {"zh": "特急", "en": "stat"},
}


def language(request: Request, default: str) -> str:
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE), default):
        if candidate in LANGUAGES:
            return candidate
    return "en"


def translator(lang: str) -> Callable[[str], str]:
    def t(key: str) -> str:
        entry = CATALOGUE.get(key, {})
        return entry.get(lang) or entry.get("en") or key

    return t


def _merge_board_text() -> None:
    """The board's domain words (statuses, services, ladder steps) live in ``careline.web.board_i18n``."""
    from careline.web.board_i18n import BOARD_TEXT

    for key, entry in BOARD_TEXT.items():
        CATALOGUE.setdefault(key, entry)


_merge_board_text()


def _merge_register_text() -> None:
    """The register's pages keep their text in their own module (``careline.web.register_i18n``)."""
    from careline.web.register_i18n import REGISTER_TEXT

    for key, entry in REGISTER_TEXT.items():
        CATALOGUE.setdefault(key, entry)


_merge_register_text()
