"""The Idempotency-Key header on POSTs (notes, transitions)."""

from __future__ import annotations

import pytest

from cases.domain import CaseState, EventKind, Role
from cases.models import Case, CaseEvent, IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_a_repeated_note_post_is_replayed_not_repeated(clients, case):
    client = clients[Role.USER_AGENT]
    url = f"/api/v1/cases/{case.reference}/notes/"
    first = client.post(url, {"kind": "INVESTIGATION", "body": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = client.post(url, {"kind": "INVESTIGATION", "body": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert CaseEvent.objects.filter(case=case, kind=EventKind.NOTE).count() == 1
    reused = client.post(url, {"kind": "INVESTIGATION", "body": "different"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    # Keys are per account: another account's same key is a new request.
    other = clients[Role.USER_INTEGRATION].post(url, {"kind": "INVESTIGATION", "body": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert CaseEvent.objects.filter(case=case, kind=EventKind.NOTE).count() == 2


def test_a_repeated_transition_is_replayed_with_its_etag(clients, case):
    Case.objects.filter(pk=case.pk).update(state=CaseState.TRIAGED)
    client = clients[Role.DCC_OPERATOR]
    url = f"/api/v1/cases/{case.reference}/transitions/await_user/"
    first = client.post(url, {"version": 1}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    second = client.post(url, {"version": 1}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert first.status_code == second.status_code == 200
    assert second["ETag"] == first["ETag"] == '"2"' and second.json() == first.json()
    assert Case.objects.get(pk=case.pk).version == 2
    # Without the key, the same request is stale now.
    assert client.post(url, {"version": 1}, format="json").status_code == 409


def test_errors_are_not_remembered_and_in_progress_is_409(clients, case, people):
    client = clients[Role.USER_AGENT]
    url = f"/api/v1/cases/{case.reference}/notes/"
    bad = client.post(url, {"kind": "INVESTIGATION", "body": ""}, format="json", HTTP_IDEMPOTENCY_KEY="e-1")
    assert bad.status_code == 400 and not IdempotencyRecord.objects.exists()
    IdempotencyRecord.objects.create(user=people[Role.USER_AGENT], key="busy", fingerprint="x")
    busy = client.post(url, {"kind": "INVESTIGATION", "body": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_in_progress"
    long_key = client.post(url, {"kind": "INVESTIGATION", "body": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert long_key.status_code == 400
