"""Notes (JSON and multipart with attachments), attachment downloads, and the audit trail."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.domain import EventKind, NoteKind, Role, Visibility
from cases.models import Attachment, CaseEvent
from cases.services import case_add_note

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path


def notes_url(case) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/cases/{case.reference}/notes/"


def test_add_and_list_a_note_as_json(clients, case, people):
    client = clients[Role.USER_AGENT]
    response = client.post(notes_url(case), {"kind": NoteKind.INVESTIGATION, "body": "Checked the MA data."}, format="json")
    assert response.status_code == 201, response.content
    note = response.json()
    assert note["kind"] == NoteKind.INVESTIGATION and note["visibility"] == Visibility.SHARED
    assert note["author"] == {"username": "user_agent", "organisation": "supplier-a", "role": Role.USER_AGENT}
    event = CaseEvent.objects.get(pk=note["id"])
    assert event.kind == EventKind.NOTE and event.actor == people[Role.USER_AGENT]
    listed = client.get(notes_url(case)).json()["results"]
    assert [n["id"] for n in listed] == [note["id"]]


def test_multipart_note_with_attachments(clients, case):
    client = clients[Role.USER_AGENT]
    pdf = SimpleUploadedFile("visit.pdf", b"%PDF-1.4 site visit report", content_type="application/pdf")
    csv = SimpleUploadedFile("reads.csv", b"a,b\n1,2\n", content_type="text/csv")
    response = client.post(
        notes_url(case), {"kind": NoteKind.CORRECTION, "body": "Site visit done.", "attachments": [pdf, csv]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    attachments = response.json()["attachments"]
    assert [a["name"] for a in attachments] == ["visit.pdf", "reads.csv"]
    assert attachments[0]["sha256"] == hashlib.sha256(b"%PDF-1.4 site visit report").hexdigest()
    download = client.get(attachments[0]["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == b"%PDF-1.4 site visit report"
    listed = client.get(notes_url(case)).json()["results"][0]
    assert [a["id"] for a in listed["attachments"]] == [a["id"] for a in attachments]


def test_attachment_type_and_size_limits(clients, case, settings):
    client = clients[Role.USER_AGENT]
    exe = SimpleUploadedFile("tool.exe", b"MZ...", content_type="application/octet-stream")
    response = client.post(notes_url(case), {"kind": "INVESTIGATION", "body": "x", "attachments": [exe]}, format="multipart")
    assert response.status_code == 400 and "attachments" in response.json()["errors"]
    settings.MEHR = {**settings.MEHR, "ATTACHMENT_MAX_BYTES": 10}
    big = SimpleUploadedFile("big.txt", b"x" * 11, content_type="text/plain")
    response = client.post(notes_url(case), {"kind": "INVESTIGATION", "body": "x", "attachments": [big]}, format="multipart")
    assert response.status_code == 400
    assert not Attachment.objects.exists() and not CaseEvent.objects.filter(kind=EventKind.NOTE).exists()


def test_internal_notes_and_attachments_never_reach_users(clients, case, people):
    internal = case_add_note(
        case=case, actor=people[Role.DCC_OPERATOR], kind=NoteKind.INVESTIGATION, body="S1SP says firmware is odd.",
        visibility=Visibility.INTERNAL,
        attachments=[SimpleUploadedFile("log.txt", b"secret log", content_type="text/plain")],
    )
    attachment = Attachment.objects.get(case=case)
    for role in (Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION):
        client = clients[role]
        assert client.get(notes_url(case)).json()["results"] == []
        events = client.get(f"/api/v1/cases/{case.reference}/events/").json()["results"]
        assert internal.pk not in {e["id"] for e in events}
        assert all(e["visibility"] == Visibility.SHARED for e in events)
        assert client.get(f"/api/v1/cases/{case.reference}/attachments/{attachment.pk}/").status_code == 404
    dcc = clients[Role.DCC_OPERATOR]
    assert [n["id"] for n in dcc.get(notes_url(case)).json()["results"]] == [internal.pk]
    assert dcc.get(f"/api/v1/cases/{case.reference}/attachments/{attachment.pk}/").status_code == 200


def test_only_dcc_writes_internal_notes_and_viewers_write_nothing(clients, case):
    response = clients[Role.USER_AGENT].post(
        notes_url(case), {"kind": "INVESTIGATION", "body": "x", "visibility": "INTERNAL"}, format="json"
    )
    assert response.status_code == 400 and "visibility" in response.json()["errors"]
    assert clients[Role.USER_VIEWER].post(notes_url(case), {"kind": "INVESTIGATION", "body": "x"}, format="json").status_code == 403
    ok = clients[Role.DCC_OPERATOR].post(notes_url(case), {"kind": "COMMUNICATION", "body": "x", "visibility": "INTERNAL"}, format="json")
    assert ok.status_code == 201 and ok.json()["visibility"] == "INTERNAL"


def test_events_are_the_audit_trail_oldest_first(clients, case):
    client = clients[Role.USER_AGENT]
    client.post(notes_url(case), {"kind": "INVESTIGATION", "body": "one"}, format="json")
    events = client.get(f"/api/v1/cases/{case.reference}/events/").json()["results"]
    assert [e["kind"] for e in events] == [EventKind.RAISED, EventKind.NOTE]
    newest = client.get(f"/api/v1/cases/{case.reference}/events/?ordering=-created_at").json()["results"]
    assert [e["kind"] for e in newest] == [EventKind.NOTE, EventKind.RAISED]
    assert events[0]["actor"]["username"] is None and events[0]["actor"]["role"] == Role.SYSTEM


def test_notes_and_installations_lists_use_constant_queries(clients, case, supplier):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import InstallationFactory

    client = clients[Role.USER_AGENT]
    url = notes_url(case)

    def add(n: int) -> None:
        for i in range(n):
            client.post(url, {"kind": "INVESTIGATION", "body": f"n{i}", "attachments": [
                SimpleUploadedFile(f"f{i}.txt", b"x", content_type="text/plain")]}, format="multipart")
            InstallationFactory(responsible_supplier=supplier)

    add(1)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(url).json()["results"]) == 1
        client.get("/api/v1/installations/")
    add(6)
    with CaptureQueriesContext(connection) as seven:
        assert len(client.get(url).json()["results"]) == 7
        assert len(client.get("/api/v1/installations/").json()["results"]) == 8
    assert len(one) == len(seven) <= 6  # notes: token, case, page, attachments; installations: token, page
