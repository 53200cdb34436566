"""TwilioNotifier against a Prism mock of Twilio's API (Twilio's OpenAPI description)."""
from __future__ import annotations

import pytest

from careline.notify import NotifyError, OptOutGuard, TwilioNotifier

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "0" * 32


@pytest.fixture
def notifier(prism) -> TwilioNotifier:
    return TwilioNotifier(ACCOUNT, "test-auth-token", "+15005550006", api_base_url=prism.base_url)


def test_an_sms_goes_through_the_twilio_helper_and_gets_a_message_sid(notifier):
    sid = notifier.send_sms("+8613800138000", "【关爱】新单4821:送餐 鼓楼 12/01 09:00-10:00 回1接单 回2拒绝",
                            status_callback="https://careline.example.org/twilio/status?kind=sms")
    assert sid[:2] in ("SM", "MM") and len(sid) == 34  # a message SID per the spec (MM: media)


def test_a_call_is_placed_and_gets_a_call_sid(notifier):
    sid = notifier.place_call("+8613800138000", "https://careline.example.org/twilio/voice/rating?request_id=R1",
                              status_callback="https://careline.example.org/twilio/status?kind=call")
    assert sid.startswith("CA") and len(sid) == 34


def test_a_request_the_api_spec_rejects_fails(notifier):
    from twilio.base import values

    with pytest.raises(NotifyError) as refused:  # no To: Twilio's spec requires it
        notifier._call(lambda: notifier.client.messages.create(to=values.unset, from_="+15005550006", body="x"))
    assert refused.value.status == 422


def test_wrong_credentials_scheme_is_refused_by_the_mock(prism):
    anonymous = TwilioNotifier(ACCOUNT, "", "+15005550006", api_base_url=prism.base_url)
    with pytest.raises(NotifyError):
        anonymous.send_sms("+8613800138000", "hello")


def test_an_opted_out_number_gets_nothing_even_with_real_credentials(notifier):
    guard = OptOutGuard(notifier, opted_out=lambda phone: phone == "+8613800138000",
                        record_opt_out=lambda phone, source: None)
    assert guard.send_sms("+8613800138000", "hello") is None
    assert guard.send_sms("+8613900139000", "hello")[:2] in ("SM", "MM")
