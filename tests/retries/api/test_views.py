"""GET /api/v1/retry-policies/ and the retry history on GET /api/v1/installations/{id}/."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.domain import Role
from retries.models import RetryPolicy
from retries.services.scheduling import migration_schedule
from tests.factories import InstallationFactory

pytestmark = pytest.mark.django_db


def test_retry_policies_are_listed_for_every_role(clients):
    expected = list(RetryPolicy.objects.order_by("id").values_list("name", flat=True))
    assert expected  # the default policies come with the migrations
    for role in (Role.USER_VIEWER, Role.DCC_INTEGRATION):
        body = clients[role].get("/api/v1/retry-policies/?page_size=200").json()
        assert [p["name"] for p in body["results"]] == expected
    policy = body["results"][0]
    assert {"session_timeout_seconds", "session_attempts_per_window", "migration_attempts_before_exclusion"} <= set(policy)


def test_installation_detail_shows_its_attempts_only_to_those_who_see_it(clients, installation, other_supplier, api_client):
    attempt = migration_schedule(installation=installation, actor=None, reason="First window")
    client = clients[Role.USER_AGENT]
    client.get("/api/v1/checks/")
    with CaptureQueriesContext(connection) as queries:
        body = client.get(f"/api/v1/installations/{installation.pk}/").json()
    assert len(queries) <= 6  # token, installation, devices, cases, migration attempts, session attempts
    assert [(m["number"], m["outcome"], m["reason"]) for m in body["migration_attempts"]] == [(1, attempt.outcome, "First window")]
    sessions = body["session_attempts"]
    assert len(sessions) == 1 and sessions[0]["migration_attempt"] == 1 and sessions[0]["state"] == "SCHEDULED"
    other = InstallationFactory(responsible_supplier=other_supplier)
    migration_schedule(installation=other, actor=None)
    assert client.get(f"/api/v1/installations/{other.pk}/").status_code == 404
    assert clients[Role.DCC_OPERATOR].get(f"/api/v1/installations/{other.pk}/").json()["migration_attempts"]
