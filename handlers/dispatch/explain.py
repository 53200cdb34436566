"""Why a request went where it went, in plain words, from its logged events.

Input: the request's events in log order, each a CloudEvents dict as stored
in ``event_log.payload`` (``type``, ``time``, ``data``). Output: lines a
supervisor can read, one per decision or state change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping


def _hhmm(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M") if iso else "?"


def _decision(data: Mapping[str, Any]) -> list[str]:
    lines = [f"decided under policy {data.get('policy_version', '?')}:"]
    candidates = data.get("candidates") or []
    for rank, c in enumerate(candidates[:5], 1):
        extra = []
        if c.get("lateness_minutes"):
            extra.append(f"{c['lateness_minutes']:g} min late")
        if c.get("sync_deviation_minutes"):
            extra.append(f"{c['sync_deviation_minutes']:g} min off the synchronised start")
        lines.append(
            f"  {rank}. {c['caregiver_id']}: could start {_hhmm(c.get('start'))}, "
            f"+{c.get('travel_added_minutes', 0):g} min travel"
            + (f", {', '.join(extra)}" if extra else "")
            + f" (cost {c.get('cost', 0):g})"
        )
    if len(candidates) > 5:
        lines.append(f"  … and {len(candidates) - 5} more eligible caregivers")
    if not candidates:
        lines.append("  nobody was eligible")
    for cid, why in sorted((data.get("excluded") or {}).items()):
        lines.append(f"  not {cid}: {why}")
    return lines


def explain(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Readable lines for one request's history (see module docstring)."""
    lines: list[str] = []
    for e in events:
        t, data, when = e.get("type", ""), e.get("data") or {}, _hhmm(e.get("time"))
        if t == "care.request.status_changed":
            reason = f" ({data['reason']})" if data.get("reason") else ""
            lines.append(f"{when} status {data.get('status')}{reason}")
        elif t == "dispatch.decided":
            lines += [f"{when} " + line if i == 0 else line for i, line in enumerate(_decision(data))]
        elif t == "dispatch.offer.created":
            lines.append(
                f"{when} offered to {data['caregiver_id']} for {_hhmm(data.get('planned_start'))}"
                f"–{_hhmm(data.get('planned_end'))}, answer by {_hhmm(data.get('expires_at'))}"
            )
        elif t.startswith("dispatch.offer."):
            lines.append(
                f"{when} offer {data.get('offer_id')} {t.rsplit('.', 1)[-1].replace('_', ' ')}"
                f" ({data.get('caregiver_id')})"
            )
        elif t == "care.request.escalated":
            lines.append(f"{when} escalated to {data.get('step')}: {data.get('reason')}")
        elif t.startswith("care.visit."):
            lines.append(
                f"{when} visit {t.rsplit('.', 1)[-1].replace('_', ' ')} by {data.get('caregiver_id')}"
                + (f", {data['lateness_minutes']:g} min late" if data.get("lateness_minutes") else "")
            )
    return lines
