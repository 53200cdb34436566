"""The app API keeps to its own OpenAPI document (schemathesis 4, property-based):
no server errors, only documented status codes and content types, and every
response body valid against its declared schema.

Each generated call carries a valid token of the app the operation belongs to
(the elder's for ``app: elder``, the caregiver's for ``app: caregiver``, the
provider's for ``app: provider``), so the
generated inputs reach the handlers instead of stopping at 401/403. The app's
clock is fixed at the OpenAPI examples' morning and the examples' ids are
seeded, so the example cases exercise the success paths too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from careline.web import app_api_schemas as examples
from careline.web.app import create_app
from config.settings import Settings
from tests.integration.app_world import NOW, build_app_world, seed_offer, seed_visit, teardown_worker_caches

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


#: the application whose OpenAPI document is tested; its database comes with ``app_world``
#: (``app.state.channels``). Loaded at import, not with ``schemathesis.pytest.from_fixture``:
#: schemathesis 4.32's lazy loader sets ``request.node._nodeid``, which pytest 9.2 no longer has.
APP = create_app(
    Settings(
        database_url="sqlite://",
        app_rate_limit="100000/minute",  # the limits: test_app_api_limits
        app_intake_rate_limit="100000/minute",
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).include(path_regex=r"^/api/v1/")


@pytest.fixture(scope="module")
def app_world(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        world = build_app_world(tmp_path_factory.mktemp("app_api_schema"), monkeypatch)
        seed_visit(world, examples.EXAMPLE_REQUEST_ID)
        seed_visit(world, examples.EXAMPLE_VISIT_REQUEST_ID, planned_start=NOW + timedelta(minutes=10))
        seed_offer(world, examples.EXAMPLE_OFFER_ID)
        seed_visit(world, examples.EXAMPLE_DONE_REQUEST_ID, request_status="completed", visit_status="completed")
        APP.state.channels = world.ctx
        yield world
        APP.state.channels = None
    teardown_worker_caches()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_the_app_api_answers_as_its_openapi_document_says(case, app_world):
    tags = case.operation.tags or []
    who = "cg-li" if "app: caregiver" in tags else "p-1" if "app: provider" in tags else "e-wang"
    case.headers = {**(case.headers or {}), **app_world.auth(who)}
    case.call_and_validate(checks=CHECKS)
