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


def _more_session_attempts(first, n):  # type: ignore[no-untyped-def]
    """n more session attempts in the first one's window, each due 15 minutes after the previous."""
    from datetime import timedelta

    from retries.models import SessionAttempt

    return [
        SessionAttempt.objects.create(
            migration_attempt=first.migration_attempt, installation=first.installation, cohort=first.cohort,
            number=first.number + k, due_at=first.due_at + timedelta(minutes=15 * k),
            timeout_seconds=first.timeout_seconds, policy=first.policy, policy_revision=first.policy_revision,
        )
        for k in range(1, n + 1)
    ]


def test_installation_detail_embeds_the_newest_attempts_and_links_the_paged_history(clients, installation, settings):
    settings.MEHR = {**settings.MEHR, "API_INSTALLATION_HISTORY_LIMIT": 2}
    migration_schedule(installation=installation, actor=None, reason="First window")
    first = installation.session_attempts.get()
    _more_session_attempts(first, 4)
    client = clients[Role.USER_AGENT]
    body = client.get(f"/api/v1/installations/{installation.pk}/").json()
    assert [s["number"] for s in body["session_attempts"]] == [5, 4]  # latest due first, bounded
    assert body["session_attempts_url"].endswith(f"/api/v1/installations/{installation.pk}/session-attempts/")
    assert body["migration_attempts_url"].endswith(f"/api/v1/installations/{installation.pk}/migration-attempts/")

    # The full history, two per page, through the cursor links; constant queries per page.
    seen, url = [], body["session_attempts_url"] + "?page_size=2"
    while url:
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url).json()
        assert len(queries) <= 4  # token, installation visible?, the page (+ savepoint-free slack)
        seen += [s["number"] for s in page["results"]]
        url = page["next"]
    assert seen == [5, 4, 3, 2, 1]
    oldest_first = client.get(body["session_attempts_url"] + "?ordering=due_at").json()["results"]
    assert [s["number"] for s in oldest_first] == [1, 2, 3, 4, 5]

    migrations = client.get(body["migration_attempts_url"]).json()
    assert [(m["number"], m["reason"]) for m in migrations["results"]] == [(1, "First window")]
    assert client.get(body["session_attempts_url"] + "?ordering=nonsense").status_code == 400


@pytest.mark.parametrize("role", (Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION))
@pytest.mark.parametrize("history", ("session-attempts", "migration-attempts"))
def test_another_users_installation_history_answers_404(role, history, clients, other_supplier):
    other = InstallationFactory(responsible_supplier=other_supplier)
    migration_schedule(installation=other, actor=None)
    response = clients[role].get(f"/api/v1/installations/{other.pk}/{history}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert clients[role].get(f"/api/v1/installations/999999999/{history}/").status_code == 404
    assert clients[Role.DCC_OPERATOR].get(f"/api/v1/installations/{other.pk}/{history}/").json()["results"]
