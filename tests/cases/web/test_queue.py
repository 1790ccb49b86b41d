"""The case queue: visibility, filters in the URL, search, sorting, pagination, and DCC bulk actions."""

from __future__ import annotations

import re

import pytest

from cases.domain import CaseState, Cohort, InstallationType, Party, Role
from cases.models import Case, CaseEvent
from cases.web import queue as queue_module
from tests.factories import CheckFactory, DeviceFactory, InstallationFactory, case_in_state


def refs(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'<td class="ref"><a href="/cases/(MEHR-\d+)/">', response.content.decode())


@pytest.fixture
def mixed(supplier, other_supplier, people):  # type: ignore[no-untyped-def]
    """Five cases: four of supplier A in different shapes, one of supplier B."""
    cm = CheckFactory(code="CM001")
    dv = CheckFactory(code="DV001", stage="DATA_VALIDATION", category="DATA_VALIDATION")
    dormant = InstallationFactory(responsible_supplier=supplier, cohort=Cohort.IOC, installation_type=InstallationType.DORMANT)
    active = InstallationFactory(responsible_supplier=supplier, cohort=Cohort.FOC)
    DeviceFactory(installation=active, eui64="70-B3-D5-1F-30-00-A0-08")
    c = {
        "raised": case_in_state(CaseState.RAISED, installation=active, check=cm),
        "user": case_in_state(
            CaseState.AWAITING_USER, installation=dormant, check=dv, owner_party=Party.USER,
            assignee=people[Role.USER_AGENT], stage="DATA_VALIDATION", category="DATA_VALIDATION",
        ),
        "dcc": case_in_state(
            CaseState.AWAITING_DCC, installation=InstallationFactory(responsible_supplier=supplier), check=cm,
            owner_party=Party.DCC, assignee=people[Role.DCC_OPERATOR], priority=1,
        ),
        "closed": case_in_state(CaseState.CLOSED, installation=InstallationFactory(responsible_supplier=supplier), check=dv),
        "other": case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=other_supplier), check=cm),
    }
    return c


def test_dcc_sees_every_suppliers_open_cases(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get("/")
    assert response.status_code == 200
    assert set(refs(response)) == {mixed[k].reference for k in ("raised", "user", "dcc", "other")}
    assert b"Bulk action" in response.content


def test_a_user_sees_only_their_organisations_cases(agent_client, mixed) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.get("/?status=all")
    assert set(refs(response)) == {mixed[k].reference for k in ("raised", "user", "dcc", "closed")}
    assert mixed["other"].reference.encode() not in response.content
    assert b"Bulk action" not in response.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=open", {"raised", "user", "dcc", "other"}),
        ("status=closed", {"closed"}),
        ("status=all", {"raised", "user", "dcc", "closed", "other"}),
        ("state=AWAITING_USER", {"user"}),
        ("stage=DATA_VALIDATION", {"user"}),
        ("category=DATA_VALIDATION&status=all", {"user", "closed"}),
        ("check=DV001&status=all", {"user", "closed"}),
        ("cohort=IOC", {"user"}),
        ("type=DORMANT", {"user"}),
        ("owner=DCC", {"dcc", "raised", "other"}),
        ("assignee=me", {"dcc"}),
        ("assignee=none", {"raised", "other"}),
    ],
)
def test_filters(dcc_client, mixed, query: str, expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get(f"/?{query}")
    assert set(refs(response)) == {mixed[k].reference for k in expected}


def test_assignee_filter_by_person(dcc_client, mixed, people) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get(f"/?assignee={people[Role.USER_AGENT].pk}")
    assert refs(response) == [mixed["user"].reference]


@pytest.mark.parametrize(
    ("search", "key"),
    [
        ("reference", "dcc"),
        ("number", "dcc"),
        ("mpan", "raised"),
        ("mprn", "user"),
        ("eui", "raised"),
        ("eui_loose", "raised"),
    ],
)
def test_search(dcc_client, mixed, search: str, key: str) -> None:  # type: ignore[no-untyped-def]
    case = mixed[key]
    q = {
        "reference": case.reference,
        "number": str(case.pk),
        "mpan": case.installation.mpan,
        "mprn": case.installation.mprn,
        "eui": "70-B3-D5-1F-30-00-A0-08",
        "eui_loose": "70b3d51f3000a008",
    }[search]
    response = dcc_client.get("/", {"q": q})
    assert case.reference in refs(response)


def test_search_for_something_that_is_no_identifier_finds_nothing(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get("/?q=hello")
    assert refs(response) == []
    assert b"a reference (MEHR-000123), MPAN, MPRN or device ID" in response.content


def test_a_user_cannot_find_another_users_case_by_search(agent_client, mixed) -> None:  # type: ignore[no-untyped-def]
    assert refs(agent_client.get("/", {"q": mixed["other"].reference})) == []
    assert refs(agent_client.get("/", {"q": mixed["other"].installation.mpan})) == []


def test_sorting(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    by_ref = refs(dcc_client.get("/?sort=reference"))
    assert by_ref == sorted(by_ref)
    assert refs(dcc_client.get("/?sort=reference_desc")) == list(reversed(by_ref))
    assert refs(dcc_client.get("/?sort=priority"))[0] == mixed["dcc"].reference


def test_unknown_filter_values_are_ignored_with_a_message(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get("/?state=NOPE&sort=evil")
    assert response.status_code == 200
    assert b"Some filters were not understood" in response.content


def test_pagination_keeps_the_filters_in_the_links(dcc_client, supplier) -> None:  # type: ignore[no-untyped-def]
    check = CheckFactory(code="CM002")
    for _ in range(30):
        case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    first = dcc_client.get("/?state=RAISED&size=25")
    assert len(refs(first)) == 25
    html = first.content.decode()
    assert 'href="?state=RAISED&amp;size=25&amp;page=2"' in html
    second = dcc_client.get("/?state=RAISED&size=25&page=2")
    assert len(refs(second)) == 5
    assert not set(refs(first)) & set(refs(second))
    assert b"26\xe2\x80\x9330 of 30" in second.content


def test_count_is_capped(dcc_client, supplier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(queue_module, "COUNT_CAP", 3)
    check = CheckFactory(code="CM002")
    for _ in range(5):
        case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    response = dcc_client.get("/?size=25")
    assert b"3+" in response.content and b"more than 3" in response.content


# --- bulk --------------------------------------------------------------------------------------
def test_bulk_assign_reports_each_case(dcc_client, mixed, people) -> None:  # type: ignore[no-untyped-def]
    operator = people[Role.DCC_OPERATOR]
    ids = [mixed["raised"].pk, mixed["other"].pk, mixed["closed"].pk]
    response = dcc_client.post("/bulk/", {"cases": ids, "action": "assign", "assignee": operator.pk})
    assert response.status_code == 200
    body = response.content.decode()
    assert "2 succeeded, 1 failed" in body
    assert "Only open cases are assigned." in body
    assert Case.objects.get(pk=mixed["raised"].pk).assignee == operator
    assert Case.objects.get(pk=mixed["other"].pk).assignee == operator
    assert Case.objects.get(pk=mixed["closed"].pk).assignee is None
    assert CaseEvent.objects.filter(case_id__in=ids, kind="ASSIGNMENT").count() == 2


def test_bulk_transition_runs_the_service_per_case(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    ids = [mixed["raised"].pk, mixed["dcc"].pk]
    response = dcc_client.post(
        "/bulk/", {"cases": ids, "action": "transition:escalate", "incident_reference": "INC42", "note": "Outage"}
    )
    body = response.content.decode()
    assert "2 succeeded, 0 failed" in body
    for pk in ids:
        case = Case.objects.get(pk=pk)
        assert case.state == CaseState.ESCALATED and case.incident_reference == "INC42"


def test_bulk_transition_that_is_not_allowed_for_some_cases(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    ids = [mixed["raised"].pk, mixed["user"].pk]
    response = dcc_client.post("/bulk/", {"cases": ids, "action": "transition:await_smso"})
    body = response.content.decode()
    assert "1 succeeded, 1 failed" in body
    assert "not possible while the case is raised" in body
    assert Case.objects.get(pk=mixed["user"].pk).state == CaseState.AWAITING_SMSO
    assert Case.objects.get(pk=mixed["raised"].pk).state == CaseState.RAISED


def test_bulk_triage_needs_its_fields(dcc_client, mixed, people) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.post("/bulk/", {"cases": [mixed["raised"].pk], "action": "transition:triage"})
    assert "0 succeeded, 1 failed" in response.content.decode()
    response = dcc_client.post(
        "/bulk/",
        {
            "cases": [mixed["raised"].pk, mixed["other"].pk],
            "action": "transition:triage",
            "owner_party": "DCC",
            "assignee": people[Role.DCC_MANAGER].pk,
        },
    )
    assert "2 succeeded, 0 failed" in response.content.decode()
    assert Case.objects.get(pk=mixed["other"].pk).state == CaseState.TRIAGED


def test_bulk_without_selection_goes_back_with_a_message(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.post("/bulk/", {"action": "assign", "back": "state=RAISED"}, follow=True)
    assert response.redirect_chain[-1][0] == "/?state=RAISED"
    assert b"Select at least one case" in response.content


@pytest.mark.parametrize("role", [Role.USER_AGENT, Role.USER_VIEWER])
def test_bulk_is_for_dcc_staff_only(client_for, mixed, people, role: str) -> None:  # type: ignore[no-untyped-def]
    response = client_for(role).post(
        "/bulk/", {"cases": [mixed["raised"].pk], "action": "assign", "assignee": people[Role.USER_AGENT].pk}
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=mixed["raised"].pk).assignee is None


def test_bulk_offers_only_transitions_the_role_may_fire(client_for) -> None:  # type: ignore[no-untyped-def]
    operator = client_for(Role.DCC_OPERATOR).get("/").content.decode()
    assert 'value="transition:escalate"' in operator
    assert 'value="transition:exclude"' not in operator


def test_an_invalid_filter_does_not_drop_the_valid_ones(dcc_client, mixed) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get("/?state=NOPE&cohort=IOC")
    assert refs(response) == [mixed["user"].reference]
