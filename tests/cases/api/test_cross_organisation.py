"""The cross-organisation matrix: every User role against another User's objects, on every
endpoint and method, answers 404 (never 403, never data) and changes nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.domain import NoteKind, Role, Visibility
from cases.models import Attachment, Case, CaseEvent, ChecklistItem
from cases.services import case_add_note

pytestmark = pytest.mark.django_db

USER_ROLES = (Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION)


@pytest.fixture
def target(other_case, people, settings, tmp_path):  # type: ignore[no-untyped-def]
    """Supplier B's case with a shared note and attachment (visible to B, never to A)."""
    settings.MEDIA_ROOT = tmp_path
    case_add_note(
        case=other_case, actor=people[Role.DCC_OPERATOR], kind=NoteKind.COMMUNICATION, body="Please correct the MA data.",
        visibility=Visibility.SHARED, attachments=[SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")],
    )
    return other_case


def requests_for(case: Case) -> list[tuple[str, str, dict]]:
    ref = case.reference
    attachment = Attachment.objects.get(case=case)
    return [
        ("get", f"/api/v1/cases/{ref}/", {}),
        ("get", f"/api/v1/cases/{case.pk}/", {}),
        ("get", f"/api/v1/cases/{ref}/notes/", {}),
        ("post", f"/api/v1/cases/{ref}/notes/", {"kind": "INVESTIGATION", "body": "peek"}),
        ("get", f"/api/v1/cases/{ref}/events/", {}),
        ("get", f"/api/v1/cases/{ref}/attachments/{attachment.pk}/", {}),
        ("post", f"/api/v1/cases/{ref}/transitions/withdraw/", {"version": case.version, "note": "gone"}),
        ("post", f"/api/v1/cases/{ref}/transitions/hand_back_to_dcc/", {"version": case.version, "note": "done"}),
        ("post", f"/api/v1/cases/{ref}/transitions/triage/", {"version": case.version}),
        ("post", f"/api/v1/cases/{ref}/transitions/no_such/", {"version": case.version}),
        ("patch", f"/api/v1/cases/{ref}/checklist/2/", {"done": True}),
        ("patch", f"/api/v1/cases/{ref}/checklist/99/", {"done": True}),
        ("get", f"/api/v1/installations/{case.installation_id}/", {}),
        ("get", f"/api/v1/cases/{ref}/sla/", {}),
        ("get", f"/api/v1/installations/{case.installation_id}/session-attempts/", {}),
        ("get", f"/api/v1/installations/{case.installation_id}/migration-attempts/", {}),
    ]


@pytest.mark.parametrize("role", USER_ROLES)
def test_every_endpoint_answers_404_for_another_users_case(role, clients, target, other_people, api_client):
    client = clients[role]
    before = (CaseEvent.objects.count(), Case.objects.get(pk=target.pk).version, list(ChecklistItem.objects.filter(done=True)))
    for method, url, data in requests_for(target):
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 404, (role, method, url, response.status_code)
        assert response["Content-Type"] == "application/problem+json"
        assert target.installation.mpan not in response.content.decode()
    after = (CaseEvent.objects.count(), Case.objects.get(pk=target.pk).version, list(ChecklistItem.objects.filter(done=True)))
    assert after == before
    # The same requests by the owning organisation's account of the same role do reach the case.
    owner = api_client(other_people[role])
    assert owner.get(f"/api/v1/cases/{target.reference}/").status_code == 200
    assert owner.get(f"/api/v1/cases/{target.reference}/events/").status_code == 200
    assert owner.get(f"/api/v1/installations/{target.installation_id}/session-attempts/").status_code == 200


@pytest.mark.parametrize("role", USER_ROLES)
def test_lists_and_counts_never_include_another_users_objects(role, clients, target, case):
    client = clients[role]
    lists = {
        "/api/v1/cases/": "reference",
        f"/api/v1/cases/?reference={target.reference}": "reference",
        f"/api/v1/cases/?mpxn={target.installation.mpan}": "reference",
        f"/api/v1/cases/?installation={target.installation_id}": "reference",
        "/api/v1/cases/?sla_breached=true": "reference",
        "/api/v1/cases/?sla_breached=false": "reference",
        f"/api/v1/cases/?cohort={target.cohort}&installation_type={target.installation_type}": "reference",
        "/api/v1/installations/": "id",
        f"/api/v1/installations/?mpxn={target.installation.mpan}": "id",
        "/api/v1/installations/?supplier=supplier-b": "id",
    }
    for url, key in lists.items():
        response = client.get(url)
        assert response.status_code == 200, url
        values = {row[key] for row in response.json()["results"]}
        assert target.reference not in values and target.installation_id not in values, url
    own = {row["reference"] for row in client.get("/api/v1/cases/").json()["results"]}
    assert own == {case.reference}
    installation = client.get(f"/api/v1/installations/{case.installation_id}/").json()
    assert [c["reference"] for c in installation["cases"]] == [case.reference]


def test_dcc_sees_every_organisation(clients, target, case):
    for role in (Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.DCC_INTEGRATION):
        refs = {row["reference"] for row in clients[role].get("/api/v1/cases/").json()["results"]}
        assert refs == {case.reference, target.reference}
        assert clients[role].get(f"/api/v1/cases/{target.reference}/notes/").status_code == 200
