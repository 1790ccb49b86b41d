"""Retry data on the screens: attempts and chart on installation pages, DCC's schedule / cancel /
pause / resume buttons (through the retry services), and the dashboard's retry charts."""

from __future__ import annotations

import pytest

from cases.domain import Role
from retries.models import MigrationAttempt, RetryPause, SessionAttempt, SessionState
from retries.s1sp.simulator import S1SPSimulator
from retries.services import migration_schedule
from retries.services.claiming import claim_batch
from retries.services.running import session_attempt_run
from tests.factories import InstallationFactory


def run_all(mode: str = "CONNECT") -> None:
    """Run every scheduled session attempt now, in this process (no broker)."""
    simulator = S1SPSimulator(latency=0.0, seed=0, default_mode=mode, time_scale=0.0)
    for _ in range(20):
        nxt = SessionAttempt.objects.filter(state=SessionState.SCHEDULED).order_by("due_at").first()
        if nxt is None:
            return
        for item in claim_batch(now=nxt.due_at):
            session_attempt_run(attempt_id=item.pk, claim_token=item.token, worker="test", client=simulator)


@pytest.fixture
def attempted(installation, people, check):  # type: ignore[no-untyped-def]
    """An installation with one migration attempt whose sessions all connected."""
    migration_schedule(installation=installation, actor=people[Role.DCC_OPERATOR], reason="First try")
    run_all("CONNECT")
    return installation


def test_installation_page_lists_attempts_and_draws_the_chart(dcc_client, attempted) -> None:  # type: ignore[no-untyped-def]
    html = dcc_client.get(f"/installations/{attempted.pk}/").content.decode()
    attempt = MigrationAttempt.objects.get(installation=attempted)
    session = SessionAttempt.objects.filter(installation=attempted).first()
    assert "Migration attempts" in html and "Session attempts" in html
    assert attempt.get_outcome_display() in html and "First try" in html
    assert session.get_state_display() in html
    assert 'id="c-attempts-t"' in html and "<rect class=\"bar connected\"" in html


def test_a_user_sees_their_installations_attempts_but_no_operator_buttons(agent_client, attempted) -> None:  # type: ignore[no-untyped-def]
    html = agent_client.get(f"/installations/{attempted.pk}/").content.decode()
    assert "Session attempts" in html and "First try" in html
    for label in ("Schedule migration attempt", "Cancel pending retries", "Pause retries", "Resume retries"):
        assert label not in html


def test_dcc_schedules_then_cancels_through_the_services(dcc_client, installation, check) -> None:  # type: ignore[no-untyped-def]
    page = dcc_client.get(f"/installations/{installation.pk}/").content.decode()
    assert "Schedule migration attempt" in page
    response = dcc_client.post(f"/installations/{installation.pk}/retries/schedule/", {"reason": "Ad hoc"}, follow=True)
    assert b"Migration attempt 1 scheduled." in response.content
    attempt = MigrationAttempt.objects.get(installation=installation)
    assert attempt.outcome == "SCHEDULED" and attempt.reason == "Ad hoc"
    assert b"Cancel pending retries" in response.content
    # Scheduling twice is refused with the service's message.
    again = dcc_client.post(f"/installations/{installation.pk}/retries/schedule/", follow=True)
    assert b"already scheduled" in again.content
    # Cancelling needs a reason.
    no_reason = dcc_client.post(f"/installations/{installation.pk}/retries/cancel/", {"reason": ""}, follow=True)
    assert b"Say why the retries are cancelled." in no_reason.content
    dcc_client.post(f"/installations/{installation.pk}/retries/cancel/", {"reason": "Site visit first"})
    attempt.refresh_from_db()
    assert attempt.outcome == "CANCELLED"
    assert SessionAttempt.objects.filter(installation=installation, state=SessionState.CANCELLED).exists()


def test_schedule_with_a_window_start(dcc_client, installation, check) -> None:  # type: ignore[no-untyped-def]
    dcc_client.post(f"/installations/{installation.pk}/retries/schedule/", {"window_start": "2031-03-04T09:30"})
    attempt = MigrationAttempt.objects.get(installation=installation)
    assert attempt.window_start.year == 2031 and attempt.window_start.month == 3
    bad = dcc_client.post(f"/installations/{installation.pk}/retries/schedule/", {"window_start": "soon"}, follow=True)
    assert b"not a date and time" in bad.content


def test_dcc_pauses_and_resumes(dcc_client, installation) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.post(f"/installations/{installation.pk}/retries/pause/", {"reason": "SMSO outage"}, follow=True)
    assert b"Retries paused for this installation." in response.content
    assert b"SMSO outage" in response.content and b"Resume retries" in response.content
    assert RetryPause.objects.filter(installation=installation, is_active=True).exists()
    dcc_client.post(f"/installations/{installation.pk}/retries/resume/", {"reason": "Back"})
    assert not RetryPause.objects.filter(installation=installation, is_active=True).exists()


@pytest.mark.parametrize("action", ["schedule", "cancel", "pause", "resume"])
@pytest.mark.parametrize("role", [Role.USER_AGENT, Role.USER_VIEWER])
def test_users_cannot_operate_retries(client_for, installation, role: str, action: str) -> None:  # type: ignore[no-untyped-def]
    response = client_for(role).post(f"/installations/{installation.pk}/retries/{action}/", {"reason": "x"})
    assert response.status_code == 403
    assert not MigrationAttempt.objects.exists() and not RetryPause.objects.exists()


def test_operating_another_users_installation_is_404_for_users(client_for, other_supplier) -> None:  # type: ignore[no-untyped-def]
    other = InstallationFactory(responsible_supplier=other_supplier)
    assert client_for(Role.USER_AGENT).post(f"/installations/{other.pk}/retries/pause/", {"reason": "x"}).status_code == 404


def test_case_page_summarises_the_installations_attempts(dcc_client, attempted, check) -> None:  # type: ignore[no-untyped-def]
    from cases.domain import CaseState
    from tests.factories import case_in_state

    case = case_in_state(CaseState.TRIAGED, installation=attempted, check=check)
    html = dcc_client.get(f"/cases/{case.reference}/").content.decode()
    assert "Migration attempts" in html and "#1" in html


def test_dashboard_retry_outcomes_are_scoped(client_for, attempted, other_supplier, people) -> None:  # type: ignore[no-untyped-def]
    other = InstallationFactory(responsible_supplier=other_supplier)
    migration_schedule(installation=other, actor=people[Role.DCC_OPERATOR])
    run_all("NEVER_ANSWER")
    from cases.web.common import Actor
    from cases.web.retry_views import dashboard_retry_context

    def ctx(role: str):  # type: ignore[no-untyped-def]
        user = people[role]
        from cases.roles import organisation_of

        return dashboard_retry_context(user, Actor(user=user, role=role, organisation=organisation_of(user)))

    dcc = ctx(Role.DCC_OPERATOR)
    mine = ctx(Role.USER_VIEWER)
    assert dcc["retry_totals"][SessionState.CONNECTED] >= 1
    assert dcc["retry_totals"][SessionState.TIMED_OUT] >= 1
    assert mine["retry_totals"][SessionState.TIMED_OUT] == 0  # the other supplier's failures are not shown
    assert mine["retry_totals"][SessionState.CONNECTED] == dcc["retry_totals"][SessionState.CONNECTED]
    page = client_for(Role.DCC_OPERATOR).get("/dashboard/").content.decode()
    assert "Session attempt outcomes" in page and "Due backlog lag" in page


@pytest.mark.parametrize("cap", [10_001, 1])  # 1: past the cap, the User's share is counted the slow way
def test_dashboard_due_backlog_counts_only_what_the_user_may_see(people, supplier, other_supplier, monkeypatch,
                                                                 cap) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from cases.roles import organisation_of
    from cases.web import retry_views
    from cases.web.common import Actor

    mine = [InstallationFactory(responsible_supplier=supplier) for _ in range(2)]
    theirs = InstallationFactory(responsible_supplier=other_supplier)
    for installation in [*mine, theirs]:
        migration_schedule(installation=installation, actor=people[Role.DCC_OPERATOR])
    later = timezone.now() + timedelta(days=60)
    due = SessionAttempt.objects.filter(state=SessionState.SCHEDULED, due_at__lte=later)
    expected_mine, expected_all = due.filter(installation__in=mine).count(), due.count()
    assert expected_mine >= 2 and expected_all > expected_mine
    monkeypatch.setattr(retry_views, "DUE_COUNT_CAP", cap)

    def due_count(role: str) -> int:
        user = people[role]
        actor = Actor(user=user, role=role, organisation=organisation_of(user))
        return retry_views.dashboard_retry_context(user, actor, now=later)["backlog"]["due_count"]

    assert due_count(Role.USER_VIEWER) == (expected_mine if cap > 1 else 1)
    assert due_count(Role.DCC_OPERATOR) == (expected_all if cap > 1 else 1)
