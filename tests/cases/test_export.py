"""Streaming CSV export of a filtered case queue (UI and API), with visibility applied."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import DatabaseError

from cases.domain import CaseState, Role
from cases.models import Case, SlaClock
from cases.queue_filters import cases_filter
from cases.services import export
from cases.services.export import cases_export_csv, export_header
from tests.factories import InstallationFactory, case_in_state

pytestmark = pytest.mark.django_db


def _rows(chunks) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))


@pytest.fixture
def queue(supplier, other_supplier):  # type: ignore[no-untyped-def]
    mine = [case_in_state(s, installation=InstallationFactory(responsible_supplier=supplier))
            for s in (CaseState.AWAITING_USER, CaseState.TRIAGED, CaseState.AWAITING_USER)]
    theirs = case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=other_supplier))
    return mine, theirs


def test_export_has_every_column_and_row(queue) -> None:
    mine, theirs = queue
    rows = _rows(cases_export_csv(Case.objects.all()))
    assert list(rows[0]) == export_header()
    assert [r["reference"] for r in rows] == [c.reference for c in [*mine, theirs]]
    first = rows[0]
    case = mine[0]
    assert first["state"] == "AWAITING_USER" and first["check_code"] == case.check_type.code
    assert first["supplier"] == "supplier-a" and first["mpan"] == case.installation.mpan
    assert first["sla_breached"] == "f"


def test_export_marks_breached_cases_and_filters(queue) -> None:
    mine, _ = queue
    SlaClock.objects.filter(case=mine[2]).update(breached_at="2026-01-01T00:00:00Z")
    rows = _rows(cases_export_csv(cases_filter(Case.objects.all(), {"sla": "breached"})))
    assert [(r["reference"], r["sla_breached"]) for r in rows] == [(mine[2].reference, "t")]
    rows = _rows(cases_export_csv(cases_filter(Case.objects.all(), {"state": "TRIAGED"})))
    assert [r["reference"] for r in rows] == [mine[1].reference]


def test_reference_keeps_every_digit_past_six() -> None:
    # lpad() would truncate; the export widens instead.
    assert Case(pk=1234567).reference == "MEHR-1234567"


def test_web_export_streams_only_visible_cases(client, people, queue) -> None:
    mine, theirs = queue
    client.force_login(people[Role.USER_AGENT])
    response = client.get("/cases/export.csv?state=AWAITING_USER")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response.streaming_content)
    assert {r["reference"] for r in rows} == {mine[0].reference, mine[2].reference}
    assert theirs.reference not in {r["reference"] for r in rows}


@pytest.mark.parametrize("url", ["/cases/export.csv", "/api/v1/cases/export.csv"])
def test_export_starts_its_query_before_answering(client, people, queue, monkeypatch, url) -> None:
    # A database error must become an error answer, not a 200 whose stream is cut short.
    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise DatabaseError("canceling statement due to statement timeout")
        yield b""

    monkeypatch.setattr(export, "_copy_rows", failing)
    monkeypatch.setattr(export, "_iterate_rows", failing)
    client.force_login(people[Role.DCC_OPERATOR])
    client.raise_request_exception = False
    assert client.get(url).status_code == 500


def test_api_export_and_bad_filters(client, people, queue) -> None:
    client.force_login(people[Role.DCC_OPERATOR])
    response = client.get("/api/v1/cases/export.csv", {"supplier": "supplier-b"})
    assert response.status_code == 200
    assert [r["supplier"] for r in _rows(response.streaming_content)] == ["supplier-b"]
    bad = client.get("/api/v1/cases/export.csv", {"state": "NOPE", "raised_from": "yesterday"})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"state", "raised_from"}
    client.logout()
    assert client.get("/api/v1/cases/export.csv").status_code in (401, 403)


def test_queue_has_sla_filter_column_and_export_link(client, people, queue) -> None:
    mine, _ = queue
    SlaClock.objects.filter(case=mine[0]).update(breached_at="2026-01-01T00:00:00Z")
    client.force_login(people[Role.USER_AGENT])
    page = client.get("/", {"sla": "breached"})
    html = page.content.decode()
    assert [c.pk for c in page.context["cases"]] == [mine[0].pk]
    assert "Breached" in html and 'href="/cases/export.csv?sla=breached"' in html
    # The export honours exactly the queue's filters.
    rows = _rows(client.get("/cases/export.csv", {"sla": "breached"}).streaming_content)
    assert [r["reference"] for r in rows] == [mine[0].reference]
    assert client.get("/cases/export.csv", {"state": "NOPE"}).status_code == 400
    detail = client.get(f"/cases/{mine[0].reference}/").content.decode()
    assert "SLA clocks" in detail and "DCC resolution" in detail
