"""Dormant installations (MEHR.md §6) and re-evaluating cases when a check is retired."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from cases.domain import CaseState, EventKind, ExcludedCategory, InstallationType, MigrationStatus, Role
from cases.errors import NotFound, NotPermitted
from cases.models import Case, CaseEvent, Check, MehrVersion
from cases.services import case_transition
from retries.models import AttemptKind, MigrationAttempt, MigrationOutcome, SimulatorBehaviour
from retries.services import (
    cases_reevaluate_retired_check,
    check_retire,
    installation_declare_unmigratable,
    migration_schedule,
)
from tests.factories import InstallationFactory, SupplierFactory, case_in_state

from .conftest import run_until_idle

pytestmark = pytest.mark.django_db


def test_dormant_two_step_schedule_with_supplier_notifications(supplier, people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    dormant = InstallationFactory(responsible_supplier=supplier, installation_type=InstallationType.DORMANT)
    case = case_in_state(CaseState.TRIAGED, installation=dormant, check=Check.objects.get(code="PM004"))
    assert case.owner_party == "DCC"  # dormant cases are DCC's
    case_transition(case=case, transition="schedule_retry", actor=people[Role.DCC_OPERATOR])

    firmware = MigrationAttempt.objects.get(installation=dormant)
    assert firmware.kind == AttemptKind.FIRMWARE_UPGRADE
    run_until_idle(simulator)

    attempts = list(MigrationAttempt.objects.filter(installation=dormant).order_by("number"))
    assert [(a.kind, a.outcome) for a in attempts] == [
        (AttemptKind.FIRMWARE_UPGRADE, MigrationOutcome.SUCCEEDED),
        (AttemptKind.MIGRATION, MigrationOutcome.SUCCEEDED),
    ]
    assert attempts[1].window_start > attempts[0].finished_at  # the migration waits for a later working day
    dormant.refresh_from_db()
    assert dormant.migration_status == MigrationStatus.MIGRATED
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    notices = CaseEvent.objects.filter(case=case, kind=EventKind.NOTIFICATION).values_list("body", flat=True)
    assert len(notices) == 2 and all("Responsible Supplier notified" in n for n in notices)


def test_dormant_exhaustion_asks_the_supplier_then_excludes(supplier, people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    dormant = InstallationFactory(responsible_supplier=supplier, installation_type=InstallationType.DORMANT)
    SimulatorBehaviour.objects.create(installation=dormant, mode=SimulatorBehaviour.Mode.NEVER_ANSWER)
    migration_schedule(installation=dormant, actor=None)
    run_until_idle(simulator)

    dormant.refresh_from_db()
    assert dormant.migration_attempt_count == 5
    case = Case.objects.get(installation=dormant)
    assert case.check_type.code == "PM004" and case.state == CaseState.RAISED  # not proposed by DCC itself
    assert CaseEvent.objects.filter(case=case, kind=EventKind.NOTIFICATION, data__request="supplier_statement").exists()

    with pytest.raises(NotFound):
        installation_declare_unmigratable(
            installation=dormant, actor=people[Role.USER_AGENT].__class__.objects.create(username="nobody"), note="x"
        )
    statement = installation_declare_unmigratable(
        installation=dormant, actor=people[Role.USER_AGENT], note="Meter removed from premises; cannot migrate."
    )
    assert statement.check_type.code == "PM005"
    assert statement.state == CaseState.EXCLUSION_PROPOSED
    assert statement.excluded_category == ExcludedCategory.SUPPLIER_DECLARED_UNMIGRATABLE
    assert CaseEvent.objects.filter(case=statement, actor=people[Role.USER_AGENT], kind=EventKind.NOTE).exists()


def test_other_suppliers_cannot_declare(people, catalogue) -> None:  # type: ignore[no-untyped-def]
    theirs = InstallationFactory(responsible_supplier=SupplierFactory(), installation_type=InstallationType.DORMANT)
    with pytest.raises(NotFound):
        installation_declare_unmigratable(installation=theirs, actor=people[Role.USER_AGENT], note="no")


def test_retiring_a_check_reevaluates_cases_blocked_only_by_it(supplier, people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    manager = people[Role.DCC_MANAGER]
    retiring = Check.objects.get(code="DV003")
    only = InstallationFactory(responsible_supplier=supplier)
    also_blocked = InstallationFactory(responsible_supplier=supplier)
    unblocked_case = case_in_state(CaseState.AWAITING_USER, installation=only, check=retiring)
    blocked_case = case_in_state(CaseState.AWAITING_USER, installation=also_blocked, check=retiring)
    other = case_in_state(CaseState.AWAITING_USER, installation=also_blocked, check=Check.objects.get(code="DV001"))
    version = MehrVersion.objects.create(
        version="9.0", published_on=date.today() - timedelta(days=30), effective_from=timezone.localdate()
    )

    with pytest.raises(NotPermitted):
        check_retire(check=retiring, version=version, actor=people[Role.DCC_OPERATOR])
    counts = check_retire(check=retiring, version=version, actor=manager)
    assert counts == {"reevaluated": 2, "scheduled": 1, "still_blocked": 1}

    why = CaseEvent.objects.get(case=blocked_case, kind=EventKind.REEVALUATION)
    assert "Still blocked by DV001" in why.body and other.reference in why.body
    assert not MigrationAttempt.objects.filter(installation=also_blocked).exists()
    event = CaseEvent.objects.get(case=unblocked_case, kind=EventKind.REEVALUATION)
    assert "retired in MEHR 9.0" in event.body and "scheduled" in event.body

    run_until_idle(simulator)
    unblocked_case.refresh_from_db()
    assert unblocked_case.state == CaseState.RESOLVED
    # Once per retirement: running it again changes nothing.
    assert cases_reevaluate_retired_check(check=retiring, actor=manager) == {
        "reevaluated": 0, "scheduled": 0, "still_blocked": 0,
    }


def test_retirement_taking_effect_later_is_picked_up_by_the_hourly_task(supplier, people, catalogue) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    from retries.services import retired_checks_reevaluate_due

    retiring = Check.objects.get(code="DV003")
    case = case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=supplier), check=retiring)
    tomorrow = timezone.localdate() + timedelta(days=1)
    version = MehrVersion.objects.create(version="9.1", published_on=timezone.localdate(), effective_from=tomorrow)
    assert check_retire(check=retiring, version=version, actor=people[Role.DCC_MANAGER]) == {
        "reevaluated": 0, "scheduled": 0, "still_blocked": 0,
    }
    assert retired_checks_reevaluate_due() == {"reevaluated": 0, "scheduled": 0, "still_blocked": 0}
    with freeze_time(timezone.now() + timedelta(days=1, hours=1)):
        assert retired_checks_reevaluate_due()["scheduled"] == 1
    assert CaseEvent.objects.filter(case=case, kind=EventKind.REEVALUATION, actor=None).exists()
