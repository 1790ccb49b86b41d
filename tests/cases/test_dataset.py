"""The dataset generator: sizes, constraints, reproducibility, and the services on its data."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cases.dataset import DATASET_PASSWORD, DatasetSpec, dataset_digest, generate_dataset, usernames
from cases.domain import OPEN_STATES, CaseState, Cohort, EventKind, InstallationType, Role
from cases.models import (
    Case,
    CaseEvent,
    CaseOccurrence,
    Check,
    ChecklistItem,
    Device,
    Installation,
    Membership,
    Organisation,
    ProcedureStep,
)
from cases.services import case_raise, case_transition
from cases.validators import validate_eui64, validate_mpan, validate_mprn
from tests.factories import make_user

SPEC = DatasetSpec(installations=1_500, cases=2_000, users=3, seed=7)


@pytest.fixture
def generated(db):  # type: ignore[no-untyped-def]
    return generate_dataset(SPEC, truncate=True)


def test_sizes_and_shape(generated) -> None:  # type: ignore[no-untyped-def]
    assert Installation.objects.count() == 1_500
    assert Case.objects.count() == 2_000
    assert generated.counts["installations"] == 1_500 and generated.counts["cases"] == 2_000
    assert Organisation.objects.filter(code__startswith="gen-u").count() == 3
    assert Device.objects.count() == generated.counts["devices"] > 1_500 * 3
    # Every state, cohort and installation type appears; most cases are history, a working set is open.
    states = Counter(Case.objects.values_list("state", flat=True))
    assert set(states) == set(CaseState.values)
    open_share = sum(states[s] for s in OPEN_STATES) / 2_000
    assert 0.05 < open_share < 0.25
    assert states[CaseState.CLOSED] > 2_000 / 2
    assert set(Installation.objects.values_list("cohort", flat=True)) == set(Cohort.values)
    assert set(Installation.objects.values_list("installation_type", flat=True)) == set(InstallationType.values)
    assert Case.objects.values("check_type").distinct().count() > 30
    assert Case.objects.values("stage").distinct().count() == 9


def test_constraints_and_integrity(generated) -> None:  # type: ignore[no-untyped-def]
    for mpan, mprn in Installation.objects.values_list("mpan", "mprn"):
        assert mpan or mprn
        if mpan:
            validate_mpan(mpan)
        if mprn:
            validate_mprn(mprn)
    assert Installation.objects.exclude(mpan="").values("mpan").distinct().count() == Installation.objects.exclude(
        mpan=""
    ).count()
    for eui in Device.objects.values_list("eui64", flat=True)[:2_000]:
        validate_eui64(eui)
    # One open case per installation and check (the partial unique index holds it; check anyway).
    open_pairs = Counter(Case.objects.filter(state__in=OPEN_STATES).values_list("installation_id", "check_type_id"))
    assert max(open_pairs.values()) == 1
    # The denormalised supplier agrees with the installation; state-dependent fields are filled in.
    assert not Case.objects.exclude(supplier_id=models_f("installation__responsible_supplier_id")).exists()
    # So do the copied cohort and installation type (the list filters read the copies).
    assert not Case.objects.exclude(cohort=models_f("installation__cohort")).exists()
    assert not Case.objects.exclude(installation_type=models_f("installation__installation_type")).exists()
    assert not Case.objects.filter(state=CaseState.ESCALATED, incident_reference="").exists()
    assert not Case.objects.filter(state__in=[CaseState.EXCLUDED, CaseState.EXCLUSION_PROPOSED],
                                   excluded_category="").exists()  # fmt: skip
    assert not Case.objects.filter(state=CaseState.CLOSED, closed_at__isnull=True).exists()
    assert not Case.objects.filter(state__in=OPEN_STATES, finished_at__isnull=False).exists()
    assert not Case.objects.filter(raised_at__gt=timezone.now()).exists()
    # Derived rows: one RAISED event, the occurrences and the procedure's checklist per case.
    assert CaseEvent.objects.filter(kind=EventKind.RAISED).count() == 2_000
    assert CaseOccurrence.objects.count() == sum(Case.objects.values_list("occurrence_count", flat=True))
    steps = Counter(ProcedureStep.objects.values_list("check_type_id", flat=True))
    assert ChecklistItem.objects.count() == sum(steps[c] for c in Case.objects.values_list("check_type_id", flat=True))
    # Foreign keys were not checked row by row during the load: prove them now.
    with connection.cursor() as cur:
        for child, column, parent in [
            ("cases_case", "installation_id", "cases_installation"),
            ("cases_case", "supplier_id", "cases_organisation"),
            ("cases_case", "assignee_id", "auth_user"),
            ("cases_device", "installation_id", "cases_installation"),
            ("cases_installation", "responsible_supplier_id", "cases_organisation"),
            ("cases_installation", "smso_id", "cases_organisation"),
            ("cases_caseevent", "case_id", "cases_case"),
            ("cases_caseoccurrence", "case_id", "cases_case"),
            ("cases_checklistitem", "case_id", "cases_case"),
        ]:
            cur.execute(
                f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON p.id = c.{column} "
                f"WHERE c.{column} IS NOT NULL AND p.id IS NULL"
            )
            assert cur.fetchone()[0] == 0, (child, column)


def models_f(name: str):  # type: ignore[no-untyped-def]
    from django.db.models import F

    return F(name)


@pytest.mark.postgres
def test_same_seed_same_data_and_orm_path_agrees(db) -> None:  # type: ignore[no-untyped-def]
    small = DatasetSpec(installations=300, cases=400, users=2, seed=11)
    generate_dataset(small, truncate=True)
    first = dataset_digest()
    generate_dataset(small, truncate=True)
    assert dataset_digest() == first
    generate_dataset(small, truncate=True, method="orm")  # the SQLite path writes the same rows
    assert dataset_digest() == first
    assert Device.objects.count() > 300 and ChecklistItem.objects.count() > 400
    generate_dataset(DatasetSpec(installations=300, cases=400, users=2, seed=12), truncate=True)
    assert dataset_digest() != first


def test_appending_keeps_ids_and_identifiers_unique(db) -> None:  # type: ignore[no-untyped-def]
    generate_dataset(DatasetSpec(installations=200, cases=150, users=2, seed=3), truncate=True)
    generate_dataset(DatasetSpec(installations=200, cases=150, users=2, seed=3))
    assert Installation.objects.count() == 400 and Case.objects.count() == 300
    assert Device.objects.values("eui64").distinct().count() == Device.objects.count()
    assert CaseOccurrence.objects.values("source_event_id").distinct().count() == CaseOccurrence.objects.count()


def test_services_work_on_generated_data(generated) -> None:  # type: ignore[no-untyped-def]
    names = usernames(SPEC.users)
    operator = authenticate(username=names[Role.DCC_OPERATOR][0], password=DATASET_PASSWORD)
    agent = authenticate(username=names[Role.USER_AGENT][0], password=DATASET_PASSWORD)
    assert operator is not None and agent is not None
    # A transition on a generated case, with optimistic concurrency on its generated version.
    case = Case.objects.filter(state=CaseState.TRIAGED).order_by("pk").first()
    moved = case_transition(case=case, transition="await_user", actor=operator, expected_version=case.version)
    assert moved.state == CaseState.AWAITING_USER
    assert CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION, transition="await_user").exists()
    # A repeat report of an open case's failure is an occurrence, not a new case.
    open_case = Case.objects.filter(state=CaseState.AWAITING_DCC).select_related("installation", "check_type").first()
    repeat = case_raise(installation=open_case.installation, check=open_case.check_type, source="s1sp",
                        source_event_id="repeat-1", occurred_at=timezone.now())  # fmt: skip
    assert repeat.case.pk == open_case.pk and not repeat.created
    # A new failure gets a new case with an id past the generated ones (sequences were moved on).
    installation = Installation.objects.exclude(cases__state__in=OPEN_STATES).filter(cohort=Cohort.FOC).first()
    check = Check.objects.get(code="CM002")
    fresh = case_raise(installation=installation, check=check, source="s1sp", source_event_id="new-1",
                       occurred_at=timezone.now())  # fmt: skip
    assert fresh.created and fresh.case.pk > 2_000
    # Users still see only their own organisation's generated cases.
    from cases.selectors import cases_visible_to

    visible = cases_visible_to(agent)
    assert visible.exists()
    assert set(visible.values_list("supplier_id", flat=True)) == {agent.membership.organisation_id}


def test_open_cases_have_the_sla_clocks_the_services_would_have(generated) -> None:  # type: ignore[no-untyped-def]
    from django.conf import settings

    from cases.dataset import dataset_sla_clocks
    from cases.models import SlaClock, SlaInterval

    assert generated.counts["sla_clocks"] == SlaClock.objects.count() == SlaInterval.objects.count() > 0
    waiting = settings.MEHR["SLA_WAITING_ON"]
    clocked = set(SlaClock.objects.values_list("case_id", flat=True))
    assert not clocked - set(Case.objects.filter(state__in=OPEN_STATES).values_list("pk", flat=True))
    for case in Case.objects.filter(state__in=OPEN_STATES):
        clocks = {(c.party, c.kind): c for c in SlaClock.objects.filter(case=case)}
        party = waiting.get(case.state, "")
        assert case.pk in clocked
        if party:  # the waiting party's resolution clock runs, with a deadline
            running = clocks[(party, "RESOLUTION")]
            assert running.running_since is not None and running.due_at is not None and running.stopped_at is None
        assert all(c.running_since is None for (p, _), c in clocks.items() if p != party)
    # A repeat report on any open generated case finds its clocks in line: no clock moves, no SLA event.
    in_force = Check.objects.in_force()
    for state in sorted(OPEN_STATES):
        case = Case.objects.filter(state=state, check_type__in=in_force).select_related("installation", "check_type").first()
        if case is None:
            continue
        before = list(SlaClock.objects.filter(case=case).order_by("pk").values())
        result = case_raise(installation=case.installation, check=case.check_type, source="s1sp",
                            source_event_id=f"sla-{case.pk}", occurred_at=timezone.now())  # fmt: skip
        assert result.case.pk == case.pk and not result.created
        assert list(SlaClock.objects.filter(case=case).order_by("pk").values()) == before, state
        assert not CaseEvent.objects.filter(case=case, kind=EventKind.SLA).exists(), state
    # Backfilling again finds nothing to add.
    assert dataset_sla_clocks() == (0, 0)


def test_command(db, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("generate_dataset", "--installations", "50", "--cases", "40", "--users", "2", "--truncate")
    assert Case.objects.count() == 40 and Installation.objects.count() == 50
    assert "Generated" in capsys.readouterr().out


def test_session_attempts_exactly_and_consistent(db) -> None:  # type: ignore[no-untyped-def]
    from django.db.models import Count, Q

    from retries.models import MigrationAttempt, MigrationOutcome, SessionAttempt, SessionState
    from retries.services.claiming import due_backlog_lag_seconds
    from retries.services.scheduling import migration_schedule

    result = generate_dataset(DatasetSpec(installations=400, cases=300, session_attempts=900, users=2, seed=5),
                              truncate=True)  # fmt: skip
    assert SessionAttempt.objects.count() == result.counts["session_attempts"] == 900
    assert set(SessionAttempt.objects.values_list("state", flat=True)) >= {
        SessionState.CONNECTED, SessionState.FAILED, SessionState.TIMED_OUT, SessionState.SCHEDULED
    }
    # Nothing is due yet: the generated working set is scheduled after the anchor.
    assert due_backlog_lag_seconds() == 0
    # Every session attempt agrees with its window; at most one open window per installation (DB constraint).
    assert not SessionAttempt.objects.exclude(installation_id=models_f("migration_attempt__installation_id")).exists()
    # Failed-attempt counts equal failed migration windows (also after the extra history passes).
    failed = dict(
        MigrationAttempt.objects.filter(outcome=MigrationOutcome.FAILED)
        .values("installation").annotate(n=Count("id")).values_list("installation", "n")
    )  # fmt: skip
    for iid, count in Installation.objects.filter(pk__in=failed).values_list("pk", "migration_attempt_count"):
        assert count == failed[iid]
    # More attempts than the statuses imply: older failed windows are added, still consistent.
    generate_dataset(DatasetSpec(installations=100, cases=50, session_attempts=2_000, users=2, seed=5),
                     truncate=True)  # fmt: skip
    assert SessionAttempt.objects.count() == 2_000
    windows = MigrationAttempt.objects.values("installation").annotate(
        failed=Count("id", filter=Q(outcome=MigrationOutcome.FAILED))
    )
    counts = dict(Installation.objects.values_list("pk", "migration_attempt_count"))
    assert all(counts[w["installation"]] == w["failed"] for w in windows)
    # The retry engine schedules on generated data (ids continue past the generated ones).
    installation = Installation.objects.filter(migration_status="PENDING").first()
    attempt = migration_schedule(installation=installation, actor=None, reason="bench")
    assert attempt.session_attempts.count() == 1


def test_truncate_with_an_outside_member_of_a_generated_organisation(db) -> None:  # type: ignore[no-untyped-def]
    """A person from outside the dataset (a benchmark account, say) placed in a generated User
    organisation does not stop the next truncate; they stay, without that membership."""
    spec = DatasetSpec(installations=60, cases=40, users=2, seed=5)
    generate_dataset(spec, truncate=True)
    outsider = make_user(Role.USER_AGENT, Organisation.objects.get(code="gen-u001"), username="bench-outsider")
    generate_dataset(spec, truncate=True)
    outsider.refresh_from_db()
    assert not Membership.objects.filter(user=outsider).exists()
    assert Organisation.objects.filter(code="gen-u001").count() == 1  # generated afresh
    assert Case.objects.count() == 40
