"""CSV import of exception events: dry run, all-or-nothing import, idempotent replay."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.domain import Role
from cases.errors import NotPermitted
from cases.models import Case, CaseOccurrence, CsvImport
from cases.models.reports import ImportStatus
from cases.services.imports import exception_events_import
from tests.factories import InstallationFactory

pytestmark = pytest.mark.django_db

HEADER = "source,source_event_id,check_code,occurred_at,installation_id,mpan,mprn,stage,detail\n"


@pytest.fixture
def two_installations(supplier):  # type: ignore[no-untyped-def]
    return InstallationFactory(responsible_supplier=supplier), InstallationFactory(responsible_supplier=supplier)


def _file(rows: list[str]) -> str:
    return HEADER + "\n".join(rows) + "\n"


def _good(check, a, b) -> str:  # type: ignore[no-untyped-def]
    return _file([
        f"mcc,e1,{check.code},2026-11-20T10:00:00+00:00,{a.pk},,,,first failure",
        f"mcc,e2,{check.code},2026-11-21T10:00:00+00:00,{a.pk},,,,repeat on the same installation",
        f"mcc,e3,{check.code},2026-11-21T11:00:00Z,,{b.mpan},,COMMUNICATIONS,by MPAN",
    ])


def test_dry_run_reports_what_would_happen_and_writes_nothing(people, check, two_installations) -> None:
    a, b = two_installations
    report = exception_events_import(content=_good(check, a, b), actor=people[Role.DCC_OPERATOR], dry_run=True)
    assert report.ok and report.counts == {"create_case": 2, "add_occurrence": 1, "duplicate": 0, "error": 0}
    assert [r.action for r in report.rows] == ["create_case", "add_occurrence", "create_case"]
    assert report.rows[2].installation_id == b.pk
    assert not Case.objects.exists() and not CsvImport.objects.exists()


def test_import_writes_everything_and_replay_is_idempotent(people, check, two_installations) -> None:
    a, b = two_installations
    content = _good(check, a, b)
    report = exception_events_import(content=content, actor=people[Role.DCC_OPERATOR], dry_run=False,
                                     file_name="backfill.csv")
    assert report.ok and report.imported.status == ImportStatus.IMPORTED
    assert Case.objects.count() == 2 and CaseOccurrence.objects.count() == 3
    assert Case.objects.get(installation=a).occurrence_count == 2
    assert report.imported.cases_created == 2 and report.imported.occurrences_added == 1
    again = exception_events_import(content=content, actor=people[Role.DCC_OPERATOR], dry_run=False)
    assert again.ok and again.counts["duplicate"] == 3 and again.counts["create_case"] == 0
    assert Case.objects.count() == 2 and CaseOccurrence.objects.count() == 3


def test_one_bad_row_rejects_the_whole_file_with_per_row_errors(people, check, two_installations) -> None:
    a, _b = two_installations
    content = _file([
        f"mcc,e1,{check.code},2026-11-20T10:00:00+00:00,{a.pk},,,,ok",
        "mcc,e2,NOPE,2026-11-20T10:00:00,999999,,,SPACE,bad",
        f"mcc,e1,{check.code},2099-01-01T00:00:00+00:00,,0000000000000,,,dup and future",
    ])
    report = exception_events_import(content=content, actor=people[Role.DCC_OPERATOR], dry_run=False)
    assert not report.ok
    assert report.rows[0].action == "create_case"
    assert set(report.rows[1].errors) == {"check_code", "occurred_at", "installation", "stage"}
    assert set(report.rows[2].errors) == {"source_event_id", "occurred_at", "installation"}
    assert not Case.objects.exists() and not CaseOccurrence.objects.exists()
    assert CsvImport.objects.get().status == ImportStatus.REJECTED


def test_file_level_errors(people) -> None:
    report = exception_events_import(content="source,check_code,colour\n", actor=people[Role.DCC_MANAGER],
                                     dry_run=True)
    assert not report.ok and len(report.file_errors) == 3
    with pytest.raises(NotPermitted):
        exception_events_import(content=HEADER, actor=people[Role.USER_AGENT], dry_run=True)


def test_web_upload_dry_run_then_import(client, people, check, two_installations) -> None:
    a, b = two_installations
    client.force_login(people[Role.DCC_OPERATOR])
    assert client.get("/imports/exception-events/").status_code == 200
    page = client.post("/imports/exception-events/", {
        "file": SimpleUploadedFile("events.csv", _good(check, a, b).encode(), "text/csv"), "action": "dry_run"})
    assert page.status_code == 200 and "Dry run" in page.content.decode() and not Case.objects.exists()
    page = client.post("/imports/exception-events/", {
        "file": SimpleUploadedFile("events.csv", _good(check, a, b).encode(), "text/csv"), "action": "import"})
    assert page.status_code == 200 and Case.objects.count() == 2
    client.force_login(people[Role.USER_AGENT])
    assert client.get("/imports/exception-events/").status_code == 404


def test_api_import_defaults_to_dry_run(client, people, check, two_installations) -> None:
    a, b = two_installations
    client.force_login(people[Role.DCC_INTEGRATION])
    upload = SimpleUploadedFile("events.csv", _good(check, a, b).encode(), "text/csv")
    body = client.post("/api/v1/imports/exception-events/", {"file": upload}).json()
    assert body["dry_run"] and body["ok"] and not body["written"] and not Case.objects.exists()
    upload = SimpleUploadedFile("events.csv", _good(check, a, b).encode(), "text/csv")
    body = client.post("/api/v1/imports/exception-events/", {"file": upload, "dry_run": "false"}).json()
    assert body["written"] and body["counts"]["create_case"] == 2 and Case.objects.count() == 2
    bad = client.post("/api/v1/imports/exception-events/", {
        "file": SimpleUploadedFile("x.csv", b"source\n", "text/csv"), "dry_run": "false"})
    assert bad.status_code == 400 and bad.json()["file_errors"]
    assert client.post("/api/v1/imports/exception-events/", {}).status_code == 400
