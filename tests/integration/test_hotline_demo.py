"""``careline demo --hotline`` without Twilio credentials."""

from __future__ import annotations

from tools.replay.hotline_demo import main


def test_the_hotline_demo_shows_the_call_the_offer_sms_and_the_address_sms(capsys):
    assert main() == 0
    out = capsys.readouterr().out
    assert "<Gather" in out and "确认请按1" in out and "您的送餐已登记" in out
    assert "新单" in out and "回1接单" in out
    assert "地址:青岛路12号3单元401" in out
    assert "SMS to +8613912345678" in out and "您的送餐已安排" in out  # the elder hears who comes and when
