"""Visibility: a User never sees another User's data by any selector; DCC-internal records stay with DCC."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.domain import CaseState, NoteKind, Role, Visibility
from cases.errors import NotFound
from cases.models import CaseEvent
from cases.selectors import (
    attachments_visible_to,
    case_events_visible_to,
    case_get_visible,
    cases_visible_to,
    checklist_items_visible_to,
    devices_visible_to,
    installations_visible_to,
    memberships_visible_to,
    occurrences_visible_to,
    organisations_visible_to,
    users_visible_to,
)
from cases.services import case_add_attachment, case_add_note
from tests.factories import (
    DeviceFactory,
    InstallationFactory,
    SmsoFactory,
    UserFactory,
    case_in_state,
    make_user,
)

DCC_SIDE = (Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.DCC_INTEGRATION, Role.SYSTEM)
USER_SIDE = (Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION)


@pytest.fixture
def world(people, supplier, other_supplier, check, settings, tmp_path):  # type: ignore[no-untyped-def]
    """Two suppliers' cases with shared and internal notes and attachments."""
    settings.MEDIA_ROOT = tmp_path
    operator = people[Role.DCC_OPERATOR]
    data = {}
    for name, org in (("ours", supplier), ("theirs", other_supplier)):
        installation = InstallationFactory(responsible_supplier=org)
        DeviceFactory(installation=installation)
        case = case_in_state(CaseState.TRIAGED, installation=installation, check=check)
        shared = case_add_note(case=case, actor=operator, kind=NoteKind.COMMUNICATION, body=f"{name} shared")
        internal = case_add_note(case=case, actor=operator, kind=NoteKind.INVESTIGATION, body=f"{name} internal",
                                 visibility=Visibility.INTERNAL)
        shared_file = case_add_attachment(case=case, actor=operator,
                                          upload=SimpleUploadedFile(f"{name}.txt", b"x", content_type="text/plain"))
        internal_file = case_add_attachment(case=case, actor=operator, visibility=Visibility.INTERNAL,
                                            upload=SimpleUploadedFile(f"{name}-mcc.txt", b"y", content_type="text/plain"))
        data[name] = {"org": org, "installation": installation, "case": case, "shared": shared, "internal": internal,
                      "shared_file": shared_file, "internal_file": internal_file}
    data["their_agent"] = make_user(Role.USER_AGENT, other_supplier)
    return data


@pytest.mark.parametrize("role", DCC_SIDE)
def test_dcc_sees_everything(people, world, role) -> None:  # type: ignore[no-untyped-def]
    user = people[role]
    assert cases_visible_to(user).count() == 2
    assert installations_visible_to(user).count() == 2
    assert case_events_visible_to(user).filter(pk=world["theirs"]["internal"].pk).exists()
    assert attachments_visible_to(user).count() == 4
    assert devices_visible_to(user).count() == 2
    assert case_get_visible(user=user, reference=world["theirs"]["case"].reference) == world["theirs"]["case"]


@pytest.mark.parametrize("role", USER_SIDE)
def test_a_user_sees_only_its_own_organisation(people, world, role) -> None:  # type: ignore[no-untyped-def]
    user = people[role]
    ours, theirs = world["ours"], world["theirs"]
    assert list(cases_visible_to(user)) == [ours["case"]]
    assert list(installations_visible_to(user)) == [ours["installation"]]
    assert set(devices_visible_to(user).values_list("installation_id", flat=True)) == {ours["installation"].pk}
    assert set(occurrences_visible_to(user).values_list("case_id", flat=True)) == {ours["case"].pk}
    assert set(checklist_items_visible_to(user).values_list("case_id", flat=True)) == {ours["case"].pk}
    events = case_events_visible_to(user)
    assert set(events.values_list("case_id", flat=True)) == {ours["case"].pk}
    assert events.filter(pk=ours["shared"].pk).exists()
    assert not events.filter(visibility=Visibility.INTERNAL).exists()
    assert list(attachments_visible_to(user)) == [ours["shared_file"]]
    assert case_get_visible(user=user, reference=ours["case"].reference) == ours["case"]
    for reference in (theirs["case"].reference, theirs["case"].pk, "MEHR-999999", "nonsense", ""):
        with pytest.raises(NotFound):
            case_get_visible(user=user, reference=reference)


def test_the_internal_events_a_user_misses_include_every_kind(people, world) -> None:  # type: ignore[no-untyped-def]
    ours = world["ours"]
    hidden = CaseEvent.objects.filter(case=ours["case"], visibility=Visibility.INTERNAL)
    assert {e.kind for e in hidden} == {"NOTE", "ATTACHMENT"}
    visible = case_events_visible_to(people[Role.USER_AGENT]).filter(case=ours["case"])
    assert set(visible.values_list("pk", flat=True)).isdisjoint(set(hidden.values_list("pk", flat=True)))


def test_other_suppliers_agent_is_symmetric(world) -> None:  # type: ignore[no-untyped-def]
    agent = world["their_agent"]
    assert list(cases_visible_to(agent)) == [world["theirs"]["case"]]
    assert not attachments_visible_to(agent).filter(case=world["ours"]["case"]).exists()


def test_people_and_organisations(people, world, dcc, supplier, other_supplier) -> None:  # type: ignore[no-untyped-def]
    smso = SmsoFactory()
    agent = people[Role.USER_AGENT]
    orgs = set(organisations_visible_to(agent))
    assert supplier in orgs and dcc in orgs and smso in orgs and other_supplier not in orgs
    assert {m.organisation_id for m in memberships_visible_to(agent)} == {supplier.pk}
    assert world["their_agent"] not in set(users_visible_to(agent))
    assert people[Role.USER_VIEWER] in set(users_visible_to(agent))
    assert users_visible_to(people[Role.DCC_OPERATOR]).filter(pk=world["their_agent"].pk).exists()


@pytest.mark.parametrize("who", ["anonymous", "no-membership", "inactive", "staff-without-membership"])
def test_nobody_else_sees_anything(world, who) -> None:  # type: ignore[no-untyped-def]
    if who == "anonymous":
        user = AnonymousUser()
    elif who == "inactive":
        user = make_user(Role.USER_AGENT, world["ours"]["org"])
        user.is_active = False
        user.save()
    else:
        user = UserFactory(is_staff=who.startswith("staff"))
    for selector in (cases_visible_to, installations_visible_to, case_events_visible_to, attachments_visible_to,
                     devices_visible_to, occurrences_visible_to, organisations_visible_to, users_visible_to):
        assert not selector(user).exists(), selector.__name__
    with pytest.raises(NotFound):
        case_get_visible(user=user, reference=world["ours"]["case"].reference)


def test_superuser_without_membership_acts_as_dcc(world) -> None:  # type: ignore[no-untyped-def]
    admin = UserFactory(is_superuser=True, is_staff=True)
    assert cases_visible_to(admin).count() == 2
    assert case_events_visible_to(admin).filter(visibility=Visibility.INTERNAL).count() == 4
