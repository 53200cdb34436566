"""The center's public side as its users reach it: the hotline and SMS through Twilio's signed
webhooks, the elder's and the caregivers' apps with their tokens (standard library only)."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from tools.deploy.stack import Response, SmokeFailed, Web, twilio_signature

PUBLIC_BASE = "https://careline.smoke.example"  # what Twilio would call; signatures are made for it
HOTLINE = "+8651212349"
ELDER = ("E001", "+8613800138001")  # tools/deploy/register and seed.sql
CAREGIVERS = {"C01": "+8613900139001", "C02": "+8613900139002", "C03": "+8613900139003"}


class Center:
    """``web``: the published web port; ``twilio_token``: the auth token the web service checks
    signatures with; ``tokens``: app tokens by elder or caregiver id."""

    def __init__(self, web: Web, twilio_token: str) -> None:
        self.web, self.twilio_token = web, twilio_token
        self.tokens: dict[str, str] = {}

    def post_twilio(self, url: str, params: dict[str, str]) -> Response:
        """POST ``params`` as Twilio does to ``url`` (public, or a path under it), signed."""
        public = url if url.startswith("http") else PUBLIC_BASE + url
        signature = twilio_signature(public, params, self.twilio_token)
        resp = self.web.request(
            "POST", public.removeprefix(PUBLIC_BASE), form=params, headers={"X-Twilio-Signature": signature}
        )
        if resp.status != 200:
            raise SmokeFailed(f"POST {public.removeprefix(PUBLIC_BASE)}: {resp.status} {resp.text[:300]}")
        return resp

    def hotline_call(self) -> str:
        """A call from the elder's phone through the hotline menu (issue 16): a home service (2),
        meal (1), as soon as possible (1), confirmed after the read-back (1), following each
        <Gather action> as Twilio does; the request number is what the caller hears."""
        call = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": "AC" + uuid.uuid4().hex,
            "From": ELDER[1],
            "To": HOTLINE,
            "CallStatus": "in-progress",
            "Direction": "inbound",
        }
        twiml = self.post_twilio("/twilio/voice", call).text
        for digit in ("2", "1", "1", "1"):
            gather = ET.fromstring(twiml).find(".//Gather")
            if gather is None:
                raise SmokeFailed(f"the hotline asked for no key: {twiml[:400]}")
            twiml = self.post_twilio(gather.get("action", ""), dict(call, Digits=digit)).text
        said = " ".join(s.text or "" for s in ET.fromstring(twiml).iter("Say"))
        number = re.search(r"(?:请求号|number)\s*([\d ]+)", said)
        if not number:
            raise SmokeFailed(f"no request number in what the caller heard: {said!r}")
        return "HL" + number.group(1).replace(" ", "")

    def app_request(self) -> str:
        now = datetime.now(UTC)
        body = {
            "service_type": "meal",
            "window": {
                "start": (now + timedelta(minutes=20)).isoformat(),
                "end": (now + timedelta(hours=3)).isoformat(),
            },
            "duration_minutes": 30,
            "priority": "routine",
            "notes": "deploy smoke",
        }
        headers = {"Authorization": f"Bearer {self.tokens[ELDER[0]]}", "Idempotency-Key": uuid.uuid4().hex}
        resp = self.web.request("POST", "/api/v1/requests", body=body, headers=headers)
        if resp.status != 202:
            raise SmokeFailed(f"POST /api/v1/requests: {resp.status} {resp.text[:300]}")
        return resp.json()["request_id"]

    def status(self, request_id: str) -> str | None:
        resp = self.web.request(
            "GET", f"/api/v1/requests/{request_id}", headers={"Authorization": f"Bearer {self.tokens[ELDER[0]]}"}
        )
        return resp.json()["status"] if resp.status == 200 else None

    def pending_offer(self, request_id: str) -> tuple[str, dict] | None:
        for caregiver in CAREGIVERS:
            resp = self.web.request(
                "GET", "/api/v1/offers", headers={"Authorization": f"Bearer {self.tokens[caregiver]}"}
            )
            for offer in resp.json().get("offers", []) if resp.status == 200 else []:
                if offer["offer_id"].startswith(request_id + ".o"):
                    return caregiver, offer
        return None

    def sms(self, caregiver: str, body: str) -> str:
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + uuid.uuid4().hex,
            "From": CAREGIVERS[caregiver],
            "To": HOTLINE,
            "Body": body,
            "NumMedia": "0",
        }
        return self.post_twilio("/twilio/sms", params).text
