"""The deploy smoke's rig (tools/deploy) agrees with careline: its Twilio signatures are the ones
the web service accepts, and its register is valid and the same in the CSV files (for
``careline register import``) and in seed.sql (written while that command is missing)."""

import re
from pathlib import Path

from careline.web.twilio_security import sign
from handlers.register.files import read_table
from handlers.register.rows import parse_caregivers, parse_elders, parse_providers
from tools.deploy import center
from tools.deploy.stack import twilio_signature

REGISTER = Path(center.__file__).parent / "register"
SEED = (Path(center.__file__).parent / "seed.sql").read_text(encoding="utf-8")


def test_the_smoke_signs_webhooks_as_twilio_does():
    params = {"CallSid": "CA" + "1" * 32, "From": "+8613800138001", "Digits": "1", "Body": "到 4821"}
    url = center.PUBLIC_BASE + "/twilio/voice/menu?lang=zh&try=0"
    assert twilio_signature(url, params, "secret-token") == sign(url, params, "secret-token")


def _parsed(name: str, parse):
    path = REGISTER / f"{name}.csv"
    result = parse(read_table(path.read_bytes(), path.name))
    assert result.errors == () and result.ignored_columns == (), result
    return result.records


def test_the_smoke_register_files_are_valid_and_match_the_seed():
    (provider,) = _parsed("providers", parse_providers)
    caregivers = _parsed("caregivers", parse_caregivers)
    (elder,) = _parsed("elders", parse_elders)
    assert {c.caregiver_id: c.phone for c in caregivers} == center.CAREGIVERS
    assert all(c.provider_id == provider.provider_id and "meal" in c.skills for c in caregivers)
    assert (elder.elder_id, elder.phone) == center.ELDER
    for value in [provider.provider_id, elder.elder_id, elder.phone, *center.CAREGIVERS, *center.CAREGIVERS.values()]:
        assert re.search(rf"'{re.escape(value)}'", SEED), f"{value} is not in seed.sql"
