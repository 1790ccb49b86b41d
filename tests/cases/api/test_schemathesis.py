"""schemathesis against the live schema: a bounded number of generated requests per operation,
made both as a User agent and as a DCC operator; no 5xx, and every response conforms to the schema
(status code, content type, headers, body)."""

from __future__ import annotations

from datetime import date

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from cases.domain import CaseState, Role
from cases.services import token_issue
from cases.services.reports import reports_generate_daily
from tests.factories import DeviceFactory, InstallationFactory, case_in_state, make_user

MAX_EXAMPLES = 15
# Everything but negative_data_rejection, which expects every schema-violating request to be
# refused: the API deliberately accepts a batch with invalid events (reporting them per item) and
# treats an empty query parameter (`?state=`) as "no filter", as django-filter does.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.positive_data_acceptance,
]

# Operations whose schema-valid requests may still be refused with a 400 by design, so the
# positive_data_acceptance check does not apply to them:
CONTENT_CHECKED = {
    # A schema-valid event may still name an MPAN, device or check code that does not exist (or an
    # MPAN whose check digit is wrong): a 400 with per-field errors.
    "POST /api/v1/exception-events/",
    # The uploaded file's content is CSV the schema cannot describe: rows with unknown check codes,
    # MPANs or dates are a 400 listing them (nothing written).
    "POST /api/v1/imports/exception-events/",
    # Cross-field rules (a webhook event needs a URL and a secret; recipients must be email addresses).
    "PUT /api/v1/notifications/preferences/",
}

# Loaded from the running application (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture
def tokens(db, dcc, supplier, check, settings, tmp_path):  # type: ignore[no-untyped-def]
    """Keys for a User agent and a DCC operator, and some data for the requests to find."""
    settings.MEDIA_ROOT = tmp_path
    settings.MEHR = {**settings.MEHR, "API_THROTTLE_RATES": {}}
    # The real WSGI handler closes the database connection after each request, which would end
    # the test's transaction; Django's test client avoids that the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    installation = InstallationFactory(responsible_supplier=supplier)
    DeviceFactory(installation=installation)
    case_in_state(CaseState.AWAITING_USER, installation=installation, check=check)
    # Daily reports (each User's and the all-User one) for the report endpoints to find.
    reports_generate_daily(report_date=date(2026, 11, 27))
    yield {
        Role.USER_AGENT: token_issue(user=make_user(Role.USER_AGENT, supplier))[1],
        Role.DCC_OPERATOR: token_issue(user=make_user(Role.DCC_OPERATOR, dcc))[1],
    }
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays deterministic
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, tokens):  # type: ignore[no-untyped-def]
    # Every generated request is made by both roles: User-side and DCC-side visibility.
    checks_here = CHECKS
    if case.operation.label in CONTENT_CHECKED:
        checks_here = [c for c in CHECKS if c is not checks.positive_data_acceptance]
    for role in (Role.USER_AGENT, Role.DCC_OPERATOR):
        case.call_and_validate(headers={"Authorization": f"Token {tokens[role]}"}, checks=checks_here)
