"""Services write exactly the events expected, validate before writing, and leave nothing half-written."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases.domain import (
    CaseState,
    Cohort,
    EventKind,
    ExcludedCategory,
    NoteKind,
    Party,
    Role,
    StepKind,
    Visibility,
)
from cases.errors import Conflict, NotFound, NotPermitted, TransitionRefused, ValidationFailed
from cases.models import Attachment, Case, CaseEvent, CaseOccurrence, ChecklistItem
from cases.selectors import attachments_visible_to
from cases.services import (
    case_add_attachment,
    case_add_note,
    case_assign,
    case_raise,
    case_tick_checklist,
    case_transition,
    cases_close_quiet,
)
from cases.signals import case_transitioned
from tests.factories import (
    CheckFactory,
    InstallationFactory,
    MehrVersionFactory,
    SupplierFactory,
    case_in_state,
    make_user,
)

S = CaseState


def trail(case: Case) -> list[tuple[Any, ...]]:
    """(kind, transition, from, to, actor, organisation code, role, visibility, note kind) per event, in order.
    SLA clock events (written by the SLA receiver alongside) are left out: these tests are about the services."""
    return [
        (e.kind, e.transition, e.from_state, e.to_state, e.actor, e.actor_organisation.code if e.actor_organisation else None,
         e.actor_role, e.visibility, e.note_kind)
        for e in CaseEvent.objects.filter(case=case).exclude(kind=EventKind.SLA)
        .select_related("actor_organisation").order_by("id")
    ]


def written() -> tuple[int, int, int, int, int]:
    return (Case.objects.count(), CaseEvent.objects.count(), CaseOccurrence.objects.count(),
            ChecklistItem.objects.count(), Attachment.objects.count())


def raise_it(installation, check, event_id: str = "evt-1", **kwargs: Any):  # type: ignore[no-untyped-def]
    return case_raise(installation=installation, check=check, source="s1sp", source_event_id=event_id, **kwargs)


# --- case_raise ----------------------------------------------------------------------------------
def test_raise_writes_case_checklist_occurrence_and_one_raised_event(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    occurred = timezone.now() - timedelta(hours=1)
    result = raise_it(installation, check, occurred_at=occurred, detail="No session with the CH.")
    assert result.created and not result.duplicate
    case = result.case
    assert case.state == S.RAISED and case.version == 1
    assert case.supplier_id == installation.responsible_supplier_id  # denormalised for visibility
    assert (case.stage, case.category, case.owner_party) == (check.stage, check.category, check.acting_party)
    assert case.first_occurred_at == case.last_occurred_at == occurred and case.occurrence_count == 1
    assert trail(case) == [
        (EventKind.RAISED, "", "", S.RAISED, None, dcc.code, Role.SYSTEM, Visibility.SHARED, ""),
    ]
    assert CaseEvent.objects.get(case=case).body == "No session with the CH."
    steps = list(check.steps.order_by("order").values_list("order", "party", "kind", "text"))
    assert list(case.checklist.order_by("order").values_list("order", "party", "kind", "text")) == steps
    assert list(case.occurrences.values_list("source", "source_event_id")) == [("s1sp", "evt-1")]


def test_raise_by_a_dcc_system_account_records_that_actor(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    robot = people[Role.DCC_INTEGRATION]
    case = raise_it(installation, check, actor=robot).case
    assert trail(case)[0][4:7] == (robot, "dcc", Role.DCC_INTEGRATION)


@pytest.mark.parametrize("role", [Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION])
def test_users_do_not_raise_cases(people, installation, check, role) -> None:  # type: ignore[no-untyped-def]
    before = written()
    with pytest.raises(NotPermitted):
        raise_it(installation, check, actor=people[role])
    assert written() == before


def test_same_source_event_again_writes_nothing(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    first = raise_it(installation, check)
    before = written()
    for _ in range(3):
        again = raise_it(installation, check, detail="redelivered")
        assert again.duplicate and not again.created and again.case.pk == first.case.pk
    assert written() == before
    first.case.refresh_from_db()
    assert first.case.occurrence_count == 1 and first.case.version == 1


def test_same_event_id_from_another_source_is_a_new_report(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    raise_it(installation, check)
    result = case_raise(installation=installation, check=check, source="ma-validation", source_event_id="evt-1")
    assert not result.duplicate and not result.created  # same open case: an occurrence
    assert CaseOccurrence.objects.count() == 2


def test_repeat_failure_while_open_adds_an_occurrence(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    t0 = timezone.now() - timedelta(days=2)
    first = raise_it(installation, check, occurred_at=t0).case
    earlier, later = t0 - timedelta(hours=5), t0 + timedelta(days=1)
    second = raise_it(installation, check, "evt-2", occurred_at=later, detail="Again")
    third = raise_it(installation, check, "evt-3", occurred_at=earlier)  # reports can arrive out of order
    assert (second.created, second.duplicate, third.created, third.duplicate) == (False, False, False, False)
    assert second.case.pk == third.case.pk == first.pk
    case = Case.objects.get(pk=first.pk)
    assert case.occurrence_count == 3
    assert (case.first_occurred_at, case.last_occurred_at) == (earlier, later)
    assert case.version == 1  # an occurrence is not a change somebody could conflict with
    assert [t[0] for t in trail(case)] == [EventKind.RAISED, EventKind.OCCURRENCE, EventKind.OCCURRENCE]
    occurrence_event = CaseEvent.objects.filter(case=case, kind=EventKind.OCCURRENCE).first()
    assert occurrence_event.data["source_event_id"] == "evt-2" and occurrence_event.body == "Again"
    assert Case.objects.count() == 1 and ChecklistItem.objects.filter(case=case).count() == 3


def test_repeat_after_the_case_finished_opens_a_new_case(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    first = raise_it(installation, check).case
    Case.objects.filter(pk=first.pk).update(state=S.RESOLVED)
    second = raise_it(installation, check, "evt-2")
    assert second.created and second.case.pk != first.pk


def test_another_check_on_the_same_installation_is_another_case(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    first = raise_it(installation, check).case
    other = raise_it(installation, CheckFactory(code="DV001"), "evt-2")
    assert other.created and other.case.pk != first.pk


def test_missing_master_keys_proposes_exclusion_on_raise(dcc, installation) -> None:  # type: ignore[no-untyped-def]
    cr001 = CheckFactory(code="CR001", retryable=False, exclusion_category=ExcludedCategory.MISSING_MASTER_KEYS)
    case = raise_it(installation, cr001).case
    case.refresh_from_db()
    assert case.state == S.EXCLUSION_PROPOSED
    assert case.excluded_category == ExcludedCategory.MISSING_MASTER_KEYS
    assert case.version == 2 and case.owner_party == Party.DCC
    assert trail(case) == [
        (EventKind.RAISED, "", "", S.RAISED, None, "dcc", Role.SYSTEM, Visibility.SHARED, ""),
        (EventKind.TRANSITION, "propose_exclusion", S.RAISED, S.EXCLUSION_PROPOSED, None, "dcc", Role.SYSTEM,
         Visibility.SHARED, NoteKind.INVESTIGATION),
    ]
    # A repeat of the same failure is an occurrence on the proposed case, not another proposal.
    again = raise_it(installation, cr001, "evt-2")
    assert not again.created and again.case.pk == case.pk
    assert CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).count() == 1


def test_checks_without_exclusion_category_do_not_propose(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = raise_it(installation, check).case
    assert case.state == S.RAISED
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).exists()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"source": ""}, "source"),
        ({"source": "x" * 41}, "source"),
        ({"source_event_id": ""}, "source_event_id"),
        ({"source_event_id": "e" * 129}, "source_event_id"),
        ({"occurred_at": "naive"}, "occurred_at"),
        ({"occurred_at": "future"}, "occurred_at"),
        ({"stage": "NOWHERE"}, "stage"),
    ],
)
def test_raise_validation_writes_nothing(dcc, installation, check, kwargs, field) -> None:  # type: ignore[no-untyped-def]
    if kwargs.get("occurred_at") == "naive":
        kwargs = {"occurred_at": timezone.now().replace(tzinfo=None)}
    elif kwargs.get("occurred_at") == "future":
        kwargs = {"occurred_at": timezone.now() + timedelta(hours=1)}
    arguments = {"installation": installation, "check": check, "source": "s1sp", "source_event_id": "evt-1", **kwargs}
    before = written()
    with pytest.raises(ValidationFailed) as info:
        case_raise(**arguments)
    assert field in info.value.errors
    assert written() == before


def test_raise_refuses_a_check_for_another_cohort_or_retired(dcc, supplier) -> None:  # type: ignore[no-untyped-def]
    ioc_only = CheckFactory(code="HN003", cohorts=[Cohort.IOC])
    foc = InstallationFactory(responsible_supplier=supplier, cohort=Cohort.FOC)
    with pytest.raises(ValidationFailed) as info:
        raise_it(foc, ioc_only)
    assert "check_code" in info.value.errors
    retired = CheckFactory(code="DV005", retired_in=MehrVersionFactory(version="2.0", effective_from=timezone.now().date() - timedelta(days=10)))
    with pytest.raises(ValidationFailed, match="retired"):
        raise_it(foc, retired, "evt-2")
    # Before its retirement it was in force: a late report of an old failure is still recorded.
    assert raise_it(foc, retired, "evt-3", occurred_at=timezone.now() - timedelta(days=20)).created
    assert Case.objects.count() == 1


# --- case_transition -------------------------------------------------------------------------------
def test_transition_writes_one_event_and_bumps_the_version(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    operator = people[Role.DCC_OPERATOR]
    received: list[dict[str, Any]] = []

    def receiver(sender, **kwargs):  # type: ignore[no-untyped-def]
        received.append(kwargs)

    case_transitioned.connect(receiver, sender=Case, dispatch_uid="test-services")
    try:
        result = case_transition(case=case, transition="escalate", actor=operator, expected_version=1,
                                 incident_reference="INC0042", note="Live-service impact.")
    finally:
        case_transitioned.disconnect(dispatch_uid="test-services", sender=Case)
    assert result.state == S.ESCALATED and result.version == 2
    # SLA clock events (the DCC clocks pause while escalated) are the SLA receiver's, not the transition's.
    events = CaseEvent.objects.filter(case=case).exclude(kind__in=[EventKind.RAISED, EventKind.SLA])
    assert [(e.kind, e.transition, e.from_state, e.to_state, e.actor, e.actor_organisation.code, e.actor_role,
             e.visibility, e.body, e.note_kind) for e in events] == [
        (EventKind.TRANSITION, "escalate", S.TRIAGED, S.ESCALATED, operator, "dcc", Role.DCC_OPERATOR,
         Visibility.SHARED, "Live-service impact.", NoteKind.INVESTIGATION),
    ]
    assert events[0].data == {"incident_reference": "INC0042"}
    assert len(received) == 1
    assert received[0]["transition"] == "escalate" and received[0]["event"] == events[0]
    assert received[0]["actor"] == operator and received[0]["fields"] == {"incident_reference": "INC0042"}


def test_user_retry_request_writes_the_correction_then_the_transition(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    agent = people[Role.USER_AGENT]
    case = case_in_state(S.AWAITING_USER, installation=installation, check=check)
    case_transition(case=case, transition="schedule_retry", actor=agent, note="Corrected the ESME model in the MA.")
    # The retry engine (a case_transitioned receiver) records the attempt it scheduled, in the same transaction.
    assert [t for t in trail(case)[1:] if t[0] == EventKind.RETRY]
    kinds = [t for t in trail(case)[1:] if t[0] != EventKind.RETRY]
    assert kinds == [
        (EventKind.NOTE, "", "", "", agent, "supplier-a", Role.USER_AGENT, Visibility.SHARED, NoteKind.CORRECTION),
        (EventKind.TRANSITION, "schedule_retry", S.AWAITING_USER, S.RETRY_SCHEDULED, agent, "supplier-a",
         Role.USER_AGENT, Visibility.SHARED, ""),
    ]


def test_refused_transition_writes_nothing_even_its_correction_note(people, supplier) -> None:  # type: ignore[no-untyped-def]
    agent = people[Role.USER_AGENT]
    case = case_in_state(S.AWAITING_USER, installation=InstallationFactory(responsible_supplier=supplier),
                         check=CheckFactory(code="MA110", retryable=False))
    before = written()
    with pytest.raises(TransitionRefused):
        case_transition(case=case, transition="schedule_retry", actor=agent, note="Fixed it.")
    assert written() == before
    case.refresh_from_db()
    assert case.state == S.AWAITING_USER and case.version == 1


def test_stale_version_is_a_conflict_and_writes_nothing(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    operator = people[Role.DCC_OPERATOR]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    case_transition(case=case, transition="await_user", actor=operator, expected_version=1)
    before = written()
    with pytest.raises(Conflict) as info:
        case_transition(case=case, transition="await_smso", actor=operator, expected_version=1)
    assert info.value.status == 409
    assert written() == before
    case.refresh_from_db()
    assert case.state == S.AWAITING_USER and case.version == 2


# --- notes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", NoteKind.values)
def test_note_event(people, installation, check, kind) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.AWAITING_USER, installation=installation, check=check)
    agent = people[Role.USER_AGENT]
    event = case_add_note(case=case, actor=agent, kind=kind, body="  Checked the MA file.  ")
    assert (event.kind, event.note_kind, event.body, event.actor, event.actor_organisation.code, event.visibility) == (
        EventKind.NOTE, kind, "Checked the MA file.", agent, "supplier-a", Visibility.SHARED
    )
    case.refresh_from_db()
    assert case.version == 1  # notes add to the case; they do not change what others are editing


def test_dcc_writes_internal_notes_users_cannot(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    event = case_add_note(case=case, actor=people[Role.DCC_OPERATOR], kind=NoteKind.INVESTIGATION,
                          body="SMSO contract issue", visibility=Visibility.INTERNAL)
    assert event.visibility == Visibility.INTERNAL
    before = written()
    for role in (Role.USER_AGENT, Role.USER_INTEGRATION):
        with pytest.raises(ValidationFailed) as info:
            case_add_note(case=case, actor=people[role], kind=NoteKind.INVESTIGATION, body="x",
                          visibility=Visibility.INTERNAL)
        assert "visibility" in info.value.errors
    assert written() == before


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({"kind": "GOSSIP"}, "kind"),
        ({"visibility": "PUBLIC"}, "visibility"),
    ],
)
def test_invalid_note_writes_nothing(people, installation, check, kwargs, field) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    arguments = {"case": case, "actor": people[Role.DCC_OPERATOR], "kind": NoteKind.INVESTIGATION, "body": "ok", **kwargs}
    before = written()
    with pytest.raises(ValidationFailed) as info:
        case_add_note(**arguments)
    assert field in info.value.errors
    assert written() == before


def test_viewers_do_not_write_notes_and_strangers_do_not_see_the_case(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    with pytest.raises(NotPermitted):
        case_add_note(case=case, actor=people[Role.USER_VIEWER], kind=NoteKind.INVESTIGATION, body="x")
    with pytest.raises(NotFound):
        case_add_note(case=case, actor=make_user(Role.USER_AGENT, SupplierFactory()), kind=NoteKind.INVESTIGATION,
                      body="x")
    assert CaseEvent.objects.filter(case=case, kind=EventKind.NOTE).count() == 0


# --- attachments ----------------------------------------------------------------------------------------
@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_attachment_is_stored_with_its_digest_and_an_event(media, people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.AWAITING_USER, installation=installation, check=check)
    content = b"MPAN,model\n1234567890123,E1\n"
    agent = people[Role.USER_AGENT]
    attachment = case_add_attachment(case=case, actor=agent,
                                     upload=SimpleUploadedFile("ma-extract.csv", content, content_type="text/csv"))
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert (attachment.size, attachment.content_type, attachment.original_name) == (len(content), "text/csv", "ma-extract.csv")
    assert attachment.uploaded_by == agent and attachment.visibility == Visibility.SHARED
    with attachment.file.open("rb") as stored:
        assert stored.read() == content
    assert (attachment.event.kind, attachment.event.actor, attachment.event.body) == (EventKind.ATTACHMENT, agent, "ma-extract.csv")
    assert attachment.event.data["note_event"] is None


def test_note_with_attachments_links_them(media, people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    note = case_add_note(
        case=case, actor=people[Role.DCC_OPERATOR], kind=NoteKind.INVESTIGATION, body="Logs attached",
        visibility=Visibility.INTERNAL,
        attachments=[SimpleUploadedFile("s1sp.log.txt", b"session refused", content_type="text/plain"),
                     SimpleUploadedFile("hub.png", b"\x89PNG....", content_type="image/png")],
    )
    attachments = list(Attachment.objects.filter(case=case).order_by("id"))
    assert [a.original_name for a in attachments] == ["s1sp.log.txt", "hub.png"]
    assert all(a.visibility == Visibility.INTERNAL and a.event.data["note_event"] == note.pk for a in attachments)
    assert [t[0] for t in trail(case)][-3:] == [EventKind.NOTE, EventKind.ATTACHMENT, EventKind.ATTACHMENT]
    # Internal evidence is never visible to the User.
    assert not attachments_visible_to(people[Role.USER_AGENT]).filter(case=case).exists()
    assert attachments_visible_to(people[Role.DCC_MANAGER]).filter(case=case).count() == 2


@pytest.mark.parametrize(
    "name, content, content_type, message",
    [
        ("tool.exe", b"MZ", "application/octet-stream", "not accepted"),
        ("notes", b"abc", "text/plain", "not accepted"),
        ("photo.png", b"abc", "application/pdf", "does not match"),
        ("empty.txt", b"", "text/plain", "empty"),
        ("big.txt", b"x" * 2049, "text/plain", "at most"),
        ("x" * 201 + ".txt", b"abc", "text/plain", "too long"),
    ],
)
def test_bad_attachment_is_refused_and_nothing_is_written(media, settings, people, installation, check, name,
                                                          content, content_type, message) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "ATTACHMENT_MAX_BYTES": 2048}
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    before = written()
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    with pytest.raises(ValidationFailed, match=message) as info:
        case_add_attachment(case=case, actor=people[Role.DCC_OPERATOR], upload=upload)
    assert "attachments" in info.value.errors
    with pytest.raises(ValidationFailed):
        case_add_note(case=case, actor=people[Role.DCC_OPERATOR], kind=NoteKind.INVESTIGATION, body="see file",
                      attachments=[SimpleUploadedFile(name, content, content_type=content_type)])
    assert written() == before
    assert not any(media.rglob("*.*"))


def test_users_cannot_attach_internal_files_and_viewers_none(media, people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    with pytest.raises(ValidationFailed):
        case_add_attachment(case=case, actor=people[Role.USER_AGENT], visibility=Visibility.INTERNAL,
                            upload=SimpleUploadedFile("a.txt", b"a", content_type="text/plain"))
    with pytest.raises(NotPermitted):
        case_add_attachment(case=case, actor=people[Role.USER_VIEWER],
                            upload=SimpleUploadedFile("a.txt", b"a", content_type="text/plain"))
    assert not Attachment.objects.exists()


# --- checklist ticks ------------------------------------------------------------------------------------
@pytest.fixture
def mixed_check(db):  # type: ignore[no-untyped-def]
    return CheckFactory(code="PM003", steps=[
        (Party.DCC, StepKind.INVESTIGATE, "Check the S1SP logs."),
        (Party.USER, StepKind.CORRECT, "Correct the MA record."),
        (Party.SMSO, StepKind.CORRECT, "SMSO restores WAN."),
    ])


@pytest.mark.parametrize(
    "role, order, allowed",
    [
        (Role.DCC_OPERATOR, 1, True), (Role.DCC_OPERATOR, 2, False), (Role.DCC_OPERATOR, 3, True),
        (Role.DCC_MANAGER, 1, True), (Role.DCC_MANAGER, 2, False),
        (Role.USER_AGENT, 2, True), (Role.USER_AGENT, 1, False), (Role.USER_AGENT, 3, False),
        (Role.USER_INTEGRATION, 2, True), (Role.USER_INTEGRATION, 1, False),
        (Role.USER_VIEWER, 2, False),
        (Role.SYSTEM, 1, True), (Role.SYSTEM, 2, True),
    ],
)
def test_checklist_party_rules(people, installation, mixed_check, role, order, allowed) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=mixed_check)
    actor = people[role]
    if allowed:
        item = case_tick_checklist(case=case, order=order, actor=actor)
        assert item.done and item.done_by == actor and item.done_at is not None
        event = CaseEvent.objects.get(case=case, kind=EventKind.CHECKLIST)
        assert (event.actor, event.actor_role, event.data) == (actor, role, {"order": order, "done": True})
    else:
        with pytest.raises(NotPermitted):
            case_tick_checklist(case=case, order=order, actor=actor)
        assert not ChecklistItem.objects.get(case=case, order=order).done
        assert not CaseEvent.objects.filter(case=case, kind=EventKind.CHECKLIST).exists()


def test_ticking_twice_records_once_and_untick_is_recorded(people, installation, mixed_check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=mixed_check)
    agent = people[Role.USER_AGENT]
    case_tick_checklist(case=case, order=2, actor=agent)
    case_tick_checklist(case=case, order=2, actor=agent)
    assert CaseEvent.objects.filter(case=case, kind=EventKind.CHECKLIST).count() == 1
    item = case_tick_checklist(case=case, order=2, actor=agent, done=False)
    assert (item.done, item.done_by, item.done_at) == (False, None, None)
    assert [e.data["done"] for e in CaseEvent.objects.filter(case=case, kind=EventKind.CHECKLIST).order_by("id")] == [True, False]
    with pytest.raises(NotFound):
        case_tick_checklist(case=case, order=9, actor=agent)


# --- assignment -------------------------------------------------------------------------------------------
def test_dcc_assigns_and_unassigns(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.TRIAGED, installation=installation, check=check)
    operator, manager, agent = people[Role.DCC_OPERATOR], people[Role.DCC_MANAGER], people[Role.USER_AGENT]
    case = case_assign(case=case, assignee=manager, actor=operator, expected_version=1)
    case = case_assign(case=case, assignee=agent.username, actor=operator, expected_version=2)
    case = case_assign(case=case, assignee=None, actor=operator)
    assert case.assignee is None and case.version == 4
    events = list(CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNMENT).order_by("id"))
    assert [e.data for e in events] == [
        {"from": None, "to": manager.pk}, {"from": manager.pk, "to": agent.pk}, {"from": agent.pk, "to": None},
    ]
    assert all(e.actor == operator and e.actor_organisation.code == "dcc" for e in events)
    # Assigning to whoever already has it changes nothing.
    case_assign(case=case, assignee=None, actor=operator)
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNMENT).count() == 3


def test_user_agents_assign_within_their_organisation(people, supplier, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.AWAITING_USER, installation=installation, check=check)
    agent = people[Role.USER_AGENT]
    colleague = make_user(Role.USER_AGENT, supplier)
    case_assign(case=case, assignee=colleague, actor=agent)
    case.refresh_from_db()
    assert case.assignee == colleague
    before = written()
    with pytest.raises(NotPermitted):
        case_assign(case=case, assignee=people[Role.DCC_OPERATOR], actor=agent)
    with pytest.raises(ValidationFailed):
        case_assign(case=case, assignee=make_user(Role.USER_AGENT, SupplierFactory()), actor=agent)
    with pytest.raises(ValidationFailed):
        case_assign(case=case, assignee=people[Role.USER_VIEWER], actor=agent)
    with pytest.raises(NotPermitted):
        case_assign(case=case, assignee=colleague, actor=people[Role.USER_VIEWER])
    with pytest.raises(NotFound):
        case_assign(case=case, assignee=None, actor=make_user(Role.USER_AGENT, SupplierFactory()))
    assert written() == before


def test_assignment_refusals(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    operator = people[Role.DCC_OPERATOR]
    closed = case_in_state(S.CLOSED, installation=installation, check=check)
    with pytest.raises(TransitionRefused):
        case_assign(case=closed, assignee=operator, actor=operator)
    case = case_in_state(S.TRIAGED, installation=InstallationFactory(responsible_supplier=installation.responsible_supplier),
                         check=check)
    with pytest.raises(Conflict):
        case_assign(case=case, assignee=operator, actor=operator, expected_version=7)
    with pytest.raises(NotPermitted):
        case_assign(case=case, assignee=operator, actor=None)
    assert not CaseEvent.objects.filter(kind=EventKind.ASSIGNMENT).exists()


# --- close-quiet maintenance ---------------------------------------------------------------------------------
def test_close_quiet_closes_only_finished_cases_past_the_quiet_period(dcc, settings, supplier, check) -> None:  # type: ignore[no-untyped-def]
    days = settings.MEHR["CLOSE_QUIET_PERIOD_DAYS"]
    old = timezone.now() - timedelta(days=days, minutes=1)
    recent = timezone.now() - timedelta(days=days - 1)

    def make(state: str, finished_at):  # type: ignore[no-untyped-def]
        return case_in_state(state, installation=InstallationFactory(responsible_supplier=supplier), check=check,
                             finished_at=finished_at)

    due = [make(s, old) for s in (S.RESOLVED, S.RESOLVED_PARTIAL, S.EXCLUDED, S.WITHDRAWN)]
    kept = [make(S.RESOLVED, recent), make(S.TRIAGED, old), make(S.CLOSED, old), make(S.RESOLVED, None)]
    assert cases_close_quiet() == 4
    for case in due:
        case.refresh_from_db()
        assert case.state == S.CLOSED and case.closed_at is not None and case.version == 2
        assert trail(case)[-1] == (EventKind.TRANSITION, "close", trail(case)[-1][2], S.CLOSED, None, "dcc",
                                   Role.SYSTEM, Visibility.SHARED, NoteKind.INVESTIGATION)
        assert CaseEvent.objects.filter(case=case, transition="close").get().body == "Closed after the quiet period."
    for case in kept:
        before = case.state
        case.refresh_from_db()
        assert case.state == before
    assert cases_close_quiet() == 0  # nothing left to do: no duplicate events
    assert CaseEvent.objects.filter(transition="close").count() == 4


def test_close_quiet_works_in_batches(dcc, settings, supplier, check) -> None:  # type: ignore[no-untyped-def]
    old = timezone.now() - timedelta(days=settings.MEHR["CLOSE_QUIET_PERIOD_DAYS"] + 1)
    for _ in range(5):
        case_in_state(S.RESOLVED, installation=InstallationFactory(responsible_supplier=supplier), check=check,
                      finished_at=old)
    assert cases_close_quiet(batch_size=2) == 5
    assert set(Case.objects.values_list("state", flat=True)) == {S.CLOSED}
