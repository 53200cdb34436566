"""``careline demo --hotline``: one hotline call and one caregiver SMS, in process, no Twilio account.

A throwaway SQLite database gets one elder (with phone and address) and one
caregiver (with phone); the FastAPI app receives the webhooks Twilio would
send, signed with a demo auth token exactly as Twilio signs them. Dispatch runs
in process (no broker): the intake record the call put on the outbox is
validated and offered; the offer SMS, the caregiver's reply and the address SMS
are printed as they would be sent. Phone numbers below are fictitious.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl
from xml.dom import minidom

from fastapi.testclient import TestClient
from pydantic import SecretStr

from careline.web.app import create_app
from careline.web.twilio_security import sign
from channels.context import ChannelContext, callback_url
from channels.notices import tell
from channels.notify import ConsoleNotifier
from config.settings import Settings
from db import register, runs
from db.migrate import upgrade
from db.uow import SqlUnitOfWork
from handlers.channels.intake import validate_intake
from handlers.dispatch import offers
from handlers.dispatch.scheduling import DispatchPolicy, MatrixTravelTimes
from handlers.model import Caregiver, Elder, ProviderOrganisation

BASE = "https://careline.example.org"
TOKEN = "demo-auth-token"
ELDER, CAREGIVER, HOTLINE = "+8613912345678", "+8613812345678", "+8625000000"
TRAVEL = MatrixTravelTimes([[0, 12], [12, 0]])


def _seed(ctx: ChannelContext, now: datetime) -> None:
    with ctx.sessions() as s:
        register.add_service_areas(
            s, [{"service_area": "gulou", "name": "鼓楼区", "shift_end_hard": False, "travel_matrix": TRAVEL.matrix}]
        )
        s.add(ProviderOrganisation("p1", "鼓楼居家养老服务中心", "gulou", opening_hours="[]"))
        s.flush()  # the mapping has no relationships: rows go in foreign-key order, one flush each
        li = Caregiver(
            "cg-li",
            "p1",
            "gulou",
            "meal cleaning bathing",
            0,
            now - timedelta(hours=1),
            now + timedelta(hours=10),
            active=True,
            language="zh-CN",
        )
        li.phone = CAREGIVER
        s.add(li)
        s.flush()
        s.add(Elder("e-wang", "gulou", 1, phone=ELDER, language="zh-CN", name="王奶奶"))
        s.flush()
        register.add_elder_address(s, "e-wang", "青岛路12号3单元401", "青岛路社区")
        s.commit()


class _Twilio:
    """Posts signed webhooks the way Twilio does and prints what comes back."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, title: str, path: str, form: dict[str, str], query: dict[str, str] | None = None) -> str:
        public = callback_url(BASE, path, **(query or {}))
        response = self.client.post(
            public.removeprefix(BASE), data=form, headers={"X-Twilio-Signature": sign(public, form, TOKEN)}
        )
        response.raise_for_status()
        print(f"\n── {title}\n   POST {public}  {form.get('Digits') or form.get('Body') or ''}".rstrip())
        print(minidom.parseString(response.text).toprettyxml(indent="  ").split("\n", 1)[1].rstrip())
        return response.text


def _print_sms(notifier: ConsoleNotifier, start: int, title: str) -> None:
    for kind, to, body, _ in notifier.sent[start:]:
        if kind == "sms":
            print(f"\n── {title}\n   SMS to {to}:\n   {body}")


def _dispatch_outbox(ctx: ChannelContext, now: datetime, seen: set[int]) -> list[dict]:
    """Events the outbox holds that the worker would relay and the agents act on."""
    with ctx.sessions() as s:
        rows = [r for r in runs.outbox_after(s, 0) if r.seq not in seen]
    seen.update(r.seq for r in rows)
    return [r.value for r in rows]


def run(workdir: Path) -> int:
    now = datetime.now(UTC)
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'hotline-demo.db'}",
        public_base_url=BASE,
        twilio_auth_token=SecretStr(TOKEN),
        var_dir=workdir,
    )
    upgrade(settings.database_url, "heads")
    ctx = ChannelContext.from_settings(settings)
    notifier = ctx.notifier = ConsoleNotifier()
    _seed(ctx, now)
    app = create_app(settings)
    app.state.channels = ctx
    twilio, seen = _Twilio(TestClient(app)), set[int]()
    call = {"CallSid": "CA" + "d" * 32, "From": ELDER, "To": HOTLINE}
    print(f"careline hotline demo: Wang Nainai calls {HOTLINE} from {ELDER} (no Twilio account needed)")
    twilio.post("the call is answered", "/twilio/voice", call)
    twilio.post(
        "she presses 2 (a home service)",
        "/twilio/voice/menu",
        dict(call, Digits="2"),
        {"first": "1", "lang": "zh", "try": "0"},
    )
    twilio.post(
        "she presses 1 (meal)", "/twilio/voice/service", dict(call, Digits="1"), {"lang": "zh", "page": "0", "try": "0"}
    )
    read_back = twilio.post(
        "she presses 1 (as soon as possible)",
        "/twilio/voice/time",
        dict(call, Digits="1"),
        {"lang": "zh", "service": "meal", "try": "0"},
    )
    action = minidom.parseString(read_back).getElementsByTagName("Gather")[0].getAttribute("action")
    path, _, query = action.removeprefix(BASE).partition("?")
    twilio.post(
        "she hears the request read back and presses 1 to confirm", path, dict(call, Digits="1"), dict(parse_qsl(query))
    )
    (record,) = [v for v in _dispatch_outbox(ctx, now, seen) if "intake_id" in v]
    print(
        f"\n── intake record on the outbox (care.intake.v1): request {record['request_id']}, "
        f"{record['service_type']}, priority {record['priority']}"
    )
    with SqlUnitOfWork(ctx.sessions) as uow:
        offers.receive_request(validate_intake(record, uow.elders.get), uow, now, DispatchPolicy(), TRAVEL)
        uow.commit()
    for event in _dispatch_outbox(ctx, now, seen):
        tell(ctx, event)
    _print_sms(notifier, 0, "the offer SMS to the caregiver (one segment, no address yet)")
    if not notifier.sent:
        print("no caregiver could take the request", file=sys.stderr)
        return 1
    sent_before = len(notifier.sent)
    twilio.post(
        "the caregiver replies 1",
        "/twilio/sms",
        {"MessageSid": "SM" + "d" * 32, "From": CAREGIVER, "To": HOTLINE, "Body": "1"},
    )
    reply = next(v for v in _dispatch_outbox(ctx, now, seen) if v.get("type") == "caregiver.offer.accepted")
    with SqlUnitOfWork(ctx.sessions) as uow:
        offers.accept_offer(
            reply["data"]["offer_id"], reply["data"]["caregiver_id"], uow, now, DispatchPolicy(), TRAVEL
        )
        uow.commit()
    for event in _dispatch_outbox(ctx, now, seen):
        tell(ctx, event)
    _print_sms(notifier, sent_before, "the address SMS once the offer is accepted")
    return 0 if len(notifier.sent) > sent_before else 1


def main() -> int:
    """Run the demo in a temporary folder; 0 when the call ended with an accepted offer and its SMS."""
    with tempfile.TemporaryDirectory(prefix="careline-hotline-") as workdir:
        return run(Path(workdir))


if __name__ == "__main__":
    raise SystemExit(main())
