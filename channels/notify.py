"""Outbound SMS and calls: the ``Notifier`` port and its adapters.

- ``TwilioNotifier``: the official helper library (``twilio.rest.Client``,
  Programmable Messaging and Voice, REST API 2010-04-01). ``api_base_url``
  replaces ``https://api.twilio.com`` (the ``Api`` domain's ``base_url``) so
  tests talk to a local Prism mock of Twilio's OpenAPI description.
- ``ConsoleNotifier``: no credentials configured (development, demos): logs the
  masked number and segment count, keeps what it would have sent in ``sent``.
- ``OptOutGuard``: wraps either and honours opt-outs per number (table
  ``sms_opt_outs``): nothing is sent to a number that opted out, and Twilio's
  error 21610 (unsubscribed recipient) records the opt-out.

``build_notifier(settings)`` picks the adapter from the settings.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from config.settings import Settings
from handlers.channels.delivery import UNSUBSCRIBED_ERROR
from handlers.channels.phone import mask
from handlers.channels.sms import count_segments

log = logging.getLogger("channels.notify")


class Notifier(Protocol):
    def send_sms(self, to: str, body: str, status_callback: str | None = None) -> str | None:
        """Send ``body`` to the E.164 number ``to``; the message SID, or None when not sent (opted out)."""

    def place_call(self, to: str, url: str, status_callback: str | None = None) -> str:
        """Call ``to``; Twilio fetches TwiML from ``url`` when answered. Returns the call SID."""


class NotifyError(RuntimeError):
    """The provider refused or could not be reached; ``code`` is Twilio's error code if any."""

    def __init__(self, message: str, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class RecipientOptedOut(NotifyError):
    """Twilio error 21610: the recipient replied STOP to this sender."""


#: HTTP statuses worth another try: rate limited, or a server-side failure
#: (Twilio's guidance for 429 and 5xx is to retry with exponential backoff)
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How ``TwilioNotifier`` retries a request that failed transiently (429, 5xx,
    connection refused or reset, timeout): at most ``attempts`` tries, waiting
    ``initial_seconds`` doubling up to ``max_seconds`` between them, with jitter."""

    attempts: int = 5
    initial_seconds: float = 0.5
    max_seconds: float = 8.0


def _transient(exc: BaseException) -> bool:
    from requests import RequestException
    from twilio.base.exceptions import TwilioRestException

    if isinstance(exc, TwilioRestException):
        return exc.status in RETRYABLE_STATUSES
    return isinstance(exc, RequestException)


class TwilioNotifier:
    """SMS and calls through Twilio's REST API (``twilio.rest.Client``).

    ``from_number`` is an E.164 number, or a Messaging Service SID (``MG…``).
    ``timeout`` is seconds per HTTP request. Transient failures (429, 5xx,
    unreachable, timeout) are retried by ``retry`` (tenacity, exponential
    backoff with jitter). A request Twilio never answered is sent again, so a
    reply lost *after* Twilio accepted the message can repeat that one SMS
    (at least once, never silently lost). Raises ``NotifyError`` (or
    ``RecipientOptedOut``) when Twilio refuses or the retries run out.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base_url: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_base_url:
            self.client.api.base_url = api_base_url.rstrip("/")
        self.from_number = from_number
        self.retry = retry

    def send_sms(self, to: str, body: str, status_callback: str | None = None) -> str | None:
        from twilio.base import values

        sender = (
            {"messaging_service_sid": self.from_number}
            if self.from_number.startswith("MG")
            else {"from_": self.from_number}
        )
        message = self._call(
            lambda: self.client.messages.create(
                to=to, body=body, status_callback=status_callback or values.unset, **sender
            )
        )
        log.info("SMS %s to %s (segments: %d)", message.sid, mask(to), count_segments(body).segments)
        return message.sid

    def place_call(self, to: str, url: str, status_callback: str | None = None) -> str:
        from twilio.base import values

        call = self._call(
            lambda: self.client.calls.create(
                to=to, from_=self.from_number, url=url, method="POST", status_callback=status_callback or values.unset
            )
        )  # default event: completed, with the final CallStatus
        log.info("call %s to %s", call.sid, mask(to))
        return call.sid

    def _call(self, request: Callable[[], Any]) -> Any:
        from requests import RequestException
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter
        from twilio.base.exceptions import TwilioException, TwilioRestException

        def before_sleep(state) -> None:  # noqa: ANN001 - tenacity's RetryCallState
            exc = state.outcome.exception()
            log.warning(
                "Twilio request failed (%s); retry %d of %d in %.1f s",
                _describe(exc),
                state.attempt_number,
                self.retry.attempts - 1,
                state.next_action.sleep,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential_jitter(multiplier=self.retry.initial_seconds, max=self.retry.max_seconds),
            retry=retry_if_exception(_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(request)
        except TwilioRestException as exc:
            kind = RecipientOptedOut if str(exc.code) == UNSUBSCRIBED_ERROR else NotifyError
            raise kind(f"Twilio refused: HTTP {exc.status}, code {exc.code}", exc.code, exc.status) from None
        except (TwilioException, RequestException) as exc:
            raise NotifyError(f"Twilio unreachable: {_describe(exc)}") from None


def _describe(exc: BaseException | None) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status else type(exc).__name__


@dataclass
class ConsoleNotifier:
    """Sends nothing: logs masked numbers and keeps ``sent`` (kind, to, body or url, callback)."""

    sent: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def send_sms(self, to: str, body: str, status_callback: str | None = None) -> str | None:
        sid = "SM" + uuid.uuid4().hex
        self.sent.append(("sms", to, body, status_callback))
        log.warning(
            "no Twilio credentials: SMS %s to %s not sent (segments: %d)", sid, mask(to), count_segments(body).segments
        )
        return sid

    def place_call(self, to: str, url: str, status_callback: str | None = None) -> str:
        sid = "CA" + uuid.uuid4().hex
        self.sent.append(("call", to, url, status_callback))
        log.warning("no Twilio credentials: call %s to %s not placed", sid, mask(to))
        return sid


class OptOutGuard:
    """A ``Notifier`` that skips numbers that opted out of SMS and records new opt-outs.

    ``opted_out(phone)`` and ``record_opt_out(phone, source)`` are given by the
    caller (``build_notifier`` uses the ``sms_opt_outs`` table). Calls are not
    SMS and are not blocked.
    """

    def __init__(
        self, inner: Notifier, opted_out: Callable[[str], bool], record_opt_out: Callable[[str, str], None]
    ) -> None:
        self.inner, self.opted_out, self.record_opt_out = inner, opted_out, record_opt_out

    def send_sms(self, to: str, body: str, status_callback: str | None = None) -> str | None:
        if self.opted_out(to):
            log.info("SMS to %s skipped: opted out", mask(to))
            return None
        try:
            return self.inner.send_sms(to, body, status_callback)
        except RecipientOptedOut:
            log.info("SMS to %s refused by Twilio (21610): recording the opt-out", mask(to))
            self.record_opt_out(to, "error_21610")
            return None

    def place_call(self, to: str, url: str, status_callback: str | None = None) -> str:
        return self.inner.place_call(to, url, status_callback)


def build_notifier(settings: Settings) -> Notifier:
    """Twilio when ``twilio_account_sid``, ``twilio_auth_token`` and
    ``twilio_from_number`` are set, else the console; opt-outs honoured either way."""
    from db import channels
    from db.session import session_factory

    sessions = session_factory(settings.database_url)
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        inner: Notifier = TwilioNotifier(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number,
            settings.twilio_api_base_url,
            timeout=settings.twilio_timeout_seconds,
        )
    else:
        inner = ConsoleNotifier()

    def opted_out(phone: str) -> bool:
        with sessions() as session:
            return channels.is_opted_out(session, phone)

    def record(phone: str, source: str) -> None:
        with sessions() as session:
            channels.record_opt_out(session, phone, source)
            session.commit()

    return OptOutGuard(inner, opted_out, record)
