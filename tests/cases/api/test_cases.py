"""GET /api/v1/cases/ (filters, ordering, cursor pagination, constant queries) and the case detail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.domain import CaseState, Cohort, InstallationType, Party, Priority, Role
from cases.models import Case
from tests.factories import CheckFactory, DeviceFactory, InstallationFactory, case_in_state, make_user

pytestmark = pytest.mark.django_db


def refs(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [row["reference"] for row in response.json()["results"]]


@pytest.fixture
def assortment(supplier, people):  # type: ignore[no-untyped-def]
    """Five cases of `supplier` that differ in every filtered attribute."""
    now = timezone.now()
    dormant = InstallationFactory(responsible_supplier=supplier, cohort=Cohort.IOC, installation_type=InstallationType.DORMANT)
    device = DeviceFactory(installation=dormant)
    cases = {
        "comms": case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=supplier),
                               check=CheckFactory(code="CM001"), owner_party=Party.USER, priority=Priority.HIGH),
        "dormant": case_in_state(CaseState.TRIAGED, installation=dormant, check=CheckFactory(code="PM001", stage="PRE_MIGRATION",
                                 category="PRE_MIGRATION"), stage="PRE_MIGRATION", category="PRE_MIGRATION",
                                 assignee=people[Role.USER_AGENT]),
        "old": case_in_state(CaseState.RESOLVED, installation=InstallationFactory(responsible_supplier=supplier),
                             check=CheckFactory(code="DV001"), updated_at=now - timedelta(days=30)),
        "escalated": case_in_state(CaseState.ESCALATED, installation=InstallationFactory(responsible_supplier=supplier),
                                   check=CheckFactory(code="CM002"), priority=Priority.CRITICAL),
        "dcc": case_in_state(CaseState.AWAITING_DCC, installation=InstallationFactory(responsible_supplier=supplier),
                             check=CheckFactory(code="CM001"), assignee=people[Role.DCC_OPERATOR]),
    }
    return {k: Case.objects.get(pk=v.pk) for k, v in cases.items()}, device


def test_list_shows_own_cases_newest_change_first(clients, assortment, other_case):
    cases, _ = assortment
    got = refs(clients[Role.USER_VIEWER].get("/api/v1/cases/"))
    expected = [c.reference for c in sorted(cases.values(), key=lambda c: (c.updated_at, c.pk), reverse=True)]
    assert got == expected
    assert other_case.reference not in got
    assert other_case.reference in refs(clients[Role.DCC_OPERATOR].get("/api/v1/cases/"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=AWAITING_USER", {"comms"}),
        ("state=AWAITING_USER&state=TRIAGED", {"comms", "dormant"}),
        ("open=false", {"old"}),
        ("stage=PRE_MIGRATION", {"dormant"}),
        ("category=PRE_MIGRATION", {"dormant"}),
        ("check=CM001", {"comms", "dcc"}),
        ("check=cm002,DV001", {"escalated", "old"}),
        ("cohort=IOC", {"dormant"}),
        ("installation_type=DORMANT", {"dormant"}),
        ("owner_party=USER", {"comms"}),
        ("priority=1", {"escalated"}),
        ("assignee=user_agent", {"dormant"}),
        ("assignee=me", {"dormant"}),
        ("assignee=none", {"comms", "old", "escalated"}),
        ("supplier=supplier-a", {"comms", "dormant", "old", "escalated", "dcc"}),
    ],
)
def test_filters(clients, assortment, query, expected):
    cases, _ = assortment
    got = set(refs(clients[Role.USER_AGENT].get(f"/api/v1/cases/?{query}")))
    assert got == {cases[name].reference for name in expected}


def test_sla_breached_filter_matches_the_queue_selector(clients, assortment):
    from cases.models import SlaClock
    from cases.services.sla import cases_sla_breached

    cases, _ = assortment
    now = timezone.now()
    SlaClock.objects.filter(case__in=[c.pk for c in cases.values()]).delete()
    # A running clock past its deadline counts before the SLA scan marks it; a marked one counts too.
    SlaClock.objects.create(case=cases["comms"], party="USER", kind="RESOLUTION", target_days=5,
                            started_at=now - timedelta(days=9), running_since=now - timedelta(days=9),
                            due_at=now - timedelta(hours=1))  # fmt: skip
    SlaClock.objects.create(case=cases["old"], party="DCC", kind="RESPONSE", target_days=1,
                            started_at=now - timedelta(days=40), breached_at=now - timedelta(days=38),
                            stopped_at=now - timedelta(days=30))  # fmt: skip
    SlaClock.objects.create(case=cases["dcc"], party="DCC", kind="RESOLUTION", target_days=5,
                            started_at=now, running_since=now, due_at=now + timedelta(days=7))  # fmt: skip
    client = clients[Role.USER_AGENT]
    breached = set(refs(client.get("/api/v1/cases/?sla_breached=true")))
    assert breached == {cases["comms"].reference, cases["old"].reference}
    assert breached == {c.reference for c in cases_sla_breached(Case.objects.all())}
    assert set(refs(client.get("/api/v1/cases/?sla_breached=false"))) == {
        cases[n].reference for n in ("dormant", "escalated", "dcc")
    }
    assert refs(client.get("/api/v1/cases/?sla_breached=true&open=true")) == [cases["comms"].reference]
    response = client.get("/api/v1/cases/?sla_breached=perhaps")
    assert response.status_code == 400 and "sla_breached" in response.json()["errors"]


def test_cases_carry_their_installations_cohort_and_type(assortment):
    cases, _ = assortment
    for case in cases.values():
        assert (case.cohort, case.installation_type) == (case.installation.cohort, case.installation.installation_type)


def test_identifier_time_and_reference_filters(clients, assortment):
    cases, device = assortment
    client = clients[Role.USER_AGENT]
    dormant = cases["dormant"]
    assert refs(client.get(f"/api/v1/cases/?mpxn={dormant.installation.mpan}")) == [dormant.reference]
    assert refs(client.get(f"/api/v1/cases/?mpxn={dormant.installation.mprn}")) == [dormant.reference]
    assert refs(client.get(f"/api/v1/cases/?device_id={device.eui64.replace('-', '').lower()}")) == [dormant.reference]
    assert refs(client.get("/api/v1/cases/?device_id=not-a-device")) == []
    assert refs(client.get(f"/api/v1/cases/?reference={dormant.reference}")) == [dormant.reference]
    assert refs(client.get(f"/api/v1/cases/?reference={dormant.pk}")) == [dormant.reference]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    got = refs(client.get("/api/v1/cases/", {"updated_since": since}))
    assert cases["old"].reference not in got and len(got) == 4


def test_filters_never_reveal_another_users_cases(clients, other_case):
    client = clients[Role.USER_AGENT]
    for query in (
        f"reference={other_case.reference}",
        f"mpxn={other_case.installation.mpan}",
        "supplier=supplier-b",
        "check=DV001",
        "state=AWAITING_USER",
    ):
        assert refs(client.get(f"/api/v1/cases/?{query}")) == []


def test_cursor_pagination_walks_forward_and_back_across_ties(clients, supplier, check):
    # Twelve cases with the same updated_at and priority: the cursor must still be exact.
    same = timezone.now() - timedelta(hours=1)
    made = [
        case_in_state(CaseState.TRIAGED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
        for _ in range(12)
    ]
    Case.objects.filter(pk__in=[c.pk for c in made]).update(updated_at=same, priority=Priority.NORMAL)
    client = clients[Role.USER_AGENT]
    for ordering in ("-updated_at", "priority", "-priority", "raised_at", "id", "-id"):
        seen: list[str] = []
        pages = []
        url = f"/api/v1/cases/?page_size=5&ordering={ordering}"
        while url:
            body = client.get(url).json()
            pages.append(body)
            seen.extend(r["reference"] for r in body["results"])
            url = body["next"]
        assert len(seen) == 12 and len(set(seen)) == 12, ordering
        assert [len(p["results"]) for p in pages] == [5, 5, 2]
        assert pages[0]["previous"] is None
        back = client.get(pages[2]["previous"]).json()
        assert [r["reference"] for r in back["results"]] == [r["reference"] for r in pages[1]["results"]]
    by_id = refs(client.get("/api/v1/cases/?ordering=id&page_size=200"))
    assert by_id == sorted(by_id)


def test_cursor_from_another_ordering_is_refused(clients, case):
    client = clients[Role.USER_AGENT]
    case_in_state(CaseState.TRIAGED, installation=case.installation, check=CheckFactory(code="CM009"))
    next_link = client.get("/api/v1/cases/?page_size=1").json()["next"]
    cursor = next_link.split("cursor=")[1].split("&")[0]
    response = client.get(f"/api/v1/cases/?cursor={cursor}&ordering=priority")
    assert response.status_code == 404 and "cursor" in response.json()["detail"]


def test_list_queries_are_constant(clients, supplier, people, check, settings):
    client = clients[Role.USER_AGENT]
    client.get("/api/v1/cases/")  # the token's first use records last_used_at
    for _ in range(3):
        case_in_state(CaseState.TRIAGED, installation=InstallationFactory(responsible_supplier=supplier), check=check,
                      assignee=people[Role.USER_AGENT])
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/v1/cases/").status_code == 200
    for n in range(20):
        case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=supplier),
                      check=CheckFactory(code=f"Q{n:03d}"), assignee=people[Role.DCC_OPERATOR])
    with CaptureQueriesContext(connection) as many:
        response = client.get("/api/v1/cases/?state=AWAITING_USER&state=TRIAGED&check=Q001,Q002&page_size=50")
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as more:
        assert len(refs(client.get("/api/v1/cases/?page_size=50"))) == 23
    assert len(few) == len(more) == 2  # the token (with account and role), the page
    assert len(many) <= 3  # + the check codes resolved to ids
    with CaptureQueriesContext(connection) as every_filter:
        response = client.get(
            "/api/v1/cases/?state=AWAITING_USER&check=Q001&assignee=user_agent&cohort=IOC&installation_type=ACTIVE"
            "&stage=COMMUNICATIONS&category=COMMUNICATIONS&owner_party=USER&priority=3&sla_breached=false&open=true"
        )
        assert response.status_code == 200
    assert len(every_filter) <= 4  # token, check ids, assignee id, the page
    # No SELECT DISTINCT: it would de-duplicate every match before the page's LIMIT.
    assert not any("DISTINCT" in q["sql"].upper() for q in many.captured_queries + every_filter.captured_queries)
    events_url = f"/api/v1/cases/{Case.objects.filter(supplier=supplier).first().reference}/events/"
    with CaptureQueriesContext(connection) as events:
        assert client.get(events_url).status_code == 200
    assert len(events) == 3  # token, case, page


def test_detail_has_transitions_checklist_and_installation(clients, case, people):
    client = clients[Role.DCC_OPERATOR]
    response = client.get(f"/api/v1/cases/{case.reference}/")
    assert response.status_code == 200
    assert response["ETag"] == f'"{case.version}"'
    body = response.json()
    assert body["reference"] == case.reference and body["version"] == case.version
    assert [s["step"] for s in body["checklist"]] == [1, 2, 3]
    assert body["installation"]["mpan"] == case.installation.mpan
    assert body["installation"]["smso"] == case.installation.smso.code
    names = {t["name"]: t for t in body["allowed_transitions"]}
    assert set(names) >= {"triage", "escalate", "propose_exclusion"}
    assert names["triage"]["required_fields"] == ["owner_party", "assignee"]
    # A User agent sees only what a User may fire.
    user_names = {t["name"] for t in clients[Role.USER_AGENT].get(f"/api/v1/cases/{case.reference}/").json()["allowed_transitions"]}
    assert user_names == {"withdraw"}
    viewer = clients[Role.USER_VIEWER].get(f"/api/v1/cases/{case.reference}/").json()
    assert viewer["allowed_transitions"] == []
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/api/v1/cases/{case.reference}/")
    assert len(queries) <= 4


def test_detail_404_for_unknown_or_malformed_reference(clients):
    client = clients[Role.DCC_MANAGER]
    assert client.get("/api/v1/cases/MEHR-999999/").status_code == 404
    assert client.get("/api/v1/cases/not-a-reference/").status_code == 404
    assert client.get("/api/v1/cases/99999999999999999999999/").status_code == 404


def test_account_without_role_is_forbidden(api_client, db):
    from cases.models import ApiToken

    user = make_user(Role.USER_AGENT)
    client = api_client(user)
    user.membership.delete()
    assert ApiToken.objects.filter(user=user).exists()
    assert client.get("/api/v1/cases/").status_code == 401
