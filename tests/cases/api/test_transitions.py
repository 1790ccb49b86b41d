"""POST …/transitions/{name}/ (If-Match / version → 409, 403, 400, 428) and PATCH …/checklist/{step}/."""

from __future__ import annotations

import pytest

from cases.domain import CaseState, EventKind, NoteKind, Party, Role
from cases.models import Case, CaseEvent, ChecklistItem

pytestmark = pytest.mark.django_db


def url(case: Case, name: str) -> str:
    return f"/api/v1/cases/{case.reference}/transitions/{name}/"


def test_triage_with_if_match(clients, case, people):
    response = clients[Role.DCC_OPERATOR].post(
        url(case, "triage"),
        {"owner_party": Party.USER, "assignee": "user_agent", "priority": 2},
        format="json",
        HTTP_IF_MATCH=f'"{case.version}"',
    )
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.state == CaseState.TRIAGED and case.assignee == people[Role.USER_AGENT] and case.priority == 2
    assert response["ETag"] == f'"{case.version}"' and response.json()["version"] == case.version == 2
    event = CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).get()
    assert event.actor == people[Role.DCC_OPERATOR] and event.to_state == CaseState.TRIAGED


def test_version_in_body_and_weak_etag(clients, case):
    client = clients[Role.DCC_OPERATOR]
    Case.objects.filter(pk=case.pk).update(state=CaseState.TRIAGED)
    assert client.post(url(case, "await_user"), {"version": 1}, format="json").status_code == 200
    assert client.post(url(case, "await_smso"), {}, format="json", HTTP_IF_MATCH='W/"2"').status_code == 200
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_SMSO and case.version == 3


def test_stale_version_is_409_and_nothing_changes(clients, case):
    Case.objects.filter(pk=case.pk).update(state=CaseState.TRIAGED, version=5)
    response = clients[Role.DCC_OPERATOR].post(url(case, "await_user"), {}, format="json", HTTP_IF_MATCH='"4"')
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and "changed since you read it" in response.json()["detail"]
    case.refresh_from_db()
    assert case.state == CaseState.TRIAGED and case.version == 5


def test_role_may_not_fire_is_403(clients, case):
    for role in (Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION):
        response = clients[role].post(url(case, "triage"), {"version": 1}, format="json")
        assert response.status_code == 403 and response.json()["code"] == "not_permitted"
        # Without a version the answer is still 403, not "version required".
        assert clients[role].post(url(case, "triage"), {}, format="json").status_code == 403
    assert Case.objects.get(pk=case.pk).state == CaseState.RAISED


def test_conditions_and_fields_are_400_with_reasons(clients, case):
    client = clients[Role.DCC_OPERATOR]
    missing = client.post(url(case, "triage"), {"version": 1}, format="json")
    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"assignee"}  # owner_party came from the check
    wrong_state = client.post(url(case, "resolve"), {"version": 1}, format="json")
    assert wrong_state.status_code == 403  # operators may not resolve (the retry engine does)
    not_now = clients[Role.DCC_MANAGER].post(url(case, "exclude"), {"version": 1}, format="json")
    assert not_now.status_code == 400 and not_now.json()["code"] == "transition_refused"
    bad_field = client.post(url(case, "triage"), {"version": 1, "owner_party": "NOBODY"}, format="json")
    assert bad_field.status_code == 400 and "owner_party" in bad_field.json()["errors"]
    not_taken = client.post(url(case, "escalate"), {"version": 1, "owner_party": "DCC", "incident_reference": "INC1"}, format="json")
    assert not_taken.status_code == 400 and "owner_party" in not_taken.json()["errors"]
    assert Case.objects.get(pk=case.pk).version == 1


def test_user_retry_request_needs_a_correction_note(clients, case):
    Case.objects.filter(pk=case.pk).update(state=CaseState.AWAITING_USER)
    client = clients[Role.USER_AGENT]
    refused = client.post(url(case, "schedule_retry"), {"version": 1}, format="json")
    assert refused.status_code == 400 and "correction" in refused.json()["detail"]
    done = client.post(url(case, "schedule_retry"), {"version": 1, "note": "MA data corrected."}, format="json")
    assert done.status_code == 200, done.content
    assert CaseEvent.objects.filter(case=case, kind=EventKind.NOTE, note_kind=NoteKind.CORRECTION).exists()


def test_missing_version_is_428_and_bad_if_match_400(clients, case):
    client = clients[Role.DCC_OPERATOR]
    response = client.post(url(case, "escalate"), {"incident_reference": "INC1"}, format="json")
    assert response.status_code == 428 and response.json()["code"] == "version_required"
    assert client.post(url(case, "escalate"), {}, format="json", HTTP_IF_MATCH="*").status_code == 400
    disagree = client.post(url(case, "escalate"), {"version": 2}, format="json", HTTP_IF_MATCH='"1"')
    assert disagree.status_code == 400
    assert client.post(url(case, "escalate"), {"version": 0}, format="json").status_code == 400


def test_unknown_transition_is_404(clients, case):
    assert clients[Role.DCC_OPERATOR].post(url(case, "explode"), {"version": 1}, format="json").status_code == 404


def test_tick_checklist(clients, case, people):
    user = clients[Role.USER_AGENT]
    response = user.patch(f"/api/v1/cases/{case.reference}/checklist/2/", {"done": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["done"] is True and response.json()["done_by"] == "user_agent"
    item = ChecklistItem.objects.get(case=case, order=2)
    assert item.done and item.done_by == people[Role.USER_AGENT]
    assert CaseEvent.objects.filter(case=case, kind=EventKind.CHECKLIST).count() == 1
    # A DCC step is not the User's to tick; viewers tick nothing; unknown steps are 404.
    assert user.patch(f"/api/v1/cases/{case.reference}/checklist/1/", {"done": True}, format="json").status_code == 403
    viewer = clients[Role.USER_VIEWER]
    assert viewer.patch(f"/api/v1/cases/{case.reference}/checklist/2/", {"done": False}, format="json").status_code == 403
    assert user.patch(f"/api/v1/cases/{case.reference}/checklist/9/", {"done": True}, format="json").status_code == 404
    assert user.patch(f"/api/v1/cases/{case.reference}/checklist/2/", {"done": "maybe"}, format="json").status_code == 400
    dcc = clients[Role.DCC_OPERATOR]
    assert dcc.patch(f"/api/v1/cases/{case.reference}/checklist/1/", {"done": True}, format="json").status_code == 200
    unticked = user.patch(f"/api/v1/cases/{case.reference}/checklist/2/", {"done": False}, format="json")
    assert unticked.status_code == 200 and unticked.json()["done"] is False
