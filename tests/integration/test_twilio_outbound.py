"""TwilioNotifier against a Prism mock of Twilio's API (Twilio's OpenAPI description)."""

from __future__ import annotations

import pytest

from channels.notify import NotifyError, OptOutGuard, TwilioNotifier

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "0" * 32


@pytest.fixture
def notifier(prism) -> TwilioNotifier:
    return TwilioNotifier(ACCOUNT, "test-auth-token", "+15005550006", api_base_url=prism.base_url)


def test_an_sms_goes_through_the_twilio_helper_and_gets_a_message_sid(notifier):
    sid = notifier.send_sms(
        "+8613800138000",
        "【关爱】新单4821:送餐 鼓楼 12/01 09:00-10:00 回1接单 回2拒绝",
        status_callback="https://careline.example.org/twilio/status?kind=sms",
    )
    assert sid[:2] in ("SM", "MM") and len(sid) == 34  # a message SID per the spec (MM: media)


def test_a_call_is_placed_and_gets_a_call_sid(notifier):
    sid = notifier.place_call(
        "+8613800138000",
        "https://careline.example.org/twilio/voice/rating?request_id=R1",
        status_callback="https://careline.example.org/twilio/status?kind=call",
    )
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
    guard = OptOutGuard(
        notifier, opted_out=lambda phone: phone == "+8613800138000", record_opt_out=lambda phone, source: None
    )
    assert guard.send_sms("+8613800138000", "hello") is None
    assert guard.send_sms("+8613900139000", "hello")[:2] in ("SM", "MM")


def _through(proxy, timeout: float = 10.0) -> TwilioNotifier:
    from channels.notify import RetryPolicy

    return TwilioNotifier(
        ACCOUNT,
        "test-auth-token",
        "+15005550006",
        api_base_url=proxy.base_url,
        timeout=timeout,
        retry=RetryPolicy(attempts=5, initial_seconds=0.05, max_seconds=0.2),
    )


def test_500_and_429_from_twilio_are_retried_and_the_sms_is_sent_once(prism):
    from tools.faults.faultproxy import FaultPlan, fault_proxy

    with fault_proxy(prism.base_url, FaultPlan(script=["500", "429", "500"])) as proxy:
        sid = _through(proxy).send_sms("+8613800138000", "offer 4821")
    assert sid[:2] in ("SM", "MM")
    assert proxy.stats.attempts == 4 and proxy.stats.injected == {"500": 2, "429": 1}
    assert sum(proxy.stats.forwarded.values()) == 1 and proxy.stats.duplicates == 0


def test_a_request_twilio_never_answers_times_out_and_is_sent_again_once(prism):
    from tools.faults.faultproxy import FaultPlan, fault_proxy

    with fault_proxy(prism.base_url, FaultPlan(script=["hang"], hang_seconds=3)) as proxy:
        sid = _through(proxy, timeout=1.0).send_sms("+8613800138000", "offer 4822")
    assert sid[:2] in ("SM", "MM")
    assert proxy.stats.attempts == 2 and sum(proxy.stats.forwarded.values()) == 1


def test_when_retries_run_out_the_caller_gets_a_notify_error_naming_the_status(prism):
    from tools.faults.faultproxy import FaultPlan, fault_proxy

    with fault_proxy(prism.base_url, FaultPlan(p500=1.0)) as proxy:
        with pytest.raises(NotifyError) as failed:
            _through(proxy).send_sms("+8613800138000", "offer 4823")
    assert failed.value.status == 500 and proxy.stats.attempts == 5
    assert not proxy.stats.forwarded
