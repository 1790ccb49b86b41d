"""Dashboard rollups (cases.services.dashboard): the rollup gives exactly the live aggregates, per
User organisation too; a rebuild replaces everything at once (idempotent, all-or-nothing); the
freshness rule; the beat entry and its queue; the /healthz detail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from cases.domain import CaseState, Cohort, InstallationType, Party, Role
from cases.models import (
    Case,
    DashboardCaseRollup,
    DashboardCaseTotal,
    DashboardRetryRollup,
    DashboardRollupState,
    DashboardSupplierRollup,
)
from cases.services import dashboard as service
from cases.services.dashboard import dashboard_rollup_fresh, dashboard_rollup_rebuild
from cases.web.common import Actor
from cases.web.dashboard import build_dashboard
from cases.web.retry_views import dashboard_retry_context
from retries.models import SessionAttempt, SessionState
from retries.services import migration_schedule
from tests.factories import CheckFactory, InstallationFactory, case_in_state


def _charts(context: dict) -> dict:
    """Every figure the dashboard draws, as plain data (source marker left out)."""
    out = {"headline": context["headline"]}
    for key in ("by_state", "by_stage", "by_category", "ageing", "waiting_states", "by_cohort", "by_type"):
        out[key] = [(b.label, b.value) for b in context[key].bars]
    out["waiting"] = [(s.label, s.value) for s in context["waiting"].segments]
    return out


def _actor(user, role: str) -> Actor:  # type: ignore[no-untyped-def]
    from cases.roles import organisation_of

    return Actor(user=user, role=role, organisation=organisation_of(user))


@pytest.fixture
def other_agent(other_supplier):  # type: ignore[no-untyped-def]
    from tests.factories import make_user

    return make_user(Role.USER_AGENT, other_supplier, username="other_agent")


@pytest.fixture
def dataset(people, supplier, other_supplier):  # type: ignore[no-untyped-def]
    """Open and closed cases of two suppliers across states, owners, cohorts, types and ages, and
    finished session attempts spread over the last three weeks (some outside the chart)."""
    dcc = people[Role.DCC_OPERATOR]
    checks = [CheckFactory(code="CM001"), CheckFactory(code="DV001"), CheckFactory(code="SC002")]
    now = timezone.now()
    spec = [
        (supplier, CaseState.RAISED, Cohort.IOC, InstallationType.DORMANT, "", 0),
        (supplier, CaseState.AWAITING_USER, Cohort.MOC_MDS, InstallationType.ACTIVE, Party.USER, 2),
        (supplier, CaseState.ESCALATED, Cohort.MOC_SECURE, InstallationType.MIXED, Party.DCC, 4),
        (supplier, CaseState.AWAITING_SMSO, Cohort.IOC, InstallationType.ACTIVE, Party.SMSO, 8),
        (supplier, CaseState.CLOSED, Cohort.IOC, InstallationType.ACTIVE, "", 1),
        (other_supplier, CaseState.AWAITING_SMSO, Cohort.MOC_MDS, InstallationType.DORMANT, Party.SMSO, 30),
        (other_supplier, CaseState.TRIAGED, Cohort.IOC, InstallationType.ACTIVE, Party.DCC, 15),
        (other_supplier, CaseState.RAISED, Cohort.IOC, InstallationType.ACTIVE, "", 0),
    ]
    installations = []
    for i, (org, state, cohort, kind, owner, age_days) in enumerate(spec):
        inst = InstallationFactory(responsible_supplier=org, cohort=cohort, installation_type=kind)
        installations.append(inst)
        extra = {"owner_party": owner} if owner else {}
        case = case_in_state(state, installation=inst, check=checks[i % len(checks)], **extra)
        Case.objects.filter(pk=case.pk).update(raised_at=now - timedelta(days=age_days, hours=1))
    # Session attempts: schedule a window per installation of the first three, then finish them
    # on chosen days with chosen outcomes (set directly: the engine is tested in tests/retries).
    outcomes = [SessionState.CONNECTED, SessionState.FAILED, SessionState.TIMED_OUT, SessionState.CANCELLED]
    for inst in (installations[0], installations[1], installations[5]):
        migration_schedule(installation=inst, actor=dcc, reason="rollup test")
    for i, attempt in enumerate(SessionAttempt.objects.order_by("pk")):
        SessionAttempt.objects.filter(pk=attempt.pk).update(
            state=outcomes[i % len(outcomes)], finished_at=now - timedelta(days=(i * 3) % 20, minutes=5)
        )
    return installations


def test_rollup_gives_exactly_the_live_figures_for_dcc_and_for_each_user(
    dataset, people, other_agent
) -> None:  # type: ignore[no-untyped-def]
    viewers = [(people[Role.DCC_OPERATOR], Role.DCC_OPERATOR), (people[Role.USER_VIEWER], Role.USER_VIEWER),
               (other_agent, Role.USER_AGENT)]  # fmt: skip
    now = timezone.now()
    live = {}
    for user, role in viewers:
        context = build_dashboard(user, now)
        assert context["rollup"] is None
        live[user.pk] = (_charts(context), dashboard_retry_context(user, _actor(user, role), now=now))

    build = dashboard_rollup_rebuild(now)
    assert build.case_rows > 0 and build.retry_rows > 0
    for user, role in viewers:
        context = build_dashboard(user, now)
        assert context["rollup"] is not None and context["rollup"].built_at == now
        retry = dashboard_retry_context(user, _actor(user, role), now=now, rollup=context["rollup"])
        assert _charts(context) == live[user.pk][0]
        assert retry["retry_chart"].columns == live[user.pk][1]["retry_chart"].columns
        assert retry["retry_totals"] == live[user.pk][1]["retry_totals"]
        assert retry["backlog"] == live[user.pk][1]["backlog"]

    # The figures are not trivially equal: the scopes differ as expected.
    dcc, mine, theirs = (live[user.pk][0]["headline"]["open"] for user, _ in viewers)
    assert (dcc, mine, theirs) == (7, 4, 3)
    windows = [live[user.pk][1]["backlog"]["open_windows"] for user, _ in viewers]
    assert windows == [3, 2, 1]
    finished = [sum(live[user.pk][1]["retry_totals"].values()) for user, _ in viewers]
    assert finished[0] == finished[1] + finished[2] and finished[1] > 0 and finished[2] > 0


def test_a_user_reads_only_their_organisations_rollup_rows(dataset, people, supplier, other_supplier) -> None:  # type: ignore[no-untyped-def]
    from cases.selectors import (
        dashboard_case_rollup_visible_to,
        dashboard_case_totals_visible_to,
        dashboard_retry_rollup_visible_to,
        dashboard_supplier_rollup_visible_to,
    )

    dashboard_rollup_rebuild()
    user = people[Role.USER_AGENT]
    assert set(dashboard_case_rollup_visible_to(user).values_list("supplier_id", flat=True)) == {supplier.pk}
    assert set(dashboard_retry_rollup_visible_to(user).values_list("supplier_id", flat=True)) == {supplier.pk}
    assert set(dashboard_case_totals_visible_to(user).values_list("supplier_id", flat=True)) == {supplier.pk}
    assert set(dashboard_supplier_rollup_visible_to(user).values_list("supplier_id", flat=True)) == {supplier.pk}
    assert DashboardCaseRollup.objects.filter(supplier=other_supplier).exists()
    # Someone with no role sees nothing at all.
    from tests.factories import UserFactory

    assert not dashboard_case_rollup_visible_to(UserFactory()).exists()


def _rows() -> tuple[list, list, list, list]:
    cases = sorted(DashboardCaseRollup.objects.values_list("supplier_id", *service.CASE_DIMENSIONS, "cases"))
    retries = sorted(DashboardRetryRollup.objects.values_list("supplier_id", "day", "state", "attempts"))
    totals = sorted(DashboardCaseTotal.objects.values_list("supplier_id", "dimension", "value", "cases"))
    windows = sorted(DashboardSupplierRollup.objects.values_list("supplier_id", "open_windows"))
    return cases, retries, totals, windows


def test_rebuild_is_idempotent_and_replaces_everything(dataset) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    dashboard_rollup_rebuild(now)
    first = _rows()
    dashboard_rollup_rebuild(now)
    assert _rows() == first  # nothing doubled
    assert DashboardRollupState.objects.count() == 1
    # A case that closes drops out at the next rebuild.
    Case.objects.filter(state=CaseState.ESCALATED).update(state=CaseState.CLOSED)
    dashboard_rollup_rebuild(now)
    assert sum(r[-1] for r in _rows()[0]) == sum(r[-1] for r in first[0]) - 1


def test_a_failed_rebuild_leaves_the_previous_rollup_whole(dataset, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    old = timezone.now() - timedelta(seconds=30)
    dashboard_rollup_rebuild(old)
    before = _rows()
    Case.objects.filter(state=CaseState.ESCALATED).update(state=CaseState.CLOSED)
    real = service._insert_select

    def fail_on_retries(model, columns, select):  # type: ignore[no-untyped-def]
        if model is DashboardRetryRollup:  # after the case rollup was already deleted and refilled
            raise RuntimeError("boom")
        return real(model, columns, select)

    monkeypatch.setattr(service, "_insert_select", fail_on_retries)
    with pytest.raises(RuntimeError):
        dashboard_rollup_rebuild()
    assert _rows() == before
    assert DashboardRollupState.objects.get().built_at == old


def test_freshness_never_built_stale_and_fresh(dataset, settings) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    assert dashboard_rollup_fresh(now) is None  # never built
    dashboard_rollup_rebuild(now - timedelta(seconds=settings.MEHR["DASHBOARD_ROLLUP_MAX_AGE_SECONDS"] + 1))
    assert dashboard_rollup_fresh(now) is None  # stale
    dashboard_rollup_rebuild(now - timedelta(seconds=10))
    assert dashboard_rollup_fresh(now) is not None
    settings.MEHR = {**settings.MEHR, "DASHBOARD_ROLLUP_MAX_AGE_SECONDS": 5}
    assert dashboard_rollup_fresh(now) is None


def test_beat_rebuilds_the_rollups_on_the_reports_queue() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["dashboard-rollup-rebuild"]
    assert entry["task"] == "cases.tasks.dashboard_rollup_rebuild"
    assert entry["schedule"].run_every == timedelta(seconds=settings.MEHR["DASHBOARD_ROLLUP_INTERVAL_SECONDS"])
    from celery import current_app

    from mehr_site.celery import app

    assert app.amqp.router.route({}, entry["task"])["queue"].name == "reports"
    assert entry["task"] in current_app.tasks or entry["task"] in app.tasks


def test_task_rebuilds_through_the_service(dataset) -> None:  # type: ignore[no-untyped-def]
    from cases.tasks import dashboard_rollup_rebuild as task

    result = task()
    assert result["case_rows"] == DashboardCaseRollup.objects.count() > 0
    assert DashboardRollupState.objects.get().case_rows == result["case_rows"]


def test_healthz_reports_the_rollup_age_without_failing(db) -> None:  # type: ignore[no-untyped-def]
    from cases.health import dashboard_rollup

    assert dashboard_rollup() == {
        "ok": True, "built": False, "fresh": False,
        "max_age_seconds": settings.MEHR["DASHBOARD_ROLLUP_MAX_AGE_SECONDS"],
    }  # fmt: skip
    dashboard_rollup_rebuild(timezone.now() - timedelta(days=1))
    stale = dashboard_rollup()
    assert stale["ok"] is True and stale["built"] is True and stale["fresh"] is False and stale["age_seconds"] > 80_000
    dashboard_rollup_rebuild()
    assert dashboard_rollup()["fresh"] is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rebuilds_never_double_count(supplier) -> None:  # type: ignore[no-untyped-def]
    import threading

    from django.db import connection

    check = CheckFactory(code="CM001")
    for _ in range(5):
        case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def rebuild() -> None:
        try:
            barrier.wait()
            dashboard_rollup_rebuild()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rebuild) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(DashboardCaseRollup.objects.values_list("cases", flat=True)) == 5
    assert sum(DashboardCaseTotal.objects.filter(dimension="state").values_list("cases", flat=True)) == 5
    assert DashboardRollupState.objects.count() == 1
