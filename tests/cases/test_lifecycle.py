"""The lifecycle: every transition per role (a permission matrix), and every refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cases.domain import CaseState, EventKind, ExcludedCategory, MigrationStatus, NoteKind, Party, Role
from cases.errors import NotFound, NotPermitted, TransitionRefused, ValidationFailed
from cases.lifecycle import TRANSITIONS
from cases.models import Case, CaseEvent
from cases.services import case_add_note, case_transition, case_transition_options
from tests.factories import CheckFactory, InstallationFactory, SupplierFactory, case_in_state, make_user

S = CaseState

# transition -> (source state, extra case fields, transition kwargs (people -> kwargs), target)
SCENARIOS: dict[str, tuple[str, dict[str, Any], Any, str]] = {
    "triage": (S.RAISED, {}, lambda p: {"owner_party": Party.DCC, "assignee": p[Role.DCC_OPERATOR]}, S.TRIAGED),
    "await_dcc": (S.TRIAGED, {}, lambda p: {}, S.AWAITING_DCC),
    "await_user": (S.TRIAGED, {}, lambda p: {}, S.AWAITING_USER),
    "await_smso": (S.AWAITING_USER, {}, lambda p: {}, S.AWAITING_SMSO),
    "hand_back_to_dcc": (S.AWAITING_USER, {}, lambda p: {"note": "MA data corrected and resubmitted."}, S.AWAITING_DCC),
    "schedule_retry": (S.TRIAGED, {}, lambda p: {"note": "Corrected the firmware record."}, S.RETRY_SCHEDULED),
    "start_retry": (S.RETRY_SCHEDULED, {}, lambda p: {}, S.RETRYING),
    "resolve": (S.RETRYING, {}, lambda p: {}, S.RESOLVED),
    "resolve_partial": (S.RETRYING, {}, lambda p: {}, S.RESOLVED_PARTIAL),
    "retry_failed": (S.RETRYING, {}, lambda p: {}, S.TRIAGED),
    "escalate": (S.AWAITING_DCC, {}, lambda p: {"incident_reference": "INC0012345"}, S.ESCALATED),
    "de_escalate": (S.ESCALATED, {"state_before_escalation": S.AWAITING_SMSO}, lambda p: {}, S.AWAITING_SMSO),
    "propose_exclusion": (
        S.TRIAGED, {}, lambda p: {"excluded_category": ExcludedCategory.NO_WAN_DURING_MIGRATION}, S.EXCLUSION_PROPOSED,
    ),
    "exclude": (
        S.EXCLUSION_PROPOSED, {"excluded_category": ExcludedCategory.MISSING_MASTER_KEYS}, lambda p: {}, S.EXCLUDED,
    ),
    "reject_exclusion": (S.EXCLUSION_PROPOSED, {}, lambda p: {"note": "Keys were found."}, S.TRIAGED),
    "withdraw": (S.AWAITING_USER, {}, lambda p: {"note": "The meter was replaced."}, S.WITHDRAWN),
    "close": (S.RESOLVED, {}, lambda p: {}, S.CLOSED),
    "reopen": (S.RESOLVED, {"finished_at": "now"}, lambda p: {"note": "Still no readings."}, S.TRIAGED),
}


def test_every_transition_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(TRANSITIONS)


def _prepare(transition: str, installation) -> Case:  # type: ignore[no-untyped-def]
    source, extra, _, _ = SCENARIOS[transition]
    extra = {k: (timezone.now() if v == "now" else v) for k, v in extra.items()}
    return case_in_state(source, installation=installation, **extra)


@pytest.mark.parametrize("transition", sorted(TRANSITIONS))
@pytest.mark.parametrize("role", sorted(Role.values))
def test_permission_matrix(transition: str, role: str, people, installation) -> None:  # type: ignore[no-untyped-def]
    case = _prepare(transition, installation)
    actor = people[role]
    kwargs = SCENARIOS[transition][2](people)
    events_before = CaseEvent.objects.filter(case=case).count()
    if role in TRANSITIONS[transition].roles:
        result = case_transition(case=case, transition=transition, actor=actor, expected_version=case.version, **kwargs)
        case.refresh_from_db()
        assert case.state == SCENARIOS[transition][3] == result.state
        assert case.version == 2
        event = CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).latest("id")
        assert (event.transition, event.from_state, event.to_state) == (
            transition, SCENARIOS[transition][0], case.state,
        )
        assert event.actor == actor and event.actor_role == role
        assert event.actor_organisation is not None
    else:
        with pytest.raises(NotPermitted):
            case_transition(case=case, transition=transition, actor=actor, expected_version=case.version, **kwargs)
        case.refresh_from_db()
        assert case.state == SCENARIOS[transition][0]
        assert CaseEvent.objects.filter(case=case).count() == events_before


@pytest.mark.parametrize("transition", sorted(TRANSITIONS))
def test_transition_refused_from_every_other_state(transition: str, people, installation) -> None:  # type: ignore[no-untyped-def]
    spec = TRANSITIONS[transition]
    actor = people[sorted(spec.roles)[0]]
    kwargs = SCENARIOS[transition][2](people)
    sources = {st for st in S.values if getattr(Case, transition)._django_fsm.get_transition(st) is not None}
    assert SCENARIOS[transition][0] in sources
    for state in set(S.values) - sources:
        case = case_in_state(state, installation=InstallationFactory(responsible_supplier=installation.responsible_supplier))
        with pytest.raises(TransitionRefused):
            case_transition(case=case, transition=transition, actor=actor, **kwargs)
        case.refresh_from_db()
        assert case.state == state


def test_triage_needs_owner_and_assignee(people, installation) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.RAISED, installation=installation)
    with pytest.raises(ValidationFailed) as info:
        case_transition(case=case, transition="triage", actor=people[Role.DCC_OPERATOR], owner_party=Party.USER)
    assert "assignee" in info.value.errors
    with pytest.raises(ValidationFailed) as info:
        case_transition(case=case, transition="triage", actor=people[Role.DCC_OPERATOR], owner_party="NOBODY",
                        assignee=people[Role.DCC_MANAGER])
    assert "owner_party" in info.value.errors
    case.refresh_from_db()
    assert case.state == S.RAISED


def test_assignee_must_be_dcc_staff_or_agent_of_the_supplier(people, installation, other_supplier) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.RAISED, installation=installation)
    foreign_agent = make_user(Role.USER_AGENT, other_supplier)
    for bad in (foreign_agent, people[Role.USER_VIEWER], "no-such-person"):
        with pytest.raises(ValidationFailed):
            case_transition(case=case, transition="triage", actor=people[Role.DCC_OPERATOR],
                            owner_party=Party.USER, assignee=bad)
    case_transition(case=case, transition="triage", actor=people[Role.DCC_OPERATOR], owner_party=Party.USER,
                    assignee=people[Role.USER_AGENT])
    case.refresh_from_db()
    assert case.assignee == people[Role.USER_AGENT] and case.owner_party == Party.USER


def test_fields_a_transition_does_not_take_are_refused(people, installation) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation)
    with pytest.raises(ValidationFailed) as info:
        case_transition(case=case, transition="await_user", actor=people[Role.DCC_OPERATOR], incident_reference="X")
    assert "incident_reference" in info.value.errors
    with pytest.raises(ValidationFailed):
        case_transition(case=case, transition="await_user", actor=people[Role.DCC_OPERATOR], colour="blue")
    with pytest.raises(ValidationFailed):
        case_transition(case=case, transition="no_such_transition", actor=people[Role.DCC_OPERATOR])


def test_user_retry_needs_a_correction(people, installation) -> None:  # type: ignore[no-untyped-def]
    agent = people[Role.USER_AGENT]
    case = case_in_state(S.AWAITING_USER, installation=installation)
    with pytest.raises(TransitionRefused, match="correction"):
        case_transition(case=case, transition="schedule_retry", actor=agent)
    # An investigation note is not a correction.
    case_add_note(case=case, actor=agent, kind=NoteKind.INVESTIGATION, body="Looked at our MA data.")
    with pytest.raises(TransitionRefused):
        case_transition(case=case, transition="schedule_retry", actor=agent)
    case_add_note(case=case, actor=agent, kind=NoteKind.CORRECTION, body="Corrected the GSME model in the MA file.")
    case_transition(case=case, transition="schedule_retry", actor=agent)
    case.refresh_from_db()
    assert case.state == S.RETRY_SCHEDULED


def test_retry_needs_retryable_check_and_attempts_left(people, supplier, settings) -> None:  # type: ignore[no-untyped-def]
    operator = people[Role.DCC_OPERATOR]
    not_retryable = case_in_state(S.TRIAGED, installation=InstallationFactory(responsible_supplier=supplier),
                                  check=CheckFactory(code="MA110", retryable=False))
    with pytest.raises(TransitionRefused, match="not retryable"):
        case_transition(case=not_retryable, transition="schedule_retry", actor=operator)
    exhausted = case_in_state(
        S.TRIAGED,
        installation=InstallationFactory(responsible_supplier=supplier, migration_attempt_count=5),
    )
    with pytest.raises(TransitionRefused, match="no migration attempts left"):
        case_transition(case=exhausted, transition="schedule_retry", actor=operator)
    # The limit is the installation's retry policy's (settings.MEHR["MIGRATION_ATTEMPTS_BEFORE_EXCLUSION"]
    # is only the default for new policies).
    from retries.models import RetryPolicy
    from retries.policies import retry_policy_for

    RetryPolicy.objects.filter(pk=retry_policy_for(exhausted.installation).pk).update(migration_attempts_before_exclusion=6)
    case_transition(case=exhausted, transition="schedule_retry", actor=operator)


def test_escalation_returns_to_where_it_came_from(people, installation) -> None:  # type: ignore[no-untyped-def]
    operator = people[Role.DCC_OPERATOR]
    case = case_in_state(S.AWAITING_SMSO, installation=installation)
    with pytest.raises(ValidationFailed):
        case_transition(case=case, transition="escalate", actor=operator)
    case_transition(case=case, transition="escalate", actor=operator, incident_reference="INC42")
    case.refresh_from_db()
    assert (case.state, case.state_before_escalation, case.incident_reference) == (S.ESCALATED, S.AWAITING_SMSO, "INC42")
    assert case.priority <= 2
    case_transition(case=case, transition="de_escalate", actor=operator)
    case.refresh_from_db()
    assert (case.state, case.state_before_escalation) == (S.AWAITING_SMSO, "")


def test_exclusion_marks_the_installation(people, installation) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation)
    case_transition(case=case, transition="propose_exclusion", actor=people[Role.DCC_OPERATOR],
                    excluded_category=ExcludedCategory.MIGRATION_ATTEMPTS_EXHAUSTED)
    case_transition(case=case, transition="exclude", actor=people[Role.DCC_MANAGER])
    installation.refresh_from_db()
    assert installation.migration_status == MigrationStatus.EXCLUDED
    assert installation.excluded_category == ExcludedCategory.MIGRATION_ATTEMPTS_EXHAUSTED


def test_reopen_only_within_quiet_period(people, installation, settings) -> None:  # type: ignore[no-untyped-def]
    days = settings.MEHR["CLOSE_QUIET_PERIOD_DAYS"]
    case = case_in_state(S.RESOLVED, installation=installation, finished_at=timezone.now() - timedelta(days=days + 1))
    with pytest.raises(TransitionRefused, match="quiet period"):
        case_transition(case=case, transition="reopen", actor=people[Role.USER_AGENT], note="Still broken")


def test_user_of_another_supplier_gets_not_found(people, installation) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.AWAITING_USER, installation=installation)
    stranger = make_user(Role.USER_AGENT, SupplierFactory())
    with pytest.raises(NotFound):
        case_transition(case=case, transition="withdraw", actor=stranger, note="not mine")
    case.refresh_from_db()
    assert case.state == S.AWAITING_USER


def test_options_offer_exactly_what_the_role_may_fire(people, installation) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.AWAITING_USER, installation=installation)
    agent_options = {o.spec.name: o for o in case_transition_options(case=case, user=people[Role.USER_AGENT])}
    assert set(agent_options) == {"hand_back_to_dcc", "schedule_retry", "withdraw"}
    assert set(case_transition_options(case=case, user=people[Role.USER_VIEWER])) == set()
    operator_options = {o.spec.name for o in case_transition_options(case=case, user=people[Role.DCC_OPERATOR])}
    assert operator_options == {"await_dcc", "await_smso", "schedule_retry", "escalate", "propose_exclusion"}
    assert all(o.enabled for o in agent_options.values())
