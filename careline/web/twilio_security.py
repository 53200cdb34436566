"""X-Twilio-Signature checks for every Twilio webhook.

Twilio signs the full URL it requested plus the sorted POST parameters
(HMAC-SHA1 with the Auth Token; HMAC-SHA256 with a SharedKey when the request
carries ``X-Twilio-Webhooks-Signature-Settings``). Behind a TLS-terminating
proxy the URL the application sees is not the one Twilio used, so the URL is
rebuilt from the configured ``public_base_url`` + the request path + the raw
query string (``twilio.request_validator`` tries it with and without the
default port). Without a configured secret every webhook is refused: fail closed. A body that is
not ``application/x-www-form-urlencoded`` (a multipart upload, say) is refused with
415 before it is parsed.
"""

from __future__ import annotations

import logging
import re
from typing import Awaitable, Callable, Mapping

from fastapi import HTTPException, Request
from twilio.request_validator import RequestValidator, get_signature_algorithm

from channels.context import callback_url

log = logging.getLogger("careline.web.twilio")


#: the only body Twilio sends to a webhook (a multipart body, with files, is refused with 415)
FORM_TYPE = "application/x-www-form-urlencoded"


def public_url(request: Request, base: str) -> str:
    """The URL Twilio requested, as seen from outside the proxy."""
    url = callback_url(base, request.url.path)
    return f"{url}?{request.url.query}" if request.url.query else url


def sign(url: str, params: dict[str, str], secret: str) -> str:
    """The X-Twilio-Signature Twilio would send (tests and the demo)."""
    return RequestValidator(secret).compute_signature(url, params)


#: the shapes of the Twilio parameters careline stores (Twilio's SIDs are two letters and 32 hex
#: digits; a little leeway, within the 64 characters the columns hold), and of our own query parameters
SHAPES = {
    "CallSid": r"[A-Za-z]{2}[0-9A-Za-z]{1,62}",
    "MessageSid": r"[A-Za-z]{2}[0-9A-Za-z]{1,62}",
    "CallStatus": r"[A-Za-z-]{1,20}",
    "MessageStatus": r"[A-Za-z-]{1,20}",
    "ErrorCode": r"[0-9]{0,10}",
    "request_id": r"[A-Za-z0-9][A-Za-z0-9._:#-]{0,119}",
    # what a message was for: offer, family, rating, notice, or a notice's kind such as
    # ``family.late_taken`` (channels.notices gives its first 20 characters)
    "purpose": r"[a-z][a-z0-9_.]{0,19}",
    "kind": r"sms|call",
}


def refuse_malformed(params: Mapping[str, str], source: str) -> None:
    """400 naming the first parameter not in its ``SHAPES`` shape (so nothing over-long or
    holding a NUL, which PostgreSQL refuses, reaches the database); free text such as
    ``Body`` is only read, never stored, and passes as it is."""
    for name, value in params.items():
        shape = SHAPES.get(name)
        if shape and not re.fullmatch(shape, value):
            raise HTTPException(status_code=400, detail=f"{source} parameter {name!r}: malformed")


def twilio_form(*required: str) -> Callable[[Request], Awaitable[dict[str, str]]]:
    """A dependency like ``verified_form`` that also wants ``required`` parameters (400 naming one missing)."""

    async def dependency(request: Request) -> dict[str, str]:
        form = await verified_form(request)
        for name in required:
            if not form.get(name):
                raise HTTPException(status_code=400, detail=f"form parameter {name!r}: missing")
        return form

    return dependency


async def verified_form(request: Request) -> dict[str, str]:
    """FastAPI dependency: the form parameters of a correctly signed Twilio request; 403 otherwise,
    400 when a parameter is malformed (``refuse_malformed``)."""
    settings = request.app.state.settings
    secret = settings.twilio_webhook_secret or settings.twilio_auth_token
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # a body of some other type is refused; an empty one without a type is an empty form, whose
    # missing parameters are then named (400), as for a form that lacks them
    if content_type != FORM_TYPE and (content_type or await request.body()):
        raise HTTPException(status_code=415, detail=f"Twilio webhooks are sent as {FORM_TYPE}")
    form = await request.form()
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    url = public_url(request, settings.public_base_url)
    if (
        not secret
        or not signature
        or not RequestValidator(secret.get_secret_value()).validate(url, form, signature, algorithm)
    ):
        log.warning(
            "refused %s: %s X-Twilio-Signature",
            request.url.path,
            "no secret configured for" if not secret else "missing" if not signature else "invalid",
        )
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    refuse_malformed(fields, "form")
    refuse_malformed(request.query_params, "query")
    return fields
