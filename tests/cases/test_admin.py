"""The admin: scoped by the visibility selectors, lifecycle buttons and edits go through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.domain import CaseState, Cohort, EventKind, InstallationType, NoteKind, Party, Role, Visibility
from cases.models import Case, CaseEvent, ChecklistItem, Device
from cases.services import case_add_note
from tests.factories import DeviceFactory, InstallationFactory, SupplierFactory, case_in_state, make_user

S = CaseState
CHANGELIST = reverse("admin:cases_case_changelist")


def admin_staff(user: Any) -> Any:
    """Give an account admin access with every cases permission (as the DCC staff group does)."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="cases")
        | Permission.objects.filter(content_type__app_label="auth", codename__in=["view_user", "change_user"])
    )
    return user


@pytest.fixture
def operator(people):  # type: ignore[no-untyped-def]
    return admin_staff(people[Role.DCC_OPERATOR])


@pytest.fixture
def manager(people):  # type: ignore[no-untyped-def]
    return admin_staff(people[Role.DCC_MANAGER])


@pytest.fixture
def user_staff(people):  # type: ignore[no-untyped-def]
    """A User-side (supplier) account that somebody gave admin access: it must still see only its own data."""
    return admin_staff(people[Role.USER_AGENT])


@pytest.fixture
def two_cases(supplier, other_supplier, check):  # type: ignore[no-untyped-def]
    ours = case_in_state(S.TRIAGED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    theirs = case_in_state(
        S.TRIAGED, installation=InstallationFactory(responsible_supplier=other_supplier, cohort=Cohort.IOC), check=check
    )
    return ours, theirs


def change_url(case: Case) -> str:
    return reverse("admin:cases_case_change", args=[case.pk])


def form_data(response: Any) -> dict[str, Any]:
    """The POST data a browser would send back for an admin change form (main form and inline formsets)."""
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for bound in form:
            value = bound.value()
            if isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value.pk if hasattr(value, "pk") else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for form in formset.forms:
            add(form)
    return data


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- changelist, search, filters ----------------------------------------------------------------
def test_changelist_for_dcc_lists_every_supplier(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    client.force_login(operator)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    shown = {c.pk for c in response.context["cl"].result_list}
    assert shown == {c.pk for c in two_cases}
    assert response.context["cl"].show_full_result_count is False


def test_search_by_reference_mpxn_device_and_check(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = two_cases
    device = DeviceFactory(installation=theirs.installation)
    client.force_login(operator)
    for term, expected in [
        (ours.reference, {ours.pk}),
        (ours.reference.lower(), {ours.pk}),
        (theirs.installation.mpan, {theirs.pk}),
        (ours.installation.mprn, {ours.pk}),
        (device.eui64, {theirs.pk}),
        (device.eui64.replace("-", "").lower(), {theirs.pk}),
        ("MEHR-999999", set()),
        ("CM001", {ours.pk, theirs.pk}),
    ]:
        response = client.get(CHANGELIST, {"q": term})
        assert response.status_code == 200, term
        assert {c.pk for c in response.context["cl"].result_list} == expected, term


@pytest.mark.parametrize(
    "params, matches",
    [
        ({"state": S.TRIAGED}, {"ours", "theirs"}),
        ({"state": S.RAISED}, set()),
        ({"cohort": Cohort.IOC}, {"theirs"}),
        ({"installation_type": InstallationType.ACTIVE}, {"ours", "theirs"}),
        ({"installation_type": InstallationType.DORMANT}, set()),
        ({"stage": "COMMUNICATIONS"}, {"ours", "theirs"}),
        ({"category": "DATA_VALIDATION"}, set()),
        ({"owner_party": Party.DCC}, {"ours", "theirs"}),
        ({"open": "yes"}, {"ours", "theirs"}),
        ({"open": "no"}, set()),
        ({"assigned": "none"}, {"ours", "theirs"}),
    ],
)
def test_filters(client, operator, two_cases, params, matches) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = two_cases
    client.force_login(operator)
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    by_name = {"ours": ours.pk, "theirs": theirs.pk}
    assert {c.pk for c in response.context["cl"].result_list} == {by_name[m] for m in matches}


def test_supplier_filter(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    _ours, theirs = two_cases
    client.force_login(operator)
    response = client.get(CHANGELIST, {"supplier": theirs.supplier_id})
    assert {c.pk for c in response.context["cl"].result_list} == {theirs.pk}


def test_changelist_query_count_does_not_grow_with_rows(client, operator, supplier, check) -> None:  # type: ignore[no-untyped-def]
    client.force_login(operator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(CHANGELIST).status_code == 200
        return len(captured.captured_queries)

    for _ in range(2):
        case_in_state(S.TRIAGED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    few = queries()
    for _ in range(20):
        case_in_state(S.AWAITING_USER, installation=InstallationFactory(responsible_supplier=SupplierFactory()))
    assert queries() == few


# --- a User-side staff account sees only its own organisation's data -----------------------------
def test_user_side_staff_changelist_is_scoped(client, user_staff, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = two_cases
    client.force_login(user_staff)
    response = client.get(CHANGELIST)
    assert {c.pk for c in response.context["cl"].result_list} == {ours.pk}
    # Not even by searching for it or filtering on the other supplier.
    response = client.get(CHANGELIST, {"q": theirs.reference})
    assert list(response.context["cl"].result_list) == []
    response = client.get(CHANGELIST, {"supplier": theirs.supplier_id})
    assert list(response.context["cl"].result_list) == []


def test_user_side_staff_cannot_open_or_transition_another_suppliers_case(client, user_staff, two_cases) -> None:  # type: ignore[no-untyped-def]
    _ours, theirs = two_cases
    client.force_login(user_staff)
    response = client.get(change_url(theirs))
    assert response.status_code == 302  # the admin's "does not exist" redirect
    assert reverse("admin:index") in response["Location"]
    url = reverse("admin:cases_case_transition", kwargs={"object_id": theirs.pk, "transition_name": "withdraw"})
    assert client.get(url).status_code == 404
    assert client.post(url, {"note": "not mine"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == S.TRIAGED


@pytest.mark.parametrize(
    "url_name, visible_key",
    [
        ("admin:cases_installation_changelist", "installation"),
        ("admin:cases_device_changelist", "device"),
        ("admin:cases_caseevent_changelist", "event"),
        ("admin:cases_caseoccurrence_changelist", "occurrence"),
        ("admin:cases_organisation_changelist", "organisation"),
        ("admin:auth_user_changelist", "user"),
    ],
)
def test_user_side_staff_other_changelists_are_scoped(client, user_staff, two_cases, people, url_name, visible_key) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = two_cases
    DeviceFactory(installation=ours.installation)
    DeviceFactory(installation=theirs.installation)
    make_user(Role.USER_AGENT, theirs.supplier, username="their-agent")
    client.force_login(user_staff)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows
    supplier_of = {
        "installation": lambda r: r.responsible_supplier_id,
        "device": lambda r: r.installation.responsible_supplier_id,
        "event": lambda r: r.case.supplier_id,
        "occurrence": lambda r: r.case.supplier_id,
        "organisation": lambda r: r.pk if r.kind == "USER" else ours.supplier_id,
        "user": lambda r: r.membership.organisation_id,
    }[visible_key]
    assert {supplier_of(r) for r in rows} == {ours.supplier_id}


def test_internal_events_hidden_from_user_side_staff(client, user_staff, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    internal = case_add_note(case=ours, actor=operator, kind=NoteKind.INVESTIGATION, body="MCC only",
                             visibility=Visibility.INTERNAL)
    client.force_login(user_staff)
    response = client.get(reverse("admin:cases_caseevent_changelist"))
    assert internal.pk not in {e.pk for e in response.context["cl"].result_list}
    response = client.get(change_url(ours))
    assert response.status_code == 200
    inline_events = next(f for f in response.context["inline_admin_formsets"] if f.formset.model is CaseEvent)
    shown = {form.instance.pk for form in inline_events.formset.forms}
    assert shown and internal.pk not in shown
    assert "MCC only" not in response.content.decode()
    client.force_login(operator)
    response = client.get(change_url(ours))
    assert "MCC only" in response.content.decode()


def test_user_side_staff_cannot_edit_the_catalogue(client, user_staff, check) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_staff)
    url = reverse("admin:cases_check_change", args=[check.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    response = client.post(reverse("admin:cases_check_reload"))
    assert "Only DCC staff" in " ".join(messages_of(response))


# --- lifecycle buttons go through case_transition -----------------------------------------------------
def test_change_page_shows_the_transitions_the_role_may_fire(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    client.force_login(operator)
    response = client.get(change_url(ours))
    names = {t.name for block in response.context["fsm_object_transitions"] for t in block.available_transitions}
    assert names == {"await_dcc", "await_user", "await_smso", "schedule_retry", "escalate", "propose_exclusion"}
    assert 'name="_fsm_transition_to"' in response.content.decode()


def test_button_without_form_fires_through_the_service(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    client.force_login(operator)
    data = form_data(client.get(change_url(ours)))
    data["_fsm_transition_to"] = "await_smso"
    response = client.post(change_url(ours), data)
    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.state == S.AWAITING_SMSO
    assert ours.version == 2
    event = CaseEvent.objects.filter(case=ours, kind=EventKind.TRANSITION).get()
    assert (event.transition, event.from_state, event.to_state, event.actor) == (
        "await_smso", S.TRIAGED, S.AWAITING_SMSO, operator
    )
    assert event.actor_organisation.kind == "DCC"


def test_button_with_form_asks_for_the_fields(client, operator, people, supplier, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    client.force_login(operator)
    data = form_data(client.get(change_url(case)))
    data["_fsm_transition_to"] = "triage"
    response = client.post(change_url(case), data)
    transition_url = reverse("admin:cases_case_transition", kwargs={"object_id": case.pk, "transition_name": "triage"})
    assert response.status_code == 302 and response["Location"] == f"{transition_url}?version=1"
    response = client.get(response["Location"])
    assert response.status_code == 200
    assert {"owner_party", "assignee", "priority", "note"} <= set(response.context["transition_form"].fields)
    # Missing assignee: the service's field error comes back on the form, nothing is written.
    response = client.post(transition_url, {"expected_version": 1, "owner_party": Party.USER})
    assert response.status_code == 200
    assert "assignee" in response.context["transition_form"].errors
    case.refresh_from_db()
    assert case.state == S.RAISED
    response = client.post(transition_url, {"expected_version": 1, "owner_party": Party.USER,
                                            "assignee": people[Role.USER_AGENT].pk, "priority": 2})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.state, case.owner_party, case.assignee, case.priority, case.version) == (
        S.TRIAGED, Party.USER, people[Role.USER_AGENT], 2, 2
    )
    event = CaseEvent.objects.get(case=case, kind=EventKind.TRANSITION)
    assert event.actor == operator and event.data["assignee"] == people[Role.USER_AGENT].pk


def test_refused_role_gets_an_error_and_nothing_changes(client, operator, people, supplier, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(S.EXCLUSION_PROPOSED, installation=InstallationFactory(responsible_supplier=supplier),
                         check=check, excluded_category="MISSING_MASTER_KEYS")
    client.force_login(operator)  # only a DCC manager may exclude
    url = reverse("admin:cases_case_transition", kwargs={"object_id": case.pk, "transition_name": "exclude"})
    response = client.post(url, {"expected_version": case.version, "note": "Confirming."})
    assert response.status_code == 302
    assert any("may not exclude" in m for m in messages_of(response))
    # Through the change-form button too (the button is not offered, but a forged POST is refused).
    data = form_data(client.get(change_url(case)))
    data["_fsm_transition_to"] = "close"
    response = client.post(change_url(case), data)
    assert any("Close" in m for m in messages_of(response))
    case.refresh_from_db()
    assert case.state == S.EXCLUSION_PROPOSED and case.version == 1
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).exists()


def test_viewer_with_admin_access_cannot_fire(client, people, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    ours = case_in_state(S.AWAITING_USER, installation=ours.installation)
    viewer = admin_staff(people[Role.USER_VIEWER])
    client.force_login(viewer)
    data = form_data(client.get(change_url(ours)))
    data["_fsm_transition_to"] = "withdraw"
    client.post(change_url(ours), data)
    url = reverse("admin:cases_case_transition", kwargs={"object_id": ours.pk, "transition_name": "withdraw"})
    response = client.post(url, {"expected_version": ours.version, "note": "Meter replaced."})
    assert any("may not withdraw" in m for m in messages_of(response))
    ours.refresh_from_db()
    assert ours.state == S.AWAITING_USER


def test_stale_version_is_a_conflict(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    client.force_login(operator)
    data = form_data(client.get(change_url(ours)))
    # Somebody else moves the case meanwhile.
    from cases.services import case_transition

    case_transition(case=ours, transition="await_user", actor=operator)
    data["_fsm_transition_to"] = "await_smso"
    response = client.post(change_url(ours), data, follow=True)
    assert any("changed since you read it" in m and "reload" in m for m in messages_of(response))
    ours.refresh_from_db()
    assert ours.state == S.AWAITING_USER and ours.version == 2


def test_assignee_edit_goes_through_case_assign(client, operator, manager, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    client.force_login(operator)
    data = form_data(client.get(change_url(ours)))
    data["assignee"] = manager.pk
    response = client.post(change_url(ours), data)
    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.assignee == manager and ours.version == 2
    event = CaseEvent.objects.get(case=ours, kind=EventKind.ASSIGNMENT)
    assert event.actor == operator and event.data["to"] == manager.pk


def test_checklist_tick_goes_through_the_service(client, operator, user_staff, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    dcc_step = ours.checklist.exclude(party=Party.USER).first()
    user_step = ours.checklist.filter(party=Party.USER).first()
    client.force_login(operator)
    response = client.get(change_url(ours))
    data = form_data(response)
    prefix = next(f.formset.prefix for f in response.context["inline_admin_formsets"] if f.formset.model is ChecklistItem)
    forms = next(f.formset.forms for f in response.context["inline_admin_formsets"] if f.formset.model is ChecklistItem)
    index = {form.instance.pk: i for i, form in enumerate(forms)}
    data[f"{prefix}-{index[dcc_step.pk]}-done"] = "on"
    data[f"{prefix}-{index[user_step.pk]}-done"] = "on"  # the User's step: refused for DCC staff
    response = client.post(change_url(ours), data)
    dcc_step.refresh_from_db()
    user_step.refresh_from_db()
    assert dcc_step.done and dcc_step.done_by == operator
    assert not user_step.done
    assert any("User's to tick" in m for m in messages_of(response))
    assert CaseEvent.objects.filter(case=ours, kind=EventKind.CHECKLIST).count() == 1


def test_bulk_close_uses_the_service(client, operator, supplier, check) -> None:  # type: ignore[no-untyped-def]
    resolved = case_in_state(S.RESOLVED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    open_case = case_in_state(S.TRIAGED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    client.force_login(operator)
    response = client.post(CHANGELIST, {"action": "close_finished", "_selected_action": [resolved.pk, open_case.pk]},
                           follow=True)
    resolved.refresh_from_db()
    open_case.refresh_from_db()
    assert resolved.state == S.CLOSED and open_case.state == S.TRIAGED
    assert CaseEvent.objects.get(case=resolved, kind=EventKind.TRANSITION).actor == operator
    assert any(open_case.reference in m for m in messages_of(response))


def test_cases_and_events_cannot_be_added_or_deleted_in_the_admin(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, _ = two_cases
    client.force_login(operator)
    assert client.get(reverse("admin:cases_case_add")).status_code == 403
    assert client.get(reverse("admin:cases_case_delete", args=[ours.pk])).status_code == 403
    event = CaseEvent.objects.filter(case=ours).first()
    assert client.get(reverse("admin:cases_caseevent_delete", args=[event.pk])).status_code == 403
    response = client.get(reverse("admin:cases_caseevent_change", args=[event.pk]))
    assert response.status_code == 200 and response.context["has_change_permission"] is False


def test_device_admin_normalises_the_eui64(client, operator, installation) -> None:  # type: ignore[no-untyped-def]
    client.force_login(operator)
    response = client.post(reverse("admin:cases_device_add"), {
        "installation": installation.pk, "eui64": "70b3d51f3000a0ff", "device_type": "ESME", "model": "X",
        "firmware_version": "1",
    })
    assert response.status_code == 302
    assert Device.objects.get(installation=installation).eui64 == "70-B3-D5-1F-30-00-A0-FF"
    response = client.post(reverse("admin:cases_device_add"), {
        "installation": installation.pk, "eui64": "not-a-device", "device_type": "ESME",
    })
    assert response.status_code == 200 and "eui64" in response.context["adminform"].form.errors


def test_reload_catalogue_button(client, manager) -> None:  # type: ignore[no-untyped-def]
    client.force_login(manager)
    response = client.get(reverse("admin:cases_check_changelist"))
    assert "Re-load catalogue" in response.content.decode()
    response = client.post(reverse("admin:cases_check_reload"), follow=True)
    assert any("Catalogue reloaded" in m for m in messages_of(response))
    from cases.models import Check

    assert Check.objects.filter(code="MA110").exists()


def test_installation_autocomplete_is_scoped(client, user_staff, two_cases) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = two_cases
    client.force_login(user_staff)
    url = reverse("admin:autocomplete")
    params = {"app_label": "cases", "model_name": "device", "field_name": "installation"}
    mine = client.get(url, {**params, "term": ours.installation.mpan[:6]}).json()
    assert str(ours.installation.pk) in {r["id"] for r in mine["results"]}
    other = client.get(url, {**params, "term": theirs.installation.mpan}).json()
    assert other["results"] == []


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:cases_slaclock_changelist",
        "admin:cases_notificationsettings_changelist",
        "admin:cases_notificationpreference_changelist",
        "admin:cases_outboxmessage_changelist",
        "admin:cases_deadletter_changelist",
        "admin:cases_dailyreport_changelist",
        "admin:cases_csvimport_changelist",
    ],
)
def test_cross_organisation_operational_screens_are_dcc_only(client, operator, user_staff, url_name) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_staff)
    assert client.get(reverse(url_name)).status_code == 403
    client.force_login(operator)
    assert client.get(reverse(url_name)).status_code == 200


def test_installation_edit_copies_cohort_and_type_onto_its_cases(client, operator, two_cases) -> None:  # type: ignore[no-untyped-def]
    from cases.domain import Cohort, InstallationType

    ours, theirs = two_cases
    installation = ours.installation
    client.force_login(operator)
    url = reverse("admin:cases_installation_change", args=[installation.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    new_cohort = Cohort.FOC if installation.cohort != Cohort.FOC else Cohort.IOC
    data.update({
        "cohort": new_cohort, "installation_type": InstallationType.DORMANT,
        "devices-TOTAL_FORMS": "0", "devices-INITIAL_FORMS": "0", "devices-MIN_NUM_FORMS": "0",
        "devices-MAX_NUM_FORMS": "1000",
    })  # fmt: skip
    version, updated_at = ours.version, ours.updated_at
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    ours.refresh_from_db()
    assert (ours.cohort, ours.installation_type) == (new_cohort, InstallationType.DORMANT)
    # Reference data, not a change to the case: no new version, the queue order does not move.
    assert (ours.version, ours.updated_at) == (version, updated_at)
    theirs_before = (theirs.cohort, theirs.installation_type)
    theirs.refresh_from_db()
    assert (theirs.cohort, theirs.installation_type) == theirs_before
    # The changelist filters on the copies.
    response = client.get(CHANGELIST, {"cohort__exact": new_cohort, "installation_type__exact": "DORMANT"})
    assert {c.pk for c in response.context["cl"].result_list} == {ours.pk}
