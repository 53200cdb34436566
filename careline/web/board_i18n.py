"""The board's domain words in Chinese and English: request, offer and visit statuses,
service types, escalation-ladder steps, caregiver activities, and dispatch's refusal reasons.

Statuses are FHIR Task statuses (``handlers.model.RequestStatus``), TaskRouter reservation
states (``OfferStatus``) and visit states (``VisitStatus``); ladder steps are the
``[ladder.<priority>]`` steps of ``config/policy.toml`` plus what the board derives
(``handlers.operations.alerts.escalation_step``: ``offer_N``, ``assigned``, ``waiting``,
``operator_queue``). Service names are the SMS texts' (the gettext catalogs through
``config.locale.get_texts().service``), so an elder and an operator read the same word. A refusal reason is dispatch's English
sentence (``handlers.dispatch.scheduling._excluded``); ``reason()`` matches its patterns.
"""

from __future__ import annotations

import re

from config.locale import get_texts

STATUS_TEXT: dict[str, dict[str, str]] = {
    # request (FHIR Task)
    "status.draft": {"zh": "草稿", "en": "draft"},
    "status.requested": {"zh": "已提交", "en": "requested"},
    "status.received": {"zh": "已受理", "en": "received"},
    "status.accepted": {"zh": "已接单", "en": "accepted"},
    "status.rejected": {"zh": "已拒绝", "en": "rejected"},
    "status.ready": {"zh": "待服务", "en": "ready"},
    "status.in-progress": {"zh": "服务中", "en": "in progress"},
    "status.on-hold": {"zh": "暂停", "en": "on hold"},
    "status.failed": {"zh": "派单失败", "en": "failed"},
    "status.completed": {"zh": "已完成", "en": "completed"},
    "status.cancelled": {"zh": "已取消", "en": "cancelled"},
    "status.entered-in-error": {"zh": "录入错误", "en": "entered in error"},
    # offer (reservation) and visit
    "status.pending": {"zh": "待接单", "en": "pending"},
    "status.timeout": {"zh": "超时未回复", "en": "timed out"},
    "status.rescinded": {"zh": "已撤回", "en": "rescinded"},
    "status.canceled": {"zh": "已取消", "en": "canceled"},
    "status.scheduled": {"zh": "已排班", "en": "scheduled"},
    "status.no-show": {"zh": "未到", "en": "no-show"},
    # holder kinds
    "holder.offer": {"zh": "派单中", "en": "offer"},
    "holder.visit": {"zh": "服务", "en": "visit"},
    # ladder steps
    "step.best": {"zh": "优选护理员", "en": "best caregivers"},
    "step.widen": {"zh": "扩大范围", "en": "widened to all eligible"},
    "step.operator_queue": {"zh": "转人工处理", "en": "operator queue"},
    "step.emergency_services": {"zh": "呼叫急救", "en": "emergency services"},
    "step.assigned": {"zh": "已派定", "en": "assigned"},
    "step.waiting": {"zh": "等待派单", "en": "waiting"},
    "step.offer": {"zh": "第{n}次派单", "en": "offer {n}"},
    "choices.travel": {"zh": "路程增加", "en": "travel +"},
    "choices.late": {"zh": "晚到", "en": "late"},
    "choices.minutes": {"zh": "分钟", "en": "min"},
    "choices.none": {"zh": "暂无可接单的护理员", "en": "Nobody can take it now"},
    "choices.excluded": {"zh": "不可接单", "en": "Cannot take it"},
    "map_fallback": {"zh": "示意图（非街道地图）", "en": "schematic (not a street map)"},
}

#: the policy's abilities (config/policy.toml [eligibility.skill_hierarchy]); service types are in the catalogs
SKILL_TEXT: dict[str, dict[str, str]] = {
    "service.nurse": {"zh": "护士", "en": "nurse"},
    "service.personal_care": {"zh": "生活照料", "en": "personal care"},
    "service.housekeeping": {"zh": "家政", "en": "housekeeping"},
}

BOARD_TEXT = STATUS_TEXT | SKILL_TEXT


def service(name: str, lang: str) -> str:
    """A service type or ability as the center says it in ``lang``; an unknown one as it is."""
    skill = SKILL_TEXT.get(f"service.{name}")
    return skill[lang] if skill else get_texts().service(lang, name)


#: dispatch's exclusion sentences (``_excluded`` and the gap search), as patterns -> Chinese
REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^not available$"), "当前不可用"),
    # a planned day's repair that gave way to insertion (handlers.dispatch.repair)
    (re.compile(r"^the policy gives the solver no time$"), "调度策略未给求解器时间"),
    (re.compile(r"^no caregiver may take it$"), "没有可接此单的护理员"),
    (re.compile(r"^the request has no place$"), "此单没有地点"),
    (re.compile(r"^the solver found no answer in time$"), "求解器未能及时给出方案"),
    (re.compile(r"^the solver left the request out$"), "求解器的方案未安排此单"),
    (re.compile(r"^the repaired slot does not fit$"), "重排后的时段已不可行"),
    (re.compile(r"^nobody who may take it can start it in time$"), "可接此单的护理员都无法及时开始"),
    (re.compile(r"^the late caregiver's replacement is ranked$"), "迟到护理员的接替人按排序选定"),
    (re.compile(r"^serves area (?P<a>\S+), not (?P<b>\S+)$"), "服务片区为 {a}，不是 {b}"),
    (re.compile(r"^lacks the ability (?P<s>\S+)$"), "不具备“{s}”服务技能"),
    (re.compile(r"^provider (?P<p>\S+) has no contract for (?P<s>\S+)$"), "服务商 {p} 未签约“{s}”服务"),
    (re.compile(r"^excluded by the elder$"), "老人要求不派此护理员"),
    (re.compile(r"^the elder asks for a (?P<g>\S+) caregiver$"), "老人要求指定性别的护理员（{g}）"),
    (re.compile(r"^does not speak (?P<l>\S+)$"), "不会说 {l}"),
    (re.compile(r"^daily capacity of (?P<n>\d+) visits reached$"), "已达每日 {n} 单上限"),
    (re.compile(r"^already offered this request$"), "已向其派过此单"),
    (re.compile(r"^no gap in the day is long enough$"), "当天没有足够长的空档"),
    (re.compile(r"^would not be back at the home base by the end of the shift$"), "下班前无法返回驻点"),
    (re.compile(r"^would arrive after the time window \(hard window\)$"), "到达时间晚于服务时段"),
]


def reason(text: str, lang: str, patterns: list[tuple[re.Pattern[str], str]] | None = None) -> str:
    """Dispatch's English refusal ``text`` in ``lang``; parts after ``: `` or ``; `` are each
    translated by ``patterns`` (default ``REFUSALS``; service names in them translated too); an
    unknown sentence is kept as it is (a gap shows rather than hides)."""
    if lang != "zh":
        return text
    parts = re.split(r"(: |; )", text)
    out = []
    for part in parts:
        for pattern, zh in REFUSALS if patterns is None else patterns:
            found = pattern.match(part.strip())
            if found:
                values = {k: service(v, "zh") for k, v in found.groupdict().items()}
                part = zh.format(**values)
                break
        out.append({": ": "：", "; ": "；"}.get(part, part))
    return "".join(out)


def step(value: str, lang: str) -> str:
    """A ladder step as an operator reads it (``offer_3`` -> 第3次派单 / offer 3)."""
    found = re.fullmatch(r"offer_(\d+)", value)
    if found:
        return STATUS_TEXT["step.offer"][lang].format(n=found.group(1))
    entry = STATUS_TEXT.get(f"step.{value}")
    return entry[lang] if entry else value


def answer(ok: bool, code: str, message: str, lang: str) -> str:
    """The text an operator's action answers with: English as the domain wrote it; in Chinese
    the refusal code's sentence (``refused.<code>`` of ``careline.web.i18n``) and, for a
    caregiver who cannot take the request, dispatch's reason translated."""
    if lang != "zh":
        return message
    from careline.web.i18n import CATALOGUE

    if ok:
        return f"已完成：{message.split(' ', 1)[-1]}"
    head = CATALOGUE.get(f"refused.{code}", {}).get("zh", code)
    return f"{head}：{reason(message, 'zh')}" if code == "not_eligible" else head
