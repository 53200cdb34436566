"""X-Twilio-Signature checks for every Twilio webhook.

Twilio signs the full URL it requested plus the sorted POST parameters
(HMAC-SHA1 with the Auth Token; HMAC-SHA256 with a SharedKey when the request
carries ``X-Twilio-Webhooks-Signature-Settings``). Behind a TLS-terminating
proxy the URL the application sees is not the one Twilio used, so the URL is
rebuilt from the configured ``public_base_url`` + the request path + the raw
query string (``twilio.request_validator`` tries it with and without the
default port). Without a configured secret every webhook is refused: fail closed.
"""
from __future__ import annotations

import logging

from fastapi import HTTPException, Request
from twilio.request_validator import RequestValidator, get_signature_algorithm

from careline.channels import callback_url

log = logging.getLogger("careline.web.twilio")


def public_url(request: Request, base: str) -> str:
    """The URL Twilio requested, as seen from outside the proxy."""
    url = callback_url(base, request.url.path)
    return f"{url}?{request.url.query}" if request.url.query else url


def sign(url: str, params: dict[str, str], secret: str) -> str:
    """The X-Twilio-Signature Twilio would send (tests and the demo)."""
    return RequestValidator(secret).compute_signature(url, params)


async def verified_form(request: Request) -> dict[str, str]:
    """FastAPI dependency: the form parameters of a correctly signed Twilio request; 403 otherwise."""
    settings = request.app.state.settings
    secret = settings.twilio_webhook_secret or settings.twilio_auth_token
    form = await request.form()
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    url = public_url(request, settings.public_base_url)
    if not secret or not signature or not RequestValidator(secret.get_secret_value()).validate(
            url, form, signature, algorithm):
        log.warning("refused %s: %s X-Twilio-Signature", request.url.path,
                    "no secret configured for" if not secret else "missing" if not signature else "invalid")
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return {key: value for key, value in form.items() if isinstance(value, str)}
